/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The guest's physical memory map as the kernel sees it (e820 in
 * boot_params for bzImage, the hvm_start_info memmap for PVH): conventional
 * memory up to the EBDA, the EBDA/legacy ROM hole reserved, RAM from 1 MiB
 * to the MMIO hole, and any RAM above 4 GiB.  Derived only from guest_mem's
 * regions, so the map cannot disagree with what is really backed.
 */
#include "boot/boot.h"
#include "boot/x86_layout.h"

#define E820_RAM      1
#define E820_RESERVED 2

static void e820_add(struct e820_entry_kv *out, unsigned max, unsigned *n, uint64_t addr,
		     uint64_t end, uint32_t type)
{
	if (end <= addr || *n >= max)
		return;
	out[(*n)++] = (struct e820_entry_kv){.addr = addr, .size = end - addr, .type = type};
}

unsigned x86_e820_build(const struct guest_mem *mem, struct e820_entry_kv *out, unsigned max)
{
	unsigned n = 0;
	uint64_t low_end = guest_mem_low_end(mem);

	e820_add(out, max, &n, 0, low_end < X86_EBDA_ADDR ? low_end : X86_EBDA_ADDR, E820_RAM);
	if (low_end > X86_EBDA_ADDR)
		e820_add(out, max, &n, X86_EBDA_ADDR, X86_HIMEM_START, E820_RESERVED);
	e820_add(out, max, &n, X86_HIMEM_START, low_end, E820_RAM);
	/* Regions past the first sit above the MMIO hole. */
	for (unsigned i = 1; i < mem->nregions && i < GUEST_MEM_MAX_REGIONS; i++) {
		const struct guest_region *r = &mem->regions[i];
		e820_add(out, max, &n, r->gpa, r->gpa + r->size, E820_RAM);
	}
	return n;
}
