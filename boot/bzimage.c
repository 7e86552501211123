/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Loading a bzImage for the 64-bit boot protocol (boot.rst, "64-bit BOOT
 * PROTOCOL"): the protected-mode part goes to load_addr with room for its
 * init_size, the initrd above it, and the "zero page" (struct boot_params)
 * at X86_ZERO_PAGE_ADDR carries the kernel's own setup header plus what the
 * loader fills in: loader type, heap, command line, initrd and e820 map.
 * The boot vCPU enters at load_addr + 0x200 in long mode with %rsi = zero
 * page.
 */
#include "boot/x86_internal.h"
#include "boot/x86_layout.h"

#include <errno.h>
#include <string.h>

#define BZ_LOADER_UNDEFINED 0xff   /* type_of_loader: not a registered loader */
#define BZ_HEAP_END	    0xfe00 /* offset from the real-mode segment */
#define BZ_ENTRY64_OFFSET   0x200

_Static_assert(sizeof(struct boot_params) == 4096, "boot_params is one page");

static int bz_check_cmdline(const struct kernel_image *k, const char *cmdline, struct kv_err *err)
{
	size_t len = strlen(cmdline);
	/* cmdline_size excludes the NUL; keep one byte spare like other loaders. */
	if (len >= k->cmdline_max)
		return kv_err_set(
		    err, E2BIG,
		    "kernel command line is %zu bytes; this kernel accepts fewer than "
		    "%u (cmdline_size)",
		    len, k->cmdline_max);
	return 0;
}

/* Copies the protected-mode kernel; *end is the first byte past the memory
 * it will use while booting (init_size covers decompression). */
static int bz_load_kernel(struct guest_mem *mem, const struct kernel_image *k,
			  const struct setup_header *h, uint64_t *end, struct kv_err *err)
{
	if (k->setup_size >= k->len)
		return kv_err_set(err, EINVAL, "kernel image: setup size %zu leaves no kernel",
				  k->setup_size);
	size_t payload = k->len - k->setup_size;
	uint64_t need = payload > h->init_size ? payload : h->init_size;
	uint8_t *dst = guest_mem_ptr(mem, k->load_addr, need);
	if (!dst || k->load_addr + need > guest_mem_low_end(mem))
		return kv_err_set(err, ENOMEM,
				  "kernel image: needs 0x%llx bytes of RAM at 0x%llx but guest RAM "
				  "below 4 GiB ends at 0x%llx",
				  (unsigned long long)need, (unsigned long long)k->load_addr,
				  (unsigned long long)guest_mem_low_end(mem));
	memcpy(dst, k->data + k->setup_size, payload);
	*end = k->load_addr + need;
	return 0;
}

static void bz_fill_e820(const struct guest_mem *mem, struct boot_params *bp)
{
	struct e820_entry_kv e[E820_MAX_ENTRIES_ZEROPAGE];
	unsigned n = x86_e820_build(mem, e, E820_MAX_ENTRIES_ZEROPAGE);
	for (unsigned i = 0; i < n; i++) {
		bp->e820_table[i].addr = e[i].addr;
		bp->e820_table[i].size = e[i].size;
		bp->e820_table[i].type = e[i].type;
	}
	bp->e820_entries = (uint8_t)n;
}

static int bz_write_zero_page(struct guest_mem *mem, const struct setup_header *h,
			      const struct initrd_place *rd, struct kv_err *err)
{
	struct boot_params bp;
	memset(&bp, 0, sizeof(bp));
	bp.hdr = *h;
	bp.hdr.type_of_loader = BZ_LOADER_UNDEFINED;
	bp.hdr.loadflags |= CAN_USE_HEAP;
	bp.hdr.heap_end_ptr = BZ_HEAP_END;
	bp.hdr.cmd_line_ptr = (uint32_t)X86_CMDLINE_ADDR;
	bp.hdr.ramdisk_image = (uint32_t)rd->addr;
	bp.hdr.ramdisk_size = (uint32_t)rd->len;
	bz_fill_e820(mem, &bp);
	if (guest_mem_write(mem, X86_ZERO_PAGE_ADDR, &bp, sizeof(bp)) < 0)
		return kv_err_set(err, ENOMEM, "zero page at 0x%llx is not guest RAM",
				  (unsigned long long)X86_ZERO_PAGE_ADDR);
	return 0;
}

int x86_bzimage_setup(struct guest_mem *mem, const struct kernel_image *k,
		      const struct boot_config *cfg, struct x86_boot_cpu *bsp, struct kv_err *err)
{
	struct setup_header h = {0};
	struct initrd_place rd = {0};
	uint64_t kernel_end = 0;

	int r = x86_bzimage_header(k, &h, err);
	if (r == 0)
		r = bz_check_cmdline(k, cfg->cmdline ? cfg->cmdline : "", err);
	if (r == 0)
		r = bz_load_kernel(mem, k, &h, &kernel_end, err);
	/* initrd_addr_max is the highest byte the initrd may occupy. */
	if (r == 0)
		r = x86_initrd_load(mem, cfg, kernel_end, (uint64_t)k->initrd_max + 1, &rd, err);
	if (r == 0)
		r = bz_write_zero_page(mem, &h, &rd, err);
	if (r < 0)
		return r;
	bsp->long_mode = true;
	bsp->rip = k->load_addr + BZ_ENTRY64_OFFSET;
	bsp->rsi = X86_ZERO_PAGE_ADDR;
	bsp->rbx = 0;
	bsp->rsp = X86_BOOT_STACK_TOP;
	bsp->cr3 = X86_PML4_ADDR;
	return 0;
}
