/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared by the virtio-9p unit tests (test_virtio_p9.c: the device with an
 * in-process server; test_gofer_process.c: the real gofer process): a fake
 * guest driver that does what Linux's 9p transport does over guest RAM in
 * a memfd (one request in readable descriptors, the response space split
 * into writable ones: header first, then pages, as in its zero-copy reads),
 * and a fixture with two share directories and two devices.
 */
#ifndef KVBOX_TEST_P9DRV_H
#define KVBOX_TEST_P9DRV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "gofer/client.h"
#include "gofer/p9wire.h"
#include "virtio/p9.h"

#include "test_virtio_regs.h"

#define RAM_SIZE   (4u << 20)
#define QSIZE	   128
#define REQ_GPA	   0x10000u
#define RESP_GPA   0x100000u
#define RESP_SPACE (P9_MAX_MSIZE)
#define MSIZE	   (256u * 1024)
#define FILE_LEN   (200u * 1024 + 123)

struct drv {
	struct virtio_dev *dev;
	struct guest_mem *mem;
	uint8_t *ram;  /* where this driver's area starts (rings, buffers) */
	uint64_t base; /* its guest-physical address */
	uint16_t avail_idx, used_seen;
	bool event_idx;
	int irq_fd; /* external: wait here for completions; -1 in-process */
	int kick_fd;
	/* chain shape */
	size_t req_split;	       /* 0: one readable descriptor */
	size_t resp_first, resp_split; /* 0: one writable descriptor */
	size_t resp_space;	       /* writable bytes offered */
	bool resp_untouched;	       /* not pre-filled: the device writes it first */
	uint16_t tag;
	uint32_t last_used_len;
	struct iovec resp; /* the last response: rx payload cursors point here */
};

void put16(uint8_t *p, uint16_t v);
uint16_t get16(const uint8_t *p);
void drv_desc(struct drv *d, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
	      uint16_t next);
/* Linux's probe sequence; features beyond MOUNT_TAG as given. */
void drv_probe(struct drv *d, uint64_t features);
/* One request/response through the ring.  0 on the expected R-message,
 * -ecode on Rlerror, -EPROTO on anything else, -ETIMEDOUT if unanswered. */
int drv_rpc(struct drv *d, struct p9_msg *tx, struct p9_msg *rx);
/* Tversion, Tattach fid 0, then (name != NULL) walk fid 1 to it and open. */
void drv_session(struct drv *d, const char *name, uint32_t flags);
/* Reads the whole of fid 1 with Treads of msize - 11. */
size_t drv_read_all(struct drv *d, uint8_t *buf, size_t cap);
int drv_write(struct drv *d, uint32_t fid, uint64_t off, const void *buf, uint32_t len);

struct fx {
	char dir[64], dir2[64];
	uint8_t *pattern;
	struct guest_mem mem;
	struct virtio_p9 p9, p9b;
	struct p9_server *server;
	struct irq_count irq;
	struct drv drv, drvb;
	struct gofer_client gofer;
	bool gofer_started;
	bool lazy_mem; /* fx_gofer starts it with --lazy-mem */
	int kick[2], irqfd[2];
};

/* dir holds "data" (FILE_LEN bytes of f->pattern); dir2 holds "b". */
int fx_setup(void **state);
int fx_teardown(void **state);
/* Device 0 served in-process over dir. */
void fx_inproc(struct fx *f);
/* Both devices served by a gofer (exe NULL: the built kvbox binary). */
void fx_gofer(struct fx *f, const char *exe);
const char *kvbox_bin(void);

#endif
