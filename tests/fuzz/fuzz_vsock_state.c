/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the virtio-vsock checkpoint parser
 * (virtio_vsock_restore in virtio/vsock_state.c): the input is the saved
 * blob, as read from a hostile image file.
 *
 * Each input goes to a fresh device (8 connections at most).  A refused
 * blob must leave nothing behind: no connection, no owed RST, no fd.  An
 * accepted one must save back to the very same bytes (the blob is exactly
 * the state it describes), and the rebuilt device must then run: it is
 * probed with empty rings, polled, its host ends written to, read and
 * closed, and destroyed.  Any crash, sanitizer report, leak or abort is a
 * bug.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>

#include "virtio/vsock.h"

#define FUZZ_RAM  (64u * 1024)
#define GUEST_CID 3
#define MAX_CONNS 8

struct fuzz_ctx {
	uint8_t *ram;
	struct guest_mem mem;
	struct virtio_vsock vs;
	int fds[MAX_CONNS];
	unsigned nfds;
};

static void on_accept(void *ctx, int fd, uint32_t host_port, uint32_t guest_port)
{
	struct fuzz_ctx *f = ctx;
	(void)host_port;
	(void)guest_port;
	if (f->nfds == MAX_CONNS) /* restore hands over at most max_conns */
		abort();
	f->fds[f->nfds++] = fd;
}

static unsigned open_fds(void)
{
	unsigned n = 0;
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		abort();
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static void w32(struct virtio_dev *d, uint64_t off, uint32_t v)
{
	virtio_mmio_write(d, off, &v, 4);
}

/* A driver with empty rings (zeroed RAM): DRIVER_OK runs the device. */
static void probe(struct virtio_dev *d)
{
	uint32_t st = VIRTIO_CONFIG_S_ACKNOWLEDGE;
	w32(d, VIRTIO_MMIO_STATUS, st);
	w32(d, VIRTIO_MMIO_STATUS, st |= VIRTIO_CONFIG_S_DRIVER);
	w32(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	w32(d, VIRTIO_MMIO_DRIVER_FEATURES, 1u << (VIRTIO_F_VERSION_1 - 32));
	w32(d, VIRTIO_MMIO_STATUS, st |= VIRTIO_CONFIG_S_FEATURES_OK);
	for (unsigned q = 0; q < VSOCK_NQUEUES; q++) {
		w32(d, VIRTIO_MMIO_QUEUE_SEL, q);
		w32(d, VIRTIO_MMIO_QUEUE_NUM, 16);
		w32(d, VIRTIO_MMIO_QUEUE_DESC_LOW, q * 0x1000);
		w32(d, VIRTIO_MMIO_QUEUE_AVAIL_LOW, q * 0x1000 + 0x400);
		w32(d, VIRTIO_MMIO_QUEUE_USED_LOW, q * 0x1000 + 0x800);
		w32(d, VIRTIO_MMIO_QUEUE_READY, 1);
	}
	w32(d, VIRTIO_MMIO_STATUS, st | VIRTIO_CONFIG_S_DRIVER_OK);
}

static void run(struct fuzz_ctx *f, const uint8_t *data, size_t size)
{
	static uint8_t buf[65536];
	uint8_t *again = NULL;
	size_t again_len = 0;
	if (virtio_vsock_save(&f->vs, &again, &again_len, NULL) < 0 || again_len != size ||
	    memcmp(again, data, size) != 0)
		abort(); /* restore built something other than the blob says */
	free(again);
	probe(&f->vs.vdev);
	for (unsigned round = 0; round < 3; round++) {
		virtio_vsock_poll(&f->vs);
		for (unsigned i = 0; i < f->nfds; i++) {
			(void)!send(f->fds[i], "x", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
			(void)!recv(f->fds[i], buf, sizeof(buf), MSG_DONTWAIT);
			if (round == 1 && (i & 1)) {
				close(f->fds[i]);
				f->fds[i] = -1;
			}
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fuzz_ctx *f;

	if (!f) {
		f = calloc(1, sizeof(*f));
		f->ram = aligned_alloc(4096, FUZZ_RAM);
		guest_mem_fake(&f->mem, f->ram, FUZZ_RAM);
	}
	memset(f->ram, 0, FUZZ_RAM);
	f->nfds = 0;
	if (virtio_vsock_init(&f->vs, &f->mem, GUEST_CID, MAX_CONNS, NULL) < 0)
		abort();
	unsigned before = open_fds();
	struct kv_err err = {0};
	if (virtio_vsock_restore(&f->vs, data, size, on_accept, f, &err) < 0) {
		if (err.code == 0 || !err.msg[0] || virtio_vsock_conn_count(&f->vs) != 0 ||
		    f->vs.orphan_len != 0 || f->nfds != 0 || open_fds() != before)
			abort(); /* a refusal left something behind */
	} else {
		run(f, data, size);
	}
	virtio_vsock_destroy(&f->vs);
	for (unsigned i = 0; i < f->nfds; i++)
		if (f->fds[i] >= 0)
			close(f->fds[i]);
	return 0;
}
