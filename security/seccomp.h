/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kvbox's own seccomp filters (docs/security.md, "Seccomp"): one allow-list
 * per thread or process role, each a commented table in
 * security/seccomp_ROLE.c, plus the rules every role shares
 * (security/seccomp_base.c).  kv_seccomp_install() compiles base + role
 * with libseccomp and loads it on the calling thread only (no TSYNC):
 * threads created later inherit it, threads that exist already keep what
 * they had.  The default action kills the whole process (SIGSYS).
 */
#ifndef KVBOX_SECURITY_SECCOMP_H
#define KVBOX_SECURITY_SECCOMP_H

#include <seccomp.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

enum kv_seccomp_role {
	KV_SECCOMP_VCPU,  /* kvbox-vcpuN threads, before their first KVM_RUN */
	KV_SECCOMP_VMM,	  /* the VMM's main thread (boot, sandbox) and its relays */
	KV_SECCOMP_GOFER, /* `kvbox gofer`, after its jail */
	KV_SECCOMP_CLI,	  /* the CLI commands that run no hooks (docs/security.md) */
	KV_SECCOMP_UFFD,  /* kvbox-uffd, the lazy-RAM thread of a template restore */
};

/* One allowed call: the syscall, and up to two argument comparisons that
 * must all hold (several entries for one syscall are alternatives).
 * `errno_ret` != 0 makes the entry an ERRNO(errno_ret) rule instead of an
 * allow rule. */
struct kv_seccomp_rule {
	int nr;
	const char *name;
	int errno_ret;
	unsigned ncmp;
	struct scmp_arg_cmp cmp[2];
};

/* A comparison value replaced by the process's pid when the filter is
 * built (kill/tgkill to ourselves only). */
#define KV_SC_SELF_PID 0xffffffff5e1f0000ULL

#define SC_ALLOW(sys)                                                                              \
	{                                                                                          \
		.nr = SCMP_SYS(sys), .name = #sys                                                  \
	}
#define SC_ERRNO(sys, e)                                                                           \
	{                                                                                          \
		.nr = SCMP_SYS(sys), .name = #sys, .errno_ret = (e)                                \
	}
/* argument `i` == v */
#define SC_ARG(sys, i, v)                                                                          \
	{                                                                                          \
		.nr = SCMP_SYS(sys), .name = #sys, .ncmp = 1,                                      \
		.cmp = { {.arg = (i), .op = SCMP_CMP_EQ, .datum_a = (scmp_datum_t)(v)} }           \
	}
/* argument `i` == v and argument `j` == w */
#define SC_ARG2(sys, i, v, j, w)                                                                   \
	{                                                                                          \
		.nr = SCMP_SYS(sys), .name = #sys, .ncmp = 2,                                      \
		.cmp = { {.arg = (i), .op = SCMP_CMP_EQ, .datum_a = (scmp_datum_t)(v)},            \
			 {.arg = (j), .op = SCMP_CMP_EQ, .datum_a = (scmp_datum_t)(w)} }           \
	}
/* (argument `i` & mask) == v */
#define SC_MASK(sys, i, mask, v)                                                                   \
	{                                                                                          \
		.nr = SCMP_SYS(sys), .name = #sys, .ncmp = 1,                                      \
		.cmp = { {.arg = (i),                                                              \
			  .op = SCMP_CMP_MASKED_EQ,                                                \
			  .datum_a = (scmp_datum_t)(mask),                                         \
			  .datum_b = (scmp_datum_t)(v)} }                                          \
	}

struct kv_seccomp_policy {
	const char *role; /* the KVBOX_SECCOMP_SELFTEST value, as in the docs */
	const struct kv_seccomp_rule *rules;
	size_t nrules;
};

extern const struct kv_seccomp_policy kv_seccomp_base, kv_seccomp_vcpu, kv_seccomp_vmm,
    kv_seccomp_gofer, kv_seccomp_cli, kv_seccomp_uffd;

const char *kv_seccomp_role_name(enum kv_seccomp_role role);

/* Builds base + role into a new libseccomp context (not loaded): for the
 * loader and the unit tests. */
int kv_seccomp_build(enum kv_seccomp_role role, scmp_filter_ctx *out, struct kv_err *err);

/* Builds and loads the role's filter on the calling thread.  Then, if
 * KVBOX_SECCOMP_SELFTEST names this role, makes a call the filter forbids:
 * the process dies of SIGSYS (tests/integration/seccomp.bats); should it
 * survive, one line says so and the process exits 1. */
int kv_seccomp_install(enum kv_seccomp_role role, struct kv_err *err);

#endif
