/* SPDX-License-Identifier: Apache-2.0 */
/*
 * OCI hooks runner (oci/hooks.h), with real processes: shell scripts
 * written into a temporary directory.  The state JSON arrives intact on
 * stdin; argv, env and cwd are exactly as configured; no extra fd leaks;
 * stdout/stderr pass through; a non-zero exit, a signal, a timeout (killed
 * in about a second, children too) and a missing binary are errors with one
 * clear line; a hook that never reads a large state does not hang us;
 * hooks run in order, a fatal kind stops at the first failure and
 * poststart/poststop run them all.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "oci/hooks.h"
#include "oci/state.h"
#include "util/file.h"

struct fx {
	char top[64];
	char bundle[96];
	int out_fd; /* a file the hooks' stdout/stderr go to */
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char out[128];
	strcpy(f->top, "/tmp/kvbox-hooks-XXXXXX");
	assert_non_null(mkdtemp(f->top));
	snprintf(f->bundle, sizeof(f->bundle), "%s/bundle", f->top);
	assert_int_equal(mkdir(f->bundle, 0755), 0);
	snprintf(out, sizeof(out), "%s/out", f->top);
	f->out_fd = open(out, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_APPEND, 0644);
	assert_true(f->out_fd >= 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];
	close(f->out_fd);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->top);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* Writes an executable "#!/bin/sh" script top/name; returns its path. */
static char *script(struct fx *f, const char *name, const char *body)
{
	char *path;
	assert_true(asprintf(&path, "%s/%s", f->top, name) > 0);
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fprintf(fp, "#!/bin/sh\n%s\n", body);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(chmod(path, 0755), 0);
	return path;
}

static char *path_in(struct fx *f, const char *name)
{
	char *p;
	assert_true(asprintf(&p, "%s/%s", f->top, name) > 0);
	return p;
}

/* Whole file (NUL bytes kept); *len its size. */
static char *slurp(const char *path, size_t *len)
{
	uint8_t *buf = NULL;
	size_t n = 0;
	assert_int_equal(read_file_bounded(path, 16 << 20, &buf, &n, NULL), 0);
	char *s = realloc(buf, n + 1);
	assert_non_null(s);
	s[n] = '\0';
	if (len)
		*len = n;
	return s;
}

static char *out_text(struct fx *f)
{
	char *p = path_in(f, "out");
	char *s = slurp(p, NULL);
	free(p);
	return s;
}

static struct oci_strv strv(char **v)
{
	size_t n = 0;
	while (v && v[n])
		n++;
	return (struct oci_strv){.n = n, .v = v};
}

/* hooks[kind] = list[0..n) */
static struct oci_hooks one_kind(enum oci_hook_kind kind, struct oci_hook *list, size_t n)
{
	struct oci_hooks h = {0};
	h.list[kind] = list;
	h.n[kind] = n;
	return h;
}

static json_t *small_state(void)
{
	return json_pack("{s:s, s:s, s:s, s:i, s:s}", "ociVersion", "1.0.2", "id", "c1", "status",
			 "creating", "pid", 42, "bundle", "/b");
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* ---- what a hook gets ------------------------------------------------ */

static void test_stdin_args_env_cwd(void **state)
{
	struct fx *f = *state;
	char *rec = path_in(f, "rec");
	char *sh = script(f, "recorder",
			  "/bin/cat > \"$1\"\n"
			  "/bin/cat /proc/$$/cmdline > \"$1.argv\"\n"
			  "/bin/cat /proc/$$/environ > \"$1.env\"\n"
			  "pwd -P > \"$1.cwd\"\n"
			  "if [ -e /proc/$$/fd/50 ]; then echo leaked > \"$1.fd\"; fi\n"
			  "echo to-stdout\n"
			  "echo to-stderr >&2");
	char *args[] = {"ignored-by-the-kernel", rec, "two words", "", NULL};
	char *env[] = {"A=1", "B=two words", "EMPTY=", NULL};
	struct oci_hook hk = {.path = sh, .args = strv(args), .env = strv(env)};
	struct oci_hooks h = one_kind(OCI_HOOK_CREATE_RUNTIME, &hk, 1);

	struct oci_state st = {.id = "c1",
			       .status = OCI_STATUS_CREATING,
			       .bundle = f->bundle,
			       .rootfs = "/r",
			       .owner = "",
			       .created = "2024-01-02T03:04:05Z"};
	st.annotations = json_pack("{s:s, s:s}", "q", "\"quoted\"\n\ttab", "u", "h\xc3\xa9llo");
	json_t *js = oci_state_json(&st);
	assert_non_null(js);
	/* an fd without close-on-exec: must not reach the hook */
	assert_int_equal(dup2(f->out_fd, 50), 50);

	struct kv_err e = {0};
	int r = oci_hooks_run_to(&h, OCI_HOOK_CREATE_RUNTIME, js, f->bundle, f->out_fd, &e);
	close(50);
	assert_int_equal(r, 0);

	size_t n;
	char *got = slurp(rec, &n), *want = json_dumps(js, JSON_COMPACT);
	assert_string_equal(got, want);
	json_t *back = json_loads(got, 0, NULL);
	assert_true(json_equal(back, js));
	json_decref(back);
	free(got);
	free(want);

	char *p;
	assert_true(asprintf(&p, "%s.argv", rec) > 0);
	got = slurp(p, &n);
	/* a #! script: the kernel puts the interpreter and the script's path
	 * in place of argv[0]; argv[1..] are ours, "" included */
	char wargv[512];
	int wn = snprintf(wargv, sizeof(wargv), "/bin/sh%c%s%c%s%ctwo words%c%c", 0, sh, 0, rec, 0,
			  0, 0);
	assert_int_equal(n, (size_t)wn);
	assert_memory_equal(got, wargv, n);
	free(got);
	free(p);

	assert_true(asprintf(&p, "%s.env", rec) > 0);
	got = slurp(p, &n);
	static const char wenv[] = "A=1\0B=two words\0EMPTY=";
	assert_int_equal(n, sizeof(wenv));
	assert_memory_equal(got, wenv, n);
	free(got);
	free(p);

	assert_true(asprintf(&p, "%s.cwd", rec) > 0);
	got = slurp(p, NULL);
	char *real = realpath(f->bundle, NULL);
	assert_non_null(real);
	assert_int_equal(strlen(got), strlen(real) + 1);
	assert_memory_equal(got, real, strlen(real));
	free(real);
	free(got);
	free(p);

	assert_true(asprintf(&p, "%s.fd", rec) > 0);
	assert_int_equal(access(p, F_OK), -1);
	free(p);

	got = out_text(f);
	assert_string_equal(got, "to-stdout\nto-stderr\n");
	free(got);
	json_decref(js);
	json_decref(st.annotations);
	free(sh);
	free(rec);
}

/* args[0] is argv[0] for a binary; no env at all is an empty env */
static void test_argv0_and_empty_env(void **state)
{
	struct fx *f = *state;
	char *rec = path_in(f, "rec");
	char *args[] = {
	    "my-argv0", "-c",
	    "/bin/cat /proc/$$/cmdline > \"$0\"; /bin/cat /proc/$$/environ > \"$0.env\"", rec,
	    NULL};
	struct oci_hook hk = {.path = "/bin/sh", .args = strv(args)};
	struct oci_hooks h = one_kind(OCI_HOOK_PRESTART, &hk, 1);
	json_t *js = small_state();
	assert_int_equal(oci_hooks_run_to(&h, OCI_HOOK_PRESTART, js, f->bundle, -1, NULL), 0);
	size_t n;
	char *got = slurp(rec, &n);
	assert_true(n > 12);
	assert_memory_equal(got, "my-argv0\0-c\0", 12);
	free(got);
	char *p;
	assert_true(asprintf(&p, "%s.env", rec) > 0);
	got = slurp(p, &n);
	assert_int_equal(n, 0);
	free(got);
	free(p);
	json_decref(js);
	free(rec);
}

/* ---- failures -------------------------------------------------------- */

static void test_exit_status(void **state)
{
	struct fx *f = *state;
	char *sh = script(f, "fails", "echo first >&2\necho 'boom: it \tbroke' >&2\nexit 3");
	struct oci_hook hk = {.path = sh};
	struct oci_hooks h = one_kind(OCI_HOOK_CREATE_RUNTIME, &hk, 1);
	json_t *js = small_state();
	struct kv_err e = {0};
	assert_int_equal(
	    oci_hooks_run_to(&h, OCI_HOOK_CREATE_RUNTIME, js, f->bundle, f->out_fd, &e),
	    -ECANCELED);
	char want[512];
	snprintf(want, sizeof(want),
		 "createRuntime hook %s (#1) exited with status 3: boom: it ?broke", sh);
	assert_string_equal(e.msg, want);
	char *out = out_text(f);
	assert_string_equal(out, "first\nboom: it \tbroke\n");
	free(out);

	/* no stderr: no trailing ": " */
	free(sh);
	sh = script(f, "quiet", "exit 1");
	hk.path = sh;
	assert_int_equal(oci_hooks_run_to(&h, OCI_HOOK_CREATE_RUNTIME, js, f->bundle, -1, &e),
			 -ECANCELED);
	snprintf(want, sizeof(want), "createRuntime hook %s (#1) exited with status 1", sh);
	assert_string_equal(e.msg, want);
	json_decref(js);
	free(sh);
}

static void test_signal(void **state)
{
	struct fx *f = *state;
	char *sh = script(f, "segv", "kill -SEGV $$");
	struct oci_hook hk = {.path = sh};
	struct oci_hooks h = one_kind(OCI_HOOK_START_CONTAINER, &hk, 1);
	json_t *js = small_state();
	struct kv_err e = {0};
	assert_int_equal(oci_hooks_run_to(&h, OCI_HOOK_START_CONTAINER, js, f->bundle, -1, &e),
			 -ECANCELED);
	assert_non_null(strstr(e.msg, "startContainer hook "));
	assert_non_null(strstr(e.msg, "(#1) was killed by signal 11 (SIGSEGV)"));
	json_decref(js);
	free(sh);
}

static void test_timeout(void **state)
{
	struct fx *f = *state;
	char *pidfile = path_in(f, "pid");
	char *body;
	assert_true(
	    asprintf(&body, "/bin/sleep 30 &\necho $! > %s\necho waiting >&2\nwait", pidfile) > 0);
	char *sh = script(f, "sleeper", body);
	struct oci_hook hk = {.path = sh, .timeout = {.set = true, .v = 1}};
	struct oci_hooks h = one_kind(OCI_HOOK_CREATE_CONTAINER, &hk, 1);
	json_t *js = small_state();
	struct kv_err e = {0};
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(oci_hooks_run_to(&h, OCI_HOOK_CREATE_CONTAINER, js, f->bundle, -1, &e),
			 -ETIMEDOUT);
	double took = seconds_since(&t0);
	assert_true(took >= 0.9 && took < 3.0);
	char want[512];
	snprintf(want, sizeof(want),
		 "createContainer hook %s (#1) timed out after 1 s (killed): waiting", sh);
	assert_string_equal(e.msg, want);

	/* the script's child went with it (its process group was killed) */
	char *txt = slurp(pidfile, NULL);
	pid_t child = (pid_t)atoi(txt);
	assert_true(child > 0);
	int gone = 0;
	for (int i = 0; i < 100 && !gone; i++) {
		char p[64], st[256] = "";
		snprintf(p, sizeof(p), "/proc/%d/stat", (int)child);
		FILE *fp = fopen(p, "r");
		/* gone, or a zombie waiting for its new parent to reap it */
		gone = !fp || (fgets(st, sizeof(st), fp) && strstr(st, ") Z "));
		if (fp)
			fclose(fp);
		if (!gone)
			usleep(10000);
	}
	assert_true(gone);
	free(txt);
	json_decref(js);
	free(sh);
	free(body);
	free(pidfile);
}

static void test_missing_binary(void **state)
{
	struct fx *f = *state;
	struct oci_hook hk = {.path = "/nonexistent/kvbox-hook"};
	struct oci_hooks h = one_kind(OCI_HOOK_PRESTART, &hk, 1);
	json_t *js = small_state();
	struct kv_err e = {0};
	assert_int_equal(oci_hooks_run_to(&h, OCI_HOOK_PRESTART, js, f->bundle, -1, &e), -ENOENT);
	assert_string_equal(e.msg, "prestart hook /nonexistent/kvbox-hook (#1): cannot execute "
				   "/nonexistent/kvbox-hook: No such file or directory");

	/* a file without the x bit */
	char *sh = script(f, "noexec", "exit 0");
	assert_int_equal(chmod(sh, 0644), 0);
	hk.path = sh;
	assert_int_equal(oci_hooks_run_to(&h, OCI_HOOK_PRESTART, js, f->bundle, -1, &e), -EACCES);
	assert_non_null(strstr(e.msg, "cannot execute"));

	/* a bundle that is not there */
	assert_int_equal(chmod(sh, 0755), 0);
	assert_int_equal(oci_hooks_run_to(&h, OCI_HOOK_PRESTART, js, "/nonexistent/b", -1, &e),
			 -ENOENT);
	assert_string_equal(e.msg,
			    "prestart hooks: bundle /nonexistent/b: No such file or directory");
	json_decref(js);
	free(sh);
}

/* ---- stdin the hook never reads --------------------------------------- */

static void test_large_state_unread(void **state)
{
	struct fx *f = *state;
	size_t big = 4u << 20; /* far beyond a pipe's buffer */
	char *s = malloc(big + 1);
	memset(s, 'x', big);
	s[big] = '\0';
	json_t *js = small_state();
	json_object_set_new(js, "annotations", json_pack("{s:s}", "big", s));
	free(s);

	char *quick = script(f, "quick", "exit 0");
	char *slow = script(f, "slow", "/bin/sleep 0.2\nexit 0");
	char *partial = script(f, "partial", "/usr/bin/head -c 10 > /dev/null\nexit 0");
	struct oci_hook list[] = {{.path = quick}, {.path = slow}, {.path = partial}};
	struct oci_hooks h = one_kind(OCI_HOOK_POSTSTART, list, 3);

	sigset_t before, after, pending;
	pthread_sigmask(SIG_SETMASK, NULL, &before);
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct kv_err e = {0};
	assert_int_equal(oci_hooks_run_to(&h, OCI_HOOK_POSTSTART, js, f->bundle, -1, &e), 0);
	assert_true(seconds_since(&t0) < 5.0);
	/* no SIGPIPE left pending, mask restored */
	pthread_sigmask(SIG_SETMASK, NULL, &after);
	assert_int_equal(sigismember(&after, SIGPIPE), sigismember(&before, SIGPIPE));
	sigpending(&pending);
	assert_false(sigismember(&pending, SIGPIPE));
	json_decref(js);
	free(quick);
	free(slow);
	free(partial);
}

/* ---- several hooks ---------------------------------------------------- */

static void test_order_and_stop(void **state)
{
	struct fx *f = *state;
	char *log = path_in(f, "log");
	char *body;
	assert_true(asprintf(&body, "echo \"$1\" >> %s\nexit \"$2\"", log) > 0);
	char *sh = script(f, "step", body);
	char *a1[] = {"step", "one", "0", NULL}, *a2[] = {"step", "two", "0", NULL};
	char *a3[] = {"step", "three", "0", NULL}, *bad[] = {"step", "bad", "5", NULL};
	json_t *js = small_state();
	struct kv_err e = {0};

	struct oci_hook ok3[] = {{.path = sh, .args = strv(a1)},
				 {.path = sh, .args = strv(a2)},
				 {.path = sh, .args = strv(a3)}};
	struct oci_hooks h = one_kind(OCI_HOOK_CREATE_CONTAINER, ok3, 3);
	assert_int_equal(oci_hooks_run_to(&h, OCI_HOOK_CREATE_CONTAINER, js, f->bundle, -1, &e), 0);
	char *got = slurp(log, NULL);
	assert_string_equal(got, "one\ntwo\nthree\n");
	free(got);

	/* a fatal kind stops at the first failure */
	unlink(log);
	struct oci_hook stop[] = {{.path = sh, .args = strv(a1)},
				  {.path = sh, .args = strv(bad)},
				  {.path = sh, .args = strv(a3)}};
	h = one_kind(OCI_HOOK_CREATE_CONTAINER, stop, 3);
	assert_int_equal(oci_hooks_run_to(&h, OCI_HOOK_CREATE_CONTAINER, js, f->bundle, -1, &e),
			 -ECANCELED);
	assert_non_null(strstr(e.msg, "(#2) exited with status 5"));
	got = slurp(log, NULL);
	assert_string_equal(got, "one\nbad\n");
	free(got);

	/* poststop: all run, the first failure is reported, with a count */
	unlink(log);
	struct oci_hook all[] = {{.path = sh, .args = strv(bad)},
				 {.path = sh, .args = strv(a2)},
				 {.path = sh, .args = strv(bad)}};
	h = one_kind(OCI_HOOK_POSTSTOP, all, 3);
	assert_int_equal(oci_hooks_run_to(&h, OCI_HOOK_POSTSTOP, js, f->bundle, -1, &e),
			 -ECANCELED);
	char want[512];
	snprintf(want, sizeof(want),
		 "poststop hook %s (#1) exited with status 5 (and 1 more failed)", sh);
	assert_string_equal(e.msg, want);
	got = slurp(log, NULL);
	assert_string_equal(got, "bad\ntwo\nbad\n");
	free(got);

	/* nothing of that kind: nothing runs */
	assert_int_equal(oci_hooks_run_to(&h, OCI_HOOK_PRESTART, js, f->bundle, -1, &e), 0);
	assert_int_equal(oci_hooks_run(NULL, OCI_HOOK_PRESTART, js, f->bundle, &e), 0);
	json_decref(js);
	free(sh);
	free(body);
	free(log);
}

static void test_kind_fatal(void **state)
{
	(void)state;
	assert_true(oci_hook_kind_fatal(OCI_HOOK_PRESTART));
	assert_true(oci_hook_kind_fatal(OCI_HOOK_CREATE_RUNTIME));
	assert_true(oci_hook_kind_fatal(OCI_HOOK_CREATE_CONTAINER));
	assert_true(oci_hook_kind_fatal(OCI_HOOK_START_CONTAINER));
	assert_false(oci_hook_kind_fatal(OCI_HOOK_POSTSTART));
	assert_false(oci_hook_kind_fatal(OCI_HOOK_POSTSTOP));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_stdin_args_env_cwd, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_argv0_and_empty_env, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_exit_status, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_signal, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_missing_binary, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_large_state_unread, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_order_and_stop, setup, teardown),
	    cmocka_unit_test(test_kind_fatal),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
