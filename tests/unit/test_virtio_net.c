/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-net (virtio/net*.c) driven by a fake guest through the register
 * window, over fake RAM.  The tap is a SOCK_SEQPACKET socketpair (one
 * frame per packet, vnet header included, like a tap): the test holds the
 * "network" end.  Covers tx with and without header fields, the parser's
 * drops, malformed chains (NEEDS_RESET, then a reset that works), the
 * tx budget, rx into one buffer, across mergeable buffers, without
 * buffers (the tap is not drained, and rx resumes on a kick), truncated
 * frames, bad rx chains.  The last test runs the device on a real tap in
 * a private network namespace (skipped where one cannot be made): the
 * kernel answers a ping the fake guest sends.
 *
 * RAM: queue q's rings at QBASE(q) (desc, +4K avail, +8K used); rx buffer
 * i at RXBUF(i); tx data at TXBUF; the oversized tx frame at BIGBUF.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/if_tun.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_net.h>

#include "util/cleanup.h"
#include "virtio/net.h"

#include "test_virtio_regs.h"

#define G_RAM	 (4u << 20)
#define QBASE(q) (0x1000u + (q)*0x3000u)
#define RXBUF(i) (0x10000u + (i)*0x1000u)
#define TXBUF	 0x100000u
#define BIGBUF	 0x200000u
#define F(b)	 (1ULL << (b))
#define F_MRG	 F(VIRTIO_NET_F_MRG_RXBUF)
#define F_CSUM	 F(VIRTIO_NET_F_CSUM)
#define F_GCSUM	 F(VIRTIO_NET_F_GUEST_CSUM)
#define F_GTSO4	 F(VIRTIO_NET_F_GUEST_TSO4)
#define F_HTSO4	 F(VIRTIO_NET_F_HOST_TSO4)
#define TEST_MAC                                                                                   \
	{                                                                                          \
		0x52, 0x54, 0x00, 0x12, 0x34, 0x56                                                 \
	}

struct fx {
	struct virtio_net net;
	uint8_t *ram;
	struct guest_mem mem;
	struct irq_count irq;
	int host; /* the network's end of the socketpair */
	uint16_t qsize;
	uint16_t avail_idx[NET_NQUEUES];
	uint16_t next_desc[NET_NQUEUES];
};

static void fx_init_fd(struct fx *f, int tap_fd, bool not_tap)
{
	f->ram = aligned_alloc(4096, G_RAM);
	memset(f->ram, 0, G_RAM);
	guest_mem_fake(&f->mem, f->ram, G_RAM);
	struct virtio_net_params p = {
	    .tap_fd = tap_fd, .mac = TEST_MAC, .mtu = 1500, .not_tap = not_tap};
	assert_int_equal(virtio_net_init(&f->net, &f->mem, &p, NULL), 0);
	struct virtio_irq irq = {.irqfd = -1, .raise = count_irq, .ctx = &f->irq, .gsi = 5};
	virtio_dev_set_irq(&f->net.vdev, &irq);
}

static struct fx *fx_new(void)
{
	struct fx *f = calloc(1, sizeof(*f));
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	int big = 4 << 20;
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big));
	fx_init_fd(f, sv[0], true);
	close(sv[0]); /* the device has its dup */
	f->host = sv[1];
	return f;
}

static void fx_free(struct fx *f)
{
	virtio_net_destroy(&f->net);
	if (f->host >= 0)
		close(f->host);
	free(f->ram);
	free(f);
}

static struct virtio_dev *dev(struct fx *f)
{
	return &f->net.vdev;
}

static void probe(struct fx *f, uint64_t features, uint16_t qsize)
{
	struct virtio_dev *d = dev(f);
	f->qsize = qsize;
	memset(f->avail_idx, 0, sizeof(f->avail_idx));
	memset(f->next_desc, 0, sizeof(f->next_desc));
	memset(f->ram, 0, 0x10000);
	w32(d, VIRTIO_MMIO_STATUS, 0);
	w32(d, VIRTIO_MMIO_STATUS, A);
	w32(d, VIRTIO_MMIO_STATUS, A | D);
	set_driver_features(d, features | F_VERSION_1 | F_EVENT_IDX);
	w32(d, VIRTIO_MMIO_STATUS, A | D | FOK);
	assert_int_equal(r32(d, VIRTIO_MMIO_STATUS), A | D | FOK);
	for (unsigned q = 0; q < NET_NQUEUES; q++)
		setup_queue(d, q, qsize, QBASE(q), QBASE(q) + 0x1000, QBASE(q) + 0x2000);
	w32(d, VIRTIO_MMIO_STATUS, A | D | FOK | OK);
	assert_int_equal(r32(d, VIRTIO_MMIO_STATUS), A | D | FOK | OK);
}

/* Adds a descriptor to queue q's table; returns its index. */
static uint16_t desc(struct fx *f, unsigned q, uint64_t addr, uint32_t len, uint16_t flags)
{
	uint16_t i = f->next_desc[q]++ % f->qsize;
	struct vring_desc d = {
	    .addr = addr, .len = len, .flags = flags, .next = (uint16_t)((i + 1) % f->qsize)};
	memcpy(f->ram + QBASE(q) + 16u * i, &d, 16);
	return i;
}

static void avail(struct fx *f, unsigned q, uint16_t head)
{
	uint16_t *a = (uint16_t *)(f->ram + QBASE(q) + 0x1000);
	a[2 + f->avail_idx[q] % f->qsize] = head;
	__atomic_store_n(&a[1], ++f->avail_idx[q], __ATOMIC_RELEASE);
}

static uint16_t used_idx(struct fx *f, unsigned q)
{
	return __atomic_load_n((uint16_t *)(f->ram + QBASE(q) + 0x2000 + 2), __ATOMIC_ACQUIRE);
}

static struct vring_used_elem used(struct fx *f, unsigned q, uint16_t i)
{
	struct vring_used_elem e;
	memcpy(&e, f->ram + QBASE(q) + 0x2000 + 4 + 8 * (i % f->qsize), 8);
	return e;
}

static void kick(struct fx *f, unsigned q)
{
	w32(dev(f), VIRTIO_MMIO_QUEUE_NOTIFY, q);
}

static uint32_t status(struct fx *f)
{
	return r32(dev(f), VIRTIO_MMIO_STATUS);
}

/* Is the device's event-loop fd readable (would the VMM call poll)? */
static bool dev_ready(struct fx *f)
{
	struct pollfd p = {.fd = virtio_net_fd(&f->net), .events = POLLIN};
	return poll(&p, 1, 0) == 1;
}

static void fill(uint8_t *p, size_t len, uint8_t seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seed + i * 7);
}

/* A tx chain: the header in one descriptor (or split after 5 bytes), the
 * frame in one (or three). */
static void tx_post(struct fx *f, const struct virtio_net_hdr_v1 *h, uint32_t frame_len, bool split,
		    uint8_t seed)
{
	memcpy(f->ram + TXBUF, h, sizeof(*h));
	fill(f->ram + TXBUF + 12, frame_len, seed);
	uint16_t head;
	if (!split) {
		head = desc(f, NET_Q_TX, TXBUF, 12 + frame_len, 0);
	} else {
		uint32_t a = frame_len / 3, b = frame_len / 3;
		head = desc(f, NET_Q_TX, TXBUF, 5, VRING_DESC_F_NEXT);
		desc(f, NET_Q_TX, TXBUF + 5, 7 + a, VRING_DESC_F_NEXT);
		desc(f, NET_Q_TX, TXBUF + 12 + a, b, VRING_DESC_F_NEXT);
		desc(f, NET_Q_TX, TXBUF + 12 + a + b, frame_len - a - b, 0);
	}
	avail(f, NET_Q_TX, head);
}

static ssize_t host_recv(struct fx *f, uint8_t *buf, size_t len)
{
	return recv(f->host, buf, len, MSG_DONTWAIT);
}

static void host_send(struct fx *f, const struct virtio_net_hdr_v1 *h, uint32_t frame_len,
		      uint8_t seed)
{
	uint8_t *pkt = malloc(12 + frame_len);
	memcpy(pkt, h, 12);
	fill(pkt + 12, frame_len, seed);
	assert_int_equal(send(f->host, pkt, 12 + frame_len, 0), (ssize_t)(12 + frame_len));
	free(pkt);
}

static void rx_post(struct fx *f, unsigned first, unsigned n, uint32_t size)
{
	for (unsigned i = first; i < first + n; i++)
		avail(f, NET_Q_RX, desc(f, NET_Q_RX, RXBUF(i), size, VRING_DESC_F_WRITE));
}

/* ---- config and set-up ---- */

static void test_net_config(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	struct virtio_dev *d = dev(f);
	assert_int_equal(r32(d, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_NET);
	uint64_t offered = f->net.vdev.offered;
	assert_true(offered & F(VIRTIO_NET_F_MAC));
	assert_true(offered & F(VIRTIO_NET_F_MTU));
	assert_true(offered & F(VIRTIO_NET_F_STATUS));
	assert_true(offered & F_MRG);
	assert_false(offered & F(VIRTIO_NET_F_CTRL_VQ));
	assert_false(offered & F(VIRTIO_NET_F_MQ));
	uint8_t mac[6] = TEST_MAC, got[6];
	for (unsigned i = 0; i < 6; i++)
		virtio_mmio_read(d, VIRTIO_MMIO_CONFIG + i, &got[i], 1);
	assert_memory_equal(got, mac, 6);
	uint16_t v;
	virtio_mmio_read(d, VIRTIO_MMIO_CONFIG + 6, &v, 2);
	assert_int_equal(le16toh(v), VIRTIO_NET_S_LINK_UP);
	virtio_mmio_read(d, VIRTIO_MMIO_CONFIG + 10, &v, 2);
	assert_int_equal(le16toh(v), 1500);
	v = 0xffff; /* past the config space: reads 0 */
	virtio_mmio_read(d, VIRTIO_MMIO_CONFIG + 12, &v, 2);
	assert_int_equal(v, 0);

	/* A link change interrupts a running driver. */
	probe(f, 0, 16);
	int pulses = f->irq.pulses;
	virtio_net_set_link(&f->net, false);
	virtio_mmio_read(d, VIRTIO_MMIO_CONFIG + 6, &v, 2);
	assert_int_equal(v, 0);
	assert_int_equal(f->irq.pulses, pulses + 1);
	assert_true(r32(d, VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_CONFIG);
	fx_free(f);

	/* Zero MAC and MTU: those features are not offered.  Bad values are
	 * refused; a real tap is required unless not_tap. */
	struct virtio_net n;
	struct guest_mem mem;
	uint8_t ram[4096];
	guest_mem_fake(&mem, ram, sizeof(ram));
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	struct virtio_net_params p = {.tap_fd = sv[0], .not_tap = true};
	assert_int_equal(virtio_net_init(&n, &mem, &p, NULL), 0);
	assert_false(n.vdev.offered & F(VIRTIO_NET_F_MAC));
	assert_false(n.vdev.offered & F(VIRTIO_NET_F_MTU));
	virtio_net_destroy(&n);
	struct kv_err err = {0};
	p.mtu = 10;
	assert_int_equal(virtio_net_init(&n, &mem, &p, &err), -EINVAL);
	p.mtu = 0;
	p.mac[0] = 0x01;
	assert_int_equal(virtio_net_init(&n, &mem, &p, &err), -EINVAL);
	p.mac[0] = 0;
	p.not_tap = false;
	assert_true(virtio_net_init(&n, &mem, &p, &err) < 0); /* a socket is no tap */
	close(sv[0]);
	close(sv[1]);
}

/* ---- tx ---- */

static void test_net_tx_plain(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	probe(f, 0, 16);
	struct virtio_net_hdr_v1 h = {0};
	tx_post(f, &h, 60, false, 1);
	kick(f, NET_Q_TX);
	uint8_t buf[2048], want[60];
	assert_int_equal(host_recv(f, buf, sizeof(buf)), 72);
	static const uint8_t zero[12];
	assert_memory_equal(buf, zero, 12);
	fill(want, 60, 1);
	assert_memory_equal(buf + 12, want, 60);
	assert_int_equal(used_idx(f, NET_Q_TX), 1);
	assert_int_equal(used(f, NET_Q_TX, 0).len, 0);
	assert_int_equal(f->irq.pulses, 1);
	assert_int_equal(f->net.stats.tx_frames, 1);
	assert_int_equal(f->net.stats.tx_bytes, 60);
	fx_free(f);
}

static void test_net_tx_header_fields(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	probe(f, F_CSUM | F_HTSO4, 16);
	struct virtio_net_hdr_v1 h = {
	    .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
	    .gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
	    .hdr_len = htole16(66),
	    .gso_size = htole16(1448),
	    .csum_start = htole16(34),
	    .csum_offset = htole16(16),
	    .num_buffers = htole16(0x7777), /* meaningless on tx: not passed on */
	};
	tx_post(f, &h, 3000, true, 9);
	kick(f, NET_Q_TX);
	uint8_t buf[4096], want[3000];
	assert_int_equal(host_recv(f, buf, sizeof(buf)), 3012);
	struct virtio_net_hdr_v1 got;
	memcpy(&got, buf, 12);
	assert_int_equal(got.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
	assert_int_equal(got.gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
	assert_int_equal(le16toh(got.hdr_len), 66);
	assert_int_equal(le16toh(got.gso_size), 1448);
	assert_int_equal(le16toh(got.csum_start), 34);
	assert_int_equal(le16toh(got.csum_offset), 16);
	assert_int_equal(got.num_buffers, 0);
	fill(want, 3000, 9);
	assert_memory_equal(buf + 12, want, 3000);
	fx_free(f);
}

/* Headers the parser refuses drop their frame; the device keeps going. */
static void test_net_tx_dropped(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	probe(f, F_CSUM, 16); /* no HOST_TSO */
	struct virtio_net_hdr_v1 bad[] = {
	    {.gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
	     .gso_size = 1448,
	     .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM}, /* not negotiated */
	    {.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = 90, .csum_offset = 16}, /* past */
	    {.flags = VIRTIO_NET_HDR_F_DATA_VALID}, /* rx only */
	    {.gso_type = VIRTIO_NET_HDR_GSO_ECN},   /* ECN alone */
	    {.hdr_len = 200},			    /* past */
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		tx_post(f, &bad[i], 100, false, 0);
		kick(f, NET_Q_TX);
	}
	struct virtio_net_hdr_v1 ok = {0};
	tx_post(f, &ok, 10, false, 0); /* a runt */
	kick(f, NET_Q_TX);
	uint8_t buf[256];
	assert_int_equal(host_recv(f, buf, sizeof(buf)), -1);
	assert_int_equal(f->net.stats.tx_dropped, ARRAY_SIZE(bad) + 1);
	assert_int_equal(used_idx(f, NET_Q_TX), ARRAY_SIZE(bad) + 1);
	assert_int_equal(status(f), A | D | FOK | OK);
	tx_post(f, &ok, 100, false, 0);
	kick(f, NET_Q_TX);
	assert_int_equal(host_recv(f, buf, sizeof(buf)), 112);

	/* Without CSUM negotiated, NEEDS_CSUM is a driver bug too. */
	probe(f, 0, 16);
	struct virtio_net_hdr_v1 csum = {
	    .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = 34, .csum_offset = 6};
	tx_post(f, &csum, 100, false, 0);
	kick(f, NET_Q_TX);
	assert_int_equal(host_recv(f, buf, sizeof(buf)), -1);
	assert_int_equal(used_idx(f, NET_Q_TX), 1);
	fx_free(f);
}

/* Chains that break the tx rules: NEEDS_RESET, and a reset cures it. */
static void test_net_tx_malformed(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	struct virtio_net_hdr_v1 h = {0};
	uint8_t *buf = malloc(NET_TX_MAX_CHAIN + 16);

	/* a writable buffer on tx */
	probe(f, 0, 16);
	uint16_t head = desc(f, NET_Q_TX, TXBUF, 100, VRING_DESC_F_NEXT);
	desc(f, NET_Q_TX, TXBUF + 100, 100, VRING_DESC_F_WRITE);
	avail(f, NET_Q_TX, head);
	kick(f, NET_Q_TX);
	assert_int_equal(status(f), A | D | FOK | OK | NR);
	assert_true(r32(dev(f), VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_CONFIG);

	/* shorter than the header */
	probe(f, 0, 16);
	avail(f, NET_Q_TX, desc(f, NET_Q_TX, TXBUF, 8, 0));
	kick(f, NET_Q_TX);
	assert_int_equal(status(f), A | D | FOK | OK | NR);

	/* the largest frame passes, one byte more does not */
	probe(f, 0, 16);
	memcpy(f->ram + BIGBUF, &h, 12);
	avail(f, NET_Q_TX, desc(f, NET_Q_TX, BIGBUF, NET_TX_MAX_CHAIN, 0));
	kick(f, NET_Q_TX);
	assert_int_equal(status(f), A | D | FOK | OK);
	assert_int_equal(host_recv(f, buf, NET_TX_MAX_CHAIN + 16), NET_TX_MAX_CHAIN);
	avail(f, NET_Q_TX, desc(f, NET_Q_TX, BIGBUF, NET_TX_MAX_CHAIN + 1, 0));
	kick(f, NET_Q_TX);
	assert_int_equal(status(f), A | D | FOK | OK | NR);
	assert_int_equal(host_recv(f, buf, 16), -1);

	/* a descriptor loop */
	probe(f, 0, 16);
	struct vring_desc loop[2] = {{TXBUF, 100, VRING_DESC_F_NEXT, 1},
				     {TXBUF, 100, VRING_DESC_F_NEXT, 0}};
	memcpy(f->ram + QBASE(NET_Q_TX), loop, sizeof(loop));
	avail(f, NET_Q_TX, 0);
	kick(f, NET_Q_TX);
	assert_int_equal(status(f), A | D | FOK | OK | NR);
	kick(f, NET_Q_TX); /* ignored */

	/* reset, and all is well */
	probe(f, 0, 16);
	tx_post(f, &h, 60, false, 3);
	kick(f, NET_Q_TX);
	assert_int_equal(host_recv(f, buf, 256), 72);
	free(buf);
	fx_free(f);
}

/* A full ring of frames: one budget's worth per call, the device asks the
 * loop to come back, and a poll with nothing left is quiet. */
static void test_net_tx_budget(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	probe(f, 0, 256);
	struct virtio_net_hdr_v1 h = {0};
	for (unsigned i = 0; i < 256; i++) {
		uint16_t d = desc(f, NET_Q_TX, TXBUF + i * 128, 12 + 60, 0);
		avail(f, NET_Q_TX, d);
		memcpy(f->ram + TXBUF + i * 128, &h, 12);
	}
	kick(f, NET_Q_TX);
	assert_int_equal(used_idx(f, NET_Q_TX), NET_TX_BUDGET);
	assert_int_equal(f->net.stats.tx_frames + f->net.stats.tx_dropped, 256);
	assert_true(dev_ready(f));
	virtio_net_poll(&f->net);
	assert_false(dev_ready(f));
	/* A notification storm with nothing queued costs nothing. */
	for (unsigned i = 0; i < 10000; i++)
		kick(f, NET_Q_TX);
	assert_int_equal(used_idx(f, NET_Q_TX), 256);
	assert_int_equal(status(f), A | D | FOK | OK);
	fx_free(f);
}

/* ---- rx ---- */

static void test_net_rx_one_buffer(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	probe(f, 0, 16);
	assert_int_equal(f->net.tun_offload, 0);
	rx_post(f, 0, 2, 1530);
	kick(f, NET_Q_RX);
	assert_true(f->net.rx_armed);
	assert_false(dev_ready(f));
	struct virtio_net_hdr_v1 h = {.flags = VIRTIO_NET_HDR_F_DATA_VALID, .num_buffers = 9};
	host_send(f, &h, 100, 5);
	assert_true(dev_ready(f));
	virtio_net_poll(&f->net);
	assert_int_equal(used_idx(f, NET_Q_RX), 1);
	assert_int_equal(used(f, NET_Q_RX, 0).id, 0);
	assert_int_equal(used(f, NET_Q_RX, 0).len, 112);
	struct virtio_net_hdr_v1 got;
	memcpy(&got, f->ram + RXBUF(0), 12);
	assert_int_equal(got.flags, 0); /* no GUEST_CSUM: no hints */
	assert_int_equal(le16toh(got.num_buffers), 1);
	uint8_t want[100];
	fill(want, 100, 5);
	assert_memory_equal(f->ram + RXBUF(0) + 12, want, 100);
	assert_int_equal(f->irq.pulses, 1);
	assert_int_equal(f->net.stats.rx_frames, 1);
	assert_false(dev_ready(f));
	fx_free(f);
}

static void test_net_rx_mergeable(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	probe(f, F_MRG | F_GCSUM | F_GTSO4, 64);
	assert_int_equal(f->net.tun_offload, TUN_F_CSUM | TUN_F_TSO4);
	assert_int_equal(f->net.rx_need, NET_TX_MAX_CHAIN);
	rx_post(f, 0, 40, 4096);
	kick(f, NET_Q_RX);
	struct virtio_net_hdr_v1 h = {
	    .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
	    .gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
	    .gso_size = htole16(1448),
	    .csum_start = htole16(34),
	    .csum_offset = htole16(16),
	};
	host_send(f, &h, 10000, 7);
	struct virtio_net_hdr_v1 small = {0};
	host_send(f, &small, 50, 8);
	virtio_net_poll(&f->net);
	/* 10012 bytes: 4096 + 4096 + 1820, then the small one in buffer 3. */
	assert_int_equal(used_idx(f, NET_Q_RX), 4);
	uint32_t lens[] = {4096, 4096, 1820, 62};
	for (uint16_t i = 0; i < 4; i++) {
		assert_int_equal(used(f, NET_Q_RX, i).id, i);
		assert_int_equal(used(f, NET_Q_RX, i).len, lens[i]);
	}
	struct virtio_net_hdr_v1 got;
	memcpy(&got, f->ram + RXBUF(0), 12);
	assert_int_equal(le16toh(got.num_buffers), 3);
	assert_int_equal(got.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
	assert_int_equal(got.gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
	memcpy(&got, f->ram + RXBUF(3), 12);
	assert_int_equal(le16toh(got.num_buffers), 1);
	uint8_t *want = malloc(10000);
	fill(want, 10000, 7);
	assert_memory_equal(f->ram + RXBUF(0) + 12, want, 4084);
	assert_memory_equal(f->ram + RXBUF(1), want + 4084, 4096);
	assert_memory_equal(f->ram + RXBUF(2), want + 4084 + 4096, 10000 - 4084 - 4096);
	free(want);
	assert_int_equal(f->irq.pulses, 1); /* one interrupt for the batch */

	/* A GSO type the guest did not ask for is dropped. */
	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
	host_send(f, &h, 3000, 1);
	virtio_net_poll(&f->net);
	assert_int_equal(used_idx(f, NET_Q_RX), 4);
	assert_int_equal(f->net.stats.rx_dropped, 1);
	fx_free(f);
}

/* No buffers: the tap is left alone (its queue holds the frames) and the
 * device's fd goes quiet; a kick with buffers brings the frames in. */
static void test_net_rx_no_buffers(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	probe(f, F_MRG | F_GCSUM | F_GTSO4, 64);
	struct virtio_net_hdr_v1 h = {0};
	host_send(f, &h, 1000, 1);
	host_send(f, &h, 1000, 2);
	assert_false(f->net.rx_armed);
	assert_false(dev_ready(f));
	/* Two 4 KiB buffers are not enough for a 64 KiB frame: wait. */
	rx_post(f, 0, 2, 4096);
	kick(f, NET_Q_RX);
	assert_false(f->net.rx_armed);
	assert_false(dev_ready(f));
	assert_int_equal(used_idx(f, NET_Q_RX), 0);
	assert_int_equal(f->net.nheld, 2);
	for (unsigned i = 0; i < 100; i++)
		kick(f, NET_Q_RX); /* a storm changes nothing */
	assert_int_equal(used_idx(f, NET_Q_RX), 0);
	rx_post(f, 2, 17, 4096); /* 17 left after two frames: still room for any */
	kick(f, NET_Q_RX);
	assert_int_equal(used_idx(f, NET_Q_RX), 2);
	assert_int_equal(used(f, NET_Q_RX, 1).len, 1012);
	assert_true(f->net.rx_armed);
	uint8_t want[1000];
	fill(want, 1000, 2);
	assert_memory_equal(f->ram + RXBUF(1) + 12, want, 1000);

	/* A guest that posts its whole ring but less than a frame may need
	 * still gets frames that fit. */
	probe(f, F_MRG | F_GCSUM | F_GTSO4, 4);
	rx_post(f, 0, 4, 2048);
	host_send(f, &h, 500, 3);
	kick(f, NET_Q_RX);
	assert_int_equal(used_idx(f, NET_Q_RX), 1);
	fx_free(f);
}

/* A frame larger than the buffer (no MRG_RXBUF) is dropped and the buffer
 * reused; bigger than anything allowed, the same. */
static void test_net_rx_too_big(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	probe(f, 0, 16);
	rx_post(f, 0, 1, 1530);
	kick(f, NET_Q_RX);
	struct virtio_net_hdr_v1 h = {0};
	host_send(f, &h, 1600, 1);
	host_send(f, &h, 70000, 2);
	host_send(f, &h, 64, 3);
	virtio_net_poll(&f->net);
	assert_int_equal(f->net.stats.rx_dropped, 2);
	assert_int_equal(used_idx(f, NET_Q_RX), 1);
	assert_int_equal(used(f, NET_Q_RX, 0).len, 76);
	assert_int_equal(status(f), A | D | FOK | OK);
	fx_free(f);
}

static void test_net_rx_bad_chains(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	/* a readable descriptor in an rx buffer */
	probe(f, 0, 16);
	avail(f, NET_Q_RX, desc(f, NET_Q_RX, RXBUF(0), 2000, 0));
	kick(f, NET_Q_RX);
	assert_int_equal(status(f), A | D | FOK | OK | NR);
	assert_false(f->net.rx_armed);
	/* a buffer too small for the header */
	probe(f, F_MRG, 16);
	avail(f, NET_Q_RX, desc(f, NET_Q_RX, RXBUF(0), 8, VRING_DESC_F_WRITE));
	kick(f, NET_Q_RX);
	assert_int_equal(status(f), A | D | FOK | OK | NR);
	/* an address outside RAM */
	probe(f, 0, 16);
	avail(f, NET_Q_RX, desc(f, NET_Q_RX, G_RAM - 100, 2000, VRING_DESC_F_WRITE));
	kick(f, NET_Q_RX);
	assert_int_equal(status(f), A | D | FOK | OK | NR);
	/* frames waiting meanwhile do not wake a broken device */
	struct virtio_net_hdr_v1 h = {0};
	host_send(f, &h, 100, 1);
	assert_false(dev_ready(f));
	/* reset: the frame comes in */
	probe(f, 0, 16);
	rx_post(f, 0, 1, 1530);
	kick(f, NET_Q_RX);
	assert_int_equal(used_idx(f, NET_Q_RX), 1);
	fx_free(f);
}

#include "test_virtio_net_tap.h"

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_net_config),		 cmocka_unit_test(test_net_tx_plain),
	    cmocka_unit_test(test_net_tx_header_fields), cmocka_unit_test(test_net_tx_dropped),
	    cmocka_unit_test(test_net_tx_malformed),	 cmocka_unit_test(test_net_tx_budget),
	    cmocka_unit_test(test_net_rx_one_buffer),	 cmocka_unit_test(test_net_rx_mergeable),
	    cmocka_unit_test(test_net_rx_no_buffers),	 cmocka_unit_test(test_net_rx_too_big),
	    cmocka_unit_test(test_net_rx_bad_chains),	 cmocka_unit_test(test_net_real_tap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
