/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kernel_image_parse(): valid bzImage, ELF64 and ELF32 PVH kernels parse
 * into the right fields; each kind of broken file (truncated, wrong magic,
 * old protocol, no 64-bit entry, oversized, missing PVH note, headers or
 * notes or segments outside the file) fails with the right code and a
 * message naming what is wrong.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "boot/boot.h"
#include "test_boot_build.h"

#define PAYLOAD 0x1000
static uint8_t buf[0x10000];

static void expect_fail(const uint8_t *data, size_t len, int code, const char *needle)
{
	struct kernel_image k;
	struct kv_err err = {0};
	int r = kernel_image_parse(data, len, &k, &err);
	if (r != -code || !strstr(err.msg, needle))
		print_error("got %d \"%s\", wanted %d with \"%s\"\n", r, err.msg, -code, needle);
	assert_int_equal(r, -code);
	assert_non_null(strstr(err.msg, needle));
	assert_null(strchr(err.msg, '\n'));
}

static void bz_without_version_is_not_linux(void **state)
{
	size_t len = tb_make_bzimage(buf, PAYLOAD);
	TB_BZ_HDR(buf)->kernel_version = 0;
	struct kernel_image k;
	assert_int_equal(kernel_image_parse(buf, len, &k, NULL), 0);
	assert_false(k.is_linux);
	/* a version offset pointing past the setup code is not trusted */
	TB_BZ_HDR(buf)->kernel_version = 0xfff0;
	assert_int_equal(kernel_image_parse(buf, len, &k, NULL), 0);
	assert_false(k.is_linux);
}

static void bz_valid(void **state)
{
	size_t len = tb_make_bzimage(buf, PAYLOAD);
	struct kernel_image k;
	struct kv_err err = {0};
	assert_int_equal(kernel_image_parse(buf, len, &k, &err), 0);
	assert_int_equal(k.kind, KERNEL_BZIMAGE);
	assert_true(k.is_linux);
	assert_false(k.pvm_guest);
	assert_int_equal(k.protocol, 0x020f);
	assert_int_equal(k.setup_size, TB_BZ_SETUP);
	assert_int_equal(k.cmdline_max, 2047);
	assert_int_equal(k.initrd_max, 0x7fffffff);
	assert_int_equal(k.load_addr, TB_BZ_PREF);
	assert_ptr_equal(k.data, buf);
	assert_int_equal(k.len, len);
}

static void bz_not_relocatable_loads_at_1m(void **state)
{
	size_t len = tb_make_bzimage(buf, PAYLOAD);
	TB_BZ_HDR(buf)->relocatable_kernel = 0;
	struct kernel_image k;
	assert_int_equal(kernel_image_parse(buf, len, &k, NULL), 0);
	assert_int_equal(k.load_addr, 0x100000);
}

static void bz_setup_sects_zero_means_four(void **state)
{
	size_t len = tb_make_bzimage(buf, PAYLOAD);
	TB_BZ_HDR(buf)->setup_sects = 0;
	struct kernel_image k;
	assert_int_equal(kernel_image_parse(buf, len, &k, NULL), 0);
	assert_int_equal(k.setup_size, 5 * 512);
}

static void bz_truncated(void **state)
{
	size_t len = tb_make_bzimage(buf, PAYLOAD);
	(void)len;
	expect_fail(buf, 0, ENOEXEC, "too short");
	expect_fail(buf, 0x100, ENOEXEC, "too short");
	expect_fail(buf, 0x210, ENOEXEC, "inside its setup header");
	expect_fail(buf, 0x400, ENOEXEC, "setup code alone is 2560");
	expect_fail(buf, TB_BZ_SETUP, ENOEXEC, "setup code alone");
	expect_fail(buf, TB_BZ_SETUP + PAYLOAD / 2, ENOEXEC, "syssize");
}

static void bz_wrong_magic(void **state)
{
	size_t len = tb_make_bzimage(buf, PAYLOAD);
	buf[0x202] = 'X';
	expect_fail(buf, len, ENOEXEC, "not HdrS");
	memset(buf, 0xa5, sizeof(buf));
	expect_fail(buf, sizeof(buf), ENOEXEC, "not a bzImage or vmlinux");
}

static void bz_bad_boot_flag(void **state)
{
	size_t len = tb_make_bzimage(buf, PAYLOAD);
	TB_BZ_HDR(buf)->boot_flag = 0x1234;
	expect_fail(buf, len, ENOEXEC, "boot_flag is 0x1234");
}

static void bz_protocol_too_old(void **state)
{
	size_t len = tb_make_bzimage(buf, PAYLOAD);
	TB_BZ_HDR(buf)->version = 0x0204;
	expect_fail(buf, len, ENOEXEC, "boot protocol 2.04 is too old");
	TB_BZ_HDR(buf)->version = 0x020a;
	expect_fail(buf, len, ENOEXEC, "2.10 has no 64-bit entry");
}

static void bz_no_64bit_entry(void **state)
{
	size_t len = tb_make_bzimage(buf, PAYLOAD);
	TB_BZ_HDR(buf)->xloadflags = 0;
	expect_fail(buf, len, ENOEXEC, "XLF_KERNEL_64");
}

static void bz_short_header_jump(void **state)
{
	size_t len = tb_make_bzimage(buf, PAYLOAD);
	TB_BZ_HDR(buf)->jump = 0x10eb;
	expect_fail(buf, len, ENOEXEC, "setup header ends at 0x212");
}

static void bz_oversized(void **state)
{
	size_t len = tb_make_bzimage(buf, PAYLOAD);
	TB_BZ_HDR(buf)->init_size = 0x80000000u;
	expect_fail(buf, len, EFBIG, "init_size");
	tb_make_bzimage(buf, PAYLOAD);
	expect_fail(buf, (512u << 20) + 1, EFBIG, "512 MiB limit");
}

static void bz_bad_load_address(void **state)
{
	size_t len = tb_make_bzimage(buf, PAYLOAD);
	TB_BZ_HDR(buf)->pref_address = 0x1000;
	expect_fail(buf, len, ENOEXEC, "load address 0x1000");
	TB_BZ_HDR(buf)->pref_address = 0xbfffff00ULL;
	expect_fail(buf, len, ENOEXEC, "does not fit between 1 MiB and 3 GiB");
}

static void elf_valid(bool is64)
{
	struct tb_elf s = tb_elf_default(is64);
	size_t len = tb_make_elf(buf, &s);
	struct kernel_image k;
	struct kv_err err = {0};
	assert_int_equal(kernel_image_parse(buf, len, &k, &err), 0);
	assert_int_equal(k.kind, KERNEL_PVH_ELF);
	assert_int_equal(k.pvh_entry, 0x100000);
	assert_int_equal(k.elf_lo, 0x100000);
	assert_int_equal(k.elf_hi, 0x101fff);
	assert_true(k.is_linux);
	assert_false(k.pvm_guest);
}

static void elf64_valid(void **state)
{
	elf_valid(true);
}

static void elf32_valid(void **state)
{
	elf_valid(false);
}

static void elf_without_linux_note(void **state)
{
	struct tb_elf s = tb_elf_default(true);
	s.linux_note = false;
	s.entry_size = 4; /* a 32-bit value in a 64-bit ELF is fine too */
	size_t len = tb_make_elf(buf, &s);
	struct kernel_image k;
	assert_int_equal(kernel_image_parse(buf, len, &k, NULL), 0);
	assert_false(k.is_linux);
}

static void elf_pvm_symbol(void **state)
{
	for (int is64 = 0; is64 < 2; is64++) {
		struct tb_elf s = tb_elf_default(is64);
		s.pvm_symbol = true;
		size_t len = tb_make_elf(buf, &s);
		struct kernel_image k;
		assert_int_equal(kernel_image_parse(buf, len, &k, NULL), 0);
		assert_true(k.pvm_guest);
		/* Any other name does not count. */
		char *name = memmem(buf, len, "pvm_early_setup", 15);
		assert_non_null(name);
		name[0] = 'q';
		assert_int_equal(kernel_image_parse(buf, len, &k, NULL), 0);
		assert_false(k.pvm_guest);
	}
}

static void elf_no_pvh_note(void **state)
{
	struct tb_elf s = tb_elf_default(true);
	s.pvh_note = false;
	size_t len = tb_make_elf(buf, &s);
	expect_fail(buf, len, ENOEXEC, "no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY)");
}

static void elf_phdrs_out_of_bounds(void **state)
{
	struct tb_elf s = tb_elf_default(true);
	size_t len = tb_make_elf(buf, &s);
	Elf64_Ehdr *e = (Elf64_Ehdr *)buf;
	e->e_phoff = len - 8;
	expect_fail(buf, len, ENOEXEC, "program headers at offset");
	e->e_phoff = UINT64_MAX - 8; /* offset + size would wrap */
	expect_fail(buf, len, ENOEXEC, "program headers at offset");
	e->e_phoff = sizeof(Elf64_Ehdr);
	e->e_phnum = 0xffff;
	expect_fail(buf, len, ENOEXEC, "65535 program headers");
	e->e_phnum = 0;
	expect_fail(buf, len, ENOEXEC, "no program headers");
	e->e_phnum = 2;
	e->e_phentsize = 12;
	expect_fail(buf, len, ENOEXEC, "e_phentsize 12");
}

static void elf_notes_out_of_bounds(void **state)
{
	struct tb_elf s = tb_elf_default(true);
	size_t len = tb_make_elf(buf, &s);
	Elf64_Phdr *note = (Elf64_Phdr *)(buf + sizeof(Elf64_Ehdr)) + 1;
	note->p_offset = len - 4;
	expect_fail(buf, len, ENOEXEC, "segment 1 (PT_NOTE)");
	note->p_offset = TB_ELF_NOTE_OFF;
	/* First note's namesz far past the segment. */
	uint32_t huge = 0xfffffff0u;
	memcpy(buf + TB_ELF_NOTE_OFF, &huge, 4);
	expect_fail(buf, len, ENOEXEC, "runs past its end");
	tb_make_elf(buf, &s);
	memcpy(buf + TB_ELF_NOTE_OFF + 4, &huge, 4); /* descsz */
	expect_fail(buf, len, ENOEXEC, "runs past its end");
}

static void elf_bad_entry_note(void **state)
{
	struct tb_elf s = tb_elf_default(true);
	s.entry_size = 2;
	size_t len = tb_make_elf(buf, &s);
	expect_fail(buf, len, ENOEXEC, "holds 2 bytes");
	s = tb_elf_default(true);
	s.entry = 0x5000;
	len = tb_make_elf(buf, &s);
	expect_fail(buf, len, ENOEXEC, "PVH entry 0x5000 is outside");
}

static void elf_segment_beyond_file(void **state)
{
	struct tb_elf s = tb_elf_default(false);
	size_t len = tb_make_elf(buf, &s);
	expect_fail(buf, len - 1, ENOEXEC, "segment 0 (PT_LOAD)");
	s = tb_elf_default(true);
	len = tb_make_elf(buf, &s);
	Elf64_Phdr *load = (Elf64_Phdr *)(buf + sizeof(Elf64_Ehdr));
	load->p_offset = UINT64_MAX - 0x10;
	expect_fail(buf, len, ENOEXEC, "runs past the end");
}

static void elf_absurd_segments(void **state)
{
	struct tb_elf s = tb_elf_default(true);
	s.memsz = (1ULL << 30) + 0x1000;
	size_t len = tb_make_elf(buf, &s);
	expect_fail(buf, len, EFBIG, "1 GiB limit");
	s = tb_elf_default(true);
	s.paddr = 0xfffff000ULL;
	s.entry = s.paddr;
	len = tb_make_elf(buf, &s);
	expect_fail(buf, len, ENOEXEC, "ends above 4 GiB");
	s = tb_elf_default(true);
	s.memsz = 0x10;
	len = tb_make_elf(buf, &s);
	expect_fail(buf, len, ENOEXEC, "p_filesz 0x1000 larger than p_memsz");
}

static void elf_wrong_machine_or_class(void **state)
{
	struct tb_elf s = tb_elf_default(true);
	size_t len = tb_make_elf(buf, &s);
	((Elf64_Ehdr *)buf)->e_machine = EM_AARCH64;
	expect_fail(buf, len, ENOEXEC, "e_machine 183");
	tb_make_elf(buf, &s);
	buf[EI_CLASS] = 7;
	expect_fail(buf, len, ENOEXEC, "class 7");
	tb_make_elf(buf, &s);
	expect_fail(buf, 40, ENOEXEC, "inside its 64-byte header");
	expect_fail(buf, 10, ENOEXEC, "ELF kernel: truncated");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(bz_valid),
	    cmocka_unit_test(bz_without_version_is_not_linux),
	    cmocka_unit_test(bz_not_relocatable_loads_at_1m),
	    cmocka_unit_test(bz_setup_sects_zero_means_four),
	    cmocka_unit_test(bz_truncated),
	    cmocka_unit_test(bz_wrong_magic),
	    cmocka_unit_test(bz_bad_boot_flag),
	    cmocka_unit_test(bz_protocol_too_old),
	    cmocka_unit_test(bz_no_64bit_entry),
	    cmocka_unit_test(bz_short_header_jump),
	    cmocka_unit_test(bz_oversized),
	    cmocka_unit_test(bz_bad_load_address),
	    cmocka_unit_test(elf64_valid),
	    cmocka_unit_test(elf32_valid),
	    cmocka_unit_test(elf_without_linux_note),
	    cmocka_unit_test(elf_pvm_symbol),
	    cmocka_unit_test(elf_no_pvh_note),
	    cmocka_unit_test(elf_phdrs_out_of_bounds),
	    cmocka_unit_test(elf_notes_out_of_bounds),
	    cmocka_unit_test(elf_bad_entry_note),
	    cmocka_unit_test(elf_segment_beyond_file),
	    cmocka_unit_test(elf_absurd_segments),
	    cmocka_unit_test(elf_wrong_machine_or_class),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
