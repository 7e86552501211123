/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's side of container processes: the process table, spawning,
 * the sync protocol with each child, reaping and EXIT events.
 *
 * Spawning (CREATE, EXEC): stdio streams are connected first (stdio.c),
 * then a SOCK_SEQPACKET pair is made and the agent forks into the right
 * pid namespace: for CREATE a new one (unshare(CLONE_NEWPID), so the child
 * is its PID 1), for EXEC the init's (setns); right after fork() the agent
 * returns to its own with setns, so the child stays the agent's own child
 * and SIGCHLD reports it.  The agent puts the child in the container
 * cgroup, then sends SYNC_GO.  The child (child.c) sets itself up and sends
 * SYNC_READY (with the pty master for a terminal) or SYNC_ERROR:
 *
 *   CREATE: READY -> reply CREATE{pid}; state CREATED, the child blocks.
 *           START -> SYNC_START; EOF on the socket (close-on-exec) means
 *           the exec happened -> reply START.
 *   EXEC:   READY -> SYNC_START at once; EOF -> reply EXEC{pid}.
 *   ERROR at any point -> the pending request gets an ERROR reply.
 *
 * Reaping (SIGCHLD): waitpid(-1, WNOHANG) until nothing is left; a process
 * the host was told about gets an EXIT event and answers its WAITs, with
 * code 128+N when killed by signal N.  Exited entries stay for a later
 * WAIT and are recycled oldest first.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "guest/agent/agent.h"
#include "util/cleanup.h"

#define DEFAULT_NS (CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC)

static const char *const ns_names[4] = {"mnt", "uts", "ipc", "cgroup"};

struct proc *proc_init(struct agent *a)
{
	for (unsigned i = 0; i < AGENT_PROC_SLOTS; i++)
		if (a->procs[i].state != PROC_FREE && a->procs[i].is_init)
			return &a->procs[i];
	return NULL;
}

/* A live (or exited, kept) entry for pid; pid 0 is the container's init. */
struct proc *proc_find(struct agent *a, pid_t pid)
{
	if (pid == 0)
		return proc_init(a);
	struct proc *found = NULL;
	for (unsigned i = 0; i < AGENT_PROC_SLOTS; i++) {
		struct proc *p = &a->procs[i];
		if (p->state == PROC_FREE || p->pid != pid)
			continue;
		if (p->state != PROC_EXITED)
			return p; /* a live one wins over a recycled pid */
		found = p;
	}
	return found;
}

static void proc_release(struct agent *a, struct proc *p)
{
	if (p->sync >= 0)
		close(p->sync);
	if (p->console >= 0)
		close(p->console);
	relay_free(a, p);
	memset(p, 0, sizeof(*p));
	p->sync = p->console = -1;
	p->state = PROC_FREE;
}

static struct proc *proc_alloc(struct agent *a, unsigned *idx)
{
	struct proc *oldest = NULL;
	for (unsigned i = 0; i < AGENT_PROC_SLOTS; i++) {
		struct proc *p = &a->procs[i];
		if (p->state == PROC_FREE) {
			*idx = i;
			return p;
		}
		if (p->state == PROC_EXITED && !p->is_init && !p->relay &&
		    (!oldest || p->seq < oldest->seq))
			oldest = p;
	}
	if (!oldest)
		return NULL;
	proc_release(a, oldest);
	*idx = (unsigned)(oldest - a->procs);
	return oldest;
}

static void reply_pid(struct agent *a, uint16_t type, uint32_t id, pid_t pid)
{
	struct agent_msg m;
	agent_msg_init(&m, type, AGENT_F_REPLY, id);
	m.u.pid.pid = (uint32_t)pid;
	agent_send(a, &m);
}

static void answer_pending(struct agent *a, struct proc *p, int errnum, const char *msg)
{
	if (!p->pending)
		return;
	p->pending = false;
	if (errnum)
		agent_send_error(a, p->pending_id, errnum, msg);
	else if (p->pending_type == AGENT_START)
		reply_pid(a, AGENT_START, p->pending_id, 0);
	else
		reply_pid(a, p->pending_type, p->pending_id, p->pid);
}

/* Forks into a new pid namespace (pidns < 0) or into pidns, and puts the
 * agent back into its own for its next children. */
static pid_t fork_into(struct agent *a, int pidns, bool new_pidns, struct kv_err *err)
{
	if (new_pidns && unshare(CLONE_NEWPID) < 0)
		return kv_err_sys(err, errno, "unshare(CLONE_NEWPID)");
	if (pidns >= 0 && setns(pidns, CLONE_NEWPID) < 0)
		return kv_err_sys(err, errno, "setns into the container's pid namespace");
	pid_t pid = fork();
	if (pid == 0)
		return 0;
	int e = errno;
	if ((new_pidns || pidns >= 0) && setns(a->self_pidns, CLONE_NEWPID) < 0)
		agent_log("cannot return to the agent's pid namespace: %s", strerror(errno));
	if (pid < 0)
		return kv_err_sys(err, e, "fork");
	return pid;
}

static void join_cgroup(struct agent *a, pid_t pid)
{
	if (!a->have_cgroup)
		return;
	int fd = open(AGENT_CGROUP "/cgroup.procs", O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		dprintf(fd, "%d\n", pid);
		close(fd);
	}
}

/* For EXEC: the init's namespaces (nsfd[4] in ns_names order, then pid). */
static int open_init_ns(struct agent *a, int nsfd[4], int *pidns, struct kv_err *err)
{
	struct proc *init = proc_init(a);
	if (!init || init->state == PROC_EXITED || init->state == PROC_PREPARING)
		return kv_err_set(err, init ? ESRCH : ENOENT, "the container is %s",
				  init ? "not running" : "not created");
	char path[64];
	for (int i = 0; i < 5; i++) {
		snprintf(path, sizeof(path), "/proc/%d/ns/%s", init->pid,
			 i < 4 ? ns_names[i] : "pid");
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return kv_err_sys(err, errno, "open %s", path);
		if (i < 4)
			nsfd[i] = fd;
		else
			*pidns = fd;
	}
	return 0;
}

static void close_fds(int *fds, int n, int keep)
{
	for (int i = 0; i < n; i++)
		if (fds[i] >= 0 && fds[i] != keep)
			close(fds[i]);
}

struct spawn_fds {
	int stdio[3], console, sv[2], nsfd[4], pidns;
};

static void spawn_fds_close(struct agent *a, struct spawn_fds *f)
{
	close_fds(f->stdio, 3, a->devnull);
	close_fds(&f->console, 1, -1);
	close_fds(f->sv, 2, -1);
	close_fds(f->nsfd, 4, -1);
	close_fds(&f->pidns, 1, -1);
}

static int spawn(struct agent *a, uint32_t id, uint16_t type, const struct agent_create *c,
		 const struct agent_process *pr, struct kv_err *err)
{
	struct spawn_fds f = {{-1, -1, -1}, -1, {-1, -1}, {-1, -1, -1, -1}, -1};
	unsigned idx;
	struct proc *p = proc_alloc(a, &idx);
	if (!p)
		return kv_err_set(err, EAGAIN, "more than %d processes", AGENT_PROC_SLOTS);
	int r = c ? 0 : open_init_ns(a, f.nsfd, &f.pidns, err);
	if (r >= 0)
		r = stdio_connect(a, pr, f.stdio, &f.console, err);
	if (r >= 0 && socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, f.sv) < 0)
		r = kv_err_sys(err, errno, "socketpair");
	bool new_pidns = c && ((c->namespaces ? c->namespaces : DEFAULT_NS) & CLONE_NEWPID);
	pid_t pid = r < 0 ? r : fork_into(a, f.pidns, new_pidns, err);
	if (pid == 0) {
		struct child_args ca = {c,
					pr,
					f.sv[1],
					{f.stdio[0], f.stdio[1], f.stdio[2]},
					{f.nsfd[0], f.nsfd[1], f.nsfd[2], f.nsfd[3]},
					a->cap_last};
		child_main(&ca);
	}
	if (pid < 0) {
		spawn_fds_close(a, &f);
		return pid;
	}
	join_cgroup(a, pid);
	*p = (struct proc){.state = PROC_PREPARING,
			   .pid = pid,
			   .is_init = c != NULL,
			   .sync = f.sv[0],
			   .console = f.console,
			   .pending_type = type,
			   .pending_id = id,
			   .pending = true};
	f.sv[0] = f.console = -1;
	spawn_fds_close(a, &f);
	fcntl(p->sync, F_SETFL, O_NONBLOCK);
	if (write(p->sync, &(char){SYNC_GO}, 1) != 1 ||
	    agent_epoll_set(a, p->sync, EPOLLIN, TOKEN(TOK_SYNC, idx), true) < 0)
		agent_log("process %d: sync socket: %s", pid, strerror(errno));
	return 0;
}

int proc_create(struct agent *a, uint32_t id, const struct agent_create *c, struct kv_err *err)
{
	if (proc_init(a))
		return kv_err_set(err, EEXIST, "a container already exists in this guest");
	uint32_t ns = c->namespaces ? c->namespaces : DEFAULT_NS;
	if (!(ns & CLONE_NEWNS))
		return kv_err_set(err, EINVAL, "a container needs its own mount namespace");
	if (ns & CLONE_NEWUSER)
		return kv_err_set(err, EOPNOTSUPP,
				  "user namespaces are not supported in the guest");
	/* the VM's network stack is the container's: configure it first */
	int r = net_configure(c->nets, c->nnets, err);
	if (r < 0)
		return r;
	return spawn(a, id, AGENT_CREATE, c, &c->process, err);
}

int proc_exec(struct agent *a, uint32_t id, const struct agent_process *pr, struct kv_err *err)
{
	return spawn(a, id, AGENT_EXEC, NULL, pr, err);
}

int proc_start(struct agent *a, uint32_t id, struct kv_err *err)
{
	struct proc *p = proc_init(a);
	if (!p)
		return kv_err_set(err, ENOENT, "no container to start");
	if (p->state != PROC_CREATED || p->sync < 0)
		return kv_err_set(err, EBUSY, "the container is not in the created state");
	if (write(p->sync, &(char){SYNC_START}, 1) != 1)
		return kv_err_sys(err, errno, "releasing the container process");
	p->state = PROC_STARTING;
	p->pending = true;
	p->pending_type = AGENT_START;
	p->pending_id = id;
	return 0;
}

/* One message from a child; false when there is no more to read. */
static bool sync_one(struct agent *a, unsigned idx)
{
	struct proc *p = &a->procs[idx];
	struct sync_msg m = {0};
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {&m, sizeof(m)};
	struct msghdr mh = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
	ssize_t n = recvmsg(p->sync, &mh, MSG_CMSG_CLOEXEC);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return false;
	int fd = -1;
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	if (n > 0 && cm && cm->cmsg_type == SCM_RIGHTS && cm->cmsg_len == CMSG_LEN(sizeof(int)))
		memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	if (n <= 0) { /* EOF: exec'd (close-on-exec), or died */
		close(p->sync);
		p->sync = -1;
		if (p->state == PROC_STARTING) {
			p->state = PROC_RUNNING;
			p->reported = true;
			answer_pending(a, p, 0, NULL);
		} else {
			answer_pending(a, p, EIO, "the process ended during set-up");
		}
		return false;
	}
	m.msg[sizeof(m.msg) - 1] = '\0';
	if (m.kind == SYNC_ERROR || (size_t)n != sizeof(m)) {
		answer_pending(a, p, m.errnum > 0 ? m.errnum : EIO, m.msg);
	} else if (p->state == PROC_PREPARING) {
		if (fd >= 0 && relay_start(a, idx, fd, p->console) == 0)
			fd = p->console = -1;
		if (p->is_init) {
			p->state = PROC_CREATED;
			p->reported = true;
			answer_pending(a, p, 0, NULL);
		} else if (write(p->sync, &(char){SYNC_START}, 1) == 1) {
			p->state = PROC_STARTING;
		}
	}
	if (fd >= 0)
		close(fd);
	return true;
}

void proc_sync_ready(struct agent *a, unsigned idx)
{
	if (idx >= AGENT_PROC_SLOTS)
		return;
	while (a->procs[idx].sync >= 0 && sync_one(a, idx))
		;
}

static void fill_exit(struct agent_exit *e, pid_t pid, int st)
{
	e->pid = (uint32_t)pid;
	if (WIFSIGNALED(st)) {
		e->signal = (uint32_t)WTERMSIG(st);
		e->code = 128 + e->signal;
		e->core = WCOREDUMP(st);
	} else {
		e->code = (uint32_t)WEXITSTATUS(st);
	}
}

static void exited(struct agent *a, struct proc *p, int st)
{
	unsigned idx = (unsigned)(p - a->procs);
	proc_sync_ready(a, idx); /* a last SYNC_ERROR may be waiting */
	fill_exit(&p->exit, p->pid, st);
	p->state = PROC_EXITED;
	p->seq = ++a->seq;
	answer_pending(a, p, EIO, "the process ended during set-up");
	if (!p->reported) {
		proc_release(a, p);
		return;
	}
	struct agent_msg m;
	agent_msg_init(&m, AGENT_EXIT, AGENT_F_EVENT, 0);
	m.u.exit = p->exit;
	agent_send(a, &m);
	for (unsigned i = 0; i < p->nwaiters; i++) {
		agent_msg_init(&m, AGENT_WAIT, AGENT_F_REPLY, p->waiters[i]);
		m.u.exit = p->exit;
		agent_send(a, &m);
	}
	p->nwaiters = 0;
}

void proc_reap(struct agent *a)
{
	int st;
	pid_t pid;
	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		struct proc *p = proc_find(a, pid);
		if (p && p->state != PROC_EXITED) {
			exited(a, p, st);
		} else if (pid == a->selftest_pid) {
			agent_log("self-test host ended (status %#x)", st);
			a->selftest_pid = 0;
		}
	}
}

int proc_wait(struct agent *a, uint32_t id, uint32_t pid, struct kv_err *err)
{
	struct proc *p = proc_find(a, (pid_t)pid);
	if (!p || !p->reported)
		return kv_err_set(err, ESRCH, "no process %u", pid);
	if (p->state == PROC_EXITED) {
		struct agent_msg m;
		agent_msg_init(&m, AGENT_WAIT, AGENT_F_REPLY, id);
		m.u.exit = p->exit;
		agent_send(a, &m);
		return 0;
	}
	if (p->nwaiters == AGENT_MAX_WAITERS)
		return kv_err_set(err, EBUSY, "too many WAITs on process %u", pid);
	p->waiters[p->nwaiters++] = id;
	return 0;
}

static ino_t pidns_of(pid_t pid)
{
	char path[64];
	struct stat st;
	snprintf(path, sizeof(path), "/proc/%d/ns/pid", pid);
	return stat(path, &st) < 0 ? 0 : st.st_ino;
}

bool proc_in_container(struct agent *a, pid_t pid)
{
	struct proc *init = proc_init(a);
	if (!init || init->state == PROC_EXITED)
		return false;
	ino_t ns = pidns_of(init->pid);
	return ns && pidns_of(pid) == ns && ns != pidns_of(getpid());
}

static int signal_all(struct agent *a, int sig)
{
	cleanup_close int fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d)
		return -errno;
	fd = -1;
	struct dirent *e;
	while ((e = readdir(d))) {
		pid_t pid = (pid_t)atoi(e->d_name);
		if (pid > 1 && proc_in_container(a, pid))
			kill(pid, sig);
	}
	closedir(d);
	return 0;
}

int proc_signal(struct agent *a, const struct agent_signal *s, struct kv_err *err)
{
	struct proc *init = proc_init(a);
	if (!init)
		return kv_err_set(err, ENOENT, "no container");
	if (init->state == PROC_EXITED)
		return kv_err_set(err, ESRCH, "the container has exited");
	if (s->all) {
		int r = signal_all(a, (int)s->signo);
		return r < 0 ? kv_err_sys(err, -r, "listing /proc") : 0;
	}
	pid_t pid = s->pid ? (pid_t)s->pid : init->pid;
	if (s->pid && !proc_in_container(a, pid))
		return kv_err_set(err, ESRCH, "no process %u in the container", s->pid);
	if (kill(pid, (int)s->signo) < 0)
		return kv_err_sys(err, errno, "kill %d %u", pid, s->signo);
	return 0;
}

int proc_resize(struct agent *a, const struct agent_resize *r, struct kv_err *err)
{
	struct proc *p = proc_find(a, (pid_t)r->pid);
	if (!p || !p->relay)
		return kv_err_set(err, ENOTTY, "process %u has no terminal", r->pid);
	struct winsize ws = {.ws_row = (unsigned short)r->rows, .ws_col = (unsigned short)r->cols};
	if (ioctl(p->relay->master, TIOCSWINSZ, &ws) < 0)
		return kv_err_sys(err, errno, "TIOCSWINSZ");
	return 0;
}

/* SIGKILL to every process we started (the init's death takes its pid
 * namespace with it), then reap for up to a second. */
void proc_kill_all(struct agent *a)
{
	bool any = false;
	for (unsigned i = 0; i < AGENT_PROC_SLOTS; i++) {
		struct proc *p = &a->procs[i];
		if (p->state != PROC_FREE && p->state != PROC_EXITED) {
			kill(p->pid, SIGKILL);
			any = true;
		}
	}
	for (int i = 0; any && i < 100; i++) {
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		if (waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD)
			break;
		nanosleep(&(struct timespec){0, 10 * 1000000}, NULL);
	}
}
