/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-vsock, host -> guest: the rx queue and the event queue.
 *
 * The guest's rx buffers are one pool shared by every connection, so they
 * are handed out one packet at a time, round-robin: vsock_rx_fill() first
 * serves owed RSTs for packets without a connection, then the next
 * connection (after the one served last) that wants the rx queue: a
 * control packet owed (RST, REQUEST, RESPONSE), host bytes to send (its
 * socket was readable and the guest has credit), a SHUTDOWN owed (host EOF
 * or host gone), a CREDIT_UPDATE owed.  Host bytes are read with readv()
 * straight into the guest's buffer behind the header, never more than the
 * guest's credit, the buffer, or VSOCK_MAX_PAYLOAD.  A popped buffer that
 * turned out not to be needed (the socket had nothing after all) is held
 * for the next packet: there is no "un-pop".  Every header carries our
 * buf_alloc and fwd_cnt, so any packet is also a credit update.
 */
#include <errno.h>
#include <string.h>
#include <sys/uio.h>
#include <endian.h>

#include "virtio/vsock_internal.h"

#define READ_IOV_MAX 64

/* The rx buffer to fill next: the held one or a new pop.  false when the
 * guest has none posted (or broke the queue). */
static bool rx_get_chain(struct virtio_vsock *vs)
{
	if (vs->rx_held)
		return true;
	int r = virtq_pop(&vs->vqs[VSOCK_Q_RX], vs->rx_chain);
	if (r < 0) {
		virtio_dev_fail(&vs->vdev, "rx queue: %s", vq_strerror(r));
		return false;
	}
	vs->rx_held = r > 0;
	return vs->rx_held;
}

static struct virtio_vsock_hdr rx_hdr(const struct virtio_vsock *vs, uint32_t guest_port,
				      uint32_t host_port, uint16_t op)
{
	return (struct virtio_vsock_hdr){
	    .src_cid = htole64(VSOCK_HOST_CID),
	    .dst_cid = htole64(vs->guest_cid),
	    .src_port = htole32(host_port),
	    .dst_port = htole32(guest_port),
	    .type = htole16(VIRTIO_VSOCK_TYPE_STREAM),
	    .op = htole16(op),
	};
}

void vsock_orphan_rst(struct virtio_vsock *vs, uint32_t guest_port, uint32_t host_port)
{
	if (vs->orphan_len == VSOCK_ORPHAN_MAX) {
		vs->stats.orphans_dropped++;
		return; /* the guest's connect() times out instead */
	}
	unsigned i = (vs->orphan_head + vs->orphan_len++) % VSOCK_ORPHAN_MAX;
	vs->orphans[i] = (struct vsock_orphan){guest_port, host_port};
}

static uint32_t rx_orphan(struct virtio_vsock *vs, const struct vq_chain *ch)
{
	struct vsock_orphan o = vs->orphans[vs->orphan_head];
	vs->orphan_head = (vs->orphan_head + 1) % VSOCK_ORPHAN_MAX;
	vs->orphan_len--;
	struct virtio_vsock_hdr h = rx_hdr(vs, o.guest_port, o.host_port, VIRTIO_VSOCK_OP_RST);
	struct vq_writer w;
	vq_writer_init(&w, ch);
	vq_write(&w, &h, sizeof(h)); /* caller checked write_len >= header */
	vs->stats.resets_sent++;
	return VSOCK_HDR_LEN;
}

static uint32_t min32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

/* Reads host bytes into the buffer at w.  Returns bytes read; 0 when the
 * socket had none (readable cleared) or hit EOF (host_eof set). */
static uint32_t rx_read_data(struct virtio_vsock *vs, struct vsock_conn *c, struct vq_writer *w)
{
	struct iovec iov[READ_IOV_MAX];
	size_t want = min32((uint32_t)vq_writer_remaining(w),
			    min32(vsock_conn_peer_credit(c), VSOCK_MAX_PAYLOAD));
	int n = 0;
	while (want && (n = vq_writer_iov(w, want, iov, READ_IOV_MAX)) == -ENOBUFS)
		want /= 2;
	if (!want || n <= 0)
		return 0;
	ssize_t r;
	do
		r = readv(c->fd, iov, n);
	while (r < 0 && errno == EINTR);
	if (r > 0)
		return (uint32_t)r;
	if (r < 0 && errno == EAGAIN)
		c->readable = false;
	else
		c->host_eof = true; /* EOF, or a socket error: nothing more */
	vsock_conn_update_events(vs, c);
	return 0;
}

/* Picks the packet c owes most urgently; returns its op (0: none) and
 * fills *len (RW payload already placed behind the header) and *flags. */
static uint16_t rx_choose(struct virtio_vsock *vs, struct vsock_conn *c, struct vq_writer *w,
			  uint32_t *len, uint32_t *flags)
{
	if (c->pending & VSOCK_P_RST)
		return VIRTIO_VSOCK_OP_RST;
	if (c->pending & VSOCK_P_REQUEST)
		return VIRTIO_VSOCK_OP_REQUEST;
	if (c->pending & VSOCK_P_RESPONSE)
		return VIRTIO_VSOCK_OP_RESPONSE;
	if (vsock_conn_can_send_data(c)) {
		struct vq_writer data = *w;
		vq_writer_skip(&data, VSOCK_HDR_LEN);
		*len = rx_read_data(vs, c, &data);
		if (*len)
			return VIRTIO_VSOCK_OP_RW;
	}
	if ((*flags = vsock_conn_shut_owed(c)))
		return VIRTIO_VSOCK_OP_SHUTDOWN;
	if (c->pending & VSOCK_P_CREDIT)
		return VIRTIO_VSOCK_OP_CREDIT_UPDATE;
	return 0;
}

/* The state change that sending op means for c. */
static void rx_sent(struct virtio_vsock *vs, struct vsock_conn *c, uint16_t op, uint32_t len,
		    uint32_t flags)
{
	c->fwd_adv = c->fwd_cnt;
	c->pending &= (uint8_t)~VSOCK_P_CREDIT;
	switch (op) {
	case VIRTIO_VSOCK_OP_RST:
		vs->stats.resets_sent++;
		vsock_conn_close(vs, c);
		return;
	case VIRTIO_VSOCK_OP_REQUEST:
		c->pending &= (uint8_t)~VSOCK_P_REQUEST;
		break;
	case VIRTIO_VSOCK_OP_RESPONSE:
		c->pending &= (uint8_t)~VSOCK_P_RESPONSE;
		break;
	case VIRTIO_VSOCK_OP_RW:
		c->tx_cnt += len;
		vs->stats.bytes_to_guest += len;
		break;
	case VIRTIO_VSOCK_OP_SHUTDOWN:
		c->local_shut |= (uint8_t)flags;
		if (c->local_shut == VSOCK_SHUT_BOTH)
			c->state = VSOCK_CLOSING; /* the guest answers with RST */
		break;
	}
	vsock_conn_update_events(vs, c);
}

/* Builds c's next packet into ch; returns bytes written, 0 if c had
 * nothing after all (ch stays free for someone else). */
static uint32_t rx_build(struct virtio_vsock *vs, struct vsock_conn *c, const struct vq_chain *ch)
{
	struct vq_writer w;
	uint32_t len = 0, flags = 0;
	vq_writer_init(&w, ch);
	uint16_t op = rx_choose(vs, c, &w, &len, &flags);
	if (!op)
		return 0;
	struct virtio_vsock_hdr h = rx_hdr(vs, c->guest_port, c->host_port, op);
	h.len = htole32(len);
	h.flags = htole32(flags);
	h.buf_alloc = htole32(VSOCK_BUF_ALLOC);
	h.fwd_cnt = htole32(c->fwd_cnt);
	vq_write(&w, &h, sizeof(h));
	rx_sent(vs, c, op, len, flags);
	return VSOCK_HDR_LEN + len;
}

/* The next connection after the last one served that wants the rx queue. */
static struct vsock_conn *rx_next_conn(struct virtio_vsock *vs)
{
	for (unsigned k = 0; k < vs->max_conns; k++) {
		unsigned i = (vs->rr + k) % vs->max_conns;
		struct vsock_conn *c = &vs->conns[i];
		if (c->state != VSOCK_FREE && c->state != VSOCK_DEAD && vsock_conn_wants_rx(c)) {
			vs->rr = (i + 1) % vs->max_conns;
			return c;
		}
	}
	return NULL;
}

void vsock_rx_fill(struct virtio_vsock *vs)
{
	struct virtq *q = &vs->vqs[VSOCK_Q_RX];
	bool pushed = false;
	unsigned budget = VSOCK_BUDGET;

	if (!virtio_dev_driver_ok(&vs->vdev))
		return;
	for (; budget; budget--) {
		struct vsock_conn *c = NULL;
		if (!vs->orphan_len && !(c = rx_next_conn(vs)))
			break;
		if (!rx_get_chain(vs))
			break;
		const struct vq_chain *ch = vs->rx_chain;
		uint32_t n = 0;
		/* A buffer with no room for payload could never carry data: a
		 * connection wanting to send would spin on it.  Linux posts 4 KiB. */
		if (ch->write_len <= VSOCK_HDR_LEN)
			virtio_dev_log(&vs->vdev, "rx buffer of %u bytes has no room for data",
				       ch->write_len);
		else if (!(n = vs->orphan_len ? rx_orphan(vs, ch) : rx_build(vs, c, ch)))
			continue;
		virtq_push(q, ch, n);
		vs->rx_held = false;
		vs->stats.rx_packets++;
		pushed = true;
	}
	if (!budget)
		vsock_wake(vs); /* more to do: come back through poll() */
	if (pushed)
		virtio_dev_signal(&vs->vdev, q);
}

void vsock_event_fill(struct virtio_vsock *vs)
{
	struct virtq *q = &vs->vqs[VSOCK_Q_EVENT];
	struct vq_chain *ch = vs->scratch;
	int r;

	if (!vs->event_pending || !virtio_dev_driver_ok(&vs->vdev))
		return;
	while ((r = virtq_pop(q, ch)) > 0) {
		struct virtio_vsock_event ev = {.id = htole32(VIRTIO_VSOCK_EVENT_TRANSPORT_RESET)};
		struct vq_writer w;
		vq_writer_init(&w, ch);
		bool ok = vq_write(&w, &ev, sizeof(ev)) == 0;
		virtq_push(q, ch, ok ? (uint32_t)sizeof(ev) : 0);
		virtio_dev_signal(&vs->vdev, q);
		if (ok) {
			vs->event_pending = false;
			return;
		}
		virtio_dev_log(&vs->vdev, "event buffer of %u bytes is too small", ch->write_len);
	}
	if (r < 0)
		virtio_dev_fail(&vs->vdev, "event queue: %s", vq_strerror(r));
}

/* The ring still holds the buffer's head at last_avail - 1 (the guest
 * cannot reuse that slot while the buffer is ours), so the next pop gets
 * the same buffer again, validated anew.  With EVENT_IDX nothing changes
 * for the guest: avail_event is only re-armed when a pop finds nothing. */
void vsock_rx_unhold(struct virtio_vsock *vs)
{
	if (!vs->rx_held)
		return;
	vs->vqs[VSOCK_Q_RX].last_avail--;
	vs->rx_held = false;
}

void vsock_rx_reset(struct virtio_vsock *vs, bool queues_reset)
{
	if (queues_reset)
		vs->rx_held = false; /* the guest took its buffers back */
	vs->orphan_head = 0;
	vs->orphan_len = 0;
}
