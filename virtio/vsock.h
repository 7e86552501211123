/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-vsock (VIRTIO_ID_VSOCK, 19), host side entirely in userspace:
 * the transport between the VMM and the guest agent.  Config space is the
 * guest's CID (le64); three queues: rx (host -> guest), tx (guest -> host),
 * event (TRANSPORT_RESET).  Stream sockets only; the host is CID 2.
 *
 * The host side sees each connection as one end of an AF_UNIX SOCK_STREAM
 * socketpair (non-blocking, close-on-exec), owned by the VMM:
 *   - read(fd)       bytes the guest sent, in order; EOF once the guest shut
 *                    down its sending side, closed, or reset the connection.
 *   - write(fd)      bytes for the guest; the socket fills up (EAGAIN) while
 *                    the guest has no credit or no receive buffers, so the
 *                    VMM's epoll sees EPOLLOUT only when it may write more.
 *   - shutdown(fd, SHUT_WR)   the guest gets SHUTDOWN(SEND) once every byte
 *                    written before it has been delivered.
 *   - close(fd)      the guest gets SHUTDOWN(RCV|SEND), then its RST ends it.
 *   - EPIPE on write the guest shut down its receive side, or is gone.
 * The device's own ends, its wakeup eventfd and nothing else sit in one
 * private epoll set; the VMM watches virtio_vsock_fd() (EPOLLIN) in its
 * event loop and calls virtio_vsock_poll() when it is readable.  See
 * vsock.c for the flow-control design; the packet parser is vsock_parse()
 * in vsock_tx.c.
 *
 * Threading: every entry point takes vdev.lock.  The accept and connect
 * callbacks run only inside virtio_vsock_poll() (and, for restored
 * connections, virtio_vsock_restore()), without the lock, so they may call
 * any function here and touch the VMM's main-thread state.
 *
 * Checkpoint/restore: virtio_vsock_save() and virtio_vsock_restore()
 * (vsock_state.c) carry the connection table, with the bytes in flight
 * both ways, into a new VMM; the guest's side comes back with its RAM.
 */
#ifndef KVBOX_VIRTIO_VSOCK_H
#define KVBOX_VIRTIO_VSOCK_H

#include <stdbool.h>
#include <stdint.h>

#include <linux/virtio_vsock.h>

#include "virtio/mmio.h"

#define VSOCK_HOST_CID	     2u
#define VSOCK_QUEUE_SIZE     256
#define VSOCK_HDR_LEN	     ((uint32_t)sizeof(struct virtio_vsock_hdr)) /* 44 */
#define VSOCK_MAX_PAYLOAD    (64u * 1024)  /* per packet, either direction */
#define VSOCK_BUF_ALLOC	     (256u * 1024) /* per-connection buffer we advertise */
#define VSOCK_MAX_CONNS	     1024u	   /* upper bound for max_conns */
#define VSOCK_DEFAULT_CONNS  256u
#define VSOCK_MAX_LISTENERS  256u   /* e.g. stdio ports of many execs */
#define VSOCK_ORPHAN_MAX     64u    /* RSTs owed to packets without a connection */
#define VSOCK_EPHEMERAL_BASE 49152u /* host ports of host-initiated connections */
#define VSOCK_BUDGET	     256u   /* packets per queue per call before yielding */
/* Host -> guest bytes a checkpoint takes per connection from the device
 * end's socket (written by the host, not yet sent to the guest).  A socket
 * at the default wmem_max holds some 200-600 KiB. */
#define VSOCK_SAVE_BACKLOG_MAX (4u << 20)

enum { VSOCK_Q_RX, VSOCK_Q_TX, VSOCK_Q_EVENT, VSOCK_NQUEUES };

/* A guest connected to a listened port.  fd is the host end, now owned by
 * the callee (close it to refuse: the guest sees the connection end). */
typedef void (*vsock_accept_fn)(void *ctx, int fd, uint32_t host_port, uint32_t guest_port);
/* A host-initiated connection was answered: 0 (RESPONSE), -ECONNREFUSED
 * (the guest sent RST), -ECONNRESET (device or transport reset first). */
typedef void (*vsock_connect_fn)(void *ctx, int result);

/* ---- the one parser of guest packets (vsock_tx.c) ---- */

/* Why a tx packet was refused; 0 = valid. */
enum vsock_bad {
	VSOCK_OK = 0,
	VSOCK_BAD_SHORT,     /* fewer than 44 readable bytes: dropped, no reply */
	VSOCK_BAD_SRC_CID,   /* src_cid is not the guest's CID */
	VSOCK_BAD_DST_CID,   /* dst_cid is not VMADDR_CID_HOST */
	VSOCK_BAD_TYPE,	     /* not VIRTIO_VSOCK_TYPE_STREAM */
	VSOCK_BAD_OP,	     /* unknown op */
	VSOCK_BAD_LEN_MAX,   /* len > VSOCK_MAX_PAYLOAD */
	VSOCK_BAD_LEN_CHAIN, /* len > readable bytes after the header */
	VSOCK_BAD_LEN_CTRL,  /* len != 0 on a control op */
	VSOCK_BAD_END
};

/* A validated packet header (host byte order). */
struct vsock_pkt {
	uint64_t src_cid, dst_cid; /* as sent (for log lines) */
	uint32_t guest_port;	   /* src_port */
	uint32_t host_port;	   /* dst_port */
	uint32_t len;		   /* payload bytes, still unread in the reader */
	uint16_t type, op;
	uint32_t flags;
	uint32_t buf_alloc, fwd_cnt;
};

/* Reads the header from r and validates it.  Returns 0, or a VSOCK_BAD_*
 * code; every field of *p is filled unless it is VSOCK_BAD_SHORT. */
int vsock_parse(struct vq_reader *r, uint64_t guest_cid, struct vsock_pkt *p);
const char *vsock_bad_str(int bad);

/* ---- device state ---- */

/* Guest -> host bytes accepted by credit but not yet taken by the host
 * socket: [head, head + len) of data, cap <= VSOCK_BUF_ALLOC. */
struct vsock_buf {
	uint8_t *data;
	uint32_t head, len, cap;
};

enum vsock_state {
	VSOCK_FREE,
	VSOCK_CONNECTING, /* host-initiated: REQUEST owed or sent */
	VSOCK_CONNECTED,  /* including half-shut */
	VSOCK_CLOSING,	  /* we sent SHUTDOWN(RCV|SEND); waiting for the guest's RST */
	VSOCK_ABORTING,	  /* RST owed to the guest; freed once it is sent */
	VSOCK_DEAD,	  /* unhashed: flushing buffered bytes to the host, or
			     holding a connect result for poll() */
};

struct vsock_conn {
	uint32_t guest_port, host_port;
	uint32_t gen; /* epoll tokens carry it: stale events are ignored */
	uint8_t state;
	uint8_t pending;    /* VSOCK_P_*: control packets owed to the guest */
	uint8_t local_shut; /* VIRTIO_VSOCK_SHUTDOWN_* bits we sent */
	uint8_t peer_shut;  /* ... the guest sent */
	uint8_t notify;	    /* VSOCK_N_*: callbacks owed to the host side */
	bool readable;	    /* fd had data last time we looked */
	bool host_eof;	    /* fd read returned 0: host shut its sending side */
	bool host_gone;	    /* fd write failed / HUP: host will not read */
	bool wr_shut;	    /* we did shutdown(fd, SHUT_WR) */
	bool hup;	    /* fd out of the epoll set for good */
	uint32_t ev;	    /* events registered in the epoll set */
	int fd;		    /* device end, -1 when closed */
	int host_fd;	    /* host end until handed to the accept callback */
	int32_t hnext;	    /* hash chain, -1 ends */
	/* host -> guest: what the guest advertised, what we sent */
	uint32_t peer_buf_alloc, peer_fwd_cnt, tx_cnt;
	/* guest -> host: bytes received, forwarded to fd, last advertised */
	uint32_t rx_cnt, fwd_cnt, fwd_adv;
	struct vsock_buf buf;
	union {
		vsock_accept_fn accept;
		vsock_connect_fn connect;
	} cb;
	void *cb_ctx;
};

struct vsock_listener {
	uint32_t port;
	bool used;
	vsock_accept_fn fn;
	void *ctx;
};

struct vsock_orphan {
	uint32_t guest_port, host_port;
};

struct vsock_stats {
	uint64_t tx_packets, rx_packets;
	uint64_t bytes_to_host, bytes_to_guest;
	uint64_t bad_packets, resets_sent, orphans_dropped;
	uint64_t conns_opened;
};

struct virtio_vsock {
	struct virtio_dev vdev;
	struct virtq vqs[VSOCK_NQUEUES];
	uint64_t guest_cid;
	int epfd;    /* device ends + wake_fd */
	int wake_fd; /* eventfd: work for poll() (callbacks, leftover budget) */
	unsigned max_conns;
	struct vsock_conn *conns; /* max_conns entries */
	int32_t *hash;		  /* VSOCK_HASH_SIZE bucket heads */
	unsigned rr;		  /* round-robin cursor for rx buffers */
	uint32_t next_ephemeral;
	struct vsock_listener listeners[VSOCK_MAX_LISTENERS];
	struct vsock_orphan orphans[VSOCK_ORPHAN_MAX];
	unsigned orphan_head, orphan_len;
	struct vq_chain *rx_chain; /* a popped rx buffer not yet used */
	bool rx_held;
	bool event_pending;
	struct vq_chain *scratch; /* tx and event chains (under the lock) */
	struct vsock_stats stats;
};

/* guest_cid: 3 .. 0xfffffffe.  max_conns: 1 .. VSOCK_MAX_CONNS, 0 = default.
 * Register the result on the MMIO bus with &vs->vdev as opaque. */
int virtio_vsock_init(struct virtio_vsock *vs, const struct guest_mem *mem, uint64_t guest_cid,
		      unsigned max_conns, struct kv_err *err);
/* Closes every device end and unaccepted host end. */
void virtio_vsock_destroy(struct virtio_vsock *vs);

/* The fd for the VMM's event loop (EPOLLIN, level-triggered). */
int virtio_vsock_fd(const struct virtio_vsock *vs);
/* Main thread, when virtio_vsock_fd() is readable: moves bytes between the
 * host sockets and the queues, then runs owed callbacks (unlocked). */
void virtio_vsock_poll(struct virtio_vsock *vs);

/* Guest connections to host port `port` go to fn.  -EEXIST, -ENOSPC,
 * -EINVAL (VMADDR_PORT_ANY). */
int virtio_vsock_listen(struct virtio_vsock *vs, uint32_t port, vsock_accept_fn fn, void *ctx,
			struct kv_err *err);
/* Stops accepting on port (connections already made stay).  -ENOENT. */
int virtio_vsock_unlisten(struct virtio_vsock *vs, uint32_t port);

/* Opens a connection to the guest's port from a fresh ephemeral host port.
 * Returns the host end (>= 0; write to it at once, bytes flow once the
 * guest answers) or -errno (-ENOSPC: table full).  fn (may be NULL) is
 * called from poll() with the outcome, unless the fd was closed first. */
int virtio_vsock_connect(struct virtio_vsock *vs, uint32_t guest_port, vsock_connect_fn fn,
			 void *ctx, struct kv_err *err);

/* Drops every connection (host ends see EOF, pending connects get
 * -ECONNRESET) and sends VIRTIO_VSOCK_EVENT_TRANSPORT_RESET (now, or when
 * the guest next posts an event buffer).  For restore from a snapshot. */
void virtio_vsock_transport_reset(struct virtio_vsock *vs);

/* ---- checkpoint / restore (vsock_state.c) ---- */

/*
 * Checkpoint, with the VM paused, on the event-loop thread, holding no
 * lock.  Serialises the connection table into a malloc'd blob (*out, *len;
 * the caller frees it) without changing what the device does next: the
 * device keeps working exactly as before (checkpoint --leave-running).
 * Saved: CONNECTED (incl. half-shut), CLOSING and ABORTING connections
 * (the restored device sends the owed RST) with their ports, shutdown
 * bits, credit counters, the guest -> host bytes buffered in the device
 * and the host -> guest bytes still in the device end's socket (read with
 * MSG_PEEK: the socket keeps them), plus owed RSTs without a connection,
 * next_ephemeral and a pending TRANSPORT_RESET event.  Not saved: DEAD
 * slots (the guest already reset the connection; bytes they still flush
 * reach the old host end only if this device keeps running), bytes already
 * written into a host end (they belong to its owner: drain them), listeners
 * and stats.
 *
 * ORDERING: a popped but unused rx buffer is given back to the rx ring
 * (its last_avail goes back by one; the device pops it again when it needs
 * one), so save the transport's queue state AFTER this call, with no queue
 * served in between.
 *
 * -EBUSY: a host-initiated connection the guest has not answered yet (try
 * again); -ENOSPC: a connection has more than VSOCK_SAVE_BACKLOG_MAX host
 * -> guest bytes waiting; -ENOMEM, or a socket error.  One line in err.
 * Blob size: 24 + 8 * orphans + per connection 48 + buffered bytes (<=
 * VSOCK_BUF_ALLOC) + host backlog (<= VSOCK_SAVE_BACKLOG_MAX).
 */
int virtio_vsock_save(struct virtio_vsock *vs, uint8_t **out, size_t *len, struct kv_err *err);

/*
 * Restore, in a new VMM, before the guest runs: vs is freshly initialised
 * (no connection yet; listeners may exist) from the same image.  Its
 * transport (queue state, status) may be restored before or after this
 * call, as long as no queue is served in between (no kick, no poll()):
 * activating the device only schedules poll().
 *
 * Parses the blob strictly (it comes from an image file): anything
 * malformed, inconsistent or over a limit (more connections than
 * max_conns, a duplicate (guest port, host port), counters that disagree
 * with the bytes, trailing bytes) is -EINVAL with one line in err, and
 * nothing is left behind.  Then rebuilds every connection on a new
 * socketpair: host -> guest bytes saved from the old socket are written
 * into the new host end first (the guest gets them before anything the
 * new owner writes), the old host end's shutdowns are replayed on it, and
 * the buffered guest -> host bytes go back into the device, to reach the
 * new host end first.  -EBUSY: vs already has connections; -ENOSPC /
 * -ENOMEM / -EMFILE... while building: everything built is undone.
 *
 * Only once every connection is built, and before this call returns,
 * fn(ctx, host_fd, host_port, guest_port) is called for each one that has
 * a host side (not for ABORTING ones), in blob order, without the lock.
 * host_fd is then the callee's: it may close it (the guest sees the
 * connection end as after close(fd) today).  fn NULL: the fds are closed.
 */
int virtio_vsock_restore(struct virtio_vsock *vs, const uint8_t *blob, size_t len,
			 vsock_accept_fn fn, void *ctx, struct kv_err *err);

/* Live connections (tests, reports); slots still flushing bytes to a host
 * socket or holding a callback for poll() are not counted. */
unsigned virtio_vsock_conn_count(struct virtio_vsock *vs);

#endif
