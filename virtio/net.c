/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-net device (VIRTIO_ID_NET): device ops, lifecycle, poll, the tx
 * queue with the one parser of guest frames (net_tx_parse), and the tap
 * helper.  The rx queue is net_rx.c; see net.h for the whole flow.
 *
 * tx: a validated chain -> net_tx_parse() checks its shape (readable
 * only, header present, at most NET_TX_MAX_CHAIN bytes) and the header
 * against the negotiated features -> writev() of our copy of the header
 * and the frame's guest iovecs to the tap (no copy of the frame) -> the
 * chain is returned with 0 bytes written.  A tap that refuses a frame
 * (down, out of memory) drops it: networks drop, the queue never waits.
 *
 * Offloads: what the guest sends, the tap takes (tun accepts checksum and
 * GSO headers on write without being asked); what the guest may receive
 * is given to the tap with TUNSETOFFLOAD at DRIVER_OK and cleared on
 * reset, so the tap only hands us partial checksums or GSO frames the
 * guest negotiated.
 */
#include "virtio/net.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/virtio_ids.h>

#include "virtio/net_internal.h"

#define BIT(b) (1ULL << (b))

/* ---- the parser ---- */

static const char *const bad_names[NET_BAD_END] = {
    [NET_OK] = "ok",
    [NET_BAD_WRITABLE] = "tx chain has device-writable buffers",
    [NET_BAD_SHORT] = "tx chain shorter than the header",
    [NET_BAD_TOO_LONG] = "tx chain longer than the largest frame",
    [NET_BAD_RUNT] = "frame shorter than an Ethernet header",
    [NET_BAD_FLAGS] = "unknown header flags",
    [NET_BAD_CSUM_FEAT] = "NEEDS_CSUM without VIRTIO_NET_F_CSUM",
    [NET_BAD_CSUM_RANGE] = "checksum position past the frame",
    [NET_BAD_GSO_TYPE] = "gso_type unknown or not negotiated",
    [NET_BAD_GSO_CSUM] = "GSO without NEEDS_CSUM",
    [NET_BAD_GSO_SIZE] = "GSO with gso_size 0",
    [NET_BAD_HDR_LEN] = "hdr_len past the frame",
};

const char *net_bad_str(int bad)
{
	return bad >= 0 && bad < NET_BAD_END ? bad_names[bad] : "?";
}

bool net_bad_fatal(int bad)
{
	return bad == NET_BAD_WRITABLE || bad == NET_BAD_SHORT || bad == NET_BAD_TOO_LONG;
}

static int parse_gso(const struct net_tx_hdr *h, uint64_t features)
{
	uint8_t ecn = h->gso_type & VIRTIO_NET_HDR_GSO_ECN;
	uint8_t type = h->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;
	if (type == VIRTIO_NET_HDR_GSO_NONE)
		return ecn ? NET_BAD_GSO_TYPE : NET_OK;
	bool ok = (type == VIRTIO_NET_HDR_GSO_TCPV4 && (features & BIT(VIRTIO_NET_F_HOST_TSO4))) ||
		  (type == VIRTIO_NET_HDR_GSO_TCPV6 && (features & BIT(VIRTIO_NET_F_HOST_TSO6)));
	if (!ok || (ecn && !(features & BIT(VIRTIO_NET_F_HOST_ECN))))
		return NET_BAD_GSO_TYPE;
	if (!(h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM))
		return NET_BAD_GSO_CSUM;
	if (h->gso_size == 0)
		return NET_BAD_GSO_SIZE;
	return NET_OK;
}

int net_tx_parse(const struct vq_chain *c, uint64_t features, struct vq_reader *r,
		 struct net_tx_hdr *h)
{
	struct virtio_net_hdr_v1 raw;

	memset(h, 0, sizeof(*h));
	vq_reader_init(r, c);
	if (c->nr_write)
		return NET_BAD_WRITABLE;
	if (c->read_len > NET_TX_MAX_CHAIN)
		return NET_BAD_TOO_LONG;
	if (vq_read(r, &raw, NET_HDR_LEN) < 0)
		return NET_BAD_SHORT;
	*h = (struct net_tx_hdr){
	    .flags = raw.flags,
	    .gso_type = raw.gso_type,
	    .hdr_len = le16toh(raw.hdr_len),
	    .gso_size = le16toh(raw.gso_size),
	    .csum_start = le16toh(raw.csum_start),
	    .csum_offset = le16toh(raw.csum_offset),
	    .frame_len = c->read_len - NET_HDR_LEN,
	};
	if (h->frame_len < NET_ETH_HLEN)
		return NET_BAD_RUNT;
	if (h->flags & ~VIRTIO_NET_HDR_F_NEEDS_CSUM)
		return NET_BAD_FLAGS;
	if (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		if (!(features & BIT(VIRTIO_NET_F_CSUM)))
			return NET_BAD_CSUM_FEAT;
		if ((uint32_t)h->csum_start + h->csum_offset + 2 > h->frame_len)
			return NET_BAD_CSUM_RANGE;
	}
	int bad = parse_gso(h, features);
	if (bad)
		return bad;
	if (h->hdr_len > h->frame_len)
		return NET_BAD_HDR_LEN;
	return NET_OK;
}

/* ---- tx ---- */

static void wake(struct virtio_net *n)
{
	uint64_t one = 1;
	/* EAGAIN: a wakeup is already pending, which is all we need. */
	(void)!write(n->wake_fd, &one, sizeof(one));
}

/* Writes one validated frame to the tap: our copy of the header, then the
 * frame straight from guest memory. */
static void tx_send(struct virtio_net *n, const struct net_tx_hdr *h, struct vq_reader *r)
{
	struct virtio_net_hdr_v1 hdr = {
	    .flags = h->flags,
	    .gso_type = h->gso_type,
	    .hdr_len = htole16(h->hdr_len),
	    .gso_size = htole16(h->gso_size),
	    .csum_start = htole16(h->csum_start),
	    .csum_offset = htole16(h->csum_offset),
	};
	n->tx_iov[0] = (struct iovec){.iov_base = &hdr, .iov_len = NET_HDR_LEN};
	int niov = vq_reader_iov(r, h->frame_len, n->tx_iov + 1, VQ_CHAIN_MAX_DESC);
	if (niov < 0) { /* cannot happen: the frame is the rest of the chain */
		n->stats.tx_dropped++;
		return;
	}
	ssize_t w;
	do
		w = writev(n->tap_fd, n->tx_iov, niov + 1);
	while (w < 0 && errno == EINTR);
	if (w < 0) {
		n->stats.tx_dropped++;
		if (errno != EAGAIN && errno != ENOBUFS)
			virtio_dev_log(&n->vdev, "tx: tap write: %s", strerror(errno));
		return;
	}
	n->stats.tx_frames++;
	n->stats.tx_bytes += h->frame_len;
}

static void tx_process(struct virtio_net *n)
{
	struct virtq *q = &n->vqs[NET_Q_TX];
	unsigned done = 0;
	int r = 0;

	if (!virtio_dev_driver_ok(&n->vdev))
		return;
	while (done < NET_TX_BUDGET && (r = virtq_pop(q, n->chain)) > 0) {
		struct vq_reader rd;
		struct net_tx_hdr h;
		int bad = net_tx_parse(n->chain, n->vdev.features, &rd, &h);
		if (bad && net_bad_fatal(bad)) {
			virtio_dev_fail(&n->vdev, "tx queue: %s", net_bad_str(bad));
			return;
		}
		if (bad) {
			n->stats.tx_dropped++;
			virtio_dev_log(&n->vdev, "tx: %s: frame dropped", net_bad_str(bad));
		} else {
			tx_send(n, &h, &rd);
		}
		virtq_push(q, n->chain, 0);
		done++;
	}
	if (r < 0) {
		virtio_dev_fail(&n->vdev, "tx queue: %s", vq_strerror(r));
		return;
	}
	if (done == NET_TX_BUDGET)
		wake(n); /* more may be queued: poll() continues */
	if (done)
		virtio_dev_signal(&n->vdev, q);
}

/* ---- device ops ---- */

static uint64_t net_features(struct virtio_dev *dev)
{
	struct virtio_net *n = to_net(dev);
	static const uint8_t zero[6];
	uint64_t f = BIT(VIRTIO_NET_F_CSUM) | BIT(VIRTIO_NET_F_GUEST_CSUM) |
		     BIT(VIRTIO_NET_F_GUEST_TSO4) | BIT(VIRTIO_NET_F_GUEST_TSO6) |
		     BIT(VIRTIO_NET_F_GUEST_ECN) | BIT(VIRTIO_NET_F_HOST_TSO4) |
		     BIT(VIRTIO_NET_F_HOST_TSO6) | BIT(VIRTIO_NET_F_HOST_ECN) |
		     BIT(VIRTIO_NET_F_MRG_RXBUF) | BIT(VIRTIO_NET_F_STATUS);
	if (memcmp(n->mac, zero, sizeof(zero)) != 0)
		f |= BIT(VIRTIO_NET_F_MAC);
	if (n->mtu)
		f |= BIT(VIRTIO_NET_F_MTU);
	return f;
}

static void net_config_read(struct virtio_dev *dev, uint32_t off, void *data, unsigned len)
{
	struct virtio_net *n = to_net(dev);
	struct virtio_net_config cfg = {
	    .status = htole16(n->link),
	    .mtu = htole16(n->mtu),
	};
	memcpy(cfg.mac, n->mac, sizeof(cfg.mac));
	memcpy(data, (uint8_t *)&cfg + off, len); /* transport checked off + len */
}

static void net_queue_notify(struct virtio_dev *dev, unsigned q)
{
	struct virtio_net *n = to_net(dev);
	if (q == NET_Q_TX)
		tx_process(n);
	else if (q == NET_Q_RX)
		net_rx_process(n); /* new buffers: read, or watch the tap again */
}

/* TUN_F_* for what the guest accepted to receive; TSO only with its
 * checksum, ECN only with TSO (the spec's dependencies, enforced here
 * since the transport does not know them). */
static unsigned guest_offloads(uint64_t f)
{
	if (!(f & BIT(VIRTIO_NET_F_GUEST_CSUM)))
		return 0;
	unsigned o = TUN_F_CSUM;
	if (f & BIT(VIRTIO_NET_F_GUEST_TSO4))
		o |= TUN_F_TSO4;
	if (f & BIT(VIRTIO_NET_F_GUEST_TSO6))
		o |= TUN_F_TSO6;
	if ((o & (TUN_F_TSO4 | TUN_F_TSO6)) && (f & BIT(VIRTIO_NET_F_GUEST_ECN)))
		o |= TUN_F_TSO_ECN;
	return o;
}

static void set_offload(struct virtio_net *n, unsigned flags)
{
	if (!n->not_tap && ioctl(n->tap_fd, TUNSETOFFLOAD, (unsigned long)flags) < 0) {
		/* The tap then checksums and segments for us: slower, correct. */
		virtio_dev_log(&n->vdev, "TUNSETOFFLOAD 0x%x: %s", flags, strerror(errno));
		flags = 0;
	}
	n->tun_offload = flags;
}

static int net_activate(struct virtio_dev *dev)
{
	struct virtio_net *n = to_net(dev);
	set_offload(n, guest_offloads(dev->features));
	n->rx_need = net_rx_need(n);
	tx_process(n);
	net_rx_process(n);
	return 0;
}

static void net_reset(struct virtio_dev *dev)
{
	struct virtio_net *n = to_net(dev);
	net_rx_reset(n);
	set_offload(n, 0);
}

static const struct virtio_dev_ops net_ops = {
    .features = net_features,
    .config_read = net_config_read,
    .queue_notify = net_queue_notify,
    .activate = net_activate,
    .reset = net_reset,
    /* config space is read-only (no VIRTIO_NET_F_CTRL_MAC_ADDR) */
};

static const struct virtio_dev_info net_info = {
    .name = "net",
    .device_id = VIRTIO_ID_NET,
    /* mac, status, max_virtqueue_pairs, mtu: the fields our features use */
    .config_len = offsetof(struct virtio_net_config, mtu) + sizeof(uint16_t),
    .nqueues = NET_NQUEUES,
    .queue_max = NET_QUEUE_SIZE,
};

/* ---- lifecycle ---- */

/* The fd must be a tap with the flags we rely on; then our header size. */
static int tap_prepare(int fd, struct kv_err *err)
{
	struct ifreq ifr = {0};
	if (ioctl(fd, TUNGETIFF, &ifr) < 0)
		return kv_err_sys(err, errno, "virtio-net: TUNGETIFF (is the fd a tap?)");
	unsigned need = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (((unsigned)ifr.ifr_flags & need) != need)
		return kv_err_set(err, EINVAL,
				  "virtio-net: %.*s: not opened with IFF_TAP | IFF_NO_PI | "
				  "IFF_VNET_HDR (flags 0x%x)",
				  IFNAMSIZ, ifr.ifr_name, (unsigned)ifr.ifr_flags);
	int sz = (int)NET_HDR_LEN;
	if (ioctl(fd, TUNSETVNETHDRSZ, &sz) < 0)
		return kv_err_sys(err, errno, "virtio-net: TUNSETVNETHDRSZ");
	if (ioctl(fd, TUNSETOFFLOAD, 0UL) < 0)
		return kv_err_sys(err, errno, "virtio-net: TUNSETOFFLOAD");
	return 0;
}

static int net_open_fds(struct virtio_net *n, const struct virtio_net_params *p, struct kv_err *err)
{
	n->tap_fd = fcntl(p->tap_fd, F_DUPFD_CLOEXEC, 3);
	if (n->tap_fd < 0)
		return kv_err_sys(err, errno, "virtio-net: dup tap fd %d", p->tap_fd);
	if (!n->not_tap) {
		int r = tap_prepare(n->tap_fd, err);
		if (r < 0)
			return r;
	}
	int fl = fcntl(n->tap_fd, F_GETFL);
	if (fl < 0 || fcntl(n->tap_fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return kv_err_sys(err, errno, "virtio-net: O_NONBLOCK");
	n->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (n->epfd < 0)
		return kv_err_sys(err, errno, "virtio-net: epoll_create1");
	n->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (n->wake_fd < 0)
		return kv_err_sys(err, errno, "virtio-net: eventfd");
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = NET_TOKEN_WAKE};
	if (epoll_ctl(n->epfd, EPOLL_CTL_ADD, n->wake_fd, &ev) < 0)
		return kv_err_sys(err, errno, "virtio-net: epoll_ctl");
	return 0;
}

static void net_free(struct virtio_net *n)
{
	int *fds[] = {&n->tap_fd, &n->epfd, &n->wake_fd};
	for (size_t i = 0; i < ARRAY_SIZE(fds); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
	free(n->rx_iov);
	free(n->chain);
	free(n->tx_iov);
	n->rx_iov = n->tx_iov = NULL;
	n->chain = NULL;
}

int virtio_net_init(struct virtio_net *n, const struct guest_mem *mem,
		    const struct virtio_net_params *p, struct kv_err *err)
{
	memset(n, 0, sizeof(*n));
	n->tap_fd = n->epfd = n->wake_fd = -1;
	if (p->mtu && (p->mtu < NET_MTU_MIN || p->mtu > NET_MTU_MAX))
		return kv_err_set(err, EINVAL, "virtio-net: MTU %u out of range %u..%u", p->mtu,
				  NET_MTU_MIN, NET_MTU_MAX);
	if (p->mac[0] & 1)
		return kv_err_set(err, EINVAL,
				  "virtio-net: MAC %02x:%02x:%02x:%02x:%02x:%02x is "
				  "multicast",
				  p->mac[0], p->mac[1], p->mac[2], p->mac[3], p->mac[4], p->mac[5]);
	memcpy(n->mac, p->mac, sizeof(n->mac));
	n->mtu = p->mtu;
	n->not_tap = p->not_tap;
	n->link = VIRTIO_NET_S_LINK_UP;
	n->rx_iov = calloc(NET_RX_IOV_POOL, sizeof(*n->rx_iov));
	n->tx_iov = calloc(VQ_CHAIN_MAX_DESC + 1, sizeof(*n->tx_iov));
	n->chain = malloc(sizeof(*n->chain));
	int r = 0;
	if (!n->rx_iov || !n->tx_iov || !n->chain)
		r = kv_err_set(err, ENOMEM, "virtio-net: out of memory");
	if (r == 0)
		r = net_open_fds(n, p, err);
	if (r == 0)
		r = virtio_dev_init(&n->vdev, &net_info, &net_ops, n->vqs, mem, err);
	if (r < 0)
		net_free(n);
	return r;
}

void virtio_net_destroy(struct virtio_net *n)
{
	net_free(n);
	virtio_dev_destroy(&n->vdev);
}

int virtio_net_fd(const struct virtio_net *n)
{
	return n->epfd;
}

void virtio_net_poll(struct virtio_net *n)
{
	uint64_t count;
	pthread_mutex_lock(&n->vdev.lock);
	(void)!read(n->wake_fd, &count, sizeof(count)); /* EAGAIN: the tap woke us */
	tx_process(n);
	net_rx_process(n);
	pthread_mutex_unlock(&n->vdev.lock);
}

void virtio_net_set_link(struct virtio_net *n, bool up)
{
	uint16_t link = up ? VIRTIO_NET_S_LINK_UP : 0;
	pthread_mutex_lock(&n->vdev.lock);
	bool changed = n->link != link;
	n->link = link;
	bool tell = changed && virtio_dev_driver_ok(&n->vdev);
	pthread_mutex_unlock(&n->vdev.lock);
	if (tell)
		virtio_dev_config_changed(&n->vdev);
}

int virtio_net_tap_open(const char *name, char *name_out, struct kv_err *err)
{
	struct ifreq ifr = {.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR};
	if (strlen(name) >= IFNAMSIZ)
		return kv_err_set(err, EINVAL, "tap %s: name longer than %d bytes", name,
				  IFNAMSIZ - 1);
	memcpy(ifr.ifr_name, name, strlen(name));
	cleanup_close int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return kv_err_sys(err, errno, "open /dev/net/tun");
	/* something else mounted over it (a container host's /dev/null, a
	 * file): say so rather than "TUNSETIFF: Inappropriate ioctl" */
	struct stat st;
	if (fstat(fd, &st) < 0)
		return kv_err_sys(err, errno, "stat /dev/net/tun");
	if (!S_ISCHR(st.st_mode) || major(st.st_rdev) != 10 || minor(st.st_rdev) != 200)
		return kv_err_set(err, ENODEV,
				  "/dev/net/tun is not the tun device (character device 10:200)");
	if (ioctl(fd, TUNSETIFF, &ifr) < 0)
		return kv_err_sys(err, errno, "tap %s: TUNSETIFF", name);
	int sz = (int)NET_HDR_LEN;
	if (ioctl(fd, TUNSETVNETHDRSZ, &sz) < 0)
		return kv_err_sys(err, errno, "tap %s: TUNSETVNETHDRSZ", ifr.ifr_name);
	if (name_out)
		memcpy(name_out, ifr.ifr_name, IFNAMSIZ);
	return take_fd(fd);
}
