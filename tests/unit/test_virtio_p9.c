/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-9p end to end through the virtio-mmio register window, with the
 * in-process backend (a p9_server called on the queue directly), driven
 * by the fake guest driver of p9drv.h: Tversion/Tattach/Twalk/Tlopen/Tread
 * into a split chain, Tlcreate/Twrite from a split chain, config space,
 * EVENT_IDX and NO_INTERRUPT, a chain with no room for a reply, a broken
 * ring, the serve budget; and guest_mem_from_fd (the gofer's RAM view).
 * The real gofer process: test_gofer_process.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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

#include "util/cleanup.h"

#include "p9drv.h"

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

static void test_guest_mem_from_fd(void **state)
{
	struct fx *f = *state;
	struct guest_mem m;
	struct kv_err err = {0};
	int fd = fcntl(f->mem.fd, F_DUPFD_CLOEXEC, 0);

	assert_int_equal(
	    guest_mem_from_fd(&m, fd, f->mem.total, f->mem.regions, f->mem.nregions, &err), 0);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tag_check),
	    cmocka_unit_test_setup_teardown(test_config_space, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_guest_mem_from_fd, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_inproc_read_write, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_inproc_no_interrupt_flag, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_inproc_no_room, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_inproc_broken_ring, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_serve_budget, fx_setup, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
