/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Where the initrd goes: page-aligned at the top of the RAM the kernel may
 * use for it (below the MMIO hole and the kernel's own initrd_addr_max),
 * and never over the kernel.  Shared by the bzImage and PVH loaders.
 */
#include "boot/x86_internal.h"

#include <errno.h>

#define PAGE_SIZE_4K 4096ULL

int x86_initrd_load(struct guest_mem *mem, const struct boot_config *cfg, uint64_t kernel_end,
		    uint64_t limit, struct initrd_place *out, struct kv_err *err)
{
	*out = (struct initrd_place){0};
	if (!cfg->initrd || cfg->initrd_len == 0)
		return 0;
	uint64_t top = guest_mem_low_end(mem);
	if (limit < top)
		top = limit;
	uint64_t floor = (kernel_end + PAGE_SIZE_4K - 1) & ~(PAGE_SIZE_4K - 1);
	uint64_t len = cfg->initrd_len;
	if (floor > top || len > top - floor || ((top - len) & ~(PAGE_SIZE_4K - 1)) < floor)
		return kv_err_set(err, ENOMEM,
				  "initrd: %llu bytes do not fit between the kernel end 0x%llx and "
				  "0x%llx (top of usable low RAM); give the guest more memory",
				  (unsigned long long)len, (unsigned long long)floor,
				  (unsigned long long)top);
	uint64_t addr = (top - len) & ~(PAGE_SIZE_4K - 1);
	if (guest_mem_write(mem, addr, cfg->initrd, len) < 0)
		return kv_err_set(err, EFAULT, "initrd: 0x%llx+0x%llx is not guest RAM",
				  (unsigned long long)addr, (unsigned long long)len);
	out->addr = addr;
	out->len = len;
	return 0;
}
