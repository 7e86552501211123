/* SPDX-License-Identifier: Apache-2.0 */
/*
 * state.json, kvbox's record of one container (private to oci/state.c and
 * its tests): the one parser and the one writer of that file.  The public
 * OCI state JSON (`kvbox state`, hooks' stdin) is oci_state_json() in
 * oci/state.h, made by the same file.
 */
#ifndef KVBOX_OCI_STATE_JSON_H
#define KVBOX_OCI_STATE_JSON_H

#include <stddef.h>

#include "oci/state.h"

/* Parses a state.json text into st (zeroed by the caller; on error st may
 * be partly filled: oci_state_fini it).  -EINVAL with the JSON path of the
 * first bad field, e.g. `status: "sleeping" is not a container status`. */
int oci_state_parse(const char *buf, size_t len, struct oci_state *st, struct kv_err *err);

/* st as state.json text (malloc'd, NUL-terminated), NULL when out of memory. */
char *oci_state_format(const struct oci_state *st);

#endif
