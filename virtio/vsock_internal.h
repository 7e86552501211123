/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared between the virtio-vsock sources, not an interface: vsock.c
 * (device ops, host API, poll), vsock_tx.c (parser and guest packets),
 * vsock_rx.c (packets to the guest, event queue), vsock_conn.c (connection
 * table, host socket I/O, shutdown and credit bookkeeping).
 * Everything here runs with vs->vdev.lock held.
 */
#ifndef KVBOX_VIRTIO_VSOCK_INTERNAL_H
#define KVBOX_VIRTIO_VSOCK_INTERNAL_H

#include "util/cleanup.h"
#include "virtio/vsock.h"

#define VSOCK_HASH_SIZE 256u
#define VSOCK_SHUT_BOTH (VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND)
/* Send CREDIT_UPDATE once the guest's view of our free space drops below
 * this and we have forwarded bytes it has not heard about. */
#define VSOCK_CREDIT_LOW (VSOCK_BUF_ALLOC / 2)

/* c->pending: control packets owed to the guest (also the saved format's
 * pending byte: vsock_state.c) */
#define VSOCK_P_REQUEST	 0x01u
#define VSOCK_P_RESPONSE 0x02u
#define VSOCK_P_CREDIT	 0x04u
#define VSOCK_P_RST	 0x08u

/* c->notify: callbacks owed to the host side (run by poll) */
#define VSOCK_N_ACCEPT	  0x01u
#define VSOCK_N_CONNECTED 0x02u
#define VSOCK_N_REFUSED	  0x04u
#define VSOCK_N_RESET	  0x08u

/* epoll token of the wake eventfd; a connection's is gen << 32 | (index + 1) */
#define VSOCK_TOKEN_WAKE 0u

static inline struct virtio_vsock *to_vsock(struct virtio_dev *dev)
{
	return container_of(dev, struct virtio_vsock, vdev);
}

/* Makes poll() run soon (owed callbacks, or work left by a budget). */
void vsock_wake(struct virtio_vsock *vs);

/* vsock_conn.c */
struct vsock_conn *vsock_conn_lookup(struct virtio_vsock *vs, uint32_t guest_port,
				     uint32_t host_port);
/* A new connection with its socketpair, hashed and in the epoll set;
 * NULL with *errp = -ENOSPC (table full) or the socket error. */
struct vsock_conn *vsock_conn_new(struct virtio_vsock *vs, uint32_t guest_port, uint32_t host_port,
				  enum vsock_state state, int *errp);
/* The protocol is over (RST either way): unhash; keep the slot only to
 * flush buffered bytes to the host or to hold an owed callback. */
void vsock_conn_close(struct virtio_vsock *vs, struct vsock_conn *c);
/* Owe the guest an RST and drop the host side now.  notify: VSOCK_N_* to
 * report to a host connect() still waiting, or 0. */
void vsock_conn_abort(struct virtio_vsock *vs, struct vsock_conn *c, uint8_t notify);
/* Takes c's device end out of the epoll set and closes it. */
void vsock_conn_close_fd(struct virtio_vsock *vs, struct vsock_conn *c);
/* Frees a DEAD slot with nothing left to do. */
void vsock_conn_reap(struct virtio_vsock *vs, struct vsock_conn *c);
/* Device reset / transport reset / destroy: every slot freed. */
void vsock_conn_drop_all(struct virtio_vsock *vs);

/* Host socket readiness from the epoll set. */
void vsock_conn_io(struct virtio_vsock *vs, struct vsock_conn *c, uint32_t events);
/* Re-computes the epoll interest of c's socket. */
void vsock_conn_update_events(struct virtio_vsock *vs, struct vsock_conn *c);
/* A RW payload of len bytes at r: straight into the socket, the rest into
 * c->buf (the caller checked it fits the credit we gave). */
void vsock_conn_to_host(struct virtio_vsock *vs, struct vsock_conn *c, struct vq_reader *r,
			uint32_t len);
/* Guest SHUTDOWN flags arrived. */
void vsock_conn_peer_shutdown(struct virtio_vsock *vs, struct vsock_conn *c, uint32_t flags);

/* Bytes the guest can take now (its buf_alloc minus what is in flight). */
uint32_t vsock_conn_peer_credit(const struct vsock_conn *c);
/* Guest -> host bytes held by us (socket not taking them yet). */
static inline uint32_t vsock_conn_buffered(const struct vsock_conn *c)
{
	return c->rx_cnt - c->fwd_cnt;
}
/* SHUTDOWN flags owed to the guest (host EOF / host gone), 0 if none. */
uint32_t vsock_conn_shut_owed(const struct vsock_conn *c);
/* May host bytes be read from c's socket into an rx buffer now? */
bool vsock_conn_can_send_data(const struct vsock_conn *c);
/* Anything for the rx queue? */
bool vsock_conn_wants_rx(const struct vsock_conn *c);

/* vsock_rx.c */
/* Fills rx buffers round-robin from owed RSTs and connections; signals. */
void vsock_rx_fill(struct virtio_vsock *vs);
/* Delivers an owed TRANSPORT_RESET event if the guest posted a buffer. */
void vsock_event_fill(struct virtio_vsock *vs);
/* Owes an RST to a packet that has no connection (bounded; dropped when
 * full). */
void vsock_orphan_rst(struct virtio_vsock *vs, uint32_t guest_port, uint32_t host_port);
/* Forgets owed RSTs, and the held rx buffer when the queues were reset. */
void vsock_rx_reset(struct virtio_vsock *vs, bool queues_reset);
/* Gives a popped but unused rx buffer back to the ring (checkpoint). */
void vsock_rx_unhold(struct virtio_vsock *vs);

/* vsock_tx.c */
/* Pops and handles tx packets (up to VSOCK_BUDGET), then fills rx. */
void vsock_tx_process(struct virtio_vsock *vs);

#endif
