/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-vsock device (VIRTIO_ID_VSOCK): device ops, the host-side API
 * (listen, connect, poll, transport reset) and owed callbacks.  The queues
 * live in vsock_tx.c (guest -> host, the parser) and vsock_rx.c (host ->
 * guest, events); connections and their sockets in vsock_conn.c.
 *
 * Design: each connection is an AF_UNIX socketpair.  The VMM gets one end
 * and relays it with epoll like any socket; the device keeps the other in
 * its private epoll set, whose fd the VMM's loop watches.  Back-pressure
 * is the socket buffer on one side and vsock credit on the other, with at
 * most VSOCK_BUF_ALLOC bytes held by the device per connection:
 *
 *   guest -> host: we advertise buf_alloc = 256 KiB and fwd_cnt = bytes
 *     written into the socket.  A RW payload is sent straight from guest
 *     memory; what the socket does not take is buffered (<= buf_alloc, the
 *     guest cannot send more without being reset) and flushed on EPOLLOUT.
 *     A slow host reader fills the socket, then our buffer, then the
 *     guest's credit hits 0 and the guest's writer blocks: nothing is lost
 *     and the shared tx queue never stalls.  fwd_cnt travels on every
 *     packet we send, plus a CREDIT_UPDATE once the guest's view of our free
 *     space drops under half.
 *   host -> guest: the device reads a socket only when the guest has credit
 *     (its buf_alloc - (tx_cnt - fwd_cnt)) and an rx buffer is available,
 *     readv() straight into the buffer.  Without credit or buffers it stops
 *     watching EPOLLIN, the socket fills and the VMM's writes get EAGAIN.
 *     rx buffers are shared: one packet per connection per turn.
 *
 * Threads: queue kicks may come on a vCPU thread (MMIO exit) or the main
 * loop (ioeventfd); the host API and poll() on the main loop; all under
 * vdev.lock.  Callbacks into the VMM are never made with the lock held,
 * nor from a vCPU thread: they are marked on the connection and run by
 * poll(), which the wake eventfd schedules.
 */
#include "virtio/vsock.h"

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <linux/vm_sockets.h>

#include "virtio/vsock_internal.h"

#define POLL_EVENTS 64

void vsock_wake(struct virtio_vsock *vs)
{
	uint64_t one = 1;
	/* EAGAIN: the counter is already pending, which is all we need. */
	(void)!write(vs->wake_fd, &one, sizeof(one));
}

/* ---- device ops ---- */

static void vsock_config_read(struct virtio_dev *dev, uint32_t off, void *data, unsigned len)
{
	struct virtio_vsock_config cfg = {.guest_cid = htole64(to_vsock(dev)->guest_cid)};
	memcpy(data, (uint8_t *)&cfg + off, len); /* transport checked off + len */
}

static void vsock_queue_notify(struct virtio_dev *dev, unsigned q)
{
	struct virtio_vsock *vs = to_vsock(dev);
	switch (q) {
	case VSOCK_Q_TX:
		vsock_tx_process(vs);
		break;
	case VSOCK_Q_RX:
		vsock_rx_fill(vs);
		break;
	case VSOCK_Q_EVENT:
		vsock_event_fill(vs);
		break;
	}
}

/* DRIVER_OK, or a restored transport.  The queues are served from poll()
 * (tx, rx: host connects made before boot, the event), not here: a restore
 * may rebuild the connection table after the transport, and packets the
 * guest queued before the checkpoint must meet their connections, not be
 * answered with RSTs by an empty table. */
static int vsock_activate(struct virtio_dev *dev)
{
	vsock_wake(to_vsock(dev));
	return 0;
}

static void vsock_reset(struct virtio_dev *dev)
{
	struct virtio_vsock *vs = to_vsock(dev);
	vsock_conn_drop_all(vs);
	vsock_rx_reset(vs, true);
	vs->event_pending = false;
}

static const struct virtio_dev_ops vsock_ops = {
    .config_read = vsock_config_read,
    .queue_notify = vsock_queue_notify,
    .activate = vsock_activate,
    .reset = vsock_reset,
    /* no device features: stream only (no VIRTIO_VSOCK_F_SEQPACKET);
     * config space is read-only */
};

static const struct virtio_dev_info vsock_info = {
    .name = "vsock",
    .device_id = VIRTIO_ID_VSOCK,
    .config_len = sizeof(struct virtio_vsock_config),
    .nqueues = VSOCK_NQUEUES,
    .queue_max = VSOCK_QUEUE_SIZE,
};

/* ---- lifecycle ---- */

static int vsock_alloc(struct virtio_vsock *vs, struct kv_err *err)
{
	vs->conns = calloc(vs->max_conns, sizeof(*vs->conns));
	vs->hash = malloc(VSOCK_HASH_SIZE * sizeof(*vs->hash));
	vs->rx_chain = malloc(sizeof(*vs->rx_chain));
	vs->scratch = malloc(sizeof(*vs->scratch));
	if (!vs->conns || !vs->hash || !vs->rx_chain || !vs->scratch)
		return kv_err_set(err, ENOMEM, "virtio-vsock: out of memory");
	for (unsigned i = 0; i < VSOCK_HASH_SIZE; i++)
		vs->hash[i] = -1;
	for (unsigned i = 0; i < vs->max_conns; i++)
		vs->conns[i] = (struct vsock_conn){.fd = -1, .host_fd = -1, .hnext = -1};
	vs->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (vs->epfd < 0)
		return kv_err_sys(err, errno, "virtio-vsock: epoll_create1");
	vs->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vs->wake_fd < 0)
		return kv_err_sys(err, errno, "virtio-vsock: eventfd");
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = VSOCK_TOKEN_WAKE};
	if (epoll_ctl(vs->epfd, EPOLL_CTL_ADD, vs->wake_fd, &ev) < 0)
		return kv_err_sys(err, errno, "virtio-vsock: epoll_ctl");
	return 0;
}

static void vsock_free(struct virtio_vsock *vs)
{
	if (vs->conns) {
		for (unsigned i = 0; i < vs->max_conns; i++)
			vs->conns[i].notify = 0; /* nobody is left to tell */
		vsock_conn_drop_all(vs);
	}
	if (vs->epfd >= 0)
		close(vs->epfd);
	if (vs->wake_fd >= 0)
		close(vs->wake_fd);
	free(vs->conns);
	free(vs->hash);
	free(vs->rx_chain);
	free(vs->scratch);
	vs->conns = NULL;
	vs->hash = NULL;
	vs->rx_chain = vs->scratch = NULL;
	vs->epfd = vs->wake_fd = -1;
}

int virtio_vsock_init(struct virtio_vsock *vs, const struct guest_mem *mem, uint64_t guest_cid,
		      unsigned max_conns, struct kv_err *err)
{
	memset(vs, 0, sizeof(*vs));
	vs->epfd = vs->wake_fd = -1;
	/* Linux keeps CIDs in 32 bits; 0-2 are reserved, -1 is "any". */
	if (guest_cid <= VMADDR_CID_HOST || guest_cid >= VMADDR_CID_ANY)
		return kv_err_set(err, EINVAL, "virtio-vsock: guest CID %llu out of range 3..%u",
				  (unsigned long long)guest_cid, VMADDR_CID_ANY - 1);
	if (max_conns > VSOCK_MAX_CONNS)
		return kv_err_set(err, EINVAL, "virtio-vsock: %u connections is over the limit %u",
				  max_conns, VSOCK_MAX_CONNS);
	vs->guest_cid = guest_cid;
	vs->max_conns = max_conns ? max_conns : VSOCK_DEFAULT_CONNS;
	vs->next_ephemeral = VSOCK_EPHEMERAL_BASE;
	int r = vsock_alloc(vs, err);
	if (r == 0)
		r = virtio_dev_init(&vs->vdev, &vsock_info, &vsock_ops, vs->vqs, mem, err);
	if (r < 0)
		vsock_free(vs);
	return r;
}

void virtio_vsock_destroy(struct virtio_vsock *vs)
{
	vsock_free(vs);
	virtio_dev_destroy(&vs->vdev);
}

int virtio_vsock_fd(const struct virtio_vsock *vs)
{
	return vs->epfd;
}

unsigned virtio_vsock_conn_count(struct virtio_vsock *vs)
{
	unsigned n = 0;
	pthread_mutex_lock(&vs->vdev.lock);
	for (unsigned i = 0; i < vs->max_conns; i++)
		n += vs->conns[i].state != VSOCK_FREE && vs->conns[i].state != VSOCK_DEAD;
	pthread_mutex_unlock(&vs->vdev.lock);
	return n;
}

/* ---- poll and owed callbacks ---- */

struct vsock_notice {
	uint8_t kind; /* one VSOCK_N_* bit */
	int fd;
	uint32_t host_port, guest_port;
	union {
		vsock_accept_fn accept;
		vsock_connect_fn connect;
	} cb;
	void *ctx;
};

/* Takes the first owed callback of c into *n; false if none. */
static bool notice_take(struct virtio_vsock *vs, struct vsock_conn *c, struct vsock_notice *n)
{
	*n = (struct vsock_notice){
	    .fd = -1, .host_port = c->host_port, .guest_port = c->guest_port, .ctx = c->cb_ctx};
	if ((c->notify & VSOCK_N_ACCEPT) && c->host_fd >= 0) {
		n->kind = VSOCK_N_ACCEPT;
		n->cb.accept = c->cb.accept;
		n->fd = c->host_fd;
		c->host_fd = -1;
	} else if (c->notify & (VSOCK_N_CONNECTED | VSOCK_N_REFUSED | VSOCK_N_RESET)) {
		n->kind = c->notify & VSOCK_N_CONNECTED ? VSOCK_N_CONNECTED
			  : c->notify & VSOCK_N_REFUSED ? VSOCK_N_REFUSED
							: VSOCK_N_RESET;
		n->cb.connect = c->cb.connect;
	}
	c->notify = 0;
	vsock_conn_reap(vs, c);
	return n->kind != 0;
}

static void notice_run(const struct vsock_notice *n)
{
	switch (n->kind) {
	case VSOCK_N_ACCEPT:
		if (n->cb.accept)
			n->cb.accept(n->ctx, n->fd, n->host_port, n->guest_port);
		else
			close(n->fd);
		break;
	case VSOCK_N_CONNECTED:
		n->cb.connect(n->ctx, 0);
		break;
	case VSOCK_N_REFUSED:
		n->cb.connect(n->ctx, -ECONNREFUSED);
		break;
	case VSOCK_N_RESET:
		n->cb.connect(n->ctx, -ECONNRESET);
		break;
	}
}

static void poll_events(struct virtio_vsock *vs)
{
	struct epoll_event ev[POLL_EVENTS];
	int n = epoll_wait(vs->epfd, ev, POLL_EVENTS, 0);
	for (int i = 0; i < n; i++) {
		uint64_t tok = ev[i].data.u64;
		if (tok == VSOCK_TOKEN_WAKE) {
			uint64_t count;
			(void)!read(vs->wake_fd, &count, sizeof(count));
			continue;
		}
		uint32_t idx = (uint32_t)tok - 1, gen = (uint32_t)(tok >> 32);
		if (idx >= vs->max_conns)
			continue;
		struct vsock_conn *c = &vs->conns[idx];
		/* An earlier event in this batch may have freed or reused it. */
		if (c->gen == gen && c->state != VSOCK_FREE && c->fd >= 0)
			vsock_conn_io(vs, c, ev[i].events);
	}
}

void virtio_vsock_poll(struct virtio_vsock *vs)
{
	struct vsock_notice notices[POLL_EVENTS];
	unsigned nn = 0;

	pthread_mutex_lock(&vs->vdev.lock);
	poll_events(vs);
	vsock_tx_process(vs); /* leftovers of a budget; fills rx too */
	vsock_rx_fill(vs);
	vsock_event_fill(vs);
	for (unsigned i = 0; i < vs->max_conns && nn < POLL_EVENTS; i++)
		if (vs->conns[i].notify && notice_take(vs, &vs->conns[i], &notices[nn]))
			nn++;
	if (nn == POLL_EVENTS)
		vsock_wake(vs); /* maybe more: next round */
	pthread_mutex_unlock(&vs->vdev.lock);

	for (unsigned i = 0; i < nn; i++)
		notice_run(&notices[i]);
}

/* ---- host API ---- */

int virtio_vsock_listen(struct virtio_vsock *vs, uint32_t port, vsock_accept_fn fn, void *ctx,
			struct kv_err *err)
{
	struct vsock_listener *slot = NULL;
	bool dup = false;
	if (port == VMADDR_PORT_ANY) /* "any port" to Linux, never a real one */
		return kv_err_set(err, EINVAL, "vsock: cannot listen on VMADDR_PORT_ANY");
	pthread_mutex_lock(&vs->vdev.lock);
	for (unsigned i = 0; i < VSOCK_MAX_LISTENERS; i++) {
		struct vsock_listener *l = &vs->listeners[i];
		dup |= l->used && l->port == port;
		if (!l->used && !slot)
			slot = l;
	}
	if (slot && !dup)
		*slot = (struct vsock_listener){.port = port, .used = true, .fn = fn, .ctx = ctx};
	pthread_mutex_unlock(&vs->vdev.lock);
	if (dup)
		return kv_err_set(err, EEXIST, "vsock: port %u already has a listener", port);
	if (!slot)
		return kv_err_set(err, ENOSPC, "vsock: listen on port %u: all %u listeners in use",
				  port, VSOCK_MAX_LISTENERS);
	return 0;
}

int virtio_vsock_unlisten(struct virtio_vsock *vs, uint32_t port)
{
	int r = -ENOENT;
	pthread_mutex_lock(&vs->vdev.lock);
	for (unsigned i = 0; i < VSOCK_MAX_LISTENERS; i++) {
		if (vs->listeners[i].used && vs->listeners[i].port == port) {
			vs->listeners[i].used = false;
			r = 0;
		}
	}
	pthread_mutex_unlock(&vs->vdev.lock);
	return r;
}

/* A host port no connection to guest_port uses and no listener owns. */
static uint32_t ephemeral_port(struct virtio_vsock *vs, uint32_t guest_port)
{
	for (unsigned tries = 0; tries <= vs->max_conns + VSOCK_MAX_LISTENERS; tries++) {
		uint32_t p = vs->next_ephemeral++;
		if (vs->next_ephemeral == 0 || vs->next_ephemeral == VMADDR_PORT_ANY)
			vs->next_ephemeral = VSOCK_EPHEMERAL_BASE;
		bool listened = false;
		for (unsigned i = 0; i < VSOCK_MAX_LISTENERS; i++)
			listened |= vs->listeners[i].used && vs->listeners[i].port == p;
		if (!listened && !vsock_conn_lookup(vs, guest_port, p))
			return p;
	}
	return VMADDR_PORT_ANY; /* unreachable: more candidates than users */
}

int virtio_vsock_connect(struct virtio_vsock *vs, uint32_t guest_port, vsock_connect_fn fn,
			 void *ctx, struct kv_err *err)
{
	int e = 0;
	pthread_mutex_lock(&vs->vdev.lock);
	uint32_t host_port = ephemeral_port(vs, guest_port);
	struct vsock_conn *c = vsock_conn_new(vs, guest_port, host_port, VSOCK_CONNECTING, &e);
	int fd = -1;
	if (c) {
		c->cb.connect = fn;
		c->cb_ctx = ctx;
		c->pending = VSOCK_P_REQUEST;
		fd = c->host_fd;
		c->host_fd = -1; /* the caller's now */
		vsock_rx_fill(vs);
	}
	pthread_mutex_unlock(&vs->vdev.lock);
	if (!c)
		return e == -ENOSPC
			   ? kv_err_set(err, ENOSPC,
					"vsock: connect to guest port %u: all %u "
					"connections in use",
					guest_port, vs->max_conns)
			   : kv_err_sys(err, -e, "vsock: connect to guest port %u", guest_port);
	return fd;
}

void virtio_vsock_transport_reset(struct virtio_vsock *vs)
{
	pthread_mutex_lock(&vs->vdev.lock);
	vsock_conn_drop_all(vs);
	vsock_rx_reset(vs, false); /* the queues live on: keep a held buffer */
	vs->event_pending = true;
	vsock_event_fill(vs);
	pthread_mutex_unlock(&vs->vdev.lock);
}
