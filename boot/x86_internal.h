/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private interface between the files of boot/.  The one kernel-file parser
 * (image.c for bzImage, elf.c for ELF) hands validated pieces to the loaders
 * (bzimage.c, pvh.c); cpu.c dispatches to them; initrd.c places the initrd
 * for both.  Nothing outside boot/ includes this header.
 */
#ifndef KVBOX_BOOT_X86_INTERNAL_H
#define KVBOX_BOOT_X86_INTERNAL_H

#include <stdint.h>

#include <asm/bootparam.h>

#include "boot/boot.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	       "boot/ reads little-endian x86 structures with memcpy");

/* Limits on what a kernel file may ask for: anything larger is a corrupt
 * or hostile file, not a kernel. */
#define KERNEL_FILE_MAX	   (512ULL << 20)
#define KERNEL_SEGMENT_MAX (1ULL << 30)
#define ELF_MAX_PHDRS	   64

/* The free page between the zero page (0x7000) and the PML4 (0x9000). */
#define X86_BOOT_STACK_TOP 0x8ff0ULL

/* GDT selectors (cpu.c).  0x10/0x18 are Linux's __BOOT_CS/__BOOT_DS. */
#define X86_SEL_CODE32 0x08
#define X86_SEL_CODE64 0x10
#define X86_SEL_DATA   0x18
#define X86_SEL_TSS    0x20

/* image.c: the bzImage setup header as the kernel declared it (bytes past
 * the header end given by the jump at 0x200 are zero). */
int x86_bzimage_header(const struct kernel_image *k, struct setup_header *hdr, struct kv_err *err);

/* elf.c */
int x86_elf_parse(const uint8_t *buf, size_t len, struct kernel_image *out, struct kv_err *err);

struct elf_seg {
	uint64_t offset; /* in the file; offset + filesz <= file length */
	uint64_t filesz;
	uint64_t paddr; /* paddr + memsz <= 4 GiB */
	uint64_t memsz; /* > 0, >= filesz, <= KERNEL_SEGMENT_MAX */
};
/* The non-empty PT_LOAD segments of a parsed PVH ELF, validated again. */
int x86_elf_segments(const struct kernel_image *k, struct elf_seg *segs, unsigned max, unsigned *n,
		     struct kv_err *err);

/* initrd.c */
struct initrd_place {
	uint64_t addr; /* 0 when there is no initrd */
	uint64_t len;
};
/* Copies cfg's initrd page-aligned at the top of low RAM below `limit`
 * (exclusive) and at or above `kernel_end`. */
int x86_initrd_load(struct guest_mem *mem, const struct boot_config *cfg, uint64_t kernel_end,
		    uint64_t limit, struct initrd_place *out, struct kv_err *err);

/* bzimage.c, pvh.c: load the kernel and its boot information; fill the
 * mode-specific fields of *bsp (long_mode, rip, rsi/rbx, rsp, cr3). */
int x86_bzimage_setup(struct guest_mem *mem, const struct kernel_image *k,
		      const struct boot_config *cfg, struct x86_boot_cpu *bsp, struct kv_err *err);
int x86_pvh_setup(struct guest_mem *mem, const struct kernel_image *k,
		  const struct boot_config *cfg, struct x86_boot_cpu *bsp, struct kv_err *err);

#endif
