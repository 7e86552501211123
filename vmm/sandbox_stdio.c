/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Stdio of the container's processes (see vmm/sandbox.h).
 *
 * Without a terminal, each stdio fd create/exec gave us that is not
 * /dev/null gets a vsock port; the agent connects it before the process
 * starts and hands the stream to the process as its fd 0/1/2.  One thread
 * per stream copies host fd -> stream (stdin) or stream -> host fd
 * (stdout, stderr), 64 KiB at a time: a slow reader on the host blocks the
 * thread, the stream's socket fills, the vsock device stops giving the
 * guest credit, and the writer in the guest blocks.  Nothing is dropped
 * and nothing buffers without bound.  EOF on the host's stdin shuts the
 * stream down for writing, which the process reads as EOF.
 *
 * With a terminal, a host pty is made here (in the jail's own devpts,
 * vmm/sandbox_jail.c); its master goes to the console socket (SCM_RIGHTS,
 * with the pty's name as the payload, as runc does) over a connection
 * made before the jail: by the sandbox for create's --console-socket, by
 * `kvbox exec` for its own (an fd in the exec request) and the slave, in raw mode, is relayed to
 * one vsock stream to the guest pty.  A 250 ms tick compares the pty's window size with what the
 * guest was last told and sends RESIZE on a change.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "vmm/sandbox.h"

#define RELAY_CHUNK 65536
#define PIPE_CHUNK  4096 /* POLLOUT on a pipe promises PIPE_BUF bytes */
#define TICK_MS	    250

uint32_t sb_port(int slot, int stream)
{
	return SANDBOX_PORT_BASE + 4u * (uint32_t)slot + (uint32_t)stream;
}

int sb_proc_alloc(struct sandbox *sb, bool is_init)
{
	for (int i = 0; i < SANDBOX_MAX_PROCS; i++) {
		struct sb_proc *p = &sb->procs[i];
		if (p->used)
			continue;
		memset(p, 0, sizeof(*p));
		p->used = true;
		p->is_init = is_init;
		p->client = -1;
		p->pty_master = p->pty_slave = -1;
		for (int k = 0; k < 3; k++)
			p->host_fd[k] = -1;
		for (int k = 0; k < STREAM_COUNT; k++)
			p->vsock[k] = -1;
		for (int k = 0; k < 4; k++)
			p->relay[k].cancel = p->relay[k].in = p->relay[k].out = -1;
		return i;
	}
	return -1;
}

static void relay_stop(struct relay *r)
{
	if (!r->started)
		return;
	uint64_t one = 1;
	if (write(r->cancel, &one, sizeof(one)) < 0) {
		/* an eventfd write fails only on overflow: it is set already */
	}
	pthread_join(r->thread, NULL);
	r->started = false;
}

void sb_proc_free(struct sandbox *sb, int slot)
{
	struct sb_proc *p = &sb->procs[slot];
	if (!p->used)
		return;
	for (int k = 0; k < 4; k++) {
		relay_stop(&p->relay[k]);
		if (p->relay[k].cancel >= 0)
			close(p->relay[k].cancel);
	}
	for (int k = 0; k < STREAM_COUNT; k++) {
		if (p->listening[k])
			virtio_vsock_unlisten(&sb->vm->virtio.vsock, sb_port(slot, k));
		if (p->vsock[k] >= 0)
			close(p->vsock[k]);
	}
	for (int k = 0; k < 3; k++)
		if (p->host_fd[k] >= 0)
			close(p->host_fd[k]);
	if (p->pty_master >= 0)
		close(p->pty_master);
	if (p->pty_slave >= 0)
		close(p->pty_slave);
	p->used = false;
}

/* ---- relay threads ---- */

/* Waits for fd to be ready for `events`; false when cancelled. */
static bool wait_fd(int fd, short events, int cancel)
{
	struct pollfd p[2] = {{.fd = fd, .events = events}, {.fd = cancel, .events = POLLIN}};
	for (;;) {
		int n = poll(p, 2, -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || p[1].revents)
			return false;
		if (p[0].revents)
			return true;
	}
}

static bool write_all(struct relay *r, const uint8_t *buf, size_t len)
{
	/* the host's fds may be blocking and shared with our caller (we must
	 * not change their flags): write at most what POLLOUT promised */
	size_t chunk = r->out_is_vsock ? len : PIPE_CHUNK;
	while (len) {
		__atomic_store_n(&r->host_wait, true, __ATOMIC_RELAXED);
		bool ready = wait_fd(r->out, POLLOUT, r->cancel);
		__atomic_store_n(&r->host_wait, false, __ATOMIC_RELAXED);
		if (!ready)
			return false;
		ssize_t n = write(r->out, buf, len < chunk ? len : chunk);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return false;
		}
		buf += n;
		len -= (size_t)n;
		__atomic_add_fetch(&r->bytes, (uint64_t)n, __ATOMIC_RELAXED);
	}
	return true;
}

static void *relay_main(void *arg)
{
	struct relay *r = arg;
	uint8_t *buf = malloc(RELAY_CHUNK);
	while (buf && wait_fd(r->in, POLLIN, r->cancel)) {
		ssize_t n = read(r->in, buf, RELAY_CHUNK);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0 || !write_all(r, buf, (size_t)n))
			break; /* EOF, EIO from a pty whose other side is gone, EPIPE */
	}
	free(buf);
	if (r->out_is_vsock)
		shutdown(r->out, SHUT_WR);
	__atomic_store_n(&r->done, true, __ATOMIC_RELEASE);
	uint64_t one = 1;
	if (write(r->sb->wake_fd, &one, sizeof(one)) < 0) {
		/* overflow only: the loop is awake anyway */
	}
	return NULL;
}

static int relay_run(struct sandbox *sb, struct relay *r, int in, int out, bool out_is_vsock,
		     struct kv_err *err)
{
	r->sb = sb;
	r->in = in;
	r->out = out;
	r->out_is_vsock = out_is_vsock;
	r->done = false;
	if (r->cancel < 0)
		r->cancel = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (r->cancel < 0)
		return kv_err_sys(err, errno, "stdio relay: eventfd");
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	int e = pthread_create(&r->thread, NULL, relay_main, r);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e)
		return kv_err_sys(err, e, "stdio relay: pthread_create");
	r->started = true;
	return 0;
}

/* ---- the agent connecting our ports ---- */

void sb_stdio_accept(void *ctx, int fd, uint32_t host_port, uint32_t guest_port)
{
	struct sandbox *sb = ctx;
	struct kv_err err = {0};
	(void)guest_port;
	uint32_t off = host_port - SANDBOX_PORT_BASE;
	int slot = (int)(off / 4), stream = (int)(off % 4);
	struct sb_proc *p = slot < SANDBOX_MAX_PROCS ? &sb->procs[slot] : NULL;
	if (!p || !p->used || p->vsock[stream] >= 0) {
		close(fd);
		return;
	}
	/* one connection per port */
	virtio_vsock_unlisten(&sb->vm->virtio.vsock, host_port);
	p->listening[stream] = false;
	p->vsock[stream] = fd;
	int r = 0;
	switch (stream) {
	case STREAM_STDIN:
		r = relay_run(sb, &p->relay[0], p->host_fd[0], fd, true, &err);
		break;
	case STREAM_STDOUT:
	case STREAM_STDERR:
		r = relay_run(sb, &p->relay[stream], fd, p->host_fd[stream], false, &err);
		break;
	case STREAM_CONSOLE:
		/* relay[1]: guest pty -> host pty (output); relay[0]: input */
		r = relay_run(sb, &p->relay[1], fd, p->pty_slave, false, &err);
		if (r == 0)
			r = relay_run(sb, &p->relay[0], p->pty_slave, fd, true, &err);
		break;
	}
	if (r < 0)
		sb_log(sb, "error", "%s", err.msg);
}

/* ---- set-up ---- */

static bool is_dev_null(int fd)
{
	struct stat st;
	return fstat(fd, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3);
}

static int listen_port(struct sandbox *sb, int slot, int stream, struct kv_err *err)
{
	int r = virtio_vsock_listen(&sb->vm->virtio.vsock, sb_port(slot, stream), sb_stdio_accept,
				    sb, err);
	if (r == 0)
		sb->procs[slot].listening[stream] = true;
	return r;
}

/* runc's console socket protocol: one message, the pty's name as data and
 * the master as SCM_RIGHTS, on a connection made before (the jail reaches
 * no socket path). */
static int send_master(int sock, const char *what, int master, const char *name, struct kv_err *err)
{
	struct iovec iov = {.iov_base = (void *)name, .iov_len = strlen(name)};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	memset(&u, 0, sizeof(u));
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = u.buf,
			    .msg_controllen = sizeof(u.buf)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &master, sizeof(int));
	if (sendmsg(sock, &mh, MSG_NOSIGNAL) < 0)
		return kv_err_sys(err, errno, "--console-socket %s: sending the pty", what);
	return 0;
}

static int make_pty(struct sandbox *sb, struct sb_proc *p, int console_fd, const char *console_name,
		    struct agent_process *ap, struct kv_err *err)
{
	if (console_fd < 0)
		return kv_err_set(err, EINVAL,
				  "process.terminal is true: --console-socket is required");
	p->pty_master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (p->pty_master < 0)
		return kv_err_sys(err, errno, "posix_openpt");
	char name[64];
	if (grantpt(p->pty_master) < 0 || unlockpt(p->pty_master) < 0 ||
	    ptsname_r(p->pty_master, name, sizeof(name)) != 0)
		return kv_err_sys(err, errno, "setting up the pty");
	/* the peer of this master, whatever path it has (Linux 4.13) */
	p->pty_slave = ioctl(p->pty_master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (p->pty_slave < 0)
		p->pty_slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (p->pty_slave < 0)
		return kv_err_sys(err, errno, "opening %s", name);
	struct termios t;
	if (tcgetattr(p->pty_slave, &t) == 0) {
		cfmakeraw(&t); /* the guest pty does the line discipline */
		tcsetattr(p->pty_slave, TCSANOW, &t);
	}
	if (ap->console_rows && ap->console_cols) {
		struct winsize ws = {.ws_row = (unsigned short)ap->console_rows,
				     .ws_col = (unsigned short)ap->console_cols};
		ioctl(p->pty_slave, TIOCSWINSZ, &ws);
	}
	struct winsize ws;
	if (ioctl(p->pty_slave, TIOCGWINSZ, &ws) == 0) {
		p->ws.rows = ws.ws_row;
		p->ws.cols = ws.ws_col;
		ap->console_rows = ws.ws_row;
		ap->console_cols = ws.ws_col;
	}
	int r = send_master(console_fd, console_name, p->pty_master, name, err);
	if (r < 0)
		return r;
	close(p->pty_master);
	p->pty_master = -1;
	p->terminal = true;
	sb_tick_arm(sb, true);
	return 0;
}

int sb_stdio_setup(struct sandbox *sb, int slot, const int fds[3], int console_fd,
		   const char *console_name, struct agent_process *ap, struct kv_err *err)
{
	struct sb_proc *p = &sb->procs[slot];
	ap->stdin_port = ap->stdout_port = ap->stderr_port = ap->console_port = AGENT_NO_PORT;
	if (ap->terminal) {
		int r = make_pty(sb, p, console_fd, console_name, ap, err);
		if (r < 0)
			return r;
		if ((r = listen_port(sb, slot, STREAM_CONSOLE, err)) < 0)
			return r;
		ap->console_port = sb_port(slot, STREAM_CONSOLE);
		return 0;
	}
	uint32_t *ports[3] = {&ap->stdin_port, &ap->stdout_port, &ap->stderr_port};
	for (int k = 0; k < 3; k++) {
		if (fds[k] < 0 || is_dev_null(fds[k]))
			continue;
		p->host_fd[k] = fcntl(fds[k], F_DUPFD_CLOEXEC, 3);
		if (p->host_fd[k] < 0)
			return kv_err_sys(err, errno, "stdio fd %d", k);
		int r = listen_port(sb, slot, k, err);
		if (r < 0)
			return r;
		*ports[k] = sb_port(slot, k);
	}
	return 0;
}

/* ---- draining and the tick ---- */

/* Drained: every output stream of the exited process reached EOF.  The
 * wait is bounded by exit_deadline_ms, which each check moves
 * SANDBOX_DRAIN_MS ahead while a stream still makes progress (bytes
 * copied since the last check) or waits on the host reader: only a
 * stream the guest keeps open without writing is cut short. */
bool sb_stdio_drained(struct sandbox *sb, int slot)
{
	struct sb_proc *p = &sb->procs[slot];
	uint64_t now = sb_now_ms();
	bool open = false;
	/* output relays: stdout, stderr, or the console's guest -> host */
	for (int k = 1; k <= 2; k++) {
		struct relay *r = &p->relay[k];
		bool expected = p->terminal ? k == 1 : p->host_fd[k] >= 0;
		if (!expected)
			continue;
		/* the agent never connected (the process failed early): done */
		if (!r->started && !p->listening[p->terminal ? STREAM_CONSOLE : k])
			continue;
		if (r->started && __atomic_load_n(&r->done, __ATOMIC_ACQUIRE))
			continue;
		open = true;
		if (!r->started)
			continue;
		uint64_t b = __atomic_load_n(&r->bytes, __ATOMIC_RELAXED);
		if (b != r->seen || __atomic_load_n(&r->host_wait, __ATOMIC_RELAXED)) {
			r->seen = b;
			if (p->exit_deadline_ms)
				p->exit_deadline_ms = now + SANDBOX_DRAIN_MS;
		}
	}
	return !open || (p->exit_deadline_ms && now >= p->exit_deadline_ms);
}

static void resize_done(struct sandbox *sb, void *ctx, const struct agent_msg *reply,
			const struct kv_err *err)
{
	(void)ctx;
	(void)reply;
	if (err && sb->debug)
		sb_log(sb, "debug", "RESIZE: %s", err->msg);
}

/* The tick runs only while someone needs it: a live terminal (window
 * size) or an exited process whose output is still draining (deadline),
 * so an idle container costs no wake-ups. */
void sb_tick_arm(struct sandbox *sb, bool on)
{
	if (sb->tick_fd < 0 || sb->tick_on == on)
		return;
	struct itimerspec its = {0};
	if (on)
		its.it_interval.tv_nsec = its.it_value.tv_nsec = TICK_MS * 1000000L;
	if (timerfd_settime(sb->tick_fd, 0, &its, NULL) == 0)
		sb->tick_on = on;
}

void sb_stdio_tick(struct sandbox *sb)
{
	bool needed = false;
	for (int i = 0; i < SANDBOX_MAX_PROCS; i++) {
		struct sb_proc *p = &sb->procs[i];
		if (p->used && (p->exited || p->terminal))
			needed = true;
		if (!p->used || !p->terminal || p->exited || !p->pid || p->pty_slave < 0)
			continue;
		struct winsize ws;
		if (ioctl(p->pty_slave, TIOCGWINSZ, &ws) < 0)
			continue;
		if (ws.ws_row == p->ws.rows && ws.ws_col == p->ws.cols)
			continue;
		p->ws.rows = ws.ws_row;
		p->ws.cols = ws.ws_col;
		struct agent_msg m;
		struct kv_err err = {0};
		agent_msg_init(&m, AGENT_RESIZE, 0, 0);
		m.u.resize.pid = p->pid;
		m.u.resize.rows = ws.ws_row;
		m.u.resize.cols = ws.ws_col;
		sb_agent_request(sb, &m, resize_done, NULL, &err);
	}
	sb_check_exits(sb);
	if (!needed)
		sb_tick_arm(sb, false);
}

static void on_wake(void *ctx, int fd, uint32_t events)
{
	struct sandbox *sb = ctx;
	uint64_t n;
	(void)events;
	if (read(fd, &n, sizeof(n)) < 0) {
		/* EAGAIN: a spurious wake-up */
	}
	sb_check_exits(sb);
}

static void on_tick(void *ctx, int fd, uint32_t events)
{
	struct sandbox *sb = ctx;
	uint64_t n;
	(void)events;
	if (read(fd, &n, sizeof(n)) < 0)
		return;
	sb_stdio_tick(sb);
}

/* The init's terminal: connect now, send the master after HELLO. */
static int console_connect(struct sandbox *sb, struct kv_err *err)
{
	const char *path = sb->console_socket;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa.sun_path))
		return kv_err_set(err, ENAMETOOLONG, "--console-socket %s: path too long", path);
	strcpy(sa.sun_path, path);
	sb->console_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (sb->console_fd < 0)
		return kv_err_sys(err, errno, "console socket");
	if (connect(sb->console_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return kv_err_sys(err, errno, "--console-socket %s: connect", path);
	return 0;
}

int sb_stdio_start(struct sandbox *sb, struct kv_err *err)
{
	if (sb->wake_fd >= 0)
		return 0; /* a checkpoint's restore started it early */
	if (sb->create.process.terminal && sb->console_socket) {
		int r = console_connect(sb, err);
		if (r < 0)
			return r;
	}
	sb->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	sb->tick_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (sb->wake_fd < 0 || sb->tick_fd < 0)
		return kv_err_sys(err, errno, "sandbox: eventfd/timerfd");
	int r = fd_handlers_add(&sb->vm->handlers, sb->wake_fd, EPOLLIN, on_wake, sb, "relay wake",
				err);
	if (r == 0)
		r = fd_handlers_add(&sb->vm->handlers, sb->tick_fd, EPOLLIN, on_tick, sb, "tick",
				    err);
	return r;
}

void sb_stdio_cancel_all(struct sandbox *sb)
{
	for (int i = 0; i < SANDBOX_MAX_PROCS; i++)
		if (sb->procs[i].used)
			sb_proc_free(sb, i);
}
