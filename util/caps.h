/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Capability sets without libcap: the bounding set one capability at a
 * time (PR_CAPBSET_DROP, needs CAP_SETPCAP), the effective, permitted and
 * inheritable sets in one capset(2) with both 32-bit halves filled, the
 * ambient set cleared.  Used by the sandbox's and the gofer's jails
 * (vmm/sandbox_jail.c, gofer/jail.c) and the guest agent
 * (guest/agent/caps.c).
 */
#ifndef KVBOX_UTIL_CAPS_H
#define KVBOX_UTIL_CAPS_H

#include <stdint.h>

#include "util/err.h"

/* The highest capability this kernel knows (probed with PR_CAPBSET_READ:
 * no file needed). */
unsigned caps_last_cap(void);

/* Drops every capability up to `last` but those in `keep` from the
 * bounding set. */
int caps_drop_bounding(uint64_t keep, unsigned last, struct kv_err *err);

/* Sets the three sets of the calling thread (capset is per thread). */
int caps_set(uint64_t effective, uint64_t permitted, uint64_t inheritable, struct kv_err *err);

int caps_clear_ambient(struct kv_err *err);

/* The calling thread's permitted set. */
int caps_get_permitted(uint64_t *permitted, struct kv_err *err);

#endif
