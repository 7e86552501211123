/* SPDX-License-Identifier: Apache-2.0 */
/* The fake virtio-9p guest driver and fixture of p9drv.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <linux/virtio_9p.h>
#include <linux/virtio_ids.h>

#include "p9drv.h"

void put16(uint8_t *p, uint16_t v)
{
	__atomic_store_n((uint16_t *)p, htole16(v), __ATOMIC_RELEASE);
}

uint16_t get16(const uint8_t *p)
{
	return le16toh(__atomic_load_n((const uint16_t *)p, __ATOMIC_ACQUIRE));
}

void drv_desc(struct drv *d, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	struct vring_desc desc = {.addr = htole64(addr),
				  .len = htole32(len),
				  .flags = htole16(flags),
				  .next = htole16(next)};
	memcpy(d->ram + DESC_GPA + 16 * i, &desc, 16);
}

void drv_probe(struct drv *d, uint64_t features)
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
		drv_desc(d, i, d->base + gpa + off, (uint32_t)k,
			 flags | (end ? 0 : VRING_DESC_F_NEXT), (uint16_t)(i + 1));
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
int drv_rpc(struct drv *d, struct p9_msg *tx, struct p9_msg *rx)
{
	struct iovec req = {d->ram + REQ_GPA, RESP_GPA - REQ_GPA};
	size_t space = d->resp_space ? d->resp_space : RESP_SPACE;

	tx->tag = tx->type == P9_TVERSION ? P9_NOTAG : ++d->tag;
	size_t len = p9_encode(tx, &req, 1, req.iov_len);
	assert_true(len > 0);
	uint16_t i = drv_chain_part(d, 0, REQ_GPA, len, 0, d->req_split, 0, false);
	assert_true(i < QSIZE);
	i = drv_chain_part(d, i, RESP_GPA, space, d->resp_first, d->resp_split, VRING_DESC_F_WRITE,
			   true);
	assert_true(i <= QSIZE);
	if (!d->resp_untouched)
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
void drv_session(struct drv *d, const char *name, uint32_t flags)
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
size_t drv_read_all(struct drv *d, uint8_t *buf, size_t cap)
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

int drv_write(struct drv *d, uint32_t fid, uint64_t off, const void *buf, uint32_t len)
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

int fx_setup(void **state)
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
	f->drv = (struct drv){
	    .dev = &f->p9.vdev, .mem = &f->mem, .ram = f->mem.host, .irq_fd = -1, .kick_fd = -1};
	for (int i = 0; i < 2; i++)
		f->kick[i] = f->irqfd[i] = -1;
	*state = f;
	return 0;
}

int fx_teardown(void **state)
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

void fx_inproc(struct fx *f)
{
	struct p9_attach_point ap = {.aname = "kvboxtest", .path = f->dir, .fd = -1};
	struct p9_server_config cfg = {.attach = &ap, .nattach = 1, .proc_fd = -1};

	assert_int_equal(p9_server_new(&cfg, &f->server, NULL), 0);
	assert_int_equal(virtio_p9_set_server(&f->p9, f->server, NULL), 0);
	struct virtio_irq irq = {.irqfd = -1, .raise = count_irq, .ctx = &f->irq, .gsi = 7};
	virtio_dev_set_irq(&f->p9.vdev, &irq);
}

const char *kvbox_bin(void)
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
void fx_gofer(struct fx *f, const char *exe)
{
	struct gofer_share sh[2] = {{.path = f->dir}, {.path = f->dir2, .readonly = true}};
	struct gofer_client_config cfg = {.exe = exe ? exe : kvbox_bin(),
					  .shares = sh,
					  .nshares = 2,
					  .timeout_ms = 5000,
					  .lazy_mem = f->lazy_mem};
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
