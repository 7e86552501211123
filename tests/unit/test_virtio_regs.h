/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared by the virtio-mmio unit tests: a guest driver's view of the
 * register window (32-bit register reads/writes, feature and queue setup),
 * a fake interrupt line that counts pulses, and fake RAM layout constants.
 */
#ifndef KVBOX_TEST_VIRTIO_REGS_H
#define KVBOX_TEST_VIRTIO_REGS_H

#include <stdint.h>

#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>

#include "virtio/mmio.h"

#define A    VIRTIO_CONFIG_S_ACKNOWLEDGE
#define D    VIRTIO_CONFIG_S_DRIVER
#define FOK  VIRTIO_CONFIG_S_FEATURES_OK
#define OK   VIRTIO_CONFIG_S_DRIVER_OK
#define FAIL VIRTIO_CONFIG_S_FAILED
#define NR   VIRTIO_CONFIG_S_NEEDS_RESET

#define MEM_SIZE  (1u << 20)
#define DESC_GPA  0x1000u
#define AVAIL_GPA 0x2000u
#define USED_GPA  0x3000u
#define DATA_GPA  0x10000u

#define F_VERSION_1 (1ULL << VIRTIO_F_VERSION_1)
#define F_EVENT_IDX (1ULL << VIRTIO_RING_F_EVENT_IDX)

struct irq_count {
	int pulses;
	unsigned gsi;
};

static inline void count_irq(void *ctx, unsigned gsi)
{
	struct irq_count *c = ctx;
	c->pulses++;
	c->gsi = gsi;
}

static inline uint32_t r32(struct virtio_dev *d, uint64_t off)
{
	uint32_t v = 0xdeadbeef;
	virtio_mmio_read(d, off, &v, 4);
	return v;
}

static inline void w32(struct virtio_dev *d, uint64_t off, uint32_t v)
{
	virtio_mmio_write(d, off, &v, 4);
}

static inline void set_driver_features(struct virtio_dev *d, uint64_t f)
{
	w32(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	w32(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)f);
	w32(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	w32(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(f >> 32));
}

static inline void setup_queue(struct virtio_dev *d, unsigned qi, uint32_t num, uint64_t desc,
			       uint64_t avail, uint64_t used)
{
	w32(d, VIRTIO_MMIO_QUEUE_SEL, qi);
	w32(d, VIRTIO_MMIO_QUEUE_NUM, num);
	w32(d, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)desc);
	w32(d, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(desc >> 32));
	w32(d, VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)avail);
	w32(d, VIRTIO_MMIO_QUEUE_AVAIL_HIGH, (uint32_t)(avail >> 32));
	w32(d, VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)used);
	w32(d, VIRTIO_MMIO_QUEUE_USED_HIGH, (uint32_t)(used >> 32));
	w32(d, VIRTIO_MMIO_QUEUE_READY, 1);
}

#endif
