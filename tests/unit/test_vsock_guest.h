/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A small virtio-vsock guest driver over fake RAM for tests/unit/test_vsock.c:
 * probes the device through its register window as Linux does, keeps the
 * rx queue stocked with 4 KiB buffers, writes tx packets (header and
 * payload in one descriptor or split), reads the rx used ring back as
 * packets, and plays the host side (listener and connect callbacks that
 * record fds and results, poll pumping), and bulk transfers that check
 * every byte; and a checkpoint of the guest side (RAM, ring indices, the
 * device's transport) resumed by a new device, as vmm/snapshot.c does.
 *
 * RAM layout: queue q's rings at QBASE(q) (desc, +4K avail, +8K used);
 * rx buffer i at RXBUF_GPA + i * RXBUF_SIZE; tx slot s at TXBUF_GPA + s *
 * TXSLOT_SIZE using descriptors 2s and 2s+1; the event buffer at EVBUF_GPA.
 */
#ifndef KVBOX_TEST_VSOCK_GUEST_H
#define KVBOX_TEST_VSOCK_GUEST_H

#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "virtio/vsock.h"

#include "test_virtio_regs.h"

#define G_CID	    42u
#define G_QSIZE	    64u
#define G_RAM	    (2u << 20)
#define QBASE(q)    (0x1000u + (q)*0x3000u)
#define RXBUF_GPA   0x10000u
#define RXBUF_SIZE  4096u
#define TXBUF_GPA   0x50000u
#define TXSLOT_SIZE 0x11000u
#define TX_SLOTS    16u
#define EVBUF_GPA   0x170000u

struct guest {
	struct virtio_vsock vs;
	uint8_t *ram;
	struct guest_mem mem;
	struct irq_count irq;
	uint16_t avail_idx[VSOCK_NQUEUES];
	uint16_t last_used[VSOCK_NQUEUES];
	unsigned tx_slot;
	unsigned rx_posted; /* buffers handed out so far (ids 0..) */
	bool no_repost;	    /* g_recv leaves the buffer with the guest */
	/* host side */
	int accepted[16];
	uint32_t accepted_gport[16], accepted_hport[16];
	unsigned naccepted;
	int connect_result;
	unsigned connect_calls;
};

/* The guest's end of one connection. */
struct gconn {
	uint32_t gport, hport;
	uint32_t buf_alloc, fwd_cnt; /* what we advertise */
	uint32_t tx_cnt;	     /* bytes we sent */
	uint32_t peer_buf_alloc, peer_fwd_cnt;
};

struct rxpkt {
	uint64_t src_cid, dst_cid;
	uint32_t src_port, dst_port, len, flags, buf_alloc, fwd_cnt;
	uint16_t type, op;
	uint8_t data[RXBUF_SIZE];
};

static inline void g_on_accept(void *ctx, int fd, uint32_t host_port, uint32_t guest_port)
{
	struct guest *g = ctx;
	if (g->naccepted == 16) {
		close(fd);
		return;
	}
	g->accepted_gport[g->naccepted] = guest_port;
	g->accepted_hport[g->naccepted] = host_port;
	g->accepted[g->naccepted++] = fd;
}

static inline void g_on_connect(void *ctx, int result)
{
	struct guest *g = ctx;
	g->connect_result = result;
	g->connect_calls++;
}

static inline void g_desc(struct guest *g, unsigned q, uint16_t i, uint64_t addr, uint32_t len,
			  uint16_t flags, uint16_t next)
{
	struct vring_desc d = {.addr = addr, .len = len, .flags = flags, .next = next};
	memcpy(g->ram + QBASE(q) + 16u * i, &d, 16);
}

static inline void g_avail(struct guest *g, unsigned q, uint16_t head)
{
	uint16_t *avail = (uint16_t *)(g->ram + QBASE(q) + 0x1000);
	avail[2 + g->avail_idx[q] % G_QSIZE] = head;
	__atomic_store_n(&avail[1], ++g->avail_idx[q], __ATOMIC_RELEASE);
}

static inline uint16_t g_used_idx(struct guest *g, unsigned q)
{
	return __atomic_load_n((uint16_t *)(g->ram + QBASE(q) + 0x2000 + 2), __ATOMIC_ACQUIRE);
}

static inline struct vring_used_elem g_used(struct guest *g, unsigned q, uint16_t i)
{
	struct vring_used_elem e;
	memcpy(&e, g->ram + QBASE(q) + 0x2000 + 4 + 8 * (i % G_QSIZE), 8);
	return e;
}

static inline void g_kick(struct guest *g, unsigned q)
{
	w32(&g->vs.vdev, VIRTIO_MMIO_QUEUE_NOTIFY, q);
}

/* Posts n more rx buffers (ids continue from the last) without kicking. */
static inline void g_post_rx_nokick(struct guest *g, unsigned n)
{
	for (unsigned k = 0; k < n; k++) {
		uint16_t id = (uint16_t)(g->rx_posted++ % G_QSIZE);
		g_desc(g, VSOCK_Q_RX, id, RXBUF_GPA + id * RXBUF_SIZE, RXBUF_SIZE,
		       VRING_DESC_F_WRITE, 0);
		g_avail(g, VSOCK_Q_RX, id);
	}
}

static inline void g_post_rx(struct guest *g, unsigned n)
{
	g_post_rx_nokick(g, n);
	g_kick(g, VSOCK_Q_RX);
}

static inline void g_probe(struct guest *g)
{
	struct virtio_dev *d = &g->vs.vdev;
	w32(d, VIRTIO_MMIO_STATUS, 0);
	w32(d, VIRTIO_MMIO_STATUS, A);
	w32(d, VIRTIO_MMIO_STATUS, A | D);
	set_driver_features(d, F_VERSION_1 | F_EVENT_IDX);
	w32(d, VIRTIO_MMIO_STATUS, A | D | FOK);
	memset(g->ram, 0, RXBUF_GPA);
	for (unsigned q = 0; q < VSOCK_NQUEUES; q++) {
		g->avail_idx[q] = g->last_used[q] = 0;
		setup_queue(d, q, G_QSIZE, QBASE(q), QBASE(q) + 0x1000, QBASE(q) + 0x2000);
	}
	g->rx_posted = 0;
	g->tx_slot = 0;
	w32(d, VIRTIO_MMIO_STATUS, A | D | FOK | OK);
}

/* A device over g's RAM (already allocated), not probed. */
static inline void g_device(struct guest *g, unsigned max_conns)
{
	guest_mem_fake(&g->mem, g->ram, G_RAM);
	struct kv_err err;
	int r = virtio_vsock_init(&g->vs, &g->mem, G_CID, max_conns, &err);
	if (r < 0)
		fail_msg("%s", err.msg);
	struct virtio_irq irq = {.irqfd = -1, .raise = count_irq, .ctx = &g->irq, .gsi = 7};
	virtio_dev_set_irq(&g->vs.vdev, &irq);
}

static inline void g_init_max(struct guest *g, unsigned max_conns)
{
	memset(g, 0, sizeof(*g));
	g->ram = aligned_alloc(4096, G_RAM);
	memset(g->ram, 0, G_RAM);
	g_device(g, max_conns);
	g_probe(g);
	g_post_rx(g, 32);
}

static inline void g_init(struct guest *g)
{
	g_init_max(g, 0);
}

static inline void g_fini(struct guest *g)
{
	for (unsigned i = 0; i < g->naccepted; i++)
		if (g->accepted[i] >= 0)
			close(g->accepted[i]);
	virtio_vsock_destroy(&g->vs);
	free(g->ram);
}

/* ---- checkpoint ---- */

/* What a checkpoint of a paused VM holds besides the device's own blob:
 * guest RAM, the driver's ring indices, and the transport (queue state,
 * status, features) as vmm/snapshot.c saves it: after virtio_vsock_save. */
struct g_ckpt {
	uint8_t *ram;
	struct virtq_state q[VSOCK_NQUEUES];
	uint32_t status;
	uint64_t features;
	uint16_t avail_idx[VSOCK_NQUEUES], last_used[VSOCK_NQUEUES];
	unsigned tx_slot, rx_posted;
};

static inline void g_checkpoint(struct guest *g, struct g_ckpt *ck)
{
	ck->ram = aligned_alloc(4096, G_RAM);
	memcpy(ck->ram, g->ram, G_RAM);
	pthread_mutex_lock(&g->vs.vdev.lock);
	for (unsigned q = 0; q < VSOCK_NQUEUES; q++)
		virtq_export(&g->vs.vqs[q], &ck->q[q]);
	ck->status = g->vs.vdev.status;
	ck->features = g->vs.vdev.features;
	pthread_mutex_unlock(&g->vs.vdev.lock);
	memcpy(ck->avail_idx, g->avail_idx, sizeof(ck->avail_idx));
	memcpy(ck->last_used, g->last_used, sizeof(ck->last_used));
	ck->tx_slot = g->tx_slot;
	ck->rx_posted = g->rx_posted;
}

/* A new VMM for the checkpoint: RAM and the driver's indices back, a fresh
 * device (its transport not restored yet: g_restore_transport). */
static inline void g_new_vm(struct guest *g, const struct g_ckpt *ck)
{
	memset(g, 0, sizeof(*g));
	g->ram = aligned_alloc(4096, G_RAM);
	memcpy(g->ram, ck->ram, G_RAM);
	g_device(g, 0);
	memcpy(g->avail_idx, ck->avail_idx, sizeof(g->avail_idx));
	memcpy(g->last_used, ck->last_used, sizeof(g->last_used));
	g->tx_slot = ck->tx_slot;
	g->rx_posted = ck->rx_posted;
}

/* The transport as vmm/snapshot.c restores it: queues, features, status,
 * then activate (which serves nothing by itself). */
static inline void g_restore_transport(struct guest *g, const struct g_ckpt *ck)
{
	struct virtio_dev *d = &g->vs.vdev;
	pthread_mutex_lock(&d->lock);
	for (unsigned q = 0; q < VSOCK_NQUEUES; q++)
		assert_int_equal(virtq_import(&g->vs.vqs[q], &g->mem, &ck->q[q]), 0);
	d->features = ck->features;
	__atomic_store_n(&d->status, ck->status, __ATOMIC_RELEASE);
	if (ck->status & VIRTIO_CONFIG_S_DRIVER_OK)
		assert_int_equal(d->ops->activate(d), 0);
	pthread_mutex_unlock(&d->lock);
}

static inline struct virtio_vsock_hdr g_hdr(const struct gconn *c, uint16_t op, uint32_t len)
{
	return (struct virtio_vsock_hdr){
	    .src_cid = htole64(G_CID),
	    .dst_cid = htole64(VSOCK_HOST_CID),
	    .src_port = htole32(c->gport),
	    .dst_port = htole32(c->hport),
	    .len = htole32(len),
	    .type = htole16(VIRTIO_VSOCK_TYPE_STREAM),
	    .op = htole16(op),
	    .buf_alloc = htole32(c->buf_alloc),
	    .fwd_cnt = htole32(c->fwd_cnt),
	};
}

/* Sends a raw tx chain: hlen bytes of hdr then plen of payload (split into
 * two descriptors when split), and kicks.  Returns the tx used length. */
static inline void g_send_raw(struct guest *g, const void *hdr, uint32_t hlen, const void *payload,
			      uint32_t plen, bool split)
{
	unsigned s = g->tx_slot++ % TX_SLOTS;
	uint64_t gpa = TXBUF_GPA + (uint64_t)s * TXSLOT_SIZE;
	uint16_t d0 = (uint16_t)(2 * s), d1 = (uint16_t)(2 * s + 1);
	memcpy(g->ram + gpa, hdr, hlen);
	if (plen)
		memcpy(g->ram + gpa + hlen, payload, plen);
	if (split && plen) {
		g_desc(g, VSOCK_Q_TX, d0, gpa, hlen, VRING_DESC_F_NEXT, d1);
		g_desc(g, VSOCK_Q_TX, d1, gpa + hlen, plen, 0, 0);
	} else {
		g_desc(g, VSOCK_Q_TX, d0, gpa, hlen + plen, 0, 0);
	}
	uint16_t before = g_used_idx(g, VSOCK_Q_TX);
	g_avail(g, VSOCK_Q_TX, d0);
	g_kick(g, VSOCK_Q_TX);
	assert_int_equal(g_used_idx(g, VSOCK_Q_TX), (uint16_t)(before + 1));
}

static inline void g_send(struct guest *g, struct gconn *c, uint16_t op, uint32_t flags,
			  const void *payload, uint32_t len)
{
	struct virtio_vsock_hdr h = g_hdr(c, op, len);
	h.flags = htole32(flags);
	g_send_raw(g, &h, sizeof(h), payload, len, len > 100);
	if (op == VIRTIO_VSOCK_OP_RW)
		c->tx_cnt += len;
}

/* Takes the next used rx buffer as a packet and re-posts it (with a
 * kick, like Linux's refill).  false when the used ring is empty. */
static inline bool g_recv(struct guest *g, struct rxpkt *p)
{
	if (g_used_idx(g, VSOCK_Q_RX) == g->last_used[VSOCK_Q_RX])
		return false;
	struct vring_used_elem e = g_used(g, VSOCK_Q_RX, g->last_used[VSOCK_Q_RX]++);
	assert_true(e.id < G_QSIZE);
	assert_true(e.len >= sizeof(struct virtio_vsock_hdr));
	const uint8_t *b = g->ram + RXBUF_GPA + e.id * RXBUF_SIZE;
	struct virtio_vsock_hdr h;
	memcpy(&h, b, sizeof(h));
	*p = (struct rxpkt){
	    .src_cid = le64toh(h.src_cid),
	    .dst_cid = le64toh(h.dst_cid),
	    .src_port = le32toh(h.src_port),
	    .dst_port = le32toh(h.dst_port),
	    .len = le32toh(h.len),
	    .flags = le32toh(h.flags),
	    .buf_alloc = le32toh(h.buf_alloc),
	    .fwd_cnt = le32toh(h.fwd_cnt),
	    .type = le16toh(h.type),
	    .op = le16toh(h.op),
	};
	assert_int_equal(e.len, sizeof(h) + p->len);
	assert_true(p->len <= RXBUF_SIZE - sizeof(h));
	memcpy(p->data, b + sizeof(h), p->len);
	assert_int_equal(p->src_cid, VSOCK_HOST_CID);
	assert_int_equal(p->dst_cid, G_CID);
	assert_int_equal(p->type, VIRTIO_VSOCK_TYPE_STREAM);
	if (!g->no_repost)
		g_post_rx(g, 1);
	return true;
}

/* Expects exactly one more packet, of op, for c (updates c's peer credit). */
static inline void g_expect(struct guest *g, struct gconn *c, uint16_t op, struct rxpkt *p)
{
	assert_true(g_recv(g, p));
	assert_int_equal(p->op, op);
	assert_int_equal(p->dst_port, c->gport);
	assert_int_equal(p->src_port, c->hport);
	c->peer_buf_alloc = p->buf_alloc;
	c->peer_fwd_cnt = p->fwd_cnt;
}

static inline void g_pump(struct guest *g)
{
	for (int i = 0; i < 4; i++)
		virtio_vsock_poll(&g->vs);
}

/* Guest connect() to a listened host port, advertising buf_alloc;
 * returns the host fd. */
static inline int g_connect_buf(struct guest *g, struct gconn *c, uint32_t gport, uint32_t hport,
				uint32_t buf_alloc)
{
	struct rxpkt p;
	*c = (struct gconn){.gport = gport, .hport = hport, .buf_alloc = buf_alloc};
	unsigned before = g->naccepted;
	g_send(g, c, VIRTIO_VSOCK_OP_REQUEST, 0, NULL, 0);
	g_expect(g, c, VIRTIO_VSOCK_OP_RESPONSE, &p);
	/* Callbacks never run on the queue path, only from poll(), and the
	 * device's fd says poll() has work. */
	assert_int_equal(g->naccepted, before);
	struct pollfd pfd = {.fd = virtio_vsock_fd(&g->vs), .events = POLLIN};
	assert_int_equal(poll(&pfd, 1, 0), 1);
	g_pump(g);
	assert_int_equal(g->naccepted, before + 1);
	assert_int_equal(g->accepted_gport[before], gport);
	return g->accepted[before];
}

static inline int g_connect(struct guest *g, struct gconn *c, uint32_t gport, uint32_t hport)
{
	return g_connect_buf(g, c, gport, hport, 256 * 1024);
}

/* The host fd reads EOF (after draining whatever is still queued). */
static inline void host_expect_eof(struct guest *g, int fd)
{
	uint8_t sink[4096];
	for (int spins = 0; spins < 10000; spins++) {
		ssize_t n = read(fd, sink, sizeof(sink));
		if (n == 0)
			return;
		if (n < 0)
			g_pump(g);
	}
	fail_msg("no EOF on fd %d", fd);
}

static inline bool host_would_block(int fd)
{
	uint8_t b;
	return read(fd, &b, 1) < 0 && errno == EAGAIN;
}

/* Reads exactly len bytes from a non-blocking fd, pumping the device. */
static inline void host_read_all(struct guest *g, int fd, uint8_t *buf, size_t len)
{
	size_t got = 0;
	for (int spins = 0; got < len && spins < 10000; spins++) {
		ssize_t n = read(fd, buf + got, len - got);
		if (n > 0)
			got += (size_t)n;
		else
			g_pump(g);
	}
	assert_int_equal(got, len);
}

static inline void fill_pattern(uint8_t *buf, size_t len, uint32_t seed)
{
	for (size_t i = 0; i < len; i++) {
		seed = seed * 1103515245u + 12345u;
		buf[i] = (uint8_t)(seed >> 16);
	}
}

/* ---- bulk transfers ---- */

enum { BIG = 300 * 1024 };

/* BIG bytes guest -> host, exact, the guest honouring credit and the host
 * reading as it comes: credit updates keep the guest going. */
static inline void bulk_to_host(struct guest *g, struct gconn *c, int fd, uint32_t seed)
{
	struct rxpkt p;
	uint8_t *out = malloc(BIG), *in = malloc(BIG);
	fill_pattern(out, BIG, seed);
	size_t sent = 0, rcvd = 0;
	for (int spins = 0; rcvd < BIG && spins < 100000; spins++) {
		uint32_t credit = c->peer_buf_alloc - (c->tx_cnt - c->peer_fwd_cnt);
		uint32_t n = BIG - sent < 60000 ? (uint32_t)(BIG - sent) : 60000;
		if (n > credit)
			n = credit;
		if (n) {
			g_send(g, c, VIRTIO_VSOCK_OP_RW, 0, out + sent, n);
			sent += n;
		}
		while (g_recv(g, &p)) {
			assert_int_equal(p.op, VIRTIO_VSOCK_OP_CREDIT_UPDATE);
			c->peer_fwd_cnt = p.fwd_cnt;
		}
		ssize_t k = read(fd, in + rcvd, BIG - rcvd);
		if (k > 0)
			rcvd += (size_t)k;
		else
			g_pump(g);
	}
	assert_int_equal(rcvd, BIG);
	assert_memory_equal(in, out, BIG);
	free(out);
	free(in);
}

/* BIG bytes host -> guest, exact; the guest app reads as they come and
 * tells the device every 64 KiB. */
static inline void bulk_to_guest(struct guest *g, struct gconn *c, int fd, uint32_t seed)
{
	struct rxpkt p;
	uint8_t *out = malloc(BIG), *in = malloc(BIG);
	fill_pattern(out, BIG, seed);
	size_t wrote = 0, got = 0;
	uint32_t told = c->fwd_cnt;
	for (int spins = 0; got < BIG && spins < 100000; spins++) {
		if (wrote < BIG) {
			ssize_t n = write(fd, out + wrote, BIG - wrote);
			if (n > 0)
				wrote += (size_t)n;
		}
		g_pump(g);
		while (g_recv(g, &p)) {
			assert_int_equal(p.op, VIRTIO_VSOCK_OP_RW);
			assert_true(got + p.len <= BIG);
			memcpy(in + got, p.data, p.len);
			got += p.len;
			c->fwd_cnt += p.len;
		}
		if (c->fwd_cnt - told > 64 * 1024) {
			g_send(g, c, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0);
			told = c->fwd_cnt;
		}
	}
	assert_int_equal(got, BIG);
	assert_memory_equal(in, out, BIG);
	free(out);
	free(in);
}

/* Guest -> host from src[0..cap) until the guest's credit is 0 with every
 * update seen, the host not reading.  Returns the bytes sent. */
static inline size_t guest_fill_credit_from(struct guest *g, struct gconn *c, const uint8_t *src,
					    size_t cap)
{
	struct rxpkt p;
	size_t sent = 0;
	for (int spins = 0;; spins++) {
		assert_true(spins < 1000);
		uint32_t credit = c->peer_buf_alloc - (c->tx_cnt - c->peer_fwd_cnt);
		if (credit == 0) {
			g_pump(g);
			if (!g_recv(g, &p))
				return sent;
			assert_int_equal(p.op, VIRTIO_VSOCK_OP_CREDIT_UPDATE);
			c->peer_fwd_cnt = p.fwd_cnt;
			continue;
		}
		uint32_t n = credit < 60000 ? credit : 60000;
		assert_true(sent + n <= cap);
		g_send(g, c, VIRTIO_VSOCK_OP_RW, 0, src + sent, n);
		sent += n;
		while (g_recv(g, &p)) {
			assert_int_equal(p.op, VIRTIO_VSOCK_OP_CREDIT_UPDATE);
			c->peer_fwd_cnt = p.fwd_cnt;
		}
	}
}

/* Guest -> host until the guest's credit is 0 with every update seen,
 * the host not reading.  Returns the bytes sent. */
static inline size_t guest_fill_credit(struct guest *g, struct gconn *c)
{
	static uint8_t chunk[60000];
	struct rxpkt p;
	size_t sent = 0;
	fill_pattern(chunk, sizeof(chunk), 9);
	for (int spins = 0;; spins++) {
		assert_true(spins < 1000);
		uint32_t credit = c->peer_buf_alloc - (c->tx_cnt - c->peer_fwd_cnt);
		if (credit == 0) {
			g_pump(g);
			if (!g_recv(g, &p))
				return sent;
			assert_int_equal(p.op, VIRTIO_VSOCK_OP_CREDIT_UPDATE);
			c->peer_fwd_cnt = p.fwd_cnt;
			continue;
		}
		uint32_t n = credit < sizeof(chunk) ? credit : (uint32_t)sizeof(chunk);
		g_send(g, c, VIRTIO_VSOCK_OP_RW, 0, chunk, n);
		sent += n;
		while (g_recv(g, &p)) {
			assert_int_equal(p.op, VIRTIO_VSOCK_OP_CREDIT_UPDATE);
			c->peer_fwd_cnt = p.fwd_cnt;
		}
	}
}

#endif
