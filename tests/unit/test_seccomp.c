/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kvbox's own seccomp filters (security/seccomp.h): every role's table
 * compiles with libseccomp, and a loaded filter lets an allowed call
 * through and kills the process (SIGSYS) on a forbidden one.  Loading
 * happens in a forked child so the test runner stays unfiltered.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "security/seccomp.h"

static const enum kv_seccomp_role roles[] = {KV_SECCOMP_VCPU, KV_SECCOMP_VMM, KV_SECCOMP_GOFER,
					     KV_SECCOMP_CLI, KV_SECCOMP_UFFD};

static void test_every_role_compiles(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++) {
		scmp_filter_ctx ctx = NULL;
		struct kv_err err = {0};
		int r = kv_seccomp_build(roles[i], &ctx, &err);
		if (r < 0)
			fail_msg("%s: %s", kv_seccomp_role_name(roles[i]), err.msg);
		FILE *f = tmpfile();
		assert_non_null(f);
		assert_int_equal(seccomp_export_bpf(ctx, fileno(f)), 0);
		assert_true(lseek(fileno(f), 0, SEEK_END) > 0);
		fclose(f);
		seccomp_release(ctx);
	}
	assert_string_equal(kv_seccomp_role_name(KV_SECCOMP_VCPU), "vcpu");
	assert_string_equal(kv_seccomp_role_name(KV_SECCOMP_VMM), "vmm");
	assert_string_equal(kv_seccomp_role_name(KV_SECCOMP_GOFER), "gofer");
	assert_string_equal(kv_seccomp_role_name(KV_SECCOMP_CLI), "cli");
	assert_string_equal(kv_seccomp_role_name(KV_SECCOMP_UFFD), "uffd");
}

/* Each rule names a syscall this kernel's x86-64 table has. */
static void test_rules_name_real_syscalls(void **state)
{
	(void)state;
	const struct kv_seccomp_policy *all[] = {&kv_seccomp_base, &kv_seccomp_vcpu,
						 &kv_seccomp_vmm,  &kv_seccomp_gofer,
						 &kv_seccomp_cli,  &kv_seccomp_uffd};
	for (size_t p = 0; p < sizeof(all) / sizeof(all[0]); p++)
		for (size_t i = 0; i < all[p]->nrules; i++) {
			const struct kv_seccomp_rule *r = &all[p]->rules[i];
			if (r->nr < 0 || seccomp_syscall_resolve_name(r->name) != r->nr)
				fail_msg("%s: %s is not an x86-64 syscall", all[p]->role, r->name);
		}
}

enum probe { PROBE_ALLOWED, PROBE_REBOOT, PROBE_EXEC_MMAP, PROBE_ABORT, PROBE_THREAD };

static void *thread_main(void *arg)
{
	return arg;
}

/* Forks; the child loads `role` and makes the probe call.  Returns the
 * child's wait status. */
static int run_child(enum kv_seccomp_role role, enum probe what)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct kv_err err = {0};
		if (kv_seccomp_install(role, &err) < 0)
			_exit(100);
		switch (what) {
		case PROBE_ALLOWED:
			syscall(SYS_getpid);
			_exit(0);
		case PROBE_REBOOT:
			syscall(SYS_reboot, 0L, 0L, 0L, 0L);
			_exit(1);
		case PROBE_ABORT:
			abort(); /* must end in SIGABRT, not SIGSYS */
		case PROBE_THREAD: {
			/* clone3 answers ENOSYS, glibc falls back to clone */
			pthread_t t;
			void *ret = NULL;
			if (pthread_create(&t, NULL, thread_main, (void *)7) != 0 ||
			    pthread_join(t, &ret) != 0 || ret != (void *)7)
				_exit(3);
			_exit(0);
		}
		case PROBE_EXEC_MMAP:
			syscall(SYS_mmap, NULL, 4096L, (long)(PROT_READ | PROT_EXEC),
				(long)(MAP_PRIVATE | MAP_ANONYMOUS), -1L, 0L);
			_exit(1);
		}
		_exit(2);
	}
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return st;
}

static void test_filters_allow_and_kill(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++) {
		int st = run_child(roles[i], PROBE_ALLOWED);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			fail_msg("%s: an allowed call: wait status 0x%x",
				 kv_seccomp_role_name(roles[i]), st);
		st = run_child(roles[i], PROBE_REBOOT);
		if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGSYS)
			fail_msg("%s: reboot(2): wait status 0x%x, expected SIGSYS",
				 kv_seccomp_role_name(roles[i]), st);
		st = run_child(roles[i], PROBE_EXEC_MMAP);
		if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGSYS)
			fail_msg("%s: mmap(PROT_EXEC): wait status 0x%x, expected SIGSYS",
				 kv_seccomp_role_name(roles[i]), st);
	}
}

/* The paths every role may hit on its way out, and the VMM's relay
 * threads. */
static void test_abort_and_threads(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++) {
		int st = run_child(roles[i], PROBE_ABORT);
		if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGABRT)
			fail_msg("%s: abort(): wait status 0x%x, expected SIGABRT",
				 kv_seccomp_role_name(roles[i]), st);
	}
	int st = run_child(KV_SECCOMP_VMM, PROBE_THREAD);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fail_msg("vmm: pthread_create + join: wait status 0x%x", st);
	st = run_child(KV_SECCOMP_GOFER, PROBE_THREAD);
	if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGSYS)
		fail_msg("gofer: pthread_create: wait status 0x%x, expected SIGSYS", st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_every_role_compiles),
	    cmocka_unit_test(test_rules_name_real_syscalls),
	    cmocka_unit_test(test_filters_allow_and_kill),
	    cmocka_unit_test(test_abort_and_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
