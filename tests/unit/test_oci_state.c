/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The state directory (oci/state.h): id rules, create/load/save/destroy in
 * a temporary ROOT, the atomic replace of state.json, corrupt files, the
 * liveness check against real child processes (alive, zombie, dead, and a
 * pid whose start time differs), the per-container lock between two
 * processes, and that destroy removes exactly one directory.
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
#include <sys/wait.h>
#include <unistd.h>

#include "oci/state.h"
#include "oci/state_json.h"

struct fx {
	char top[64];
	char bundle[96];
	char rootpath[96];
	struct oci_statedir root;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	strcpy(f->top, "/tmp/kvbox-state-XXXXXX");
	assert_non_null(mkdtemp(f->top));
	snprintf(f->bundle, sizeof(f->bundle), "%s/bundle", f->top);
	snprintf(f->rootpath, sizeof(f->rootpath), "%s/root/nested", f->top);
	assert_int_equal(mkdir(f->bundle, 0755), 0);
	assert_int_equal(oci_statedir_open(&f->root, f->rootpath, true, NULL), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];
	oci_statedir_close(&f->root);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->top);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static struct oci_container *make(struct fx *f, const char *id)
{
	struct oci_container *c = NULL;
	struct kv_err err = {0};
	int r = oci_state_create(&f->root, id, f->bundle, &c, &err);
	if (r < 0)
		fail_msg("create %s: %s", id, err.msg);
	return c;
}

static bool exists(struct fx *f, const char *rel)
{
	char p[256];
	struct stat st;
	snprintf(p, sizeof(p), "%s/%s", f->rootpath, rel);
	return lstat(p, &st) == 0;
}

static void test_id_rules(void **state)
{
	static const char *const good[] = {"a", "A-b_c.d+e", "0123", "...", "a..b", ".x"};
	static const char *const bad[] = {"", ".", "..", "a/b", "a b", "a\nb", "é", "@x", "a:b"};
	char long_id[OCI_ID_MAX + 2];
	struct kv_err err = {0};
	(void)state;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_int_equal(oci_id_validate(good[i], NULL), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(oci_id_validate(bad[i], NULL), -EINVAL);
	memset(long_id, 'x', OCI_ID_MAX);
	long_id[OCI_ID_MAX] = '\0';
	assert_int_equal(oci_id_validate(long_id, NULL), 0);
	long_id[OCI_ID_MAX] = 'x';
	long_id[OCI_ID_MAX + 1] = '\0';
	assert_int_equal(oci_id_validate(long_id, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "longer than"));
}

static void test_create_load(void **state)
{
	struct fx *f = *state;
	struct oci_container *c = make(f, "c1"), *d = NULL;
	struct kv_err err = {0};
	struct stat st;

	assert_true(c->locked);
	assert_int_equal(c->st.status, OCI_STATUS_CREATING);
	assert_int_equal(c->st.creator.pid, getpid());
	assert_int_equal(stat(c->dir, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	c->st.status = OCI_STATUS_CREATED;
	c->st.sandbox = (struct oci_proc){.pid = 4242, .start_time = 77};
	c->st.control_socket = strdup("/run/x.sock");
	json_object_set_new(c->st.annotations, "k", json_string("v"));
	assert_int_equal(oci_state_save(c, NULL), 0);

	assert_int_equal(oci_state_load(&f->root, "c1", 0, &d, &err), 0);
	assert_false(d->locked);
	assert_string_equal(d->st.id, "c1");
	assert_string_equal(d->st.bundle, f->bundle);
	assert_int_equal(d->st.status, OCI_STATUS_CREATED);
	assert_int_equal(d->st.sandbox.pid, 4242);
	assert_int_equal(d->st.sandbox.start_time, 77);
	assert_string_equal(d->st.control_socket, "/run/x.sock");
	assert_string_equal(json_string_value(json_object_get(d->st.annotations, "k")), "v");
	assert_string_equal(d->st.created, c->st.created);
	assert_int_equal(oci_state_save(d, &err), -ENOLCK);
	oci_container_free(d);

	/* the id is taken; a bad bundle leaves nothing behind */
	assert_int_equal(oci_state_create(&f->root, "c1", f->bundle, &d, &err), -EEXIST);
	assert_non_null(strstr(err.msg, "already exists"));
	assert_true(oci_state_create(&f->root, "c2", "/nonexistent/b", &d, &err) < 0);
	assert_false(exists(f, "c2"));
	assert_int_equal(oci_state_load(&f->root, "c2", 0, &d, &err), -ENOENT);
	assert_string_equal(err.msg, "container \"c2\" does not exist");
	oci_container_free(c);
}

/* A reader holding the old state.json sees it whole: save replaces the
 * file, never rewrites it in place, and leaves no temporary behind. */
static void test_atomic_save(void **state)
{
	struct fx *f = *state;
	struct oci_container *c = make(f, "atomic");
	char path[256], buf[8192];

	snprintf(path, sizeof(path), "%s/state.json", c->dir);
	int old = open(path, O_RDONLY);
	assert_true(old >= 0);
	c->st.status = OCI_STATUS_RUNNING;
	assert_int_equal(oci_state_save(c, NULL), 0);
	ssize_t n = read(old, buf, sizeof(buf) - 1);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_non_null(strstr(buf, "\"creating\""));
	struct oci_state st = {0};
	assert_int_equal(oci_state_parse(buf, (size_t)n, &st, NULL), 0);
	oci_state_fini(&st);
	close(old);
	assert_false(exists(f, "atomic/state.json.tmp"));

	/* a stale temporary from a crashed save does not matter */
	snprintf(path, sizeof(path), "%s/state.json.tmp", c->dir);
	FILE *t = fopen(path, "w");
	fputs("garbage", t);
	fclose(t);
	assert_int_equal(oci_state_save(c, NULL), 0);
	oci_container_free(c);
	assert_int_equal(oci_state_load(&f->root, "atomic", 0, &c, NULL), 0);
	assert_int_equal(c->st.status, OCI_STATUS_RUNNING);
	oci_container_free(c);
}

static void write_state(struct fx *f, const char *id, const char *text)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s/state.json", f->rootpath, id);
	FILE *s = fopen(path, "w");
	assert_non_null(s);
	fputs(text, s);
	fclose(s);
}

static void test_corrupt(void **state)
{
	static const struct {
		const char *text, *msg;
	} cases[] = {
	    {"{\"id\": ", "not valid JSON"},
	    {"[]", "expected an object"},
	    {"{\"ociVersion\":\"1\",\"id\":\"bad\",\"status\":\"sleeping\"}",
	     "status: \"sleeping\""},
	    {"{\"ociVersion\":\"1\",\"id\":\"bad\",\"status\":\"running\",\"pid\":\"1\"}",
	     "pid: expected an integer"},
	    {"{\"ociVersion\":\"1\",\"id\":\"bad\",\"status\":\"running\",\"pid\":-1}",
	     "pid: out of range"},
	    {"{\"ociVersion\":\"1\",\"id\":\"bad\",\"status\":\"running\",\"bundle\":\"rel\"}",
	     "bundle: not an absolute path"},
	    {"{\"ociVersion\":\"1\",\"id\":\"other\",\"status\":\"running\",\"bundle\":\"/b\","
	     "\"created\":\"x\"}",
	     "holds id \"other\""},
	    {"{\"ociVersion\":\"1\",\"id\":\"bad\",\"id\":\"bad\"}", "duplicate"},
	};
	struct fx *f = *state;
	struct oci_container *c = make(f, "bad");
	oci_container_free(c);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct kv_err err = {0};
		write_state(f, "bad", cases[i].text);
		c = NULL;
		assert_int_equal(oci_state_load(&f->root, "bad", 0, &c, &err), -EINVAL);
		assert_null(c);
		assert_non_null(strstr(err.msg, "/bad/state.json: "));
		if (!strstr(err.msg, cases[i].msg))
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err.msg, cases[i].msg);
	}
}

static pid_t spawn_sleeper(void)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		pause();
		_exit(0);
	}
	return pid;
}

static void test_liveness(void **state)
{
	struct fx *f = *state;
	struct oci_container *c = make(f, "live");
	struct oci_proc p;
	int status;

	pid_t pid = spawn_sleeper();
	assert_int_equal(oci_proc_identify(pid, &p, NULL), 0);
	c->st.sandbox = p;
	c->st.status = OCI_STATUS_RUNNING;
	assert_true(oci_proc_alive(&p));
	assert_false(oci_state_refresh(c));
	assert_int_equal(c->st.status, OCI_STATUS_RUNNING);
	json_t *j = oci_state_json(&c->st);
	assert_int_equal(json_integer_value(json_object_get(j, "pid")), pid);
	json_decref(j);

	/* the same pid with another start time is another process */
	struct oci_proc reused = {.pid = pid, .start_time = p.start_time + 1};
	assert_false(oci_proc_alive(&reused));
	assert_int_equal(oci_proc_signal(&reused, SIGKILL, NULL), -ESRCH);
	assert_true(oci_proc_alive(&p)); /* and it was not signalled */

	/* a zombie counts as dead */
	kill(pid, SIGKILL);
	while (oci_proc_alive(&p))
		usleep(1000);
	assert_true(oci_state_refresh(c));
	assert_int_equal(c->st.status, OCI_STATUS_STOPPED);
	j = oci_state_json(&c->st);
	assert_int_equal(json_integer_value(json_object_get(j, "pid")), 0);
	assert_string_equal(json_string_value(json_object_get(j, "status")), "stopped");
	json_decref(j);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_false(oci_proc_alive(&p));
	assert_int_equal(oci_proc_identify(pid, &p, NULL), -ESRCH);
	oci_container_free(c);
}

/* "creating" ends when neither the creator nor a sandbox is alive. */
static void test_creating(void **state)
{
	struct fx *f = *state;
	struct oci_container *c = make(f, "half");
	assert_false(oci_state_refresh(c)); /* we are its creator */
	c->st.creator.start_time++;
	assert_true(oci_state_refresh(c));
	assert_int_equal(c->st.status, OCI_STATUS_STOPPED);
	oci_container_free(c);
}

static void test_kill_wait(void **state)
{
	struct oci_proc p;
	struct kv_err err = {0};
	int status;
	(void)state;

	pid_t pid = spawn_sleeper();
	assert_int_equal(oci_proc_identify(pid, &p, NULL), 0);
	assert_int_equal(oci_proc_kill_wait(&p, 5000, &err), 0);
	assert_false(oci_proc_alive(&p));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	assert_int_equal(oci_proc_kill_wait(&p, 5000, &err), 0); /* already gone */
	struct oci_proc none = {0};
	assert_int_equal(oci_proc_kill_wait(&none, 10, &err), 0);
}

/* The child times out on the lock the parent holds, tells the parent,
 * and then waits for the lock, which the parent releases. */
static void child_locker(struct fx *f, int go, int done)
{
	struct oci_container *d = NULL;
	struct kv_err err = {0};
	char b;

	if (oci_state_load(&f->root, "locked", 0, &d, NULL) < 0)
		_exit(10);
	if (oci_container_lock(d, 50, &err) != -EWOULDBLOCK || !strstr(err.msg, "busy"))
		_exit(11);
	if (write(done, "t", 1) != 1 || read(go, &b, 1) != 1)
		_exit(12);
	if (oci_container_lock(d, 5000, &err) != 0)
		_exit(13);
	oci_container_free(d);
	_exit(0);
}

static void test_lock_two_processes(void **state)
{
	struct fx *f = *state;
	struct oci_container *c = make(f, "locked");
	int go[2], done[2], status;
	char b;

	assert_int_equal(pipe(go), 0);
	assert_int_equal(pipe(done), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		child_locker(f, go[0], done[1]);
	close(go[0]);
	close(done[1]);
	assert_int_equal(read(done[0], &b, 1), 1); /* the child timed out once */
	oci_container_unlock(c);
	assert_int_equal(write(go[1], "x", 1), 1);
	close(go[1]);
	close(done[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	oci_container_free(c);
}

/* Waiting for the lock of a container that is deleted meanwhile ends in
 * "does not exist", not in a lock on a removed directory. */
static void test_lock_after_destroy(void **state)
{
	struct fx *f = *state;
	struct oci_container *c = make(f, "gone"), *d = NULL;
	struct kv_err err = {0};

	assert_int_equal(oci_state_load(&f->root, "gone", 0, &d, NULL), 0);
	assert_int_equal(oci_state_destroy(c, NULL), 0);
	oci_container_free(c);
	assert_int_equal(oci_container_lock(d, 1000, &err), -ENOENT);
	assert_string_equal(err.msg, "container \"gone\" does not exist");
	oci_container_free(d);
	assert_int_equal(oci_state_load(&f->root, "gone", OCI_LOAD_LOCK, &d, NULL), -ENOENT);
}

static void test_destroy_only_its_dir(void **state)
{
	struct fx *f = *state;
	struct oci_container *a = make(f, "a"), *b = make(f, "b");
	char path[256], outside[160];

	/* things inside: a subdirectory, a socket-like file, a symlink out */
	snprintf(outside, sizeof(outside), "%s/keep", f->top);
	fclose(fopen(outside, "w"));
	snprintf(path, sizeof(path), "%s/sub", a->dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/sub/deeper", a->dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/sub/file", a->dir);
	fclose(fopen(path, "w"));
	snprintf(path, sizeof(path), "%s/link", a->dir);
	assert_int_equal(symlink(outside, path), 0);
	snprintf(path, sizeof(path), "%s/dirlink", a->dir);
	assert_int_equal(symlink(f->top, path), 0);

	assert_int_equal(oci_state_destroy(a, NULL), 0);
	assert_false(exists(f, "a"));
	assert_true(exists(f, "b/state.json"));
	assert_int_equal(access(outside, F_OK), 0);
	assert_int_equal(access(f->bundle, F_OK), 0);
	oci_container_free(a);
	oci_container_free(b);
}

static void test_list(void **state)
{
	struct fx *f = *state;
	char **ids;
	size_t n;
	char path[256];

	oci_container_free(make(f, "zeta"));
	oci_container_free(make(f, "alpha"));
	snprintf(path, sizeof(path), "%s/not@an-id", f->rootpath);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/plainfile", f->rootpath);
	fclose(fopen(path, "w"));
	assert_int_equal(oci_state_list(&f->root, &ids, &n, NULL), 0);
	assert_int_equal(n, 2);
	assert_string_equal(ids[0], "alpha");
	assert_string_equal(ids[1], "zeta");
	oci_ids_free(ids, n);

	struct oci_statedir missing;
	snprintf(path, sizeof(path), "%s/none", f->top);
	assert_int_equal(oci_statedir_open(&missing, path, false, NULL), -ENOENT);
	assert_int_equal(oci_state_list(NULL, &ids, &n, NULL), 0);
	assert_int_equal(n, 0);
}

static void test_remove_stale(void **state)
{
	struct fx *f = *state;
	char path[256];

	snprintf(path, sizeof(path), "%s/stale", f->rootpath);
	assert_int_equal(mkdir(path, 0700), 0);
	struct oci_container *c = NULL;
	assert_int_equal(oci_state_load(&f->root, "stale", 0, &c, NULL), -ENOENT);
	assert_int_equal(oci_state_remove_stale(&f->root, "stale", NULL), 0);
	assert_false(exists(f, "stale"));
	assert_int_equal(oci_state_remove_stale(&f->root, "stale", NULL), -ENOENT);
	oci_container_free(make(f, "whole"));
	assert_int_equal(oci_state_remove_stale(&f->root, "whole", NULL), -EEXIST);
	assert_true(exists(f, "whole/state.json"));
}

static void test_time_format(void **state)
{
	char buf[OCI_TIME_RFC3339_MAX];
	(void)state;

	oci_time_rfc3339(&(struct timespec){.tv_sec = 0, .tv_nsec = 0}, buf);
	assert_string_equal(buf, "1970-01-01T00:00:00Z");
	oci_time_rfc3339(&(struct timespec){.tv_sec = 1700000000, .tv_nsec = 120000000}, buf);
	assert_string_equal(buf, "2023-11-14T22:13:20.12Z");
	oci_time_rfc3339(&(struct timespec){.tv_sec = 1700000000, .tv_nsec = 1}, buf);
	assert_string_equal(buf, "2023-11-14T22:13:20.000000001Z");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_id_rules),
	    cmocka_unit_test_setup_teardown(test_create_load, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_atomic_save, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_corrupt, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_liveness, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_creating, setup, teardown),
	    cmocka_unit_test(test_kill_wait),
	    cmocka_unit_test_setup_teardown(test_lock_two_processes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lock_after_destroy, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_destroy_only_its_dir, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_list, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_remove_stale, setup, teardown),
	    cmocka_unit_test(test_time_format),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
