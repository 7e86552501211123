/* SPDX-License-Identifier: Apache-2.0 */
/*
 * smp.bzimage: bring up every CPU the VMM announces, the way an OS does.
 *
 * The BSP reads its APIC id (CPUID leaf 1 and the LAPIC ID register), finds
 * the MP floating pointer ("_MP_") in the EBDA at 0x9fc00 (or the BIOS area
 * 0xf0000-0xfffff), and walks the MP configuration table's processor entries
 * (bounded, checksummed).  For each enabled AP it sends INIT, then SIPI with
 * vector 0x10 through the in-kernel LAPIC's ICR; the AP starts in real mode
 * at 0x10000, where the BSP copied the trampoline below.  The trampoline
 * goes to 32-bit protected mode, then long mode on the BSP's page tables,
 * and calls ap_main, which prints "cpu N up" and raises a flag.  The BSP
 * waits for the flag with a bounded spin (one AP at a time, so output never
 * interleaves and one AP stack is enough), then prints "smp: cpus up: N".
 *
 * No MP table means one CPU.  An AP that does not start, or reports the
 * wrong APIC id, is a FAIL (pvpanic, non-zero exit).  Low memory used:
 * 0x10000-0x100ff (trampoline); the VMM's 0x500-0xffff, 0x20000 (cmdline)
 * and 0x9fc00 (MP table) are left alone.
 */
#include "guest.h"

#define TRAMP_ADDR	0x10000
#define SIPI_VECTOR	(TRAMP_ADDR >> 12)
#define ICR_INIT	0x00004500	/* INIT, level assert, physical dest */
#define ICR_SIPI	0x00004600
#define ICR_BUSY	0x00001000	/* delivery status */
#define MAX_CPUS	64
/* Per SIPI, wait for the AP up to AP_WAIT_TSC cycles (~1-2 s; real VMX/SVM
 * hosts may be slow to schedule the AP's thread), or AP_WAIT_SPINS loop
 * turns as a backstop should the TSC misbehave (seconds on KVM-PVM, where
 * each instruction is emulated, ~1 us). */
#define AP_WAIT_TSC	4000000000
#define AP_WAIT_SPINS	4000000
#define T(x)		(TRAMP_ADDR + (x) - tramp_start)

	.code64
	.text
	.globl guest_main
guest_main:
	push %rbx
	push %r12
	push %r13
	push %r14
	push %r15

	LINE("smp test")
	mov $1, %eax
	cpuid
	shr $24, %ebx
	mov %ebx, %r15d			/* BSP APIC id (CPUID) */
	STR(GUEST_PREFIX "smp: bsp apic id ")
	mov %r15, %rdi
	call putdec
	mov $LAPIC_BASE, %eax
	mov LAPIC_ID(%rax), %edi
	shr $24, %edi
	STR(" (lapic ")
	call putdec
	STR(")\n")
	cmp %edi, %r15d
	je 1f
	FAIL("bsp: CPUID and LAPIC disagree on the APIC id")
1:
	call find_mp_cpus		/* fills cpu_ids/cpu_flags, returns count in eax */
	mov %eax, %r12d
	STR(GUEST_PREFIX "smp: mp table lists ")
	mov %r12, %rdi
	call putdec
	STR(" cpus\n")

	mov $1, %r13d			/* cpus up: the BSP */
	cmp $1, %r12d
	jbe 9f

	/* trampoline -> 0x10000, with our CR3 patched in */
	lea tramp_start(%rip), %rsi
	mov $TRAMP_ADDR, %edi
	mov $(tramp_end - tramp_start), %ecx
	rep movsb
	mov %cr3, %rax
	mov %eax, T(tramp_cr3)

	/* software-enable the BSP's LAPIC (SVR bit 8, spurious vector 0xff) */
	mov $LAPIC_BASE, %ebx
	movl $0x1ff, LAPIC_SVR(%rbx)

	xor %r14d, %r14d		/* MP entry index */
2:	cmp %r12d, %r14d
	jae 9f
	lea cpu_flags(%rip), %rax
	testb $2, (%rax,%r14)		/* BP: that's us */
	jnz 8f
	lea cpu_ids(%rip), %rax
	movzbl (%rax,%r14), %edi
	call start_ap
	add %eax, %r13d
8:	inc %r14d
	jmp 2b

9:	STR(GUEST_PREFIX "smp: cpus up: ")
	mov %r13, %rdi
	call putdec
	STR("\n")
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %rbx
	ret

/* start_ap: %edi = APIC id.  Returns 1 in %eax if the AP checked in. */
start_ap:
	push %rbx
	push %rcx
	push %r12
	mov %edi, %r12d
	movl $0, ap_flag(%rip)
	movl $0xffffffff, ap_apic_id(%rip)
	mov $LAPIC_BASE, %ebx
	mov %r12d, %eax
	shl $24, %eax
	mov %eax, LAPIC_ICR_HI(%rbx)
	movl $ICR_INIT, LAPIC_ICR_LO(%rbx)
	call icr_wait
	mov %r12d, %eax
	shl $24, %eax
	mov %eax, LAPIC_ICR_HI(%rbx)
	movl $(ICR_SIPI | SIPI_VECTOR), LAPIC_ICR_LO(%rbx)
	call icr_wait
	call ap_wait
	jnc 1f
	/* MP spec: a second SIPI if the first did not take */
	mov %r12d, %eax
	shl $24, %eax
	mov %eax, LAPIC_ICR_HI(%rbx)
	movl $(ICR_SIPI | SIPI_VECTOR), LAPIC_ICR_LO(%rbx)
	call icr_wait
	call ap_wait
	jnc 1f
	STR(GUEST_PREFIX "FAIL: cpu ")
	mov %r12, %rdi
	call putdec
	STR(" did not start\n")
	incl fail_count(%rip)
	xor %eax, %eax
	jmp 3f
1:	cmp ap_apic_id(%rip), %r12d
	je 2f
	STR(GUEST_PREFIX "FAIL: AP started for apic id ")
	mov %r12, %rdi
	call putdec
	STR(" reports apic id ")
	mov ap_apic_id(%rip), %edi
	call putdec
	STR("\n")
	incl fail_count(%rip)
2:	mov $1, %eax
3:	pop %r12
	pop %rcx
	pop %rbx
	ret

/* Wait (bounded) for the ICR delivery-status bit to clear. */
icr_wait:
	mov $10000, %ecx
1:	testl $ICR_BUSY, LAPIC_ICR_LO(%rbx)
	jz 2f
	pause
	dec %ecx
	jnz 1b
2:	ret

/* Bounded wait for ap_flag; CF set on timeout. */
ap_wait:
	push %rax
	push %rcx
	push %rdx
	push %rsi
	rdtsc
	shl $32, %rdx
	or %rax, %rdx
	mov %rdx, %rsi			/* start TSC */
	mov $AP_WAIT_SPINS, %ecx
1:	cmpl $0, ap_flag(%rip)
	jne 2f
	pause
	rdtsc
	shl $32, %rdx
	or %rax, %rdx
	sub %rsi, %rdx
	movabs $AP_WAIT_TSC, %rax
	cmp %rax, %rdx
	ja 3f
	dec %ecx
	jnz 1b
3:	stc
	jmp 4f
2:	clc
4:	pop %rsi
	pop %rdx
	pop %rcx
	pop %rax
	ret

/*
 * find_mp_cpus: locate the MP floating pointer, validate it and the
 * configuration table, collect enabled processor entries.  Returns the
 * count (0 entries or no table: 1, just the BSP) in %eax.
 */
find_mp_cpus:
	push %rbx
	push %rcx
	push %rdx
	push %rsi
	push %r8
	push %r9
	mov $0x9fc00, %esi		/* EBDA: 1 KiB */
	mov $0xa0000, %edx
	call scan_mp
	jnc 1f
	mov $0xf0000, %esi		/* BIOS ROM area */
	mov $0x100000, %edx
	call scan_mp
	jnc 1f
	LINE("smp: no MP floating pointer, assuming 1 cpu")
	jmp 7f
1:	STR(GUEST_PREFIX "smp: mp floating pointer at 0x")
	mov %rsi, %rdi
	push %rsi
	mov $5, %esi
	call puthex
	pop %rsi
	STR("\n")
	mov 4(%rsi), %ebx		/* physptr -> "PCMP" */
	test %ebx, %ebx
	jnz 1f
	FAIL("MP default configurations are not supported")
	jmp 7f
1:	cmpl $0x504d4350, (%rbx)	/* "PCMP" */
	je 1f
	FAIL("MP config table has no PCMP signature")
	jmp 7f
1:	movzwl 4(%rbx), %ecx		/* base table length */
	cmp $0x2c, %ecx
	jb 5f
	cmp $0x10000, %ecx
	jae 5f
	mov %rbx, %rsi
	call checksum
	jz 1f
	FAIL("MP config table checksum")
	jmp 7f
1:	movzwl 0x22(%rbx), %ecx		/* entry count */
	lea 0x2c(%rbx), %rsi		/* first entry */
	movzwl 4(%rbx), %edx
	add %rbx, %rdx			/* end of table */
	xor %r8d, %r8d			/* cpus found */
2:	test %ecx, %ecx
	jz 6f
	cmp %rdx, %rsi
	jae 5f
	movzbl (%rsi), %eax
	test %eax, %eax
	jnz 3f
	/* processor entry: 20 bytes; +1 APIC id, +3 flags (EN=1, BP=2) */
	lea 20(%rsi), %r9
	cmp %rdx, %r9
	ja 5f
	testb $1, 3(%rsi)
	jz 4f
	cmp $MAX_CPUS, %r8d
	jae 4f
	lea cpu_ids(%rip), %r9
	movzbl 1(%rsi), %eax
	mov %al, (%r9,%r8)
	lea cpu_flags(%rip), %r9
	movzbl 3(%rsi), %eax
	mov %al, (%r9,%r8)
	inc %r8d
4:	add $20, %rsi
	dec %ecx
	jmp 2b
3:	cmp $4, %eax			/* bus, IOAPIC, I/O and local interrupt: 8 bytes */
	ja 5f
	add $8, %rsi
	dec %ecx
	jmp 2b
5:	FAIL("MP config table malformed (length or entry type)")
	jmp 7f
6:	mov %r8d, %eax
	test %eax, %eax
	jnz 8f
7:	mov $1, %eax			/* no usable table: just the BSP */
	movb $0x3, cpu_flags(%rip)
8:	pop %r9
	pop %r8
	pop %rsi
	pop %rdx
	pop %rcx
	pop %rbx
	ret

/* scan_mp: 16-byte steps from %esi to %edx for "_MP_" with a valid 16-byte
 * checksum.  CF clear and %rsi = its address if found. */
scan_mp:
	push %rcx
1:	cmp %edx, %esi
	jae 3f
	cmpl $0x5f504d5f, (%rsi)	/* "_MP_" */
	jne 2f
	mov $16, %ecx
	call checksum
	jz 4f
2:	add $16, %esi
	jmp 1b
3:	pop %rcx
	stc
	ret
4:	pop %rcx
	clc
	ret

/* checksum: ZF set if the %ecx bytes at %rsi sum to 0 mod 256. */
checksum:
	push %rax
	push %rcx
	push %rsi
	xor %eax, %eax
1:	add (%rsi), %al
	inc %rsi
	dec %ecx
	jnz 1b
	test %al, %al
	pop %rsi
	pop %rcx
	pop %rax
	ret

/* 64-bit AP entry, reached from the trampoline on the BSP's page tables. */
ap_main:
	lea ap_stack_top(%rip), %rsp
	mov $1, %eax
	cpuid
	shr $24, %ebx
	STR(GUEST_PREFIX "cpu ")
	mov %rbx, %rdi
	call putdec
	mov $LAPIC_BASE, %eax
	mov LAPIC_ID(%rax), %edi
	shr $24, %edi
	STR(" up (lapic ")
	call putdec
	STR(")\n")
	cmp %edi, %ebx
	je 1f
	FAIL("ap: CPUID and LAPIC disagree on the APIC id")
1:	mov %ebx, ap_apic_id(%rip)
	movl $1, ap_flag(%rip)		/* last store: the BSP may reuse the stack */
	jmp halt_forever

/*
 * The real-mode trampoline, copied to TRAMP_ADDR; the SIPI starts it at
 * CS:IP = 0x1000:0000.  Addresses inside it go through T().
 */
	.section .rodata
	.balign 16
tramp_start:
	.code16
	cli
	lgdtl %cs:(tramp_gdtr - tramp_start)	/* CS base = TRAMP_ADDR */
	mov %cr0, %eax
	or $1, %eax			/* PE */
	mov %eax, %cr0
	ljmpl $0x10, $T(tramp32)
	.code32
tramp32:
	mov $0x18, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	mov %cr4, %eax
	or $0x20, %eax			/* PAE */
	mov %eax, %cr4
	mov T(tramp_cr3), %eax
	mov %eax, %cr3
	mov $0xc0000080, %ecx		/* EFER.LME */
	rdmsr
	or $0x100, %eax
	wrmsr
	mov %cr0, %eax
	or $0x80000000, %eax		/* PG: long mode active */
	mov %eax, %cr0
	ljmp $0x08, $T(tramp64)
	.code64
tramp64:
	movabs $ap_main, %rax
	jmp *%rax
	.balign 8
tramp_gdt:
	.quad 0
	.quad 0x00af9a000000ffff	/* 0x08: 64-bit code */
	.quad 0x00cf9a000000ffff	/* 0x10: 32-bit code */
	.quad 0x00cf92000000ffff	/* 0x18: data */
tramp_gdtr:
	.word 4 * 8 - 1
	.long T(tramp_gdt)
tramp_cr3:
	.long 0
tramp_end:

	.bss
	.balign 4
ap_flag:	.long 0
ap_apic_id:	.long 0
cpu_ids:	.skip MAX_CPUS
cpu_flags:	.skip MAX_CPUS
	.balign 4096
ap_stack:	.skip 8192
ap_stack_top:
