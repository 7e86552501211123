/* SPDX-License-Identifier: Apache-2.0 */
/* Guest RAM loaded lazily from a snapshot's memory file; see vmm/lazy_mem.h. */
#include "vmm/lazy_mem.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <xxhash.h>

#include "security/seccomp.h"
#include "util/caps.h"
#include "util/cleanup.h"

#define PAGE 4096u
#define MSGS 16

int lazy_mem_uffd(void)
{
#ifdef SYS_userfaultfd
	int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	return fd < 0 ? -errno : fd;
#else
	return -ENOSYS;
#endif
}

/* ---- the image's ranges ---- */

static unsigned merge(struct lazy_range *r, unsigned n, uint64_t gap)
{
	unsigned k = 0;
	for (unsigned i = 0; i < n; i++) {
		if (k && r[i].off - (r[k - 1].off + r[k - 1].len) < gap) {
			r[k - 1].len = r[i].off + r[i].len - r[k - 1].off;
			continue;
		}
		r[k++] = r[i];
	}
	return k;
}

/* Merges holes shorter than gap, then longer ones until at most max
 * ranges are left, into out. */
static int merge_to(struct lazy_range *r, unsigned n, uint64_t gap, struct lazy_range *out,
		    unsigned max)
{
	n = merge(r, n, gap);
	for (uint64_t g = gap ? gap : PAGE; n > max; g *= 2)
		n = merge(r, n, g);
	memcpy(out, r, n * sizeof(*r));
	return (int)n;
}

static uint64_t nblocks(uint64_t total)
{
	return (total + LAZY_BLOCK - 1) / LAZY_BLOCK;
}

/* XXH3-64 of len zero bytes (len <= LAZY_BLOCK) */
static uint64_t zero_sum(uint64_t len)
{
	static const uint8_t zeros[LAZY_BLOCK];
	return XXH3_64bits(zeros, (size_t)len);
}

/* block b's sum as the image stores it (le64) */
static uint64_t sum_at(const uint8_t *sums, uint64_t b)
{
	uint64_t v;
	memcpy(&v, sums + 8 * b, 8);
	return le64toh(v);
}

int lazy_mem_ranges_sums(const uint8_t *sums, uint64_t total, uint64_t gap, struct lazy_range *out,
			 unsigned max)
{
	uint64_t nblk = nblocks(total), full = zero_sum(LAZY_BLOCK);
	size_t n = 0;
	if (max == 0 || total % PAGE)
		return -EINVAL;
	/* at most one range per two blocks */
	cleanup_free struct lazy_range *r = malloc((nblk / 2 + 1) * sizeof(*r));
	if (!r)
		return -ENOMEM;
	for (uint64_t b = 0; b < nblk; b++) {
		uint64_t s = b * LAZY_BLOCK, len = total - s < LAZY_BLOCK ? total - s : LAZY_BLOCK;
		if (sum_at(sums, b) == (len == LAZY_BLOCK ? full : zero_sum(len)))
			continue;
		if (n && s == r[n - 1].off + r[n - 1].len)
			r[n - 1].len += len;
		else
			r[n++] = (struct lazy_range){s, len};
	}
	return merge_to(r, (unsigned)n, gap, out, max);
}

int lazy_ranges_cut(const struct lazy_range *r, unsigned n, const struct lazy_range *cut,
		    unsigned ncut, struct lazy_range *out, unsigned max)
{
	unsigned k = 0, c = 0;
	for (unsigned i = 0; i < n; i++) {
		uint64_t s = r[i].off, e = r[i].off + r[i].len;
		while (c < ncut && cut[c].off + cut[c].len <= s)
			c++;
		for (unsigned j = c; s < e; j++) {
			uint64_t cs = j < ncut ? cut[j].off : e,
				 ce = j < ncut ? cut[j].off + cut[j].len : e;
			if (cs >= e)
				cs = ce = e;
			if (cs > s) {
				if (k == max)
					return -E2BIG;
				out[k++] = (struct lazy_range){s, cs - s};
			}
			if (ce > s)
				s = ce;
		}
	}
	return (int)k;
}

int lazy_shared_parse(const uint8_t *data, size_t len, uint64_t total, struct lazy_range *out)
{
	unsigned n = (unsigned)(len / 16);
	uint64_t end = 0;
	if (len % 16 || n > LAZY_MAX_SHARED)
		return -EINVAL;
	for (unsigned i = 0; i < n; i++) {
		uint64_t v[2];
		memcpy(v, data + 16 * i, 16);
		uint64_t off = le64toh(v[0]), l = le64toh(v[1]);
		if (!l || off % LAZY_BLOCK || l % LAZY_BLOCK || off < end || off > total ||
		    l > total - off)
			return -EINVAL;
		out[i] = (struct lazy_range){off, l};
		end = off + l;
	}
	return (int)n;
}

/* ---- filling ---- */

static const struct lazy_range *find_range(const struct lazy_mem *l, uint64_t off)
{
	unsigned lo = 0, hi = l->nranges;
	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;
		const struct lazy_range *r = &l->ranges[mid];
		if (off < r->off)
			hi = mid;
		else if (off >= r->off + r->len)
			lo = mid + 1;
		else
			return r;
	}
	return NULL;
}

/* The image's block holding off, [*bs, *be). */
static void block_of(const struct lazy_mem *l, uint64_t off, uint64_t *bs, uint64_t *be)
{
	*bs = off & ~(uint64_t)(LAZY_BLOCK - 1);
	*be = l->total - *bs < LAZY_BLOCK ? l->total : *bs + LAZY_BLOCK;
}

/* The image's block holding off has its sum (always, without sums). */
static bool block_ok(const struct lazy_mem *l, uint64_t off)
{
	uint64_t bs, be;
	if (!l->sums)
		return true;
	block_of(l, off, &bs, &be);
	return XXH3_64bits(l->src + bs, (size_t)(be - bs)) == l->sums[bs / LAZY_BLOCK];
}

/* The line for a block that fails its sum (at off). */
static void bad_block(const struct lazy_mem *l, uint64_t off, char *buf, size_t size)
{
	snprintf(buf, size,
		 "%s%sguest RAM at %#llx: the image's memory block there fails its checksum (the "
		 "image is corrupted)",
		 l->name, l->name[0] ? ": " : "", (unsigned long long)off);
}

/* The image's block holding off was read through our mapping (to check
 * it) and copied: its pages stay in the page cache, not in our mapping
 * (they are not this sandbox's memory). */
static void drop_src(const struct lazy_mem *l, uint64_t off)
{
	uint64_t bs, be;
	block_of(l, off, &bs, &be);
	(void)madvise((void *)(uintptr_t)(l->src + bs), be - bs, MADV_DONTNEED);
}

/* Copies [s, e) of the image into RAM, page by page past any page that is
 * there already.  *gap is set when some page was (its waiters were not
 * woken by our copy).  Returns 0 or -errno. */
static int copy_range(struct lazy_mem *l, uint64_t s, uint64_t e, bool *gap,
		      _Atomic uint64_t *count)
{
	uint64_t p = s;
	while (p < e) {
		struct uffdio_copy c = {.dst = (uint64_t)(uintptr_t)(l->host + p),
					.src = (uint64_t)(uintptr_t)(l->src + p),
					.len = e - p};
		if (ioctl(l->uffd, UFFDIO_COPY, &c) == 0) {
			*count += e - p;
			return 0;
		}
		int e2 = errno;
		if (c.copy > 0) {
			*count += (uint64_t)c.copy;
			p += (uint64_t)c.copy;
			continue;
		}
		if (e2 == EEXIST) {
			*gap = true;
			p += PAGE;
		} else if (e2 != EAGAIN && e2 != EINTR) {
			return -e2;
		}
	}
	return 0;
}

static void wake(int uffd, uint64_t start, uint64_t len)
{
	struct uffdio_range w = {.start = start, .len = len};
	(void)ioctl(uffd, UFFDIO_WAKE, &w);
}

static void unregister_all(int fd, uint64_t base, const struct lazy_range *r, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		struct uffdio_range u = {.start = base + r[i].off, .len = r[i].len};
		(void)ioctl(fd, UFFDIO_UNREGISTER, &u);
	}
}

static void fail(struct lazy_mem *l, int e, uint64_t off)
{
	if (l->failed)
		return; /* only this thread sets it */
	if (e == EBADMSG)
		bad_block(l, off, l->why, sizeof(l->why));
	else
		snprintf(l->why, sizeof(l->why),
			 "%s%sloading guest RAM at %#llx from the image: %s", l->name,
			 l->name[0] ? ": " : "", (unsigned long long)off, strerror(e));
	__atomic_store_n(&l->failed, true, __ATOMIC_RELEASE); /* why is whole */
	if (l->on_fail) {
		l->on_fail(l->fail_ctx, l->why);
	} else {
		char line[600];
		int n = snprintf(line, sizeof(line), "kvbox: %s\n", l->why);
		(void)!write(2, line, (size_t)n);
	}
	/* nothing more is loaded; whoever waits in the VMM (a vCPU that
	 * on_fail stopped, a device model) is woken by unregistering and
	 * ends in zero fill: only on the way down.  A toucher in the gofer
	 * stays parked until the gofer is killed (it would write zeros into
	 * a file otherwise). */
	unregister_all(l->uffd, (uint64_t)(uintptr_t)l->host, l->ranges, l->nranges);
}

/* A fault at `addr` of the VMM's (peer false) or the gofer's mapping. */
static void serve(struct lazy_mem *l, uint64_t addr, bool peer)
{
	uint64_t base = peer ? l->peer_base : (uint64_t)(uintptr_t)l->host;
	if (l->failed)
		return;
	if (addr < base || addr - base >= l->total)
		return fail(l, EFAULT, addr);
	uint64_t off = (addr - base) & ~(uint64_t)(PAGE - 1);
	const struct lazy_range *r = find_range(l, off);
	if (!r)
		return fail(l, ERANGE, off);
	uint64_t s = off & ~(uint64_t)(LAZY_BLOCK - 1), e = s + LAZY_BLOCK;
	if (s < r->off)
		s = r->off;
	if (e > r->off + r->len)
		e = r->off + r->len;
	bool gap = false;
	/* counted first: the toucher may look as soon as the copy wakes it */
	l->faults++;
	if (peer)
		l->peer_faults++;
	if (!block_ok(l, off))
		return fail(l, EBADMSG, off);
	if (l->touched)
		l->touched[off / LAZY_BLOCK] = 1;
	int rc = copy_range(l, s, e, &gap, &l->bytes);
	if (rc < 0)
		return fail(l, -rc, off);
	drop_src(l, off);
	if (peer) {
		wake(l->peer_uffd, l->peer_base + s, e - s);
	} else if (gap) {
		wake(l->uffd, (uint64_t)(uintptr_t)l->host + s, e - s);
	}
}

static uint64_t usec_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000u + (uint64_t)t.tv_nsec / 1000u;
}

static void drain(struct lazy_mem *l, int fd, bool peer)
{
	struct uffd_msg m[MSGS];
	for (;;) {
		ssize_t n = read(fd, m, sizeof(m));
		if (n <= 0)
			return;
		uint64_t t0 = usec_now();
		for (size_t i = 0; i < (size_t)n / sizeof(m[0]); i++)
			if (m[i].event == UFFD_EVENT_PAGEFAULT)
				serve(l, m[i].arg.pagefault.address, peer);
		l->serve_usec += usec_now() - t0;
	}
}

struct start_gate {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int state; /* 0 waiting, 1 filtered, < 0 -errno */
	struct kv_err err;
};

struct thread_arg {
	struct lazy_mem *l;
	struct start_gate *gate;
};

static void *handler(void *p)
{
	struct thread_arg *a = p;
	struct lazy_mem *l = a->l;
	struct start_gate *g = a->gate;
	prctl(PR_SET_NAME, "kvbox-uffd");
	struct kv_err err = {0};
	/* capabilities are per thread: this one keeps none (the sandbox's
	 * jail drops the main thread's later) */
	int r = caps_clear_ambient(&err);
	if (r == 0)
		r = caps_set(0, 0, 0, &err);
	if (r == 0)
		r = kv_seccomp_install(KV_SECCOMP_UFFD, &err);
	pthread_mutex_lock(&g->lock);
	g->state = r < 0 ? r : 1;
	if (r < 0)
		g->err = err;
	pthread_cond_signal(&g->cond);
	pthread_mutex_unlock(&g->lock);
	if (r < 0)
		return NULL;
	/* g is the starter's: not touched from here on */
	for (;;) {
		struct pollfd f[3] = {{.fd = l->stop_fd, .events = POLLIN},
				      {.fd = l->uffd, .events = POLLIN},
				      {.fd = l->peer_uffd, .events = POLLIN}};
		if (poll(f, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			fail(l, errno, 0);
			return NULL;
		}
		if (f[0].revents)
			return NULL;
		if (f[1].revents & POLLIN)
			drain(l, l->uffd, false);
		if (f[2].revents & POLLIN)
			drain(l, l->peer_uffd, true);
	}
}

static int api(int fd, struct kv_err *err, const char *who)
{
	struct uffdio_api a = {.api = UFFD_API, .features = UFFD_FEATURE_MISSING_SHMEM};
	if (ioctl(fd, UFFDIO_API, &a) < 0)
		return kv_err_sys(err, errno, "userfaultfd (%s): UFFDIO_API", who);
	if (!(a.ioctls & (1ull << _UFFDIO_REGISTER)))
		return kv_err_set(err, EOPNOTSUPP, "userfaultfd (%s): no UFFDIO_REGISTER", who);
	return 0;
}

static int register_all(int fd, uint64_t base, const struct lazy_range *r, unsigned n,
			bool need_copy, struct kv_err *err, const char *who)
{
	for (unsigned i = 0; i < n; i++) {
		struct uffdio_register reg = {.range = {.start = base + r[i].off, .len = r[i].len},
					      .mode = UFFDIO_REGISTER_MODE_MISSING};
		if (ioctl(fd, UFFDIO_REGISTER, &reg) < 0)
			return kv_err_sys(err, errno, "userfaultfd (%s): registering %#llx+%#llx",
					  who, (unsigned long long)r[i].off,
					  (unsigned long long)r[i].len);
		if (need_copy && !(reg.ioctls & (1ull << _UFFDIO_COPY)))
			return kv_err_set(err, EOPNOTSUPP, "userfaultfd (%s): no UFFDIO_COPY", who);
	}
	return 0;
}

int lazy_mem_start(struct lazy_mem *l, uint8_t *host, uint64_t total, int image_fd,
		   const uint8_t *sums, const struct lazy_range *ranges, unsigned nranges,
		   int peer_uffd, uint64_t peer_base, struct kv_err *err)
{
	memset(l, 0, sizeof(*l));
	l->uffd = l->stop_fd = -1;
	l->peer_uffd = peer_uffd;
	l->host = host;
	l->total = total;
	l->peer_base = peer_base;
	int r = 0;
	if (nranges > LAZY_MAX_RANGES)
		r = kv_err_set(err, E2BIG, "lazy memory: %u ranges", nranges);
	for (unsigned i = 0; r == 0 && i < nranges; i++)
		if (ranges[i].off % PAGE || ranges[i].len % PAGE || !ranges[i].len ||
		    ranges[i].off > total || ranges[i].len > total - ranges[i].off ||
		    (i && ranges[i].off < ranges[i - 1].off + ranges[i - 1].len))
			r = kv_err_set(err, EINVAL, "lazy memory: range %u is not inside RAM", i);
	uint64_t nblk = nblocks(total);
	if (r == 0 && sums) {
		uint64_t *sv = malloc(nblk * sizeof(*sv));
		if (!sv)
			r = kv_err_set(err, ENOMEM, "lazy memory: block sums");
		for (uint64_t b = 0; sv && b < nblk; b++)
			sv[b] = sum_at(sums, b);
		l->sums = sv;
	}
	if (r == 0 && !(l->touched = calloc(nblk, 1)))
		r = kv_err_set(err, ENOMEM, "lazy memory: block map");
	if (r == 0) {
		memcpy(l->ranges, ranges, nranges * sizeof(*ranges));
		l->nranges = nranges;
		l->src = mmap(NULL, total, PROT_READ, MAP_SHARED, image_fd, 0);
		if (l->src == MAP_FAILED) {
			l->src = NULL;
			r = kv_err_sys(err, errno, "lazy memory: mapping the image");
		}
	}
	if (r == 0 && (l->uffd = lazy_mem_uffd()) < 0)
		r = kv_err_sys(err, -l->uffd, "userfaultfd");
	if (r == 0 && (l->stop_fd = eventfd(0, EFD_CLOEXEC)) < 0)
		r = kv_err_sys(err, errno, "lazy memory: eventfd");
	if (r == 0)
		r = api(l->uffd, err, "VMM");
	if (r == 0 && peer_uffd >= 0)
		r = api(peer_uffd, err, "gofer");
	if (r == 0)
		r = register_all(l->uffd, (uint64_t)(uintptr_t)host, ranges, nranges, true, err,
				 "VMM");
	if (r == 0 && peer_uffd >= 0)
		r = register_all(peer_uffd, peer_base, ranges, nranges, false, err, "gofer");
	struct start_gate g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, {0}};
	struct thread_arg a = {l, &g};
	if (r == 0) {
		r = -pthread_create(&l->thread, NULL, handler, &a);
		if (r < 0)
			kv_err_sys(err, -r, "lazy memory: starting its thread");
	}
	if (r == 0) {
		pthread_mutex_lock(&g.lock);
		while (g.state == 0)
			pthread_cond_wait(&g.cond, &g.lock);
		pthread_mutex_unlock(&g.lock);
		if (g.state < 0) {
			pthread_join(l->thread, NULL);
			*err = g.err;
			r = g.state;
		} else {
			l->running = true;
		}
	}
	if (r < 0) {
		/* registered ranges of a closed uffd are dropped with it; the
		 * peer's fd is ours to close too */
		if (l->uffd >= 0)
			unregister_all(l->uffd, (uint64_t)(uintptr_t)host, ranges, nranges);
		if (peer_uffd >= 0)
			unregister_all(peer_uffd, peer_base, ranges, nranges);
		lazy_mem_stop(l);
	}
	return r;
}

int lazy_mem_prefetch(struct lazy_mem *l, const uint32_t *blocks, unsigned n, struct kv_err *err)
{
	uint64_t t0 = usec_now(), nblk = nblocks(l->total);
	int r = 0;
	for (unsigned i = 0; i < n && r == 0;) {
		/* a run of adjacent blocks inside one range */
		uint64_t s = (uint64_t)blocks[i] * LAZY_BLOCK;
		const struct lazy_range *rg = blocks[i] < nblk ? find_range(l, s) : NULL;
		unsigned j = i + 1;
		if (!rg) {
			i = j;
			continue;
		}
		while (j < n && blocks[j] == blocks[j - 1] + 1 &&
		       (uint64_t)blocks[j] * LAZY_BLOCK < rg->off + rg->len)
			j++;
		uint64_t e = (uint64_t)blocks[j - 1] * LAZY_BLOCK + LAZY_BLOCK;
		if (e > rg->off + rg->len)
			e = rg->off + rg->len;
		for (uint64_t b = s; b < e && r == 0; b += LAZY_BLOCK)
			if (!block_ok(l, b)) {
				char why[sizeof(l->why)];
				bad_block(l, b, why, sizeof(why));
				r = kv_err_set(err, EBADMSG, "%s", why);
			}
		bool gap = false;
		int rc = r ? 0 : copy_range(l, s, e, &gap, &l->prefetch_bytes);
		if (rc < 0)
			r = kv_err_sys(err, -rc, "loading guest RAM at %#llx from the image",
				       (unsigned long long)s);
		for (uint64_t b = s; b < e; b += LAZY_BLOCK)
			drop_src(l, b);
		i = j;
	}
	l->prefetch_usec += usec_now() - t0;
	return r;
}

unsigned lazy_mem_touched(const struct lazy_mem *l, uint32_t *out, unsigned max)
{
	uint64_t nblk = nblocks(l->total);
	unsigned n = 0;
	for (uint64_t b = 0; l->touched && b < nblk && n < max; b++)
		if (l->touched[b])
			out[n++] = (uint32_t)b;
	return n;
}

int lazy_mem_share(struct lazy_mem *l, int image_fd, const struct lazy_range *sh, unsigned n,
		   struct kv_err *err)
{
	uint64_t t0 = usec_now();
	if (n > LAZY_MAX_SHARED)
		return kv_err_set(err, E2BIG, "lazy memory: %u shared ranges", n);
	/* all checked before any is mapped (read through our mapping of the
	 * image, which keeps none of it) */
	for (unsigned i = 0; i < n; i++)
		for (uint64_t b = sh[i].off; b < sh[i].off + sh[i].len; b += LAZY_BLOCK) {
			bool ok = block_ok(l, b);
			drop_src(l, b);
			if (!ok) {
				char why[sizeof(l->why)];
				bad_block(l, b, why, sizeof(why));
				return kv_err_set(err, EBADMSG, "%s", why);
			}
		}
	for (unsigned i = 0; i < n; i++) {
		void *at = l->host + sh[i].off;
		if (mmap(at, sh[i].len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, image_fd,
			 (off_t)sh[i].off) == MAP_FAILED)
			/* what was mapped stays so: lazy_mem_unshare and the
			 * teardown cover it; the restore fails */
			return kv_err_sys(err, errno, "guest RAM at %#llx: mapping the image",
					  (unsigned long long)sh[i].off);
		(void)madvise(at, sh[i].len, MADV_DONTDUMP); /* as the rest of RAM */
		l->shared[l->nshared++] = sh[i];
	}
	l->shared_usec = usec_now() - t0;
	return 0;
}

int lazy_mem_unshare(struct lazy_mem *l, int memfd, struct kv_err *err)
{
	while (l->nshared) {
		const struct lazy_range *r = &l->shared[l->nshared - 1];
		uint8_t *at = l->host + r->off;
		for (uint64_t done = 0; done < r->len;) {
			ssize_t w = pwrite(memfd, at + done, r->len - done, (off_t)(r->off + done));
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				return kv_err_sys(err, w < 0 ? errno : EIO,
						  "guest RAM at %#llx: copying it into the memfd",
						  (unsigned long long)(r->off + done));
			done += (uint64_t)w;
		}
		if (mmap(at, r->len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED | MAP_NORESERVE,
			 memfd, (off_t)r->off) == MAP_FAILED)
			return kv_err_sys(err, errno, "guest RAM at %#llx: mapping the memfd again",
					  (unsigned long long)r->off);
		(void)madvise(at, r->len, MADV_DONTDUMP);
		l->nshared--;
	}
	return 0;
}

int lazy_mem_fill(struct lazy_mem *l, struct kv_err *err)
{
	for (unsigned i = 0; i < l->nranges; i++) {
		const struct lazy_range *r = &l->ranges[i];
		for (uint64_t s = r->off, end = r->off + r->len; s < end;) {
			uint64_t bs, be;
			block_of(l, s, &bs, &be);
			if (be > end)
				be = end;
			bool gap = false;
			if (!block_ok(l, s)) {
				char why[sizeof(l->why)];
				bad_block(l, s, why, sizeof(why));
				return kv_err_set(err, EBADMSG, "%s", why);
			}
			int rc = copy_range(l, s, be, &gap, &l->fill_bytes);
			if (rc < 0)
				return kv_err_sys(err, -rc,
						  "loading guest RAM at %#llx from the image",
						  (unsigned long long)s);
			drop_src(l, s);
			s = be;
		}
	}
	const char *why = lazy_mem_failed(l);
	if (why)
		return kv_err_set(err, EIO, "%s", why);
	return 0;
}

const char *lazy_mem_failed(const struct lazy_mem *l)
{
	return __atomic_load_n(&l->failed, __ATOMIC_ACQUIRE) ? l->why : NULL;
}

void lazy_mem_stats(const struct lazy_mem *l, struct lazy_stats *st)
{
	st->faults = l->faults;
	st->peer_faults = l->peer_faults;
	st->bytes = l->bytes;
	st->fill_bytes = l->fill_bytes;
	st->serve_usec = l->serve_usec;
	st->prefetch_bytes = l->prefetch_bytes;
	st->prefetch_usec = l->prefetch_usec;
}

void lazy_mem_stop(struct lazy_mem *l)
{
	if (l->running) {
		uint64_t one = 1;
		(void)!write(l->stop_fd, &one, sizeof(one));
		pthread_join(l->thread, NULL);
		l->running = false;
	}
	if (l->stop_fd >= 0)
		close(l->stop_fd);
	if (l->uffd >= 0)
		close(l->uffd);
	if (l->peer_uffd >= 0)
		close(l->peer_uffd);
	if (l->src)
		munmap((void *)l->src, l->total);
	free(l->sums);
	free((void *)l->touched);
	l->sums = NULL;
	l->touched = NULL;
	l->src = NULL;
	l->stop_fd = l->uffd = l->peer_uffd = -1;
}
