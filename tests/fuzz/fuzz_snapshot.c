/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the snapshot state-file parser (snap_parse): any
 * byte string must parse or fail with a one-line message, never crash or
 * read out of bounds.  What parses has its device sections decoded too
 * (UART, virtio), as the restore does.  The seed corpus
 * (tests/fuzz/corpus/snapshot) holds a real image's state file, saved
 * from tests/guests/counter.bzimage.  Note: the SHA-256 per section means
 * most mutations stop at the checksum; seeds cover the paths behind it.
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct snap_image *img;
	struct kv_err err = {0};
	if (!img && !(img = malloc(sizeof(*img))))
		return 0;
	int r = snap_parse(data, size, img, &err);
	check_msg(r, &err);
	if (r < 0)
		return 0;
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
	return 0;
}
