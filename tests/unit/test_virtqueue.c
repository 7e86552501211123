/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio/queue.c against hand-built rings in fake guest memory.
 * One table row per malformed-chain rule: each asserts its specific error,
 * that the queue stays stopped, and that a fresh queue over the same memory
 * still serves a valid chain.  Then valid direct/indirect chains through
 * readers and writers, used-ring writes, EVENT_IDX decisions and hand-off.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <linux/virtio_ring.h>

#include "virtio/queue.h"

#define MEM_SIZE   (16u << 20) /* big enough for the > 4 GiB chain case */
#define DESC_GPA   0x10000u
#define AVAIL_GPA  0x20000u
#define USED_GPA   0x30000u
#define INDIR_GPA  0x40000u
#define DATA_GPA   0x80000u
#define F_EVENT	   (1ULL << VIRTIO_RING_F_EVENT_IDX)
#define F_INDIRECT (1ULL << VIRTIO_RING_F_INDIRECT_DESC)

#define NEXT  VRING_DESC_F_NEXT
#define WRITE VRING_DESC_F_WRITE
#define INDIR VRING_DESC_F_INDIRECT

struct fx {
	uint8_t *buf;
	struct guest_mem mem;
	struct virtq q;
	struct vq_chain chain;
	uint16_t size;
	uint16_t avail_idx; /* driver's next avail index */
};

static struct fx *F; /* the fixture of the running test (set in setup) */

/* ---- ring building helpers (the "guest driver") ---- */

static void put_desc(uint64_t table, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	struct vring_desc d = {.addr = addr, .len = len, .flags = flags, .next = next};
	memcpy(F->buf + table + 16 * (uint64_t)i, &d, sizeof(d));
}

static void avail_push(uint16_t head)
{
	uint16_t *ring = (uint16_t *)(F->buf + AVAIL_GPA + 4);
	ring[F->avail_idx % F->size] = head;
	F->avail_idx++;
	*(uint16_t *)(F->buf + AVAIL_GPA + 2) = F->avail_idx;
}

static void set_used_event(uint16_t v)
{
	*(uint16_t *)(F->buf + AVAIL_GPA + 4 + 2 * F->size) = v;
}

static uint16_t avail_event(void)
{
	return *(uint16_t *)(F->buf + USED_GPA + 4 + 8 * F->size);
}

static uint16_t used_idx(void)
{
	return *(uint16_t *)(F->buf + USED_GPA + 2);
}

static struct vring_used_elem used_elem(uint16_t i)
{
	struct vring_used_elem e;
	memcpy(&e, F->buf + USED_GPA + 4 + 8 * (i % F->size), sizeof(e));
	return e;
}

/* Fresh rings and a fresh enabled queue over the same memory. */
static void fx_queue(uint16_t size, uint64_t features)
{
	memset(F->buf, 0, DATA_GPA);
	F->size = size;
	F->avail_idx = 0;
	virtq_init(&F->q, VQ_SIZE_MAX);
	F->q.size = size;
	F->q.desc_gpa = DESC_GPA;
	F->q.avail_gpa = AVAIL_GPA;
	F->q.used_gpa = USED_GPA;
	assert_int_equal(virtq_enable(&F->q, &F->mem, features), 0);
}

static int setup(void **state)
{
	F = calloc(1, sizeof(*F));
	F->buf = aligned_alloc(4096, MEM_SIZE);
	memset(F->buf, 0, MEM_SIZE);
	guest_mem_fake(&F->mem, F->buf, MEM_SIZE);
	*state = F;
	return 0;
}

static int teardown(void **state)
{
	free(F->buf);
	free(F);
	F = NULL;
	return 0;
}

/* A valid one-in one-out chain; pops and checks it. */
static void expect_valid_chain_works(void)
{
	put_desc(DESC_GPA, 0, DATA_GPA, 8, NEXT, 1);
	put_desc(DESC_GPA, 1, DATA_GPA + 8, 8, WRITE, 0);
	avail_push(0);
	assert_int_equal(virtq_pop(&F->q, &F->chain), 1);
	assert_int_equal(F->chain.read_len, 8);
	assert_int_equal(F->chain.write_len, 8);
	assert_int_equal(virtq_push(&F->q, &F->chain, 8), 0);
}

/* ---- malformed chains, one per rule ---- */

static void bad_head_range(void)
{
	put_desc(DESC_GPA, 0, DATA_GPA, 8, 0, 0);
	avail_push(F->size);
}

static void bad_avail_jump(void)
{
	put_desc(DESC_GPA, 0, DATA_GPA, 8, 0, 0);
	*(uint16_t *)(F->buf + AVAIL_GPA + 2) = F->size + 1;
}

static void bad_loop_next(void)
{
	put_desc(DESC_GPA, 0, DATA_GPA, 8, NEXT, 1);
	put_desc(DESC_GPA, 1, DATA_GPA, 8, NEXT, 2);
	put_desc(DESC_GPA, 2, DATA_GPA, 8, NEXT, 0);
	avail_push(0);
}

static void bad_self_loop(void)
{
	put_desc(DESC_GPA, 3, DATA_GPA, 8, NEXT, 3);
	avail_push(3);
}

static void bad_next_range(void)
{
	put_desc(DESC_GPA, 0, DATA_GPA, 8, NEXT, F->size);
	avail_push(0);
}

static void bad_indirect_loop(void)
{
	put_desc(DESC_GPA, 0, INDIR_GPA, 4 * 16, INDIR, 0);
	put_desc(INDIR_GPA, 0, DATA_GPA, 8, NEXT, 1);
	put_desc(INDIR_GPA, 1, DATA_GPA, 8, NEXT, 0);
	avail_push(0);
}

static void bad_indirect_nested(void)
{
	put_desc(DESC_GPA, 0, INDIR_GPA, 2 * 16, INDIR, 0);
	put_desc(INDIR_GPA, 0, DATA_GPA, 8, NEXT, 1);
	put_desc(INDIR_GPA, 1, INDIR_GPA + 0x100, 16, INDIR, 0);
	avail_push(0);
}

static void bad_indirect_next(void)
{
	put_desc(DESC_GPA, 0, INDIR_GPA, 16, INDIR | NEXT, 1);
	put_desc(DESC_GPA, 1, DATA_GPA, 8, 0, 0);
	put_desc(INDIR_GPA, 0, DATA_GPA, 8, 0, 0);
	avail_push(0);
}

static void bad_indirect_len_odd(void)
{
	put_desc(DESC_GPA, 0, INDIR_GPA, 24, INDIR, 0);
	put_desc(INDIR_GPA, 0, DATA_GPA, 8, 0, 0);
	avail_push(0);
}

static void bad_indirect_len_zero(void)
{
	put_desc(DESC_GPA, 0, INDIR_GPA, 0, INDIR, 0);
	avail_push(0);
}

static void bad_indirect_range(void)
{
	put_desc(DESC_GPA, 0, MEM_SIZE - 16, 32, INDIR, 0);
	avail_push(0);
}

static void bad_indirect_next_range(void)
{
	put_desc(DESC_GPA, 0, INDIR_GPA, 2 * 16, INDIR, 0);
	put_desc(INDIR_GPA, 0, DATA_GPA, 8, NEXT, 2);
	avail_push(0);
}

static void bad_write_order(void)
{
	put_desc(DESC_GPA, 0, DATA_GPA, 8, WRITE | NEXT, 1);
	put_desc(DESC_GPA, 1, DATA_GPA + 8, 8, 0, 0);
	avail_push(0);
}

static void bad_write_order_indirect(void)
{
	put_desc(DESC_GPA, 0, INDIR_GPA, 2 * 16, INDIR, 0);
	put_desc(INDIR_GPA, 0, DATA_GPA, 8, WRITE | NEXT, 1);
	put_desc(INDIR_GPA, 1, DATA_GPA + 8, 0, 0, 0); /* even empty */
	avail_push(0);
}

static void bad_addr_out_of_ram(void)
{
	put_desc(DESC_GPA, 0, MEM_SIZE, 8, 0, 0);
	avail_push(0);
}

static void bad_addr_straddles_end(void)
{
	put_desc(DESC_GPA, 0, DATA_GPA, 8, NEXT, 1);
	put_desc(DESC_GPA, 1, MEM_SIZE - 8, 16, WRITE, 0);
	avail_push(0);
}

static void bad_addr_wraps(void)
{
	put_desc(DESC_GPA, 0, 0xfffffffffffff000ULL, 0x2000, 0, 0);
	avail_push(0);
}

static void bad_empty_chain(void)
{
	put_desc(DESC_GPA, 0, DATA_GPA, 0, NEXT, 1);
	put_desc(DESC_GPA, 1, DATA_GPA, 0, WRITE, 0);
	avail_push(0);
}

/* 513 linear descriptors in a 1024-entry ring: no loop, just too long. */
static void bad_too_long_direct(void)
{
	for (uint16_t i = 0; i <= VQ_CHAIN_MAX_DESC; i++)
		put_desc(DESC_GPA, i, DATA_GPA, 1, NEXT, i + 1);
	put_desc(DESC_GPA, VQ_CHAIN_MAX_DESC + 1, DATA_GPA, 1, 0, 0);
	avail_push(0);
}

static void bad_too_long_indirect(void)
{
	unsigned n = VQ_CHAIN_MAX_DESC + 8;
	put_desc(DESC_GPA, 0, INDIR_GPA, 16 * n, INDIR, 0);
	for (unsigned i = 0; i < n; i++)
		put_desc(INDIR_GPA, i, DATA_GPA, 1, i + 1 < n ? NEXT : 0, i + 1);
	avail_push(0);
}

/* 300 descriptors of 15 MiB each: every range is in RAM, the sum is not
 * representable in a used-ring length. */
static void bad_total_bytes(void)
{
	unsigned n = 300;
	put_desc(DESC_GPA, 0, INDIR_GPA, 16 * n, INDIR, 0);
	for (unsigned i = 0; i < n; i++)
		put_desc(INDIR_GPA, i, 0x100000, 15u << 20, i + 1 < n ? NEXT : 0, i + 1);
	avail_push(0);
}

static void bad_indirect_unnegotiated(void)
{
	put_desc(DESC_GPA, 0, INDIR_GPA, 16, INDIR, 0);
	put_desc(INDIR_GPA, 0, DATA_GPA, 8, 0, 0);
	avail_push(0);
}

struct bad_case {
	const char *name;
	void (*build)(void);
	int expect;
	uint16_t size;
	uint64_t features;
};

static const struct bad_case bad_cases[] = {
    {"head out of range", bad_head_range, VQ_E_HEAD_RANGE, 16, F_INDIRECT},
    {"avail jump > size", bad_avail_jump, VQ_E_AVAIL_JUMP, 16, F_INDIRECT},
    {"loop via next", bad_loop_next, VQ_E_LOOP, 16, F_INDIRECT},
    {"self loop", bad_self_loop, VQ_E_LOOP, 16, F_INDIRECT},
    {"next out of range", bad_next_range, VQ_E_NEXT_RANGE, 16, F_INDIRECT},
    {"indirect loop", bad_indirect_loop, VQ_E_LOOP, 16, F_INDIRECT},
    {"nested indirect", bad_indirect_nested, VQ_E_INDIRECT_NESTED, 16, F_INDIRECT},
    {"indirect + next", bad_indirect_next, VQ_E_INDIRECT_NEXT, 16, F_INDIRECT},
    {"indirect len % 16", bad_indirect_len_odd, VQ_E_INDIRECT_LEN, 16, F_INDIRECT},
    {"indirect len 0", bad_indirect_len_zero, VQ_E_INDIRECT_LEN, 16, F_INDIRECT},
    {"indirect table outside RAM", bad_indirect_range, VQ_E_INDIRECT_RANGE, 16, F_INDIRECT},
    {"indirect next out of table", bad_indirect_next_range, VQ_E_NEXT_RANGE, 16, F_INDIRECT},
    {"indirect not negotiated", bad_indirect_unnegotiated, VQ_E_INDIRECT_FEATURE, 16, 0},
    {"writable before readable", bad_write_order, VQ_E_WRITE_ORDER, 16, F_INDIRECT},
    {"writable before readable (indirect)", bad_write_order_indirect, VQ_E_WRITE_ORDER, 16,
     F_INDIRECT},
    {"address out of RAM", bad_addr_out_of_ram, VQ_E_ADDR_RANGE, 16, F_INDIRECT},
    {"range straddles end of RAM", bad_addr_straddles_end, VQ_E_ADDR_RANGE, 16, F_INDIRECT},
    {"addr + len wraps", bad_addr_wraps, VQ_E_ADDR_RANGE, 16, F_INDIRECT},
    {"zero-length chain", bad_empty_chain, VQ_E_EMPTY_CHAIN, 16, F_INDIRECT},
    {"too long (direct)", bad_too_long_direct, VQ_E_TOO_LONG, 1024, F_INDIRECT},
    {"too long (indirect)", bad_too_long_indirect, VQ_E_TOO_LONG, 16, F_INDIRECT},
    {"total length > 4 GiB", bad_total_bytes, VQ_E_BYTES, 16, F_INDIRECT},
};

static void test_malformed_chains(void **state)
{
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];
		print_message("  case: %s\n", c->name);
		fx_queue(c->size, c->features);
		c->build();
		uint16_t before = used_idx();
		assert_int_equal(virtq_pop(&F->q, &F->chain), -c->expect);
		assert_true(vq_is_guest_error(-c->expect));
		assert_non_null(vq_strerror(-c->expect));
		/* Stopped: the same error again, and nothing was consumed. */
		assert_int_equal(virtq_pop(&F->q, &F->chain), -c->expect);
		assert_int_equal(used_idx(), before);
		/* A fresh queue over the same memory still works. */
		fx_queue(16, c->features);
		expect_valid_chain_works();
	}
}

/* ---- enable-time validation ---- */

struct enable_case {
	const char *name;
	uint16_t size;
	uint64_t desc, avail, used;
	int expect;
};

static const struct enable_case enable_cases[] = {
    {"ok", 16, DESC_GPA, AVAIL_GPA, USED_GPA, 0},
    {"size 0", 0, DESC_GPA, AVAIL_GPA, USED_GPA, -VQ_E_SIZE},
    {"size not power of 2", 12, DESC_GPA, AVAIL_GPA, USED_GPA, -VQ_E_SIZE},
    {"size > max", 2048, DESC_GPA, AVAIL_GPA, USED_GPA, -VQ_E_SIZE},
    {"desc misaligned", 16, DESC_GPA + 8, AVAIL_GPA, USED_GPA, -VQ_E_RING_ALIGN},
    {"avail misaligned", 16, DESC_GPA, AVAIL_GPA + 1, USED_GPA, -VQ_E_RING_ALIGN},
    {"used misaligned", 16, DESC_GPA, AVAIL_GPA, USED_GPA + 2, -VQ_E_RING_ALIGN},
    {"desc past RAM", 16, MEM_SIZE - 128, AVAIL_GPA, USED_GPA, -VQ_E_RING_RANGE},
    {"avail tail past RAM", 16, DESC_GPA, MEM_SIZE - 36, USED_GPA, -VQ_E_RING_RANGE},
    {"used tail past RAM", 16, DESC_GPA, AVAIL_GPA, MEM_SIZE - 132, -VQ_E_RING_RANGE},
    {"used wraps", 16, DESC_GPA, AVAIL_GPA, 0xfffffffffffffff0ULL, -VQ_E_RING_RANGE},
};

static void test_enable_validation(void **state)
{
	for (size_t i = 0; i < sizeof(enable_cases) / sizeof(enable_cases[0]); i++) {
		const struct enable_case *c = &enable_cases[i];
		print_message("  case: %s\n", c->name);
		virtq_init(&F->q, VQ_SIZE_MAX);
		F->q.size = c->size;
		F->q.desc_gpa = c->desc;
		F->q.avail_gpa = c->avail;
		F->q.used_gpa = c->used;
		assert_int_equal(virtq_enable(&F->q, &F->mem, 0), c->expect);
		assert_int_equal(F->q.enabled, c->expect == 0);
		/* A disabled queue pops nothing and cannot push. */
		if (c->expect)
			assert_int_equal(virtq_pop(&F->q, &F->chain), 0);
	}
}

/* ---- valid chains, readers and writers ---- */

static void test_direct_chain_reader_writer(void **state)
{
	fx_queue(16, 0);
	memcpy(F->buf + DATA_GPA, "hello, ", 7);
	memcpy(F->buf + DATA_GPA + 0x100, "world", 5);
	put_desc(DESC_GPA, 5, DATA_GPA, 7, NEXT, 9);
	put_desc(DESC_GPA, 9, DATA_GPA + 0x100, 5, NEXT, 2);
	put_desc(DESC_GPA, 2, DATA_GPA + 0x200, 0, NEXT, 3); /* empty: dropped */
	put_desc(DESC_GPA, 3, DATA_GPA + 0x300, 4, WRITE | NEXT, 4);
	put_desc(DESC_GPA, 4, DATA_GPA + 0x400, 6, WRITE, 0);
	avail_push(5);
	assert_int_equal(virtq_pop(&F->q, &F->chain), 1);
	assert_int_equal(F->chain.head, 5);
	assert_int_equal(F->chain.nr_read, 2);
	assert_int_equal(F->chain.nr_write, 2);
	assert_int_equal(F->chain.read_len, 12);
	assert_int_equal(F->chain.write_len, 10);

	struct vq_reader r;
	char in[16] = {0};
	vq_reader_init(&r, &F->chain);
	assert_int_equal(vq_read(&r, in, 13), -EMSGSIZE); /* short: consumes nothing */
	assert_int_equal(vq_reader_remaining(&r), 12);
	assert_int_equal(vq_read(&r, in, 3), 0);
	assert_int_equal(vq_reader_skip(&r, 1), 0);
	assert_int_equal(vq_read(&r, in + 3, 8), 0); /* crosses descriptors */
	assert_memory_equal(in, "helo, world", 11);
	assert_int_equal(vq_reader_remaining(&r), 0);
	assert_int_equal(vq_reader_skip(&r, 1), -EMSGSIZE);

	struct vq_writer w;
	vq_writer_init(&w, &F->chain);
	assert_int_equal(vq_writer_remaining(&w), 10);
	assert_int_equal(vq_write(&w, "0123456789A", 11), -EMSGSIZE);
	assert_int_equal(vq_write(&w, "0123456", 7), 0);
	assert_int_equal(vq_writer_written(&w), 7);
	assert_memory_equal(F->buf + DATA_GPA + 0x300, "0123", 4);
	assert_memory_equal(F->buf + DATA_GPA + 0x400, "456", 3);

	assert_int_equal(virtq_push(&F->q, &F->chain, 11), -EINVAL); /* > write_len */
	assert_int_equal(virtq_push(&F->q, &F->chain, vq_writer_written(&w)), 0);
	assert_int_equal(used_idx(), 1);
	assert_int_equal(used_elem(0).id, 5);
	assert_int_equal(used_elem(0).len, 7);
	assert_int_equal(virtq_pop(&F->q, &F->chain), 0);
}

static void test_indirect_chain_iov(void **state)
{
	fx_queue(16, F_INDIRECT);
	/* Table at an address that is only 4-byte aligned: allowed. */
	uint64_t t = INDIR_GPA + 4;
	memcpy(F->buf + DATA_GPA, "HDR!", 4);
	put_desc(DESC_GPA, 7, t, 4 * 16, INDIR, 0);
	put_desc(t, 0, DATA_GPA, 4, NEXT, 2);
	put_desc(t, 2, DATA_GPA + 0x1000, 100, WRITE | NEXT, 1);
	put_desc(t, 1, DATA_GPA + 0x2000, 50, WRITE | NEXT, 3);
	put_desc(t, 3, DATA_GPA + 0x3000, 30, WRITE, 0);
	avail_push(7);
	assert_int_equal(virtq_pop(&F->q, &F->chain), 1);
	assert_int_equal(F->chain.head, 7);
	assert_int_equal(F->chain.read_len, 4);
	assert_int_equal(F->chain.write_len, 180);

	struct vq_writer w;
	struct iovec iov[4];
	vq_writer_init(&w, &F->chain);
	assert_int_equal(vq_writer_skip(&w, 10), 0);
	/* 150 bytes from offset 10: 90 + 50 + 10. */
	assert_int_equal(vq_writer_iov(&w, 150, iov, 2), -ENOBUFS);
	assert_int_equal(vq_writer_iov(&w, 181, iov, 4), -EMSGSIZE);
	assert_int_equal(vq_writer_iov(&w, 150, iov, 4), 3);
	assert_ptr_equal(iov[0].iov_base, F->buf + DATA_GPA + 0x1000 + 10);
	assert_int_equal(iov[0].iov_len, 90);
	assert_ptr_equal(iov[1].iov_base, F->buf + DATA_GPA + 0x2000);
	assert_int_equal(iov[1].iov_len, 50);
	assert_ptr_equal(iov[2].iov_base, F->buf + DATA_GPA + 0x3000);
	assert_int_equal(iov[2].iov_len, 10);
	/* Peek does not consume; the "I/O" wrote 120 bytes. */
	assert_int_equal(vq_writer_remaining(&w), 170);
	assert_int_equal(vq_writer_skip(&w, 120), 0);
	assert_int_equal(vq_writer_written(&w), 130);
	assert_int_equal(vq_writer_iov(&w, 50, iov, 4), 2);
	assert_ptr_equal(iov[0].iov_base, F->buf + DATA_GPA + 0x2000 + 30);
	assert_int_equal(iov[0].iov_len, 20);
	assert_int_equal(iov[1].iov_len, 30);

	struct vq_reader r;
	char hdr[4];
	vq_reader_init(&r, &F->chain);
	assert_int_equal(vq_reader_iov(&r, 4, iov, 1), 1);
	assert_int_equal(vq_read(&r, hdr, 4), 0);
	assert_memory_equal(hdr, "HDR!", 4);
	assert_int_equal(virtq_push(&F->q, &F->chain, 130), 0);
	assert_int_equal(used_elem(0).len, 130);
}

/* Direct descriptors ending in an indirect one: spec-legal, walked as one. */
static void test_direct_then_indirect(void **state)
{
	fx_queue(16, F_INDIRECT);
	put_desc(DESC_GPA, 0, DATA_GPA, 16, NEXT, 1);
	put_desc(DESC_GPA, 1, INDIR_GPA, 2 * 16, INDIR, 0);
	put_desc(INDIR_GPA, 0, DATA_GPA + 16, 16, NEXT, 1);
	put_desc(INDIR_GPA, 1, DATA_GPA + 32, 64, WRITE, 0);
	avail_push(0);
	assert_int_equal(virtq_pop(&F->q, &F->chain), 1);
	assert_int_equal(F->chain.read_len, 32);
	assert_int_equal(F->chain.write_len, 64);
}

/* Many chains across the 16-bit index wrap, via a state hand-off. */
static void test_index_wrap_and_handoff(void **state)
{
	fx_queue(8, F_EVENT);
	struct virtq_state s;
	virtq_export(&F->q, &s);
	s.last_avail = s.used_idx = 65533;
	F->avail_idx = 65533;
	struct virtq q2;
	assert_int_equal(virtq_import(&q2, &F->mem, &s), 0);
	for (int i = 0; i < 6; i++) {
		put_desc(DESC_GPA, i, DATA_GPA + 64 * i, 64, WRITE, 0);
		avail_push(i);
	}
	for (int i = 0; i < 6; i++) {
		assert_int_equal(virtq_pop(&q2, &F->chain), 1);
		assert_int_equal(F->chain.head, i);
		assert_int_equal(virtq_push(&q2, &F->chain, 1), 0);
	}
	assert_int_equal(virtq_pop(&q2, &F->chain), 0);
	assert_int_equal(used_idx(), (uint16_t)(65533 + 6));
	assert_int_equal(avail_event(), (uint16_t)(65533 + 6)); /* re-armed when empty */
	/* A corrupt state is refused the same way a guest's would be. */
	s.avail_gpa = MEM_SIZE;
	assert_int_equal(virtq_import(&q2, &F->mem, &s), -VQ_E_RING_RANGE);
}

static void test_stop(void **state)
{
	fx_queue(16, 0);
	put_desc(DESC_GPA, 0, DATA_GPA, 8, 0, 0);
	avail_push(0);
	virtq_stop(&F->q);
	assert_int_equal(virtq_pop(&F->q, &F->chain), -VQ_E_STOPPED);
	assert_string_equal(vq_strerror(-VQ_E_STOPPED), "queue stopped");
	assert_false(vq_is_guest_error(-EINVAL));
}

/* ---- notification decisions ---- */

static void push_one(void)
{
	put_desc(DESC_GPA, 0, DATA_GPA, 8, WRITE, 0);
	avail_push(0);
	assert_int_equal(virtq_pop(&F->q, &F->chain), 1);
	assert_int_equal(virtq_push(&F->q, &F->chain, 8), 0);
}

static void test_notify_no_event_idx(void **state)
{
	fx_queue(16, 0);
	push_one();
	assert_true(virtq_should_notify(&F->q));
	*(uint16_t *)(F->buf + AVAIL_GPA) = VRING_AVAIL_F_NO_INTERRUPT;
	push_one();
	assert_false(virtq_should_notify(&F->q));
	assert_int_equal(avail_event(), 0); /* untouched without EVENT_IDX */
}

struct notify_step {
	uint16_t used_event; /* what the guest asks for before the pushes */
	unsigned pushes;
	bool expect;
};

/* used_event = N means "interrupt me when used->idx moves past N". */
static const struct notify_step notify_steps[] = {
    {0, 1, true},   /* first decision always notifies */
    {0, 1, false},  /* idx 1 -> 2 does not cross 0 */
    {2, 1, true},   /* 2 -> 3 crosses 2 */
    {10, 3, false}, /* 3 -> 6 */
    {10, 4, false}, /* 6 -> 10 */
    {10, 1, true},  /* 10 -> 11 */
    {11, 0, false}, /* nothing pushed */
    {11, 5, true},  /* 11 -> 16 crosses 11 */
};

static void test_notify_event_idx(void **state)
{
	fx_queue(16, F_EVENT);
	for (size_t i = 0; i < sizeof(notify_steps) / sizeof(notify_steps[0]); i++) {
		set_used_event(notify_steps[i].used_event);
		for (unsigned k = 0; k < notify_steps[i].pushes; k++)
			push_one();
		print_message("  step %zu: used idx %u\n", i, used_idx());
		assert_int_equal(virtq_should_notify(&F->q), notify_steps[i].expect);
	}
	assert_int_equal(used_idx(), 16);
	/* The guest's NO_INTERRUPT flag is ignored with EVENT_IDX. */
	*(uint16_t *)(F->buf + AVAIL_GPA) = VRING_AVAIL_F_NO_INTERRUPT;
	set_used_event(16);
	push_one();
	assert_true(virtq_should_notify(&F->q));
}

static void test_avail_event_rearm(void **state)
{
	fx_queue(16, F_EVENT);
	push_one();
	push_one();
	/* Not re-armed while every pop found work... */
	assert_int_equal(avail_event(), 0);
	/* ...but popping to empty publishes last_avail. */
	assert_int_equal(virtq_pop(&F->q, &F->chain), 0);
	assert_int_equal(avail_event(), 2);
	/* An avail idx that jumps after the re-arm is still caught. */
	*(uint16_t *)(F->buf + AVAIL_GPA + 2) = 2 + 17;
	assert_int_equal(virtq_pop(&F->q, &F->chain), -VQ_E_AVAIL_JUMP);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_malformed_chains, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_enable_validation, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_direct_chain_reader_writer, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_indirect_chain_iov, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_direct_then_indirect, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_index_wrap_and_handoff, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stop, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_notify_no_event_idx, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_notify_event_idx, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_avail_event_rearm, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
