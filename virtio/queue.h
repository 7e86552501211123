/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Split virtqueue, device side, for a hostile guest.
 *
 * This is the only code that reads raw descriptors.  A request flows:
 *   1. the transport fills size/desc/avail/used from guest register writes
 *      and calls virtq_enable(), which checks size, alignment and that each
 *      whole ring lies in guest RAM, then caches host pointers to the rings;
 *   2. a device calls virtq_pop(): the avail index, the head and every
 *      descriptor (direct or in one indirect table) are read once into
 *      locals and checked; the result is a struct vq_chain of host iovecs,
 *      readable ones first, with the head id and total lengths;
 *   3. the device reads/writes the chain only through vq_reader/vq_writer
 *      (reads fail on short data; *_iov() hand out sub-iovecs for preadv/
 *      pwritev straight into guest memory);
 *   4. virtq_push() publishes (head, written) with release ordering and
 *      virtq_should_notify() decides, EVENT_IDX-aware, whether to interrupt.
 * Any rule the guest breaks makes virtq_pop() return a distinct -VQ_E_*
 * code and stops the queue (every later pop returns the same code); the
 * device's owner then sets NEEDS_RESET.  Nothing here exits or asserts.
 *
 * Threading: one thread at a time per queue.  Ring memory is shared with
 * the guest and may change under us, so every field is loaded once.
 * A queue can be moved to another process (the gofer) as a plain
 * struct virtq_state plus the guest memory memfd.
 */
#ifndef KVBOX_VIRTIO_QUEUE_H
#define KVBOX_VIRTIO_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "vmm/memory.h"

/* Largest QueueNumMax a device may offer (spec limit is 32768). */
#define VQ_SIZE_MAX 1024
/* Descriptors one chain may visit in total (direct + indirect).  512 covers
 * a 512 KiB 9P message in 4 KiB pages plus headers, and stays under IOV_MAX. */
#define VQ_CHAIN_MAX_DESC 512
/* Bytes one chain may describe (readable + writable). */
#define VQ_CHAIN_MAX_BYTES 0xffffffffULL

/*
 * Guest-protocol violations.  They live above the errno range so a caller
 * can tell "the guest broke the ring" from a host failure; vq_strerror()
 * names them.  Functions return them negated, like errno values.
 */
enum vq_error {
	VQ_E_BASE = 4096,
	VQ_E_SIZE = VQ_E_BASE, /* queue size 0, not a power of two, or > max */
	VQ_E_RING_ALIGN,       /* desc/avail/used ring misaligned */
	VQ_E_RING_RANGE,       /* a ring is not wholly inside guest RAM */
	VQ_E_AVAIL_JUMP,       /* avail->idx moved more than size past last_avail */
	VQ_E_HEAD_RANGE,       /* head index >= size */
	VQ_E_NEXT_RANGE,       /* next index >= size of its table */
	VQ_E_LOOP,	       /* a table visited more times than it has entries */
	VQ_E_TOO_LONG,	       /* more than VQ_CHAIN_MAX_DESC descriptors */
	VQ_E_ADDR_RANGE,       /* [addr, addr+len) not inside RAM, or it wraps */
	VQ_E_WRITE_ORDER,      /* a readable descriptor after a writable one */
	VQ_E_BYTES,	       /* chain total over VQ_CHAIN_MAX_BYTES */
	VQ_E_EMPTY_CHAIN,      /* chain describes zero bytes */
	VQ_E_INDIRECT_FEATURE, /* INDIRECT without VIRTIO_RING_F_INDIRECT_DESC */
	VQ_E_INDIRECT_NEXT,    /* INDIRECT and NEXT on one descriptor */
	VQ_E_INDIRECT_NESTED,  /* INDIRECT inside an indirect table */
	VQ_E_INDIRECT_LEN,     /* table length 0 or not a multiple of 16 */
	VQ_E_INDIRECT_RANGE,   /* table not wholly inside RAM */
	VQ_E_STOPPED,	       /* stopped by virtq_stop() (device needs reset) */
	VQ_E_END
};

const char *vq_strerror(int err);
/* True when err (negative) is one of the -VQ_E_* codes above. */
bool vq_is_guest_error(int err);

/*
 * A validated chain: iov[0..nr_read) is driver-readable, then
 * iov[nr_read..nr_read+nr_write) is device-writable.  Every iovec points into
 * host-mapped guest RAM and was range-checked.  Zero-length descriptors are
 * dropped.  Large (~8 KiB): keep one per worker, not on small stacks.
 */
struct vq_chain {
	uint16_t head;
	uint16_t nr_read;
	uint16_t nr_write;
	uint32_t read_len;
	uint32_t write_len;
	struct iovec iov[VQ_CHAIN_MAX_DESC];
};

struct virtq {
	/* Set by the device once; survives reset. */
	uint16_t max_size;
	/* Written by the transport while the queue is not enabled. */
	uint16_t size;
	uint64_t desc_gpa;
	uint64_t avail_gpa; /* "driver area" */
	uint64_t used_gpa;  /* "device area" */
	/* Runtime state, valid while enabled. */
	bool enabled;
	bool event_idx; /* VIRTIO_RING_F_EVENT_IDX negotiated */
	bool indirect;	/* VIRTIO_RING_F_INDIRECT_DESC negotiated */
	int error;	/* 0, or the VQ_E_* code that stopped the queue; atomic */
	const struct guest_mem *mem;
	uint8_t *desc; /* host pointers to the validated rings */
	uint8_t *avail;
	uint8_t *used;
	uint16_t last_avail; /* next avail slot to consume */
	uint16_t used_idx;   /* next used slot to fill */
	uint16_t signalled_used;
	bool signalled_valid;
};

/* Zeroes the queue and sets its QueueNumMax (1..VQ_SIZE_MAX). */
void virtq_init(struct virtq *q, uint16_t max_size);
/* Back to the post-init state (device reset): forgets rings and indices. */
void virtq_reset(struct virtq *q);

/* Validates size and ring addresses and caches host pointers.  features are
 * the negotiated feature bits.  Returns 0 or -VQ_E_SIZE/_RING_ALIGN/_RING_RANGE
 * (the queue stays disabled). */
int virtq_enable(struct virtq *q, const struct guest_mem *mem, uint64_t features);
void virtq_disable(struct virtq *q);
/* Makes every later pop fail (with VQ_E_STOPPED unless the queue already
 * failed).  Safe from another thread than the one popping. */
void virtq_stop(struct virtq *q);

/* Pops the next available chain into *c.  Returns 1 with a validated chain,
 * 0 when nothing is available (or the queue is disabled), or -VQ_E_* when
 * the guest broke a rule; the queue is then stopped.  With EVENT_IDX, a
 * device must pop until 0 before sleeping: that is where avail_event is
 * re-armed. */
int virtq_pop(struct virtq *q, struct vq_chain *c);

/* Returns the chain to the guest with `written` bytes (<= c->write_len,
 * else -EINVAL) written to its writable part.  Release ordering. */
int virtq_push(struct virtq *q, const struct vq_chain *c, uint32_t written);

/* After one or more pushes: should the guest be interrupted?  Honours
 * VRING_AVAIL_F_NO_INTERRUPT, or used_event with EVENT_IDX. */
bool virtq_should_notify(struct virtq *q);

/* Plain-data queue state for handing a queue to another process (the memfd
 * gives it the same guest memory) or for snapshots. */
#define VQ_STATE_EVENT_IDX 1u
#define VQ_STATE_INDIRECT  2u
struct virtq_state {
	uint16_t size;
	uint16_t max_size;
	uint16_t last_avail;
	uint16_t used_idx;
	uint32_t flags;
	uint32_t pad;
	uint64_t desc_gpa;
	uint64_t avail_gpa;
	uint64_t used_gpa;
};
void virtq_export(const struct virtq *q, struct virtq_state *s);
/* Rebuilds an enabled queue over mem from s, validating it all again. */
int virtq_import(struct virtq *q, const struct guest_mem *mem, const struct virtq_state *s);

/*
 * Cursors over a chain's readable (vq_reader) or writable (vq_writer) part.
 * Distinct types so a device cannot write to what the guest gave as input.
 * Calls fail with -EMSGSIZE, consuming nothing, when fewer than len bytes
 * remain; *_iov fail with -ENOBUFS when max iovecs cannot cover len.
 * Cursors are plain values: copy one to come back later (e.g. to fill in a
 * reply header once the payload length is known).
 */
struct vq_cursor {
	const struct iovec *iov;
	unsigned niov;
	unsigned idx; /* current iovec */
	size_t off;   /* offset into iov[idx] */
	size_t left;  /* bytes remaining in total */
	size_t done;  /* bytes consumed so far */
};
struct vq_reader {
	struct vq_cursor c;
};
struct vq_writer {
	struct vq_cursor c;
};

void vq_reader_init(struct vq_reader *r, const struct vq_chain *chain);
int vq_read(struct vq_reader *r, void *buf, size_t len);
int vq_reader_skip(struct vq_reader *r, size_t len);
size_t vq_reader_remaining(const struct vq_reader *r);
/* iovecs covering the next len readable bytes (for pwritev), without
 * consuming them: skip by what the I/O really transferred.  Returns the
 * number of iovecs filled. */
int vq_reader_iov(struct vq_reader *r, size_t len, struct iovec *iov, unsigned max);

void vq_writer_init(struct vq_writer *w, const struct vq_chain *chain);
int vq_write(struct vq_writer *w, const void *buf, size_t len);
int vq_writer_skip(struct vq_writer *w, size_t len);
size_t vq_writer_remaining(const struct vq_writer *w);
/* Bytes written or skipped so far: the `written` to pass to virtq_push. */
size_t vq_writer_written(const struct vq_writer *w);
/* iovecs covering the next len writable bytes (for preadv), without
 * consuming them; then vq_writer_skip(w, bytes_read). */
int vq_writer_iov(struct vq_writer *w, size_t len, struct iovec *iov, unsigned max);

#endif
