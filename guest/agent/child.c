/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A container process from fork() to execve(), in the order runc uses:
 *
 *   signals unblocked -> wait for SYNC_GO (the agent has put us in the
 *   cgroup) -> CREATE: new mount/uts/ipc/... namespaces, hostname,
 *   sysctls, the root filesystem (mount.c) | EXEC: setns into the init's
 *   namespaces -> stdio or a terminal -> rlimits, umask -> uid/gid/groups
 *   and capabilities (caps.c), no_new_privs -> SYNC_READY -> wait for
 *   SYNC_START -> seccomp -> execve.
 *
 * Any failure is sent to the agent as SYNC_ERROR with one line, then the
 * child exits 127.  The sync socket is close-on-exec: the agent learns of
 * a successful exec from its EOF.  Only _exit() here, never exit(): the
 * agent's stdio buffers must not be flushed twice.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/filter.h>
#include <linux/seccomp.h>

#include "guest/agent/agent.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

static void send_sync(int sync, uint32_t kind, const struct kv_err *err, int fd)
{
	struct sync_msg m = {.kind = kind};
	if (err) {
		m.errnum = err->code ? err->code : EIO;
		snprintf(m.msg, sizeof(m.msg), "%s", err->msg);
	}
	struct iovec iov = {&m, sizeof(m)};
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	if (fd >= 0) {
		memset(cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf;
		mh.msg_controllen = sizeof(cbuf);
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	while (sendmsg(sync, &mh, MSG_NOSIGNAL) < 0 && errno == EINTR)
		;
}

__attribute__((noreturn)) static void fail(int sync, const struct kv_err *err)
{
	send_sync(sync, SYNC_ERROR, err, -1);
	_exit(127);
}

/* Blocks for the agent's byte; anything else (EOF: the agent gave up)
 * ends the child. */
static void wait_for(int sync, char want)
{
	char c = 0;
	ssize_t n;
	while ((n = read(sync, &c, 1)) < 0 && errno == EINTR)
		;
	if (n != 1 || c != want)
		_exit(126);
}

static void reset_signals(void)
{
	sigset_t none;
	sigemptyset(&none);
	for (int s = 1; s < NSIG; s++)
		signal(s, SIG_DFL);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

static int write_sysctl(const struct agent_sysctl *s, struct kv_err *err)
{
	char path[512];
	int n = snprintf(path, sizeof(path), "/proc/sys/%s", s->key);
	for (char *p = path + 10; p < path + n; p++)
		if (*p == '.')
			*p = '/';
	int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return kv_err_sys(err, errno, "sysctl %s", s->key);
	const char *v = s->value ? s->value : "";
	ssize_t w = write(fd, v, strlen(v));
	int e = errno;
	close(fd);
	if (w < 0 || (size_t)w != strlen(v))
		return kv_err_sys(err, w < 0 ? e : EIO, "sysctl %s=%s", s->key, v);
	return 0;
}

static int setup_init(const struct agent_create *c, struct kv_err *err)
{
	uint32_t ns = c->namespaces ? c->namespaces
				    : (CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC);
	if (unshare((int)(ns & ~(uint32_t)CLONE_NEWPID)) < 0)
		return kv_err_sys(err, errno, "unshare namespaces %#x", ns);
	if (c->hostname && sethostname(c->hostname, strlen(c->hostname)) < 0)
		return kv_err_sys(err, errno, "sethostname %s", c->hostname);
	if (c->domainname && setdomainname(c->domainname, strlen(c->domainname)) < 0)
		return kv_err_sys(err, errno, "setdomainname %s", c->domainname);
	for (uint32_t i = 0; i < c->nsysctls; i++) {
		int r = write_sysctl(&c->sysctls[i], err);
		if (r < 0)
			return r;
	}
	return mount_container(c, err);
}

static int setup_exec(const struct child_args *ca, struct kv_err *err)
{
	static const int types[4] = {CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWCGROUP};
	/* the mount namespace last: it changes our root, and /proc with it */
	for (int i = 3; i >= 0; i--) {
		if (ca->nsfd[i] >= 0 && setns(ca->nsfd[i], types[i]) < 0)
			return kv_err_sys(err, errno, "setns (namespace type %#x)", types[i]);
	}
	if (chdir("/") < 0)
		return kv_err_sys(err, errno, "chdir /");
	return 0;
}

/* A pty from the container's own /dev/ptmx; the slave becomes our
 * controlling terminal and stdio, the master goes to the agent. */
static int setup_terminal(const struct agent_process *p, int *master, struct kv_err *err)
{
	int m = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (m < 0)
		m = open("/dev/pts/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (m < 0)
		return kv_err_sys(err, errno, "terminal: open /dev/ptmx in the container");
	int unlock = 0;
	int s = ioctl(m, TIOCSPTLCK, &unlock) < 0 ? -1 : ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY);
	if (s < 0) {
		int e = errno;
		close(m);
		return kv_err_sys(err, e, "terminal: opening the pty slave");
	}
	if (p->console_rows && p->console_cols) {
		struct winsize ws = {.ws_row = (unsigned short)p->console_rows,
				     .ws_col = (unsigned short)p->console_cols};
		ioctl(s, TIOCSWINSZ, &ws);
	}
	if (fchown(s, p->uid, p->gid) < 0 && errno != EPERM)
		agent_log("terminal: fchown: %s", strerror(errno));
	if (setsid() < 0 || ioctl(s, TIOCSCTTY, 0) < 0) {
		int e = errno;
		close(s);
		close(m);
		return kv_err_sys(err, e, "terminal: making it the controlling tty");
	}
	for (int i = 0; i < 3; i++)
		dup2(s, i);
	if (s > 2)
		close(s);
	*master = m;
	return 0;
}

static int setup_stdio(const struct child_args *ca, struct kv_err *err)
{
	int high[3];
	/* move out of 0-2 first: a source may sit where another must go */
	for (int i = 0; i < 3; i++) {
		high[i] = fcntl(ca->stdio[i], F_DUPFD_CLOEXEC, 10);
		if (high[i] < 0)
			return kv_err_sys(err, errno, "stdio: dup");
	}
	for (int i = 0; i < 3; i++) {
		if (dup2(high[i], i) < 0)
			return kv_err_sys(err, errno, "stdio: dup2");
		close(high[i]);
	}
	setsid();
	return 0;
}

static int set_limits(const struct agent_process *p, struct kv_err *err)
{
	for (uint32_t i = 0; i < p->nrlimits; i++) {
		const struct agent_rlimit *l = &p->rlimits[i];
		struct rlimit rl = {.rlim_cur = l->soft, .rlim_max = l->hard};
		if (setrlimit((int)l->type, &rl) < 0)
			return kv_err_sys(err, errno, "setrlimit %u (%llu/%llu)", l->type,
					  (unsigned long long)l->soft, (unsigned long long)l->hard);
	}
	umask(p->umask);
	return 0;
}

static int set_seccomp(const struct agent_process *p, struct kv_err *err)
{
	if (!p->seccomp_len)
		return 0;
	struct sock_fprog prog = {.len = (unsigned short)(p->seccomp_len / 8),
				  .filter = (struct sock_filter *)(void *)p->seccomp_bpf};
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, p->seccomp_flags, &prog) < 0)
		return kv_err_sys(err, errno, "seccomp filter (%u instructions)", prog.len);
	return 0;
}

static const char *env_path(const struct agent_process *p)
{
	for (uint32_t i = 0; i < p->nenv; i++)
		if (!strncmp(p->env[i], "PATH=", 5))
			return p->env[i] + 5;
	return DEFAULT_PATH;
}

/* execve with a PATH search in the container's own environment. */
static int do_exec(const struct agent_process *p, struct kv_err *err)
{
	const char *file = p->args[0];
	if (strchr(file, '/')) {
		execve(file, p->args, p->env);
		return kv_err_sys(err, errno, "exec %s", file);
	}
	int saved = ENOENT;
	char path[4096];
	for (const char *dir = env_path(p); dir;) {
		const char *end = strchr(dir, ':');
		size_t dl = end ? (size_t)(end - dir) : strlen(dir);
		snprintf(path, sizeof(path), "%.*s%s%s", (int)dl, dir, dl ? "/" : "", file);
		execve(path, p->args, p->env);
		if (errno == EACCES)
			saved = EACCES;
		else if (errno != ENOENT && errno != ENOTDIR)
			saved = errno;
		dir = end ? end + 1 : NULL;
	}
	return kv_err_set(err, saved, "exec %s: %s in $PATH", file,
			  saved == ENOENT ? "not found" : strerror(saved));
}

static int finish(const struct child_args *ca, int *master, struct kv_err *err)
{
	const struct agent_process *p = ca->proc;
	int r = p->terminal ? setup_terminal(p, master, err) : setup_stdio(ca, err);
	if (r >= 0)
		r = set_limits(p, err);
	if (r >= 0 && !p->no_new_privs)
		r = set_seccomp(p, err); /* needs CAP_SYS_ADMIN: before the drop */
	if (r < 0)
		return r;
	bool cwd_done = chdir(p->cwd) == 0;
	r = caps_apply(p, ca->cap_last, err);
	if (r < 0)
		return r;
	if (!cwd_done && chdir(p->cwd) < 0) /* may need the user's own rights */
		return kv_err_sys(err, errno, "chdir %s", p->cwd);
	if (p->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return kv_err_sys(err, errno, "PR_SET_NO_NEW_PRIVS");
	return 0;
}

void child_main(const struct child_args *ca)
{
	struct kv_err err = {0};
	int master = -1;
	int r;

	reset_signals();
	wait_for(ca->sync, SYNC_GO);
	r = ca->create ? setup_init(ca->create, &err) : setup_exec(ca, &err);
	if (r >= 0)
		r = finish(ca, &master, &err);
	if (r < 0)
		fail(ca->sync, &err);
	send_sync(ca->sync, SYNC_READY, NULL, master);
	if (master >= 0)
		close(master);
	wait_for(ca->sync, SYNC_START);
	if (ca->proc->no_new_privs && set_seccomp(ca->proc, &err) < 0)
		fail(ca->sync, &err);
	syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC);
	do_exec(ca->proc, &err);
	fail(ca->sync, &err);
}
