/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-net, host -> guest: the rx queue.
 *
 * A frame flows: rx_gather() pops rx chains into n->held (their writable
 * iovecs side by side in n->rx_iov) until they can take the largest frame
 * the negotiated offloads allow (n->rx_need; without MRG_RXBUF one chain,
 * whatever its size) -> one readv() from the tap straight into them ->
 * the header the tap wrote is read back, checked (no GSO the guest did
 * not ask for), num_buffers set -> the chains the frame covered are
 * pushed, in order, each filled up to its length but the last -> one
 * interrupt per batch.  Chains the frame did not reach stay held.
 *
 * A frame longer than the buffers offered (the tap reports its true
 * length; it truncated the copy) is dropped and the buffers reused.  The
 * guest running out of buffers takes the tap out of the epoll set until
 * its next rx kick: nothing is buffered here, the tap queues in the
 * kernel.  Held chains are bounded by the queue size and the iovec pool
 * by NET_RX_IOV_POOL, whatever the guest posts.
 */
#include <endian.h>
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <linux/if_tun.h>

#include "virtio/net_internal.h"

void net_rx_arm(struct virtio_net *n, bool on)
{
	if (on == n->rx_armed)
		return;
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = NET_TOKEN_TAP};
	/* DEL rather than an empty mask: EPOLLERR/EPOLLHUP are reported
	 * whatever the mask, and a detached tap would spin the loop. */
	if (epoll_ctl(n->epfd, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, n->tap_fd, &ev) < 0) {
		virtio_dev_log(&n->vdev, "rx: epoll_ctl: %s", strerror(errno));
		return;
	}
	n->rx_armed = on;
}

uint32_t net_rx_need(const struct virtio_net *n)
{
	if (n->tun_offload & (TUN_F_TSO4 | TUN_F_TSO6))
		return NET_TX_MAX_CHAIN;
	uint32_t mtu = n->mtu ? n->mtu : NET_MTU_DEFAULT;
	return NET_HDR_LEN + NET_ETH_HLEN + NET_VLAN_HLEN + mtu;
}

void net_rx_reset(struct virtio_net *n)
{
	net_rx_arm(n, false);
	n->nheld = 0;
	n->niov = 0;
	n->held_space = 0;
}

/* Copies len bytes between buf and the start of iov[0..niov).  Returns the
 * bytes copied (short when the iovecs are). */
static size_t iov_copy(const struct iovec *iov, unsigned niov, void *buf, size_t len, bool to_iov)
{
	size_t done = 0;
	for (unsigned i = 0; i < niov && done < len; i++) {
		size_t k = iov[i].iov_len < len - done ? iov[i].iov_len : len - done;
		if (to_iov)
			memcpy(iov[i].iov_base, (uint8_t *)buf + done, k);
		else
			memcpy((uint8_t *)buf + done, iov[i].iov_base, k);
		done += k;
	}
	return done;
}

/* Pops rx chains until the held ones can take any frame.  1: read now;
 * 0: wait for the guest's next kick; < 0: the guest broke the queue
 * (*why says how). */
static int rx_gather(struct virtio_net *n, const char **why)
{
	struct virtq *q = &n->vqs[NET_Q_RX];
	struct vq_chain *c = n->chain;
	bool mrg = net_has(n, VIRTIO_NET_F_MRG_RXBUF);

	for (;;) {
		if (n->nheld && (!mrg || n->held_space >= n->rx_need))
			return 1;
		/* All the guest can give (or all one readv takes): use it. */
		if (n->nheld == q->size || n->nheld == NET_QUEUE_SIZE || n->niov >= NET_RX_IOV_MAX)
			return 1;
		int r = virtq_pop(q, c);
		if (r <= 0) {
			*why = r < 0 ? vq_strerror(r) : NULL;
			return r;
		}
		if (c->nr_read) {
			*why = "rx buffer with device-readable descriptors";
			return -EPROTO;
		}
		if (c->write_len < NET_HDR_LEN) {
			*why = "rx buffer shorter than the header";
			return -EPROTO;
		}
		/* nr_write <= VQ_CHAIN_MAX_DESC and niov < NET_RX_IOV_MAX: fits. */
		memcpy(n->rx_iov + n->niov, c->iov, c->nr_write * sizeof(*c->iov));
		n->held[n->nheld++] =
		    (struct net_rx_buf){.head = c->head, .niov = c->nr_write, .len = c->write_len};
		n->niov += c->nr_write;
		n->held_space += c->write_len;
		n->stats.rx_buffers++;
	}
}

/* Does the header the tap wrote carry only GSO the guest asked for? */
static bool rx_gso_ok(const struct virtio_net *n, uint8_t gso_type)
{
	uint8_t t = gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;
	if (t == VIRTIO_NET_HDR_GSO_NONE)
		return !(gso_type & VIRTIO_NET_HDR_GSO_ECN);
	if ((gso_type & VIRTIO_NET_HDR_GSO_ECN) && !(n->tun_offload & TUN_F_TSO_ECN))
		return false;
	return (t == VIRTIO_NET_HDR_GSO_TCPV4 && (n->tun_offload & TUN_F_TSO4)) ||
	       (t == VIRTIO_NET_HDR_GSO_TCPV6 && (n->tun_offload & TUN_F_TSO6));
}

/* Gives the first k held chains back to the guest, `bytes` spread over
 * them in order, and forgets them. */
static void rx_push(struct virtio_net *n, unsigned k, uint64_t bytes)
{
	struct virtq *q = &n->vqs[NET_Q_RX];
	unsigned iovs = 0;
	for (unsigned i = 0; i < k; i++) {
		const struct net_rx_buf *b = &n->held[i];
		uint32_t len = bytes < b->len ? (uint32_t)bytes : b->len;
		/* virtq_push reads only head and write_len: the pop scratch
		 * is free again once rx_gather() returned. */
		n->chain->head = b->head;
		n->chain->write_len = b->len;
		virtq_push(q, n->chain, len);
		bytes -= len;
		iovs += b->niov;
		n->held_space -= b->len;
	}
	memmove(n->held, n->held + k, (n->nheld - k) * sizeof(*n->held));
	n->nheld -= k;
	memmove(n->rx_iov, n->rx_iov + iovs, (n->niov - iovs) * sizeof(*n->rx_iov));
	n->niov -= iovs;
}

/* How many held chains `bytes` covers. */
static unsigned rx_chains_for(const struct virtio_net *n, uint64_t bytes)
{
	unsigned k = 0;
	while (bytes && k < n->nheld) {
		bytes -= bytes < n->held[k].len ? bytes : n->held[k].len;
		k++;
	}
	return k;
}

/* One frame into rx_iov[0..niov).  Returns its full length, header
 * included, even when the buffers were too short (a tap does; a seqpacket
 * socket standing in for one does with MSG_TRUNC). */
static ssize_t rx_read(struct virtio_net *n, unsigned niov)
{
	if (!n->not_tap)
		return readv(n->tap_fd, n->rx_iov, (int)niov);
	struct msghdr msg = {.msg_iov = n->rx_iov, .msg_iovlen = niov};
	return recvmsg(n->tap_fd, &msg, MSG_TRUNC | MSG_DONTWAIT);
}

/* One frame from the tap into the held chains.  1: a frame was taken
 * (delivered, *pushed set, or dropped); 0: the tap is empty; -1: the
 * tap failed (logged). */
static int rx_frame(struct virtio_net *n, bool *pushed)
{
	bool mrg = net_has(n, VIRTIO_NET_F_MRG_RXBUF);
	unsigned niov = mrg ? n->niov : n->held[0].niov;
	uint64_t space = mrg ? n->held_space : n->held[0].len;
	if (niov > NET_RX_IOV_MAX) {
		niov = NET_RX_IOV_MAX;
		space = 0;
		for (unsigned i = 0; i < niov; i++)
			space += n->rx_iov[i].iov_len;
	}
	ssize_t got;
	do
		got = rx_read(n, niov);
	while (got < 0 && errno == EINTR);
	if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	if (got <= 0) {
		virtio_dev_log(&n->vdev, "rx: tap read: %s", got ? strerror(errno) : "end of file");
		return -1;
	}

	struct virtio_net_hdr_v1 hdr = {0};
	if ((uint64_t)got > space || got < (ssize_t)NET_HDR_LEN ||
	    iov_copy(n->rx_iov, niov, &hdr, NET_HDR_LEN, false) != NET_HDR_LEN ||
	    !rx_gso_ok(n, hdr.gso_type)) {
		n->stats.rx_dropped++;
		virtio_dev_log(&n->vdev,
			       "rx: %zd-byte frame (gso %u) does not fit %llu bytes of "
			       "buffers or the offloads: dropped",
			       got, hdr.gso_type, (unsigned long long)space);
		return 1; /* the held chains stay for the next frame */
	}
	unsigned k = mrg ? rx_chains_for(n, (uint64_t)got) : 1;
	if (!net_has(n, VIRTIO_NET_F_GUEST_CSUM))
		hdr.flags = 0; /* spec: no checksum hints the guest did not ask for */
	hdr.num_buffers = htole16((uint16_t)k);
	iov_copy(n->rx_iov, niov, &hdr, NET_HDR_LEN, true);
	rx_push(n, k, (uint64_t)got);
	n->stats.rx_frames++;
	n->stats.rx_bytes += (uint64_t)got - NET_HDR_LEN;
	*pushed = true;
	return 1;
}

void net_rx_process(struct virtio_net *n)
{
	struct virtq *q = &n->vqs[NET_Q_RX];
	unsigned frames = 0;
	bool pushed = false;

	if (!virtio_dev_driver_ok(&n->vdev) || !q->enabled) {
		net_rx_arm(n, false);
		return;
	}
	while (frames < NET_RX_BUDGET) {
		const char *why = NULL;
		int r = rx_gather(n, &why);
		if (r < 0) {
			net_rx_arm(n, false);
			virtio_dev_fail(&n->vdev, "rx queue: %s", why);
			return;
		}
		if (r == 0) {
			/* avail_event was re-armed by the empty pop: the guest
			 * kicks when it adds buffers. */
			n->stats.rx_stalls++;
			net_rx_arm(n, false);
			break;
		}
		r = rx_frame(n, &pushed);
		if (r <= 0) {
			net_rx_arm(n, r == 0); /* empty: wait for EPOLLIN; error: stop */
			break;
		}
		frames++;
	}
	if (frames == NET_RX_BUDGET)
		net_rx_arm(n, true); /* level-triggered: the loop comes back */
	if (pushed)
		virtio_dev_signal(&n->vdev, q);
}
