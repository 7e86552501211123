/* SPDX-License-Identifier: Apache-2.0 */
/*
 * boot_x86_setup() and its builders against fake guest memory: the e820
 * map for small and >3 GiB guests, boot_params after a bzImage setup,
 * command-line and initrd limits, the MP table (checksums, entries for 1,
 * 2 and the maximum vCPUs, too many vCPUs), PVH start info and memmap,
 * the identity page tables, and the KVM register state for both modes.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "boot/boot.h"
#include "boot/x86_layout.h"
#include "test_boot_build.h"

#define RAM_SIZE (64ULL << 20)

struct fixture {
	uint8_t *ram;
	struct guest_mem mem;
	uint8_t file[0x10000];
	struct kernel_image k;
	struct x86_boot_cpu bsp;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->ram = malloc(RAM_SIZE);
	assert_non_null(f->ram);
	memset(f->ram, 0xee, RAM_SIZE); /* so zero-filling is visible */
	guest_mem_fake(&f->mem, f->ram, RAM_SIZE);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	free(f->ram);
	free(f);
	return 0;
}

static void parse_bzimage(struct fixture *f, void (*patch)(uint8_t *file))
{
	size_t len = tb_make_bzimage(f->file, 0x1000);
	if (patch)
		patch(f->file);
	struct kv_err err = {0};
	assert_int_equal(kernel_image_parse(f->file, len, &f->k, &err), 0);
}

static void parse_elf(struct fixture *f, const struct tb_elf *s)
{
	size_t len = tb_make_elf(f->file, s);
	assert_int_equal(kernel_image_parse(f->file, len, &f->k, NULL), 0);
}

static int run_setup(struct fixture *f, const struct boot_config *cfg, struct kv_err *err)
{
	return boot_x86_setup(&f->mem, &f->k, cfg, &f->bsp, err);
}

static void expect_err(int r, const struct kv_err *err, int code, const char *needle)
{
	if (r != -code || !strstr(err->msg, needle))
		print_error("got %d \"%s\", wanted %d with \"%s\"\n", r, err->msg, -code, needle);
	assert_int_equal(r, -code);
	assert_non_null(strstr(err->msg, needle));
}

/* ---- e820 ---- */

static void e820_small_ram(void **state)
{
	struct fixture *f = *state;
	struct e820_entry_kv e[8];
	assert_int_equal(x86_e820_build(&f->mem, e, 8), 3);
	assert_true(e[0].addr == 0 && e[0].size == 0x9fc00 && e[0].type == 1);
	assert_true(e[1].addr == 0x9fc00 && e[1].size == 0x100000 - 0x9fc00 && e[1].type == 2);
	assert_true(e[2].addr == 0x100000 && e[2].size == RAM_SIZE - 0x100000 && e[2].type == 1);
	assert_int_equal(x86_e820_build(&f->mem, e, 2), 2);

	struct guest_mem tiny;
	guest_mem_fake(&tiny, NULL, 0x80000);
	assert_int_equal(x86_e820_build(&tiny, e, 8), 1);
	assert_true(e[0].addr == 0 && e[0].size == 0x80000);
}

static void e820_above_4g(void **state)
{
	struct guest_mem m;
	guest_mem_fake(&m, NULL, 4ULL << 30);
	m.regions[0].size = X86_MMIO_HOLE_START;
	m.regions[1] = (struct guest_region){.gpa = 1ULL << 32, .size = 1ULL << 30};
	m.nregions = 2;
	struct e820_entry_kv e[8];
	assert_int_equal(x86_e820_build(&m, e, 8), 4);
	assert_true(e[2].addr == 0x100000 && e[2].size == X86_MMIO_HOLE_START - 0x100000);
	assert_true(e[3].addr == 1ULL << 32 && e[3].size == 1ULL << 30 && e[3].type == 1);
}

/* ---- bzImage ---- */

static void bz_boot_params(void **state)
{
	struct fixture *f = *state;
	static const uint8_t initrd[10000] = {1, 2, 3};
	struct boot_config cfg = {.cmdline = "console=ttyS0 quiet",
				  .initrd = initrd,
				  .initrd_len = sizeof(initrd),
				  .ncpus = 2};
	struct kv_err err = {0};
	parse_bzimage(f, NULL);
	assert_int_equal(run_setup(f, &cfg, &err), 0);

	struct boot_params bp;
	assert_int_equal(guest_mem_read(&f->mem, X86_ZERO_PAGE_ADDR, &bp, sizeof(bp)), 0);
	assert_int_equal(bp.hdr.header, 0x53726448);
	assert_int_equal(bp.hdr.version, 0x020f);
	assert_int_equal(bp.hdr.type_of_loader, 0xff);
	assert_true(bp.hdr.loadflags & CAN_USE_HEAP);
	assert_true(bp.hdr.loadflags & LOADED_HIGH);
	assert_int_equal(bp.hdr.heap_end_ptr, 0xfe00);
	assert_int_equal(bp.hdr.cmd_line_ptr, X86_CMDLINE_ADDR);
	assert_string_equal((char *)f->ram + X86_CMDLINE_ADDR, cfg.cmdline);
	uint64_t want_rd = (RAM_SIZE - sizeof(initrd)) & ~0xfffULL;
	assert_int_equal(bp.hdr.ramdisk_image, want_rd);
	assert_int_equal(bp.hdr.ramdisk_size, sizeof(initrd));
	assert_memory_equal(f->ram + want_rd, initrd, sizeof(initrd));
	assert_int_equal(bp.e820_entries, 3);
	assert_int_equal(bp.e820_table[2].addr, 0x100000);
	assert_int_equal(bp.e820_table[2].size, RAM_SIZE - 0x100000);
	assert_memory_equal(f->ram + TB_BZ_PREF, f->file + TB_BZ_SETUP, 0x1000);

	assert_true(f->bsp.long_mode);
	assert_int_equal(f->bsp.rip, TB_BZ_PREF + 0x200);
	assert_int_equal(f->bsp.rsi, X86_ZERO_PAGE_ADDR);
	assert_int_equal(f->bsp.cr3, X86_PML4_ADDR);
	assert_int_equal(f->bsp.gdt_base, X86_GDT_ADDR);
	assert_int_equal(f->bsp.gdt_limit, 6 * 8 - 1);
}

static void small_cmdline_size(uint8_t *file)
{
	TB_BZ_HDR(file)->cmdline_size = 16;
}

static void bz_cmdline_too_long(void **state)
{
	struct fixture *f = *state;
	struct boot_config cfg = {.cmdline = "0123456789abcdef", .ncpus = 1};
	struct kv_err err = {0};
	parse_bzimage(f, small_cmdline_size);
	expect_err(run_setup(f, &cfg, &err), &err, E2BIG, "16 bytes; this kernel accepts fewer");
	cfg.cmdline = "0123456789abcde";
	assert_int_equal(run_setup(f, &cfg, &err), 0);

	char *huge = malloc(X86_CMDLINE_MAX + 1);
	assert_non_null(huge);
	memset(huge, 'x', X86_CMDLINE_MAX);
	huge[X86_CMDLINE_MAX] = 0;
	cfg.cmdline = huge;
	expect_err(run_setup(f, &cfg, &err), &err, E2BIG, "at most 65535");
	free(huge);
}

static void low_initrd_max(uint8_t *file)
{
	TB_BZ_HDR(file)->initrd_addr_max = 0x1ffffff;
}

static void bz_initrd_placement(void **state)
{
	struct fixture *f = *state;
	static const uint8_t initrd[0x3001] = {9};
	struct boot_config cfg = {
	    .cmdline = "", .initrd = initrd, .initrd_len = sizeof(initrd), .ncpus = 1};
	struct kv_err err = {0};
	parse_bzimage(f, low_initrd_max);
	assert_int_equal(run_setup(f, &cfg, &err), 0);
	struct boot_params *bp = (struct boot_params *)(f->ram + X86_ZERO_PAGE_ADDR);
	assert_int_equal(bp->hdr.ramdisk_image, (0x2000000 - sizeof(initrd)) & ~0xfffULL);
	assert_int_equal(bp->hdr.ramdisk_image % 4096, 0);
	assert_true(bp->hdr.ramdisk_image + bp->hdr.ramdisk_size <= 0x2000000);

	/* No initrd: both fields zero. */
	cfg.initrd = NULL, cfg.initrd_len = 0;
	assert_int_equal(run_setup(f, &cfg, &err), 0);
	assert_int_equal(bp->hdr.ramdisk_image, 0);
	assert_int_equal(bp->hdr.ramdisk_size, 0);
}

static void bz_initrd_too_large(void **state)
{
	struct fixture *f = *state;
	/* The length is refused before a byte is read: a small buffer will do. */
	static const uint8_t initrd[16];
	struct boot_config cfg = {
	    .cmdline = "", .initrd = initrd, .initrd_len = 48ULL << 20, .ncpus = 1};
	struct kv_err err = {0};
	parse_bzimage(f, NULL);
	expect_err(run_setup(f, &cfg, &err), &err, ENOMEM, "initrd: 50331648 bytes do not fit");
	parse_bzimage(f, low_initrd_max); /* below the kernel's own limit: 16 MiB above it */
	cfg.initrd_len = 17ULL << 20;
	expect_err(run_setup(f, &cfg, &err), &err, ENOMEM, "initrd:");
}

static void bz_kernel_too_big_for_ram(void **state)
{
	struct fixture *f = *state;
	struct boot_config cfg = {.cmdline = "", .ncpus = 1};
	struct kv_err err = {0};
	parse_bzimage(f, NULL);
	guest_mem_fake(&f->mem, f->ram, 16ULL << 20); /* ends exactly at pref_address */
	expect_err(run_setup(f, &cfg, &err), &err, ENOMEM,
		   "needs 0x2000 bytes of RAM at 0x1000000");
	guest_mem_fake(&f->mem, f->ram, 1ULL << 20);
	expect_err(run_setup(f, &cfg, &err), &err, ENOMEM, "more than 1 MiB");
}

/* ---- MP table ---- */

static uint8_t sum8(const uint8_t *p, size_t n)
{
	uint8_t s = 0;
	while (n--)
		s += *p++;
	return s;
}

static size_t mp_entry_size(uint8_t type)
{
	return type == 0 ? 20 : 8;
}

static void check_mptable(struct fixture *f, unsigned ncpus)
{
	struct kv_err err = {0};
	assert_int_equal(x86_write_mptable(&f->mem, ncpus, &err), 0);
	const uint8_t *fp = f->ram + X86_EBDA_ADDR;
	assert_memory_equal(fp, "_MP_", 4);
	assert_int_equal(sum8(fp, 16), 0);
	uint32_t physptr;
	memcpy(&physptr, fp + 4, 4);
	assert_int_equal(physptr, X86_EBDA_ADDR + 16);
	const uint8_t *t = f->ram + physptr;
	uint16_t len, count;
	memcpy(&len, t + 4, 2);
	memcpy(&count, t + 34, 2);
	assert_memory_equal(t, "PCMP", 4);
	assert_int_equal(sum8(t, len), 0);
	assert_int_equal(count, ncpus + 28);

	unsigned cpus = 0, bsps = 0, ints = 0;
	size_t off = 44;
	for (unsigned i = 0; i < count; i++) {
		const uint8_t *e = t + off;
		if (e[0] == 0) {
			assert_int_equal(e[1], cpus); /* APIC id = vCPU index */
			assert_true(e[3] & 1);
			bsps += (e[3] & 2) != 0;
			cpus++;
		} else if (e[0] == 2) {
			uint32_t addr;
			memcpy(&addr, e + 4, 4);
			assert_int_equal(e[1], ncpus);
			assert_int_equal(e[2], 0x11);
			assert_int_equal(addr, X86_IOAPIC_ADDR);
		} else if (e[0] == 3) {
			assert_int_equal(e[5], e[7]); /* pin = irq */
			assert_int_equal(e[6], ncpus);
			ints++;
		}
		off += mp_entry_size(e[0]);
	}
	assert_int_equal(off, len);
	assert_int_equal(cpus, ncpus);
	assert_int_equal(bsps, 1);
	assert_int_equal(ints, 24);
}

static void mptable_cpus(void **state)
{
	check_mptable(*state, 1);
	check_mptable(*state, 2);
	check_mptable(*state, X86_MAX_VCPUS);
}

static void mptable_limits(void **state)
{
	struct fixture *f = *state;
	struct kv_err err = {0};
	expect_err(x86_write_mptable(&f->mem, X86_MAX_VCPUS + 1, &err), &err, EINVAL,
		   "255 vCPUs requested; between 1 and 254");
	expect_err(x86_write_mptable(&f->mem, 0, &err), &err, EINVAL, "0 vCPUs");
	guest_mem_fake(&f->mem, f->ram, X86_EBDA_ADDR + 0x100);
	expect_err(x86_write_mptable(&f->mem, 4, &err), &err, ENOMEM, "MP table: 0x9fc00");
}

/* ---- PVH ---- */

static void pvh_start_info(void **state)
{
	struct fixture *f = *state;
	static const uint8_t initrd[5000] = {7};
	struct boot_config cfg = {
	    .cmdline = "console=ttyS0", .initrd = initrd, .initrd_len = sizeof(initrd), .ncpus = 1};
	struct kv_err err = {0};
	struct tb_elf s = tb_elf_default(true);
	parse_elf(f, &s);
	assert_int_equal(run_setup(f, &cfg, &err), 0);

	const uint8_t *si = f->ram + X86_PVH_INFO_ADDR;
	uint32_t u32[4];
	uint64_t u64[4];
	memcpy(u32, si, 16);
	memcpy(u64, si + 16, 32);
	assert_int_equal(u32[0], 0x336ec578);
	assert_int_equal(u32[1], 1);
	assert_int_equal(u32[3], 1); /* nr_modules */
	assert_int_equal(u64[1], X86_CMDLINE_ADDR);
	uint64_t mod[2];
	memcpy(mod, f->ram + u64[0], sizeof(mod));
	assert_int_equal(mod[0], (RAM_SIZE - sizeof(initrd)) & ~0xfffULL);
	assert_int_equal(mod[1], sizeof(initrd));
	assert_memory_equal(f->ram + mod[0], initrd, sizeof(initrd));

	uint32_t nmap;
	memcpy(&nmap, si + 48, 4);
	assert_int_equal(nmap, 3);
	const uint8_t *map = f->ram + u64[3];
	uint64_t addr, size;
	uint32_t type;
	memcpy(&addr, map + 24, 8), memcpy(&size, map + 32, 8), memcpy(&type, map + 40, 4);
	assert_true(addr == 0x9fc00 && size == 0x100000 - 0x9fc00 && type == 2);

	/* Segment copied, bss zeroed. */
	assert_memory_equal(f->ram + 0x100000, f->file + TB_ELF_DATA_OFF, 0x1000);
	for (size_t i = 0x1000; i < 0x2000; i++)
		assert_int_equal(f->ram[0x100000 + i], 0);
	assert_false(f->bsp.long_mode);
	assert_int_equal(f->bsp.rip, 0x100000);
	assert_int_equal(f->bsp.rbx, X86_PVH_INFO_ADDR);
}

static void pvh_no_initrd_and_bad_segments(void **state)
{
	struct fixture *f = *state;
	struct boot_config cfg = {.cmdline = "", .ncpus = 1};
	struct kv_err err = {0};
	struct tb_elf s = tb_elf_default(false);
	parse_elf(f, &s);
	assert_int_equal(run_setup(f, &cfg, &err), 0);
	uint32_t nr_modules;
	memcpy(&nr_modules, f->ram + X86_PVH_INFO_ADDR + 12, 4);
	assert_int_equal(nr_modules, 0);

	s.paddr = s.entry = 0x8000;
	parse_elf(f, &s);
	expect_err(run_setup(f, &cfg, &err), &err, EINVAL, "below 1 MiB");
	s.paddr = s.entry = RAM_SIZE - 0x1000;
	parse_elf(f, &s);
	expect_err(run_setup(f, &cfg, &err), &err, ENOMEM, "outside guest RAM");
}

/* ---- page tables and registers ---- */

static uint64_t walk(const uint8_t *ram, uint64_t va)
{
	uint64_t e;
	memcpy(&e, ram + X86_PML4_ADDR + ((va >> 39) & 511) * 8, 8);
	assert_true(e & 1);
	memcpy(&e, ram + (e & ~0xfffULL) + ((va >> 30) & 511) * 8, 8);
	assert_true(e & 1);
	memcpy(&e, ram + (e & ~0xfffULL) + ((va >> 21) & 511) * 8, 8);
	assert_true((e & 0x83) == 0x83); /* present, rw, 2 MiB */
	return (e & ~0x1fffffULL & 0xffffffffffULL) | (va & 0x1fffff);
}

static void page_tables_identity_4g(void **state)
{
	struct fixture *f = *state;
	struct boot_config cfg = {.cmdline = "", .ncpus = 1};
	parse_bzimage(f, NULL);
	assert_int_equal(run_setup(f, &cfg, NULL), 0);
	static const uint64_t va[] = {0,	  0x1234,     0x200000,	  0x1000200,
				      0x40000000, 0xbfffffff, 0xfee00000, 0xffffffff};
	for (size_t i = 0; i < sizeof(va) / sizeof(va[0]); i++)
		assert_int_equal(walk(f->ram, va[i]), va[i]);
}

static void regs_and_sregs_long_mode(void **state)
{
	struct fixture *f = *state;
	struct boot_config cfg = {.cmdline = "", .ncpus = 1};
	parse_bzimage(f, NULL);
	assert_int_equal(run_setup(f, &cfg, NULL), 0);
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	memset(&regs, 0xff, sizeof(regs));
	memset(&sregs, 0, sizeof(sregs));
	x86_boot_regs(&f->bsp, &regs);
	x86_boot_sregs(&f->bsp, &sregs);
	assert_int_equal(regs.rflags, 2);
	assert_int_equal(regs.rip, TB_BZ_PREF + 0x200);
	assert_int_equal(regs.rsi, X86_ZERO_PAGE_ADDR);
	assert_int_equal(regs.rax, 0);
	assert_int_equal(sregs.cs.selector, 0x10);
	assert_true(sregs.cs.l && !sregs.cs.db && sregs.cs.present && sregs.cs.s);
	assert_int_equal(sregs.cs.type, 11);
	assert_int_equal(sregs.cs.limit, 0xffffffff);
	assert_int_equal(sregs.ds.selector, 0x18);
	assert_int_equal(sregs.ss.type, 3);
	assert_int_equal(sregs.tr.selector, 0x20);
	assert_int_equal(sregs.tr.type, 11);
	assert_int_equal(sregs.tr.limit, 0x67);
	assert_int_equal(sregs.gdt.base, X86_GDT_ADDR);
	assert_int_equal(sregs.cr3, X86_PML4_ADDR);
	assert_true((sregs.cr0 & 0x80000001) == 0x80000001);
	assert_int_equal(sregs.cr4 & 0x20, 0x20);
	assert_int_equal(sregs.efer & 0x500, 0x500);

	/* The GDT in guest memory holds what sregs describe. */
	uint64_t desc;
	memcpy(&desc, f->ram + X86_GDT_ADDR + 0x10, 8);
	assert_int_equal((desc >> 53) & 1, 1); /* L */
	assert_int_equal((desc >> 40) & 0xff, 0x9b);
}

static void regs_and_sregs_pvh(void **state)
{
	struct fixture *f = *state;
	struct boot_config cfg = {.cmdline = "", .ncpus = 1};
	struct tb_elf s = tb_elf_default(true);
	parse_elf(f, &s);
	assert_int_equal(run_setup(f, &cfg, NULL), 0);
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	memset(&sregs, 0xff, sizeof(sregs));
	x86_boot_regs(&f->bsp, &regs);
	x86_boot_sregs(&f->bsp, &sregs);
	assert_int_equal(regs.rip, 0x100000);
	assert_int_equal(regs.rbx, X86_PVH_INFO_ADDR);
	assert_int_equal(sregs.cs.selector, 0x08);
	assert_true(!sregs.cs.l && sregs.cs.db && sregs.cs.g);
	assert_int_equal(sregs.cs.base, 0);
	assert_int_equal(sregs.cs.limit, 0xffffffff);
	assert_int_equal(sregs.es.selector, 0x18);
	assert_true(sregs.es.db);
	assert_int_equal(sregs.cr0, 0x11); /* PE | ET */
	assert_int_equal(sregs.cr4, 0);
	assert_int_equal(sregs.efer, 0);
	uint64_t desc;
	memcpy(&desc, f->ram + X86_GDT_ADDR + 0x08, 8);
	assert_int_equal((desc >> 54) & 1, 1); /* D */
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(e820_small_ram),
	    T(e820_above_4g),
	    T(bz_boot_params),
	    T(bz_cmdline_too_long),
	    T(bz_initrd_placement),
	    T(bz_initrd_too_large),
	    T(bz_kernel_too_big_for_ram),
	    T(mptable_cpus),
	    T(mptable_limits),
	    T(pvh_start_info),
	    T(pvh_no_initrd_and_bad_segments),
	    T(page_tables_identity_4g),
	    T(regs_and_sregs_long_mode),
	    T(regs_and_sregs_pvh),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
