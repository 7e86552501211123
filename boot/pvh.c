/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Loading an ELF kernel through the Xen PVH direct boot ABI (Xen's
 * docs/misc/pvh.pandoc, start_info.h): PT_LOAD segments copied to their
 * physical addresses with the bss zeroed, the initrd above them as the one
 * module, and struct hvm_start_info at X86_PVH_INFO_ADDR followed by the
 * module list and the memory map (e820 types).  The boot vCPU enters the
 * note's 32-bit entry point in flat protected mode, paging off, with
 * %ebx = start info.
 */
#include "boot/x86_internal.h"
#include "boot/x86_layout.h"

#include <errno.h>
#include <string.h>

#define HVM_START_MAGIC 0x336ec578U

/* xen/include/public/arch-x86/hvm/start_info.h, version 1. */
struct hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr;
	uint32_t memmap_entries;
	uint32_t reserved;
} __attribute__((packed));

struct hvm_modlist_entry {
	uint64_t paddr;
	uint64_t size;
	uint64_t cmdline_paddr;
	uint64_t reserved;
} __attribute__((packed));

struct hvm_memmap_table_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
	uint32_t reserved;
} __attribute__((packed));

_Static_assert(sizeof(struct hvm_start_info) == 56 && sizeof(struct hvm_modlist_entry) == 32 &&
		   sizeof(struct hvm_memmap_table_entry) == 24,
	       "hvm_start_info layout");

/* Inside the page at X86_PVH_INFO_ADDR, below the zero page. */
#define PVH_MODLIST_ADDR (X86_PVH_INFO_ADDR + 0x40)
#define PVH_MEMMAP_ADDR	 (X86_PVH_INFO_ADDR + 0x80)
#define PVH_MEMMAP_MAX                                                                             \
	((unsigned)((X86_ZERO_PAGE_ADDR - PVH_MEMMAP_ADDR) / sizeof(struct hvm_memmap_table_entry)))

static int pvh_load_segment(struct guest_mem *mem, const struct kernel_image *k,
			    const struct elf_seg *s, unsigned idx, struct kv_err *err)
{
	/* Below 1 MiB live the GDT, page tables, start info, command line and
	 * MP table: a segment there would overwrite them. */
	if (s->paddr < X86_HIMEM_START)
		return kv_err_set(err, EINVAL,
				  "ELF kernel: PT_LOAD %u at 0x%llx is below 1 MiB, where the boot "
				  "structures live",
				  idx, (unsigned long long)s->paddr);
	uint8_t *dst = guest_mem_ptr(mem, s->paddr, s->memsz);
	if (!dst)
		return kv_err_set(err, ENOMEM,
				  "ELF kernel: PT_LOAD %u at 0x%llx+0x%llx is outside guest RAM",
				  idx, (unsigned long long)s->paddr, (unsigned long long)s->memsz);
	memcpy(dst, k->data + s->offset, s->filesz);
	memset(dst + s->filesz, 0, s->memsz - s->filesz);
	return 0;
}

static int pvh_load_segments(struct guest_mem *mem, const struct kernel_image *k,
			     struct kv_err *err)
{
	struct elf_seg segs[ELF_MAX_PHDRS];
	unsigned n = 0;
	int r = x86_elf_segments(k, segs, ELF_MAX_PHDRS, &n, err);
	for (unsigned i = 0; r == 0 && i < n; i++)
		r = pvh_load_segment(mem, k, &segs[i], i, err);
	return r;
}

static unsigned pvh_write_memmap(struct guest_mem *mem)
{
	struct e820_entry_kv e[PVH_MEMMAP_MAX];
	struct hvm_memmap_table_entry t[PVH_MEMMAP_MAX];
	unsigned n = x86_e820_build(mem, e, PVH_MEMMAP_MAX);
	for (unsigned i = 0; i < n; i++)
		t[i] = (struct hvm_memmap_table_entry){
		    .addr = e[i].addr, .size = e[i].size, .type = e[i].type};
	/* Fixed addresses below the zero page, checked by the caller. */
	(void)guest_mem_write(mem, PVH_MEMMAP_ADDR, t, n * sizeof(t[0]));
	return n;
}

static int pvh_write_start_info(struct guest_mem *mem, const struct initrd_place *rd,
				struct kv_err *err)
{
	if (!guest_mem_ptr(mem, X86_PVH_INFO_ADDR, X86_ZERO_PAGE_ADDR - X86_PVH_INFO_ADDR))
		return kv_err_set(err, ENOMEM, "PVH start info at 0x%llx is not guest RAM",
				  (unsigned long long)X86_PVH_INFO_ADDR);
	struct hvm_start_info si = {
	    .magic = HVM_START_MAGIC,
	    .version = 1,
	    .cmdline_paddr = X86_CMDLINE_ADDR,
	};
	if (rd->len) {
		struct hvm_modlist_entry mod = {.paddr = rd->addr, .size = rd->len};
		(void)guest_mem_write(mem, PVH_MODLIST_ADDR, &mod, sizeof(mod));
		si.nr_modules = 1;
		si.modlist_paddr = PVH_MODLIST_ADDR;
	}
	si.memmap_entries = pvh_write_memmap(mem);
	si.memmap_paddr = PVH_MEMMAP_ADDR;
	(void)guest_mem_write(mem, X86_PVH_INFO_ADDR, &si, sizeof(si));
	return 0;
}

int x86_pvh_setup(struct guest_mem *mem, const struct kernel_image *k,
		  const struct boot_config *cfg, struct x86_boot_cpu *bsp, struct kv_err *err)
{
	struct initrd_place rd = {0};
	int r = pvh_load_segments(mem, k, err);
	if (r == 0)
		r = x86_initrd_load(mem, cfg, k->elf_hi + 1, X86_MMIO_HOLE_START, &rd, err);
	if (r == 0)
		r = pvh_write_start_info(mem, &rd, err);
	if (r < 0)
		return r;
	bsp->long_mode = false;
	bsp->rip = k->pvh_entry;
	bsp->rsi = 0;
	bsp->rbx = X86_PVH_INFO_ADDR;
	bsp->rsp = X86_BOOT_STACK_TOP;
	bsp->cr3 = 0;
	return 0;
}
