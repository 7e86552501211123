/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Snapshot save and restore of a whole VM (see vmm/snapshot.h): the image
 * directory, guest memory as a sparse file, the legacy devices and the
 * virtio-mmio transports.  The KVM state is vmm/snapshot_kvm.c's; the
 * state file's format is vmm/snapshot_format.c's.
 *
 * Save:    mkdir DIR -> DIR/memory (non-zero pages of the RAM memfd, found
 *          with SEEK_DATA/SEEK_HOLE, hashed as they are written) ->
 *          DIR/state (manifest with the memory's hash, KVM VM state, each
 *          vCPU, devices) -> fsync both; any failure removes DIR.
 * Restore: DIR/state parsed and checked whole (snapshot_open) -> the VM
 *          built from its manifest -> memory copied in and its hash
 *          checked -> KVM VM state, vCPUs, devices -> every live queue
 *          kicked once (a notification that was in flight is not lost).
 */
#include "vmm/snapshot.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#include <sha2.h>
#include <xxhash.h>

#include "util/cleanup.h"
#include "util/file.h"
#include "vmm/lazy_mem.h"
#include "vmm/snapshot_internal.h"

#define COPY_CHUNK (1u << 20)
/* holes of the image shorter than this are registered with their
 * neighbours (one uffd range; its zero pages are copied as zeros) */
#define LAZY_GAP (256u << 10)
_Static_assert(LAZY_BLOCK == SNAP_SUM_BLOCK, "a fault loads one checked block");

static uint64_t now_usec(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000u + (uint64_t)t.tv_nsec / 1000u;
}

int snapshot_file_id(const char *path, uint8_t sha[32], uint64_t *size, struct kv_err *err)
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return kv_err_sys(err, errno, "%s", path);
	cleanup_free uint8_t *buf = malloc(COPY_CHUNK);
	if (!buf)
		return kv_err_set(err, ENOMEM, "hashing %s", path);
	SHA2_CTX c;
	SHA256Init(&c);
	*size = 0;
	for (;;) {
		ssize_t n = read(fd, buf, COPY_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return kv_err_sys(err, errno, "reading %s", path);
		if (n == 0)
			break;
		SHA256Update(&c, buf, (size_t)n);
		*size += (uint64_t)n;
	}
	SHA256Final(sha, &c);
	return 0;
}

int snapshot_check_vm(const struct vm *vm, struct kv_err *err)
{
	if (vm->virtio.p9.n)
		return kv_err_set(err, EOPNOTSUPP,
				  "virtio-9p share '%s' cannot be snapshotted yet (the gofer's "
				  "open files are not saved)",
				  vm->cfg.shares ? vm->cfg.shares[0].tag : "?");
	if (vm->virtio.vsock_live)
		return kv_err_set(err, EOPNOTSUPP,
				  "virtio-vsock cannot be snapshotted yet (its connections are "
				  "not saved)");
	if (vm->cfg.nnets)
		return kv_err_set(err, EOPNOTSUPP,
				  "virtio-net cannot be snapshotted yet (the tap and in-flight "
				  "frames are not saved)");
	return 0;
}

/* The avail index of a queue the guest set up, from guest RAM: 0 means it
 * never offered a buffer. */
static int avail_idx(const struct vm *vm, const struct virtq *q, uint16_t *idx)
{
	uint16_t le;
	if (guest_mem_read(&vm->mem, q->avail_gpa + 2, &le, sizeof(le)) < 0)
		return -EFAULT;
	*idx = le16toh(le);
	return 0;
}

int snapshot_check_template(const struct vm *vm, struct kv_err *err)
{
	if (vm->cfg.nnets)
		return kv_err_set(err, EOPNOTSUPP,
				  "virtio-net cannot be part of a template (the NIC's MAC is read "
				  "at boot)");
	const struct vm_p9 *p9 = &vm->virtio.p9;
	for (unsigned i = 0; i < p9->n; i++) {
		const struct virtq *q = &p9->dev[i].vq;
		uint16_t idx = 0;
		if (q->enabled && (avail_idx(vm, q, &idx) < 0 || idx != 0))
			return kv_err_set(
			    err, EBUSY,
			    "virtio-9p share '%s' was used by the guest (its fids live "
			    "in the gofer): not a template",
			    vm->cfg.shares ? vm->cfg.shares[i].tag : "?");
	}
	if (vm->virtio.vsock_live) {
		struct virtio_vsock *vs = (struct virtio_vsock *)&vm->virtio.vsock;
		unsigned n = virtio_vsock_conn_count(vs);
		if (n)
			return kv_err_set(err, EBUSY,
					  "virtio-vsock has %u open connection(s): not a template",
					  n);
	}
	return 0;
}

/* ---- memory ---- */

static bool page_zero(const uint8_t *p)
{
	const uint64_t *q = (const uint64_t *)p;
	uint64_t acc = 0;
	for (unsigned i = 0; i < SNAP_PAGE / 8; i++)
		acc |= q[i];
	return acc == 0;
}

/* The memory checksum: XXH3-128 over (le64 offset, page) of every
 * non-zero page, in file order.  It finds corruption, not tampering (the
 * state file's SHA-256 sections do not stop a writer of the image either:
 * images are root's, 0700); SHA-256 cost over a second per 25 MiB under
 * emulation, on the path of every template start. */
static void hash_page(XXH3_state_t *c, uint64_t off, const uint8_t *p)
{
	uint64_t le = htole64(off);
	XXH3_128bits_update(c, &le, sizeof(le));
	XXH3_128bits_update(c, p, SNAP_PAGE);
}

static void hash_final(XXH3_state_t *c, uint8_t out[32])
{
	XXH128_canonical_t can;
	XXH128_canonicalFromHash(&can, XXH3_128bits_digest(c));
	memset(out, 0, 32);
	memcpy(out, can.digest, sizeof(can.digest));
}

static void xxh_freep(XXH3_state_t **c)
{
	if (*c)
		XXH3_freeState(*c);
}
#define cleanup_xxh __attribute__((cleanup(xxh_freep)))

static XXH3_state_t *sum_new(void)
{
	XXH3_state_t *c = XXH3_createState();
	if (c && XXH3_128bits_reset(c) != XXH_OK) {
		XXH3_freeState(c);
		return NULL;
	}
	return c;
}

static int write_all_at(int fd, const uint8_t *p, size_t len, uint64_t off)
{
	while (len) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/* The next [*data, *end) that may hold data at or after off; false at EOF.
 * Without SEEK_DATA support everything counts as data. */
static bool next_extent(int fd, uint64_t off, uint64_t total, uint64_t *data, uint64_t *end)
{
	off_t d = lseek(fd, (off_t)off, SEEK_DATA);
	if (d < 0) {
		if (errno == ENXIO)
			return false;
		*data = off;
		*end = total;
		return off < total;
	}
	off_t h = lseek(fd, d, SEEK_HOLE);
	*data = (uint64_t)d;
	*end = h < 0 || (uint64_t)h > total ? total : (uint64_t)h;
	return *data < total;
}

/* SNAP_SEC_MEMSUMS of RAM as the memory file now holds it: XXH3-64 of
 * each SNAP_SUM_BLOCK.  The memfd's holes are hashed as zeros from a zero
 * page, never read through the mapping (that would allocate them). */
static uint8_t *sum_blocks(const struct guest_mem *mem, size_t *len)
{
	static const uint8_t zero[SNAP_PAGE];
	uint64_t nblk = snap_sum_blocks(mem->total);
	*len = SNAP_MEMSUMS_HDR + 8 * nblk;
	uint8_t *out = calloc(1, *len);
	cleanup_xxh XXH3_state_t *c = XXH3_createState();
	if (!out || !c) {
		free(out);
		return NULL;
	}
	uint32_t bsz = htole32(SNAP_SUM_BLOCK);
	memcpy(out, &bsz, sizeof(bsz));
	for (uint64_t b = 0; b < nblk; b++) {
		uint64_t s = b * SNAP_SUM_BLOCK, e = s + SNAP_SUM_BLOCK, p = s, d, h;
		if (e > mem->total)
			e = mem->total;
		XXH3_64bits_reset(c);
		while (p < e) {
			/* [d, h): the next data, page-aligned, inside [p, e) */
			if (!next_extent(mem->fd, p, e, &d, &h))
				d = h = e;
			d &= ~(uint64_t)(SNAP_PAGE - 1);
			h = (h + SNAP_PAGE - 1) & ~(uint64_t)(SNAP_PAGE - 1);
			d = d < p ? p : d;
			h = h > e ? e : h;
			for (; p < d; p += SNAP_PAGE)
				XXH3_64bits_update(c, zero, SNAP_PAGE);
			if (h > p) {
				XXH3_64bits_update(c, mem->host + p, h - p);
				p = h;
			}
		}
		uint64_t v = htole64(XXH3_64bits_digest(c));
		memcpy(out + SNAP_MEMSUMS_HDR + 8 * b, &v, 8);
	}
	return out;
}

static int save_memory(struct vm *vm, int dirfd, struct snap_manifest *m, uint8_t **sums,
		       size_t *sums_len, struct kv_err *err)
{
	const struct guest_mem *mem = &vm->mem;
	cleanup_close int fd =
	    openat(dirfd, "memory", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return kv_err_sys(err, errno, "creating memory");
	if (ftruncate(fd, (off_t)mem->total) < 0)
		return kv_err_sys(err, errno, "sizing memory");
	/* RAM restored lazily: what the memfd does not hold yet is the
	 * image's, load it all first */
	int r;
	if (vm->lazy && ((r = lazy_mem_fill(vm->lazy, err)) < 0 ||
			 (r = lazy_mem_unshare(vm->lazy, mem->fd, err)) < 0))
		return r;
	cleanup_xxh XXH3_state_t *c = sum_new();
	if (!c)
		return kv_err_set(err, ENOMEM, "memory checksum");
	uint64_t off = 0, data, end;
	m->mem_data = 0;
	while (next_extent(mem->fd, off, mem->total, &data, &end)) {
		data &= ~(uint64_t)(SNAP_PAGE - 1);
		uint64_t run = data, p;
		for (p = data; p < end; p += SNAP_PAGE) {
			if (!page_zero(mem->host + p)) {
				hash_page(c, p, mem->host + p);
				m->mem_data += SNAP_PAGE;
				continue;
			}
			if (p > run && (r = write_all_at(fd, mem->host + run, p - run, run)) < 0)
				return kv_err_sys(err, -r, "writing memory");
			run = p + SNAP_PAGE;
		}
		if (p > run && (r = write_all_at(fd, mem->host + run, p - run, run)) < 0)
			return kv_err_sys(err, -r, "writing memory");
		off = end;
	}
	hash_final(c, m->mem_sum);
	if (!(*sums = sum_blocks(mem, sums_len)))
		return kv_err_set(err, ENOMEM, "memory block sums");
	if (fsync(fd) < 0)
		return kv_err_sys(err, errno, "syncing memory");
	return 0;
}

/* Checks (and counts) the non-zero pages of [p, p + len) of guest RAM
 * at file offset off. */
static void sum_pages(XXH3_state_t *c, const uint8_t *p, size_t len, uint64_t off, uint64_t *got)
{
	for (size_t i = 0; i < len; i += SNAP_PAGE) {
		if (page_zero(p + i))
			continue;
		hash_page(c, off + i, p + i);
		*got += SNAP_PAGE;
	}
}

/* Copies [p, p + len) of the memory file to the same offset of the RAM
 * memfd with sendfile(2): the kernel copies page cache to page cache and
 * allocates the memfd's pages as it writes them, with no page fault per
 * page (under emulation 2-8x faster than reading into the mapping). */
static int copy_extent(int memfd, int fd, uint64_t p, uint64_t len)
{
	if (lseek(memfd, (off_t)p, SEEK_SET) < 0)
		return -errno;
	off_t in = (off_t)p;
	while (len) {
		ssize_t n = sendfile(memfd, fd, &in, len > COPY_CHUNK ? COPY_CHUNK : (size_t)len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		len -= (uint64_t)n;
	}
	return 0;
}

/* Copies the data extents of the memory file into the RAM memfd (or the
 * fake RAM of a test). */
static int copy_memory(struct vm *vm, const struct snapshot *s, const uint8_t *file,
		       struct kv_err *err)
{
	const struct guest_mem *mem = &vm->mem;
	uint64_t off = 0, data, end;
	while (next_extent(s->memfd, off, mem->total, &data, &end)) {
		data &= ~(uint64_t)(SNAP_PAGE - 1);
		end = (end + SNAP_PAGE - 1) & ~(uint64_t)(SNAP_PAGE - 1);
		if (end > mem->total)
			end = mem->total;
		int r;
		if (mem->fd < 0)
			memcpy(mem->host + data, file + data, end - data);
		else if ((r = copy_extent(mem->fd, s->memfd, data, end - data)) < 0)
			return kv_err_sys(
			    err, -r, "%s/memory: copying %llu bytes at %llu into guest RAM", s->dir,
			    (unsigned long long)(end - data), (unsigned long long)data);
		off = end;
	}
	return 0;
}

/* The lazy-RAM thread could not load a page: the machine cannot go on
 * (something waits for that page), it ends with the reason.  Its vCPUs
 * are stopped before lazy_mem wakes whoever waits (they leave KVM_RUN
 * with the kick pending: the guest never runs on the zero page the wait
 * ends with). */
static void lazy_failed(void *ctx, const char *why)
{
	vm_request_exit(ctx, VM_EXIT_ERROR, "%s", why);
	vm_halt_vcpus(ctx);
}

/* Guest RAM loaded lazily (vmm/lazy_mem.h): the image's data ranges
 * registered in the VMM's and the gofer's mappings, less a template's
 * kernel ranges (SNAP_SEC_KERNEL_RO), which are checked and mapped
 * copy-on-write from the image.  Fails (the caller copies instead,
 * st->lazy_why says why) where userfaultfd is missing or the gofer could
 * not make one; a kernel block that fails its sum also sets *hard (the
 * restore fails with it). */
static int arm_lazy(struct vm *vm, const struct snapshot *s, struct snapshot_stats *st,
		    struct kv_err *hard)
{
	struct kv_err err = {0};
	struct vm_p9 *p9 = &vm->virtio.p9;
	uint64_t peer_base = 0;
	int peer = -1, r;
	if (p9->gofer_live && (peer = gofer_client_take_faults(&p9->gofer, &peer_base)) < 0) {
		snprintf(st->lazy_why, sizeof(st->lazy_why),
			 "the gofer has no userfaultfd (CAP_SYS_PTRACE?)");
		return -EPERM;
	}
	struct lazy_range shared[LAZY_MAX_SHARED];
	int nshared = 0;
	const struct snap_section *ro = snap_find(s->img, SNAP_SEC_KERNEL_RO, 0);
	if (ro && (nshared = lazy_shared_parse(ro->data, ro->len, vm->mem.total, shared)) < 0) {
		snprintf(st->lazy_why, sizeof(st->lazy_why), "its kernel ranges are malformed");
		if (peer >= 0)
			close(peer);
		return nshared;
	}
	/* the image's data ranges, then the same less the shared ones */
	struct lazy_range *all = calloc(2 * LAZY_MAX_RANGES, sizeof(*all)),
			  *ranges = all ? all + LAZY_MAX_RANGES : NULL;
	struct lazy_mem *l = calloc(1, sizeof(*l));
	const uint8_t *sums = snap_find(s->img, SNAP_SEC_MEMSUMS, 0)->data + SNAP_MEMSUMS_HDR;
	r = !all || !l ? -ENOMEM
		       : lazy_mem_ranges_sums(sums, vm->mem.total, LAZY_GAP, all, LAZY_MAX_RANGES);
	if (r >= 0)
		r = lazy_ranges_cut(all, (unsigned)r, shared, (unsigned)nshared, ranges,
				    LAZY_MAX_RANGES);
	if (r < 0) {
		snprintf(st->lazy_why, sizeof(st->lazy_why), "the image's ranges: %s",
			 strerror(-r));
		if (peer >= 0)
			close(peer);
	} else {
		st->lazy_ranges = (unsigned)r;
		/* takes peer */
		r = lazy_mem_start(l, vm->mem.host, vm->mem.total, s->memfd, sums, ranges,
				   (unsigned)r, peer, peer_base, &err);
		if (r < 0)
			snprintf(st->lazy_why, sizeof(st->lazy_why), "%s", err.msg);
	}
	free(all);
	if (r == 0)
		snprintf(l->name, sizeof(l->name), "%s/memory", s->dir);
	/* the guest kernel's text and read-only data: copy-on-write from the
	 * image, each block checked first; a block that fails fails the
	 * restore (*hard), as it would have ended the VM at its first touch */
	if (r == 0 && (r = lazy_mem_share(l, s->memfd, shared, (unsigned)nshared, &err)) < 0) {
		struct kv_err e2 = {0};
		snprintf(st->lazy_why, sizeof(st->lazy_why), "%s", err.msg);
		if (r == -EBADMSG)
			kv_err_set(hard, EBADMSG, "%s", err.msg);
		(void)lazy_mem_unshare(l, vm->mem.fd, &e2);
		lazy_mem_stop(l);
	}
	if (r < 0) {
		free(l);
		return r;
	}
	for (unsigned i = 0; i < l->nshared; i++)
		st->shared_bytes += l->shared[i].len;
	st->shared_usec = l->shared_usec;
	l->on_fail = lazy_failed;
	l->fail_ctx = vm;
	vm->lazy = l;
	st->lazy = true;
	return 0;
}

/* With s->lazy, arms lazy loading (vmm/lazy_mem.h: each block checked
 * against SNAP_SEC_MEMSUMS as it is loaded).  Otherwise, or where that
 * cannot be had: sums every non-zero page of the memory file where it
 * lies, through a read-only mapping of the file (its page cache, shared
 * with every other restore), and copies its data extents into the RAM
 * memfd; or, when RAM is a mapping of the file (--restore-cow), copies
 * nothing.  The sum must be the manifest's before any state is set. */
static int restore_memory(struct vm *vm, const struct snapshot *s, struct snapshot_stats *st,
			  struct kv_err *err)
{
	const struct snap_manifest *m = &s->img->man;
	const struct guest_mem *mem = &vm->mem;
	int fd = s->memfd;
	bool copy = !vm->cfg.mem_file;
	cleanup_xxh XXH3_state_t *c = sum_new();
	if (!c || !mem->host)
		return kv_err_set(err, ENOMEM, "restoring memory");
	uint64_t tx = now_usec();
	/* lazily: nothing is read now, each block is checked against its
	 * sum as it is loaded (a block that fails ends the VM, never a wrong
	 * page); where that cannot be had, checked whole and copied */
	if (copy && s->lazy && mem->fd >= 0) {
		struct kv_err hard = {0};
		int r = arm_lazy(vm, s, st, &hard);
		if (r < 0 && hard.msg[0]) {
			*err = hard;
			return r;
		}
		if (r == 0) {
			st->copy_usec = now_usec() - tx;
			st->mem_data = m->mem_data;
			return 0;
		}
	}
	const uint8_t *file =
	    copy ? mmap(NULL, mem->total, PROT_READ, MAP_PRIVATE, fd, 0) : mem->host;
	if (file == MAP_FAILED)
		return kv_err_sys(err, errno, "%s/memory: mmap", s->dir);
	uint64_t off = 0, data, end, got = 0;
	while (next_extent(fd, off, mem->total, &data, &end)) {
		data &= ~(uint64_t)(SNAP_PAGE - 1);
		end = (end + SNAP_PAGE - 1) & ~(uint64_t)(SNAP_PAGE - 1);
		if (end > mem->total)
			end = mem->total;
		sum_pages(c, file + data, (size_t)(end - data), data, &got);
		off = end;
	}
	st->sum_usec = now_usec() - tx;
	uint8_t sum[32];
	hash_final(c, sum);
	int r = 0;
	if (got != m->mem_data || memcmp(sum, m->mem_sum, 32))
		r = kv_err_set(err, EINVAL,
			       "%s/memory: checksum mismatch (%llu bytes of data, the manifest "
			       "says %llu): the image is corrupted",
			       s->dir, (unsigned long long)got, (unsigned long long)m->mem_data);
	tx = now_usec();
	if (r == 0 && copy)
		r = copy_memory(vm, s, file, err);
	st->copy_usec = now_usec() - tx;
	if (copy)
		munmap((void *)file, mem->total);
	if (r < 0)
		return r;
	st->mem_data = got;
	return 0;
}

/* ---- legacy devices ---- */

static void save_uart(struct vm *vm, struct snap_writer *w)
{
	struct uart8250 *u = &vm->com1;
	struct snap_uart su;
	uint8_t b[SNAP_UART_LEN];
	pthread_mutex_lock(&u->lock);
	su.ier = u->ier, su.lcr = u->lcr, su.mcr = u->mcr, su.lsr = u->lsr, su.msr = u->msr;
	su.scr = u->scr, su.dll = u->dll, su.dlm = u->dlm, su.fcr = u->fcr;
	su.thr_ipending = u->thr_ipending;
	su.irq_level = (uint8_t)u->irq_level;
	su.rx_head = (uint8_t)u->rx_head;
	su.rx_count = (uint8_t)u->rx_count;
	memcpy(su.rx, u->rx, SNAP_UART_FIFO);
	pthread_mutex_unlock(&u->lock);
	snap_uart_encode(&su, b);
	snap_writer_add(w, SNAP_SEC_UART, 0, b, sizeof(b));
}

static int restore_uart(struct vm *vm, const struct snap_image *img, struct kv_err *err)
{
	const struct snap_section *s = snap_find(img, SNAP_SEC_UART, 0);
	struct snap_uart su;
	int r = snap_uart_decode(s->data, s->len, &su, err);
	if (r < 0)
		return r;
	struct uart8250 *u = &vm->com1;
	_Static_assert(SNAP_UART_FIFO == UART_FIFO_SIZE, "FIFO sizes agree");
	pthread_mutex_lock(&u->lock);
	u->ier = su.ier, u->lcr = su.lcr, u->mcr = su.mcr, u->lsr = su.lsr, u->msr = su.msr;
	u->scr = su.scr, u->dll = su.dll, u->dlm = su.dlm, u->fcr = su.fcr;
	u->thr_ipending = su.thr_ipending;
	u->irq_level = su.irq_level; /* the restored irqchip has the line as it was */
	u->rx_head = su.rx_head;
	u->rx_count = su.rx_count;
	memcpy(u->rx, su.rx, SNAP_UART_FIFO);
	pthread_mutex_unlock(&u->lock);
	return 0;
}

/* ---- virtio-mmio transports ---- */

static void save_virtio(struct vm *vm, unsigned slot, struct snap_writer *w)
{
	struct virtio_dev *d = vm->virtio.slot[slot].dev;
	struct snap_virtio v = {0};
	uint8_t b[SNAP_VIRTIO_HDR_LEN + SNAP_VQ_MAX * SNAP_VQ_LEN];
	pthread_mutex_lock(&d->lock);
	v.device_id = d->info->device_id;
	v.nqueues = d->info->nqueues;
	v.status = __atomic_load_n(&d->status, __ATOMIC_ACQUIRE);
	v.isr = __atomic_load_n(&d->isr, __ATOMIC_ACQUIRE);
	v.offered = d->offered;
	v.features = d->features;
	v.features_beyond_64 = d->features_beyond_64;
	v.dev_features_sel = d->dev_features_sel;
	v.drv_features_sel = d->drv_features_sel;
	v.queue_sel = d->queue_sel;
	v.config_generation = __atomic_load_n(&d->config_generation, __ATOMIC_ACQUIRE);
	for (unsigned i = 0; i < v.nqueues && i < SNAP_VQ_MAX; i++) {
		const struct virtq *q = &d->queues[i];
		v.q[i] = (struct snap_vq){
		    .max_size = q->max_size,
		    .size = q->size,
		    .last_avail = q->last_avail,
		    .used_idx = q->used_idx,
		    .signalled_used = q->signalled_used,
		    .enabled = q->enabled,
		    .event_idx = q->event_idx,
		    .indirect = q->indirect,
		    .signalled_valid = q->signalled_valid,
		    .error = (uint32_t)__atomic_load_n(&q->error, __ATOMIC_RELAXED),
		    .desc = q->desc_gpa,
		    .avail = q->avail_gpa,
		    .used = q->used_gpa,
		};
	}
	pthread_mutex_unlock(&d->lock);
	snap_writer_add(w, SNAP_SEC_VIRTIO, slot, b, snap_virtio_encode(&v, b));
}

static int restore_queue(struct virtio_dev *d, unsigned i, const struct snap_vq *sq,
			 uint64_t features, struct kv_err *err)
{
	struct virtq *q = &d->queues[i];
	if (sq->max_size != q->max_size)
		return kv_err_set(err, EINVAL, "queue %u: %u entries at most, this device %u", i,
				  sq->max_size, q->max_size);
	if (sq->error && !vq_is_guest_error(-(int)sq->error))
		return kv_err_set(err, EINVAL, "queue %u: unknown error %u", i, sq->error);
	virtq_init(q, sq->max_size);
	q->size = sq->size;
	q->desc_gpa = sq->desc;
	q->avail_gpa = sq->avail;
	q->used_gpa = sq->used;
	if (sq->enabled) {
		uint64_t f = features & ~((1ULL << VIRTIO_RING_F_EVENT_IDX) |
					  (1ULL << VIRTIO_RING_F_INDIRECT_DESC));
		f |= (uint64_t)sq->event_idx << VIRTIO_RING_F_EVENT_IDX;
		f |= (uint64_t)sq->indirect << VIRTIO_RING_F_INDIRECT_DESC;
		int r = virtq_enable(q, d->mem, f);
		if (r < 0)
			return kv_err_set(err, EINVAL, "queue %u: %s", i, vq_strerror(r));
		q->last_avail = sq->last_avail;
		q->used_idx = sq->used_idx;
		q->signalled_used = sq->signalled_used;
		q->signalled_valid = sq->signalled_valid;
	}
	q->error = (int)sq->error;
	return 0;
}

static int restore_virtio(struct vm *vm, unsigned slot, const struct snap_image *img,
			  struct kv_err *err)
{
	const struct snap_section *s = snap_find(img, SNAP_SEC_VIRTIO, slot);
	struct virtio_dev *d = vm->virtio.slot[slot].dev;
	struct snap_virtio v;
	int r = snap_virtio_decode(s->data, s->len, &v, err);
	if (r < 0)
		return r;
	if (v.device_id != d->info->device_id || v.nqueues != d->info->nqueues ||
	    v.offered != d->offered)
		return kv_err_set(err, EINVAL,
				  "device id %u with %u queues and features 0x%llx, this VM has "
				  "%s (id %u, %u queues, 0x%llx)",
				  v.device_id, v.nqueues, (unsigned long long)v.offered,
				  d->info->name, d->info->device_id, d->info->nqueues,
				  (unsigned long long)d->offered);
	pthread_mutex_lock(&d->lock);
	for (unsigned i = 0; i < v.nqueues && r == 0; i++)
		r = restore_queue(d, i, &v.q[i], v.features, err);
	if (r == 0) {
		d->features = v.features;
		d->features_beyond_64 = v.features_beyond_64;
		d->dev_features_sel = v.dev_features_sel;
		d->drv_features_sel = v.drv_features_sel;
		d->queue_sel = v.queue_sel;
		__atomic_store_n(&d->config_generation, v.config_generation, __ATOMIC_RELEASE);
		__atomic_store_n(&d->isr, v.isr, __ATOMIC_RELEASE);
		__atomic_store_n(&d->status, v.status, __ATOMIC_RELEASE);
		/* a device the driver had started runs again: a backend in
		 * another process (9p: the gofer) gets its queue as at
		 * DRIVER_OK; a failure fails this device only */
		if ((v.status & VIRTIO_CONFIG_S_DRIVER_OK) &&
		    !(v.status & VIRTIO_CONFIG_S_NEEDS_RESET) && d->ops->activate &&
		    d->ops->activate(d) < 0)
			virtio_dev_fail(d, "could not be activated after the restore");
	}
	pthread_mutex_unlock(&d->lock);
	return r;
}

/* RAM loaded lazily: the rings of every queue the guest set up are
 * loaded (and their blocks checked) before any device reads them, so a
 * damaged block there fails the restore with its reason rather than a
 * device on the zero page a failed load leaves. */
static int load_rings(struct vm *vm, const struct snap_image *img, struct kv_err *err)
{
	for (unsigned slot = 0; slot < vm->virtio.n; slot++) {
		const struct snap_section *sec = snap_find(img, SNAP_SEC_VIRTIO, slot);
		struct snap_virtio v;
		int r = snap_virtio_decode(sec->data, sec->len, &v, err);
		if (r < 0)
			return r;
		for (unsigned i = 0; i < v.nqueues && i < SNAP_VQ_MAX; i++) {
			const struct snap_vq *q = &v.q[i];
			const uint64_t at[3] = {q->desc, q->avail, q->used};
			for (unsigned k = 0; q->enabled && k < 3; k++) {
				const volatile uint8_t *p = guest_mem_ptr(&vm->mem, at[k], 1);
				if (p)
					(void)*p;
			}
		}
	}
	const char *why = lazy_mem_failed(vm->lazy);
	return why ? kv_err_set(err, EBADMSG, "%s", why) : 0;
}

/* A notification the guest made just before the save may not have been
 * served, and an interrupt raised just before it may not have reached
 * the irqchip (KVM injects irqfd writes from a worker): serve every live
 * queue once (an empty queue costs nothing) and raise the line again of
 * every device with InterruptStatus set (the driver reads it; a spare
 * interrupt is harmless). */
static void kick_queues(struct vm *vm)
{
	for (unsigned slot = 0; slot < vm->virtio.n; slot++) {
		struct vm_virtio_slot *s = &vm->virtio.slot[slot];
		struct virtio_dev *d = s->dev;
		for (unsigned q = 0; q < d->info->nqueues; q++)
			virtio_dev_kick(d, q);
		uint64_t one = 1;
		if (__atomic_load_n(&d->isr, __ATOMIC_ACQUIRE) && s->irqfd >= 0)
			(void)!write(s->irqfd, &one, sizeof(one));
	}
}

/* ---- the image ---- */

static void fill_manifest(struct vm *vm, const struct snapshot_ids *ids, struct snap_manifest *m)
{
	snprintf(m->kvbox_version, sizeof(m->kvbox_version), "%s", KVBOX_VERSION);
	if (ids) {
		snprintf(m->kernel_path, sizeof(m->kernel_path), "%s", ids->kernel_path);
		memcpy(m->kernel_sha256, ids->kernel_sha256, 32);
		m->kernel_size = ids->kernel_size;
		if (ids->agent) {
			memcpy(m->agent_sha256, ids->agent_sha256, 32);
			m->agent_size = ids->agent_size;
		}
	}
	m->mem_bytes = vm->mem.total;
	m->ncpus = vm->ncpus;
	m->machine = vm->cfg.no_rng ? 0 : SNAP_MACHINE_RNG;
	m->nvirtio = vm->virtio.n;
	m->flavour = vm->kvm.flavour;
	m->tsc_khz = snap_tsc_khz(vm);
	m->created = (uint64_t)time(NULL);
}

static int write_state(struct vm *vm, int dirfd, const struct snap_manifest *m, const uint8_t *sums,
		       size_t sums_len, const struct snap_extra *x, unsigned nx, uint64_t *len,
		       struct kv_err *err)
{
	struct snap_writer w;
	int r = 0;
	snap_writer_init(&w);
	snap_writer_manifest(&w, m);
	snap_writer_add(&w, SNAP_SEC_MEMSUMS, 0, sums, sums_len);
	if ((m->machine & SNAP_MACHINE_TEMPLATE) && vm->nkernel_ro) {
		uint64_t ro[2 * VM_KERNEL_RO_MAX];
		for (unsigned i = 0; i < 2 * vm->nkernel_ro; i++)
			ro[i] = htole64(vm->kernel_ro[i]);
		snap_writer_add(&w, SNAP_SEC_KERNEL_RO, 0, ro, 16 * vm->nkernel_ro);
	}
	if ((r = snap_save_vm_kvm(vm, &w, err)) < 0)
		goto out;
	for (unsigned i = 0; i < vm->ncpus; i++)
		if ((r = snap_save_vcpu(vm, i, &w, err)) < 0)
			goto out;
	save_uart(vm, &w);
	snap_writer_add(&w, SNAP_SEC_RTC, 0, &vm->rtc.index, 1);
	for (unsigned i = 0; i < vm->virtio.n; i++)
		save_virtio(vm, i, &w);
	for (unsigned i = 0; i < nx; i++)
		snap_writer_add(&w, x[i].type, x[i].index, x[i].data, x[i].len);
	if ((r = snap_writer_finish(&w)) < 0) {
		r = kv_err_set(err, -r, "building the state file: %s", strerror(-r));
		goto out;
	}
	int fd = openat(dirfd, "state", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		r = kv_err_sys(err, errno, "creating state");
		goto out;
	}
	if ((r = write_all_at(fd, w.buf, w.len, 0)) < 0)
		kv_err_sys(err, -r, "writing state");
	else if (fsync(fd) < 0)
		r = kv_err_sys(err, errno, "syncing state");
	close(fd);
	*len = w.len;
out:
	snap_writer_free(&w);
	return r;
}

int snap_save_at(struct vm *vm, int dirfd, struct snap_manifest *m, const struct snap_extra *x,
		 unsigned nx, uint64_t *len, struct kv_err *err)
{
	cleanup_free uint8_t *sums = NULL;
	size_t sums_len = 0;
	int r;
	if ((r = save_memory(vm, dirfd, m, &sums, &sums_len, err)) == 0 &&
	    (r = write_state(vm, dirfd, m, sums, sums_len, x, nx, len, err)) == 0 &&
	    fsync(dirfd) < 0)
		r = kv_err_sys(err, errno, "syncing the directory");
	if (r < 0) {
		unlinkat(dirfd, "state", 0);
		unlinkat(dirfd, "memory", 0);
	}
	return r;
}

void snap_fill_manifest(struct vm *vm, const struct snapshot_ids *ids, struct snap_manifest *m)
{
	memset(m, 0, sizeof(*m));
	fill_manifest(vm, ids, m);
}

int snapshot_save(struct vm *vm, const char *dir, const struct snapshot_ids *ids, unsigned flags,
		  struct snapshot_stats *st, struct kv_err *err)
{
	uint64_t t0 = now_usec();
	int r = flags & SNAP_SAVE_TEMPLATE ? snapshot_check_template(vm, err)
					   : snapshot_check_vm(vm, err);
	if (r < 0)
		return r;
	if (!dir || !*dir)
		return kv_err_set(err, EINVAL, "snapshot: no directory given");
	if (mkdir(dir, 0700) < 0)
		return kv_err_sys(err, errno, "snapshot directory %s", dir);
	int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		r = kv_err_sys(err, errno, "snapshot directory %s", dir);
		rmdir(dir);
		return r;
	}
	struct snap_manifest m;
	snap_fill_manifest(vm, ids, &m);
	if (flags & SNAP_SAVE_TEMPLATE)
		m.machine |= SNAP_MACHINE_TEMPLATE;
	uint64_t len = 0;
	if ((r = snap_save_at(vm, dirfd, &m, NULL, 0, &len, err)) < 0) {
		rmdir(dir);
		close(dirfd);
		return kv_err_wrap(err, r, "snapshot %s", dir);
	}
	close(dirfd);
	if (st)
		*st = (struct snapshot_stats){
		    .mem_data = m.mem_data, .state_len = len, .usec = now_usec() - t0};
	return 0;
}

int snapshot_open(const char *dir, struct snapshot *s, struct kv_err *err)
{
	memset(s, 0, sizeof(*s));
	s->dirfd = s->memfd = -1;
	snprintf(s->dir, sizeof(s->dir), "%s", dir);
	s->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dirfd < 0)
		return kv_err_sys(err, errno, "snapshot %s", dir);
	char path[4200];
	snprintf(path, sizeof(path), "%s/state", dir);
	int r = read_file_bounded(path, SNAP_STATE_MAX, &s->buf, &s->len, err);
	if (r < 0)
		return r;
	s->img = malloc(sizeof(*s->img));
	if (!s->img)
		return kv_err_set(err, ENOMEM, "snapshot %s", dir);
	if ((r = snap_parse(s->buf, s->len, s->img, err)) < 0)
		return kv_err_wrap(err, r, "%s", path);
	const struct snap_manifest *m = &s->img->man;
	if (strcmp(m->kvbox_version, KVBOX_VERSION))
		return kv_err_set(err, EPROTO,
				  "%s: saved by kvbox %s, this is kvbox %s (images are not "
				  "portable between versions)",
				  path, m->kvbox_version, KVBOX_VERSION);
	struct stat sb;
	snprintf(path, sizeof(path), "%s/memory", dir);
	s->memfd = openat(s->dirfd, "memory", O_RDONLY | O_CLOEXEC);
	if (s->memfd < 0 || fstat(s->memfd, &sb) < 0)
		return kv_err_sys(err, errno, "%s", path);
	if (!S_ISREG(sb.st_mode) || (uint64_t)sb.st_size != m->mem_bytes)
		return kv_err_set(err, EINVAL,
				  "%s: %llu bytes, the manifest says %llu (truncated or not this "
				  "image's)",
				  path, (unsigned long long)sb.st_size,
				  (unsigned long long)m->mem_bytes);
	return 0;
}

void snapshot_close(struct snapshot *s)
{
	free(s->buf);
	free(s->img);
	if (s->dirfd >= 0)
		close(s->dirfd);
	if (s->memfd >= 0)
		close(s->memfd);
	s->buf = NULL;
	s->img = NULL;
	s->dirfd = s->memfd = -1;
}

void snapshot_vm_config(const struct snapshot *s, struct vm_config *cfg)
{
	const struct snap_manifest *m = &s->img->man;
	cfg->mem_bytes = m->mem_bytes;
	cfg->ncpus = m->ncpus;
	cfg->no_rng = !(m->machine & SNAP_MACHINE_RNG);
	cfg->vsock = false;
	cfg->nshares = 0;
	cfg->nnets = 0;
	cfg->mem_file = s->map_memory;
	cfg->mem_file_fd = s->memfd;
}

int snapshot_restore(struct vm *vm, const struct snapshot *s, struct snapshot_stats *st,
		     struct kv_err *err)
{
	uint64_t t0 = now_usec();
	const struct snap_image *img = s->img;
	struct snapshot_stats local = {0};
	int r;
	if (!st)
		st = &local;
	if (vm->ncpus != img->man.ncpus || vm->mem.total != img->man.mem_bytes ||
	    vm->virtio.n != img->man.nvirtio)
		return kv_err_set(err, EINVAL, "%s: the VM does not match the image's manifest",
				  s->dir);
	r = restore_memory(vm, s, st, err);
	st->mem_usec = now_usec() - t0;
	if (r < 0 || (r = vm_wait_pit(vm, err)) < 0 || (r = snap_restore_vm_kvm(vm, img, err)) < 0)
		return kv_err_wrap(err, r, "restoring %s", s->dir);
	for (unsigned i = 0; i < vm->ncpus; i++)
		if ((r = snap_restore_vcpu(vm, i, img, err)) < 0)
			return kv_err_wrap(err, r, "restoring %s", s->dir);
	if ((r = restore_uart(vm, img, err)) < 0)
		return kv_err_wrap(err, r, "restoring %s", s->dir);
	vm->rtc.index = snap_find(img, SNAP_SEC_RTC, 0)->data[0] & 0x7f;
	/* a checkpoint: the gofer has each share's fids before its queue
	 * is handed back (restore_virtio activates it) */
	if ((img->man.machine & SNAP_MACHINE_CHECKPOINT) && (r = snap_restore_p9(vm, s, err)) < 0)
		return kv_err_wrap(err, r, "restoring %s", s->dir);
	if (vm->lazy && (r = load_rings(vm, img, err)) < 0)
		return kv_err_wrap(err, r, "restoring %s", s->dir);
	for (unsigned i = 0; i < vm->virtio.n; i++)
		if ((r = restore_virtio(vm, i, img, err)) < 0)
			return kv_err_wrap(err, r, "restoring %s: virtio slot %u", s->dir, i);
	/* ... and the vsock its connections before any queue is served */
	if ((img->man.machine & SNAP_MACHINE_CHECKPOINT) &&
	    (r = snap_restore_vsock(vm, s, err)) < 0)
		return kv_err_wrap(err, r, "restoring %s", s->dir);
	kick_queues(vm);
	st->state_len = s->len;
	st->usec = now_usec() - t0;
	return 0;
}
