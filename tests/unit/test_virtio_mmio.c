/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio/mmio.c and virtio/rng.c through the register window only, as a
 * guest driver would see them: the Status state machine (every transition
 * from every reachable state), feature negotiation, queue register gating,
 * access-size rules, config space, reset, NEEDS_RESET and interrupt wiring,
 * against a small test device.  virtio-rng end to end: test_virtio_rng.c.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <cmocka.h>

#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>

#include "util/cleanup.h"
#include "virtio/mmio.h"

#include "test_virtio_regs.h"

/* ---- a test device and a fake machine ---- */

struct tdev {
	struct virtio_dev vdev;
	struct virtq vq[2];
	uint8_t config[8];
	int notifies[2];
	int activates, resets, config_writes;
	int activate_ret;
	struct irq_count irq;
	uint8_t *ram;
	struct guest_mem mem;
};

static struct tdev *to_tdev(struct virtio_dev *d)
{
	return container_of(d, struct tdev, vdev);
}

static uint64_t t_features(struct virtio_dev *d)
{
	return 0x9; /* two device-specific bits: 0 and 3 */
}

static void t_config_read(struct virtio_dev *d, uint32_t off, void *data, unsigned len)
{
	memcpy(data, to_tdev(d)->config + off, len);
}

static void t_config_write(struct virtio_dev *d, uint32_t off, const void *data, unsigned len)
{
	memcpy(to_tdev(d)->config + off, data, len);
	to_tdev(d)->config_writes++;
}

static void t_notify(struct virtio_dev *d, unsigned q)
{
	to_tdev(d)->notifies[q]++;
}

static int t_activate(struct virtio_dev *d)
{
	to_tdev(d)->activates++;
	return to_tdev(d)->activate_ret;
}

static void t_reset(struct virtio_dev *d)
{
	to_tdev(d)->resets++;
}

static const struct virtio_dev_ops t_ops = {
    .features = t_features,
    .config_read = t_config_read,
    .config_write = t_config_write,
    .queue_notify = t_notify,
    .activate = t_activate,
    .reset = t_reset,
};

static const struct virtio_dev_info t_info = {
    .name = "test", .device_id = 42, .config_len = 8, .nqueues = 2, .queue_max = 64};

static int setup(void **state)
{
	struct tdev *t = calloc(1, sizeof(*t));
	t->ram = aligned_alloc(4096, MEM_SIZE);
	memset(t->ram, 0, MEM_SIZE);
	guest_mem_fake(&t->mem, t->ram, MEM_SIZE);
	for (int i = 0; i < 8; i++)
		t->config[i] = (uint8_t)(i + 1);
	assert_int_equal(virtio_dev_init(&t->vdev, &t_info, &t_ops, t->vq, &t->mem, NULL), 0);
	struct virtio_irq irq = {.irqfd = -1, .raise = count_irq, .ctx = &t->irq, .gsi = 5};
	virtio_dev_set_irq(&t->vdev, &irq);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct tdev *t = *state;
	virtio_dev_destroy(&t->vdev);
	free(t->ram);
	free(t);
	return 0;
}

/* Resets and walks the legal path to `st` (a prefix of A, D, FOK, OK,
 * optionally plus FAIL), the way Linux's virtio core does. */
static void drive_to(struct virtio_dev *d, uint32_t st)
{
	w32(d, VIRTIO_MMIO_STATUS, 0);
	uint32_t cur = 0;
	if (st & A)
		w32(d, VIRTIO_MMIO_STATUS, cur |= A);
	if (st & D)
		w32(d, VIRTIO_MMIO_STATUS, cur |= D);
	if (st & FOK) {
		set_driver_features(d, F_VERSION_1);
		w32(d, VIRTIO_MMIO_STATUS, cur |= FOK);
	}
	if (st & OK)
		w32(d, VIRTIO_MMIO_STATUS, cur |= OK);
	if (st & FAIL)
		w32(d, VIRTIO_MMIO_STATUS, cur |= FAIL);
	assert_int_equal(r32(d, VIRTIO_MMIO_STATUS), st);
}

/* ---- status state machine ---- */

/* The spec's order, written out independently of mmio.c's table. */
static const uint32_t chain[] = {0, A, A | D, A | D | FOK, A | D | FOK | OK};

static uint32_t expected_status(uint32_t from, uint32_t to)
{
	if (to == 0 || to == from)
		return to;
	for (size_t i = 0; i + 1 < ARRAY_SIZE(chain); i++)
		if (from == chain[i] && to == chain[i + 1])
			return to;
	if (!(from & FAIL) && to == (from | FAIL))
		return to;
	return from; /* ignored */
}

static uint32_t bits5(unsigned m)
{
	static const uint32_t b[] = {A, D, OK, FOK, FAIL};
	uint32_t v = 0;
	for (unsigned i = 0; i < 5; i++)
		if (m & (1u << i))
			v |= b[i];
	return v;
}

static void test_status_transitions_exhaustive(void **state)
{
	struct tdev *t = *state;
	unsigned allowed = 0, refused = 0;

	for (size_t f = 0; f < 2 * ARRAY_SIZE(chain); f++) {
		uint32_t from = chain[f % ARRAY_SIZE(chain)] | (f >= ARRAY_SIZE(chain) ? FAIL : 0);
		for (unsigned m = 0; m < 32; m++) {
			uint32_t to = bits5(m);
			drive_to(&t->vdev, from);
			if (from == (A | D)) /* FEATURES_OK needs acceptable features */
				set_driver_features(&t->vdev, F_VERSION_1);
			int act = t->activates;
			w32(&t->vdev, VIRTIO_MMIO_STATUS, to);
			uint32_t want = expected_status(from, to);
			if (r32(&t->vdev, VIRTIO_MMIO_STATUS) != want)
				fail_msg("status 0x%x -> write 0x%x: got 0x%x, want 0x%x", from, to,
					 r32(&t->vdev, VIRTIO_MMIO_STATUS), want);
			/* activate runs exactly on FEATURES_OK -> DRIVER_OK */
			bool activated = want == (A | D | FOK | OK) && from == (A | D | FOK);
			assert_int_equal(t->activates - act, activated);
			if (want != from && to != 0)
				allowed++;
			else if (want == from && to != from)
				refused++;
		}
	}
	print_message("  %u allowed transitions, %u refused\n", allowed, refused);
	assert_int_equal(allowed, 9); /* 4 forward + 5 "add FAILED" edges */
}

struct status_case {
	const char *name;
	uint32_t from, write, expect;
};

static const struct status_case status_cases[] = {
    {"reset -> ACK", 0, A, A},
    {"reset -> DRIVER skips ACK", 0, D, 0},
    {"reset -> ACK|DRIVER at once", 0, A | D, 0},
    {"ACK -> ACK|DRIVER", A, A | D, A | D},
    {"ACK -> FEATURES_OK skips DRIVER", A, A | FOK, A},
    {"DRIVER -> DRIVER_OK skips FEATURES_OK", A | D, A | D | OK, A | D},
    {"FEATURES_OK -> DRIVER_OK", A | D | FOK, A | D | FOK | OK, A | D | FOK | OK},
    {"drop a bit", A | D | FOK, A | FOK, A | D | FOK},
    {"FAILED from DRIVER_OK", A | D | FOK | OK, A | D | FOK | OK | FAIL, A | D | FOK | OK | FAIL},
    {"no way out of FAILED but reset", A | FAIL, A | D | FAIL, A | FAIL},
    {"write 0 resets FAILED", A | D | FAIL, 0, 0},
    {"NEEDS_RESET bit written by driver is ignored", A, A | NR, A},
    {"rewrite same value", A | D, A | D, A | D},
};

static void test_status_cases(void **state)
{
	struct tdev *t = *state;
	for (size_t i = 0; i < ARRAY_SIZE(status_cases); i++) {
		const struct status_case *c = &status_cases[i];
		print_message("  case: %s\n", c->name);
		drive_to(&t->vdev, c->from);
		w32(&t->vdev, VIRTIO_MMIO_STATUS, c->write);
		assert_int_equal(r32(&t->vdev, VIRTIO_MMIO_STATUS), c->expect);
	}
}

/* ---- features ---- */

static void test_feature_negotiation(void **state)
{
	struct virtio_dev *d = &((struct tdev *)*state)->vdev;

	w32(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	assert_int_equal(r32(d, VIRTIO_MMIO_DEVICE_FEATURES),
			 0x9 | (1u << VIRTIO_RING_F_EVENT_IDX) |
			     (1u << VIRTIO_RING_F_INDIRECT_DESC));
	w32(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	assert_int_equal(r32(d, VIRTIO_MMIO_DEVICE_FEATURES), 1); /* VERSION_1 */
	w32(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 2);
	assert_int_equal(r32(d, VIRTIO_MMIO_DEVICE_FEATURES), 0);

	/* A feature we do not offer: FEATURES_OK does not stick. */
	drive_to(d, A | D);
	set_driver_features(d, F_VERSION_1 | (1ULL << 5));
	w32(d, VIRTIO_MMIO_STATUS, A | D | FOK);
	assert_int_equal(r32(d, VIRTIO_MMIO_STATUS), A | D);

	/* No VERSION_1 (a legacy driver): refused. */
	drive_to(d, A | D);
	set_driver_features(d, 0x9);
	w32(d, VIRTIO_MMIO_STATUS, A | D | FOK);
	assert_int_equal(r32(d, VIRTIO_MMIO_STATUS), A | D);

	/* Bits beyond 64: refused. */
	drive_to(d, A | D);
	set_driver_features(d, F_VERSION_1);
	w32(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 2);
	w32(d, VIRTIO_MMIO_DRIVER_FEATURES, 1);
	w32(d, VIRTIO_MMIO_STATUS, A | D | FOK);
	assert_int_equal(r32(d, VIRTIO_MMIO_STATUS), A | D);

	/* DriverFeatures before DRIVER is ignored. */
	drive_to(d, A);
	set_driver_features(d, F_VERSION_1 | 1);
	w32(d, VIRTIO_MMIO_STATUS, A | D);
	w32(d, VIRTIO_MMIO_STATUS, A | D | FOK);
	assert_int_equal(r32(d, VIRTIO_MMIO_STATUS), A | D);

	/* A proper subset is accepted, and frozen after FEATURES_OK. */
	drive_to(d, A | D);
	set_driver_features(d, F_VERSION_1 | F_EVENT_IDX | 1);
	w32(d, VIRTIO_MMIO_STATUS, A | D | FOK);
	assert_int_equal(r32(d, VIRTIO_MMIO_STATUS), A | D | FOK);
	set_driver_features(d, F_VERSION_1 | 8);
	assert_true(virtio_dev_has_feature(d, 0));
	assert_false(virtio_dev_has_feature(d, 3));
	assert_true(virtio_dev_has_feature(d, VIRTIO_RING_F_EVENT_IDX));
	assert_false(virtio_dev_has_feature(d, 99));
}

/* ---- queue registers ---- */

static void test_queue_gating(void **state)
{
	struct tdev *t = *state;
	struct virtio_dev *d = &t->vdev;

	/* Before FEATURES_OK: ignored. */
	drive_to(d, A | D);
	setup_queue(d, 0, 8, DESC_GPA, AVAIL_GPA, USED_GPA);
	assert_int_equal(t->vq[0].size, 64);
	assert_int_equal(t->vq[0].desc_gpa, 0);
	assert_int_equal(r32(d, VIRTIO_MMIO_QUEUE_READY), 0);

	/* Between FEATURES_OK and DRIVER_OK: taken, and validated at ready. */
	drive_to(d, A | D | FOK);
	w32(d, VIRTIO_MMIO_QUEUE_SEL, 0);
	assert_int_equal(r32(d, VIRTIO_MMIO_QUEUE_NUM_MAX), 64);
	setup_queue(d, 0, 8, DESC_GPA, AVAIL_GPA, USED_GPA);
	assert_int_equal(r32(d, VIRTIO_MMIO_QUEUE_READY), 1);
	assert_int_equal(t->vq[0].size, 8);
	/* Ready queue: its configuration is frozen. */
	w32(d, VIRTIO_MMIO_QUEUE_NUM, 4);
	w32(d, VIRTIO_MMIO_QUEUE_DESC_LOW, 0x5000);
	assert_int_equal(t->vq[0].size, 8);
	assert_int_equal(t->vq[0].desc_gpa, DESC_GPA);
	/* Disable before DRIVER_OK is allowed. */
	w32(d, VIRTIO_MMIO_QUEUE_READY, 0);
	assert_int_equal(r32(d, VIRTIO_MMIO_QUEUE_READY), 0);
	w32(d, VIRTIO_MMIO_QUEUE_READY, 1);

	/* Out-of-range selector. */
	w32(d, VIRTIO_MMIO_QUEUE_SEL, 2);
	assert_int_equal(r32(d, VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
	assert_int_equal(r32(d, VIRTIO_MMIO_QUEUE_READY), 0);
	w32(d, VIRTIO_MMIO_QUEUE_READY, 1);
	assert_int_equal(r32(d, VIRTIO_MMIO_STATUS), A | D | FOK);

	/* After DRIVER_OK: queue 1 can no longer be set up, 0 stays ready. */
	w32(d, VIRTIO_MMIO_STATUS, A | D | FOK | OK);
	setup_queue(d, 1, 8, DESC_GPA + 0x4000, AVAIL_GPA + 0x4000, USED_GPA + 0x4000);
	assert_int_equal(r32(d, VIRTIO_MMIO_QUEUE_READY), 0);
	w32(d, VIRTIO_MMIO_QUEUE_SEL, 0);
	w32(d, VIRTIO_MMIO_QUEUE_READY, 0);
	assert_int_equal(r32(d, VIRTIO_MMIO_QUEUE_READY), 1);
	assert_int_equal(r32(d, VIRTIO_MMIO_STATUS), A | D | FOK | OK);
}

struct bad_queue_case {
	const char *name;
	uint32_t num;
	uint64_t desc, avail, used;
};

static const struct bad_queue_case bad_queues[] = {
    {"size over max", 128, DESC_GPA, AVAIL_GPA, USED_GPA},
    {"size not power of two", 12, DESC_GPA, AVAIL_GPA, USED_GPA},
    {"size 0", 0, DESC_GPA, AVAIL_GPA, USED_GPA},
    {"desc above 4 GiB (not RAM)", 8, 0x100000000ULL + DESC_GPA, AVAIL_GPA, USED_GPA},
    {"used misaligned", 8, DESC_GPA, AVAIL_GPA, USED_GPA + 2},
    {"avail at end of RAM", 8, DESC_GPA, MEM_SIZE - 4, USED_GPA},
};

static void test_bad_queue_address_needs_reset(void **state)
{
	struct tdev *t = *state;
	struct virtio_dev *d = &t->vdev;
	for (size_t i = 0; i < ARRAY_SIZE(bad_queues); i++) {
		const struct bad_queue_case *c = &bad_queues[i];
		print_message("  case: %s\n", c->name);
		drive_to(d, A | D | FOK);
		setup_queue(d, 0, c->num, c->desc, c->avail, c->used);
		assert_int_equal(r32(d, VIRTIO_MMIO_QUEUE_READY), 0);
		assert_int_equal(r32(d, VIRTIO_MMIO_STATUS), A | D | FOK | NR);
		/* The device stays dead until reset: DRIVER_OK does not activate. */
		int act = t->activates;
		w32(d, VIRTIO_MMIO_STATUS, A | D | FOK | OK);
		assert_int_equal(t->activates, act);
		w32(d, VIRTIO_MMIO_STATUS, 0);
		assert_int_equal(r32(d, VIRTIO_MMIO_STATUS), 0);
	}
}

/* ---- access rules, config space ---- */

static void test_access_size_and_identity(void **state)
{
	struct virtio_dev *d = &((struct tdev *)*state)->vdev;
	uint64_t v64 = ~0ULL;
	uint16_t v16 = 0xffff;
	uint8_t v8 = 1;

	assert_int_equal(r32(d, VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
	assert_int_equal(r32(d, VIRTIO_MMIO_VERSION), 2);
	assert_int_equal(r32(d, VIRTIO_MMIO_DEVICE_ID), 42);
	assert_int_equal(r32(d, VIRTIO_MMIO_VENDOR_ID), VIRTIO_MMIO_VENDOR);
	assert_int_equal(r32(d, VIRTIO_MMIO_SHM_LEN_LOW), 0xffffffff);
	assert_int_equal(r32(d, VIRTIO_MMIO_QUEUE_NUM), 0);	  /* write-only */
	assert_int_equal(r32(d, VIRTIO_MMIO_QUEUE_PFN), 0);	  /* legacy */
	assert_int_equal(r32(d, VIRTIO_MMIO_MAGIC_VALUE + 2), 0); /* misaligned */
	virtio_mmio_read(d, VIRTIO_MMIO_MAGIC_VALUE, &v16, 2);
	assert_int_equal(v16, 0);
	virtio_mmio_read(d, VIRTIO_MMIO_MAGIC_VALUE, &v64, 8);
	assert_int_equal(v64, 0);
	virtio_mmio_write(d, VIRTIO_MMIO_STATUS, &v8, 1);
	assert_int_equal(r32(d, VIRTIO_MMIO_STATUS), 0);
	w32(d, VIRTIO_MMIO_STATUS + 1, A);
	assert_int_equal(r32(d, VIRTIO_MMIO_STATUS), 0);
	assert_int_equal(r32(d, VIRTIO_MMIO_WINDOW), 0); /* past the window */
	/* Through the bus callbacks too. */
	uint32_t m = 0;
	virtio_mmio_bus_read(d, VIRTIO_MMIO_MAGIC_VALUE, &m, 4);
	assert_int_equal(m, 0x74726976);
}

static void test_config_space(void **state)
{
	struct tdev *t = *state;
	struct virtio_dev *d = &t->vdev;
	uint8_t b = 0;
	uint16_t h = 0;
	uint64_t q = 0;

	virtio_mmio_read(d, 0x103, &b, 1);
	assert_int_equal(b, 4);
	virtio_mmio_read(d, 0x102, &h, 2);
	assert_int_equal(h, 0x0403);
	assert_int_equal(r32(d, 0x104), 0x08070605);
	virtio_mmio_read(d, 0x100, &q, 8);
	assert_int_equal(q, 0x0807060504030201ULL);
	virtio_mmio_read(d, 0x101, &h, 2); /* misaligned */
	assert_int_equal(h, 0);
	virtio_mmio_read(d, 0x108, &b, 1); /* past config_len */
	assert_int_equal(b, 0);
	assert_int_equal(r32(d, 0x106), 0); /* misaligned 4 */
	virtio_mmio_read(d, 0x104, &q, 8);  /* runs past the end */
	assert_int_equal(q, 0);

	b = 0xaa;
	virtio_mmio_write(d, 0x107, &b, 1);
	virtio_mmio_write(d, 0x108, &b, 1);
	virtio_mmio_write(d, 0x100, &b, 3);
	assert_int_equal(t->config_writes, 1);
	assert_int_equal(t->config[7], 0xaa);

	assert_int_equal(r32(d, VIRTIO_MMIO_CONFIG_GENERATION), 0);
	virtio_dev_config_changed(d);
	assert_int_equal(r32(d, VIRTIO_MMIO_CONFIG_GENERATION), 1);
	assert_int_equal(r32(d, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_CONFIG);
	assert_int_equal(t->irq.pulses, 1);
	w32(d, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_CONFIG);
	assert_int_equal(r32(d, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
}

/* ---- reset, notify, NEEDS_RESET, wiring ---- */

static void to_running(struct tdev *t)
{
	drive_to(&t->vdev, A | D | FOK);
	setup_queue(&t->vdev, 0, 8, DESC_GPA, AVAIL_GPA, USED_GPA);
	w32(&t->vdev, VIRTIO_MMIO_STATUS, A | D | FOK | OK);
}

static void test_reset_clears_queues(void **state)
{
	struct tdev *t = *state;
	struct virtio_dev *d = &t->vdev;

	to_running(t);
	virtio_dev_config_changed(d);
	int resets = t->resets;
	w32(d, VIRTIO_MMIO_STATUS, 0);
	assert_int_equal(t->resets, resets + 1);
	assert_int_equal(r32(d, VIRTIO_MMIO_STATUS), 0);
	assert_int_equal(r32(d, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	w32(d, VIRTIO_MMIO_QUEUE_SEL, 0);
	assert_int_equal(r32(d, VIRTIO_MMIO_QUEUE_READY), 0);
	assert_false(t->vq[0].enabled);
	assert_int_equal(t->vq[0].size, 64);
	assert_int_equal(t->vq[0].desc_gpa, 0);
	assert_false(virtio_dev_has_feature(d, VIRTIO_F_VERSION_1));
}

static void test_notify_gating(void **state)
{
	struct tdev *t = *state;
	struct virtio_dev *d = &t->vdev;

	drive_to(d, A | D | FOK);
	setup_queue(d, 0, 8, DESC_GPA, AVAIL_GPA, USED_GPA);
	w32(d, VIRTIO_MMIO_QUEUE_NOTIFY, 0); /* before DRIVER_OK */
	assert_int_equal(t->notifies[0], 0);
	w32(d, VIRTIO_MMIO_STATUS, A | D | FOK | OK);
	assert_int_equal(t->activates, 1);
	w32(d, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	w32(d, VIRTIO_MMIO_QUEUE_NOTIFY, 1);	   /* not ready */
	w32(d, VIRTIO_MMIO_QUEUE_NOTIFY, 0x10000); /* no such queue */
	virtio_dev_kick(d, 0);			   /* ioeventfd path */
	assert_int_equal(t->notifies[0], 2);
	assert_int_equal(t->notifies[1], 0);
}

static void test_needs_reset(void **state)
{
	struct tdev *t = *state;
	struct virtio_dev *d = &t->vdev;

	to_running(t);
	int pulses = t->irq.pulses;
	virtio_dev_fail(d, "test failure %d", 1);
	virtio_dev_fail(d, "second report is swallowed");
	assert_int_equal(r32(d, VIRTIO_MMIO_STATUS), A | D | FOK | OK | NR);
	assert_int_equal(r32(d, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_CONFIG);
	assert_int_equal(t->irq.pulses, pulses + 1);
	assert_int_equal(t->vq[0].error, VQ_E_STOPPED);
	assert_false(virtio_dev_driver_ok(d));
	w32(d, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	assert_int_equal(t->notifies[0], 0);
	/* The driver can still add FAILED; NEEDS_RESET stays. */
	w32(d, VIRTIO_MMIO_STATUS, A | D | FOK | OK | FAIL | NR);
	assert_int_equal(r32(d, VIRTIO_MMIO_STATUS), A | D | FOK | OK | FAIL | NR);
	w32(d, VIRTIO_MMIO_STATUS, 0);
	assert_int_equal(r32(d, VIRTIO_MMIO_STATUS), 0);
	to_running(t);
	w32(d, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	assert_int_equal(t->notifies[0], 1);

	/* An activation failure is a NEEDS_RESET too. */
	t->activate_ret = -EIO;
	to_running(t);
	assert_int_equal(r32(d, VIRTIO_MMIO_STATUS), A | D | FOK | OK | NR);
}

static void test_irqfd_and_external_backend(void **state)
{
	struct tdev *t = *state;
	struct virtio_dev *d = &t->vdev;
	cleanup_close int efd = eventfd(0, EFD_NONBLOCK);
	assert_true(efd >= 0);
	struct virtio_irq irq = {.irqfd = efd, .gsi = 6};
	virtio_dev_set_irq(d, &irq);
	d->external_backend = true;

	assert_int_equal(r32(d, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	to_running(t);
	/* Another process raises the irqfd: the guest must see a used-buffer
	 * interrupt, and acking cannot clear what we cannot track. */
	assert_int_equal(r32(d, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_VRING);
	w32(d, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_VRING);
	assert_int_equal(r32(d, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_VRING);
	virtio_dev_config_changed(d);
	uint64_t n = 0;
	assert_int_equal(read(efd, &n, 8), 8);
	assert_int_equal(n, 1);
	assert_int_equal(t->irq.pulses, 0);
}

static void test_cmdline(void **state)
{
	uint64_t base;
	unsigned irq;
	char buf[64];

	virtio_mmio_slot(0, &base, &irq);
	assert_int_equal(base, 0xd0000000ULL);
	assert_int_equal(irq, 5);
	virtio_mmio_slot(3, &base, &irq);
	assert_int_equal(base, 0xd0003000ULL);
	assert_int_equal(irq, 8);
	int n = virtio_mmio_cmdline(buf, sizeof(buf), 0xd0000000ULL, 5);
	assert_string_equal(buf, "virtio_mmio.device=4K@0xd0000000:5");
	assert_int_equal(n, strlen(buf));
	assert_int_equal(virtio_mmio_cmdline(buf, 10, 0xd0000000ULL, 5), -ENOSPC);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_status_transitions_exhaustive),
	    T(test_status_cases),
	    T(test_feature_negotiation),
	    T(test_queue_gating),
	    T(test_bad_queue_address_needs_reset),
	    T(test_access_size_and_identity),
	    T(test_config_space),
	    T(test_reset_clears_queues),
	    T(test_notify_gating),
	    T(test_needs_reset),
	    T(test_irqfd_and_external_backend),
	    T(test_cmdline),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
