/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the virtio-mmio transport (virtio/mmio.c): any
 * sequence of register reads and writes a guest can make to a device's
 * 4 KiB window (offsets, sizes 1/2/4/8, values; the status transition
 * table, feature selection, queue set-up before and after DRIVER_OK,
 * QueueNotify for any index, InterruptACK, config space) against the
 * virtio-rng, with rings and buffers in a fake guest RAM the input fills.
 * Any crash, sanitizer report or leak is a bug; NEEDS_RESET and log lines
 * are expected.  After the sequence a Status write of 0 must leave the
 * device reset (Status reads 0).
 *
 * Input:
 *   byte 0: number of operations n (0..255)
 *   then n operations of 7 bytes:
 *     u8  kind: bits 0-1 size (1, 2, 4, 8 bytes), bit 2 read, bit 3 kick
 *         the queue (value & 3) from the main loop instead of an access,
 *         bit 4: the offset is one of the known registers (index in the
 *         low 5 bits of the offset) rather than a raw offset
 *     u16 offset (le; & 0xfff)
 *     u32 value (le)
 *   the rest: guest RAM from address 0 (64 KiB, zero-padded)
 * Seed corpus: tests/fuzz/corpus/virtio_mmio/ (a driver's full set-up and
 * a valid request; the same with a chain loop; with a reset in between).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_mmio.h>

#include "virtio/rng.h"

#define FUZZ_RAM (64u * 1024)
#define OP_LEN	 7

static const uint16_t regs[32] = {
    VIRTIO_MMIO_MAGIC_VALUE,
    VIRTIO_MMIO_VERSION,
    VIRTIO_MMIO_DEVICE_ID,
    VIRTIO_MMIO_VENDOR_ID,
    VIRTIO_MMIO_DEVICE_FEATURES,
    VIRTIO_MMIO_DEVICE_FEATURES_SEL,
    VIRTIO_MMIO_DRIVER_FEATURES,
    VIRTIO_MMIO_DRIVER_FEATURES_SEL,
    VIRTIO_MMIO_QUEUE_SEL,
    VIRTIO_MMIO_QUEUE_NUM_MAX,
    VIRTIO_MMIO_QUEUE_NUM,
    VIRTIO_MMIO_QUEUE_READY,
    VIRTIO_MMIO_QUEUE_NOTIFY,
    VIRTIO_MMIO_INTERRUPT_STATUS,
    VIRTIO_MMIO_INTERRUPT_ACK,
    VIRTIO_MMIO_STATUS,
    VIRTIO_MMIO_QUEUE_DESC_LOW,
    VIRTIO_MMIO_QUEUE_DESC_HIGH,
    VIRTIO_MMIO_QUEUE_AVAIL_LOW,
    VIRTIO_MMIO_QUEUE_AVAIL_HIGH,
    VIRTIO_MMIO_QUEUE_USED_LOW,
    VIRTIO_MMIO_QUEUE_USED_HIGH,
    0x0ac, /* SHM_SEL */
    0x0b0, /* SHM_LEN_LOW */
    0x0b8, /* SHM_BASE_LOW */
    VIRTIO_MMIO_CONFIG_GENERATION,
    VIRTIO_MMIO_CONFIG,
    0x0c0,
    0xffc,
    0x0fe,
    0x071,
    0x1000 - 8,
};

static void irq_raise(void *ctx, unsigned gsi)
{
	(void)ctx;
	(void)gsi;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t *ram;
	static struct guest_mem mem;
	struct virtio_rng rng;

	if (size < 1)
		return 0;
	size_t n = data[0], ops = 1 + n * OP_LEN;
	if (size < ops)
		n = (size - 1) / OP_LEN, ops = 1 + n * OP_LEN;
	if (!ram) {
		ram = aligned_alloc(4096, FUZZ_RAM);
		guest_mem_fake(&mem, ram, FUZZ_RAM);
	}
	size_t img = size - ops < FUZZ_RAM ? size - ops : FUZZ_RAM;
	memcpy(ram, data + ops, img);
	memset(ram + img, 0, FUZZ_RAM - img);

	if (virtio_rng_init(&rng, &mem, NULL) < 0)
		abort();
	struct virtio_irq irq = {.irqfd = -1, .raise = irq_raise, .gsi = 5};
	virtio_dev_set_irq(&rng.vdev, &irq);
	for (size_t i = 0; i < n; i++) {
		const uint8_t *op = data + 1 + i * OP_LEN;
		unsigned len = 1u << (op[0] & 3);
		uint16_t off = (uint16_t)(op[1] | op[2] << 8);
		uint64_t val = (uint64_t)op[3] | (uint64_t)op[4] << 8 | (uint64_t)op[5] << 16 |
			       (uint64_t)op[6] << 24;
		if (op[0] & 0x10)
			off = regs[off & 31];
		off &= 0xfff;
		if (op[0] & 8) {
			virtio_dev_kick(&rng.vdev, (unsigned)(val & 3));
		} else if (op[0] & 4) {
			uint8_t buf[8];
			virtio_mmio_read(&rng.vdev, off, buf, len);
		} else {
			virtio_mmio_write(&rng.vdev, off, &val, len);
		}
	}
	uint32_t zero = 0, st = 0xff;
	virtio_mmio_write(&rng.vdev, VIRTIO_MMIO_STATUS, &zero, 4);
	virtio_mmio_read(&rng.vdev, VIRTIO_MMIO_STATUS, &st, 4);
	if (st != 0)
		__builtin_trap(); /* a reset always works */
	virtio_rng_destroy(&rng);
	return 0;
}
