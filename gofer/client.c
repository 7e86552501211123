/* SPDX-License-Identifier: Apache-2.0 */
/*
 * VMM side of the gofer: spawn, requests, asynchronous reports, shutdown.
 * See client.h for the threading and trust rules.
 */
#include "gofer/client.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/cleanup.h"

#define DEFAULT_TIMEOUT_MS 10000

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- spawning ---- */

struct spawn_argv {
	char *argv[8 + 2 * GOFER_MAX_SHARES];
	char ctl[16], ppid[16];
	char *specs[GOFER_MAX_SHARES];
};

static void spawn_argv_free(struct spawn_argv *a)
{
	for (unsigned i = 0; i < GOFER_MAX_SHARES; i++)
		free(a->specs[i]);
}

/* Everything the child needs is built before fork: after it, only
 * async-signal-safe calls (the VMM has threads). */
static int spawn_argv_build(struct spawn_argv *a, const struct gofer_client_config *cfg,
			    const char *exe, int child_fd)
{
	unsigned n = 0;

	memset(a, 0, sizeof(*a));
	snprintf(a->ctl, sizeof(a->ctl), "%d", child_fd);
	snprintf(a->ppid, sizeof(a->ppid), "%d", (int)getpid());
	a->argv[n++] = (char *)exe;
	a->argv[n++] = (char *)"gofer";
	a->argv[n++] = (char *)"--control-fd";
	a->argv[n++] = a->ctl;
	a->argv[n++] = (char *)"--parent-pid";
	a->argv[n++] = a->ppid;
	if (cfg->lazy_mem)
		a->argv[n++] = (char *)"--lazy-mem";
	for (unsigned i = 0; i < cfg->nshares; i++) {
		const struct gofer_share *s = &cfg->shares[i];
		if (asprintf(&a->specs[i], "%s:%s%s", s->path, s->tag, s->readonly ? ":ro" : "") <
		    0) {
			a->specs[i] = NULL;
			return -ENOMEM;
		}
		a->argv[n++] = (char *)"--share";
		a->argv[n++] = a->specs[i];
	}
	a->argv[n] = NULL;
	return 0;
}

static void child_exec(const char *exe, char **argv, int fd)
{
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* Its own process group: terminal signals are the VMM's to handle;
	 * the gofer ends with the VMM (EOF, SHUTDOWN or PDEATHSIG). */
	setpgid(0, 0);
	if (fcntl(fd, F_SETFD, 0) == 0)
		execv(exe, argv);
	_exit(127);
}

int gofer_client_start(struct gofer_client *c, const struct gofer_client_config *cfg,
		       struct kv_err *err)
{
	const char *exe = cfg->exe ? cfg->exe : "/proc/self/exe";
	struct spawn_argv a;
	int sv[2];

	memset(c, 0, sizeof(*c));
	c->pid = -1;
	c->sock = -1;
	c->fault_fd = -1;
	c->lazy_mem = cfg->lazy_mem;
	c->nshares = cfg->nshares;
	c->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : DEFAULT_TIMEOUT_MS;
	for (unsigned i = 0; i < GOFER_MAX_SHARES; i++)
		c->devs[i].kick_fd = c->devs[i].irq_fd = -1;
	if (cfg->nshares == 0 || cfg->nshares > GOFER_MAX_SHARES)
		return kv_err_set(err, EINVAL, "gofer: %u shares (1 to %d)", cfg->nshares,
				  GOFER_MAX_SHARES);
	_Static_assert(sizeof(c->devs[0].tag) == sizeof(cfg->shares[0].tag), "tag sizes");
	for (unsigned i = 0; i < cfg->nshares; i++) {
		memcpy(c->devs[i].tag, cfg->shares[i].tag, sizeof(c->devs[i].tag));
		c->devs[i].tag[sizeof(c->devs[i].tag) - 1] = '\0';
	}
	int r = pthread_mutex_init(&c->lock, NULL);
	if (r)
		return kv_err_sys(err, r, "gofer: mutex");
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		r = kv_err_sys(err, errno, "gofer: socketpair");
		goto fail_mutex;
	}
	if (spawn_argv_build(&a, cfg, exe, sv[1]) < 0) {
		r = kv_err_set(err, ENOMEM, "gofer: out of memory");
		goto fail_argv;
	}
	pid_t pid = fork();
	if (pid == 0)
		child_exec(exe, a.argv, sv[1]);
	if (pid < 0) {
		r = kv_err_sys(err, errno, "gofer: fork");
		goto fail_argv;
	}
	spawn_argv_free(&a);
	close(sv[1]);
	c->pid = pid;
	c->sock = sv[0];
	return 0;

fail_argv:
	spawn_argv_free(&a);
	close(sv[0]);
	close(sv[1]);
fail_mutex:
	pthread_mutex_destroy(&c->lock);
	return r;
}

/* ---- messages from the gofer ---- */

/* The gofer is no use any more: kill it (it may be stuck or hostile) and
 * fail every device it served.  Called with c->lock held. */
static void gofer_lost(struct gofer_client *c, const char *why)
{
	if (c->dead)
		return;
	c->dead = true;
	if (c->pid > 0)
		kill(c->pid, SIGKILL);
	for (unsigned i = 0; i < c->nshares; i++) {
		c->devs[i].active = false;
		if (c->devs[i].dev)
			virtio_dev_fail(c->devs[i].dev, "gofer: %s", why);
	}
}

static void queue_error(struct gofer_client *c, const struct gofer_msg *m)
{
	struct gofer_client_dev *d = &c->devs[m->dev]; /* dev < nshares: parsed */

	d->active = false;
	if (d->dev)
		virtio_dev_fail(d->dev, "queue 0: %s", virtio_p9_strerror(m->status));
}

/* Reads one message (blocking or not).  1: a REPLY in *reply; 2: a
 * QUEUE_ERROR, handled; 0: nothing queued; <0: the gofer is lost. */
static int read_one(struct gofer_client *c, bool nonblock, struct gofer_msg *reply)
{
	struct gofer_msg m;
	int fds[GOFER_MSG_MAX_FDS];
	int r = gofer_msg_recv(c->sock, nonblock, GOFER_ACCEPT_VMM, c->nshares, &m, fds);

	if (r == -EAGAIN)
		return 0;
	if (r == 0 || r == -ECONNRESET) {
		gofer_lost(c, "exited");
		return -EPIPE;
	}
	if (r < 0) {
		gofer_lost(c, r == -EPROTO ? "malformed control message" : "control socket error");
		return -EPIPE;
	}
	if (m.type == GOFER_MSG_QUEUE_ERROR) {
		queue_error(c, &m);
		return 2;
	}
	if (m.type == GOFER_MSG_FAULTS) {
		/* once, and only when asked for */
		if (!c->lazy_mem || c->fault_fd >= 0) {
			close(fds[0]);
			gofer_lost(c, "userfaultfd not asked for");
			return -EPIPE;
		}
		c->fault_fd = fds[0];
		c->fault_base = m.mem_size;
		return 2;
	}
	*reply = m;
	return 1;
}

int gofer_client_request(struct gofer_client *c, struct gofer_msg *m, const int *fds, unsigned nfds,
			 struct gofer_msg *reply)
{
	struct gofer_msg rep;
	int r;

	pthread_mutex_lock(&c->lock);
	if (c->dead) {
		r = -EPIPE;
		goto out;
	}
	m->seq = ++c->seq;
	r = gofer_msg_send(c->sock, m, fds, nfds);
	if (r < 0) {
		gofer_lost(c, r == -EPIPE || r == -ECONNRESET ? "exited" : "control socket error");
		goto out;
	}
	int64_t deadline = now_ms() + c->timeout_ms;
	for (;;) {
		int64_t left = deadline - now_ms();
		struct pollfd p = {.fd = c->sock, .events = POLLIN};
		if (left <= 0 || (r = poll(&p, 1, (int)left)) == 0) {
			gofer_lost(c, "no answer to a request");
			r = -ETIMEDOUT;
			goto out;
		}
		if (r < 0 && errno == EINTR)
			continue;
		r = read_one(c, true, &rep);
		if (r < 0)
			goto out;
		if (r != 1)
			continue;
		if (rep.seq != m->seq) {
			gofer_lost(c, "reply to a request never made");
			r = -EPIPE;
			goto out;
		}
		if (reply)
			*reply = rep;
		r = rep.status;
		goto out;
	}
out:
	pthread_mutex_unlock(&c->lock);
	return r;
}

int gofer_client_ready(struct gofer_client *c)
{
	struct gofer_msg rep;
	int r = 0;

	pthread_mutex_lock(&c->lock);
	while (!c->dead && (r = read_one(c, true, &rep)) == 2)
		;
	if (r == 1) /* no request is in flight: we hold the lock */
		gofer_lost(c, "reply to a request never made");
	r = c->dead ? -EPIPE : 0;
	pthread_mutex_unlock(&c->lock);
	return r;
}

int gofer_client_fd(const struct gofer_client *c)
{
	return c->sock;
}

/* ---- set-up and the virtio-9p backend ---- */

static int wait_child(struct gofer_client *c, int timeout_ms);

int gofer_client_set_mem(struct gofer_client *c, const struct guest_mem *mem, struct kv_err *err)
{
	struct gofer_msg m;

	if (mem->fd < 0 || mem->nregions == 0 || mem->nregions > GUEST_MEM_MAX_REGIONS)
		return kv_err_set(err, EINVAL, "gofer: guest memory is not a memfd");
	gofer_msg_init(&m, GOFER_MSG_MEM, 0, 0);
	m.nregions = mem->nregions;
	m.mem_size = mem->total;
	memcpy(m.regions, mem->regions, sizeof(m.regions));
	int r = gofer_client_request(c, &m, &mem->fd, 1, NULL);
	if (r == -EPIPE || r == -ETIMEDOUT) {
		/* Dead, or killed by gofer_lost(): say how it ended (a
		 * seccomp violation is SIGSYS). */
		char how[96] = "";
		if (c->pid > 0 && wait_child(c, 2000)) {
			int st = c->exit_status;
			if (WIFSIGNALED(st))
				snprintf(how, sizeof(how), ": killed by signal %d (%s)",
					 WTERMSIG(st), strsignal(WTERMSIG(st)));
			else if (WIFEXITED(st))
				snprintf(how, sizeof(how), ": exit status %d", WEXITSTATUS(st));
		}
		return kv_err_set(err, -r, "gofer did not start%s (see the line above)", how);
	}
	return r ? kv_err_sys(err, -r, "gofer: taking guest memory") : 0;
}

int gofer_client_take_faults(struct gofer_client *c, uint64_t *base)
{
	pthread_mutex_lock(&c->lock);
	int fd = c->fault_fd;
	c->fault_fd = -1;
	*base = c->fault_base;
	pthread_mutex_unlock(&c->lock);
	return fd;
}

void gofer_client_bind(struct gofer_client *c, unsigned idx, struct virtio_dev *dev, int kick_fd,
		       int irq_fd)
{
	if (idx >= c->nshares)
		return;
	pthread_mutex_lock(&c->lock);
	c->devs[idx].dev = dev;
	c->devs[idx].kick_fd = kick_fd;
	c->devs[idx].irq_fd = irq_fd;
	pthread_mutex_unlock(&c->lock);
}

static int backend_activate(void *ctx, unsigned idx, const struct virtq_state *st)
{
	struct gofer_client *c = ctx;
	struct gofer_client_dev *d = &c->devs[idx];
	struct gofer_msg m;

	if (d->kick_fd < 0 || d->irq_fd < 0)
		return -ENODEV; /* no eventfds: the gofer cannot be woken */
	gofer_msg_init(&m, GOFER_MSG_ACTIVATE, 0, idx);
	m.vq = *st;
	int fds[2] = {d->kick_fd, d->irq_fd};
	int r = gofer_client_request(c, &m, fds, 2, NULL);
	if (r == 0)
		d->active = true;
	return r;
}

static void backend_reset(void *ctx, unsigned idx)
{
	struct gofer_client *c = ctx;
	struct gofer_msg m;

	/* Never handed over (Linux resets every device at probe), or
	 * dropped by the gofer before it sent QUEUE_ERROR: nothing to take
	 * back.  A QUEUE_ERROR not read yet leaves `active` set: the round
	 * trip then happens and is harmless. */
	if (!c->devs[idx].active)
		return;
	gofer_msg_init(&m, GOFER_MSG_RESET, 0, idx);
	/* On failure the gofer is dead (killed by gofer_lost): it no longer
	 * touches the queue either way. */
	(void)gofer_client_request(c, &m, NULL, 0, NULL);
	c->devs[idx].active = false;
}

static void backend_kick(void *ctx, unsigned idx)
{
	struct gofer_client *c = ctx;
	uint64_t one = 1;

	if (c->devs[idx].kick_fd >= 0)
		(void)!write(c->devs[idx].kick_fd, &one, sizeof(one));
}

void gofer_client_backend(struct gofer_client *c, unsigned idx, struct virtio_p9_backend *out)
{
	*out = (struct virtio_p9_backend){
	    .activate = backend_activate,
	    .reset = backend_reset,
	    .kick = backend_kick,
	    .ctx = c,
	    .idx = idx,
	};
}

/* ---- checkpoint and restore ---- */

static const char *share_name(const struct gofer_client *c, unsigned idx, char buf[64])
{
	if (c->devs[idx].tag[0])
		snprintf(buf, 64, "share '%s' (9p device %u)", c->devs[idx].tag, idx);
	else
		snprintf(buf, 64, "share %u", idx);
	return buf;
}

/* A queue state from a SAVE reply: zero (not active), or one a queue
 * could have.  The gofer checks it again on ACTIVATE (virtq_import); this
 * keeps a lying gofer's numbers out of the snapshot. */
static bool vq_state_zero(const struct virtq_state *st)
{
	static const struct virtq_state zero;
	return !memcmp(st, &zero, sizeof(zero));
}

static bool vq_state_plausible(const struct virtq_state *st)
{
	if (vq_state_zero(st))
		return true;
	return st->size && !(st->size & (st->size - 1)) && st->size <= st->max_size &&
	       st->max_size <= VQ_SIZE_MAX && st->pad == 0 &&
	       !(st->flags & ~(VQ_STATE_EVENT_IDX | VQ_STATE_INDIRECT));
}

/* A reply no honest gofer sends: it is killed, as for a malformed one. */
static int gofer_lied(struct gofer_client *c, const char *who, const char *what, struct kv_err *err)
{
	pthread_mutex_lock(&c->lock);
	gofer_lost(c, "bad reply to SAVE");
	pthread_mutex_unlock(&c->lock);
	return kv_err_set(err, EPROTO, "gofer: %s: SAVE answered with %s: gofer killed", who, what);
}

static int save_failed(const char *who, int r, uint64_t need, struct kv_err *err)
{
	char why[96];

	switch (r) {
	case -ESTALE:
		snprintf(why, sizeof(why), "a file the container has open was deleted");
		break;
	case -EOPNOTSUPP:
		snprintf(why, sizeof(why), "an extended attribute is being read or written");
		break;
	case -E2BIG:
		snprintf(why, sizeof(why), "too many open files to save (%llu bytes)",
			 (unsigned long long)need);
		break;
	default:
		return kv_err_sys(err, -r, "gofer: %s: cannot save the open files", who);
	}
	return kv_err_set(err, -r, "gofer: %s: cannot save the open files: %s", who, why);
}

int gofer_client_save(struct gofer_client *c, unsigned idx, struct virtq_state *st, int memfd,
		      uint64_t *len, struct kv_err *err)
{
	struct gofer_msg m, rep;
	struct stat sb;
	char who[64];

	memset(st, 0, sizeof(*st));
	*len = 0;
	if (idx >= c->nshares)
		return kv_err_set(err, EINVAL, "gofer: no share %u", idx);
	share_name(c, idx, who);
	gofer_msg_init(&m, GOFER_MSG_SAVE, 0, idx);
	memset(&rep, 0, sizeof(rep));
	int r = gofer_client_request(c, &m, &memfd, 1, &rep);
	if (rep.type != GOFER_MSG_REPLY) /* no answer: the gofer is gone */
		return kv_err_sys(err, -r, "gofer: %s: saving the open files", who);
	/* answered: the queue is set aside, whatever the status */
	c->devs[idx].active = false;
	if (!vq_state_plausible(&rep.vq))
		return gofer_lied(c, who, "an impossible queue state", err);
	*st = rep.vq;
	if (r < 0)
		return save_failed(who, r, rep.mem_size, err);
	if (fstat(memfd, &sb) < 0)
		return kv_err_sys(err, errno, "gofer: %s: saving the open files: memfd", who);
	if (rep.mem_size == 0 || rep.mem_size > GOFER_SAVE_MAX ||
	    rep.mem_size > (uint64_t)sb.st_size)
		return gofer_lied(c, who, "a wrong length", err);
	*len = rep.mem_size;
	return 0;
}

int gofer_client_load(struct gofer_client *c, unsigned idx, int memfd, uint64_t len,
		      struct kv_err *err)
{
	struct gofer_msg m, rep;
	const char *why;
	char who[64];

	if (idx >= c->nshares)
		return kv_err_set(err, EINVAL, "gofer: no share %u", idx);
	share_name(c, idx, who);
	if (len == 0 || len > GOFER_SAVE_MAX)
		return kv_err_set(err, EINVAL, "gofer: %s: a saved session of %llu bytes (1 to %u)",
				  who, (unsigned long long)len, GOFER_SAVE_MAX);
	gofer_msg_init(&m, GOFER_MSG_LOAD, 0, idx);
	m.mem_size = len;
	memset(&rep, 0, sizeof(rep));
	int r = gofer_client_request(c, &m, &memfd, 1, &rep);
	if (r == 0)
		return 0;
	if (rep.type != GOFER_MSG_REPLY)
		return kv_err_sys(err, -r, "gofer: %s: restoring the open files", who);
	/* the gofer's reason, after the session: untrusted text, printable
	 * ASCII kept, the rest dropped */
	char detail[GOFER_LOAD_WHY_MAX];
	ssize_t n = pread(memfd, detail, sizeof(detail) - 1, (off_t)len);
	size_t k = 0;
	for (ssize_t i = 0; i < n && detail[i]; i++)
		if (detail[i] >= 0x20 && detail[i] < 0x7f)
			detail[k++] = detail[i];
	detail[k] = 0;
	if (k)
		return kv_err_set(err, -r, "gofer: %s: cannot restore the open files: %s", who,
				  detail);
	switch (r) {
	case -ENOENT:
		why = "a file the container had open no longer exists";
		break;
	case -ESTALE:
		why = "a file the container had open is another kind of file now";
		break;
	case -EINVAL:
		why = "the saved session is malformed";
		break;
	case -EBUSY:
		why = "the share is in use already";
		break;
	default:
		return kv_err_sys(err, -r, "gofer: %s: cannot restore the open files", who);
	}
	return kv_err_set(err, -r, "gofer: %s: cannot restore the open files: %s", who, why);
}

int gofer_client_resume(struct gofer_client *c, unsigned idx, const struct virtq_state *st,
			struct kv_err *err)
{
	char who[64];

	if (idx >= c->nshares)
		return kv_err_set(err, EINVAL, "gofer: no share %u", idx);
	if (vq_state_zero(st))
		return 0; /* it was not active when saved */
	int r = backend_activate(c, idx, st);
	if (r < 0)
		return kv_err_set(err, r > -VQ_E_BASE ? -r : EINVAL, "gofer: %s: resuming: %s",
				  share_name(c, idx, who), virtio_p9_strerror(r));
	return 0;
}

/* ---- ending ---- */

/* Waits for the child up to timeout_ms; 1 when reaped. */
static int wait_child(struct gofer_client *c, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	int pfd = (int)syscall(SYS_pidfd_open, c->pid, 0);

	for (;;) {
		pid_t w = waitpid(c->pid, &c->exit_status, WNOHANG);
		if (w == c->pid || (w < 0 && errno == ECHILD)) {
			if (pfd >= 0)
				close(pfd);
			c->pid = -1;
			return 1;
		}
		int64_t left = deadline - now_ms();
		if (left <= 0)
			break;
		if (pfd >= 0) {
			struct pollfd p = {.fd = pfd, .events = POLLIN};
			poll(&p, 1, (int)left);
		} else {
			usleep(5000);
		}
	}
	if (pfd >= 0)
		close(pfd);
	return 0;
}

int gofer_client_stop(struct gofer_client *c, int timeout_ms)
{
	if (c->pid <= 0)
		return c->exit_status; /* reaped already (or never started) */
	pthread_mutex_lock(&c->lock);
	if (!c->dead) {
		struct gofer_msg m;
		gofer_msg_init(&m, GOFER_MSG_SHUTDOWN, ++c->seq, 0);
		(void)gofer_msg_send(c->sock, &m, NULL, 0);
		c->dead = true;
	}
	/* EOF also ends it, should SHUTDOWN not get through. */
	if (c->sock >= 0)
		shutdown(c->sock, SHUT_WR);
	pthread_mutex_unlock(&c->lock);
	if (!wait_child(c, timeout_ms)) {
		kill(c->pid, SIGKILL);
		wait_child(c, 5000);
	}
	return c->exit_status;
}

void gofer_client_destroy(struct gofer_client *c)
{
	if (c->pid > 0)
		gofer_client_stop(c, 2000);
	if (c->sock >= 0)
		close(c->sock);
	if (c->fault_fd >= 0)
		close(c->fault_fd);
	c->sock = c->fault_fd = -1;
	pthread_mutex_destroy(&c->lock);
}
