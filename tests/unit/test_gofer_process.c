/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The real gofer process (`kvbox gofer`, fork+exec of the built binary,
 * jailed) behind two virtio-9p devices, over guest RAM in a memfd with
 * eventfds standing in for KVM's ioeventfd/irqfd, driven by the fake guest
 * driver of p9drv.h: the 9P exchange, reset taking the queue back and
 * re-activation, a hostile ring reported as QUEUE_ERROR (NEEDS_RESET)
 * while the other share keeps working, checkpoint/restore (SAVE, resume,
 * LOAD into a new gofer, and the refusals), the jail as seen from /proc,
 * death with its parent, a gofer that cannot start, one killed mid-run,
 * and a hostile gofer (this binary playing one).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/virtio_9p.h>
#include <linux/virtio_ids.h>
#include <xxhash.h>

#include "gofer/session.h"
#include "vmm/lazy_mem.h"
#include "util/cleanup.h"

#include "p9drv.h"

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

/* --lazy-mem: the gofer's userfaultfd comes with MEM's answer, and a
 * gofer whose RAM is emptied and then loaded lazily (vmm/lazy_mem.h)
 * serves a whole session out of it: rings and buffers it touches first
 * are faulted in by the VMM side, never seen as zeros. */
static void test_gofer_lazy_mem(void **state)
{
	struct fx *f = *state;
	struct drv *d = &f->drv;
	struct kv_err err = {0};
	f->lazy_mem = true;
	fx_gofer(f, NULL);
	if (gofer_client_set_mem(&f->gofer, &f->mem, &err))
		fail_msg("%s", err.msg);
	uint64_t base = 0;
	int peer = gofer_client_take_faults(&f->gofer, &base);
	if (peer < 0) {
		/* no userfaultfd here: the VMM would copy instead */
		assert_int_equal(gofer_client_stop(&f->gofer, 5000), 0);
		skip();
	}
	assert_true(base != 0 && base % 4096 == 0);
	assert_int_equal(gofer_client_take_faults(&f->gofer, &base), -1); /* once */
	drv_probe(d, F_VERSION_1 | F_EVENT_IDX);
	drv_session(d, "data", 0);
	uint8_t *buf = malloc(FILE_LEN + MSIZE);
	d->resp_space = MSIZE;
	assert_int_equal(drv_read_all(d, buf, FILE_LEN + MSIZE), FILE_LEN);
	/* RAM as an image, then emptied: the rings, the buffers (holding
	 * the file from the read above) live on in the image only */
	char path[] = "/tmp/kvbox-lazyimg-XXXXXX";
	int img = mkstemp(path);
	assert_true(img >= 0);
	unlink(path);
	assert_int_equal(ftruncate(img, RAM_SIZE), 0);
	for (uint64_t off = 0; off < RAM_SIZE; off += 4096) {
		static const uint8_t zero[4096];
		if (memcmp(f->mem.host + off, zero, 4096))
			assert_int_equal(pwrite(img, f->mem.host + off, 4096, (off_t)off), 4096);
	}
	assert_int_equal(
	    fallocate(f->mem.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, RAM_SIZE), 0);
	/* its block sums, as a snapshot keeps them */
	uint8_t *sums = malloc(8 * (RAM_SIZE / LAZY_BLOCK)), *blk = malloc(LAZY_BLOCK);
	assert_true(sums && blk);
	for (uint64_t b = 0; b < RAM_SIZE / LAZY_BLOCK; b++) {
		assert_int_equal(pread(img, blk, LAZY_BLOCK, (off_t)(b * LAZY_BLOCK)), LAZY_BLOCK);
		uint64_t v = htole64(XXH3_64bits(blk, LAZY_BLOCK));
		memcpy(sums + 8 * b, &v, 8);
	}
	free(blk);
	struct lazy_range r[LAZY_MAX_RANGES];
	int n = lazy_mem_ranges_sums(sums, RAM_SIZE, 64 << 10, r, LAZY_MAX_RANGES);
	assert_true(n >= 1);
	struct lazy_mem l;
	if (lazy_mem_start(&l, f->mem.host, RAM_SIZE, img, sums, r, (unsigned)n, peer, base, &err))
		fail_msg("%s", err.msg);
	free(sums);
	/* the file read again through the lazily loaded rings, into buffers
	 * the gofer writes first (their pages are the image's) */
	memset(buf, 0, FILE_LEN);
	d->resp_untouched = true;
	assert_int_equal(drv_read_all(d, buf, FILE_LEN + MSIZE), FILE_LEN);
	assert_memory_equal(buf, f->pattern, FILE_LEN);
	struct lazy_stats st;
	lazy_mem_stats(&l, &st);
	assert_true(st.faults > 0);
	if (st.peer_faults == 0)
		fail_msg("no fault in the gofer's mapping (%llu in all)",
			 (unsigned long long)st.faults);
	assert_false(l.failed);
	assert_int_equal(gofer_client_stop(&f->gofer, 5000), 0);
	lazy_mem_stop(&l);
	close(img);
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

/* A checkpoint/restore call that must work: its error line if not. */
#define MUST(call)                                                                                 \
	do {                                                                                       \
		if ((call) != 0)                                                                   \
			fail_msg("%s: %s", #call, err.msg);                                        \
	} while (0)

static int new_memfd(void)
{
	int fd = memfd_create("kvbox-test-session", MFD_CLOEXEC);
	assert_true(fd >= 0);
	return fd;
}

/* A new gofer over the same shares in place of the old one, as a restore
 * starts with; the devices keep their guest-side state. */
static void fx_gofer_again(struct fx *f)
{
	gofer_client_destroy(&f->gofer);
	for (int i = 0; i < 2; i++) {
		close(f->kick[i]);
		close(f->irqfd[i]);
	}
	fx_gofer(f, NULL);
	assert_int_equal(gofer_client_set_mem(&f->gofer, &f->mem, NULL), 0);
}

static void walk_create(struct drv *d, uint32_t fid, const char *name)
{
	struct p9_msg tx = {.type = P9_TWALK, .u.walk = {.fid = 0, .newfid = fid}}, rx;

	assert_int_equal(drv_rpc(d, &tx, &rx), 0);
	tx = (struct p9_msg){.type = P9_TLCREATE};
	tx.u.lcreate.fid = fid;
	strcpy(tx.u.lcreate.name, name);
	tx.u.lcreate.flags = P9_DOTL_RDWR;
	tx.u.lcreate.mode = 0600;
	assert_int_equal(drv_rpc(d, &tx, &rx), 0);
}

static void test_gofer_save_load(void **state)
{
	struct fx *f = *state;
	struct drv *d = &f->drv;
	struct kv_err err = {0};
	struct virtq_state st, st1;
	uint64_t len, len1;
	uint8_t *buf = malloc(FILE_LEN + MSIZE);
	struct p9_msg tx, rx;

	fx_gofer(f, NULL);
	assert_int_equal(gofer_client_set_mem(&f->gofer, &f->mem, NULL), 0);
	drv_probe(d, F_VERSION_1 | F_EVENT_IDX);
	drv_session(d, "data", 0);
	/* a checkpoint that leaves the container running: the queue is set
	 * aside with its fids, then resumed where it was */
	int mfd = new_memfd();
	MUST(gofer_client_save(&f->gofer, 0, &st, mfd, &len, &err));
	assert_int_equal(st.size, QSIZE);
	assert_int_equal(st.last_avail, d->avail_idx);
	assert_true(len > 20 && len < 200);
	assert_false(f->gofer.devs[0].active);
	MUST(gofer_client_resume(&f->gofer, 0, &st, &err));
	assert_true(f->gofer.devs[0].active);
	assert_int_equal(drv_read_all(d, buf, FILE_LEN + MSIZE), FILE_LEN);
	assert_memory_equal(buf, f->pattern, FILE_LEN);
	/* share 1 was never activated: a zero state, an empty session */
	int mfd1 = new_memfd();
	MUST(gofer_client_save(&f->gofer, 1, &st1, mfd1, &len1, &err));
	assert_int_equal(st1.size, 0);
	assert_int_equal(len1, P9_SESSION_HDR_SIZE);
	MUST(gofer_client_resume(&f->gofer, 1, &st1, &err)); /* nothing to resume */
	assert_false(f->gofer.devs[1].active);

	/* a checkpoint for a restore: a new gofer takes over the session and
	 * the queue, and the guest goes on with the fids it has */
	walk_create(d, 2, "made");
	assert_int_equal(drv_write(d, 2, 0, "abc", 3), 3);
	close(mfd);
	mfd = new_memfd();
	MUST(gofer_client_save(&f->gofer, 0, &st, mfd, &len, &err));
	fx_gofer_again(f);
	MUST(gofer_client_load(&f->gofer, 0, mfd, len, &err));
	MUST(gofer_client_load(&f->gofer, 1, mfd1, len1, &err));
	MUST(gofer_client_resume(&f->gofer, 0, &st, &err));
	assert_int_equal(drv_read_all(d, buf, FILE_LEN + MSIZE), FILE_LEN);
	assert_memory_equal(buf, f->pattern, FILE_LEN);
	tx = (struct p9_msg){.type = P9_TREAD, .u.read = {2, 0, 16}};
	assert_int_equal(drv_rpc(d, &tx, &rx), 0);
	assert_int_equal(rx.u.rdata.count, 3);
	/* a LOAD while the queue is served is refused */
	assert_int_equal(gofer_client_load(&f->gofer, 0, mfd, len, &err), -EBUSY);
	assert_non_null(strstr(err.msg, "share 'kvboxtest' (9p device 0)"));
	assert_int_equal(gofer_client_stop(&f->gofer, 5000), 0);
	close(mfd);
	close(mfd1);
	free(buf);
}

static void test_gofer_save_refused(void **state)
{
	struct fx *f = *state;
	struct drv *d = &f->drv;
	struct kv_err err = {0};
	struct virtq_state st;
	uint64_t len;
	struct p9_msg tx, rx;

	fx_gofer(f, NULL);
	assert_int_equal(gofer_client_set_mem(&f->gofer, &f->mem, NULL), 0);
	drv_probe(d, F_VERSION_1);
	drv_session(d, NULL, 0);
	/* an open file deleted: refused, and the queue is resumable as is */
	walk_create(d, 2, "tmp");
	tx = (struct p9_msg){.type = P9_TUNLINKAT, .u.unlinkat = {.dirfid = 0}};
	strcpy(tx.u.unlinkat.name, "tmp");
	assert_int_equal(drv_rpc(d, &tx, &rx), 0);
	int mfd = new_memfd();
	assert_int_equal(gofer_client_save(&f->gofer, 0, &st, mfd, &len, &err), -ESTALE);
	assert_non_null(strstr(err.msg, "share 'kvboxtest' (9p device 0)"));
	assert_non_null(strstr(err.msg, "a file the container has open was deleted"));
	assert_int_equal(len, 0);
	assert_int_equal(st.size, QSIZE);
	MUST(gofer_client_resume(&f->gofer, 0, &st, &err));
	tx = (struct p9_msg){.type = P9_TCLUNK, .u.fid.fid = 2};
	assert_int_equal(drv_rpc(d, &tx, &rx), 0);
	MUST(gofer_client_save(&f->gofer, 0, &st, mfd, &len, &err));

	/* restore: bytes that are not a session, too few bytes, bad sizes */
	fx_gofer_again(f);
	int junk = new_memfd();
	assert_int_equal(write(junk, "KVBXFIDS garbage garbage", 24), 24);
	assert_int_equal(gofer_client_load(&f->gofer, 0, junk, 24, &err), -EINVAL);
	/* the gofer's own reason, read back from after the session */
	assert_non_null(strstr(err.msg, "share 'kvboxtest' (9p device 0): cannot restore the open "
					"files: "));
	assert_null(strchr(err.msg, '\n'));
	assert_int_equal(gofer_client_load(&f->gofer, 0, mfd, len + 100, &err), -EINVAL);
	assert_int_equal(gofer_client_load(&f->gofer, 0, mfd, 0, &err), -EINVAL);
	assert_int_equal(gofer_client_load(&f->gofer, 0, mfd, GOFER_SAVE_MAX + 1ULL, &err),
			 -EINVAL);
	assert_int_equal(gofer_client_load(&f->gofer, 7, mfd, len, &err), -EINVAL);
	/* none of it stuck: the real one loads, the guest goes on */
	MUST(gofer_client_load(&f->gofer, 0, mfd, len, &err));
	MUST(gofer_client_resume(&f->gofer, 0, &st, &err));
	tx = (struct p9_msg){.type = P9_TCLUNK, .u.fid.fid = 0};
	assert_int_equal(drv_rpc(d, &tx, &rx), 0);
	assert_false(f->gofer.dead);
	assert_int_equal(gofer_client_stop(&f->gofer, 5000), 0);
	close(mfd);
	close(junk);
}

/* A gofer whose SAVE reply does not add up is killed, its numbers never
 * returned (this binary playing the gofer, see fake_gofer()). */
static void test_gofer_save_lies(void **state)
{
	struct fx *f = *state;
	static const char *modes[] = {"save-long", "save-past-end", "save-vq"};
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	assert_true(n > 0);
	self[n] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(modes); i++) {
		struct gofer_share sh = {.path = f->dir};
		struct gofer_client_config cfg = {
		    .exe = self, .shares = &sh, .nshares = 1, .timeout_ms = 2000};
		struct gofer_client c;
		struct kv_err err = {0};
		struct virtq_state st;
		uint64_t len = 1;
		strcpy(sh.tag, "t");
		setenv("KVBOX_FAKE_GOFER", modes[i], 1);
		assert_int_equal(gofer_client_start(&c, &cfg, NULL), 0);
		assert_int_equal(gofer_client_set_mem(&c, &f->mem, &err), 0);
		int mfd = new_memfd();
		assert_int_equal(gofer_client_save(&c, 0, &st, mfd, &len, &err), -EPROTO);
		assert_non_null(strstr(err.msg, "gofer killed"));
		assert_int_equal(len, 0);
		assert_true(c.dead);
		close(mfd);
		gofer_client_destroy(&c);
	}
	unsetenv("KVBOX_FAKE_GOFER");
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
	drv_probe(d, F_VERSION_1);	    /* activation fails cleanly */
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
	} else if (!strncmp(mode, "save-", 5)) {
		/* MEM is fine; the SAVE reply lies */
		gofer_msg_send(fd, &m, NULL, 0);
		if (gofer_msg_recv(fd, false, GOFER_ACCEPT_GOFER, 1, &m, fds) != 1)
			return 1;
		gofer_msg_init(&m, GOFER_MSG_REPLY, m.seq, 0);
		m.mem_size = 64;
		m.vq.size = 128;
		m.vq.max_size = 128;
		if (!strcmp(mode, "save-long"))
			m.mem_size = GOFER_SAVE_MAX + 1ULL;
		else if (!strcmp(mode, "save-past-end"))
			m.mem_size = 4096; /* the memfd is empty */
		else
			m.vq.size = 3;
		gofer_msg_send(fd, &m, NULL, 0);
	}	 /* silent: say nothing */
	pause(); /* until killed */
	return 0;
}

/* The gofer's view of guest RAM: the VMM's sealed memfd, same layout. */

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "gofer"))
		return fake_gofer(argc, argv);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_gofer_exchange, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_gofer_lazy_mem, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_gofer_reset, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_gofer_hostile_ring, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_gofer_save_load, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_gofer_save_refused, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_gofer_save_lies, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_gofer_jail, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_gofer_dies_with_parent, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_gofer_cannot_start, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_gofer_killed, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_gofer_hostile_peer, fx_setup, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
