/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Guest RAM loaded lazily (vmm/lazy_mem.c), without KVM: a memfd plays
 * guest RAM, a sparse file the image.  The test process is the VMM; a
 * forked child plays the gofer (its own mapping of the memfd, its own
 * userfaultfd sent over a socket as `kvbox gofer --lazy-mem` does) and
 * touches RAM from user space and from the kernel (write(2) out of RAM,
 * read(2) into it).  Every byte either side sees must be the image's,
 * and a block of the image that fails its sum is never loaded.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <xxhash.h>

#include "vmm/lazy_mem.h"

#include "test_fds.h"

#define PG    4096u
#define TOTAL (4u << 20)

static uint8_t pattern(uint64_t off)
{
	return (uint8_t)(0x5a ^ (off >> 12) ^ (off * 7));
}

/* An image: data at the given pages, holes elsewhere. */
static int make_image(const unsigned *pages, unsigned n)
{
	char path[] = "/tmp/kvbox-lazy-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(ftruncate(fd, TOTAL), 0);
	uint8_t buf[PG];
	for (unsigned i = 0; i < n; i++) {
		uint64_t off = (uint64_t)pages[i] * PG;
		for (unsigned k = 0; k < PG; k++)
			buf[k] = pattern(off + k);
		assert_int_equal(pwrite(fd, buf, PG, (off_t)off), PG);
	}
	return fd;
}

static bool uffd_usable(void)
{
	int fd = lazy_mem_uffd();
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* Guest RAM: a memfd of TOTAL bytes (*memfd) and its shared mapping. */
static uint8_t *new_ram(int *memfd)
{
	*memfd = memfd_create("ram", MFD_CLOEXEC);
	assert_true(*memfd >= 0);
	assert_int_equal(ftruncate(*memfd, TOTAL), 0);
	uint8_t *host = mmap(NULL, TOTAL, PROT_READ | PROT_WRITE, MAP_SHARED, *memfd, 0);
	assert_true(host != MAP_FAILED);
	return host;
}

/* The image's block sums as a snapshot stores them (le64 XXH3-64 of each
 * LAZY_BLOCK, SNAP_SEC_MEMSUMS without its header). */
static uint8_t *image_sums(int fd)
{
	uint8_t *sums = malloc(8 * (TOTAL / LAZY_BLOCK)), *buf = malloc(LAZY_BLOCK);
	assert_non_null(sums);
	assert_non_null(buf);
	for (uint64_t b = 0; b < TOTAL / LAZY_BLOCK; b++) {
		assert_int_equal(pread(fd, buf, LAZY_BLOCK, (off_t)(b * LAZY_BLOCK)), LAZY_BLOCK);
		uint64_t v = htole64(XXH3_64bits(buf, LAZY_BLOCK));
		memcpy(sums + 8 * b, &v, 8);
	}
	free(buf);
	return sums;
}

/* An image holding the n pages from `first` on, and its sums. */
static int image_of_run(unsigned first, unsigned n, uint8_t **sums)
{
	unsigned pages[64];
	assert_true(n <= 64);
	for (unsigned i = 0; i < n; i++)
		pages[i] = first + i;
	int fd = make_image(pages, n);
	*sums = image_sums(fd);
	return fd;
}

/* Ends l's run over host, damages block 1 of img (one byte of page 30)
 * and starts again over a fresh RAM: the new mapping. */
static uint8_t *restart_damaged(struct lazy_mem *l, uint8_t *host, int *memfd, int img,
				const uint8_t *sums, const struct lazy_range *r, unsigned n)
{
	struct kv_err err = {0};
	lazy_mem_stop(l);
	munmap(host, TOTAL);
	close(*memfd);
	uint8_t bad = (uint8_t)~pattern(30 * PG);
	assert_int_equal(pwrite(img, &bad, 1, 30 * PG), 1);
	host = new_ram(memfd);
	if (lazy_mem_start(l, host, TOTAL, img, sums, r, n, -1, 0, &err) < 0)
		fail_msg("lazy_mem_start: %s", err.msg);
	return host;
}

static void assert_block1_refused(const struct kv_err *err)
{
	assert_non_null(strstr(err->msg, "guest RAM at 0x10000: the image's memory block there "
					 "fails its checksum"));
}

static void test_ranges(void **state)
{
	(void)state;
	/* pages 0-1, 3 (block 0), 100, 101 (block 6), 900 (block 56) */
	static const unsigned pages[] = {0, 1, 3, 100, 101, 900};
	int fd = make_image(pages, 6);
	uint8_t *sums = image_sums(fd);
	struct lazy_range r[LAZY_MAX_RANGES];
	int n = lazy_mem_ranges_sums(sums, TOTAL, 0, r, LAZY_MAX_RANGES);
	assert_int_equal(n, 3);
	assert_int_equal(r[0].off, 0);
	assert_int_equal(r[0].len, LAZY_BLOCK);
	assert_int_equal(r[1].off, 6 * LAZY_BLOCK);
	assert_int_equal(r[1].len, LAZY_BLOCK);
	assert_int_equal(r[2].off, 56 * LAZY_BLOCK);
	/* holes shorter than 6 blocks merged */
	n = lazy_mem_ranges_sums(sums, TOTAL, 6 * LAZY_BLOCK, r, LAZY_MAX_RANGES);
	assert_int_equal(n, 2);
	assert_int_equal(r[0].len, 7 * LAZY_BLOCK);
	/* at most 1: everything merged */
	n = lazy_mem_ranges_sums(sums, TOTAL, 0, r, 1);
	assert_int_equal(n, 1);
	assert_int_equal(r[0].off, 0);
	assert_int_equal(r[0].len, 57 * LAZY_BLOCK);
	free(sums);
	close(fd);
	/* an empty image; adjacent blocks are one range */
	static const unsigned two[] = {16, 32};
	fd = make_image(NULL, 0);
	sums = image_sums(fd);
	assert_int_equal(lazy_mem_ranges_sums(sums, TOTAL, 0, r, LAZY_MAX_RANGES), 0);
	free(sums);
	close(fd);
	fd = make_image(two, 2);
	sums = image_sums(fd);
	assert_int_equal(lazy_mem_ranges_sums(sums, TOTAL, 0, r, LAZY_MAX_RANGES), 1);
	assert_int_equal(r[0].off, LAZY_BLOCK);
	assert_int_equal(r[0].len, 2 * LAZY_BLOCK);
	free(sums);
	close(fd);
}

static int send_fd(int sock, int fd, uint64_t v)
{
	char c[CMSG_SPACE(sizeof(int))];
	struct iovec io = {&v, sizeof(v)};
	struct msghdr m = {
	    .msg_iov = &io, .msg_iovlen = 1, .msg_control = c, .msg_controllen = sizeof(c)};
	struct cmsghdr *h = CMSG_FIRSTHDR(&m);
	h->cmsg_level = SOL_SOCKET;
	h->cmsg_type = SCM_RIGHTS;
	h->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(h), &fd, sizeof(int));
	return sendmsg(sock, &m, 0) == (ssize_t)sizeof(v) ? 0 : -1;
}

static int recv_fd(int sock, uint64_t *v)
{
	char c[CMSG_SPACE(sizeof(int))];
	struct iovec io = {v, sizeof(*v)};
	struct msghdr m = {
	    .msg_iov = &io, .msg_iovlen = 1, .msg_control = c, .msg_controllen = sizeof(c)};
	if (recvmsg(sock, &m, 0) != (ssize_t)sizeof(*v))
		return -1;
	struct cmsghdr *h = CMSG_FIRSTHDR(&m);
	if (!h || h->cmsg_type != SCM_RIGHTS)
		return -1;
	int fd;
	memcpy(&fd, CMSG_DATA(h), sizeof(fd));
	return fd;
}

static bool page_is(const uint8_t *p, uint64_t off, bool data)
{
	for (unsigned k = 0; k < PG; k++)
		if (p[k] != (data ? pattern(off + k) : 0))
			return false;
	return true;
}

/* The gofer's part: exit status 0 when every check held. */
static int child(int memfd, int sock)
{
	uint8_t *m = mmap(NULL, TOTAL, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	int u = lazy_mem_uffd();
	if (m == MAP_FAILED || u < 0 || send_fd(sock, u, (uint64_t)(uintptr_t)m) < 0)
		return 10;
	close(u);
	char go;
	if (read(sock, &go, 1) != 1)
		return 11;
	/* the kernel reads guest RAM (a 9P read reply: pwritev from RAM) */
	int pp[2];
	if (pipe(pp) < 0 || write(pp[1], m + 40 * PG + 100, 64) != 64)
		return 12;
	uint8_t got[64];
	if (read(pp[0], got, 64) != 64)
		return 13;
	for (unsigned k = 0; k < 64; k++)
		if (got[k] != pattern(40 * PG + 100 + k))
			return 14;
	/* the kernel writes into guest RAM (a 9P write: preadv into it):
	 * half a page, the rest of it must stay the image's */
	uint8_t zeros[PG / 2] = {0};
	if (write(pp[1], zeros, sizeof(zeros)) != (ssize_t)sizeof(zeros) ||
	    read(pp[0], m + 60 * PG, PG / 2) != PG / 2)
		return 15;
	for (unsigned k = PG / 2; k < PG; k++)
		if (m[60 * PG + k] != pattern(60 * PG + k))
			return 16;
	/* user space: a page of data, and a hole outside every range */
	if (!page_is(m + 41 * PG, 41 * PG, true))
		return 17;
	if (!page_is(m + 700 * PG, 700 * PG, false))
		return 18;
	return 0;
}

static void test_vmm_and_gofer(void **state)
{
	(void)state;
	if (!uffd_usable())
		skip(); /* no userfaultfd here (not root, or kernel) */
	unsigned pages[80];
	for (unsigned i = 0; i < 40; i++)
		pages[i] = 20 + i; /* 20..59 */
	for (unsigned i = 0; i < 40; i++)
		pages[40 + i] = 60 + i * 3; /* sparse run above */
	int img = make_image(pages, 80);
	unsigned fds0 = open_fds();
	int memfd = memfd_create("ram", MFD_CLOEXEC);
	assert_true(memfd >= 0);
	assert_int_equal(ftruncate(memfd, TOTAL), 0);
	uint8_t *host = mmap(NULL, TOTAL, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	assert_true(host != MAP_FAILED);
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(sv[0]);
		_exit(child(memfd, sv[1]));
	}
	close(sv[1]);
	uint64_t peer_base = 0;
	int peer = recv_fd(sv[0], &peer_base);
	assert_true(peer >= 0);

	struct lazy_range r[LAZY_MAX_RANGES];
	uint8_t *sums = image_sums(img);
	int n = lazy_mem_ranges_sums(sums, TOTAL, 64 * 1024, r, LAZY_MAX_RANGES);
	assert_true(n >= 1);
	struct lazy_mem l;
	struct kv_err err = {0};
	int rc = lazy_mem_start(&l, host, TOTAL, img, sums, r, (unsigned)n, peer, peer_base, &err);
	free(sums); /* copied */
	if (rc < 0)
		fail_msg("lazy_mem_start: %s", err.msg);
	/* nothing loaded yet */
	assert_int_equal(lseek(memfd, 0, SEEK_DATA), -1);
	assert_int_equal(write(sv[0], "g", 1), 1);
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	/* the VMM's side: a page the gofer loaded, one it did not */
	assert_true(page_is(host + 41 * PG, 41 * PG, true));
	assert_true(page_is(host + 99 * PG, 99 * PG, true));
	assert_true(page_is(host + 97 * PG, 97 * PG, false)); /* a hole inside a range */
	struct lazy_stats s;
	lazy_mem_stats(&l, &s);
	assert_true(s.peer_faults >= 2);
	if (s.faults <= s.peer_faults)
		fail_msg("faults %llu peer %llu bytes %llu", (unsigned long long)s.faults,
			 (unsigned long long)s.peer_faults, (unsigned long long)s.bytes);
	assert_true(s.bytes > 0 && s.bytes < (uint64_t)n * LAZY_BLOCK * 4);
	assert_false(l.failed);
	/* the rest, all at once (a checkpoint) */
	assert_int_equal(lazy_mem_fill(&l, &err), 0);
	lazy_mem_stats(&l, &s);
	assert_true(s.fill_bytes > 0);
	for (unsigned i = 0; i < 80; i++) {
		uint64_t off = (uint64_t)pages[i] * PG;
		if (pages[i] == 60)
			continue; /* half overwritten by the gofer */
		uint8_t buf[PG];
		assert_int_equal(pread(memfd, buf, PG, (off_t)off), PG);
		if (!page_is(buf, off, true))
			fail_msg("page %u is not the image's", pages[i]);
	}
	lazy_mem_stop(&l);
	munmap(host, TOTAL);
	close(memfd);
	close(sv[0]);
	assert_int_equal(open_fds(), fds0);
	close(img);
}

static void test_bad_ranges_leave_nothing(void **state)
{
	(void)state;
	if (!uffd_usable())
		skip();
	static const unsigned pages[] = {1};
	int img = make_image(pages, 1);
	int memfd = memfd_create("ram", MFD_CLOEXEC);
	assert_int_equal(ftruncate(memfd, TOTAL), 0);
	uint8_t *host = mmap(NULL, TOTAL, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	unsigned fds0 = open_fds();
	struct lazy_mem l;
	struct kv_err err = {0};
	static const struct lazy_range outside[] = {{TOTAL - PG, 2 * PG}};
	static const struct lazy_range unaligned[] = {{100, PG}};
	static const struct lazy_range overlap[] = {{0, 2 * PG}, {PG, PG}};
	int peer = lazy_mem_uffd(); /* taken on failure too */
	uint8_t *sums = image_sums(img);
	assert_int_equal(lazy_mem_start(&l, host, TOTAL, img, sums, outside, 1, peer, 0, &err),
			 -EINVAL);
	assert_non_null(strstr(err.msg, "range 0"));
	assert_int_equal(lazy_mem_start(&l, host, TOTAL, img, NULL, unaligned, 1, -1, 0, &err),
			 -EINVAL);
	assert_int_equal(lazy_mem_start(&l, host, TOTAL, img, sums, overlap, 2, -1, 0, &err),
			 -EINVAL);
	free(sums);
	assert_int_equal(open_fds(), fds0);
	/* RAM is untouched and not registered: plain zero fill */
	assert_int_equal(host[PG], 0);
	munmap(host, TOTAL);
	close(memfd);
	close(img);
}

struct failure {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	char why[200];
};

static void record_failure(void *ctx, const char *why)
{
	struct failure *f = ctx;
	pthread_mutex_lock(&f->lock);
	snprintf(f->why, sizeof(f->why), "%s", why);
	pthread_cond_signal(&f->cond);
	pthread_mutex_unlock(&f->lock);
}

static void *touch(void *p)
{
	return (void *)(uintptr_t) * (volatile uint8_t *)p;
}

/* A block of the image that does not match its sum is never loaded: the
 * fault that needs it fails the machine (on_fail, with the reason) and
 * whoever waited is woken without it; lazy_mem_fill (a checkpoint)
 * refuses it; good blocks still load. */
static void test_corrupt_block(void **state)
{
	(void)state;
	if (!uffd_usable())
		skip();
	uint8_t *sums;
	int img = image_of_run(20, 40, &sums); /* blocks 1-3 */
	uint8_t bad = (uint8_t)~pattern(41 * PG + 5);
	assert_int_equal(pwrite(img, &bad, 1, 41 * PG + 5), 1); /* block 2 */
	int memfd;
	uint8_t *host = new_ram(&memfd);
	struct lazy_range r[LAZY_MAX_RANGES];
	int n = lazy_mem_ranges_sums(sums, TOTAL, 0, r, LAZY_MAX_RANGES);
	assert_int_equal(n, 1);
	struct lazy_mem l;
	struct kv_err err = {0};
	struct failure f = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, ""};
	if (lazy_mem_start(&l, host, TOTAL, img, sums, r, 1, -1, 0, &err) < 0)
		fail_msg("lazy_mem_start: %s", err.msg);
	l.on_fail = record_failure;
	l.fail_ctx = &f;
	assert_true(page_is(host + 20 * PG, 20 * PG, true)); /* block 1: fine */
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, touch, host + 41 * PG), 0);
	pthread_mutex_lock(&f.lock);
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 30;
	while (!f.why[0] && pthread_cond_timedwait(&f.cond, &f.lock, &until) == 0)
		;
	pthread_mutex_unlock(&f.lock);
	assert_non_null(strstr(f.why, "guest RAM at 0x29000: the image's memory block there fails "
				      "its checksum (the image is corrupted)"));
	assert_true(l.failed);
	/* the toucher was woken (zero fill, on the way down), never given
	 * the damaged block */
	void *got;
	pthread_join(t, &got);
	assert_int_equal((uintptr_t)got, 0);
	assert_int_not_equal(pattern(41 * PG), 0);
	lazy_mem_stop(&l);
	munmap(host, TOTAL);
	close(memfd);

	/* a checkpoint's fill */
	host = new_ram(&memfd);
	if (lazy_mem_start(&l, host, TOTAL, img, sums, r, 1, -1, 0, &err) < 0)
		fail_msg("lazy_mem_start: %s", err.msg);
	assert_int_equal(lazy_mem_fill(&l, &err), -EBADMSG);
	assert_non_null(strstr(err.msg, "guest RAM at 0x20000: the image's memory block there "
					"fails its checksum"));
	assert_true(page_is(host + 30 * PG, 30 * PG, true)); /* block 1 was loaded */
	lazy_mem_stop(&l);
	munmap(host, TOTAL);
	close(memfd);
	free(sums);
	close(img);
}

/* A working set loaded up front: its blocks are in RAM with no fault,
 * blocks outside the ranges are skipped, faults are what lazy_mem_touched
 * lists (a prefetch is not a touch), and a damaged block is refused. */
static void test_prefetch(void **state)
{
	(void)state;
	if (!uffd_usable())
		skip();
	unsigned pages[41];
	for (unsigned i = 0; i < 40; i++)
		pages[i] = 20 + i; /* blocks 1-3 */
	pages[40] = 900;	   /* block 56 */
	int img = make_image(pages, 41);
	uint8_t *sums = image_sums(img);
	int memfd;
	uint8_t *host = new_ram(&memfd);
	struct lazy_range r[LAZY_MAX_RANGES];
	int n = lazy_mem_ranges_sums(sums, TOTAL, 0, r, LAZY_MAX_RANGES);
	assert_int_equal(n, 2);
	struct lazy_mem l;
	struct kv_err err = {0};
	if (lazy_mem_start(&l, host, TOTAL, img, sums, r, (unsigned)n, -1, 0, &err) < 0)
		fail_msg("lazy_mem_start: %s", err.msg);
	uint32_t t[8];
	assert_int_equal(lazy_mem_touched(&l, t, 8), 0);
	assert_true(page_is(host + 21 * PG, 21 * PG, true)); /* a fault: block 1 */
	assert_int_equal(lazy_mem_touched(&l, t, 8), 1);
	assert_int_equal(t[0], 1);
	static const uint32_t ws[] = {1, 2, 3, 40, 56};
	assert_int_equal(lazy_mem_prefetch(&l, ws, 5, &err), 0);
	struct lazy_stats st;
	lazy_mem_stats(&l, &st);
	assert_int_equal(st.faults, 1);
	/* blocks 2, 3 and 56 copied (1 was there, 40 is outside the ranges) */
	assert_int_equal(st.prefetch_bytes, 3 * LAZY_BLOCK);
	uint8_t buf[PG];
	assert_int_equal(pread(memfd, buf, PG, 45 * PG), PG);
	assert_true(page_is(buf, 45 * PG, true));
	assert_int_equal(pread(memfd, buf, PG, 900 * PG), PG);
	assert_true(page_is(buf, 900 * PG, true));
	assert_true(page_is(host + 59 * PG, 59 * PG, true));
	lazy_mem_stats(&l, &st);
	assert_int_equal(st.faults, 1);
	assert_int_equal(lazy_mem_touched(&l, t, 8), 1);
	/* a damaged block in the list: refused, nothing of it loaded */
	host = restart_damaged(&l, host, &memfd, img, sums, r, (unsigned)n);
	assert_int_equal(lazy_mem_prefetch(&l, ws, 5, &err), -EBADMSG);
	assert_block1_refused(&err);
	assert_int_equal(lseek(memfd, 0, SEEK_DATA), -1);
	lazy_mem_stop(&l);
	munmap(host, TOTAL);
	close(memfd);
	free(sums);
	close(img);
}

static void test_cut_and_parse(void **state)
{
	(void)state;
	const struct lazy_range r[] = {{0, 0x30000}, {0x50000, 0x10000}, {0x80000, 0x80000}};
	const struct lazy_range cut[] = {
	    {0x10000, 0x10000}, {0x40000, 0x20000}, {0xa0000, 0x60000}};
	struct lazy_range out[8];
	/* a range split in two, one gone, one cut at its end */
	assert_int_equal(lazy_ranges_cut(r, 3, cut, 3, out, 8), 3);
	const struct lazy_range want[] = {{0, 0x10000}, {0x20000, 0x10000}, {0x80000, 0x20000}};
	for (unsigned i = 0; i < 3; i++) {
		assert_int_equal(out[i].off, want[i].off);
		assert_int_equal(out[i].len, want[i].len);
	}
	assert_int_equal(lazy_ranges_cut(r, 3, NULL, 0, out, 8), 3);
	assert_int_equal(lazy_ranges_cut(r, 3, cut, 3, out, 2), -E2BIG);

	uint64_t v[8] = {htole64(0x1000000), htole64(0x800000), htole64(0x1a00000),
			 htole64(0x100000)};
	struct lazy_range sh[LAZY_MAX_SHARED];
	assert_int_equal(lazy_shared_parse((uint8_t *)v, 32, 64u << 20, sh), 2);
	assert_int_equal(sh[1].off, 0x1a00000);
	assert_int_equal(lazy_shared_parse((uint8_t *)v, 0, 64u << 20, sh), 0);
	assert_int_equal(lazy_shared_parse((uint8_t *)v, 24, 64u << 20, sh), -EINVAL);
	assert_int_equal(lazy_shared_parse((uint8_t *)v, 32, 16u << 20, sh), -EINVAL);
	v[1] = htole64(0x801000); /* not a whole block */
	assert_int_equal(lazy_shared_parse((uint8_t *)v, 32, 64u << 20, sh), -EINVAL);
	v[1] = htole64(0xb00000); /* overlaps the next */
	assert_int_equal(lazy_shared_parse((uint8_t *)v, 32, 64u << 20, sh), -EINVAL);
	v[1] = 0;
	assert_int_equal(lazy_shared_parse((uint8_t *)v, 32, 64u << 20, sh), -EINVAL);
	assert_int_equal(lazy_shared_parse((uint8_t *)v, 16 * (LAZY_MAX_SHARED + 1), 64u << 20, sh),
			 -EINVAL);
}

/* Blocks 1-3 shared: the VMM reads the image there without a fault, its
 * writes stay its own (the image and the memfd untouched); unshared for a
 * checkpoint, the memfd holds what the VMM saw, writes included.  A
 * damaged block refuses the share and maps nothing. */
static void test_share(void **state)
{
	(void)state;
	if (!uffd_usable())
		skip();
	uint8_t *sums;
	int img = image_of_run(16, 48, &sums); /* blocks 1-3 */
	int memfd;
	uint8_t *host = new_ram(&memfd);
	struct lazy_range all[LAZY_MAX_RANGES], r[LAZY_MAX_RANGES];
	const struct lazy_range sh = {LAZY_BLOCK, 2 * LAZY_BLOCK}; /* blocks 1-2 */
	int n = lazy_mem_ranges_sums(sums, TOTAL, 0, all, LAZY_MAX_RANGES);
	assert_int_equal(n, 1);
	n = lazy_ranges_cut(all, (unsigned)n, &sh, 1, r, LAZY_MAX_RANGES);
	assert_int_equal(n, 1);
	assert_int_equal(r[0].off, 3 * LAZY_BLOCK);
	struct lazy_mem l;
	struct kv_err err = {0};
	if (lazy_mem_start(&l, host, TOTAL, img, sums, r, (unsigned)n, -1, 0, &err) < 0)
		fail_msg("lazy_mem_start: %s", err.msg);
	if (lazy_mem_share(&l, img, &sh, 1, &err) < 0)
		fail_msg("lazy_mem_share: %s", err.msg);
	assert_true(page_is(host + 17 * PG, 17 * PG, true));
	assert_true(page_is(host + 47 * PG, 47 * PG, true)); /* block 2 */
	assert_true(page_is(host + 50 * PG, 50 * PG, true)); /* block 3: a fault */
	struct lazy_stats st;
	lazy_mem_stats(&l, &st);
	assert_int_equal(st.faults, 1);
	host[20 * PG] = 0xee; /* a page of its own */
	uint8_t b;
	assert_int_equal(pread(img, &b, 1, 20 * PG), 1);
	assert_int_equal(b, pattern(20 * PG));
	assert_int_equal(pread(memfd, &b, 1, 20 * PG), 1);
	assert_int_equal(b, 0); /* the memfd (the gofer's view) has nothing there */
	assert_int_equal(lazy_mem_unshare(&l, memfd, &err), 0);
	assert_int_equal(l.nshared, 0);
	assert_int_equal(pread(memfd, &b, 1, 20 * PG), 1);
	assert_int_equal(b, 0xee);
	uint8_t buf[PG];
	assert_int_equal(pread(memfd, buf, PG, 40 * PG), PG);
	assert_true(page_is(buf, 40 * PG, true));
	host[40 * PG] = 0x11; /* the memfd's again */
	assert_int_equal(pread(memfd, &b, 1, 40 * PG), 1);
	assert_int_equal(b, 0x11);
	/* a damaged shared block: refused before anything is mapped */
	host = restart_damaged(&l, host, &memfd, img, sums, r, (unsigned)n);
	assert_int_equal(lazy_mem_share(&l, img, &sh, 1, &err), -EBADMSG);
	assert_block1_refused(&err);
	assert_int_equal(l.nshared, 0);
	host[30 * PG] = 0x22; /* still the memfd */
	assert_int_equal(pread(memfd, &b, 1, 30 * PG), 1);
	assert_int_equal(b, 0x22);
	lazy_mem_stop(&l);
	munmap(host, TOTAL);
	close(memfd);
	free(sums);
	close(img);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ranges),
	    cmocka_unit_test(test_vmm_and_gofer),
	    cmocka_unit_test(test_bad_ranges_leave_nothing),
	    cmocka_unit_test(test_corrupt_block),
	    cmocka_unit_test(test_prefetch),
	    cmocka_unit_test(test_cut_and_parse),
	    cmocka_unit_test(test_share),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
