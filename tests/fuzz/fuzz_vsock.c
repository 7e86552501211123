/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the virtio-vsock device (virtio/vsock*.c): whatever
 * a guest can put in its tx/rx/event rings, against a host side that
 * listens, connects, writes, reads and closes.
 *
 * Input: a 16-byte header, then a guest memory image (copied into 64 KiB
 * of fake RAM, zero-padded).  The device is probed through its register
 * window like a driver would, with every queue's rings at a fixed place:
 * queue q's descriptors at q * 0x1000, avail ring at +0x400, used ring at
 * +0x800 (data anywhere, e.g. from 0x3000).  The guest CID is 3.  Then
 * `rounds` times: kick tx, poll, host I/O on every host fd, kick rx and
 * event, poll.  Any crash, sanitizer report, leak or hang is a bug;
 * RSTs, NEEDS_RESET and log lines are expected.
 *
 * Header:
 *   0  u8  flags: bit0 EVENT_IDX, bit1 INDIRECT_DESC, bit2 host connect
 *          before DRIVER_OK, bit3 host connect after, bit4 transport
 *          reset in round 1, bit5 host shuts down writing in round 0,
 *          bit6 host closes its fds in round 1, bit7 device reset at the end
 *   1  u8  queue size: 1 << (b % 7)
 *   2  u16 listener port (le)
 *   4  u32 guest port for host connects (le)
 *   8  u8  rounds (b % 4 + 1)
 *   9  u8  bytes the host writes per fd per round
 *   10 u8  max connections (b % 8 + 1)
 *   11..15 reserved
 */
#include <endian.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>

#include "virtio/vsock.h"

#define FUZZ_RAM  (64u * 1024)
#define HDR_LEN	  16
#define GUEST_CID 3
#define MAX_FDS	  16

struct fuzz_ctx {
	uint8_t *ram;
	struct guest_mem mem;
	struct virtio_vsock vs;
	int fds[MAX_FDS];
	unsigned nfds;
};

static void add_fd(struct fuzz_ctx *f, int fd)
{
	if (f->nfds < MAX_FDS)
		f->fds[f->nfds++] = fd;
	else
		close(fd);
}

static void on_accept(void *ctx, int fd, uint32_t host_port, uint32_t guest_port)
{
	(void)host_port;
	(void)guest_port;
	add_fd(ctx, fd);
}

static void on_connect(void *ctx, int result)
{
	(void)ctx;
	(void)result;
}

static void w32(struct virtio_dev *d, uint64_t off, uint32_t v)
{
	virtio_mmio_write(d, off, &v, 4);
}

static void probe(struct virtio_dev *d, uint8_t flags, uint32_t qsize)
{
	uint64_t feat = 1ULL << VIRTIO_F_VERSION_1;
	if (flags & 1)
		feat |= 1ULL << VIRTIO_RING_F_EVENT_IDX;
	if (flags & 2)
		feat |= 1ULL << VIRTIO_RING_F_INDIRECT_DESC;
	w32(d, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	w32(d, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	w32(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	w32(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)feat);
	w32(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	w32(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(feat >> 32));
	uint32_t st =
	    VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK;
	w32(d, VIRTIO_MMIO_STATUS, st);
	for (unsigned q = 0; q < VSOCK_NQUEUES; q++) {
		w32(d, VIRTIO_MMIO_QUEUE_SEL, q);
		w32(d, VIRTIO_MMIO_QUEUE_NUM, qsize);
		w32(d, VIRTIO_MMIO_QUEUE_DESC_LOW, q * 0x1000);
		w32(d, VIRTIO_MMIO_QUEUE_AVAIL_LOW, q * 0x1000 + 0x400);
		w32(d, VIRTIO_MMIO_QUEUE_USED_LOW, q * 0x1000 + 0x800);
		w32(d, VIRTIO_MMIO_QUEUE_READY, 1);
	}
	w32(d, VIRTIO_MMIO_STATUS, st | VIRTIO_CONFIG_S_DRIVER_OK);
}

/* The host side's turn: write, drain, maybe shut down or close. */
static void host_io(struct fuzz_ctx *f, const uint8_t *hdr, unsigned round)
{
	static uint8_t buf[65536];
	for (unsigned i = 0; i < f->nfds; i++) {
		int fd = f->fds[i];
		if (fd < 0)
			continue;
		if (hdr[9])
			(void)!send(fd, buf, hdr[9], MSG_NOSIGNAL | MSG_DONTWAIT);
		(void)!recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (round == 0 && (hdr[0] & 0x20))
			shutdown(fd, SHUT_WR);
		if (round == 1 && (hdr[0] & 0x40)) {
			close(fd);
			f->fds[i] = -1;
		}
	}
}

static void run(struct fuzz_ctx *f, const uint8_t *hdr)
{
	struct virtio_dev *d = &f->vs.vdev;
	uint32_t port = (uint32_t)hdr[2] | (uint32_t)hdr[3] << 8;
	uint32_t gport = (uint32_t)hdr[4] | (uint32_t)hdr[5] << 8 | (uint32_t)hdr[6] << 16 |
			 (uint32_t)hdr[7] << 24;
	int fd;

	virtio_vsock_listen(&f->vs, port, on_accept, f, NULL);
	if ((hdr[0] & 4) && (fd = virtio_vsock_connect(&f->vs, gport, on_connect, f, NULL)) >= 0)
		add_fd(f, fd);
	probe(d, hdr[0], 1u << (hdr[1] % 7));
	if ((hdr[0] & 8) && (fd = virtio_vsock_connect(&f->vs, gport, NULL, NULL, NULL)) >= 0)
		add_fd(f, fd);
	unsigned rounds = hdr[8] % 4 + 1;
	for (unsigned r = 0; r < rounds; r++) {
		w32(d, VIRTIO_MMIO_QUEUE_NOTIFY, VSOCK_Q_TX);
		virtio_vsock_poll(&f->vs);
		host_io(f, hdr, r);
		if (r == 1 && (hdr[0] & 0x10))
			virtio_vsock_transport_reset(&f->vs);
		w32(d, VIRTIO_MMIO_QUEUE_NOTIFY, VSOCK_Q_RX);
		w32(d, VIRTIO_MMIO_QUEUE_NOTIFY, VSOCK_Q_EVENT);
		virtio_vsock_poll(&f->vs);
	}
	if (hdr[0] & 0x80) {
		w32(d, VIRTIO_MMIO_STATUS, 0);
		virtio_vsock_poll(&f->vs);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fuzz_ctx *f;

	if (size < HDR_LEN)
		return 0;
	if (!f) {
		f = calloc(1, sizeof(*f));
		f->ram = aligned_alloc(4096, FUZZ_RAM);
		guest_mem_fake(&f->mem, f->ram, FUZZ_RAM);
	}
	size_t img = size - HDR_LEN < FUZZ_RAM ? size - HDR_LEN : FUZZ_RAM;
	memcpy(f->ram, data + HDR_LEN, img);
	memset(f->ram + img, 0, FUZZ_RAM - img);
	f->nfds = 0;
	if (virtio_vsock_init(&f->vs, &f->mem, GUEST_CID, data[10] % 8 + 1, NULL) < 0)
		abort();
	run(f, data);
	virtio_vsock_destroy(&f->vs);
	for (unsigned i = 0; i < f->nfds; i++)
		if (f->fds[i] >= 0)
			close(f->fds[i]);
	return 0;
}
