/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-9p end to end through the virtio-mmio register window, over guest
 * RAM in a memfd, driven by a small fake guest driver that does what
 * Linux's 9p transport does: one request in readable descriptors, the
 * response space split into writable ones (header first, then pages, as in
 * its zero-copy reads).
 *
 *   in-process backend: Tversion/Tattach/Twalk/Tlopen/Tread into a split
 *     chain, Tlcreate/Twrite from a split chain, config space, EVENT_IDX
 *     interrupts, a chain with no room for a reply, a broken ring, the
 *     serve budget;
 *   the real gofer process (`kvbox gofer`, fork+exec of the built binary,
 *     jailed): the same exchange through ioeventfd/irqfd eventfds, reset
 *     taking the queue back and re-activation, a hostile ring reported as
 *     QUEUE_ERROR (NEEDS_RESET) while a second share keeps working, the
 *     jail as seen from /proc, death with its parent, a gofer that cannot
 *     start.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/virtio_9p.h>
#include <linux/virtio_ids.h>

#include "gofer/client.h"
#include "util/cleanup.h"
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

/* ---- a fake guest driver ---- */

struct drv {
	struct virtio_dev *dev;
	struct guest_mem *mem;
	uint8_t *ram;	/* where this driver's area starts (rings, buffers) */
	uint64_t base; /* its guest-physical address */
	uint16_t avail_idx, used_seen;
	bool event_idx;
	int irq_fd; /* external: wait here for completions; -1 in-process */
	int kick_fd;
	/* chain shape */
	size_t req_split;		/* 0: one readable descriptor */
	size_t resp_first, resp_split; /* 0: one writable descriptor */
	size_t resp_space;		/* writable bytes offered */
	uint16_t tag;
	uint32_t last_used_len;
	struct iovec resp; /* the last response: rx payload cursors point here */
};

static void put16(uint8_t *p, uint16_t v)
{
	__atomic_store_n((uint16_t *)p, htole16(v), __ATOMIC_RELEASE);
}

static uint16_t get16(const uint8_t *p)
{
	return le16toh(__atomic_load_n((const uint16_t *)p, __ATOMIC_ACQUIRE));
}

static void drv_desc(struct drv *d, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	struct vring_desc desc = {.addr = htole64(addr), .len = htole32(len),
				  .flags = htole16(flags), .next = htole16(next)};
	memcpy(d->ram + DESC_GPA + 16 * i, &desc, 16);
}

static void drv_probe(struct drv *d, uint64_t features)
{
	struct virtio_dev *v = d->dev;

	memset(d->ram, 0, REQ_GPA);
	d->avail_idx = d->used_seen = 0;
	d->event_idx = features & F_EVENT_IDX;
	assert_int_equal(r32(v, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_9P);
	w32(v, VIRTIO_MMIO_STATUS, 0);
	w32(v, VIRTIO_MMIO_STATUS, A);
	w32(v, VIRTIO_MMIO_STATUS, A | D);
	w32(v, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	assert_true(r32(v, VIRTIO_MMIO_DEVICE_FEATURES) & (1u << VIRTIO_9P_MOUNT_TAG));
	set_driver_features(v, features | (1ULL << VIRTIO_9P_MOUNT_TAG));
	w32(v, VIRTIO_MMIO_STATUS, A | D | FOK);
	assert_int_equal(r32(v, VIRTIO_MMIO_STATUS), A | D | FOK);
	setup_queue(v, 0, QSIZE, d->base + DESC_GPA, d->base + AVAIL_GPA, d->base + USED_GPA);
	w32(v, VIRTIO_MMIO_STATUS, A | D | FOK | OK);
}

/* Lays `len` bytes at gpa out as descriptors of `first`, then `each`
 * bytes (0: all in one); returns the next free descriptor. */
static uint16_t drv_chain_part(struct drv *d, uint16_t i, uint64_t gpa, size_t len, size_t first,
			       size_t each, uint16_t flags, bool last)
{
	size_t off = 0;
	while (off < len) {
		size_t k = len - off, want = off == 0 && first ? first : each;
		if (want && want < k)
			k = want;
		bool end = last && off + k == len;
		drv_desc(d, i, d->base + gpa + off, (uint32_t)k, flags | (end ? 0 : VRING_DESC_F_NEXT),
			 (uint16_t)(i + 1));
		i++;
		off += k;
	}
	return i;
}

/* Publishes head 0 and kicks. */
static void drv_publish(struct drv *d)
{
	uint8_t *avail = d->ram + AVAIL_GPA;

	memcpy(avail + 4 + 2 * (d->avail_idx % QSIZE), &(uint16_t){htole16(0)}, 2);
	if (d->event_idx) /* interrupt me when this one is used */
		put16(avail + 4 + 2 * QSIZE, d->used_seen);
	put16(avail + 2, ++d->avail_idx);
	if (d->kick_fd >= 0) {
		uint64_t one = 1;
		assert_int_equal(write(d->kick_fd, &one, 8), 8);
	} else {
		w32(d->dev, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	}
}

/* Waits for the used ring to move past used_seen (external: on the irqfd). */
static bool drv_wait_used(struct drv *d, int timeout_ms)
{
	const uint8_t *used = d->ram + USED_GPA;
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		if (get16(used + 2) != d->used_seen)
			return true;
		clock_gettime(CLOCK_MONOTONIC, &t);
		long ms = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
		if (ms >= timeout_ms || d->irq_fd < 0)
			return false;
		struct pollfd p = {.fd = d->irq_fd, .events = POLLIN};
		if (poll(&p, 1, (int)(timeout_ms - ms)) == 1) {
			uint64_t v;
			assert_int_equal(read(d->irq_fd, &v, 8), 8);
		}
	}
}

/* One request/response through the ring.  0 on the expected R-message,
 * -ecode on Rlerror, -EPROTO on anything else, -ETIMEDOUT if unanswered. */
static int drv_rpc(struct drv *d, struct p9_msg *tx, struct p9_msg *rx)
{
	struct iovec req = {d->ram + REQ_GPA, RESP_GPA - REQ_GPA};
	size_t space = d->resp_space ? d->resp_space : RESP_SPACE;

	tx->tag = tx->type == P9_TVERSION ? P9_NOTAG : ++d->tag;
	size_t len = p9_encode(tx, &req, 1, req.iov_len);
	assert_true(len > 0);
	uint16_t i = drv_chain_part(d, 0, REQ_GPA, len, 0, d->req_split, 0, false);
	assert_true(i < QSIZE);
	i = drv_chain_part(d, i, RESP_GPA, space, d->resp_first, d->resp_split,
			   VRING_DESC_F_WRITE, true);
	assert_true(i <= QSIZE);
	memset(d->ram + RESP_GPA, 0xa5, space);
	drv_publish(d);
	if (!drv_wait_used(d, 5000))
		return -ETIMEDOUT;
	const uint8_t *used = d->ram + USED_GPA;
	struct vring_used_elem e;
	memcpy(&e, used + 4 + 8 * (d->used_seen % QSIZE), 8);
	d->used_seen++;
	assert_int_equal(le32toh(e.id), 0);
	d->last_used_len = le32toh(e.len);
	d->resp = (struct iovec){d->ram + RESP_GPA, d->last_used_len};
	if (d->last_used_len < P9_HDR_SIZE || p9_decode(&d->resp, 1, UINT32_MAX, rx))
		return -EPROTO;
	if (rx->tag != tx->tag)
		return -EPROTO;
	if (rx->type == P9_RLERROR)
		return -(int)rx->u.lerror.ecode;
	return rx->type == tx->type + 1 ? 0 : -EPROTO;
}

/* Tversion, Tattach fid 0, walk fid 1 to `name`, open it. */
static void drv_session(struct drv *d, const char *name, uint32_t flags)
{
	struct p9_msg tx, rx;

	tx = (struct p9_msg){.type = P9_TVERSION, .u.version.msize = MSIZE};
	strcpy(tx.u.version.version, "9P2000.L");
	assert_int_equal(drv_rpc(d, &tx, &rx), 0);
	assert_int_equal(rx.u.version.msize, MSIZE);
	tx = (struct p9_msg){.type = P9_TATTACH};
	tx.u.attach.fid = 0;
	tx.u.attach.afid = P9_NOFID;
	tx.u.attach.n_uname = 0;
	assert_int_equal(drv_rpc(d, &tx, &rx), 0);
	assert_int_equal(rx.u.rqid.qid.type, P9_QTDIR);
	if (!name)
		return;
	tx = (struct p9_msg){.type = P9_TWALK};
	tx.u.walk.fid = 0;
	tx.u.walk.newfid = 1;
	tx.u.walk.nwname = 1;
	strcpy(tx.u.walk.wnames[0], name);
	assert_int_equal(drv_rpc(d, &tx, &rx), 0);
	assert_int_equal(rx.u.rwalk.nwqid, 1);
	tx = (struct p9_msg){.type = P9_TLOPEN, .u.lopen = {1, flags}};
	assert_int_equal(drv_rpc(d, &tx, &rx), 0);
}

/* Reads the whole of fid 1 through Tread (count = msize - 11) into buf. */
static size_t drv_read_all(struct drv *d, uint8_t *buf, size_t cap)
{
	struct p9_msg tx, rx;
	size_t got = 0;

	for (;;) {
		tx = (struct p9_msg){.type = P9_TREAD, .u.read = {1, got, MSIZE - P9_IOHDR_SIZE}};
		assert_int_equal(drv_rpc(d, &tx, &rx), 0);
		uint32_t n = rx.u.rdata.count;
		if (n == 0)
			return got;
		assert_true(got + n <= cap);
		assert_int_equal(d->last_used_len, P9_IOHDR_SIZE + n);
		struct p9_cur data = rx.u.rdata.data;
		p9_get_bytes(&data, buf + got, n);
		assert_int_equal(data.err, 0);
		got += n;
	}
}

static int drv_write(struct drv *d, uint32_t fid, uint64_t off, const void *buf, uint32_t len)
{
	struct iovec v = {(void *)buf, len};
	struct p9_msg tx = {.type = P9_TWRITE}, rx;

	tx.u.write.fid = fid;
	tx.u.write.offset = off;
	tx.u.write.data.count = len;
	p9_cur_init(&tx.u.write.data.data, &v, 1, len);
	int r = drv_rpc(d, &tx, &rx);
	return r ? r : (int)rx.u.rwrite.count;
}

/* ---- fixture: a share directory and a device ---- */

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
	int kick[2], irqfd[2];
};

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

static void write_host(const char *dir, const char *name, const void *buf, size_t len)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	close(fd);
}

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct kv_err err = {0};

	if (!f)
		return -1;
	strcpy(f->dir, "/tmp/kvbox-p9-XXXXXX");
	strcpy(f->dir2, "/tmp/kvbox-p9b-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_non_null(mkdtemp(f->dir2));
	f->pattern = malloc(FILE_LEN);
	for (size_t i = 0; i < FILE_LEN; i++)
		f->pattern[i] = (uint8_t)(i * 7 + i / 4096);
	write_host(f->dir, "data", f->pattern, FILE_LEN);
	write_host(f->dir2, "b", "second share\n", 13);
	assert_int_equal(guest_mem_create(&f->mem, RAM_SIZE, 0x100000000ULL, &err), 0);
	assert_int_equal(virtio_p9_init(&f->p9, "kvboxtest", &f->mem, &err), 0);
	assert_int_equal(virtio_p9_init(&f->p9b, "second", &f->mem, &err), 0);
	f->drv = (struct drv){.dev = &f->p9.vdev, .mem = &f->mem, .ram = f->mem.host,
			      .irq_fd = -1, .kick_fd = -1};
	for (int i = 0; i < 2; i++)
		f->kick[i] = f->irqfd[i] = -1;
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;

	if (f->gofer_started)
		gofer_client_destroy(&f->gofer);
	virtio_p9_destroy(&f->p9);
	virtio_p9_destroy(&f->p9b);
	p9_server_free(f->server);
	for (int i = 0; i < 2; i++) {
		if (f->kick[i] >= 0)
			close(f->kick[i]);
		if (f->irqfd[i] >= 0)
			close(f->irqfd[i]);
	}
	guest_mem_destroy(&f->mem);
	nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	nftw(f->dir2, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f->pattern);
	free(f);
	return 0;
}

static void fx_inproc(struct fx *f)
{
	struct p9_attach_point ap = {.aname = "kvboxtest", .path = f->dir, .fd = -1};
	struct p9_server_config cfg = {.attach = &ap, .nattach = 1, .proc_fd = -1};

	assert_int_equal(p9_server_new(&cfg, &f->server, NULL), 0);
	assert_int_equal(virtio_p9_set_server(&f->p9, f->server, NULL), 0);
	struct virtio_irq irq = {.irqfd = -1, .raise = count_irq, .ctx = &f->irq, .gsi = 7};
	virtio_dev_set_irq(&f->p9.vdev, &irq);
}

/* ---- in-process ---- */

static void test_tag_check(void **state)
{
	(void)state;
	assert_int_equal(virtio_p9_check_tag("kvboxroot", NULL), 0);
	assert_int_equal(virtio_p9_check_tag("a.b_c-9", NULL), 0);
	assert_int_equal(virtio_p9_check_tag("0123456789012345678901234567890", NULL), 0);
	assert_int_equal(virtio_p9_check_tag("01234567890123456789012345678901", NULL), -EINVAL);
	assert_int_equal(virtio_p9_check_tag("", NULL), -EINVAL);
	assert_int_equal(virtio_p9_check_tag("a:b", NULL), -EINVAL);
	assert_int_equal(virtio_p9_check_tag("a b", NULL), -EINVAL);
	assert_int_equal(virtio_p9_check_tag("/dev/root", NULL), -EINVAL);
	assert_int_equal(virtio_p9_check_tag("a,b", NULL), -EINVAL);
}

static void test_config_space(void **state)
{
	struct fx *f = *state;
	struct virtio_dev *v = &f->p9.vdev;
	uint8_t b[4];
	uint16_t len;

	assert_int_equal(r32(v, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_9P);
	virtio_mmio_read(v, VIRTIO_MMIO_CONFIG, &len, 2);
	assert_int_equal(le16toh(len), 9);
	char tag[10] = {0};
	for (unsigned i = 0; i < 9; i++)
		virtio_mmio_read(v, VIRTIO_MMIO_CONFIG + 2 + i, &tag[i], 1);
	assert_string_equal(tag, "kvboxtest");
	/* 4-byte read over the tag; past the tag reads 0; past config_len
	 * (2 + 31) the transport refuses (0) */
	virtio_mmio_read(v, VIRTIO_MMIO_CONFIG + 4, b, 4);
	assert_memory_equal(b, "boxt", 4);
	virtio_mmio_read(v, VIRTIO_MMIO_CONFIG + 12, b, 4);
	assert_memory_equal(b, "\0\0\0\0", 4);
	memset(b, 0xff, 4);
	virtio_mmio_read(v, VIRTIO_MMIO_CONFIG + 32, b, 2);
	assert_memory_equal(b, "\0\0", 2);
	/* the guest cannot write the tag */
	virtio_mmio_write(v, VIRTIO_MMIO_CONFIG + 2, "X", 1);
	virtio_mmio_read(v, VIRTIO_MMIO_CONFIG + 2, b, 1);
	assert_int_equal(b[0], 'k');
}

static void test_inproc_read_write(void **state)
{
	struct fx *f = *state;
	struct drv *d = &f->drv;
	uint8_t *buf = malloc(FILE_LEN + MSIZE);
	struct p9_msg tx, rx;

	fx_inproc(f);
	drv_probe(d, F_VERSION_1 | F_EVENT_IDX);
	/* request in 5-byte pieces; response: the 11-byte Rread header on
	 * its own, then 4 KiB pages (Linux's zero-copy read shape) */
	d->req_split = 5;
	d->resp_first = P9_IOHDR_SIZE;
	d->resp_split = 4096;
	d->resp_space = MSIZE;
	drv_session(d, "data", 0);
	assert_int_equal(drv_read_all(d, buf, FILE_LEN + MSIZE), FILE_LEN);
	assert_memory_equal(buf, f->pattern, FILE_LEN);
	/* with EVENT_IDX and used_event tracking, one interrupt per request */
	assert_int_equal(f->irq.pulses, 6);
	int before = f->irq.pulses;

	/* Tlcreate + Twrite from a readable chain of 3-byte pieces */
	tx = (struct p9_msg){.type = P9_TWALK, .u.walk = {.fid = 0, .newfid = 2}};
	assert_int_equal(drv_rpc(d, &tx, &rx), 0);
	tx = (struct p9_msg){.type = P9_TLCREATE};
	tx.u.lcreate.fid = 2;
	strcpy(tx.u.lcreate.name, "new");
	tx.u.lcreate.flags = P9_DOTL_RDWR;
	tx.u.lcreate.mode = 0640;
	assert_int_equal(drv_rpc(d, &tx, &rx), 0);
	d->req_split = 3;
	assert_int_equal(drv_write(d, 2, 0, "written through the ring", 24), 24);
	char host[64] = {0};
	char path[128];
	snprintf(path, sizeof(path), "%s/new", f->dir);
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, host, sizeof(host)), 24);
	close(fd);
	assert_string_equal(host, "written through the ring");
	assert_int_equal(f->irq.pulses, before + 3);
	assert_true(virtio_dev_driver_ok(&f->p9.vdev));
	free(buf);
}

/* Interrupt suppression without EVENT_IDX: VRING_AVAIL_F_NO_INTERRUPT. */
static void test_inproc_no_interrupt_flag(void **state)
{
	struct fx *f = *state;
	struct drv *d = &f->drv;

	fx_inproc(f);
	drv_probe(d, F_VERSION_1);
	put16(d->ram + AVAIL_GPA, VRING_AVAIL_F_NO_INTERRUPT);
	drv_session(d, NULL, 0);
	assert_int_equal(f->irq.pulses, 0);
	put16(d->ram + AVAIL_GPA, 0);
	drv_session(d, NULL, 0);
	assert_int_equal(f->irq.pulses, 2);
}

static void test_inproc_no_room(void **state)
{
	struct fx *f = *state;
	struct drv *d = &f->drv;
	struct p9_msg tx = {.type = P9_TVERSION, .u.version.msize = MSIZE}, rx;

	fx_inproc(f);
	drv_probe(d, F_VERSION_1);
	strcpy(tx.u.version.version, "9P2000.L");
	d->resp_space = 10; /* an Rlerror needs 11 */
	assert_int_equal(drv_rpc(d, &tx, &rx), -EPROTO);
	assert_int_equal(d->last_used_len, 0); /* buffers returned, nothing written */
	assert_true(r32(&f->p9.vdev, VIRTIO_MMIO_STATUS) & NR);
	assert_false(virtio_dev_driver_ok(&f->p9.vdev));
	/* a reset brings the device back */
	d->resp_space = 0;
	drv_probe(d, F_VERSION_1);
	drv_session(d, "data", 0);
	assert_true(virtio_dev_driver_ok(&f->p9.vdev));
}

static void test_inproc_broken_ring(void **state)
{
	struct fx *f = *state;
	struct drv *d = &f->drv;

	fx_inproc(f);
	drv_probe(d, F_VERSION_1);
	/* a head beyond the queue */
	memcpy(d->ram + AVAIL_GPA + 4, &(uint16_t){htole16(QSIZE + 3)}, 2);
	put16(d->ram + AVAIL_GPA + 2, 1);
	w32(d->dev, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	assert_true(r32(d->dev, VIRTIO_MMIO_STATUS) & NR);
	assert_true(r32(d->dev, VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_CONFIG);
	assert_int_equal(get16(d->ram + USED_GPA + 2), 0);
}

static void test_serve_budget(void **state)
{
	struct fx *f = *state;
	struct drv *d = &f->drv;
	struct vq_chain *c = malloc(sizeof(*c));
	struct p9_msg tx = {.type = P9_TVERSION, .u.version.msize = MSIZE};
	struct iovec req = {d->ram + REQ_GPA, 4096};
	bool pushed;

	fx_inproc(f);
	drv_probe(d, F_VERSION_1);
	strcpy(tx.u.version.version, "9P2000.L");
	tx.tag = P9_NOTAG;
	size_t len = p9_encode(&tx, &req, 1, 4096);
	/* five chains (2 descriptors each) published at once, served
	 * directly (no notify) with a budget of 2 */
	for (uint16_t k = 0; k < 5; k++) {
		drv_desc(d, 2 * k, REQ_GPA, (uint32_t)len, VRING_DESC_F_NEXT, 2 * k + 1);
		drv_desc(d, 2 * k + 1, RESP_GPA + 4096 * k, 4096, VRING_DESC_F_WRITE, 0);
		memcpy(d->ram + AVAIL_GPA + 4 + 2 * k, &(uint16_t){htole16(2 * k)}, 2);
	}
	put16(d->ram + AVAIL_GPA + 2, 5);
	assert_int_equal(virtio_p9_serve(&f->p9.vq, f->server, c, 2, &pushed), 1);
	assert_true(pushed);
	assert_int_equal(get16(d->ram + USED_GPA + 2), 2);
	assert_int_equal(virtio_p9_serve(&f->p9.vq, f->server, c, 2, &pushed), 1);
	assert_int_equal(virtio_p9_serve(&f->p9.vq, f->server, c, 2, &pushed), 0);
	assert_int_equal(get16(d->ram + USED_GPA + 2), 5);
	assert_int_equal(virtio_p9_serve(&f->p9.vq, f->server, c, 2, &pushed), 0);
	assert_false(pushed);
	free(c);
}

/* ---- the real gofer process ---- */

static const char *kvbox_bin(void)
{
	static char path[PATH_MAX];
	const char *env = getenv("KVBOX_BIN");

	if (env)
		return env;
	/* <build>/tests/unit/unit-virtio_p9 -> <build>/kvbox */
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
	assert_true(n > 0);
	path[n] = '\0';
	char *dir = dirname(dirname(dirname(path)));
	memmove(path, dir, strlen(dir) + 1);
	strcat(path, "/kvbox");
	return path;
}

/* Starts the gofer over dir (and dir2 as a second share), gives it RAM,
 * wires both devices to it with eventfds. */
static void fx_gofer(struct fx *f, const char *exe)
{
	struct gofer_share sh[2] = {{.path = f->dir}, {.path = f->dir2, .readonly = true}};
	struct gofer_client_config cfg = {
	    .exe = exe ? exe : kvbox_bin(), .shares = sh, .nshares = 2, .timeout_ms = 5000};
	struct kv_err err = {0};
	struct virtio_p9 *devs[2] = {&f->p9, &f->p9b};

	strcpy(sh[0].tag, "kvboxtest");
	strcpy(sh[1].tag, "second");
	/* In sanitizer builds: the jailed gofer has no /proc for
	 * LeakSanitizer's exit-time scan, which would fail its exit status. */
	const char *asan = getenv("ASAN_OPTIONS");
	char opts[512];
	snprintf(opts, sizeof(opts), "%s%sdetect_leaks=0", asan ? asan : "", asan ? ":" : "");
	setenv("ASAN_OPTIONS", opts, 1);
	assert_int_equal(gofer_client_start(&f->gofer, &cfg, &err), 0);
	f->gofer_started = true;
	for (unsigned i = 0; i < 2; i++) {
		struct virtio_p9_backend b;
		f->kick[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		f->irqfd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		gofer_client_bind(&f->gofer, i, &devs[i]->vdev, f->kick[i], f->irqfd[i]);
		gofer_client_backend(&f->gofer, i, &b);
		virtio_p9_set_backend(devs[i], &b);
	}
	f->drv.irq_fd = f->irqfd[0];
	f->drv.kick_fd = f->kick[0];
	f->drvb = f->drv;
	f->drvb.dev = &f->p9b.vdev;
	f->drvb.base = RAM_SIZE / 2;
	f->drvb.ram = f->mem.host + RAM_SIZE / 2;
	f->drvb.irq_fd = f->irqfd[1];
	f->drvb.kick_fd = f->kick[1];
}

static void test_gofer_exchange(void **state)
{
	struct fx *f = *state;
	struct drv *d = &f->drv;
	struct kv_err err = {0};
	uint8_t *buf = malloc(FILE_LEN + MSIZE);

	fx_gofer(f, NULL);
	if (gofer_client_set_mem(&f->gofer, &f->mem, &err))
		fail_msg("%s", err.msg);
	drv_probe(d, F_VERSION_1 | F_EVENT_IDX);
	assert_true(virtio_dev_driver_ok(&f->p9.vdev));
	d->req_split = 7;
	d->resp_first = P9_IOHDR_SIZE;
	d->resp_split = 4096;
	d->resp_space = MSIZE;
	drv_session(d, "data", 0);
	assert_int_equal(drv_read_all(d, buf, FILE_LEN + MSIZE), FILE_LEN);
	assert_memory_equal(buf, f->pattern, FILE_LEN);
	/* a write lands in the host file */
	struct p9_msg tx = {.type = P9_TWALK, .u.walk = {.fid = 0, .newfid = 2}}, rx;
	assert_int_equal(drv_rpc(d, &tx, &rx), 0);
	tx = (struct p9_msg){.type = P9_TLCREATE};
	tx.u.lcreate.fid = 2;
	strcpy(tx.u.lcreate.name, "fromguest");
	tx.u.lcreate.flags = P9_DOTL_WRONLY;
	tx.u.lcreate.mode = 0600;
	assert_int_equal(drv_rpc(d, &tx, &rx), 0);
	d->req_split = 4096;
	assert_int_equal(drv_write(d, 2, 0, buf, 70000), 70000);
	char path[128];
	snprintf(path, sizeof(path), "%s/fromguest", f->dir);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 70000);

	/* the second share is its own session, read-only */
	struct drv *b = &f->drvb;
	drv_probe(b, F_VERSION_1 | F_EVENT_IDX);
	drv_session(b, "b", 0);
	tx = (struct p9_msg){.type = P9_TWALK, .u.walk = {.fid = 0, .newfid = 2}};
	assert_int_equal(drv_rpc(b, &tx, &rx), 0);
	tx = (struct p9_msg){.type = P9_TLCREATE};
	tx.u.lcreate.fid = 2;
	strcpy(tx.u.lcreate.name, "nope");
	assert_int_equal(drv_rpc(b, &tx, &rx), -EROFS);
	/* fid 1 of share 0 is not a fid of share 1's session */
	tx = (struct p9_msg){.type = P9_TREAD, .u.read = {1, 0, 16}};
	assert_int_equal(drv_rpc(b, &tx, &rx), 0); /* share 1's own fid 1: "b" */
	assert_int_equal(rx.u.rdata.count, 13);

	assert_int_equal(gofer_client_stop(&f->gofer, 5000), 0);
	free(buf);
}

static void test_gofer_reset(void **state)
{
	struct fx *f = *state;
	struct drv *d = &f->drv;
	struct p9_msg tx, rx;

	fx_gofer(f, NULL);
	assert_int_equal(gofer_client_set_mem(&f->gofer, &f->mem, NULL), 0);
	drv_probe(d, F_VERSION_1 | F_EVENT_IDX);
	drv_session(d, "data", 0);
	/* reset: when the status write returns the gofer has let go */
	w32(d->dev, VIRTIO_MMIO_STATUS, 0);
	assert_false(f->gofer.devs[0].active);
	/* a request placed on the old ring now is never served */
	tx = (struct p9_msg){.type = P9_TCLUNK, .u.fid.fid = 1};
	d->irq_fd = -1; /* do not wait long */
	assert_int_equal(drv_rpc(d, &tx, &rx), -ETIMEDOUT);
	d->irq_fd = f->irqfd[0];
	uint64_t one = 1;
	assert_int_equal(write(d->kick_fd, &one, 8), 8);
	usleep(100 * 1000);
	assert_int_equal(get16(d->ram + USED_GPA + 2), d->used_seen);
	/* probe again: a fresh queue and session */
	drv_probe(d, F_VERSION_1);
	drv_session(d, "data", 0);
	assert_true(f->gofer.devs[0].active);
	assert_int_equal(gofer_client_stop(&f->gofer, 5000), 0);
}

static void test_gofer_hostile_ring(void **state)
{
	struct fx *f = *state;
	struct drv *d = &f->drv;

	fx_gofer(f, NULL);
	assert_int_equal(gofer_client_set_mem(&f->gofer, &f->mem, NULL), 0);
	drv_probe(d, F_VERSION_1);
	drv_probe(&f->drvb, F_VERSION_1);
	drv_session(d, NULL, 0);
	/* avail idx jumps past the ring */
	put16(d->ram + AVAIL_GPA + 2, (uint16_t)(d->avail_idx + QSIZE + 1));
	uint64_t one = 1;
	assert_int_equal(write(d->kick_fd, &one, 8), 8);
	/* the VMM's event loop sees the report */
	struct pollfd p = {.fd = gofer_client_fd(&f->gofer), .events = POLLIN};
	assert_int_equal(poll(&p, 1, 5000), 1);
	assert_int_equal(gofer_client_ready(&f->gofer), 0);
	assert_true(r32(d->dev, VIRTIO_MMIO_STATUS) & NR);
	assert_false(f->gofer.devs[0].active);
	/* the other share keeps working */
	drv_session(&f->drvb, "b", 0);
	assert_true(virtio_dev_driver_ok(&f->p9b.vdev));
	/* and the broken one comes back after a reset */
	d->avail_idx = 0;
	drv_probe(d, F_VERSION_1);
	drv_session(d, "data", 0);
	assert_int_equal(gofer_client_stop(&f->gofer, 5000), 0);
}

static void read_link(const char *path, char *buf, size_t cap)
{
	ssize_t n = readlink(path, buf, cap - 1);
	assert_true(n > 0);
	buf[n] = '\0';
}

static void test_gofer_jail(void **state)
{
	struct fx *f = *state;
	char path[64], mine[64], its[64], line[256];

	fx_gofer(f, NULL);
	assert_int_equal(gofer_client_set_mem(&f->gofer, &f->mem, NULL), 0);
	pid_t pid = f->gofer.pid;
	read_link("/proc/self/ns/mnt", mine, sizeof(mine));
	snprintf(path, sizeof(path), "/proc/%d/ns/mnt", pid);
	read_link(path, its, sizeof(its));
	assert_string_not_equal(mine, its);
	/* its root holds the two share mounts and nothing else */
	snprintf(path, sizeof(path), "/proc/%d/root", pid);
	DIR *dir = opendir(path);
	assert_non_null(dir);
	struct dirent *e;
	unsigned n = 0;
	while ((e = readdir(dir))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		assert_true(!strcmp(e->d_name, "0") || !strcmp(e->d_name, "1"));
		n++;
	}
	closedir(dir);
	assert_int_equal(n, 2);
	snprintf(path, sizeof(path), "/proc/%d/root/1/b", pid);
	assert_int_equal(access(path, F_OK), 0);
	assert_int_equal(open(path, O_WRONLY), -1); /* ":ro" share: read-only bind */
	assert_int_equal(errno, EROFS);
	/* no_new_privs, and only the fds it needs */
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	FILE *st = fopen(path, "r");
	bool nnp = false;
	while (fgets(line, sizeof(line), st))
		if (!strcmp(line, "NoNewPrivs:\t1\n"))
			nnp = true;
	fclose(st);
	assert_true(nnp);
	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	dir = opendir(path);
	n = 0;
	while ((e = readdir(dir)))
		n += e->d_name[0] != '.';
	closedir(dir);
	/* stdio 3, control 1, memfd 1, epoll 1, signalfd 1, proc 1 + per
	 * share (attach dir 1 + server proc_fd dup 1 + opts dir 1) */
	assert_true(n <= 16);
	assert_int_equal(gofer_client_stop(&f->gofer, 5000), 0);
}

/* The gofer dies with its parent (PR_SET_DEATHSIG) even when nobody tells
 * it and its control socket stays open elsewhere. */
static void test_gofer_dies_with_parent(void **state)
{
	struct fx *f = *state;
	int pfd[2], st;

	/* orphans come to us, so we can reap the gofer and see how it died */
	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	assert_int_equal(pipe(pfd), 0);
	pid_t mid = fork();
	if (mid == 0) {
		struct gofer_client c;
		struct gofer_share sh = {.path = f->dir};
		struct gofer_client_config cfg = {.exe = kvbox_bin(), .shares = &sh, .nshares = 1};
		strcpy(sh.tag, "t");
		if (gofer_client_start(&c, &cfg, NULL) || gofer_client_set_mem(&c, &f->mem, NULL))
			_exit(1);
		/* a second holder of the control socket: no EOF reaches the
		 * gofer when we die, only the death signal */
		pid_t holder = fork();
		if (holder == 0) {
			pause();
			_exit(0);
		}
		pid_t pids[2] = {c.pid, holder};
		(void)!write(pfd[1], pids, sizeof(pids));
		pause();
		_exit(0);
	}
	close(pfd[1]);
	pid_t pids[2] = {0, 0};
	assert_int_equal(read(pfd[0], pids, sizeof(pids)), sizeof(pids));
	close(pfd[0]);
	pid_t gpid = pids[0];
	assert_int_equal(kill(gpid, 0), 0);
	kill(mid, SIGKILL);
	waitpid(mid, NULL, 0);
	int i;
	for (i = 0; i < 500 && waitpid(gpid, &st, WNOHANG) != gpid; i++)
		usleep(10000);
	assert_true(i < 500);
	kill(pids[1], SIGKILL);
	waitpid(pids[1], NULL, 0);
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	prctl(PR_SET_CHILD_SUBREAPER, 0);
}

static void test_gofer_cannot_start(void **state)
{
	struct fx *f = *state;
	struct kv_err err = {0};

	fx_gofer(f, "/nonexistent/kvbox");
	assert_int_not_equal(gofer_client_set_mem(&f->gofer, &f->mem, &err), 0);
	assert_non_null(strstr(err.msg, "gofer did not start"));
	/* the devices cannot be activated; nothing hangs */
	drv_probe(&f->drv, F_VERSION_1);
	assert_true(r32(f->drv.dev, VIRTIO_MMIO_STATUS) & NR);
	assert_int_equal(WEXITSTATUS(gofer_client_stop(&f->gofer, 5000)), 127);
	assert_int_equal(f->gofer.pid, -1);
}

/* The gofer dies while the guest uses it: every 9p device fails, a reset
 * does not hang, the VMM goes on. */
static void test_gofer_killed(void **state)
{
	struct fx *f = *state;
	struct drv *d = &f->drv;

	fx_gofer(f, NULL);
	assert_int_equal(gofer_client_set_mem(&f->gofer, &f->mem, NULL), 0);
	drv_probe(d, F_VERSION_1);
	drv_session(d, "data", 0);
	kill(f->gofer.pid, SIGKILL);
	struct pollfd p = {.fd = gofer_client_fd(&f->gofer), .events = POLLIN};
	assert_int_equal(poll(&p, 1, 5000), 1);
	assert_int_equal(gofer_client_ready(&f->gofer), -EPIPE);
	assert_true(r32(d->dev, VIRTIO_MMIO_STATUS) & NR);
	assert_true(r32(&f->p9b.vdev, VIRTIO_MMIO_STATUS) & NR);
	w32(d->dev, VIRTIO_MMIO_STATUS, 0); /* returns at once */
	drv_probe(d, F_VERSION_1);	   /* activation fails cleanly */
	assert_true(r32(d->dev, VIRTIO_MMIO_STATUS) & NR);
	int st = gofer_client_stop(&f->gofer, 5000);
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
}

/* A hostile or broken gofer (this test binary playing one, see
 * fake_gofer()): the VMM side refuses it, kills it, and never hangs. */
static void test_gofer_hostile_peer(void **state)
{
	struct fx *f = *state;
	static const char *modes[] = {"garbage", "wrong-seq", "with-fd", "silent", "short"};
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	assert_true(n > 0);
	self[n] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(modes); i++) {
		struct gofer_share sh = {.path = f->dir};
		struct gofer_client_config cfg = {
		    .exe = self, .shares = &sh, .nshares = 1, .timeout_ms = 300};
		struct gofer_client c;
		struct kv_err err = {0};
		strcpy(sh.tag, "t");
		setenv("KVBOX_FAKE_GOFER", modes[i], 1);
		assert_int_equal(gofer_client_start(&c, &cfg, NULL), 0);
		assert_int_not_equal(gofer_client_set_mem(&c, &f->mem, &err), 0);
		assert_true(c.dead);
		gofer_client_destroy(&c);
		assert_int_equal(c.pid, -1); /* reaped */
	}
	unsetenv("KVBOX_FAKE_GOFER");
}

/* argv: <self> gofer --control-fd N ...: answer the first request as
 * KVBOX_FAKE_GOFER says. */
static int fake_gofer(int argc, char **argv)
{
	const char *mode = getenv("KVBOX_FAKE_GOFER");
	int fd = argc > 3 ? atoi(argv[3]) : -1;
	struct gofer_msg m;
	int fds[GOFER_MSG_MAX_FDS];

	if (!mode || fd < 0 || gofer_msg_recv(fd, false, GOFER_ACCEPT_GOFER, 1, &m, fds) != 1)
		return 1;
	uint32_t seq = m.seq;
	gofer_msg_init(&m, GOFER_MSG_REPLY, seq, 0);
	if (!strcmp(mode, "garbage")) {
		memset(&m, 0x5a, sizeof(m));
		(void)!write(fd, &m, sizeof(m));
	} else if (!strcmp(mode, "wrong-seq")) {
		m.seq = seq + 7;
		gofer_msg_send(fd, &m, NULL, 0);
	} else if (!strcmp(mode, "with-fd")) {
		gofer_msg_send(fd, &m, &fds[0], 1);
	} else if (!strcmp(mode, "short")) {
		(void)!write(fd, &m, 10);
	} /* silent: say nothing */
	pause(); /* until killed */
	return 0;
}

/* The gofer's view of guest RAM: the VMM's sealed memfd, same layout. */
static void test_guest_mem_from_fd(void **state)
{
	struct fx *f = *state;
	struct guest_mem m;
	struct kv_err err = {0};
	int fd = fcntl(f->mem.fd, F_DUPFD_CLOEXEC, 0);

	assert_int_equal(guest_mem_from_fd(&m, fd, f->mem.total, f->mem.regions, f->mem.nregions,
					   &err), 0);
	memcpy(f->mem.host + 4096, "shared", 6);
	assert_memory_equal(guest_mem_ptr(&m, 4096, 6), "shared", 6);
	assert_null(guest_mem_ptr(&m, RAM_SIZE - 2, 4));
	guest_mem_destroy(&m); /* closes fd */
	/* bigger than the memfd, regions outside it or overlapping, no seal */
	fd = fcntl(f->mem.fd, F_DUPFD_CLOEXEC, 0);
	assert_int_equal(guest_mem_from_fd(&m, fd, 2 * RAM_SIZE, f->mem.regions, 1, NULL), -EINVAL);
	struct guest_region bad[2] = {{0, RAM_SIZE, 0}, {RAM_SIZE / 2, 4096, 0}};
	assert_int_equal(guest_mem_from_fd(&m, fd, RAM_SIZE, bad, 2, NULL), -EINVAL);
	bad[0].offset = 4096;
	assert_int_equal(guest_mem_from_fd(&m, fd, RAM_SIZE, bad, 1, NULL), -EINVAL);
	close(fd);
	fd = memfd_create("unsealed", MFD_CLOEXEC);
	assert_int_equal(ftruncate(fd, RAM_SIZE), 0);
	assert_int_equal(guest_mem_from_fd(&m, fd, RAM_SIZE, f->mem.regions, 1, NULL), -EINVAL);
	close(fd);
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "gofer"))
		return fake_gofer(argc, argv);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tag_check),
	    cmocka_unit_test_setup_teardown(test_config_space, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_guest_mem_from_fd, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_inproc_read_write, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_inproc_no_interrupt_flag, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_inproc_no_room, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_inproc_broken_ring, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_serve_budget, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_gofer_exchange, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_gofer_reset, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_gofer_hostile_ring, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_gofer_jail, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_gofer_dies_with_parent, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_gofer_cannot_start, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_gofer_killed, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_gofer_hostile_peer, fx_setup, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
