/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hello-pvh.elf / hello-pvh32.elf: the PVH boot path.  An ELF whose only
 * entry point is the Xen PHYS32_ENTRY note; the VMM loads the PT_LOAD at
 * its p_paddr and enters it in 32-bit protected mode, paging off, with
 * EBX = struct hvm_start_info.  Checks that entry state against the PVH
 * ABI (xen/docs/misc/pvh.pandoc), prints the command line from
 * start_info.cmdline_paddr and the memory map, then reboots (status 0).
 * Built as ELF64 (like vmlinux, note descriptor 8 bytes) and as ELF32
 * (descriptor 4 bytes).
 */
#define GUEST_32BIT
#include "guest.h"

#define XEN_ELFNOTE_PHYS32_ENTRY 18

	.section .note.Xen, "a", @note
	.balign 4
	.long 2f - 1f			/* namesz */
	.long 4f - 3f			/* descsz */
	.long XEN_ELFNOTE_PHYS32_ENTRY
1:	.asciz "Xen"
2:	.balign 4
#ifdef __x86_64__
3:	.quad pvh_start			/* as Linux's vmlinux: _ASM_PTR */
#else
3:	.long pvh_start
#endif
4:	.balign 4

	.text
	.code32
	.globl pvh_start
pvh_start:
	mov $stack_top, %esp		/* mov leaves EFLAGS alone */
	mov %ebx, start_info
	pushf
	popl entry_eflags
	cld
	call main
	cmpl $0, fail_count
	jne 1f
	jmp reboot
1:	LINE("FAILED")
	jmp pvpanic

main:
	LINE("hello from PVH")
	STR(GUEST_PREFIX "start_info at 0x")
	mov start_info, %ebx
	mov %ebx, %edi
	mov $8, %esi
	call puthex
	STR("\n")

	/* entry state, per the PVH ABI */
	mov %cr0, %eax
	and $0x80000001, %eax
	cmp $1, %eax
	je 1f
	FAIL("CR0: want PE=1 PG=0")
1:	mov %cr4, %eax
	test %eax, %eax
	jz 1f
	FAIL("CR4 not zero at PVH entry")
1:	testl $0x20200, entry_eflags	/* IF, VM */
	jz 1f
	FAIL("EFLAGS.IF or VM set at PVH entry")
1:
	cmpl $PVH_START_MAGIC, SI_MAGIC(%ebx)
	je 1f
	FAIL("start_info magic is not 0x336ec578")
	ret
1:	STR(GUEST_PREFIX "start_info version ")
	mov SI_VERSION(%ebx), %edi
	call putdec
	STR("\n")

	STR(GUEST_PREFIX "cmdline: [")
	cmpl $0, SI_CMDLINE+4(%ebx)
	je 1f
	STR("]\n")
	FAIL("cmdline_paddr above 4 GiB")
	jmp 2f
1:	mov SI_CMDLINE(%ebx), %esi
	test %esi, %esi
	jz 1f
	mov $CMDLINE_PRINT_MAX, %ecx
	call putsn
1:	STR("]\n")
2:
	cmpl $1, SI_VERSION(%ebx)
	jb 1f
	call print_memmap
1:	LINE("rebooting")
	ret

/* "memmap: <start>-<end> type <t>" per entry, then the usable total. */
print_memmap:
	push %ebx
	push %ebp
	push %edi
	mov SI_MEMMAP_NR(%ebx), %ebp
	cmp $E820_MAX, %ebp
	jbe 1f
	FAIL("memmap_entries > 128")
	mov $E820_MAX, %ebp
1:	cmpl $0, SI_MEMMAP+4(%ebx)
	je 1f
	FAIL("memmap_paddr above 4 GiB")
	jmp 5f
1:	mov SI_MEMMAP(%ebx), %ebx
	movl $0, usable_mib
2:	test %ebp, %ebp
	jz 4f
	STR(GUEST_PREFIX "memmap: 0x")
	mov %ebx, %edi
	mov $9, %esi
	call puthex64
	STR("-0x")
	mov (%ebx), %eax		/* end = addr + size - 1 */
	mov 4(%ebx), %edx
	add 8(%ebx), %eax
	adc 12(%ebx), %edx
	sub $1, %eax
	sbb $0, %edx
	mov %eax, scratch64
	mov %edx, scratch64+4
	mov $scratch64, %edi
	call puthex64
	STR(" type ")
	mov 16(%ebx), %edi
	call putdec
	STR("\n")
	cmpl $1, 16(%ebx)
	jne 3f
	mov 8(%ebx), %eax		/* MiB = size >> 20, 64-bit */
	mov 12(%ebx), %edx
	shrd $20, %edx, %eax
	add %eax, usable_mib
3:	add $MEMMAP_ENTRY_SIZE, %ebx
	dec %ebp
	jmp 2b
4:	STR(GUEST_PREFIX "memmap: usable RAM ")
	mov usable_mib, %edi
	call putdec
	STR(" MiB\n")
5:	pop %edi
	pop %ebp
	pop %ebx
	ret

	.bss
	.balign 8
start_info:	.long 0
entry_eflags:	.long 0
usable_mib:	.long 0
scratch64:	.quad 0
	.balign 4096
stack:		.skip 8192
stack_top:
