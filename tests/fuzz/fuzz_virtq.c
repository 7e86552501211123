/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the virtqueue walker (virtio/queue.c).
 *
 * Input: a 32-byte queue configuration header, then a guest memory image
 * (copied into 64 KiB of fake RAM, zero-padded).  The queue is enabled over
 * that memory as the transport would; then chains are popped until the
 * queue is empty or reports a guest error, and each chain is consumed the
 * way devices do: reads of header-sized pieces, iovec extraction for
 * zero-copy I/O, writes, skips, a push and a notify decision.  Any crash,
 * sanitizer report or out-of-RAM access is a bug; errors are expected.
 *
 * Header (little-endian):
 *   0  u16 queue size      2  u16 initial last_avail/used_idx
 *   4  u32 desc gpa        8  u32 avail gpa      12 u32 used gpa
 *   16 u8  flags: bit0 EVENT_IDX, bit1 INDIRECT_DESC
 *   17 u8  read chunk      18 u8 write chunk     19 u8 iov max
 *   20..31 reserved
 * GPAs are used as given, so out-of-RAM and misaligned rings are reached.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_ring.h>

#include "virtio/queue.h"

#define FUZZ_RAM (64u * 1024)
#define HDR_LEN	 32

struct fuzz_ctx {
	uint8_t *ram;
	struct guest_mem mem;
	struct virtq q;
	struct vq_chain chain;
};

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Consumes one chain the way a device would; returns bytes "written". */
static uint32_t consume(struct vq_chain *c, unsigned rchunk, unsigned wchunk, unsigned iovmax)
{
	uint8_t buf[256];
	struct iovec iov[8];
	struct vq_reader r;
	struct vq_writer w;

	vq_reader_init(&r, c);
	while (vq_read(&r, buf, rchunk) == 0)
		;
	(void)vq_reader_iov(&r, vq_reader_remaining(&r), iov, iovmax);
	(void)vq_reader_skip(&r, vq_reader_remaining(&r));

	vq_writer_init(&w, c);
	memset(buf, 0xa5, sizeof(buf));
	(void)vq_write(&w, buf, wchunk);
	int n = vq_writer_iov(&w, vq_writer_remaining(&w), iov, iovmax);
	for (int i = 0; i < n; i++)
		memset(iov[i].iov_base, 0x5a, iov[i].iov_len); /* the "preadv" */
	if (n > 0)
		(void)vq_writer_skip(&w, vq_writer_remaining(&w) / 2);
	return (uint32_t)vq_writer_written(&w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fuzz_ctx *ctx;

	if (size < HDR_LEN)
		return 0;
	if (!ctx) {
		ctx = calloc(1, sizeof(*ctx));
		ctx->ram = aligned_alloc(4096, FUZZ_RAM);
		guest_mem_fake(&ctx->mem, ctx->ram, FUZZ_RAM);
	}
	size_t img = size - HDR_LEN < FUZZ_RAM ? size - HDR_LEN : FUZZ_RAM;
	memcpy(ctx->ram, data + HDR_LEN, img);
	memset(ctx->ram + img, 0, FUZZ_RAM - img);

	struct virtq_state s = {
	    .size = rd16(data),
	    .max_size = VQ_SIZE_MAX,
	    .last_avail = rd16(data + 2),
	    .used_idx = rd16(data + 2),
	    .desc_gpa = rd32(data + 4),
	    .avail_gpa = rd32(data + 8),
	    .used_gpa = rd32(data + 12),
	    .flags =
		(data[16] & 1 ? VQ_STATE_EVENT_IDX : 0) | (data[16] & 2 ? VQ_STATE_INDIRECT : 0),
	};
	unsigned rchunk = data[17] ? data[17] : 1;
	unsigned wchunk = data[18];
	unsigned iovmax = (data[19] & 7) + 1;

	if (virtq_import(&ctx->q, &ctx->mem, &s) < 0)
		return 0;
	/* Bounded: the guest image cannot change under us here, so at most
	 * size chains are available; allow some slack for the re-arm path. */
	for (unsigned i = 0; i < 2u * VQ_SIZE_MAX; i++) {
		int r = virtq_pop(&ctx->q, &ctx->chain);
		if (r <= 0) {
			if (r < 0 && !vq_is_guest_error(r))
				abort();
			break;
		}
		uint32_t written = consume(&ctx->chain, rchunk, wchunk, iovmax);
		if (virtq_push(&ctx->q, &ctx->chain, written) < 0)
			abort(); /* written <= write_len by construction */
		(void)virtq_should_notify(&ctx->q);
	}
	return 0;
}
