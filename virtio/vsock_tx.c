/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-vsock, guest -> host: the tx queue.  Holds the one parser of
 * guest packets (vsock_parse) and the per-op handling behind it.
 *
 * A packet flows: virtq_pop() gives a validated chain -> vsock_parse()
 * reads the 44-byte header through a vq_reader and checks every field
 * (CIDs, type, op, len against VSOCK_MAX_PAYLOAD and the chain) into a
 * struct vsock_pkt -> tx_dispatch() looks up (guest port, host port) and
 * applies the op to the connection's state machine; RW payload goes to
 * vsock_conn_to_host() -> the chain is returned with 0 bytes written.
 * The tx queue never stalls: a connection's bytes are bounded by the credit
 * we advertised, and a guest that sends past it is hostile and gets RST.
 * A malformed packet costs the guest that connection (RST; a short header
 * or an RST is only dropped) and one rate-limited log line; the device
 * keeps working.  A broken ring (virtq_pop error) is NEEDS_RESET.
 */
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include <linux/vm_sockets.h>

#include "virtio/vsock_internal.h"

static const char *const bad_names[VSOCK_BAD_END] = {
    [VSOCK_OK] = "ok",
    [VSOCK_BAD_SHORT] = "short header",
    [VSOCK_BAD_SRC_CID] = "src_cid is not the guest's",
    [VSOCK_BAD_DST_CID] = "dst_cid is not the host",
    [VSOCK_BAD_TYPE] = "type is not STREAM",
    [VSOCK_BAD_OP] = "unknown op",
    [VSOCK_BAD_LEN_MAX] = "len over the packet limit",
    [VSOCK_BAD_LEN_CHAIN] = "len past the end of the buffer",
    [VSOCK_BAD_LEN_CTRL] = "payload on a control op",
};

const char *vsock_bad_str(int bad)
{
	return bad >= 0 && bad < VSOCK_BAD_END ? bad_names[bad] : "?";
}

int vsock_parse(struct vq_reader *r, uint64_t guest_cid, struct vsock_pkt *p)
{
	struct virtio_vsock_hdr h;
	if (vq_read(r, &h, sizeof(h)) < 0)
		return VSOCK_BAD_SHORT;
	*p = (struct vsock_pkt){
	    .src_cid = le64toh(h.src_cid),
	    .dst_cid = le64toh(h.dst_cid),
	    .guest_port = le32toh(h.src_port),
	    .host_port = le32toh(h.dst_port),
	    .len = le32toh(h.len),
	    .type = le16toh(h.type),
	    .op = le16toh(h.op),
	    .flags = le32toh(h.flags),
	    .buf_alloc = le32toh(h.buf_alloc),
	    .fwd_cnt = le32toh(h.fwd_cnt),
	};
	if (p->src_cid != guest_cid)
		return VSOCK_BAD_SRC_CID;
	if (p->dst_cid != VSOCK_HOST_CID)
		return VSOCK_BAD_DST_CID;
	if (p->type != VIRTIO_VSOCK_TYPE_STREAM)
		return VSOCK_BAD_TYPE;
	if (p->op < VIRTIO_VSOCK_OP_REQUEST || p->op > VIRTIO_VSOCK_OP_CREDIT_REQUEST)
		return VSOCK_BAD_OP;
	if (p->len > VSOCK_MAX_PAYLOAD)
		return VSOCK_BAD_LEN_MAX;
	if (p->len > vq_reader_remaining(r))
		return VSOCK_BAD_LEN_CHAIN;
	if (p->len && p->op != VIRTIO_VSOCK_OP_RW)
		return VSOCK_BAD_LEN_CTRL;
	return VSOCK_OK;
}

/* A packet for which the guest owes an explanation: reset what it hit. */
static void tx_reset(struct virtio_vsock *vs, const struct vsock_pkt *p, struct vsock_conn *c,
		     const char *why)
{
	virtio_dev_log(&vs->vdev, "port %" PRIu32 "->%" PRIu32 " op %u: %s, reset", p->guest_port,
		       p->host_port, p->op, why);
	vs->stats.bad_packets++;
	if (c)
		vsock_conn_abort(vs, c, VSOCK_N_RESET);
	else
		vsock_orphan_rst(vs, p->guest_port, p->host_port);
}

static void tx_bad(struct virtio_vsock *vs, const struct vsock_pkt *p, int bad)
{
	if (bad == VSOCK_BAD_SHORT || p->op == VIRTIO_VSOCK_OP_RST) {
		vs->stats.bad_packets++;
		virtio_dev_log(&vs->vdev, "tx: %s, dropped", vsock_bad_str(bad));
		return;
	}
	/* Only a packet that is really ours may end a live connection; one
	 * for another CID still gets an RST, which the guest will match to
	 * no socket of ours. */
	struct vsock_conn *c = NULL;
	if (bad != VSOCK_BAD_SRC_CID && bad != VSOCK_BAD_DST_CID)
		c = vsock_conn_lookup(vs, p->guest_port, p->host_port);
	tx_reset(vs, p, c, vsock_bad_str(bad));
}

static const struct vsock_listener *listener_find(const struct virtio_vsock *vs, uint32_t port)
{
	for (unsigned i = 0; i < VSOCK_MAX_LISTENERS; i++)
		if (vs->listeners[i].used && vs->listeners[i].port == port)
			return &vs->listeners[i];
	return NULL;
}

/* Guest connect() to a host port. */
static void tx_request(struct virtio_vsock *vs, const struct vsock_pkt *p)
{
	if (p->guest_port == VMADDR_PORT_ANY) { /* Linux never binds it */
		tx_reset(vs, p, NULL, "source port is VMADDR_PORT_ANY");
		return;
	}
	const struct vsock_listener *l = listener_find(vs, p->host_port);
	if (!l) {
		vsock_orphan_rst(vs, p->guest_port, p->host_port); /* ECONNREFUSED */
		return;
	}
	int e = 0;
	struct vsock_conn *c = vsock_conn_new(vs, p->guest_port, p->host_port, VSOCK_CONNECTED, &e);
	if (!c) {
		virtio_dev_log(&vs->vdev, "port %" PRIu32 "->%" PRIu32 ": refused: %s",
			       p->guest_port, p->host_port,
			       e == -ENOSPC ? "connection table full" : strerror(-e));
		vsock_orphan_rst(vs, p->guest_port, p->host_port);
		return;
	}
	c->peer_buf_alloc = p->buf_alloc;
	c->peer_fwd_cnt = p->fwd_cnt;
	c->cb.accept = l->fn;
	c->cb_ctx = l->ctx;
	c->pending = VSOCK_P_RESPONSE;
	c->notify = VSOCK_N_ACCEPT;
	vsock_conn_update_events(vs, c);
	vsock_wake(vs);
}

static void tx_rw(struct virtio_vsock *vs, const struct vsock_pkt *p, struct vsock_conn *c,
		  struct vq_reader *r)
{
	if (c->state == VSOCK_CLOSING) {
		c->rx_cnt += p->len; /* in flight before our SHUTDOWN: discard */
		c->fwd_cnt += p->len;
		return;
	}
	if (c->peer_shut & VIRTIO_VSOCK_SHUTDOWN_SEND) {
		tx_reset(vs, p, c, "data after SHUTDOWN(SEND)");
		return;
	}
	if (p->len > VSOCK_BUF_ALLOC - vsock_conn_buffered(c)) {
		tx_reset(vs, p, c, "data beyond the credit we gave");
		return;
	}
	vsock_conn_to_host(vs, c, r, p->len);
}

/* A packet for an existing connection in a live state. */
static void tx_conn(struct virtio_vsock *vs, const struct vsock_pkt *p, struct vsock_conn *c,
		    struct vq_reader *r)
{
	c->peer_buf_alloc = p->buf_alloc;
	c->peer_fwd_cnt = p->fwd_cnt;
	if (p->op == VIRTIO_VSOCK_OP_RST) {
		if (c->state == VSOCK_CONNECTING && c->cb.connect)
			c->notify |= VSOCK_N_REFUSED;
		if (c->notify)
			vsock_wake(vs);
		vsock_conn_close(vs, c);
		return;
	}
	if (c->state == VSOCK_CONNECTING) {
		if (p->op != VIRTIO_VSOCK_OP_RESPONSE) {
			tx_reset(vs, p, c, "not a RESPONSE to our REQUEST");
			return;
		}
		c->state = VSOCK_CONNECTED;
		if (c->cb.connect) {
			c->notify |= VSOCK_N_CONNECTED;
			vsock_wake(vs);
		}
		vsock_conn_update_events(vs, c);
		return;
	}
	switch (p->op) {
	case VIRTIO_VSOCK_OP_RW:
		tx_rw(vs, p, c, r);
		break;
	case VIRTIO_VSOCK_OP_SHUTDOWN:
		vsock_conn_peer_shutdown(vs, c, p->flags);
		break;
	case VIRTIO_VSOCK_OP_CREDIT_UPDATE:
		break; /* the new numbers are all it carries */
	case VIRTIO_VSOCK_OP_CREDIT_REQUEST:
		c->pending |= VSOCK_P_CREDIT;
		break;
	default: /* REQUEST or RESPONSE on an established connection */
		tx_reset(vs, p, c, "connection already established");
		break;
	}
}

static void tx_dispatch(struct virtio_vsock *vs, const struct vsock_pkt *p, struct vq_reader *r)
{
	struct vsock_conn *c = vsock_conn_lookup(vs, p->guest_port, p->host_port);
	if (c && c->state == VSOCK_ABORTING)
		return; /* an RST is on its way; anything else is moot */
	if (c) {
		tx_conn(vs, p, c, r);
		return;
	}
	if (p->op == VIRTIO_VSOCK_OP_REQUEST)
		tx_request(vs, p);
	else if (p->op != VIRTIO_VSOCK_OP_RST)
		vsock_orphan_rst(vs, p->guest_port, p->host_port);
}

void vsock_tx_process(struct virtio_vsock *vs)
{
	struct virtq *q = &vs->vqs[VSOCK_Q_TX];
	struct vq_chain *ch = vs->scratch;
	unsigned n = 0;
	int r = 0;

	if (!virtio_dev_driver_ok(&vs->vdev))
		return;
	while (n < VSOCK_BUDGET && (r = virtq_pop(q, ch)) > 0) {
		struct vq_reader rd;
		struct vsock_pkt p;
		vq_reader_init(&rd, ch);
		int bad = vsock_parse(&rd, vs->guest_cid, &p);
		if (bad)
			tx_bad(vs, &p, bad);
		else
			tx_dispatch(vs, &p, &rd);
		virtq_push(q, ch, 0);
		vs->stats.tx_packets++;
		n++;
	}
	if (r < 0) {
		virtio_dev_fail(&vs->vdev, "tx queue: %s", vq_strerror(r));
		return;
	}
	if (n == VSOCK_BUDGET)
		vsock_wake(vs); /* more may be queued: poll() continues */
	if (n)
		virtio_dev_signal(&vs->vdev, q);
	vsock_rx_fill(vs);
}
