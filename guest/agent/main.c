/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kvbox-agent main: PID 1 of the guest.
 *
 * Start-up: the agent's own mounts (/proc, /sys, /dev, /dev/pts, /run,
 * cgroup2), loopback, all signals blocked and read from a signalfd (tini
 * style: nothing runs in a signal handler), then the control channel: a
 * vsock stream to the host (kvbox.agent_cid=, default 2) on the port of
 * kvbox.agent_port=, and HELLO.  With kvbox.agent_test=1 a stand-in host
 * (selftest.c) is forked first and the agent talks to it over vsock
 * loopback (CID 1), so the whole path runs in a real guest with no host
 * side.
 *
 * The loop: one epoll set with enum tokens (agent.h).  A request frame is
 * decoded by guest/protocol.c and dispatched below; CREATE, START and EXEC
 * are answered later, when the child reports on its sync socket
 * (process.c).  SIGCHLD reaps every child with waitpid(-1, WNOHANG) until
 * none are left and turns each container process's end into an EXIT event.
 * SHUTDOWN, the control channel closing, or a broken frame power the guest
 * off after killing the container.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/reboot.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "guest/agent/agent.h"
#include "util/caps.h"

#define CONNECT_TIMEOUT_MS 10000

void agent_log(const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	/* one write per line, so lines from the agent and the self-test
	 * host do not interleave mid-line on the console */
	dprintf(STDERR_FILENO, "%s%.*s", AGENT_LOG_PREFIX, n, line);
}

uint64_t agent_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int agent_epoll_set(struct agent *a, int fd, uint32_t events, uint64_t token, bool add)
{
	struct epoll_event ev = {.events = events, .data.u64 = token};
	if (epoll_ctl(a->epfd, add ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, fd, &ev) < 0)
		return -errno;
	return 0;
}

static void chan_update_interest(struct agent *a)
{
	if (a->chan.fd >= 0)
		agent_epoll_set(a, a->chan.fd, EPOLLIN | (a->chan.wlen ? EPOLLOUT : 0),
				TOKEN(TOK_CHAN, 0), false);
}

void agent_send(struct agent *a, struct agent_msg *m)
{
	uint8_t *buf = NULL;
	long n = agent_msg_encode_alloc(m, &buf);
	if (n < 0) {
		agent_log("cannot encode %s: %s", agent_type_name(m->hdr.type), strerror((int)-n));
		if (m->hdr.flags & AGENT_F_REPLY)
			agent_send_error(a, m->hdr.id, EMSGSIZE, "reply does not fit in a frame");
		return;
	}
	if (a->chan.fd >= 0 && chan_queue(&a->chan, buf, (size_t)n) < 0)
		agent_log("control channel: output queue full, %s dropped",
			  agent_type_name(m->hdr.type));
	free(buf);
	chan_update_interest(a);
}

void agent_send_error(struct agent *a, uint32_t id, int errnum, const char *msg)
{
	uint8_t buf[8192];
	long n = agent_error_encode(id, errnum, msg, buf, sizeof(buf));
	if (n > 0 && a->chan.fd >= 0)
		chan_queue(&a->chan, buf, (size_t)n);
	chan_update_interest(a);
}

static void reply_empty(struct agent *a, const struct agent_hdr *h)
{
	struct agent_msg r;
	agent_msg_init(&r, h->type, AGENT_F_REPLY, h->id);
	agent_send(a, &r);
}

__attribute__((noreturn)) static void power_off(struct agent *a, const char *why)
{
	agent_log("powering off: %s", why);
	proc_kill_all(a);
	chan_drain(&a->chan, 1000);
	sync();
	reboot(RB_POWER_OFF);
	/* not PID 1 (a test run on a host): just end */
	_exit(0);
}

/* Handles one request; returns a negative errno (with err) to answer it
 * with an ERROR, 0 when it was answered or will be. */
static int dispatch(struct agent *a, struct agent_msg *m, struct kv_err *err)
{
	const struct agent_hdr *h = &m->hdr;
	struct agent_msg r;
	int ret;

	switch (h->type) {
	case AGENT_CREATE:
		a->created = true;
		return proc_create(a, h->id, &m->u.create, err);
	case AGENT_START:
		return proc_start(a, h->id, err);
	case AGENT_EXEC:
		return proc_exec(a, h->id, &m->u.exec.process, err);
	case AGENT_SIGNAL:
		ret = proc_signal(a, &m->u.signal, err);
		break;
	case AGENT_WAIT:
		return proc_wait(a, h->id, m->u.wait.pid, err);
	case AGENT_RESIZE:
		ret = proc_resize(a, &m->u.resize, err);
		break;
	case AGENT_PS:
		agent_msg_init(&r, AGENT_PS, AGENT_F_REPLY, h->id);
		ret = info_ps(a, &r, err);
		if (ret == 0)
			agent_send(a, &r);
		free(r.u.ps.procs);
		return ret;
	case AGENT_STATS:
		agent_msg_init(&r, AGENT_STATS, AGENT_F_REPLY, h->id);
		ret = info_stats(a, &r.u.stats, err);
		if (ret == 0)
			agent_send(a, &r);
		return ret;
	case AGENT_UPDATE:
		ret = info_update(a, &m->u.update, err);
		break;
	case AGENT_PARK:
		return park_request(a, h->id, err); /* answered by park_now() */
	case AGENT_RESUME:
		ret = resume_request(a, &m->u.resume, err);
		break;
	case AGENT_SHUTDOWN:
		/* the reply means "nothing of the container is left and its
		 * writes are on the host": the host may stop the VM on it
		 * without waiting for the kernel's own power-off */
		proc_kill_all(a);
		sync();
		reply_empty(a, h);
		power_off(a, "SHUTDOWN from the host");
	default:
		return kv_err_set(err, EOPNOTSUPP, "%s is not a request", agent_type_name(h->type));
	}
	if (ret == 0)
		reply_empty(a, h);
	return ret;
}

static void on_frame(void *ctx, const uint8_t *frame, size_t len)
{
	struct agent *a = ctx;
	struct agent_msg m;
	struct kv_err err = {0};

	int r = agent_msg_decode(frame, len, &m);
	if (r == 0 && m.hdr.flags != 0)
		r = kv_err_set(&err, EBADMSG, "%s: the agent takes requests, not replies",
			       agent_type_name(m.hdr.type));
	else if (r < 0)
		kv_err_set(&err, -r, "malformed %s request: %s", agent_type_name(m.hdr.type),
			   strerror(-r));
	if (r == 0) {
		if (a->cfg.debug)
			agent_log("request %s id %u", agent_type_name(m.hdr.type), m.hdr.id);
		r = dispatch(a, &m, &err);
	}
	if (r < 0) {
		agent_log("%s id %u: %s", agent_type_name(m.hdr.type), m.hdr.id, err.msg);
		agent_send_error(a, m.hdr.id, -r, err.msg);
	}
	agent_msg_free(&m);
}

static void on_signal(struct agent *a)
{
	struct signalfd_siginfo si;
	while (read(a->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGCHLD:
			proc_reap(a);
			break;
		case SIGPWR:
		case SIGTERM:
			power_off(a, si.ssi_signo == SIGPWR ? "SIGPWR" : "SIGTERM");
		default:
			if (a->cfg.debug)
				agent_log("ignoring signal %u", si.ssi_signo);
			break;
		}
	}
}

static void say_hello(struct agent *a);

static void on_chan(struct agent *a, uint32_t events)
{
	struct kv_err err = {0};
	if (events & EPOLLOUT && chan_flush(&a->chan) < 0)
		power_off(a, "control channel write failed");
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		int r = chan_read(&a->chan, on_frame, a, &err);
		if (r < 0)
			power_off(a, err.msg);
	}
	if (a->park_pending) {
		const char *why = park_now(a);
		if (why)
			power_off(a, why);
		say_hello(a);
	}
	chan_update_interest(a);
}

static void loop(struct agent *a)
{
	struct epoll_event ev[16];
	for (;;) {
		int n = epoll_wait(a->epfd, ev, 16, -1);
		if (n < 0 && errno != EINTR)
			power_off(a, "epoll_wait failed");
		for (int i = 0; i < n; i++) {
			uint64_t t = ev[i].data.u64;
			switch (TOKEN_KIND(t)) {
			case TOK_SIGNAL:
				on_signal(a);
				break;
			case TOK_CHAN:
				on_chan(a, ev[i].events);
				break;
			case TOK_SYNC:
				proc_sync_ready(a, TOKEN_INDEX(t));
				break;
			case TOK_PTY:
			case TOK_PTYSOCK:
				relay_event(a, TOKEN_INDEX(t), TOKEN_KIND(t) == TOK_PTY,
					    ev[i].events);
				break;
			}
		}
	}
}

static int setup_signals(struct agent *a, struct kv_err *err)
{
	sigset_t all;
	sigfillset(&all);
	if (sigprocmask(SIG_BLOCK, &all, NULL) < 0)
		return kv_err_sys(err, errno, "sigprocmask");
	a->sigfd = signalfd(-1, &all, SFD_NONBLOCK | SFD_CLOEXEC);
	if (a->sigfd < 0)
		return kv_err_sys(err, errno, "signalfd");
	return agent_epoll_set(a, a->sigfd, EPOLLIN, TOKEN(TOK_SIGNAL, 0), true);
}

static int start(struct agent *a, struct kv_err *err)
{
	int r = mount_agent_base(err);
	if (r < 0)
		return r;
	if (info_cmdline(&a->cfg, err) < 0)
		return -EINVAL;
	if (net_loopback_up(err) < 0)
		agent_log("%s (continuing)", err->msg);
	a->have_cgroup = access(AGENT_CGROUP, W_OK) == 0;
	a->cap_last = caps_last_cap();
	a->devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	a->self_pidns = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
	if (a->devnull < 0 || a->self_pidns < 0)
		return kv_err_sys(err, errno, "opening /dev/null and /proc/self/ns/pid");
	a->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (a->epfd < 0)
		return kv_err_sys(err, errno, "epoll_create1");
	return setup_signals(a, err);
}

static void say_hello(struct agent *a)
{
	struct agent_msg m;
	char kernel[256];
	info_hello(a, &m, kernel, sizeof(kernel));
	agent_send(a, &m);
}

int main(int argc, char **argv)
{
	static struct agent a;
	struct kv_err err = {0};

	a.start_ns = agent_now_ns();
	a.chan.fd = -1;
	a.sigfd = a.epfd = a.devnull = a.self_pidns = -1;
	if (getpid() != 1) {
		fprintf(stderr, "usage: kvbox-agent is the guest's init (PID 1); see %s\n",
			argc > 0 ? argv[0] : "kvbox-agent");
		return 2;
	}
	if (start(&a, &err) < 0)
		power_off(&a, err.msg);
	agent_log("kvbox-agent %s (protocol %u) up at %llu ms", KVBOX_VERSION, AGENT_PROTO_VERSION,
		  (unsigned long long)(a.start_ns / 1000000));
	if (a.cfg.test)
		a.selftest_pid = selftest_spawn(&a);
	if (!a.cfg.port)
		power_off(&a, "no kvbox.agent_port= on the kernel command line");
	if (chan_open(&a.chan, a.cfg.cid, a.cfg.port, CONNECT_TIMEOUT_MS, &err) < 0)
		power_off(&a, err.msg);
	if (agent_epoll_set(&a, a.chan.fd, EPOLLIN, TOKEN(TOK_CHAN, 0), true) < 0)
		power_off(&a, "epoll_ctl on the control channel");
	say_hello(&a);
	loop(&a);
}
