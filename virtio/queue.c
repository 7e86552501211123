/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Split virtqueue walker (see queue.h for the request flow).
 *
 * Layout of the rings in guest memory (virtio 1.x, 2.7):
 *   desc  16 * size bytes, 16-aligned: {le64 addr, le32 len, le16 flags, le16 next}
 *   avail 6 + 2 * size, 2-aligned:     {le16 flags, le16 idx, le16 ring[size], le16 used_event}
 *   used  6 + 8 * size, 4-aligned:     {le16 flags, le16 idx, {le32 id, le32 len}[size],
 *                                       le16 avail_event}
 * Ring fields are read with single atomic loads (never twice), descriptors
 * are copied whole into a local behind a compiler barrier, and nothing read
 * from the guest is trusted until it has been checked here.
 */
#include "virtio/queue.h"

#include <endian.h>
#include <errno.h>
#include <string.h>

#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#define barrier() __asm__ __volatile__("" ::: "memory")

static const char *const vq_err_names[] = {
    [VQ_E_SIZE - VQ_E_BASE] = "queue size invalid",
    [VQ_E_RING_ALIGN - VQ_E_BASE] = "ring address misaligned",
    [VQ_E_RING_RANGE - VQ_E_BASE] = "ring outside guest RAM",
    [VQ_E_AVAIL_JUMP - VQ_E_BASE] = "avail index jumped past queue size",
    [VQ_E_HEAD_RANGE - VQ_E_BASE] = "head index out of range",
    [VQ_E_NEXT_RANGE - VQ_E_BASE] = "next index out of range",
    [VQ_E_LOOP - VQ_E_BASE] = "descriptor loop",
    [VQ_E_TOO_LONG - VQ_E_BASE] = "descriptor chain too long",
    [VQ_E_ADDR_RANGE - VQ_E_BASE] = "buffer outside guest RAM",
    [VQ_E_WRITE_ORDER - VQ_E_BASE] = "readable descriptor after writable",
    [VQ_E_BYTES - VQ_E_BASE] = "chain length overflow",
    [VQ_E_EMPTY_CHAIN - VQ_E_BASE] = "zero-length chain",
    [VQ_E_INDIRECT_FEATURE - VQ_E_BASE] = "indirect descriptor not negotiated",
    [VQ_E_INDIRECT_NEXT - VQ_E_BASE] = "indirect descriptor with NEXT",
    [VQ_E_INDIRECT_NESTED - VQ_E_BASE] = "nested indirect table",
    [VQ_E_INDIRECT_LEN - VQ_E_BASE] = "indirect table length invalid",
    [VQ_E_INDIRECT_RANGE - VQ_E_BASE] = "indirect table outside guest RAM",
    [VQ_E_STOPPED - VQ_E_BASE] = "queue stopped",
};

bool vq_is_guest_error(int err)
{
	return err <= -VQ_E_BASE && err > -VQ_E_END;
}

const char *vq_strerror(int err)
{
	if (err < 0)
		err = -err;
	if (err >= VQ_E_BASE && err < VQ_E_END)
		return vq_err_names[err - VQ_E_BASE];
	return strerror(err);
}

/* ---- ring field access: one load or store each, little-endian ---- */

static inline uint16_t load16(const uint8_t *p)
{
	return le16toh(__atomic_load_n((const uint16_t *)p, __ATOMIC_RELAXED));
}

static inline uint16_t load16_acquire(const uint8_t *p)
{
	return le16toh(__atomic_load_n((const uint16_t *)p, __ATOMIC_ACQUIRE));
}

static inline void store16(uint8_t *p, uint16_t v)
{
	__atomic_store_n((uint16_t *)p, htole16(v), __ATOMIC_RELAXED);
}

static inline void store32(uint8_t *p, uint32_t v)
{
	__atomic_store_n((uint32_t *)p, htole32(v), __ATOMIC_RELAXED);
}

/* avail: flags@0 idx@2 ring@4 used_event@4+2*size */
static inline uint8_t *avail_ring(const struct virtq *q, uint16_t i)
{
	return q->avail + 4 + 2 * (size_t)i;
}

/* used: flags@0 idx@2 ring@4 (8 bytes each) avail_event@4+8*size */
static inline uint8_t *used_elem(const struct virtq *q, uint16_t i)
{
	return q->used + 4 + 8 * (size_t)i;
}

static inline uint8_t *avail_event(const struct virtq *q)
{
	return q->used + 4 + 8 * (size_t)q->size;
}

/* A copy the compiler may not re-derive from guest memory: the barrier
 * forbids it from reloading a field later instead of using the local.
 * memcpy also copes with indirect tables that are not 8-byte aligned. */
static inline void desc_copy(const uint8_t *src, struct vring_desc *d)
{
	memcpy(d, src, sizeof(*d));
	barrier();
	d->addr = le64toh(d->addr);
	d->len = le32toh(d->len);
	d->flags = le16toh(d->flags);
	d->next = le16toh(d->next);
}

/* ---- setup ---- */

void virtq_init(struct virtq *q, uint16_t max_size)
{
	memset(q, 0, sizeof(*q));
	if (max_size == 0 || max_size > VQ_SIZE_MAX)
		max_size = VQ_SIZE_MAX;
	q->max_size = max_size;
	q->size = max_size;
}

void virtq_reset(struct virtq *q)
{
	virtq_init(q, q->max_size);
}

static uint8_t *ring_ptr(const struct guest_mem *mem, uint64_t gpa, uint64_t len, uint64_t align,
			 int *err)
{
	if (gpa & (align - 1)) {
		*err = -VQ_E_RING_ALIGN;
		return NULL;
	}
	uint8_t *p = guest_mem_ptr(mem, gpa, len);
	if (!p)
		*err = -VQ_E_RING_RANGE;
	return p;
}

int virtq_enable(struct virtq *q, const struct guest_mem *mem, uint64_t features)
{
	uint16_t n = q->size;
	int err = 0;

	q->enabled = false;
	if (n == 0 || n > q->max_size || (n & (n - 1)))
		return -VQ_E_SIZE;
	uint8_t *desc = ring_ptr(mem, q->desc_gpa, 16ULL * n, VRING_DESC_ALIGN_SIZE, &err);
	uint8_t *avail =
	    desc ? ring_ptr(mem, q->avail_gpa, 6ULL + 2ULL * n, VRING_AVAIL_ALIGN_SIZE, &err)
		 : NULL;
	uint8_t *used =
	    avail ? ring_ptr(mem, q->used_gpa, 6ULL + 8ULL * n, VRING_USED_ALIGN_SIZE, &err) : NULL;
	if (!used)
		return err;
	q->mem = mem;
	q->desc = desc;
	q->avail = avail;
	q->used = used;
	q->event_idx = features & (1ULL << VIRTIO_RING_F_EVENT_IDX);
	q->indirect = features & (1ULL << VIRTIO_RING_F_INDIRECT_DESC);
	q->last_avail = 0;
	q->used_idx = 0;
	q->signalled_used = 0;
	q->signalled_valid = false;
	q->error = 0;
	q->enabled = true;
	return 0;
}

void virtq_disable(struct virtq *q)
{
	q->enabled = false;
}

void virtq_stop(struct virtq *q)
{
	int none = 0;
	__atomic_compare_exchange_n(&q->error, &none, VQ_E_STOPPED, false, __ATOMIC_RELAXED,
				    __ATOMIC_RELAXED);
}

/* ---- chain walking ---- */

/* One descriptor table being walked: the direct ring or an indirect table. */
struct walk_table {
	const uint8_t *base;
	uint32_t entries;
	uint32_t ttl; /* visits left before we call it a loop */
	bool indirect;
};

struct walk {
	struct vq_chain *c;
	unsigned visited; /* descriptors, all tables */
	uint64_t total;	  /* bytes, readable + writable */
	bool writing;	  /* a writable descriptor has been seen */
};

/* Adds one plain (non-indirect) descriptor's buffer to the chain. */
static int walk_add_buffer(const struct virtq *q, struct walk *w, const struct vring_desc *d)
{
	bool wr = d->flags & VRING_DESC_F_WRITE;

	if (!wr && w->writing)
		return -VQ_E_WRITE_ORDER;
	w->writing |= wr;
	if (d->len == 0)
		return 0;   /* nothing to access; keeps the iovec array dense */
	w->total += d->len; /* <= 512 * 4 GiB: cannot wrap a u64 */
	if (w->total > VQ_CHAIN_MAX_BYTES)
		return -VQ_E_BYTES;
	void *p = guest_mem_ptr(q->mem, d->addr, d->len);
	if (!p)
		return -VQ_E_ADDR_RANGE;
	struct vq_chain *c = w->c;
	c->iov[c->nr_read + c->nr_write] = (struct iovec){.iov_base = p, .iov_len = d->len};
	if (wr) {
		c->nr_write++;
		c->write_len += d->len;
	} else {
		c->nr_read++;
		c->read_len += d->len;
	}
	return 0;
}

/* Checks an INDIRECT descriptor and turns *t into its table. */
static int walk_enter_indirect(const struct virtq *q, struct walk_table *t,
			       const struct vring_desc *d)
{
	if (!q->indirect)
		return -VQ_E_INDIRECT_FEATURE;
	if (t->indirect)
		return -VQ_E_INDIRECT_NESTED;
	if (d->flags & VRING_DESC_F_NEXT)
		return -VQ_E_INDIRECT_NEXT;
	if (d->len == 0 || d->len % sizeof(struct vring_desc))
		return -VQ_E_INDIRECT_LEN;
	const uint8_t *tbl = guest_mem_ptr(q->mem, d->addr, d->len);
	if (!tbl)
		return -VQ_E_INDIRECT_RANGE;
	t->base = tbl;
	t->entries = d->len / sizeof(struct vring_desc);
	t->ttl = t->entries;
	t->indirect = true;
	return 0;
}

/* Walks the chain starting at head (< size) into w->c. */
static int walk_chain(const struct virtq *q, struct walk *w, uint16_t head)
{
	struct walk_table t = {.base = q->desc, .entries = q->size, .ttl = q->size};
	uint32_t i = head;

	for (;;) {
		struct vring_desc d;

		if (t.ttl-- == 0)
			return -VQ_E_LOOP;
		if (++w->visited > VQ_CHAIN_MAX_DESC)
			return -VQ_E_TOO_LONG;
		desc_copy(t.base + 16 * (size_t)i, &d);
		if (d.flags & VRING_DESC_F_INDIRECT) {
			/* The table replaces the rest of the chain: start at 0. */
			int r = walk_enter_indirect(q, &t, &d);
			if (r < 0)
				return r;
			i = 0;
			continue;
		}
		int r = walk_add_buffer(q, w, &d);
		if (r < 0)
			return r;
		if (!(d.flags & VRING_DESC_F_NEXT))
			break;
		i = d.next;
		if (i >= t.entries)
			return -VQ_E_NEXT_RANGE;
	}
	return w->total ? 0 : -VQ_E_EMPTY_CHAIN;
}

static int virtq_fail(struct virtq *q, int err)
{
	int none = 0;
	/* Keep the first cause if virtq_stop() got there before us. */
	__atomic_compare_exchange_n(&q->error, &none, -err, false, __ATOMIC_RELAXED,
				    __ATOMIC_RELAXED);
	return err;
}

/* Re-arms avail_event and re-checks, so a buffer the guest adds while we
 * decide to sleep is not missed (the guest reads avail_event after it
 * publishes avail->idx; we write it before re-reading avail->idx). */
static uint16_t rearm_and_reload(struct virtq *q)
{
	store16(avail_event(q), q->last_avail);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return load16_acquire(q->avail + 2);
}

int virtq_pop(struct virtq *q, struct vq_chain *c)
{
	if (!q->enabled)
		return 0;
	int stopped = __atomic_load_n(&q->error, __ATOMIC_RELAXED);
	if (stopped)
		return -stopped;

	/* Acquire: ring entries and descriptors are read after the index. */
	uint16_t avail_idx = load16_acquire(q->avail + 2);
	uint16_t pending = (uint16_t)(avail_idx - q->last_avail);
	if (pending == 0 && q->event_idx) {
		avail_idx = rearm_and_reload(q);
		pending = (uint16_t)(avail_idx - q->last_avail);
	}
	if (pending > q->size)
		return virtq_fail(q, -VQ_E_AVAIL_JUMP);
	if (pending == 0)
		return 0;

	uint16_t head = load16(avail_ring(q, q->last_avail & (q->size - 1)));
	if (head >= q->size)
		return virtq_fail(q, -VQ_E_HEAD_RANGE);

	c->head = head;
	c->nr_read = c->nr_write = 0;
	c->read_len = c->write_len = 0;
	struct walk w = {.c = c};
	int r = walk_chain(q, &w, head);
	if (r < 0)
		return virtq_fail(q, r);
	q->last_avail++;
	return 1;
}

/* ---- used ring and notification ---- */

int virtq_push(struct virtq *q, const struct vq_chain *c, uint32_t written)
{
	if (!q->enabled)
		return -ESHUTDOWN;
	if (written > c->write_len || c->head >= q->size)
		return -EINVAL;
	uint8_t *e = used_elem(q, q->used_idx & (q->size - 1));
	store32(e, c->head);
	store32(e + 4, written);
	q->used_idx++;
	/* Release: the element (and the data written into the buffers) is
	 * visible before the guest can see the new index. */
	__atomic_store_n((uint16_t *)(q->used + 2), htole16(q->used_idx), __ATOMIC_RELEASE);
	return 0;
}

bool virtq_should_notify(struct virtq *q)
{
	if (!q->enabled)
		return false;
	/* Our used->idx store must be visible before we read the guest's
	 * suppression state, or both sides can decide the other will act. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!q->event_idx)
		return !(load16(q->avail) & VRING_AVAIL_F_NO_INTERRUPT);

	uint16_t old = q->signalled_used, now = q->used_idx;
	bool valid = q->signalled_valid;
	q->signalled_used = now;
	q->signalled_valid = true;
	if (now == old)
		return false; /* nothing new since the last decision */
	if (!valid)
		return true; /* first decision: we do not know what the guest saw */
	uint16_t event = load16(avail_ring(q, q->size)); /* used_event */
	return vring_need_event(event, now, old);
}

/* ---- hand-off ---- */

void virtq_export(const struct virtq *q, struct virtq_state *s)
{
	*s = (struct virtq_state){
	    .size = q->size,
	    .max_size = q->max_size,
	    .last_avail = q->last_avail,
	    .used_idx = q->used_idx,
	    .flags =
		(q->event_idx ? VQ_STATE_EVENT_IDX : 0) | (q->indirect ? VQ_STATE_INDIRECT : 0),
	    .desc_gpa = q->desc_gpa,
	    .avail_gpa = q->avail_gpa,
	    .used_gpa = q->used_gpa,
	};
}

int virtq_import(struct virtq *q, const struct guest_mem *mem, const struct virtq_state *s)
{
	uint64_t features = 0;

	virtq_init(q, s->max_size);
	q->size = s->size;
	q->desc_gpa = s->desc_gpa;
	q->avail_gpa = s->avail_gpa;
	q->used_gpa = s->used_gpa;
	if (s->flags & VQ_STATE_EVENT_IDX)
		features |= 1ULL << VIRTIO_RING_F_EVENT_IDX;
	if (s->flags & VQ_STATE_INDIRECT)
		features |= 1ULL << VIRTIO_RING_F_INDIRECT_DESC;
	int r = virtq_enable(q, mem, features);
	if (r < 0)
		return r;
	q->last_avail = s->last_avail;
	q->used_idx = s->used_idx;
	q->signalled_used = s->used_idx;
	return 0;
}

/* ---- readers and writers ---- */

static void cursor_init(struct vq_cursor *c, const struct iovec *iov, unsigned n, size_t len)
{
	*c = (struct vq_cursor){.iov = iov, .niov = n, .left = len};
}

/* Advances by len (<= left). */
static void cursor_advance(struct vq_cursor *c, size_t len)
{
	c->left -= len;
	c->done += len;
	while (len) {
		size_t room = c->iov[c->idx].iov_len - c->off;
		if (len < room) {
			c->off += len;
			return;
		}
		len -= room;
		c->idx++;
		c->off = 0;
	}
}

/* Copies len bytes between buf and the chain; to_chain picks direction. */
static int cursor_copy(struct vq_cursor *c, void *buf, size_t len, bool to_chain)
{
	if (len > c->left)
		return -EMSGSIZE;
	uint8_t *b = buf;
	size_t todo = len;
	unsigned idx = c->idx;
	size_t off = c->off;
	while (todo) {
		uint8_t *p = (uint8_t *)c->iov[idx].iov_base + off;
		size_t n = c->iov[idx].iov_len - off;
		if (n > todo)
			n = todo;
		if (to_chain)
			memcpy(p, b, n);
		else
			memcpy(b, p, n);
		b += n;
		todo -= n;
		idx++;
		off = 0;
	}
	cursor_advance(c, len);
	return 0;
}

static int cursor_skip(struct vq_cursor *c, size_t len)
{
	if (len > c->left)
		return -EMSGSIZE;
	cursor_advance(c, len);
	return 0;
}

static int cursor_iov(const struct vq_cursor *c, size_t len, struct iovec *out, unsigned max)
{
	if (len > c->left)
		return -EMSGSIZE;
	unsigned n = 0, idx = c->idx;
	size_t off = c->off;
	while (len) {
		if (n == max)
			return -ENOBUFS;
		size_t take = c->iov[idx].iov_len - off;
		if (take > len)
			take = len;
		out[n++] = (struct iovec){(uint8_t *)c->iov[idx].iov_base + off, take};
		len -= take;
		idx++;
		off = 0;
	}
	return (int)n;
}

void vq_reader_init(struct vq_reader *r, const struct vq_chain *chain)
{
	cursor_init(&r->c, chain->iov, chain->nr_read, chain->read_len);
}

int vq_read(struct vq_reader *r, void *buf, size_t len)
{
	return cursor_copy(&r->c, buf, len, false);
}

int vq_reader_skip(struct vq_reader *r, size_t len)
{
	return cursor_skip(&r->c, len);
}

size_t vq_reader_remaining(const struct vq_reader *r)
{
	return r->c.left;
}

int vq_reader_iov(struct vq_reader *r, size_t len, struct iovec *iov, unsigned max)
{
	return cursor_iov(&r->c, len, iov, max);
}

void vq_writer_init(struct vq_writer *w, const struct vq_chain *chain)
{
	cursor_init(&w->c, chain->iov + chain->nr_read, chain->nr_write, chain->write_len);
}

int vq_write(struct vq_writer *w, const void *buf, size_t len)
{
	return cursor_copy(&w->c, (void *)buf, len, true);
}

int vq_writer_skip(struct vq_writer *w, size_t len)
{
	return cursor_skip(&w->c, len);
}

size_t vq_writer_remaining(const struct vq_writer *w)
{
	return w->c.left;
}

size_t vq_writer_written(const struct vq_writer *w)
{
	return w->c.done;
}

int vq_writer_iov(struct vq_writer *w, size_t len, struct iovec *iov, unsigned max)
{
	return cursor_iov(&w->c, len, iov, max);
}
