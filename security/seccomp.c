/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The loader of kvbox's own seccomp filters (security/seccomp.h): base +
 * role rules -> one libseccomp context (x86-64 only, default
 * KILL_PROCESS) -> seccomp_load() on the calling thread.  The tables are
 * the policy; this file only turns them into BPF.
 */
#include "security/seccomp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* clang-format off */
static const struct kv_seccomp_policy *const policies[] = {
    [KV_SECCOMP_VCPU] = &kv_seccomp_vcpu,
    [KV_SECCOMP_VMM] = &kv_seccomp_vmm,
    [KV_SECCOMP_GOFER] = &kv_seccomp_gofer,
    [KV_SECCOMP_CLI] = &kv_seccomp_cli,
    [KV_SECCOMP_UFFD] = &kv_seccomp_uffd,
};
/* clang-format on */

const char *kv_seccomp_role_name(enum kv_seccomp_role role)
{
	return (unsigned)role < sizeof(policies) / sizeof(policies[0]) ? policies[role]->role : "?";
}

static int add_rules(scmp_filter_ctx ctx, const struct kv_seccomp_policy *p, struct kv_err *err)
{
	scmp_datum_t self = (scmp_datum_t)getpid();
	for (size_t i = 0; i < p->nrules; i++) {
		const struct kv_seccomp_rule *r = &p->rules[i];
		struct scmp_arg_cmp cmp[2];
		memcpy(cmp, r->cmp, sizeof(cmp));
		for (unsigned k = 0; k < r->ncmp; k++)
			if (cmp[k].datum_a == KV_SC_SELF_PID)
				cmp[k].datum_a = self;
		uint32_t action =
		    r->errno_ret ? SCMP_ACT_ERRNO((uint32_t)r->errno_ret) : SCMP_ACT_ALLOW;
		int e = seccomp_rule_add_exact_array(ctx, action, r->nr, r->ncmp, cmp);
		if (e < 0)
			return kv_err_set(err, -e, "seccomp: %s policy, rule %zu (%s): %s", p->role,
					  i, r->name, strerror(-e));
	}
	return 0;
}

int kv_seccomp_build(enum kv_seccomp_role role, scmp_filter_ctx *out, struct kv_err *err)
{
	if ((unsigned)role >= sizeof(policies) / sizeof(policies[0]))
		return kv_err_set(err, EINVAL, "seccomp: unknown role %d", (int)role);
	/* Probe the kernel once (seccomp(2), its actions and flags) while
	 * nothing is filtered: libseccomp caches the answers, so compiling a
	 * container's profile later needs no probe. */
	(void)seccomp_api_get();
	/* glibc reads the time zone file on the first gmtime_r/localtime_r
	 * (the RTC on a vCPU thread, log time stamps): load it now. */
	tzset();
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	if (!ctx)
		return kv_err_set(err, ENOMEM, "seccomp: cannot create a filter context");
	/* The native arch only: an int 0x80 (i386) or x32 call is killed. */
	int r = add_rules(ctx, &kv_seccomp_base, err);
	if (r == 0)
		r = add_rules(ctx, policies[role], err);
	if (r < 0) {
		seccomp_release(ctx);
		return r;
	}
	*out = ctx;
	return 0;
}

/* Sanitizer builds (scripts/test's build-asan): LeakSanitizer's check at
 * exit stops the world with a ptrace tracer thread, which no filter
 * allows.  Run it once now, before the filter; LSan then skips the one
 * at exit. */
#if defined(__SANITIZE_ADDRESS__)
#define KV_HAVE_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define KV_HAVE_LSAN 1
#endif
#endif
#ifdef KV_HAVE_LSAN
#include <sanitizer/lsan_interface.h>
static void leak_check_now(void)
{
	__lsan_do_leak_check();
}
#else
static void leak_check_now(void)
{
}
#endif

/* A call no role allows: reboot(2) with no magic (EINVAL, or EPERM
 * without CAP_SYS_BOOT, should a filter ever let it through). */
static void selftest(enum kv_seccomp_role role)
{
	const char *want = getenv("KVBOX_SECCOMP_SELFTEST");
	if (!want || strcmp(want, kv_seccomp_role_name(role)) != 0)
		return;
	long r = syscall(SYS_reboot, 0L, 0L, 0L, 0L);
	dprintf(STDERR_FILENO,
		"kvbox: seccomp self-test (%s): reboot(2) was not stopped (returned %ld)\n",
		kv_seccomp_role_name(role), r);
	_exit(1);
}

int kv_seccomp_install(enum kv_seccomp_role role, struct kv_err *err)
{
	scmp_filter_ctx ctx;
	int r = kv_seccomp_build(role, &ctx, err);
	if (r < 0)
		return r;
	/* the kvbox-uffd thread starts while others run and has dropped its
	 * capabilities: LeakSanitizer's tracer, forked from it, could not
	 * suspend the others (false leaks).  The next role's check, or the
	 * one at exit, covers its allocations. */
	if (role != KV_SECCOMP_UFFD)
		leak_check_now();
	r = seccomp_load(ctx);
	seccomp_release(ctx);
	if (r < 0)
		return kv_err_set(err, -r, "seccomp: loading the %s filter: %s",
				  kv_seccomp_role_name(role), strerror(-r));
	selftest(role);
	return 0;
}
