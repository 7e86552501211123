/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-rng end to end through the virtio-mmio register window, driven
 * the way Linux's virtio_mmio and virtio core probe a device, over fake
 * guest memory: requests served in place, the 64 KiB cap, EVENT_IDX
 * interrupt suppression, buffers queued before DRIVER_OK, and a hostile
 * guest that breaks one device while a second one keeps working.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <linux/virtio_ids.h>

#include "virtio/rng.h"

#include "test_virtio_regs.h"

struct rng_fx {
	struct virtio_rng rng;
	uint8_t *ram;
	struct guest_mem mem;
	struct irq_count irq;
	uint16_t avail_idx;
};

static void rng_fx_init(struct rng_fx *f)
{
	memset(f, 0, sizeof(*f));
	f->ram = aligned_alloc(4096, MEM_SIZE);
	memset(f->ram, 0, MEM_SIZE);
	guest_mem_fake(&f->mem, f->ram, MEM_SIZE);
	assert_int_equal(virtio_rng_init(&f->rng, &f->mem, NULL), 0);
	struct virtio_irq irq = {.irqfd = -1, .raise = count_irq, .ctx = &f->irq, .gsi = 5};
	virtio_dev_set_irq(&f->rng.vdev, &irq);
}

static void rng_fx_fini(struct rng_fx *f)
{
	virtio_rng_destroy(&f->rng);
	free(f->ram);
}

/* What Linux's virtio_mmio + virtio core do at probe, register by register. */
static void rng_probe(struct rng_fx *f, uint16_t qsize)
{
	struct virtio_dev *d = &f->rng.vdev;
	memset(f->ram, 0, DATA_GPA);
	f->avail_idx = 0;
	assert_int_equal(r32(d, VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
	assert_int_equal(r32(d, VIRTIO_MMIO_VERSION), 2);
	assert_int_equal(r32(d, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_RNG);
	w32(d, VIRTIO_MMIO_STATUS, 0);
	w32(d, VIRTIO_MMIO_STATUS, A);
	w32(d, VIRTIO_MMIO_STATUS, A | D);
	w32(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	assert_true(r32(d, VIRTIO_MMIO_DEVICE_FEATURES) & 1);
	set_driver_features(d, F_VERSION_1 | F_EVENT_IDX);
	w32(d, VIRTIO_MMIO_STATUS, A | D | FOK);
	assert_int_equal(r32(d, VIRTIO_MMIO_STATUS), A | D | FOK);
	w32(d, VIRTIO_MMIO_QUEUE_SEL, 0);
	assert_true(r32(d, VIRTIO_MMIO_QUEUE_NUM_MAX) >= qsize);
	setup_queue(d, 0, qsize, DESC_GPA, AVAIL_GPA, USED_GPA);
	assert_int_equal(r32(d, VIRTIO_MMIO_QUEUE_READY), 1);
	w32(d, VIRTIO_MMIO_STATUS, A | D | FOK | OK);
	assert_int_equal(r32(d, VIRTIO_MMIO_STATUS), A | D | FOK | OK);
}

static void rng_desc(struct rng_fx *f, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	struct vring_desc desc = {.addr = addr, .len = len, .flags = flags, .next = next};
	memcpy(f->ram + DESC_GPA + 16 * i, &desc, 16);
}

static void rng_avail(struct rng_fx *f, uint16_t head, uint16_t qsize)
{
	uint16_t *avail = (uint16_t *)(f->ram + AVAIL_GPA);
	avail[2 + f->avail_idx % qsize] = head;
	avail[1] = ++f->avail_idx;
}

static struct vring_used_elem rng_used(struct rng_fx *f, uint16_t i, uint16_t qsize)
{
	struct vring_used_elem e;
	memcpy(&e, f->ram + USED_GPA + 4 + 8 * (i % qsize), 8);
	return e;
}

static uint16_t rng_used_idx(struct rng_fx *f)
{
	return *(uint16_t *)(f->ram + USED_GPA + 2);
}

static void test_rng_end_to_end(void **state)
{
	struct rng_fx f;
	rng_fx_init(&f);
	struct virtio_dev *d = &f.rng.vdev;
	rng_probe(&f, 16);

	/* One 64-byte request. */
	rng_desc(&f, 0, DATA_GPA, 64, VRING_DESC_F_WRITE, 0);
	rng_avail(&f, 0, 16);
	w32(d, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	assert_int_equal(rng_used_idx(&f), 1);
	assert_int_equal(rng_used(&f, 0, 16).id, 0);
	assert_int_equal(rng_used(&f, 0, 16).len, 64);
	static const uint8_t zero[64];
	assert_memory_not_equal(f.ram + DATA_GPA, zero, 64);
	assert_int_equal(f.irq.pulses, 1);
	assert_int_equal(r32(d, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_VRING);
	w32(d, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_VRING);
	assert_int_equal(r32(d, VIRTIO_MMIO_INTERRUPT_STATUS), 0);

	/* A 100000-byte request over two buffers is capped at 64 KiB; the
	 * guest asks for an interrupt only after used idx passes 2. */
	*(uint16_t *)(f.ram + AVAIL_GPA + 4 + 2 * 16) = 2; /* used_event */
	rng_desc(&f, 1, DATA_GPA + 0x1000, 50000, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 2);
	rng_desc(&f, 2, DATA_GPA + 0x20000, 50000, VRING_DESC_F_WRITE, 0);
	rng_avail(&f, 1, 16);
	/* ...and a chain with only readable bytes gets 0 bytes back. */
	rng_desc(&f, 3, DATA_GPA, 16, 0, 0);
	rng_avail(&f, 3, 16);
	virtio_dev_kick(d, 0);
	assert_int_equal(rng_used_idx(&f), 3);
	assert_int_equal(rng_used(&f, 1, 16).id, 1);
	assert_int_equal(rng_used(&f, 1, 16).len, VIRTIO_RNG_MAX_REQUEST);
	assert_int_equal(rng_used(&f, 2, 16).id, 3);
	assert_int_equal(rng_used(&f, 2, 16).len, 0);
	assert_int_equal(f.irq.pulses, 2);
	/* avail_event re-armed at the last consumed index. */
	assert_int_equal(*(uint16_t *)(f.ram + USED_GPA + 4 + 8 * 16), 3);
	assert_int_equal(f.rng.requests, 3);
	rng_fx_fini(&f);
}

static void test_rng_hostile_guest(void **state)
{
	struct rng_fx a, b;
	rng_fx_init(&a);
	rng_fx_init(&b);
	rng_probe(&a, 16);
	rng_probe(&b, 16);

	/* Device a: a descriptor loop.  a needs reset; b does not notice. */
	rng_desc(&a, 0, DATA_GPA, 8, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	rng_desc(&a, 1, DATA_GPA, 8, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 0);
	rng_avail(&a, 0, 16);
	w32(&a.rng.vdev, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	assert_int_equal(r32(&a.rng.vdev, VIRTIO_MMIO_STATUS), A | D | FOK | OK | NR);
	assert_int_equal(r32(&a.rng.vdev, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_CONFIG);
	assert_int_equal(rng_used_idx(&a), 0);
	assert_int_equal(a.rng.vq.error, VQ_E_LOOP);
	w32(&a.rng.vdev, VIRTIO_MMIO_QUEUE_NOTIFY, 0); /* ignored now */

	rng_desc(&b, 0, DATA_GPA, 8, VRING_DESC_F_WRITE, 0);
	rng_avail(&b, 0, 16);
	w32(&b.rng.vdev, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	assert_int_equal(rng_used_idx(&b), 1);

	/* Head out of range and avail jumps are caught the same way. */
	rng_probe(&b, 16);
	*(uint16_t *)(b.ram + AVAIL_GPA + 2) = 40;
	w32(&b.rng.vdev, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	assert_int_equal(b.rng.vq.error, VQ_E_AVAIL_JUMP);

	/* The driver resets a and starts over: it works again. */
	rng_probe(&a, 16);
	rng_desc(&a, 0, DATA_GPA, 32, VRING_DESC_F_WRITE, 0);
	rng_avail(&a, 0, 16);
	w32(&a.rng.vdev, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	assert_int_equal(rng_used_idx(&a), 1);
	assert_int_equal(rng_used(&a, 0, 16).len, 32);
	rng_fx_fini(&a);
	rng_fx_fini(&b);
}

/* Buffers queued before DRIVER_OK are served at activation. */
static void test_rng_early_buffers(void **state)
{
	struct rng_fx f;
	rng_fx_init(&f);
	struct virtio_dev *d = &f.rng.vdev;
	w32(d, VIRTIO_MMIO_STATUS, A);
	w32(d, VIRTIO_MMIO_STATUS, A | D);
	set_driver_features(d, F_VERSION_1);
	w32(d, VIRTIO_MMIO_STATUS, A | D | FOK);
	setup_queue(d, 0, 8, DESC_GPA, AVAIL_GPA, USED_GPA);
	rng_desc(&f, 0, DATA_GPA, 16, VRING_DESC_F_WRITE, 0);
	rng_avail(&f, 0, 8);
	w32(d, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	assert_int_equal(rng_used_idx(&f), 0);
	w32(d, VIRTIO_MMIO_STATUS, A | D | FOK | OK);
	assert_int_equal(rng_used_idx(&f), 1);
	rng_fx_fini(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rng_end_to_end),
	    cmocka_unit_test(test_rng_hostile_guest),
	    cmocka_unit_test(test_rng_early_buffers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
