/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the virtio-net device (virtio/net*.c), aimed at
 * net_tx_parse() and the tx path: whatever a guest can put in its tx ring
 * (header fields against the negotiated features, frame sizes around
 * the limits, chain shapes), plus rx buffers the host fills.  The tap is
 * a SOCK_SEQPACKET socketpair (not_tap); the host drains it and sends one
 * frame per round.
 *
 * Input: a 16-byte header, then a guest memory image (copied into 128 KiB
 * of fake RAM, zero-padded).  Queue q's rings: descriptors at q * 0x2000,
 * avail at +0x1000, used at +0x1400; data anywhere from 0x4000.  Each
 * round: kick tx, kick rx, host sends, poll, host drains.  Any crash,
 * sanitizer report, leak or hang is a bug; NEEDS_RESET, drops and log
 * lines are expected.
 *
 * Header:
 *   0  u32 driver features (le): ANDed with what the device offers
 *   4  u8  queue size: 1 << (b % 9)
 *   5  u8  rounds (b % 4 + 1); bit 7: device reset at the end
 *   6  u16 length of the frame the host sends each round (le, % 70000)
 *   8  u8  flags: bit0 EVENT_IDX, bit1 INDIRECT_DESC
 *   9  u8  first byte of the host frame's vnet header (flags), 10: gso_type
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

#include "virtio/net.h"

#define FUZZ_RAM (128u * 1024)
#define HDR_LEN	 16

struct fuzz_ctx {
	uint8_t *ram;
	struct guest_mem mem;
	struct virtio_net net;
	int host;
	uint8_t *frame;
};

static void w32(struct virtio_dev *d, uint64_t off, uint32_t v)
{
	virtio_mmio_write(d, off, &v, 4);
}

static void probe(struct virtio_dev *d, const uint8_t *hdr)
{
	uint32_t drv;
	memcpy(&drv, hdr, 4);
	uint64_t feat = (le32toh(drv) & (uint32_t)d->offered) | 1ULL << VIRTIO_F_VERSION_1;
	if (hdr[8] & 1)
		feat |= 1ULL << VIRTIO_RING_F_EVENT_IDX;
	if (hdr[8] & 2)
		feat |= 1ULL << VIRTIO_RING_F_INDIRECT_DESC;
	uint32_t st = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER;
	w32(d, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	w32(d, VIRTIO_MMIO_STATUS, st);
	w32(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	w32(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)feat);
	w32(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	w32(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(feat >> 32));
	st |= VIRTIO_CONFIG_S_FEATURES_OK;
	w32(d, VIRTIO_MMIO_STATUS, st);
	for (unsigned q = 0; q < NET_NQUEUES; q++) {
		w32(d, VIRTIO_MMIO_QUEUE_SEL, q);
		w32(d, VIRTIO_MMIO_QUEUE_NUM, 1u << (hdr[4] % 9));
		w32(d, VIRTIO_MMIO_QUEUE_DESC_LOW, q * 0x2000);
		w32(d, VIRTIO_MMIO_QUEUE_AVAIL_LOW, q * 0x2000 + 0x1000);
		w32(d, VIRTIO_MMIO_QUEUE_USED_LOW, q * 0x2000 + 0x1400);
		w32(d, VIRTIO_MMIO_QUEUE_READY, 1);
	}
	w32(d, VIRTIO_MMIO_STATUS, st | VIRTIO_CONFIG_S_DRIVER_OK);
}

static void host_io(struct fuzz_ctx *f, const uint8_t *hdr)
{
	uint32_t len = ((uint32_t)hdr[6] | (uint32_t)hdr[7] << 8) % 70000;
	if (len >= NET_HDR_LEN) {
		memset(f->frame, 0xab, len);
		f->frame[0] = hdr[9];
		f->frame[1] = hdr[10];
		(void)!send(f->host, f->frame, len, MSG_DONTWAIT);
	}
}

static void drain(struct fuzz_ctx *f)
{
	for (int i = 0; i < 512; i++)
		if (recv(f->host, f->frame, 70000, MSG_DONTWAIT) < 0)
			break;
}

static void run(struct fuzz_ctx *f, const uint8_t *hdr)
{
	struct virtio_dev *d = &f->net.vdev;
	probe(d, hdr);
	unsigned rounds = (hdr[5] & 0x7f) % 4 + 1;
	for (unsigned r = 0; r < rounds; r++) {
		w32(d, VIRTIO_MMIO_QUEUE_NOTIFY, NET_Q_TX);
		w32(d, VIRTIO_MMIO_QUEUE_NOTIFY, NET_Q_RX);
		host_io(f, hdr);
		virtio_net_poll(&f->net);
		drain(f);
	}
	if (hdr[5] & 0x80) {
		w32(d, VIRTIO_MMIO_STATUS, 0);
		virtio_net_poll(&f->net);
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
		f->frame = malloc(70000);
		guest_mem_fake(&f->mem, f->ram, FUZZ_RAM);
	}
	size_t img = size - HDR_LEN < FUZZ_RAM ? size - HDR_LEN : FUZZ_RAM;
	memcpy(f->ram, data + HDR_LEN, img);
	memset(f->ram + img, 0, FUZZ_RAM - img);
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	struct virtio_net_params p = {
	    .tap_fd = sv[0], .mac = {0x52, 0x54, 0, 1, 2, 3}, .mtu = 1500, .not_tap = true};
	if (virtio_net_init(&f->net, &f->mem, &p, NULL) < 0)
		abort();
	close(sv[0]);
	f->host = sv[1];
	run(f, data);
	virtio_net_destroy(&f->net);
	close(f->host);
	return 0;
}
