/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The gofer's event loop (after the jail; see gofer.h for start-up).
 *
 * State: one struct gofer_queue per share = one virtio-9p device = one 9P
 * session (its own p9_server and fid table).  One thread, one epoll set:
 *   TOK_CTL     control socket: MEM, ACTIVATE, RESET, SAVE, LOAD,
 *               SHUTDOWN (ctl.h)
 *   TOK_SIGNAL  signalfd: SIGTERM/SIGINT/SIGHUP end the process
 *   TOK_QUEUE+i share i's ioeventfd: the guest kicked its queue
 * A kick drains the eventfd and runs virtio_p9_serve() with a budget, so
 * one busy share cannot starve the others or the control socket; a queue
 * left with work is marked pending and the loop polls without sleeping.
 * Requests are served one at a time, so when a RESET or SAVE is read no
 * request is in flight: the queue is dropped (RESET) or set aside with its
 * fids (SAVE, for a checkpoint; gofer/session.h) and the ack sent at once.
 *
 * A guest that breaks its queue (virtq_pop error, no room for a response)
 * stops that queue only: the gofer tells the VMM (QUEUE_ERROR, which sets
 * NEEDS_RESET) and keeps serving the other shares.  Nothing a guest sends
 * ends the process.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "gofer/gofer.h"
#include "gofer/server.h"
#include "gofer/session.h"
#include "util/cleanup.h"
#include "virtio/p9.h"

#define SERVE_BUDGET 64 /* chains per queue per turn of the loop */

enum {
	TOK_CTL = 1,
	TOK_SIGNAL,
	TOK_QUEUE, /* + share index */
};

struct gofer_queue {
	const char *tag; /* the share's mount tag, for log lines */
	struct p9_server *server;
	struct virtq vq;
	bool active;
	bool pending; /* budget ran out: serve again before sleeping */
	int kick_fd;  /* ioeventfd, -1 when inactive */
	int irq_fd;   /* irqfd */
};

struct gofer {
	int ctl, epfd, sigfd;
	unsigned nshares;
	bool have_mem;
	int uffd; /* sent to the VMM with FAULTS once RAM is mapped */
	bool done;
	int rc;		    /* 0, or why the loop ended badly */
	struct kv_err *err; /* filled with rc */
	struct guest_mem mem;
	struct vq_chain *chain;
	struct gofer_queue q[GOFER_MAX_SHARES];
};

static void queue_stop(struct gofer *g, unsigned i)
{
	struct gofer_queue *q = &g->q[i];

	if (q->kick_fd >= 0) {
		epoll_ctl(g->epfd, EPOLL_CTL_DEL, q->kick_fd, NULL);
		close(q->kick_fd);
	}
	if (q->irq_fd >= 0)
		close(q->irq_fd);
	q->kick_fd = q->irq_fd = -1;
	q->active = q->pending = false;
}

static void send_msg(struct gofer *g, const struct gofer_msg *m)
{
	int r = gofer_msg_send(g->ctl, m, NULL, 0);
	if (r < 0 && !g->done) {
		/* The VMM is gone or broken: nothing left to serve.  EPIPE is
		 * the VMM exiting, not a failure. */
		if (r != -EPIPE && r != -ECONNRESET)
			g->rc = kv_err_sys(g->err, -r, "gofer: control socket");
		g->done = true;
	}
}

/* --lazy-mem: the VMM loads guest RAM lazily (vmm/lazy_mem.h) and must
 * serve faults in our mapping too.  Our userfaultfd and where the mapping
 * is go to it before the REPLY to MEM; the VMM registers the ranges and
 * holds the only reference from here on. */
static void send_faults(struct gofer *g)
{
	if (g->uffd < 0)
		return;
	struct gofer_msg m;
	gofer_msg_init(&m, GOFER_MSG_FAULTS, 0, 0);
	m.mem_size = (uint64_t)(uintptr_t)g->mem.host;
	int r = gofer_msg_send(g->ctl, &m, &g->uffd, 1);
	if (r < 0 && !g->done) {
		if (r != -EPIPE && r != -ECONNRESET)
			g->rc = kv_err_sys(g->err, -r, "gofer: control socket");
		g->done = true;
	}
	close(g->uffd);
	g->uffd = -1;
}

static void serve(struct gofer *g, unsigned i)
{
	struct gofer_queue *q = &g->q[i];
	bool pushed = false;

	if (!q->active)
		return;
	int r = virtio_p9_serve(&q->vq, q->server, g->chain, SERVE_BUDGET, &pushed);
	if (pushed && virtq_should_notify(&q->vq)) {
		uint64_t one = 1;
		(void)!write(q->irq_fd, &one, sizeof(one));
	}
	q->pending = r == 1;
	if (r < 0) {
		/* The guest broke the ring: stop, and have the VMM set
		 * NEEDS_RESET.  The guest's reset brings a new ACTIVATE. */
		struct gofer_msg m;
		queue_stop(g, i);
		gofer_msg_init(&m, GOFER_MSG_QUEUE_ERROR, 0, i);
		m.status = r;
		send_msg(g, &m);
	}
}

static int do_activate(struct gofer *g, const struct gofer_msg *m, int fds[2])
{
	struct gofer_queue *q = &g->q[m->dev];

	if (!g->have_mem || q->active)
		return -EBUSY;
	int r = virtq_import(&q->vq, &g->mem, &m->vq);
	if (r < 0)
		return r;
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = TOK_QUEUE + m->dev};
	if (epoll_ctl(g->epfd, EPOLL_CTL_ADD, fds[0], &ev) < 0)
		return -errno;
	q->kick_fd = take_fd(fds[0]);
	q->irq_fd = take_fd(fds[1]);
	q->active = true;
	q->pending = true; /* buffers queued before DRIVER_OK */
	return 0;
}

static int write_all(int fd, const void *buf, size_t len)
{
	for (size_t off = 0; off < len;) {
		ssize_t n = pwrite(fd, (const char *)buf + off, len - off, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		off += (size_t)n;
	}
	return 0;
}

static int read_all(int fd, void *buf, size_t len)
{
	for (size_t off = 0; off < len;) {
		ssize_t n = pread(fd, (char *)buf + off, len - off, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ENODATA; /* shorter than the VMM said */
		off += (size_t)n;
	}
	return 0;
}

/* SAVE: the queue is set aside as it is (state to the VMM, fids kept),
 * so an ACTIVATE with that state resumes it whatever happens next. */
static int do_save(struct gofer *g, const struct gofer_msg *m, int memfd, struct gofer_msg *rep)
{
	struct gofer_queue *q = &g->q[m->dev];
	struct kv_err err = {0};
	cleanup_free void *buf = NULL;
	size_t len = 0;

	if (q->active) {
		virtq_export(&q->vq, &rep->vq);
		queue_stop(g, m->dev);
	}
	int r = p9_server_save(q->server, GOFER_SAVE_MAX, &buf, &len, &err);
	if (r == -E2BIG)
		rep->mem_size = len;
	if (r == 0 && (r = write_all(memfd, buf, len)) < 0)
		kv_err_sys(&err, -r, "writing %zu bytes to the VMM's memfd", len);
	if (r < 0)
		return r; /* the VMM names the reason from r */
	rep->mem_size = len;
	return 0;
}

/* LOAD: a session saved by another gofer, before the queue is handed
 * over.  The bytes are checked by p9_server_load (session.c). */
static int do_load(struct gofer *g, const struct gofer_msg *m, int memfd)
{
	struct gofer_queue *q = &g->q[m->dev];
	struct kv_err err = {0};
	size_t len = (size_t)m->mem_size; /* 1..GOFER_SAVE_MAX: parsed */

	if (q->active)
		return -EBUSY;
	cleanup_free void *buf = malloc(len);
	if (!buf)
		return -ENOMEM;
	int r = read_all(memfd, buf, len);
	if (r == -ENODATA) /* a wrong length is a bad session */
		r = kv_err_set(&err, EINVAL, "the VMM's memfd holds fewer than %zu bytes", len);
	else if (r < 0)
		kv_err_sys(&err, -r, "reading %zu bytes from the VMM's memfd", len);
	else
		r = p9_server_load(q->server, buf, len, &err);
	/* the reason goes to the VMM, after the session in its memfd (our
	 * stderr is the container's: no line there) */
	if (r < 0 && err.msg[0])
		(void)!pwrite(memfd, err.msg, strnlen(err.msg, GOFER_LOAD_WHY_MAX - 1) + 1,
			      (off_t)len);
	return r;
}

/* One control message.  REPLY always goes out before any queue work, so
 * the VMM (waiting under the device lock) is released first. */
static void ctl_message(struct gofer *g, const struct gofer_msg *m, int fds[2])
{
	struct kv_err err = {0};
	struct gofer_msg rep;
	int r = 0;

	gofer_msg_init(&rep, GOFER_MSG_REPLY, m->seq, 0);
	switch (m->type) {
	case GOFER_MSG_MEM:
		if (g->have_mem) {
			r = -EBUSY;
			break;
		}
		/* sealed, sized and laid out as described (the parser
		 * checked the layout too) */
		r = guest_mem_from_fd(&g->mem, fds[0], m->mem_size, m->regions, m->nregions, &err);
		if (r < 0) {
			fprintf(stderr, "kvbox gofer: %s\n", err.msg);
		} else {
			g->have_mem = true;
			fds[0] = -1; /* g->mem owns it */
			send_faults(g);
		}
		break;
	case GOFER_MSG_ACTIVATE:
		r = do_activate(g, m, fds);
		break;
	case GOFER_MSG_RESET:
		if (g->q[m->dev].active)
			virtq_export(&g->q[m->dev].vq, &rep.vq);
		queue_stop(g, m->dev);
		virtq_reset(&g->q[m->dev].vq);
		break;
	case GOFER_MSG_SAVE:
		r = do_save(g, m, fds[0], &rep);
		break;
	case GOFER_MSG_LOAD:
		r = do_load(g, m, fds[0]);
		break;
	case GOFER_MSG_SHUTDOWN:
		g->done = true;
		break;
	}
	rep.status = r;
	send_msg(g, &rep);
}

static void ctl_ready(struct gofer *g)
{
	struct gofer_msg m;
	int fds[GOFER_MSG_MAX_FDS];

	for (;;) {
		int r = gofer_msg_recv(g->ctl, true, GOFER_ACCEPT_GOFER, g->nshares, &m, fds);
		if (r == -EAGAIN)
			return;
		if (r <= 0) {
			/* EOF (the VMM exited) or a message we do not
			 * understand: the VMM is the only peer, so stop. */
			if (r < 0)
				g->rc = r == -EPROTO
					    ? kv_err_set(g->err, EPROTO,
							 "gofer: malformed control message")
					    : kv_err_sys(g->err, -r, "gofer: control socket");
			g->done = true;
			return;
		}
		ctl_message(g, &m, fds);
		for (unsigned i = 0; i < GOFER_MSG_MAX_FDS; i++)
			if (fds[i] >= 0)
				close(fds[i]);
		if (g->done)
			return;
	}
}

static void kick_ready(struct gofer *g, unsigned i)
{
	uint64_t v;

	if (!g->q[i].active)
		return;
	/* Drain first: a kick arriving during serve() wakes us again. */
	(void)!read(g->q[i].kick_fd, &v, sizeof(v));
	serve(g, i);
}

static int loop(struct gofer *g)
{
	struct epoll_event evs[GOFER_MAX_SHARES + 2];

	while (!g->done) {
		bool pending = false;
		for (unsigned i = 0; i < g->nshares; i++)
			pending |= g->q[i].pending;
		int n = epoll_wait(g->epfd, evs, (int)ARRAY_SIZE(evs), pending ? 0 : -1);
		if (n < 0 && errno != EINTR)
			return -errno;
		for (int k = 0; k < n && !g->done; k++) {
			uint64_t t = evs[k].data.u64;
			if (t == TOK_CTL)
				ctl_ready(g);
			else if (t == TOK_SIGNAL)
				g->done = true;
			else if (t >= TOK_QUEUE && t < TOK_QUEUE + g->nshares)
				kick_ready(g, (unsigned)(t - TOK_QUEUE));
		}
		for (unsigned i = 0; i < g->nshares && !g->done; i++)
			if (g->q[i].pending)
				serve(g, i);
	}
	return 0;
}

static int setup(struct gofer *g, const struct gofer_opts *o, struct kv_err *err)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	g->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	g->epfd = epoll_create1(EPOLL_CLOEXEC);
	g->chain = malloc(sizeof(*g->chain));
	if (g->sigfd < 0 || g->epfd < 0)
		return kv_err_sys(err, errno, "gofer: epoll/signalfd");
	if (!g->chain)
		return kv_err_set(err, ENOMEM, "gofer: out of memory");
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = TOK_CTL};
	if (epoll_ctl(g->epfd, EPOLL_CTL_ADD, o->ctl, &ev) < 0)
		return kv_err_sys(err, errno, "gofer: epoll control socket");
	ev.data.u64 = TOK_SIGNAL;
	if (epoll_ctl(g->epfd, EPOLL_CTL_ADD, g->sigfd, &ev) < 0)
		return kv_err_sys(err, errno, "gofer: epoll signalfd");
	for (unsigned i = 0; i < o->nshares; i++) {
		const struct gofer_share *sh = &o->shares[i];
		struct p9_attach_point ap = {.aname = sh->tag,
					     .path = sh->path,
					     .fd = o->share_fds[i],
					     .readonly = sh->readonly};
		struct p9_server_config cfg = {.attach = &ap,
					       .nattach = 1,
					       .proc_fd = o->proc_fd,
					       .no_openat2 = o->no_openat2};
		g->q[i].tag = sh->tag;
		int r = p9_server_new(&cfg, &g->q[i].server, err);
		if (r)
			return kv_err_wrap(err, r, "share '%s'", sh->tag);
		g->nshares++;
	}
	return 0;
}

static void teardown(struct gofer *g)
{
	for (unsigned i = 0; i < g->nshares; i++) {
		queue_stop(g, i);
		p9_server_free(g->q[i].server);
	}
	if (g->have_mem)
		guest_mem_destroy(&g->mem);
	if (g->uffd >= 0)
		close(g->uffd);
	free(g->chain);
	if (g->epfd >= 0)
		close(g->epfd);
	if (g->sigfd >= 0)
		close(g->sigfd);
}

int gofer_run(const struct gofer_opts *o, struct kv_err *err)
{
	struct gofer g = {.ctl = o->ctl, .epfd = -1, .sigfd = -1, .err = err, .uffd = o->uffd};

	if (o->nshares == 0 || o->nshares > GOFER_MAX_SHARES)
		return kv_err_set(err, EINVAL, "gofer: %u shares (1 to %d)", o->nshares,
				  GOFER_MAX_SHARES);
	for (unsigned i = 0; i < GOFER_MAX_SHARES; i++)
		g.q[i].kick_fd = g.q[i].irq_fd = -1;
	int r = setup(&g, o, err);
	if (r == 0) {
		r = loop(&g);
		if (r < 0)
			kv_err_sys(err, -r, "gofer: epoll_wait");
	}
	teardown(&g);
	return r < 0 ? r : g.rc;
}
