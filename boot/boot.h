/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Linux x86-64 direct boot, no firmware.  Two steps:
 *   1. kernel_image_parse(): validate a kernel file held in memory
 *      (bzImage with the "HdrS" setup header, 64-bit boot protocol; or an
 *      ELF vmlinux/test guest with a Xen PVH entry note) into a
 *      struct kernel_image.  Truncated, oversized, wrong-magic or
 *      note-less files get one clear error; nothing past this reads raw
 *      header bytes.
 *   2. boot_x86_setup(): copy the kernel, command line and initrd into
 *      guest RAM, build boot_params/e820 (bzImage) or hvm_start_info and
 *      its memmap (PVH), the MP table for SMP, the GDT and identity page
 *      tables, and describe the boot vCPU's initial state.
 * vmm/ then applies that state with x86_boot_regs()/x86_boot_sregs().
 * An aarch64 loader would sit beside this file behind the same two calls.
 */
#ifndef KVBOX_BOOT_BOOT_H
#define KVBOX_BOOT_BOOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/kvm.h>

#include "util/err.h"
#include "vmm/memory.h"

enum kernel_kind {
	KERNEL_BZIMAGE, /* Linux bzImage, entered through the 64-bit boot protocol */
	KERNEL_PVH_ELF, /* ELF with XEN_ELFNOTE_PHYS32_ENTRY, entered in 32-bit mode */
};

struct kernel_image {
	enum kernel_kind kind;
	const uint8_t *data; /* whole file, not owned */
	size_t len;
	bool is_linux;	/* bzImage, or ELF with a "Linux" note */
	bool pvm_guest; /* built with CONFIG_PVM_GUEST (can run on KVM-PVM) */
	/* bzImage */
	uint16_t protocol;    /* boot protocol version, >= 0x0206 required */
	size_t setup_size;    /* bytes of real-mode setup (setup_sects+1)*512 */
	uint32_t cmdline_max; /* setup_header.cmdline_size */
	uint32_t initrd_max;  /* setup_header.initrd_addr_max */
	uint64_t load_addr;   /* where the protected-mode kernel goes */
	/* PVH ELF */
	uint32_t pvh_entry;	 /* 32-bit physical entry point */
	uint64_t elf_lo, elf_hi; /* lowest/highest physical byte of PT_LOADs */
};

int kernel_image_parse(const uint8_t *buf, size_t len, struct kernel_image *out,
		       struct kv_err *err);

struct boot_config {
	const char *cmdline;   /* NUL-terminated, may be "" */
	const uint8_t *initrd; /* may be NULL */
	size_t initrd_len;
	unsigned ncpus; /* 1..KVM max; MP table lists this many */
};

/* The boot vCPU's initial architectural state, mode-independent. */
struct x86_boot_cpu {
	bool long_mode; /* true: 64-bit with paging; false: 32-bit flat, paging off */
	uint64_t rip;
	uint64_t rsi; /* boot_params pointer (bzImage) */
	uint64_t rbx; /* hvm_start_info pointer (PVH) */
	uint64_t rsp;
	uint64_t cr3; /* page table root when long_mode */
	uint64_t gdt_base;
	uint16_t gdt_limit;
};

int boot_x86_setup(struct guest_mem *mem, const struct kernel_image *k,
		   const struct boot_config *cfg, struct x86_boot_cpu *bsp, struct kv_err *err);

/* Fill KVM register structs from the boot state.  sregs must hold the
 * vCPU's current values (KVM_GET_SREGS) and is modified in place. */
void x86_boot_regs(const struct x86_boot_cpu *c, struct kvm_regs *regs);
void x86_boot_sregs(const struct x86_boot_cpu *c, struct kvm_sregs *sregs);

/* Lower-level builders, exposed for unit tests. */
/* Most vCPUs the MP table can describe: xAPIC ids are 8 bits, 0xff is
 * broadcast, vCPUs take ids 0..n-1 and the IOAPIC takes id n. */
#define X86_MAX_VCPUS 254
int x86_write_mptable(struct guest_mem *mem, unsigned ncpus, struct kv_err *err);

struct e820_entry_kv {
	uint64_t addr;
	uint64_t size;
	uint32_t type; /* 1 = RAM, 2 = reserved */
};
/* Fills up to max entries describing mem's RAM; returns the count. */
unsigned x86_e820_build(const struct guest_mem *mem, struct e820_entry_kv *out, unsigned max);

#endif
