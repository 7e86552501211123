/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Process identity for the state directory (oci/state.h): a pid plus the
 * start time from /proc/PID/stat, so a recycled pid never passes for the
 * sandbox.  Signals go through a pidfd that is checked against the start
 * time after it is opened: the pidfd pins the process, so there is no
 * window in which the pid could be reused between the check and the kill.
 * Waiting for the end polls the pidfd, which works for processes that are
 * not our children (the sandbox's parent is conmon or the shim).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "oci/state.h"
#include "util/cleanup.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

/* The fields after "pid (comm) ": state is the first, starttime the 20th. */
#define STAT_FIELD_STATE     0
#define STAT_FIELD_STARTTIME 19

/* Reads state and start time of pid; -ESRCH when /proc has no such pid. */
static int read_stat(pid_t pid, char *state, unsigned long long *start, struct kv_err *err)
{
	char path[64], buf[4096];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? kv_err_set(err, ESRCH, "no process %d", (int)pid)
				       : kv_err_sys(err, errno, "open %s", path);
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0)
		return errno == ESRCH ? kv_err_set(err, ESRCH, "no process %d", (int)pid)
				      : kv_err_sys(err, errno, "read %s", path);
	buf[n] = '\0';
	/* comm may hold spaces and ')': the last ')' ends it */
	char *p = strrchr(buf, ')');
	if (!p || p[1] != ' ')
		return kv_err_set(err, EINVAL, "%s: malformed", path);
	p += 2;
	for (int field = 0; field <= STAT_FIELD_STARTTIME; field++) {
		if (!*p)
			return kv_err_set(err, EINVAL, "%s: too few fields", path);
		if (field == STAT_FIELD_STATE)
			*state = *p;
		if (field == STAT_FIELD_STARTTIME) {
			char *end;
			errno = 0;
			*start = strtoull(p, &end, 10);
			if (errno || end == p || (*end != ' ' && *end != '\n' && *end))
				return kv_err_set(err, EINVAL, "%s: bad start time", path);
			return 0;
		}
		p = strchr(p, ' ');
		if (!p)
			return kv_err_set(err, EINVAL, "%s: too few fields", path);
		p++;
	}
	return kv_err_set(err, EINVAL, "%s: too few fields", path);
}

int oci_proc_identify(pid_t pid, struct oci_proc *out, struct kv_err *err)
{
	char state = 0;
	unsigned long long start = 0;

	if (pid <= 0)
		return kv_err_set(err, ESRCH, "no process %d", (int)pid);
	int r = read_stat(pid, &state, &start, err);
	if (r < 0)
		return r;
	/* a zombie has finished; only its parent's wait is missing */
	if (state == 'Z' || state == 'X')
		return kv_err_set(err, ESRCH, "process %d has exited", (int)pid);
	out->pid = pid;
	out->start_time = start;
	return 0;
}

bool oci_proc_alive(const struct oci_proc *p)
{
	struct oci_proc now;

	if (!p || p->pid <= 0)
		return false;
	if (oci_proc_identify(p->pid, &now, NULL) < 0)
		return false;
	return now.start_time == p->start_time;
}

/* A pidfd for p, or -ESRCH if p is gone (or its pid now names another
 * process); -ENOSYS on kernels before 5.3. */
static int open_pidfd(const struct oci_proc *p, struct kv_err *err)
{
	if (p->pid <= 0)
		return -ESRCH;
	int fd = (int)syscall(SYS_pidfd_open, p->pid, 0);
	if (fd < 0) {
		if (errno == ESRCH || errno == ENOSYS)
			return -errno;
		return kv_err_sys(err, errno, "pidfd_open %d", (int)p->pid);
	}
	if (!oci_proc_alive(p)) {
		close(fd);
		return -ESRCH;
	}
	return fd;
}

int oci_proc_signal(const struct oci_proc *p, int sig, struct kv_err *err)
{
	cleanup_close int fd = open_pidfd(p, err);
	if (fd == -ENOSYS) {
		/* no pidfds: a check then kill(), with the small race that implies */
		if (!oci_proc_alive(p))
			return -ESRCH;
		if (kill(p->pid, sig) < 0)
			return errno == ESRCH ? -ESRCH
					      : kv_err_sys(err, errno, "kill %d", (int)p->pid);
		return 0;
	}
	if (fd < 0)
		return fd;
	if (syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0) < 0)
		return errno == ESRCH
			   ? -ESRCH
			   : kv_err_sys(err, errno, "signal %d to process %d", sig, (int)p->pid);
	return 0;
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Without pidfds: watch /proc until the process is gone. */
static int wait_gone_polling(const struct oci_proc *p, long long deadline)
{
	while (oci_proc_alive(p)) {
		if (now_ms() >= deadline)
			return -ETIMEDOUT;
		usleep(10000);
	}
	return 0;
}

int oci_proc_kill_wait(const struct oci_proc *p, int timeout_ms, struct kv_err *err)
{
	long long deadline = now_ms() + timeout_ms;
	cleanup_close int fd = open_pidfd(p, err);
	int r;

	if (fd == -ESRCH)
		return 0;
	if (fd == -ENOSYS) {
		r = oci_proc_signal(p, SIGKILL, err);
		if (r == -ESRCH)
			return 0;
		if (r == 0)
			r = wait_gone_polling(p, deadline);
		if (r == -ETIMEDOUT)
			return kv_err_set(err, ETIMEDOUT, "process %d did not end within %d ms",
					  (int)p->pid, timeout_ms);
		return r;
	}
	if (fd < 0)
		return fd;
	if (syscall(SYS_pidfd_send_signal, fd, SIGKILL, NULL, 0) < 0 && errno != ESRCH)
		return kv_err_sys(err, errno, "SIGKILL to process %d", (int)p->pid);
	for (;;) {
		long long left = deadline - now_ms();
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		if (left < 0)
			left = 0;
		r = poll(&pfd, 1, (int)left);
		if (r > 0)
			return 0; /* readable: the process has ended */
		if (r == 0)
			return kv_err_set(err, ETIMEDOUT, "process %d did not end within %d ms",
					  (int)p->pid, timeout_ms);
		if (errno != EINTR)
			return kv_err_sys(err, errno, "poll pidfd of %d", (int)p->pid);
	}
}
