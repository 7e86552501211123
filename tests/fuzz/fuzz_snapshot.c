/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the snapshot state-file parser (snap_parse): any
 * byte string must parse or fail with a one-line message, never crash or
 * read out of bounds.  What parses has its device sections decoded too
 * (UART, virtio), as the restore does.  The seed corpus
 * (tests/fuzz/corpus/snapshot) holds a real image's state file, saved
 * from tests/guests/counter.bzimage.  The checksum per section would stop
 * almost every mutation at the checksum, so each input is parsed twice:
 * as it is, and "repaired" (section checksums, section count, length and
 * header checksum rewritten the way a writer would), which lets mutated
 * lengths, types, indices and payloads reach the checks behind them.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/snapshot_format.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_msg(int r, const struct kv_err *err)
{
	if (r < 0 && (err->msg[0] == '\0' || strchr(err->msg, '\n')))
		__builtin_trap();
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static void repair(uint8_t *b, size_t len)
{
	size_t off = SNAP_HEADER_LEN;
	uint32_t n = 0;
	while (off + SNAP_SECTION_HDR <= len) {
		uint64_t plen;
		memcpy(&plen, b + off + 8, 8);
		if (plen > len - off - SNAP_SECTION_HDR)
			break;
		snap_sum(b + off + SNAP_SECTION_HDR, plen, b + off + 16);
		off += SNAP_SECTION_HDR + ((plen + 7) & ~7ULL);
		n++;
		if (off > len)
			break;
	}
	uint64_t total = len;
	put32(b + 12, n);
	memcpy(b + 16, &total, 8);
	uint8_t sum[32];
	snap_sum(b, 24, sum);
	memcpy(b + 24, sum, 8);
}

static void one(const uint8_t *data, size_t size, struct snap_image *img);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct snap_image *img;
	if (!img && !(img = malloc(sizeof(*img))))
		return 0;
	one(data, size, img);
	if (size < SNAP_HEADER_LEN || size > SNAP_STATE_MAX)
		return 0;
	uint8_t *copy = malloc(size);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	repair(copy, size);
	one(copy, size, img);
	free(copy);
	return 0;
}

static void one(const uint8_t *data, size_t size, struct snap_image *img)
{
	struct kv_err err = {0};
	int r = snap_parse(data, size, img, &err);
	check_msg(r, &err);
	if (r < 0)
		return;
	const struct snap_section *s = snap_find(img, SNAP_SEC_UART, 0);
	struct snap_uart u;
	if (s) {
		r = snap_uart_decode(s->data, s->len, &u, &err);
		check_msg(r, &err);
	}
	for (unsigned i = 0; i < img->man.nvirtio; i++) {
		struct snap_virtio v;
		s = snap_find(img, SNAP_SEC_VIRTIO, i);
		if (!s)
			__builtin_trap(); /* snap_parse promised every slot */
		r = snap_virtio_decode(s->data, s->len, &v, &err);
		check_msg(r, &err);
	}
}
