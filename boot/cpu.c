/* SPDX-License-Identifier: Apache-2.0 */
/*
 * boot_x86_setup() and the boot vCPU's architectural state.  Setup writes
 * what both entry modes share (command line, MP table, GDT, identity page
 * tables for the first 4 GiB) and hands the kernel itself to bzimage.c or
 * pvh.c.  x86_boot_regs()/x86_boot_sregs() turn the result into KVM
 * register structs; the segment registers are decoded from the same GDT
 * descriptors that were written to guest memory, so the two cannot differ.
 *
 * GDT: 0x08 32-bit code (PVH), 0x10 64-bit code (__BOOT_CS), 0x18 data
 * (__BOOT_DS), 0x20 TSS (base 0, limit 0x67; 16 bytes in long mode).
 */
#include "boot/x86_internal.h"
#include "boot/x86_layout.h"

#include <errno.h>
#include <string.h>

#define CR0_PE	 (1ULL << 0)
#define CR0_ET	 (1ULL << 4)
#define CR0_PG	 (1ULL << 31)
#define CR4_PAE	 (1ULL << 5)
#define EFER_LME (1ULL << 8)
#define EFER_LMA (1ULL << 10)

#define PTE_PRESENT (1ULL << 0)
#define PTE_RW	    (1ULL << 1)
#define PTE_PS	    (1ULL << 7)
#define PAGE_4K	    0x1000ULL
#define PAGE_2M	    0x200000ULL
#define PT_ENTRIES  512
#define PD_COUNT    4 /* 4 x 1 GiB */

/* A segment descriptor; flags holds the access byte (bits 0-7) and the
 * G/DB/L/AVL nibble (bits 12-15). */
#define GDT_ENTRY(flags, base, limit)                                                              \
	((((base)&0xff000000ULL) << 32) | (((base)&0x00ffffffULL) << 16) | ((limit)&0xffffULL) |   \
	 (((limit)&0xf0000ULL) << 32) | (((flags)&0xf0ffULL) << 40))

static const uint64_t *boot_gdt(size_t *count)
{
	static const uint64_t gdt[] = {
	    0,
	    [X86_SEL_CODE32 / 8] = GDT_ENTRY(0xc09b, 0, 0xfffff), /* G, D, P, code r/x */
	    [X86_SEL_CODE64 / 8] = GDT_ENTRY(0xa09b, 0, 0xfffff), /* G, L, P, code r/x */
	    [X86_SEL_DATA / 8] = GDT_ENTRY(0xc093, 0, 0xfffff),	  /* G, B, P, data r/w */
	    [X86_SEL_TSS / 8] = GDT_ENTRY(0x008b, 0, 0x67),	  /* P, busy 32/64-bit TSS */
	    0,							  /* TSS high half (long mode) */
	};
	*count = sizeof(gdt) / sizeof(gdt[0]);
	return gdt;
}

static int write_gdt(struct guest_mem *mem, struct x86_boot_cpu *bsp, struct kv_err *err)
{
	size_t n;
	const uint64_t *gdt = boot_gdt(&n);
	if (guest_mem_write(mem, X86_GDT_ADDR, gdt, n * sizeof(*gdt)) < 0)
		return kv_err_set(err, ENOMEM, "GDT at 0x%llx is not guest RAM",
				  (unsigned long long)X86_GDT_ADDR);
	bsp->gdt_base = X86_GDT_ADDR;
	bsp->gdt_limit = (uint16_t)(n * sizeof(*gdt) - 1);
	return 0;
}

/* PML4[0] -> PDPT, PDPT[0..3] -> four PDs of 2 MiB pages: 0..4 GiB 1:1. */
static int write_page_tables(struct guest_mem *mem, struct kv_err *err)
{
	uint64_t *pml4 = guest_mem_ptr(mem, X86_PML4_ADDR, PAGE_4K);
	uint64_t *pdpt = guest_mem_ptr(mem, X86_PDPT_ADDR, PAGE_4K);
	uint64_t *pd = guest_mem_ptr(mem, X86_PD_ADDR, PD_COUNT * PAGE_4K);
	if (!pml4 || !pdpt || !pd)
		return kv_err_set(err, ENOMEM, "page tables at 0x%llx..0x%llx are not guest RAM",
				  (unsigned long long)X86_PML4_ADDR,
				  (unsigned long long)(X86_PD_ADDR + PD_COUNT * PAGE_4K));
	memset(pml4, 0, PAGE_4K);
	memset(pdpt, 0, PAGE_4K);
	pml4[0] = X86_PDPT_ADDR | PTE_PRESENT | PTE_RW;
	for (uint64_t i = 0; i < PD_COUNT; i++)
		pdpt[i] = (X86_PD_ADDR + i * PAGE_4K) | PTE_PRESENT | PTE_RW;
	for (uint64_t i = 0; i < PD_COUNT * PT_ENTRIES; i++)
		pd[i] = (i * PAGE_2M) | PTE_PRESENT | PTE_RW | PTE_PS;
	return 0;
}

static int write_cmdline(struct guest_mem *mem, const char *cmdline, struct kv_err *err)
{
	size_t len = strlen(cmdline);
	if (len >= X86_CMDLINE_MAX)
		return kv_err_set(err, E2BIG,
				  "kernel command line is %zu bytes; at most %llu are supported",
				  len, (unsigned long long)(X86_CMDLINE_MAX - 1));
	if (guest_mem_write(mem, X86_CMDLINE_ADDR, cmdline, len + 1) < 0)
		return kv_err_set(err, ENOMEM, "command line at 0x%llx is not guest RAM",
				  (unsigned long long)X86_CMDLINE_ADDR);
	return 0;
}

int boot_x86_setup(struct guest_mem *mem, const struct kernel_image *k,
		   const struct boot_config *cfg, struct x86_boot_cpu *bsp, struct kv_err *err)
{
	memset(bsp, 0, sizeof(*bsp));
	if (guest_mem_low_end(mem) <= X86_HIMEM_START)
		return kv_err_set(err, ENOMEM,
				  "guest RAM below 4 GiB is %llu KiB; the boot structures and the "
				  "kernel need more than 1 MiB",
				  (unsigned long long)(guest_mem_low_end(mem) >> 10));
	int r = write_cmdline(mem, cfg->cmdline ? cfg->cmdline : "", err);
	if (r == 0)
		r = x86_write_mptable(mem, cfg->ncpus, err);
	if (r == 0)
		r = write_gdt(mem, bsp, err);
	if (r == 0)
		r = write_page_tables(mem, err);
	if (r < 0)
		return r;
	switch (k->kind) {
	case KERNEL_BZIMAGE:
		return x86_bzimage_setup(mem, k, cfg, bsp, err);
	case KERNEL_PVH_ELF:
		return x86_pvh_setup(mem, k, cfg, bsp, err);
	}
	return kv_err_set(err, EINVAL, "kernel image: unknown kind %d", (int)k->kind);
}

void x86_boot_regs(const struct x86_boot_cpu *c, struct kvm_regs *regs)
{
	memset(regs, 0, sizeof(*regs));
	regs->rflags = 0x2; /* bit 1 is reserved and always set; IF clear */
	regs->rip = c->rip;
	regs->rsi = c->rsi;
	regs->rbx = c->rbx;
	regs->rsp = c->rsp;
}

static struct kvm_segment seg_from_gdt(uint16_t sel)
{
	size_t n;
	uint64_t d = boot_gdt(&n)[sel / 8];
	uint32_t limit = (uint32_t)((d & 0xffff) | ((d >> 32) & 0xf0000));
	bool g = (d >> 55) & 1;
	return (struct kvm_segment){
	    .base = ((d >> 16) & 0xffffff) | (((d >> 56) & 0xff) << 24),
	    .limit = g ? (limit << 12) | 0xfff : limit,
	    .selector = sel,
	    .type = (d >> 40) & 0xf,
	    .s = (d >> 44) & 1,
	    .dpl = (d >> 45) & 3,
	    .present = (d >> 47) & 1,
	    .avl = (d >> 52) & 1,
	    .l = (d >> 53) & 1,
	    .db = (d >> 54) & 1,
	    .g = g,
	};
}

void x86_boot_sregs(const struct x86_boot_cpu *c, struct kvm_sregs *sregs)
{
	struct kvm_segment data = seg_from_gdt(X86_SEL_DATA);
	sregs->cs = seg_from_gdt(c->long_mode ? X86_SEL_CODE64 : X86_SEL_CODE32);
	sregs->ds = sregs->es = sregs->fs = sregs->gs = sregs->ss = data;
	sregs->tr = seg_from_gdt(X86_SEL_TSS);
	sregs->gdt.base = c->gdt_base;
	sregs->gdt.limit = c->gdt_limit;
	if (c->long_mode) {
		sregs->cr0 = CR0_PE | CR0_ET | CR0_PG;
		sregs->cr3 = c->cr3;
		sregs->cr4 = CR4_PAE;
		sregs->efer = EFER_LME | EFER_LMA;
	} else {
		/* PVH: "cr0: PE set, all other writeable bits clear; cr4: 0". */
		sregs->cr0 = CR0_PE | CR0_ET;
		sregs->cr3 = 0;
		sregs->cr4 = 0;
		sregs->efer = 0;
	}
}
