/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The sandbox's jail (vmm/sandbox_jail.c), entered by a forked child with
 * a state directory of its own: what it can still do from inside (its
 * state directory, a pty, its status file) and what it can no longer
 * reach, checked from inside and, through /proc, from outside.
 * The nested tier checks the same on a real sandbox (tests/integration/
 * nested/jail.bats).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "vmm/sandbox.h"

struct fx {
	char root[64], dir[96];
	int report[2]; /* child -> parent: one line, "ok" or what failed */
	int go[2];     /* parent -> child: done looking */
	pid_t pid;
};

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	snprintf(f->root, sizeof(f->root), "/tmp/kvbox-jail-XXXXXX");
	assert_non_null(mkdtemp(f->root));
	snprintf(f->dir, sizeof(f->dir), "%s/c1", f->root);
	assert_int_equal(mkdir(f->dir, 0700), 0);
	assert_int_equal(pipe2(f->report, O_CLOEXEC), 0);
	assert_int_equal(pipe2(f->go, O_CLOEXEC), 0);
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;
	char path[160];
	if (f->pid > 0) { /* a failed test left its child waiting */
		kill(f->pid, SIGKILL);
		waitpid(f->pid, NULL, 0);
	}
	for (int i = 0; i < 2; i++) {
		close(f->report[i]);
		close(f->go[i]);
	}
	snprintf(path, sizeof(path), "%s/marker", f->dir);
	unlink(path);
	rmdir(f->dir);
	rmdir(f->root);
	free(f);
	return 0;
}

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			dprintf(out, "failed: %s (line %d, errno %d)\n", #cond, __LINE__, errno);  \
			return 1;                                                                  \
		}                                                                                  \
	} while (0)

/* In the child, after the jail: what still works and what does not. */
static int inside(struct sandbox *sb, int leaky, int out)
{
	/* the host's files are gone */
	CHECK(open("/etc/passwd", O_RDONLY) < 0 && errno == ENOENT);
	CHECK(open("/proc/self/status", O_RDONLY) < 0 && errno == ENOENT);
	/* the root holds dev and state only, and is read-only */
	DIR *d = opendir("/");
	CHECK(d);
	struct dirent *e;
	int n = 0;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.') {
			CHECK(!strcmp(e->d_name, "dev") || !strcmp(e->d_name, "state"));
			n++;
		}
	closedir(d);
	CHECK(n == 2);
	CHECK(mkdir("/x", 0700) < 0 && errno == EROFS);
	/* the state directory: written through the dir fd; ".." ends at the
	 * jail's root, not in ROOT */
	int fd = openat(sb->dir_fd, "marker", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	close(fd);
	fd = openat(sb->dir_fd, "../..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK(fd >= 0);
	CHECK(faccessat(fd, "state", F_OK, 0) == 0 && faccessat(fd, "c1", F_OK, 0) < 0);
	close(fd);
	/* a pty, from the jail's own devpts */
	int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	CHECK(m >= 0 && grantpt(m) == 0 && unlockpt(m) == 0);
	char name[64];
	CHECK(ptsname_r(m, name, sizeof(name)) == 0 && !strcmp(name, "/dev/pts/0"));
	int s = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	CHECK(s >= 0);
	CHECK(write(s, "x", 1) == 1);
	close(s);
	close(m);
	/* the status fd kept for stats */
	CHECK(sb_status_value(sb->status_fd, "VmRSS") > 0);
	CHECK(sb_status_value(sb->status_fd, "VmRSS") > 0); /* read again from 0 */
	/* the fd that lacked close-on-exec has it */
	CHECK(fcntl(leaky, F_GETFD) & FD_CLOEXEC);
	/* capabilities, privileges, limits */
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct data[2];
	CHECK(syscall(SYS_capget, &hdr, data) == 0);
	CHECK(!data[0].effective && !data[0].permitted && !data[0].inheritable &&
	      !data[1].effective && !data[1].permitted && !data[1].inheritable);
	CHECK(prctl(PR_CAPBSET_READ, CAP_SYS_ADMIN, 0, 0, 0) == 0);
	CHECK(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1);
	CHECK(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0);
	struct rlimit rl;
	CHECK(getrlimit(RLIMIT_CORE, &rl) == 0 && rl.rlim_max == 0);
	CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max <= SANDBOX_NOFILE);
	/* and no way back: a mount needs CAP_SYS_ADMIN */
	CHECK(umount2("/state", MNT_DETACH) < 0 && errno == EPERM);
	return 0;
}

static void child(struct fx *f)
{
	static struct sandbox sb;
	struct kv_err err = {0};
	int out = f->report[1];
	sb.root = f->root;
	sb.id = "c1";
	sb.ready_fd = sb.console_fd = sb.status_fd = -1;
	sb.dir_fd = open(f->dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	int leaky = open("/dev/null", O_RDONLY); /* no O_CLOEXEC */
	if (sb_jail(&sb, &err) < 0) {
		dprintf(out, "failed: sb_jail: %s\n", err.msg);
		_exit(1);
	}
	int r = inside(&sb, leaky, out);
	if (r == 0)
		dprintf(out, "ok\n");
	char c;
	if (read(f->go[0], &c, 1) < 0) {
		/* the parent is gone: nothing to wait for */
	}
	_exit(r);
}

static void read_line(int fd, char *buf, size_t cap)
{
	size_t n = 0;
	while (n < cap - 1) {
		ssize_t got = read(fd, buf + n, 1);
		if (got <= 0 || buf[n] == '\n')
			break;
		n++;
	}
	buf[n] = '\0';
}

static bool status_has(pid_t pid, const char *line)
{
	char path[64], buf[256];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *st = fopen(path, "r");
	bool found = false;
	while (st && fgets(buf, sizeof(buf), st))
		found |= !strcmp(buf, line);
	if (st)
		fclose(st);
	return found;
}

static void test_jail(void **state)
{
	struct fx *f = *state;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		child(f);
	f->pid = pid;
	char line[256], path[160], mine[64], its[64];
	read_line(f->report[0], line, sizeof(line));
	/* seen from outside, while it is jailed */
	assert_true(status_has(pid, "CapEff:\t0000000000000000\n"));
	assert_true(status_has(pid, "CapPrm:\t0000000000000000\n"));
	assert_true(status_has(pid, "CapBnd:\t0000000000000000\n"));
	assert_true(status_has(pid, "CapAmb:\t0000000000000000\n"));
	assert_true(status_has(pid, "NoNewPrivs:\t1\n"));
	snprintf(path, sizeof(path), "/proc/%d/ns/mnt", (int)pid);
	ssize_t n = readlink(path, its, sizeof(its) - 1);
	assert_true(n > 0);
	its[n] = '\0';
	n = readlink("/proc/self/ns/mnt", mine, sizeof(mine) - 1);
	assert_true(n > 0);
	mine[n] = '\0';
	assert_string_not_equal(mine, its);
	if (write(f->go[1], "x", 1) != 1)
		fail_msg("cannot release the child");
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	f->pid = 0;
	assert_string_equal(line, "ok");
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	/* the marker written inside is in the host's state directory */
	snprintf(path, sizeof(path), "%s/marker", f->dir);
	assert_int_equal(access(path, F_OK), 0);
}

static void *idle(void *arg)
{
	(void)arg;
	pause();
	return NULL;
}

/* A second thread would keep the host's mounts and every capability. */
static void test_jail_refuses_threads(void **state)
{
	struct fx *f = *state;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		static struct sandbox sb;
		struct kv_err err = {0};
		pthread_t t;
		sb.root = f->root;
		sb.id = "c1";
		sb.console_fd = sb.status_fd = -1;
		sb.dir_fd = open(f->dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
		pthread_create(&t, NULL, idle, NULL);
		int r = sb_jail(&sb, &err);
		_exit(r == -EBUSY && strstr(err.msg, "2 threads") ? 0 : 1);
	}
	f->pid = pid;
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	f->pid = 0;
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_jail, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_jail_refuses_threads, fx_setup, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
