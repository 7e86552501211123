/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-vsock connections: the bounded table keyed by (guest port, host
 * port), each connection's socketpair and its epoll interest, the
 * guest -> host byte path (socket first, then a buffer bounded by the
 * credit we advertised), shutdown mapping and credit bookkeeping.
 *
 * Guest bytes flow: vsock_tx.c validated a RW packet -> vsock_conn_to_host()
 * sends straight from guest memory into the device end; what the socket
 * does not take is copied to c->buf and the socket is watched for EPOLLOUT
 * -> vsock_conn_io() -> conn_flush() -> fwd_cnt advances -> a CREDIT_UPDATE
 * is owed when the guest's view of our free space runs low.
 *
 * Lifetime: FREE -> (CONNECTING ->) CONNECTED -> [CLOSING] -> ABORTING
 * (RST owed) or a received RST -> DEAD -> FREE.  A DEAD slot is unhashed; it
 * lives on only to flush buffered bytes to the host socket or to hold a
 * connect() result for poll().
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "virtio/vsock_internal.h"

#define SEND_IOV_MAX 64

static unsigned conn_index(const struct virtio_vsock *vs, const struct vsock_conn *c)
{
	return (unsigned)(c - vs->conns);
}

static unsigned hash_of(uint32_t guest_port, uint32_t host_port)
{
	uint32_t h = guest_port * 0x9e3779b1u ^ host_port * 0x85ebca6bu;
	return (h ^ h >> 16) & (VSOCK_HASH_SIZE - 1);
}

struct vsock_conn *vsock_conn_lookup(struct virtio_vsock *vs, uint32_t guest_port,
				     uint32_t host_port)
{
	int32_t i = vs->hash[hash_of(guest_port, host_port)];
	/* Chains only link live slots, each once: at most max_conns steps. */
	for (unsigned steps = 0; i >= 0 && steps < vs->max_conns; steps++) {
		struct vsock_conn *c = &vs->conns[i];
		if (c->guest_port == guest_port && c->host_port == host_port)
			return c;
		i = c->hnext;
	}
	return NULL;
}

static void conn_hash(struct virtio_vsock *vs, struct vsock_conn *c)
{
	int32_t *head = &vs->hash[hash_of(c->guest_port, c->host_port)];
	c->hnext = *head;
	*head = (int32_t)conn_index(vs, c);
}

static void conn_unhash(struct virtio_vsock *vs, struct vsock_conn *c)
{
	int32_t *p = &vs->hash[hash_of(c->guest_port, c->host_port)];
	int32_t me = (int32_t)conn_index(vs, c);
	while (*p >= 0) {
		if (*p == me) {
			*p = c->hnext;
			break;
		}
		p = &vs->conns[*p].hnext;
	}
	c->hnext = -1;
}

static uint64_t conn_token(const struct virtio_vsock *vs, const struct vsock_conn *c)
{
	return (uint64_t)c->gen << 32 | (conn_index(vs, c) + 1);
}

struct vsock_conn *vsock_conn_new(struct virtio_vsock *vs, uint32_t guest_port, uint32_t host_port,
				  enum vsock_state state, int *errp)
{
	struct vsock_conn *c = NULL;
	for (unsigned i = 0; i < vs->max_conns && !c; i++)
		if (vs->conns[i].state == VSOCK_FREE)
			c = &vs->conns[i];
	if (!c) {
		*errp = -ENOSPC;
		return NULL;
	}
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0) {
		*errp = -errno;
		return NULL;
	}
	uint32_t gen = c->gen + 1;
	*c = (struct vsock_conn){
	    .guest_port = guest_port,
	    .host_port = host_port,
	    .gen = gen,
	    .state = (uint8_t)state,
	    .fd = sv[0],
	    .host_fd = sv[1],
	    .hnext = -1,
	};
	/* Interest 0 still reports EPOLLHUP: the host closing is always seen. */
	struct epoll_event ev = {.events = 0, .data.u64 = conn_token(vs, c)};
	if (epoll_ctl(vs->epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
		*errp = -errno;
		close(sv[0]);
		close(sv[1]);
		c->fd = c->host_fd = -1;
		c->state = VSOCK_FREE;
		return NULL;
	}
	conn_hash(vs, c);
	vs->stats.conns_opened++;
	return c;
}

static void buf_free(struct vsock_buf *b)
{
	free(b->data);
	*b = (struct vsock_buf){0};
}

void vsock_conn_close_fd(struct virtio_vsock *vs, struct vsock_conn *c)
{
	if (c->fd < 0)
		return;
	if (!c->hup)
		epoll_ctl(vs->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	c->hup = true;
	c->ev = 0;
}

/* Drops guest bytes the host will never read; they still count as
 * forwarded so the guest's credit view stays consistent. */
static void conn_drop_buf(struct vsock_conn *c)
{
	c->fwd_cnt += c->buf.len;
	buf_free(&c->buf);
}

void vsock_conn_reap(struct virtio_vsock *vs, struct vsock_conn *c)
{
	if (c->state != VSOCK_DEAD || c->fd >= 0 || c->notify)
		return;
	buf_free(&c->buf);
	if (c->host_fd >= 0)
		close(c->host_fd);
	c->host_fd = -1;
	c->state = VSOCK_FREE;
}

void vsock_conn_close(struct virtio_vsock *vs, struct vsock_conn *c)
{
	if (c->state == VSOCK_FREE || c->state == VSOCK_DEAD)
		return;
	conn_unhash(vs, c);
	c->pending = 0;
	if (c->host_fd >= 0) { /* never accepted: nobody will read */
		close(c->host_fd);
		c->host_fd = -1;
		c->notify &= (uint8_t)~VSOCK_N_ACCEPT;
		c->host_gone = true;
	}
	if (c->host_gone)
		conn_drop_buf(c);
	c->state = VSOCK_DEAD;
	if (c->buf.len == 0)
		vsock_conn_close_fd(vs, c);
	else
		vsock_conn_update_events(vs, c); /* EPOLLOUT until flushed */
	vsock_conn_reap(vs, c);
}

void vsock_conn_abort(struct virtio_vsock *vs, struct vsock_conn *c, uint8_t notify)
{
	if (c->state == VSOCK_FREE || c->state == VSOCK_DEAD || c->state == VSOCK_ABORTING)
		return;
	if (c->state == VSOCK_CONNECTING && c->cb.connect && notify)
		c->notify |= notify;
	if (c->host_fd >= 0) {
		close(c->host_fd);
		c->host_fd = -1;
		c->notify &= (uint8_t)~VSOCK_N_ACCEPT;
	}
	conn_drop_buf(c);
	vsock_conn_close_fd(vs, c);
	if (c->notify)
		vsock_wake(vs);
	if (c->pending & VSOCK_P_REQUEST) { /* the guest never heard of it */
		vsock_conn_close(vs, c);
		return;
	}
	c->state = VSOCK_ABORTING;
	c->pending = VSOCK_P_RST;
}

void vsock_conn_drop_all(struct virtio_vsock *vs)
{
	for (unsigned i = 0; i < vs->max_conns; i++) {
		struct vsock_conn *c = &vs->conns[i];
		if (c->state == VSOCK_FREE)
			continue;
		if (c->state == VSOCK_CONNECTING && c->cb.connect)
			c->notify |= VSOCK_N_RESET;
		c->host_gone = true; /* no flushing after a reset */
		vsock_conn_close(vs, c);
		vsock_conn_close_fd(vs, c);
		vsock_conn_reap(vs, c);
	}
	for (unsigned i = 0; i < VSOCK_HASH_SIZE; i++)
		vs->hash[i] = -1;
	vsock_wake(vs);
}

/* ---- credit and shutdown bookkeeping ---- */

uint32_t vsock_conn_peer_credit(const struct vsock_conn *c)
{
	uint32_t in_flight = c->tx_cnt - c->peer_fwd_cnt;
	/* A guest that shrank buf_alloc, or reports a fwd_cnt ahead of what
	 * we sent, gets nothing until its numbers make sense again. */
	return in_flight >= c->peer_buf_alloc ? 0 : c->peer_buf_alloc - in_flight;
}

uint32_t vsock_conn_shut_owed(const struct vsock_conn *c)
{
	if (c->state != VSOCK_CONNECTED)
		return 0;
	uint32_t want = (c->host_eof ? VIRTIO_VSOCK_SHUTDOWN_SEND : 0u) |
			(c->host_gone ? VIRTIO_VSOCK_SHUTDOWN_RCV : 0u);
	return want & ~(uint32_t)c->local_shut;
}

bool vsock_conn_can_send_data(const struct vsock_conn *c)
{
	return c->state == VSOCK_CONNECTED && c->fd >= 0 && c->readable && !c->host_eof &&
	       !(c->local_shut & VIRTIO_VSOCK_SHUTDOWN_SEND) &&
	       !(c->peer_shut & VIRTIO_VSOCK_SHUTDOWN_RCV) && vsock_conn_peer_credit(c) > 0;
}

bool vsock_conn_wants_rx(const struct vsock_conn *c)
{
	return c->pending || vsock_conn_can_send_data(c) || vsock_conn_shut_owed(c);
}

static void conn_credit_check(struct vsock_conn *c)
{
	if (c->state != VSOCK_CONNECTED || (c->peer_shut & VIRTIO_VSOCK_SHUTDOWN_SEND))
		return;
	/* What the guest thinks it has in flight; only a guest that ignored
	 * credit can push this past VSOCK_BUF_ALLOC. */
	uint32_t guest_view_used = c->rx_cnt - c->fwd_adv;
	if (c->fwd_cnt != c->fwd_adv && guest_view_used > VSOCK_BUF_ALLOC - VSOCK_CREDIT_LOW)
		c->pending |= VSOCK_P_CREDIT;
}

void vsock_conn_update_events(struct virtio_vsock *vs, struct vsock_conn *c)
{
	if (c->fd < 0 || c->hup)
		return;
	uint32_t want = 0;
	if (c->state == VSOCK_CONNECTED && !c->readable && !c->host_eof &&
	    !(c->local_shut & VIRTIO_VSOCK_SHUTDOWN_SEND) &&
	    !(c->peer_shut & VIRTIO_VSOCK_SHUTDOWN_RCV))
		want |= EPOLLIN;
	if (c->buf.len && !c->host_gone)
		want |= EPOLLOUT;
	if (want == c->ev)
		return;
	struct epoll_event ev = {.events = want, .data.u64 = conn_token(vs, c)};
	if (epoll_ctl(vs->epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0)
		c->ev = want;
}

/* What to do once c->buf may have emptied. */
static void conn_after_flush(struct virtio_vsock *vs, struct vsock_conn *c)
{
	if (c->state == VSOCK_DEAD) {
		if (c->buf.len == 0 || c->host_gone) {
			vsock_conn_close_fd(vs, c);
			vsock_conn_reap(vs, c);
		}
		return;
	}
	if (c->buf.len == 0 && c->fd >= 0 && (c->peer_shut & VIRTIO_VSOCK_SHUTDOWN_SEND) &&
	    !c->wr_shut) {
		shutdown(c->fd, SHUT_WR); /* host reads EOF after the last byte */
		c->wr_shut = true;
	}
	if (c->buf.len == 0 && c->peer_shut == VSOCK_SHUT_BOTH &&
	    (c->state == VSOCK_CONNECTED || c->state == VSOCK_CLOSING)) {
		/* Guest closed and every byte reached the host socket: end it
		 * as Linux does, with our RST. */
		vsock_conn_abort(vs, c, 0);
		return;
	}
	conn_credit_check(c);
	vsock_conn_update_events(vs, c);
}

static void conn_host_gone(struct vsock_conn *c)
{
	c->host_gone = true;
	conn_drop_buf(c);
}

static void conn_flush(struct virtio_vsock *vs, struct vsock_conn *c)
{
	while (c->buf.len && !c->host_gone && c->fd >= 0) {
		ssize_t n =
		    send(c->fd, c->buf.data + c->buf.head, c->buf.len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			c->buf.head += (uint32_t)n;
			c->buf.len -= (uint32_t)n;
			c->fwd_cnt += (uint32_t)n;
			vs->stats.bytes_to_host += (uint64_t)n;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && errno == EAGAIN) {
			break;
		} else {
			conn_host_gone(c);
		}
	}
	if (c->buf.len == 0)
		buf_free(&c->buf);
	conn_after_flush(vs, c);
}

void vsock_conn_io(struct virtio_vsock *vs, struct vsock_conn *c, uint32_t events)
{
	if (events & (EPOLLHUP | EPOLLERR)) {
		/* The host end is closed: read what is left, write nothing. */
		epoll_ctl(vs->epfd, EPOLL_CTL_DEL, c->fd, NULL);
		c->hup = true;
		c->ev = 0;
		if (c->state == VSOCK_CONNECTING) {
			c->notify = 0; /* the VMM gave up on it */
			vsock_conn_abort(vs, c, 0);
			return;
		}
		c->readable = true;
		if (c->peer_shut & VIRTIO_VSOCK_SHUTDOWN_RCV)
			c->host_eof = true; /* nothing more will be read */
		/* After our own SHUT_WR, HUP only says both directions are
		 * done: the host may still be reading what we wrote. */
		if (!c->wr_shut)
			conn_host_gone(c);
		conn_after_flush(vs, c);
		return;
	}
	if (events & EPOLLIN)
		c->readable = true;
	if (events & EPOLLOUT)
		conn_flush(vs, c);
	else
		vsock_conn_update_events(vs, c);
}

/* ---- guest -> host bytes ---- */

/* Sends up to len bytes at r straight from guest memory; returns bytes
 * taken by the socket (the reader is advanced past them). */
static uint32_t send_direct(struct virtio_vsock *vs, struct vsock_conn *c, struct vq_reader *r,
			    uint32_t len)
{
	struct iovec iov[SEND_IOV_MAX];
	uint32_t done = 0;
	while (done < len) {
		size_t chunk = len - done;
		int n;
		while ((n = vq_reader_iov(r, chunk, iov, SEND_IOV_MAX)) == -ENOBUFS)
			chunk /= 2;
		if (n <= 0)
			break;
		struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)n};
		ssize_t s = sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (s < 0 && errno == EINTR)
			continue;
		if (s < 0 && errno != EAGAIN)
			conn_host_gone(c);
		if (s <= 0)
			break;
		vq_reader_skip(r, (size_t)s);
		done += (uint32_t)s;
		if ((size_t)s < chunk)
			break; /* socket full */
	}
	return done;
}

/* Room for n more bytes at the tail; cap never exceeds VSOCK_BUF_ALLOC
 * because the caller checked buffered + n <= VSOCK_BUF_ALLOC. */
static int buf_reserve(struct vsock_buf *b, uint32_t n)
{
	if (b->head + b->len + n <= b->cap)
		return 0;
	if (b->len + n <= b->cap) {
		memmove(b->data, b->data + b->head, b->len);
		b->head = 0;
		return 0;
	}
	uint32_t cap = b->cap ? b->cap : 4096;
	while (cap < b->len + n)
		cap *= 2;
	if (cap > VSOCK_BUF_ALLOC)
		cap = VSOCK_BUF_ALLOC;
	uint8_t *d = malloc(cap);
	if (!d)
		return -ENOMEM;
	if (b->len)
		memcpy(d, b->data + b->head, b->len);
	free(b->data);
	b->data = d;
	b->head = 0;
	b->cap = cap;
	return 0;
}

void vsock_conn_to_host(struct virtio_vsock *vs, struct vsock_conn *c, struct vq_reader *r,
			uint32_t len)
{
	c->rx_cnt += len;
	if (c->host_gone || c->fd < 0) {
		c->fwd_cnt += len; /* SHUTDOWN(RCV) is owed or sent: discard */
		return;
	}
	uint32_t sent = c->buf.len ? 0 : send_direct(vs, c, r, len);
	c->fwd_cnt += sent;
	vs->stats.bytes_to_host += sent;
	uint32_t rest = len - sent;
	if (c->host_gone) {
		c->fwd_cnt += rest;
	} else if (rest) {
		if (buf_reserve(&c->buf, rest) < 0) {
			virtio_dev_log(&vs->vdev, "port %u->%u: out of memory, connection reset",
				       c->guest_port, c->host_port);
			c->fwd_cnt += rest; /* dropped: rx_cnt - fwd_cnt stays buf.len */
			vsock_conn_abort(vs, c, VSOCK_N_RESET);
			return;
		}
		/* Cannot fail: the parser checked len against the chain. */
		vq_read(r, c->buf.data + c->buf.head + c->buf.len, rest);
		c->buf.len += rest;
	}
	conn_after_flush(vs, c);
}

void vsock_conn_peer_shutdown(struct virtio_vsock *vs, struct vsock_conn *c, uint32_t flags)
{
	uint8_t add = (uint8_t)(flags & VSOCK_SHUT_BOTH) & (uint8_t)~c->peer_shut;
	c->peer_shut |= add;
	if ((add & VIRTIO_VSOCK_SHUTDOWN_RCV) && c->fd >= 0)
		shutdown(c->fd, SHUT_RD); /* host writes now fail with EPIPE */
	conn_after_flush(vs, c);
}
