/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The snapshot state file (vmm/snapshot_format.h): a complete image built
 * with the writer parses back to the same manifest and sections; every
 * truncation and every flipped byte is refused with one line; missing,
 * duplicate, oversized, out-of-range and unknown sections, another format
 * version and bad manifests are refused by name; the UART and virtio
 * encodings round-trip and reject out-of-range values.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <endian.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <linux/kvm.h>

#include "vmm/snapshot_format.h"

/* What build_image() leaves out or adds. */
struct variant {
	uint32_t skip_type;	/* leave this section type out */
	uint32_t dup_type;	/* write this one twice */
	uint32_t bad_size_type; /* one byte short */
	uint32_t extra_type;	/* an extra section of this type ... */
	uint32_t extra_index;	/* ... at this index */
	uint32_t ncpus;		/* manifest (default 1) */
	uint32_t machine;	/* more manifest machine flags */
	uint32_t extra2_type;	/* a second extra section ... */
	uint32_t extra2_index;
	uint32_t sum_block; /* the block sums' block size (default SNAP_SUM_BLOCK) */
};

static void manifest(struct snap_manifest *m, const struct variant *v)
{
	memset(m, 0, sizeof(*m));
	strcpy(m->kvbox_version, "0.1.0");
	strcpy(m->kernel_path, "/boot/vmlinux");
	memset(m->kernel_sha256, 0xab, 32);
	m->kernel_size = 12345;
	m->mem_bytes = 16ULL << 20; /* 256 block sums */
	m->ncpus = v->ncpus ? v->ncpus : 1;
	m->machine = SNAP_MACHINE_RNG | v->machine;
	m->nvirtio = 1;
	m->flavour = 3;
	m->tsc_khz = 2000000;
	m->mem_data = 65536;
	memset(m->mem_sum, 0x5a, 16);
	m->created = 1700000000;
}

static void add(struct snap_writer *w, const struct variant *v, uint32_t type, uint32_t index,
		const void *data, size_t len)
{
	if (type == v->skip_type)
		return;
	if (type == v->bad_size_type)
		len--;
	snap_writer_add(w, type, index, data, len);
	if (type == v->dup_type)
		snap_writer_add(w, type, index, data, len);
}

static void add_vcpu(struct snap_writer *w, const struct variant *v, uint32_t id)
{
	static uint8_t zero[8192];
	struct {
		struct kvm_cpuid2 h;
		struct kvm_cpuid_entry2 e[2];
	} cpuid;
	memset(&cpuid, 0, sizeof(cpuid));
	cpuid.h.nent = 2;
	cpuid.e[0].function = 1;
	struct kvm_msr_entry msrs[3] = {
	    {.index = 0x10, .data = 7}, {.index = 0x1b}, {.index = 0x174}};
	add(w, v, SNAP_SEC_MP_STATE, id, zero, sizeof(struct kvm_mp_state));
	add(w, v, SNAP_SEC_REGS, id, zero, sizeof(struct kvm_regs));
	add(w, v, SNAP_SEC_SREGS, id, zero, sizeof(struct kvm_sregs));
	add(w, v, SNAP_SEC_XSAVE, id, zero, 4096);
	add(w, v, SNAP_SEC_XCRS, id, zero, sizeof(struct kvm_xcrs));
	add(w, v, SNAP_SEC_LAPIC, id, zero, sizeof(struct kvm_lapic_state));
	add(w, v, SNAP_SEC_MSRS, id, msrs, sizeof(msrs));
	add(w, v, SNAP_SEC_CPUID, id, &cpuid, sizeof(cpuid));
	add(w, v, SNAP_SEC_EVENTS, id, zero, sizeof(struct kvm_vcpu_events));
}

static const struct snap_virtio rng_state = {
    .device_id = 4,
    .nqueues = 1,
    .status = 0xf,
    .offered = 0x130000000ULL,
    .features = 0x100000000ULL,
    .queue_sel = 0,
    .q = {{.max_size = 256,
	   .size = 8,
	   .last_avail = 17,
	   .used_idx = 17,
	   .signalled_used = 16,
	   .enabled = 1,
	   .desc = 0x10000,
	   .avail = 0x10100,
	   .used = 0x10200}},
};

/* A complete image for one vCPU and one virtio-rng (or a variant). */
static uint8_t *build_image(const struct variant *v, size_t *len)
{
	static uint8_t zero[4096];
	struct snap_writer w;
	struct snap_manifest m;
	snap_writer_init(&w);
	manifest(&m, v);
	if (v->skip_type != SNAP_SEC_MANIFEST)
		snap_writer_manifest(&w, &m);
	add(&w, v, SNAP_SEC_CLOCK, 0, zero, sizeof(struct kvm_clock_data));
	for (uint32_t chip = 0; chip < 3; chip++) {
		struct kvm_irqchip ic;
		memset(&ic, 0, sizeof(ic));
		ic.chip_id = chip;
		add(&w, v, SNAP_SEC_IRQCHIP, chip, &ic, sizeof(ic));
	}
	add(&w, v, SNAP_SEC_PIT, 0, zero, sizeof(struct kvm_pit_state2));
	size_t slen = SNAP_MEMSUMS_HDR + 8 * snap_sum_blocks(m.mem_bytes);
	uint8_t *sums = calloc(1, slen);
	assert_non_null(sums);
	uint32_t bsz = htole32(v->sum_block ? v->sum_block : SNAP_SUM_BLOCK);
	memcpy(sums, &bsz, sizeof(bsz));
	add(&w, v, SNAP_SEC_MEMSUMS, 0, sums, slen);
	free(sums);
	for (uint32_t id = 0; id < m.ncpus; id++)
		add_vcpu(&w, v, id);
	struct snap_uart u = {.lsr = 0x60, .rx_count = 2, .rx = {'h', 'i'}};
	uint8_t ub[SNAP_UART_LEN];
	snap_uart_encode(&u, ub);
	add(&w, v, SNAP_SEC_UART, 0, ub, sizeof(ub));
	uint8_t idx = 3;
	add(&w, v, SNAP_SEC_RTC, 0, &idx, 1);
	uint8_t vb[SNAP_VIRTIO_HDR_LEN + SNAP_VQ_MAX * SNAP_VQ_LEN];
	add(&w, v, SNAP_SEC_VIRTIO, 0, vb, snap_virtio_encode(&rng_state, vb));
	if (v->extra_type)
		snap_writer_add(&w, v->extra_type, v->extra_index, zero,
				v->extra_type == SNAP_SEC_LAPIC ? sizeof(struct kvm_lapic_state)
								: 1);
	if (v->extra2_type)
		snap_writer_add(&w, v->extra2_type, v->extra2_index, zero, 1);
	assert_int_equal(snap_writer_finish(&w), 0);
	*len = w.len;
	return w.buf; /* the caller frees it */
}

static struct snap_image *img_alloc(void)
{
	struct snap_image *img = malloc(sizeof(*img));
	assert_non_null(img);
	return img;
}

static void expect_error(const uint8_t *buf, size_t len, const char *needle)
{
	struct snap_image *img = img_alloc();
	struct kv_err err = {0};
	int r = snap_parse(buf, len, img, &err);
	if (r == 0 || !strstr(err.msg, needle))
		fail_msg("want an error with '%s', got %d '%s'", needle, r, err.msg);
	assert_null(strchr(err.msg, '\n'));
	free(img);
}

static void expect_variant_error(const struct variant *v, const char *needle)
{
	size_t len;
	uint8_t *buf = build_image(v, &len);
	expect_error(buf, len, needle);
	free(buf);
}

static void test_round_trip(void **state)
{
	(void)state;
	struct variant v = {0};
	size_t len;
	uint8_t *buf = build_image(&v, &len);
	struct snap_image *img = img_alloc();
	struct kv_err err = {0};
	assert_int_equal(snap_parse(buf, len, img, &err), 0);
	struct snap_manifest want;
	manifest(&want, &v);
	assert_string_equal(img->man.kvbox_version, "0.1.0");
	assert_string_equal(img->man.kernel_path, "/boot/vmlinux");
	assert_memory_equal(img->man.kernel_sha256, want.kernel_sha256, 32);
	assert_memory_equal(img->man.mem_sum, want.mem_sum, 32);
	assert_int_equal(img->man.mem_bytes, want.mem_bytes);
	assert_int_equal(img->man.ncpus, 1);
	assert_int_equal(img->man.nvirtio, 1);
	assert_int_equal(img->man.tsc_khz, 2000000);
	assert_int_equal(img->man.created, 1700000000);
	const struct snap_section *s = snap_find(img, SNAP_SEC_MSRS, 0);
	assert_non_null(s);
	assert_int_equal(s->len, 3 * sizeof(struct kvm_msr_entry));
	struct kvm_msr_entry e;
	memcpy(&e, s->data, sizeof(e));
	assert_int_equal(e.index, 0x10);
	assert_int_equal(e.data, 7);
	assert_null(snap_find(img, SNAP_SEC_FPU, 0));
	s = snap_find(img, SNAP_SEC_VIRTIO, 0);
	struct snap_virtio got;
	assert_int_equal(snap_virtio_decode(s->data, s->len, &got, &err), 0);
	assert_memory_equal(&got, &rng_state, sizeof(got));
	s = snap_find(img, SNAP_SEC_UART, 0);
	struct snap_uart u;
	assert_int_equal(snap_uart_decode(s->data, s->len, &u, &err), 0);
	assert_int_equal(u.rx_count, 2);
	assert_int_equal(u.rx[1], 'i');
	free(img);
	free(buf);
}

static void test_every_truncation(void **state)
{
	(void)state;
	struct variant v = {0};
	size_t len;
	uint8_t *buf = build_image(&v, &len);
	struct snap_image *img = img_alloc();
	for (size_t n = 0; n < len; n++) {
		struct kv_err err = {0};
		if (snap_parse(buf, n, img, &err) == 0)
			fail_msg("a file cut to %zu of %zu bytes parsed", n, len);
		assert_true(err.msg[0] && !strchr(err.msg, '\n'));
	}
	free(img);
	free(buf);
}

static void test_every_flipped_byte(void **state)
{
	(void)state;
	struct variant v = {0};
	size_t len;
	uint8_t *buf = build_image(&v, &len);
	struct snap_image *img = img_alloc();
	for (size_t i = 0; i < len; i++) {
		struct kv_err err = {0};
		buf[i] ^= 0x01;
		if (snap_parse(buf, len, img, &err) == 0)
			fail_msg("a file with byte %zu flipped parsed", i);
		assert_true(err.msg[0] && !strchr(err.msg, '\n'));
		buf[i] ^= 0x01;
	}
	free(img);
	free(buf);
}

static void test_structure_errors(void **state)
{
	(void)state;
	expect_variant_error(&(struct variant){.skip_type = SNAP_SEC_LAPIC},
			     "missing LAPIC section of vCPU 0");
	expect_variant_error(&(struct variant){.skip_type = SNAP_SEC_PIT}, "missing PIT section");
	expect_variant_error(&(struct variant){.skip_type = SNAP_SEC_MEMSUMS},
			     "missing memory block sums section 0");
	expect_variant_error(&(struct variant){.bad_size_type = SNAP_SEC_MEMSUMS},
			     "memory block sums: 2055 bytes, expected 2056 for 256 blocks of "
			     "65536 bytes");
	expect_variant_error(&(struct variant){.sum_block = 4096},
			     "memory block sums: blocks of 4096 bytes (reserved 0), this kvbox "
			     "sums blocks of 65536");
	expect_variant_error(&(struct variant){.skip_type = SNAP_SEC_VIRTIO},
			     "missing virtio section 0");
	expect_variant_error(&(struct variant){.skip_type = SNAP_SEC_XSAVE},
			     "vCPU 0 has neither XSAVE nor FPU state");
	expect_variant_error(&(struct variant){.skip_type = SNAP_SEC_MANIFEST},
			     "the first section is not the manifest");
	expect_variant_error(&(struct variant){.dup_type = SNAP_SEC_REGS},
			     "duplicate registers section 0");
	expect_variant_error(&(struct variant){.bad_size_type = SNAP_SEC_SREGS},
			     "(special registers 0): 311 bytes, expected 312");
	expect_variant_error(&(struct variant){.extra_type = SNAP_SEC_LAPIC, .extra_index = 1},
			     "LAPIC section for index 1 (at most 1)");
	expect_variant_error(&(struct variant){.extra_type = SNAP_SEC_VIRTIO, .extra_index = 1},
			     "virtio section for index 1 (at most 1)");
	expect_variant_error(&(struct variant){.extra_type = 77}, "unknown type 77");
	expect_variant_error(&(struct variant){.skip_type = SNAP_SEC_CPUID, .ncpus = 2},
			     "missing CPUID section of vCPU 0");
	/* two vCPUs, complete: fine */
	size_t len;
	uint8_t *buf = build_image(&(struct variant){.ncpus = 2}, &len);
	struct snap_image *img = img_alloc();
	struct kv_err err = {0};
	assert_int_equal(snap_parse(buf, len, img, &err), 0);
	assert_non_null(snap_find(img, SNAP_SEC_EVENTS, 1));
	free(img);
	free(buf);
}

/* A checkpoint's own sections: only in a checkpoint, which must have its
 * sandbox record; per-slot ones within the manifest's devices. */
static void test_checkpoint_sections(void **state)
{
	(void)state;
	expect_variant_error(&(struct variant){.extra_type = SNAP_SEC_P9},
			     "9P session section in an image that is not a checkpoint");
	expect_variant_error(&(struct variant){.extra_type = SNAP_SEC_VSOCK},
			     "vsock connections section in an image that is not a checkpoint");
	expect_variant_error(&(struct variant){.extra_type = SNAP_SEC_SANDBOX},
			     "sandbox record section in an image that is not a checkpoint");
	expect_variant_error(&(struct variant){.machine = SNAP_MACHINE_CHECKPOINT},
			     "a checkpoint without its sandbox record");
	expect_variant_error(
	    &(struct variant){.machine = SNAP_MACHINE_CHECKPOINT | SNAP_MACHINE_TEMPLATE,
			      .extra_type = SNAP_SEC_SANDBOX},
	    "both a template and a checkpoint");
	expect_variant_error(&(struct variant){.machine = SNAP_MACHINE_CHECKPOINT,
					       .extra_type = SNAP_SEC_SANDBOX,
					       .extra2_type = SNAP_SEC_VSOCK,
					       .extra2_index = 1},
			     "vsock connections section for index 1 (at most 1)");
	expect_variant_error(&(struct variant){.machine = SNAP_MACHINE_CHECKPOINT,
					       .extra_type = SNAP_SEC_SANDBOX,
					       .extra_index = 1},
			     "sandbox record section for index 1 (at most 1)");
	size_t len;
	uint8_t *buf = build_image(&(struct variant){.machine = SNAP_MACHINE_CHECKPOINT,
						     .extra_type = SNAP_SEC_SANDBOX,
						     .extra2_type = SNAP_SEC_P9},
				   &len);
	struct snap_image *img = img_alloc();
	struct kv_err err = {0};
	assert_int_equal(snap_parse(buf, len, img, &err), 0);
	assert_non_null(snap_find(img, SNAP_SEC_SANDBOX, 0));
	assert_non_null(snap_find(img, SNAP_SEC_P9, 0));
	free(img);
	free(buf);
}

/* Rewrites a header field and its checksum, as another writer would. */
static void reheader(uint8_t *buf, size_t off, uint32_t val)
{
	memcpy(buf + off, &val, 4);
	uint8_t sum[32];
	snap_sum(buf, 24, sum);
	memcpy(buf + 24, sum, 8);
}

/* Rewrites the manifest's payload bytes [off, off+n) and its checksum. */
static void remanifest(uint8_t *buf, size_t off, const void *data, size_t n)
{
	uint64_t len;
	memcpy(&len, buf + SNAP_HEADER_LEN + 8, 8);
	uint8_t *payload = buf + SNAP_HEADER_LEN + SNAP_SECTION_HDR;
	memcpy(payload + off, data, n);
	snap_sum(payload, len, buf + SNAP_HEADER_LEN + 16);
}

static void test_header_and_manifest(void **state)
{
	(void)state;
	struct variant v = {0};
	size_t len;
	uint8_t *buf = build_image(&v, &len);
	expect_error(buf, 10, "not even a header");
	uint8_t *copy = malloc(len);
	memcpy(copy, buf, len);
	reheader(copy, 8, 3);
	expect_error(copy, len, "format version 3, this kvbox reads version 4 only");
	memcpy(copy, buf, len);
	reheader(copy, 8, 5);
	expect_error(copy, len, "format version 5, this kvbox reads version 4 only");
	memcpy(copy, buf, len);
	reheader(copy, 12, 100000);
	expect_error(copy, len, "100000 sections");
	memcpy(copy, buf, len);
	copy[0] = 'X';
	expect_error(copy, len, "not a kvbox snapshot");
	/* manifest: ncpus (offset 32+256+32+8+32+8+8 = 376) = 0, then 65 */
	uint32_t zero = 0, many = 65, flags = 0x80;
	memcpy(copy, buf, len);
	remanifest(copy, 376, &zero, 4);
	expect_error(copy, len, "manifest: 0 vCPUs");
	memcpy(copy, buf, len);
	remanifest(copy, 376, &many, 4);
	expect_error(copy, len, "manifest: 65 vCPUs");
	memcpy(copy, buf, len);
	remanifest(copy, 380, &flags, 4);
	expect_error(copy, len, "unknown machine flags 0x80");
	memcpy(copy, buf, len);
	remanifest(copy, 0, "0.1.0\x01", 6);
	expect_error(copy, len, "text field");
	/* a file with bytes after the last section */
	uint8_t *longer = calloc(1, len + 8);
	memcpy(longer, buf, len);
	expect_error(longer, len + 8, "truncated or extended");
	free(longer);
	free(copy);
	free(buf);
}

static void test_device_encodings(void **state)
{
	(void)state;
	struct kv_err err = {0};
	struct snap_uart u = {.ier = 0x0f, .rx_head = 63, .rx_count = 64, .irq_level = 1};
	uint8_t ub[SNAP_UART_LEN];
	snap_uart_encode(&u, ub);
	struct snap_uart back;
	assert_int_equal(snap_uart_decode(ub, sizeof(ub), &back, &err), 0);
	assert_memory_equal(&u, &back, sizeof(u));
	ub[11] = 64; /* rx_head out of the FIFO */
	assert_true(snap_uart_decode(ub, sizeof(ub), &back, &err) < 0);
	assert_true(snap_uart_decode(ub, sizeof(ub) - 1, &back, &err) < 0);

	uint8_t vb[SNAP_VIRTIO_HDR_LEN + SNAP_VQ_MAX * SNAP_VQ_LEN];
	struct snap_virtio v = rng_state, out;
	size_t n = snap_virtio_encode(&v, vb);
	assert_int_equal(n, SNAP_VIRTIO_HDR_LEN + SNAP_VQ_LEN);
	assert_int_equal(snap_virtio_decode(vb, n, &out, &err), 0);
	assert_true(snap_virtio_decode(vb, n - 1, &out, &err) < 0);
	v.features |= 1ULL << 5; /* not offered */
	n = snap_virtio_encode(&v, vb);
	assert_true(snap_virtio_decode(vb, n, &out, &err) < 0);
	assert_non_null(strstr(err.msg, "beyond those offered"));
	v = rng_state;
	v.q[0].size = 512; /* > max_size 256 */
	n = snap_virtio_encode(&v, vb);
	assert_true(snap_virtio_decode(vb, n, &out, &err) < 0);
	v = rng_state;
	v.nqueues = 5;
	n = snap_virtio_encode(&v, vb);
	assert_true(snap_virtio_decode(vb, n, &out, &err) < 0);
}

static void test_writer_limits(void **state)
{
	(void)state;
	struct snap_writer w;
	snap_writer_init(&w);
	uint8_t *big = calloc(1, SNAP_SECTION_MAX + 1);
	snap_writer_add(&w, SNAP_SEC_XSAVE, 0, big, SNAP_SECTION_MAX + 1);
	assert_int_equal(snap_writer_finish(&w), -EFBIG);
	snap_writer_free(&w);
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),		cmocka_unit_test(test_every_truncation),
	    cmocka_unit_test(test_every_flipped_byte),	cmocka_unit_test(test_structure_errors),
	    cmocka_unit_test(test_header_and_manifest), cmocka_unit_test(test_device_encodings),
	    cmocka_unit_test(test_writer_limits),	cmocka_unit_test(test_checkpoint_sections),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
