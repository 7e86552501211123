/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-net (VIRTIO_ID_NET, 1) over a tap: the guest's NIC.  Two queues,
 * rx (0, host -> guest) and tx (1, guest -> host); no control queue, no
 * multiqueue.  Config space: mac (VIRTIO_NET_F_MAC), status (link up,
 * VIRTIO_NET_F_STATUS), mtu (VIRTIO_NET_F_MTU).
 *
 * The backend is a tap fd the caller opened with IFF_TAP | IFF_NO_PI |
 * IFF_VNET_HDR (virtio_net_tap_open() does that).  The device works on its
 * own dup of it: it sets the vnet header size to 12 bytes (struct
 * virtio_net_hdr_v1: VERSION_1 is always negotiated), O_NONBLOCK, and the
 * tap's offloads (TUNSETOFFLOAD) from what the guest accepted.  Each tap
 * read or write is one frame preceded by that header, so frames move
 * between the tap and guest buffers with readv/writev and no copy.
 *
 *   tx  guest kick -> pop chains -> net_tx_parse() (the one parser of
 *       guest frames) -> writev(validated header copy + the frame's guest
 *       iovecs) -> push.  At most NET_TX_BUDGET frames per call; the rest
 *       are served by the next virtio_net_poll() (a wake eventfd).
 *   rx  the tap is in the device's private epoll set while there are
 *       guest buffers: readv() straight into popped rx chains (several,
 *       with MRG_RXBUF; num_buffers says how many) -> push.  Out of
 *       buffers, the tap leaves the set until the guest kicks rx, and
 *       frames wait in the tap's kernel queue (which drops beyond its
 *       txqueuelen).  At most NET_RX_BUDGET frames per call.
 *
 * The VMM watches virtio_net_fd() (EPOLLIN, level-triggered) in its event
 * loop and calls virtio_net_poll() when it is readable.
 *
 * Trust: a chain that breaks the ring, a tx chain with writable buffers, a
 * tx chain shorter than the header or longer than NET_TX_MAX_CHAIN, or an
 * rx chain with readable buffers or shorter than the header is NEEDS_RESET
 * (this device only).  A tx header that asks for an offload the guest did
 * not negotiate or points outside its frame drops that frame (counted,
 * logged rate-limited).  The header given to the tap is our validated
 * copy, never guest memory the guest could change after the check.
 *
 * Threading: every entry point takes vdev.lock; kicks come from a vCPU
 * thread (MMIO exit) or the main loop (ioeventfd), poll from the main
 * loop.  The vnet header is in host byte order on the tap: x86 only (LE).
 */
#ifndef KVBOX_VIRTIO_NET_H
#define KVBOX_VIRTIO_NET_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include <linux/virtio_net.h>

#include "virtio/mmio.h"

#define NET_QUEUE_SIZE	 256
#define NET_HDR_LEN	 ((uint32_t)sizeof(struct virtio_net_hdr_v1)) /* 12 */
#define NET_ETH_HLEN	 14u
#define NET_VLAN_HLEN	 4u
#define NET_MAX_FRAME	 65550u /* a 64 KiB GSO frame plus its Ethernet header */
#define NET_TX_MAX_CHAIN (NET_HDR_LEN + NET_MAX_FRAME)
#define NET_MTU_MIN	 68u
#define NET_MTU_MAX	 (NET_MAX_FRAME - NET_ETH_HLEN - NET_VLAN_HLEN)
#define NET_MTU_DEFAULT	 1500u
#define NET_TX_BUDGET	 256u /* frames per queue per call before yielding */
#define NET_RX_BUDGET	 256u
/* iovecs one readv may take (UIO_MAXIOV); the pool has room for one more
 * whole chain so a popped chain always fits. */
#define NET_RX_IOV_MAX	1024u
#define NET_RX_IOV_POOL (NET_RX_IOV_MAX + VQ_CHAIN_MAX_DESC)

enum { NET_Q_RX, NET_Q_TX, NET_NQUEUES };

/* One NIC, as the VMM configures it (vm_config.nets). */
struct virtio_net_params {
	int tap_fd;	/* the caller's; the device dups it */
	uint8_t mac[6]; /* all zero: no VIRTIO_NET_F_MAC (the guest picks one) */
	uint16_t mtu;	/* 0: no VIRTIO_NET_F_MTU (the guest assumes 1500) */
	/* Tests and fuzzing: tap_fd is a SOCK_SEQPACKET socket standing in
	 * for a tap (one frame per packet, header included); no TUN ioctls. */
	bool not_tap;
};

/* ---- the one parser of guest frames (net.c) ---- */

enum net_bad {
	NET_OK = 0,
	/* the chain is malformed: NEEDS_RESET */
	NET_BAD_WRITABLE, /* tx chain has device-writable buffers */
	NET_BAD_SHORT,	  /* fewer readable bytes than the header */
	NET_BAD_TOO_LONG, /* more than NET_TX_MAX_CHAIN readable bytes */
	/* the frame is dropped */
	NET_BAD_RUNT,	    /* frame shorter than an Ethernet header */
	NET_BAD_FLAGS,	    /* flags other than NEEDS_CSUM */
	NET_BAD_CSUM_FEAT,  /* NEEDS_CSUM without VIRTIO_NET_F_CSUM */
	NET_BAD_CSUM_RANGE, /* csum_start + csum_offset + 2 past the frame */
	NET_BAD_GSO_TYPE,   /* unknown gso_type, or one not negotiated */
	NET_BAD_GSO_CSUM,   /* GSO without NEEDS_CSUM */
	NET_BAD_GSO_SIZE,   /* GSO with gso_size 0 */
	NET_BAD_HDR_LEN,    /* hdr_len past the frame */
	NET_BAD_END
};

/* A validated tx header (host byte order) and the frame length. */
struct net_tx_hdr {
	uint8_t flags, gso_type;
	uint16_t hdr_len, gso_size, csum_start, csum_offset;
	uint32_t frame_len;
};

/* Checks chain c as a tx frame under the negotiated features; on NET_OK
 * (or a dropped-frame code) r is left at the frame's first byte and *h is
 * filled.  Returns NET_OK or a NET_BAD_* code. */
int net_tx_parse(const struct vq_chain *c, uint64_t features, struct vq_reader *r,
		 struct net_tx_hdr *h);
/* True for the codes that mean a malformed chain (NEEDS_RESET). */
bool net_bad_fatal(int bad);
const char *net_bad_str(int bad);

/* ---- device state ---- */

/* An rx chain popped and held until a frame fills it: its writable
 * iovecs are rx_iov[iov, iov + niov). */
struct net_rx_buf {
	uint16_t head;
	uint16_t niov;
	uint32_t len;
};

struct net_stats {
	uint64_t tx_frames, tx_bytes, tx_dropped;
	uint64_t rx_frames, rx_bytes, rx_dropped, rx_buffers;
	uint64_t rx_stalls; /* times the tap left the epoll set for want of buffers */
};

struct virtio_net {
	struct virtio_dev vdev;
	struct virtq vqs[NET_NQUEUES];
	int tap_fd; /* our dup */
	bool not_tap;
	int epfd;    /* the tap (while rx_armed) + wake_fd */
	int wake_fd; /* eventfd: tx budget left work for poll() */
	bool rx_armed;
	uint8_t mac[6];
	uint16_t mtu;
	uint16_t link;	      /* VIRTIO_NET_S_LINK_UP or 0 */
	unsigned tun_offload; /* TUN_F_* last given to TUNSETOFFLOAD */
	uint32_t rx_need;     /* bytes of buffer a frame may need */
	/* rx chains held for the next frame (rx_iov[] holds their iovecs) */
	struct net_rx_buf held[NET_QUEUE_SIZE];
	unsigned nheld;
	unsigned niov;
	uint64_t held_space;
	struct iovec *rx_iov;	/* NET_RX_IOV_POOL */
	struct vq_chain *chain; /* pop scratch (under the lock) */
	struct iovec *tx_iov;	/* header + VQ_CHAIN_MAX_DESC */
	struct net_stats stats;
};

/* Validates p (MTU NET_MTU_MIN..NET_MTU_MAX or 0, a unicast MAC or zero)
 * and dups p->tap_fd.  Register the result on the MMIO bus with
 * &n->vdev as opaque. */
int virtio_net_init(struct virtio_net *n, const struct guest_mem *mem,
		    const struct virtio_net_params *p, struct kv_err *err);
void virtio_net_destroy(struct virtio_net *n);

/* The fd for the VMM's event loop (EPOLLIN, level-triggered). */
int virtio_net_fd(const struct virtio_net *n);
/* Main thread, when virtio_net_fd() is readable: frames from the tap into
 * rx buffers, tx left over from a budget. */
void virtio_net_poll(struct virtio_net *n);

/* Link state in config space (starts up); a change interrupts the guest. */
void virtio_net_set_link(struct virtio_net *n, bool up);

/* Opens /dev/net/tun as tap `name` (created if absent; "" lets the kernel
 * choose, and name_out gets the result when not NULL: IFNAMSIZ bytes)
 * with IFF_TAP | IFF_NO_PI | IFF_VNET_HDR, close-on-exec.  Returns the fd. */
int virtio_net_tap_open(const char *name, char *name_out, struct kv_err *err);

#endif
