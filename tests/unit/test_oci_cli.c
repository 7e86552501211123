/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The parts of the runc-compatible CLI that are pure functions: signal
 * names and numbers as `kill` takes them, and `kill`'s arguments; and
 * whole commands that fail before reaching a container, each in a child
 * process (the CLI's seccomp filter stays on the process that ran it),
 * whose memory the ASan+UBSan build checks for leaks when the filter is
 * loaded (security/seccomp.c: LeakSanitizer cannot run under it).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "oci/cli.h"

static void test_signal_names(void **state)
{
	static const struct {
		const char *s;
		int sig;
	} good[] = {
	    {"9", 9},	    {"15", 15},	     {"1", 1},	       {"64", 64},	{"KILL", 9},
	    {"SIGKILL", 9}, {"sigterm", 15}, {"term", 15},     {"SIGUSR1", 10}, {"HUP", 1},
	    {"CHLD", 17},   {"WINCH", 28},   {"SYS", 31},      {"RTMIN", 34},	{"SIGRTMIN+2", 36},
	    {"RTMAX", 64},  {"rtmax-4", 60}, {"RTMIN+30", 64}, {"IOT", 6},	{"POLL", 29},
	};
	static const char *const bad[] = {
	    "0",	"65",	    "-9",      "+9",	 "9x",		"",  "SIG", "FOO", "SIGFOO",
	    "RTMIN+31", "RTMAX-31", "RTMIN-1", "RTMIN+", "99999999999", " 9"};
	struct kv_err err = {0};
	int sig;
	(void)state;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		sig = -1;
		if (oci_signal_parse(good[i].s, &sig, &err) != 0 || sig != good[i].sig)
			fail_msg("\"%s\": got %d (%s), want %d", good[i].s, sig, err.msg,
				 good[i].sig);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (oci_signal_parse(bad[i], &sig, &err) != -EINVAL)
			fail_msg("\"%s\" was accepted as %d", bad[i], sig);
		assert_non_null(strstr(err.msg, "signal"));
	}
}

static int parse(struct oci_kill_args *a, struct kv_err *err, ...)
{
	char *argv[8];
	int argc = 0;
	va_list ap;
	va_start(ap, err);
	for (char *s; argc < 7 && (s = va_arg(ap, char *));)
		argv[argc++] = s;
	va_end(ap);
	argv[argc] = NULL;
	return oci_kill_parse_args(argc, argv, a, err);
}

static void test_kill_args(void **state)
{
	struct oci_kill_args a;
	struct kv_err err = {0};
	(void)state;

	assert_int_equal(parse(&a, &err, "kill", "c1", NULL), 0);
	assert_string_equal(a.id, "c1");
	assert_int_equal(a.sig, 15);
	assert_false(a.all);
	assert_int_equal(parse(&a, &err, "kill", "c1", "10", NULL), 0);
	assert_int_equal(a.sig, 10);
	assert_int_equal(parse(&a, &err, "kill", "--all", "c1", "9", NULL), 0);
	assert_true(a.all);
	assert_int_equal(a.sig, 9);
	assert_int_equal(parse(&a, &err, "kill", "-a", "c1", "SIGKILL", NULL), 0);
	assert_true(a.all);
	assert_int_equal(a.sig, 9);

	assert_int_equal(parse(&a, &err, "kill", NULL), -EINVAL);
	assert_non_null(strstr(err.msg, "requires 1 or 2 arguments"));
	assert_int_equal(parse(&a, &err, "kill", "c1", "9", "x", NULL), -EINVAL);
	assert_int_equal(parse(&a, &err, "kill", "c1", "SIGNOPE", NULL), -EINVAL);
	assert_non_null(strstr(err.msg, "unknown signal \"SIGNOPE\""));
	assert_int_equal(parse(&a, &err, "kill", "c1", "-9", NULL), -EINVAL);
	assert_int_equal(parse(&a, &err, "kill", "--frob", "c1", NULL), -EINVAL);
	assert_non_null(strstr(err.msg, "--frob"));
	assert_int_equal(parse(&a, &err, "kill", "../x", "9", NULL), -EINVAL);
	assert_non_null(strstr(err.msg, "invalid container id"));
}

/* One command line in a child: the commands that run no program load
 * the CLI's seccomp filter (security/seccomp_cli.c), which would stay on
 * this process (and kill cmocka's next call).  The child's exit status. */
static int cli(int argc, char **argv)
{
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		optind = 0; /* a fresh getopt for each command line */
		int r = oci_cli_main(argc, argv);
		fflush(NULL);
		_exit(r & 0xff);
	}
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

/* `exec` with -e/-g/--cap flags collects them in JSON arrays; every way out
 * must release them (the ASan host-tier suite found the arrays leaked). */
static void test_exec_flags_released(void **state)
{
	char root[] = "/tmp/kvbox-test-cli-XXXXXX";
	(void)state;
	assert_non_null(mkdtemp(root));

	char *no_container[] = {"kvbox", "--root", root,       "exec",	 "-e",	 "A=B", "-g",
				"5",	 "--cap",  "CAP_KILL", "nosuch", "true", NULL};
	assert_int_not_equal(cli(12, no_container), 0);
	char *no_command[] = {"kvbox", "--root", root, "exec", "-e", "A=B", "nosuch", NULL};
	assert_int_not_equal(cli(7, no_command), 0);
	char *bad_env[] = {"kvbox", "--root", root,	  "exec", "-e",
			   "A=B",   "-e",     "noequals", "x",	  NULL};
	assert_int_not_equal(cli(9, bad_env), 0);
	assert_int_equal(rmdir(root), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_signal_names),
	    cmocka_unit_test(test_kill_args),
	    cmocka_unit_test(test_exec_flags_released),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
