/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-vsock checkpoint and restore: the connection table as a blob
 * (virtio_vsock_save) and the one parser that rebuilds it in a new VMM
 * (virtio_vsock_restore).  The guest's side of every connection comes
 * back with guest RAM, so ours must come back exactly: ports, state,
 * shutdown bits, credit counters and the bytes in flight.
 *
 * Save runs with the VM paused and changes nothing the device would not
 * also do by itself: host -> guest bytes still in a device end are read
 * with MSG_PEEK (stepping with SO_PEEK_OFF; the socket keeps them),
 * guest -> host bytes are copied out of c->buf, and a popped but unused rx
 * buffer goes back to the ring (vsock_rx_unhold).  The old host end's
 * shutdowns the device has not seen yet are read off the device end with
 * poll(POLLRDHUP).
 *
 * Restore flows: state_parse() decodes the whole blob through a cursor
 * with a sticky error into validated struct saved_conn records (every
 * limit and cross-field rule checked in conn_check()), before anything
 * is built.  build_conn() then makes each connection on a new socketpair:
 * the saved host -> guest bytes are written into the new host end, the old
 * host end's shutdowns are replayed on it, c->buf gets its bytes back.
 * Only when every connection is built are the host ends handed over; a
 * failure before that frees all of them.  A blob restored and saved again
 * comes out byte for byte the same (the fuzzer checks it).
 *
 * Blob, little-endian:
 *   header  24 bytes: "KVVS", u32 version (1), u32 next_ephemeral,
 *           u32 orphans (<= VSOCK_ORPHAN_MAX), u32 connections,
 *           u8 event_pending (0/1), 3 zero bytes
 *   orphan  8 bytes each, oldest first: u32 guest port, u32 host port
 *   conn    48 bytes each, then its bytes:
 *           u32 guest port, u32 host port, u8 state (1 connected, 2 closing,
 *           3 aborting), u8 pending (VSOCK_P_*), u8 local_shut, u8 peer_shut,
 *           u8 flags (SF_*), 3 zero bytes, u32 peer_buf_alloc, peer_fwd_cnt,
 *           tx_cnt, rx_cnt, fwd_cnt, fwd_adv, u32 to_host (bytes held in
 *           c->buf), u32 to_guest (bytes in the device end's socket);
 *           to_host bytes; to_guest bytes
 */
#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/vm_sockets.h>

#include "util/lecur.h"
#include "virtio/vsock_internal.h"

#define STATE_MAGIC   "KVVS"
#define STATE_VERSION 1u
#define STATE_HDR_LEN 24u
#define ORPHAN_LEN    8u
#define CONN_LEN      48u
#define PEEK_TRIES    64u

/* saved states (wire values, not enum vsock_state) */
enum { W_CONNECTED = 1, W_CLOSING = 2, W_ABORTING = 3 };

/* conn flags */
#define SF_HOST_EOF	0x01u /* c->host_eof */
#define SF_HOST_GONE	0x02u /* c->host_gone */
#define SF_WR_SHUT	0x04u /* c->wr_shut */
#define SF_HOST_SHUT_WR 0x08u /* the host end shut its sending side, seen or not */
#define SF_HOST_SHUT_RD 0x10u /* the host end will not read (shut, closed, EPIPE) */
#define SF_ALL		0x1fu

#define BAD(err, ...) kv_err_set(err, EINVAL, "virtio-vsock state: " __VA_ARGS__)

struct saved_conn {
	uint32_t guest_port, host_port;
	uint8_t state; /* W_* */
	uint8_t pending, local_shut, peer_shut, flags;
	uint8_t reserved; /* OR of the zero bytes, as read */
	uint32_t peer_buf_alloc, peer_fwd_cnt, tx_cnt;
	uint32_t rx_cnt, fwd_cnt, fwd_adv;
	uint32_t to_host_len, to_guest_len;
	const uint8_t *to_host, *to_guest;
	int slot; /* restore: where it was built */
};

struct saved_dev {
	uint32_t next_ephemeral;
	uint8_t event_pending;
	uint32_t norphans, nconns;
	struct vsock_orphan orphans[VSOCK_ORPHAN_MAX];
	struct saved_conn *conns;
};

/* ---- encoding ---- */

/* A growing buffer; ENOMEM is sticky and reported once at the end. */
struct wbuf {
	uint8_t *p;
	size_t len, cap;
	bool nomem;
};

static void put(struct wbuf *w, const void *d, size_t n)
{
	if (w->nomem || n == 0)
		return;
	if (w->cap - w->len < n) {
		size_t cap = w->cap ? w->cap : 4096;
		while (cap - w->len < n)
			cap *= 2;
		uint8_t *p = realloc(w->p, cap);
		if (!p) {
			w->nomem = true;
			return;
		}
		w->p = p;
		w->cap = cap;
	}
	memcpy(w->p + w->len, d, n);
	w->len += n;
}

static void put8(struct wbuf *w, uint8_t v)
{
	put(w, &v, 1);
}

static void put32(struct wbuf *w, uint32_t v)
{
	uint32_t le = htole32(v);
	put(w, &le, 4);
}

static void conn_encode(struct wbuf *w, const struct saved_conn *s)
{
	static const uint8_t zero[3];
	put32(w, s->guest_port);
	put32(w, s->host_port);
	put8(w, s->state);
	put8(w, s->pending);
	put8(w, s->local_shut);
	put8(w, s->peer_shut);
	put8(w, s->flags);
	put(w, zero, 3);
	put32(w, s->peer_buf_alloc);
	put32(w, s->peer_fwd_cnt);
	put32(w, s->tx_cnt);
	put32(w, s->rx_cnt);
	put32(w, s->fwd_cnt);
	put32(w, s->fwd_adv);
	put32(w, s->to_host_len);
	put32(w, s->to_guest_len);
	put(w, s->to_host, s->to_host_len);
	put(w, s->to_guest, s->to_guest_len);
}

/* ---- decoding ---- */

static void conn_decode(struct le_cur *c, struct saved_conn *s)
{
	*s = (struct saved_conn){.slot = -1};
	s->guest_port = le_get32(c);
	s->host_port = le_get32(c);
	s->state = le_get8(c);
	s->pending = le_get8(c);
	s->local_shut = le_get8(c);
	s->peer_shut = le_get8(c);
	s->flags = le_get8(c);
	for (int i = 0; i < 3; i++)
		s->reserved |= le_get8(c);
	s->peer_buf_alloc = le_get32(c);
	s->peer_fwd_cnt = le_get32(c);
	s->tx_cnt = le_get32(c);
	s->rx_cnt = le_get32(c);
	s->fwd_cnt = le_get32(c);
	s->fwd_adv = le_get32(c);
	s->to_host_len = le_get32(c);
	s->to_guest_len = le_get32(c);
	/* the limits first: no length is trusted to size anything */
	if (s->to_host_len <= VSOCK_BUF_ALLOC && s->to_guest_len <= VSOCK_SAVE_BACKLOG_MAX) {
		s->to_host = le_take(c, s->to_host_len);
		s->to_guest = le_take(c, s->to_guest_len);
	}
}

/* The rules the device itself keeps (see vsock_conn.c), so that what is
 * built is a state the device can reach.  peer_buf_alloc, peer_fwd_cnt,
 * tx_cnt and fwd_adv may be anything: the device copes with any guest
 * numbers.  Returns why s is refused, or NULL. */
static const char *conn_check(const struct saved_conn *s)
{
	const unsigned f = s->flags;
	const bool eof = f & SF_HOST_EOF, gone = f & SF_HOST_GONE, wr = f & SF_WR_SHUT;
	const bool swr = f & SF_HOST_SHUT_WR, srd = f & SF_HOST_SHUT_RD;
	const bool peer_rcv = s->peer_shut & VIRTIO_VSOCK_SHUTDOWN_RCV;

	if (s->guest_port == VMADDR_PORT_ANY || s->host_port == VMADDR_PORT_ANY)
		return "port VMADDR_PORT_ANY";
	if (s->state < W_CONNECTED || s->state > W_ABORTING)
		return "unknown state";
	if (s->reserved || (f & ~SF_ALL) || ((s->local_shut | s->peer_shut) & ~VSOCK_SHUT_BOTH))
		return "unknown bits set";
	if (s->to_host_len > VSOCK_BUF_ALLOC)
		return "more guest bytes buffered than the credit we give";
	if (s->to_guest_len > VSOCK_SAVE_BACKLOG_MAX)
		return "host -> guest backlog over the limit";
	if (s->to_host_len != s->rx_cnt - s->fwd_cnt)
		return "buffered bytes differ from rx_cnt - fwd_cnt";
	if (((s->local_shut & VIRTIO_VSOCK_SHUTDOWN_SEND) && !eof) ||
	    ((s->local_shut & VIRTIO_VSOCK_SHUTDOWN_RCV) && !gone))
		return "a SHUTDOWN sent without its cause";
	if ((eof && !swr) || (gone && !srd))
		return "host flags disagree";
	if (wr && (!(s->peer_shut & VIRTIO_VSOCK_SHUTDOWN_SEND) || s->to_host_len))
		return "socket shut before the guest's bytes were out";
	if (gone && s->to_host_len)
		return "bytes buffered for a host that is gone";
	if (s->state == W_ABORTING) {
		if (s->pending != VSOCK_P_RST)
			return "an aborting connection owes its RST and nothing else";
		if (s->to_host_len || s->to_guest_len)
			return "bytes on an aborting connection";
		return swr != eof || srd != gone ? "host flags disagree" : NULL;
	}
	if (s->pending & ~(VSOCK_P_RESPONSE | VSOCK_P_CREDIT))
		return "a control packet owed that this state cannot owe";
	if ((s->state == W_CLOSING) != (s->local_shut == VSOCK_SHUT_BOTH))
		return "state and the SHUTDOWN sent disagree";
	/* with nothing left to flush, the device has passed a guest SHUTDOWN
	 * on (SHUT_WR), and ended a closed connection (RST) */
	if (!s->to_host_len && (s->peer_shut & VIRTIO_VSOCK_SHUTDOWN_SEND) && !wr)
		return "the guest's SHUTDOWN(SEND) not passed on";
	if (!s->to_host_len && s->peer_shut == VSOCK_SHUT_BOTH)
		return "a connection the guest closed not reset";
	/* what poll() on the rebuilt device end will report again */
	if ((swr && !eof && peer_rcv) || (srd && !gone && (wr || !(swr || peer_rcv))))
		return "host flags disagree";
	if (s->to_guest_len && (s->state != W_CONNECTED || eof || peer_rcv))
		return "host -> guest bytes the guest can no longer receive";
	return NULL;
}

static int state_parse(const uint8_t *blob, size_t len, unsigned max_conns, struct saved_dev *d,
		       struct kv_err *err)
{
	struct le_cur c = {.p = blob, .left = blob ? len : 0};
	const uint8_t *magic = le_take(&c, 4);
	uint32_t version = le_get32(&c);
	d->next_ephemeral = le_get32(&c);
	d->norphans = le_get32(&c);
	d->nconns = le_get32(&c);
	d->event_pending = le_get8(&c);
	uint8_t reserved = le_get8(&c) | le_get8(&c) | le_get8(&c);
	if (c.bad)
		return BAD(err, "%zu bytes, shorter than the header", len);
	if (memcmp(magic, STATE_MAGIC, 4) != 0)
		return BAD(err, "bad magic: not a virtio-vsock state");
	if (version != STATE_VERSION)
		return BAD(err, "version %u, this kvbox reads %u", version, STATE_VERSION);
	if (d->event_pending > 1 || reserved)
		return BAD(err, "unknown bits set in the header");
	if (d->next_ephemeral < VSOCK_EPHEMERAL_BASE || d->next_ephemeral == VMADDR_PORT_ANY)
		return BAD(err, "next ephemeral port %u out of range", d->next_ephemeral);
	if (d->norphans > VSOCK_ORPHAN_MAX)
		return BAD(err, "%u owed RSTs, the limit is %u", d->norphans, VSOCK_ORPHAN_MAX);
	if (d->nconns > max_conns)
		return BAD(err, "%u connections, this device holds %u", d->nconns, max_conns);
	for (uint32_t i = 0; i < d->norphans; i++) {
		d->orphans[i].guest_port = le_get32(&c);
		d->orphans[i].host_port = le_get32(&c);
	}
	if (c.bad || d->nconns > c.left / CONN_LEN)
		return BAD(err, "truncated: %zu bytes for %u owed RSTs and %u connections", len,
			   d->norphans, d->nconns);
	d->conns = calloc(d->nconns ? d->nconns : 1, sizeof(*d->conns));
	if (!d->conns)
		return kv_err_set(err, ENOMEM, "virtio-vsock state: out of memory");
	for (uint32_t i = 0; i < d->nconns; i++) {
		struct saved_conn *s = &d->conns[i];
		conn_decode(&c, s);
		const char *why = c.bad ? "truncated" : conn_check(s);
		for (uint32_t j = 0; j < i && !why; j++)
			if (d->conns[j].guest_port == s->guest_port &&
			    d->conns[j].host_port == s->host_port)
				why = "saved twice";
		if (why)
			return BAD(err, "connection %u (port %u->%u): %s", i, s->guest_port,
				   s->host_port, why);
	}
	if (c.left)
		return BAD(err, "%zu trailing bytes", c.left);
	return 0;
}

/* ---- save ---- */

static uint8_t wire_state(enum vsock_state st)
{
	return st == VSOCK_CONNECTED ? W_CONNECTED : st == VSOCK_CLOSING ? W_CLOSING : W_ABORTING;
}

static bool conn_saved(const struct vsock_conn *c)
{
	return c->state == VSOCK_CONNECTED || c->state == VSOCK_CLOSING ||
	       c->state == VSOCK_ABORTING;
}

/* The host -> guest bytes waiting in c's device end, left in place. */
static int peek_backlog(const struct vsock_conn *c, uint8_t **out, uint32_t *n, struct kv_err *err)
{
	int avail = 0;
	if (ioctl(c->fd, FIONREAD, &avail) < 0)
		return kv_err_sys(err, errno, "virtio-vsock: port %u->%u: FIONREAD", c->guest_port,
				  c->host_port);
	if (avail <= 0)
		return 0;
	if ((unsigned)avail > VSOCK_SAVE_BACKLOG_MAX)
		return kv_err_set(err, ENOSPC,
				  "virtio-vsock: port %u->%u: %d host bytes wait for the guest, "
				  "over the %u a checkpoint holds",
				  c->guest_port, c->host_port, avail, VSOCK_SAVE_BACKLOG_MAX);
	uint8_t *b = malloc((size_t)avail);
	if (!b)
		return kv_err_set(err, ENOMEM, "virtio-vsock: out of memory");
	/* With a peek offset each MSG_PEEK goes on where the last stopped;
	 * without one, every peek starts over and must get it all. */
	int off = 0;
	bool stepped = setsockopt(c->fd, SOL_SOCKET, SO_PEEK_OFF, &off, sizeof(off)) == 0;
	size_t got = 0;
	for (unsigned tries = 0; got < (size_t)avail && tries < PEEK_TRIES; tries++) {
		size_t at = stepped ? got : 0;
		ssize_t k = recv(c->fd, b + at, (size_t)avail - at, MSG_PEEK | MSG_DONTWAIT);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		got = at + (size_t)k;
	}
	if (stepped) {
		off = -1;
		setsockopt(c->fd, SOL_SOCKET, SO_PEEK_OFF, &off, sizeof(off));
	}
	if (got != (size_t)avail) {
		free(b);
		return kv_err_set(err, EIO, "virtio-vsock: port %u->%u: peeked %zu of %d bytes",
				  c->guest_port, c->host_port, got, avail);
	}
	*out = b;
	*n = (uint32_t)avail;
	return 0;
}

static int save_conn(struct vsock_conn *c, struct wbuf *w, struct kv_err *err)
{
	struct saved_conn s = {
	    .guest_port = c->guest_port,
	    .host_port = c->host_port,
	    .state = wire_state(c->state),
	    .pending = c->pending,
	    .local_shut = c->local_shut,
	    .peer_shut = c->peer_shut,
	    .flags = (uint8_t)((c->host_eof ? SF_HOST_EOF | SF_HOST_SHUT_WR : 0u) |
			       (c->host_gone ? SF_HOST_GONE | SF_HOST_SHUT_RD : 0u) |
			       (c->wr_shut ? SF_WR_SHUT : 0u)),
	    .peer_buf_alloc = c->peer_buf_alloc,
	    .peer_fwd_cnt = c->peer_fwd_cnt,
	    .tx_cnt = c->tx_cnt,
	    .rx_cnt = c->rx_cnt,
	    .fwd_cnt = c->fwd_cnt,
	    .fwd_adv = c->fwd_adv,
	    .to_host = c->buf.data ? c->buf.data + c->buf.head : NULL,
	    .to_host_len = c->buf.len,
	};
	if (c->buf.len != vsock_conn_buffered(c))
		return kv_err_set(err, EIO,
				  "virtio-vsock: port %u->%u: %u bytes buffered, %u counted",
				  c->guest_port, c->host_port, c->buf.len, vsock_conn_buffered(c));
	cleanup_free uint8_t *backlog = NULL;
	if (c->fd >= 0 && c->state != VSOCK_ABORTING) {
		/* Shutdowns of the host end the device has not read yet; our own
		 * SHUT_RD (guest shut RCV) and SHUT_WR look the same from here. */
		struct pollfd p = {.fd = c->fd, .events = POLLRDHUP};
		if (poll(&p, 1, 0) > 0) {
			if ((p.revents & POLLRDHUP) && !(c->peer_shut & VIRTIO_VSOCK_SHUTDOWN_RCV))
				s.flags |= SF_HOST_SHUT_WR;
			if ((p.revents & POLLHUP) && !c->wr_shut)
				s.flags |= SF_HOST_SHUT_RD;
		}
		/* after the poll: bytes written before a shutdown it saw are in */
		if (c->state == VSOCK_CONNECTED && !c->host_eof &&
		    !(c->peer_shut & VIRTIO_VSOCK_SHUTDOWN_RCV)) {
			int r = peek_backlog(c, &backlog, &s.to_guest_len, err);
			if (r < 0)
				return r;
			s.to_guest = backlog;
		}
	}
	conn_encode(w, &s);
	return 0;
}

static int save_locked(struct virtio_vsock *vs, struct wbuf *w, struct kv_err *err)
{
	static const uint8_t zero[3];
	uint32_t n = 0;
	for (unsigned i = 0; i < vs->max_conns; i++) {
		const struct vsock_conn *c = &vs->conns[i];
		/* a REQUEST owed on a live connection: a guest answered one
		 * it never got; either way it is being set up */
		if (c->state == VSOCK_CONNECTING ||
		    (conn_saved(c) && (c->pending & VSOCK_P_REQUEST)))
			return kv_err_set(err, EBUSY,
					  "virtio-vsock: a connection to guest port %u (host port "
					  "%u) is being set up; try again",
					  c->guest_port, c->host_port);
		n += conn_saved(c);
	}
	put(w, STATE_MAGIC, 4);
	put32(w, STATE_VERSION);
	put32(w, vs->next_ephemeral);
	put32(w, vs->orphan_len);
	put32(w, n);
	put8(w, vs->event_pending);
	put(w, zero, 3);
	for (unsigned k = 0; k < vs->orphan_len; k++) {
		const struct vsock_orphan *o =
		    &vs->orphans[(vs->orphan_head + k) % VSOCK_ORPHAN_MAX];
		put32(w, o->guest_port);
		put32(w, o->host_port);
	}
	for (unsigned i = 0; i < vs->max_conns; i++) {
		if (!conn_saved(&vs->conns[i]))
			continue;
		int r = save_conn(&vs->conns[i], w, err);
		if (r < 0)
			return r;
	}
	if (w->nomem)
		return kv_err_set(err, ENOMEM, "virtio-vsock: out of memory");
	return 0;
}

int virtio_vsock_save(struct virtio_vsock *vs, uint8_t **out, size_t *len, struct kv_err *err)
{
	struct wbuf w = {0};
	*out = NULL;
	*len = 0;
	pthread_mutex_lock(&vs->vdev.lock);
	int r = save_locked(vs, &w, err);
	if (r == 0)
		vsock_rx_unhold(vs); /* the caller saves the rx queue after us */
	pthread_mutex_unlock(&vs->vdev.lock);
	if (r < 0) {
		free(w.p);
		return r;
	}
	*out = w.p;
	*len = w.len;
	return 0;
}

/* ---- restore ---- */

static enum vsock_state state_of(uint8_t wire)
{
	return wire == W_CONNECTED ? VSOCK_CONNECTED
	       : wire == W_CLOSING ? VSOCK_CLOSING
				   : VSOCK_ABORTING;
}

/* Writes the saved host -> guest bytes into the new host end: the device
 * sends them to the guest before anything the new owner writes.  The
 * socket's send buffer is raised for them (up to wmem_max), then put back. */
static int put_backlog(const struct vsock_conn *c, const struct saved_conn *s, struct kv_err *err)
{
	int orig = 0;
	socklen_t olen = sizeof(orig);
	bool raised = getsockopt(c->host_fd, SOL_SOCKET, SO_SNDBUF, &orig, &olen) == 0;
	int want = (int)s->to_guest_len + (64 << 10); /* <= 4 MiB + 64 KiB */
	raised = raised && setsockopt(c->host_fd, SOL_SOCKET, SO_SNDBUF, &want, sizeof(want)) == 0;
	size_t done = 0;
	while (done < s->to_guest_len) {
		ssize_t k = send(c->host_fd, s->to_guest + done, s->to_guest_len - done,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		done += (size_t)k;
	}
	if (raised) {
		int back = orig / 2; /* the kernel doubles what it is given */
		setsockopt(c->host_fd, SOL_SOCKET, SO_SNDBUF, &back, sizeof(back));
	}
	if (done < s->to_guest_len)
		return kv_err_set(err, ENOSPC,
				  "virtio-vsock: port %u->%u: only %zu of %u host -> guest bytes "
				  "fit a new socket",
				  s->guest_port, s->host_port, done, s->to_guest_len);
	return 0;
}

static int build_conn(struct virtio_vsock *vs, struct saved_conn *s, struct kv_err *err)
{
	int e = 0;
	struct vsock_conn *c =
	    vsock_conn_new(vs, s->guest_port, s->host_port, state_of(s->state), &e);
	if (!c)
		return kv_err_sys(err, -e, "virtio-vsock: restoring port %u->%u", s->guest_port,
				  s->host_port);
	s->slot = (int)(c - vs->conns);
	c->pending = s->pending;
	c->local_shut = s->local_shut;
	c->peer_shut = s->peer_shut;
	c->host_eof = s->flags & SF_HOST_EOF;
	c->host_gone = s->flags & SF_HOST_GONE;
	c->wr_shut = s->flags & SF_WR_SHUT;
	c->peer_buf_alloc = s->peer_buf_alloc;
	c->peer_fwd_cnt = s->peer_fwd_cnt;
	c->tx_cnt = s->tx_cnt;
	c->rx_cnt = s->rx_cnt;
	c->fwd_cnt = s->fwd_cnt;
	c->fwd_adv = s->fwd_adv;
	if (s->state == W_ABORTING) { /* no host side: the RST is all it has */
		vsock_conn_close_fd(vs, c);
		close(take_fd(c->host_fd));
		return 0;
	}
	if (s->to_host_len) {
		c->buf.data = malloc(s->to_host_len);
		if (!c->buf.data)
			return kv_err_set(err, ENOMEM, "virtio-vsock: out of memory");
		memcpy(c->buf.data, s->to_host, s->to_host_len);
		c->buf.len = c->buf.cap = s->to_host_len;
	}
	if (s->to_guest_len) {
		int r = put_backlog(c, s, err);
		if (r < 0)
			return r;
	}
	/* the old socketpair's shutdowns, each on the end it was made on */
	if (s->flags & SF_HOST_SHUT_WR)
		shutdown(c->host_fd, SHUT_WR);
	if (s->flags & SF_HOST_SHUT_RD)
		shutdown(c->host_fd, SHUT_RD);
	if (s->peer_shut & VIRTIO_VSOCK_SHUTDOWN_RCV)
		shutdown(c->fd, SHUT_RD);
	if (c->wr_shut)
		shutdown(c->fd, SHUT_WR);
	vsock_conn_update_events(vs, c);
	return 0;
}

static int restore_locked(struct virtio_vsock *vs, struct saved_dev *d, struct kv_err *err)
{
	for (unsigned i = 0; i < vs->max_conns; i++)
		if (vs->conns[i].state != VSOCK_FREE)
			return kv_err_set(err, EBUSY,
					  "virtio-vsock: restore into a device with connections");
	if (vs->orphan_len)
		return kv_err_set(err, EBUSY, "virtio-vsock: restore into a device that was used");
	struct vsock_stats stats = vs->stats;
	int r = 0;
	for (uint32_t i = 0; i < d->nconns && r == 0; i++)
		r = build_conn(vs, &d->conns[i], err);
	if (r < 0) { /* the table was empty: drop whatever is in it now */
		vsock_conn_drop_all(vs);
		vs->stats = stats;
		return r;
	}
	vs->next_ephemeral = d->next_ephemeral;
	vs->event_pending = d->event_pending;
	vs->orphan_head = 0;
	vs->orphan_len = d->norphans;
	memcpy(vs->orphans, d->orphans, d->norphans * sizeof(*d->orphans));
	vsock_wake(vs);
	return 0;
}

int virtio_vsock_restore(struct virtio_vsock *vs, const uint8_t *blob, size_t len,
			 vsock_accept_fn fn, void *ctx, struct kv_err *err)
{
	struct saved_dev d = {0};
	int r = state_parse(blob, len, vs->max_conns, &d, err);
	if (r < 0) {
		free(d.conns);
		return r;
	}
	int fds[VSOCK_MAX_CONNS];
	pthread_mutex_lock(&vs->vdev.lock);
	r = restore_locked(vs, &d, err);
	for (uint32_t i = 0; i < d.nconns && r == 0; i++)
		fds[i] = d.conns[i].slot < 0 ? -1 : take_fd(vs->conns[d.conns[i].slot].host_fd);
	pthread_mutex_unlock(&vs->vdev.lock);
	for (uint32_t i = 0; i < d.nconns && r == 0; i++) {
		if (fds[i] < 0)
			continue;
		if (fn)
			fn(ctx, fds[i], d.conns[i].host_port, d.conns[i].guest_port);
		else
			close(fds[i]);
	}
	free(d.conns);
	return r;
}
