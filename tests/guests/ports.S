/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ports.bzimage: the VMM's port and MMIO dispatch against legacy devices
 * and against nothing at all.
 *   - CMOS RTC (0x70 index, 0x71 data): prints the raw date/time and status
 *     registers; checks status B says BCD, every date/time field is valid
 *     BCD in range, the NMI-disable bit 7 of the index is ignored, and the
 *     seconds register advances (bounded by the TSC, ~3 s).
 *   - Unknown ports: 8-, 16- and 32-bit reads return all ones; writes
 *     (including Linux's io-delay port 0x80 and 0xed) are ignored.
 *   - Unmapped MMIO at 0xc0001000 (MMIO hole) and just past the end of
 *     RAM (from e820): reads of every width return all ones, also a read
 *     straddling a page; writes are dropped.
 * Prints "ports ok" and reboots if all checks pass; otherwise FAIL lines
 * and pvpanic.
 */
#include "guest.h"

#define UNMAPPED_MMIO	0xc0001000
#define RTC_TICK_TSC	6000000000	/* >= 2 s at <= 3 GHz */
#define RTC_TICK_SPINS	2000000		/* backstop if the TSC is odd */

	.code64
	.text
	.globl guest_main
guest_main:
	push %rbx
	push %r12
	LINE("ports test")
	call rtc_check
	call unknown_ports
	mov $UNMAPPED_MMIO, %edi
	call mmio_check
	call ram_end
	test %rax, %rax
	jz 1f
	mov %rax, %rdi
	call mmio_check
1:	cmpl $0, fail_count(%rip)
	jne 2f
	LINE("ports ok")
2:	pop %r12
	pop %rbx
	ret

/* rtc_read: CMOS register %dil -> %eax (zero-extended byte). */
rtc_read:
	mov %edi, %eax
	outb %al, $PORT_RTC_INDEX
	inb $PORT_RTC_DATA, %al
	movzbl %al, %eax
	ret

/* Read the RTC register %dil into rtc_regs[%dil]. */
.macro RTC_SAVE reg
	mov $\reg, %edi
	call rtc_read
	mov %al, rtc_regs+\reg(%rip)
.endm
.macro RTC_PRINT reg
	movzbl rtc_regs+\reg(%rip), %edi
	mov $2, %esi
	call puthex
.endm
/* Check rtc_regs[reg] (masked) is BCD in [lo, hi] (BCD constants). */
.macro RTC_BCD reg, mask, lo, hi, what
	movzbl rtc_regs+\reg(%rip), %edi
	and $\mask, %edi
	call is_bcd
	jnc 101f
	FAIL("rtc: \what is not BCD")
	jmp 102f
101:	cmp $\lo, %edi
	jb 103f
	cmp $\hi, %edi
	jbe 102f
103:	FAIL("rtc: \what out of range")
102:
.endm

rtc_check:
	RTC_SAVE 0x00
	RTC_SAVE 0x02
	RTC_SAVE 0x04
	RTC_SAVE 0x07
	RTC_SAVE 0x08
	RTC_SAVE 0x09
	RTC_SAVE 0x0a
	RTC_SAVE 0x0b
	RTC_SAVE 0x0d
	STR(GUEST_PREFIX "rtc: 20")
	RTC_PRINT 0x09
	STR("-")
	RTC_PRINT 0x08
	STR("-")
	RTC_PRINT 0x07
	STR(" ")
	RTC_PRINT 0x04
	STR(":")
	RTC_PRINT 0x02
	STR(":")
	RTC_PRINT 0x00
	STR(" raw A=0x")
	RTC_PRINT 0x0a
	STR(" B=0x")
	RTC_PRINT 0x0b
	STR(" D=0x")
	RTC_PRINT 0x0d
	STR("\n")

	testb $0x04, rtc_regs+0x0b(%rip)	/* DM: 1 = binary */
	jz 1f
	FAIL("rtc: status B selects binary mode, want BCD (the default)")
	ret
1:	RTC_BCD 0x00, 0xff, 0x00, 0x59, "seconds"
	RTC_BCD 0x02, 0xff, 0x00, 0x59, "minutes"
	testb $0x02, rtc_regs+0x0b(%rip)	/* 24-hour mode */
	jz 2f
	RTC_BCD 0x04, 0xff, 0x00, 0x23, "hours"
	jmp 3f
2:	RTC_BCD 0x04, 0x7f, 0x01, 0x12, "hours (12h)"
3:	RTC_BCD 0x07, 0xff, 0x01, 0x31, "day of month"
	RTC_BCD 0x08, 0xff, 0x01, 0x12, "month"
	RTC_BCD 0x09, 0xff, 0x00, 0x99, "year"

	/* bit 7 of the index port is NMI-disable, not part of the index */
	mov $0x8b, %edi
	call rtc_read
	cmp rtc_regs+0x0b(%rip), %al
	je 1f
	FAIL("rtc: index 0x8b (NMI-disable bit) does not read register 0x0b")
1:
	/* the clock runs: seconds change within a bounded wait */
	mov $0x00, %edi
	call rtc_read
	mov %eax, %ebx
	rdtsc
	shl $32, %rdx
	or %rax, %rdx
	mov %rdx, %r12			/* start TSC */
	mov $RTC_TICK_SPINS, %ecx
2:	mov $0x00, %edi
	call rtc_read
	cmp %eax, %ebx
	jne 3f
	rdtsc
	shl $32, %rdx
	or %rax, %rdx
	sub %r12, %rdx
	movabs $RTC_TICK_TSC, %rax
	cmp %rax, %rdx
	ja 4f
	dec %ecx
	jnz 2b
4:	FAIL("rtc: seconds register did not change within ~2 s")
	ret
3:	LINE("rtc: seconds advance")
	ret

/* is_bcd: CF clear if both nibbles of %dil are 0..9. */
is_bcd:
	mov %edi, %eax
	and $0x0f, %eax
	cmp $9, %eax
	ja 1f
	mov %edi, %eax
	shr $4, %eax
	and $0x0f, %eax
	cmp $9, %eax
	ja 1f
	clc
	ret
1:	stc
	ret

/* Nobody decodes these ports (no COM2 at 0x2f8 either, in kvbox). */
#define PORT_UNK_B	0x200
#define PORT_UNK_W	0x210
#define PORT_UNK_L	0x1234
unknown_ports:
	/* writes first: the VMM must drop them and keep going */
	mov $0x55, %al
	outb %al, $0x80			/* Linux io_delay */
	outb %al, $0xed
	mov $PORT_UNK_B, %edx
	outb %al, %dx
	mov $PORT_UNK_W, %edx
	mov $0x5555, %ax
	outw %ax, %dx
	mov $PORT_UNK_L, %edx
	mov $0x55555555, %eax
	outl %eax, %dx
	LINE("unknown port writes survived")

	STR(GUEST_PREFIX "unknown ports: inb(0x200)=0x")
	mov $PORT_UNK_B, %edx
	xor %eax, %eax
	inb %dx, %al
	mov %eax, %ebx
	mov %eax, %edi
	mov $2, %esi
	call puthex
	STR(" inw(0x210)=0x")
	mov $PORT_UNK_W, %edx
	xor %eax, %eax
	inw %dx, %ax
	mov %eax, %r12d
	mov %eax, %edi
	mov $4, %esi
	call puthex
	STR(" inl(0x1234)=0x")
	mov $PORT_UNK_L, %edx
	inl %dx, %eax
	mov %eax, %edi
	mov $8, %esi
	call puthex
	STR("\n")
	cmp $0xffffffff, %eax
	je 1f
	FAIL("unknown port: 32-bit read is not 0xffffffff")
1:	cmp $0xff, %ebx
	je 1f
	FAIL("unknown port: 8-bit read is not 0xff")
1:	cmp $0xffff, %r12d
	je 1f
	FAIL("unknown port: 16-bit read is not 0xffff")
1:	ret

/* mmio_check: reads of each width at %rdi, writes, reads again. */
mmio_check:
	push %rbx
	mov %rdi, %rbx
	STR(GUEST_PREFIX "unmapped mmio 0x")
	mov $8, %esi
	call puthex
	STR(": ")
	call mmio_reads
	movb $0x5a, (%rbx)
	movw $0x5a5a, 2(%rbx)
	movl $0x5a5a5a5a, 4(%rbx)
	movabs $0x5a5a5a5a5a5a5a5a, %rax
	mov %rax, 8(%rbx)
	STR(", after writes ")
	call mmio_reads
	STR("\n")
	/* a 4-byte read straddling a page boundary: two MMIO exits */
	lea 0xffe(%rbx), %rax
	mov (%rax), %eax
	cmp $0xffffffff, %eax
	je 1f
	FAIL("unmapped mmio: read across a page boundary is not all ones")
1:	pop %rbx
	ret

/* One read of each width at (%rbx); prints "b w l q" values, checks them. */
mmio_reads:
	push %r12
	movzbl (%rbx), %edi
	mov %edi, %r12d
	mov $2, %esi
	call puthex
	STR(" ")
	cmp $0xff, %r12d
	je 1f
	FAIL("unmapped mmio: 8-bit read is not 0xff")
1:	movzwl (%rbx), %edi
	mov %edi, %r12d
	mov $4, %esi
	call puthex
	STR(" ")
	cmp $0xffff, %r12d
	je 1f
	FAIL("unmapped mmio: 16-bit read is not 0xffff")
1:	mov (%rbx), %edi
	mov %edi, %r12d
	mov $8, %esi
	call puthex
	STR(" ")
	cmp $0xffffffff, %r12d
	je 1f
	FAIL("unmapped mmio: 32-bit read is not 0xffffffff")
1:	mov (%rbx), %rdi
	mov %rdi, %r12
	mov $16, %esi
	call puthex
	cmp $-1, %r12
	je 1f
	FAIL("unmapped mmio: 64-bit read is not all ones")
1:	pop %r12
	ret

/* ram_end: end of the highest usable e820 entry below the MMIO hole that
 * starts at or above 1 MiB, or 0.  Plus one page so the probe lands
 * clear of any rounding. */
ram_end:
	push %rsi
	push %rbx
	push %rcx
	push %rdx
	mov boot_params(%rip), %rbx
	movzbl BP_E820_ENTRIES(%rbx), %ecx
	cmp $E820_MAX, %ecx
	jbe 1f
	mov $E820_MAX, %ecx
1:	lea BP_E820_TABLE(%rbx), %rbx
	xor %eax, %eax
2:	test %ecx, %ecx
	jz 4f
	cmpl $1, 16(%rbx)
	jne 3f
	mov (%rbx), %rdx
	add 8(%rbx), %rdx
	mov $0xc0000000, %esi
	cmp %rsi, %rdx
	ja 3f
	cmp %rax, %rdx
	jbe 3f
	mov %rdx, %rax
3:	add $20, %rbx
	dec %ecx
	jmp 2b
4:	cmp $0x100000, %rax
	ja 5f
	xor %eax, %eax
	jmp 6f
5:	add $0xfff, %rax
	and $~0xfff, %rax
	add $0x1000, %rax
6:	pop %rdx
	pop %rcx
	pop %rbx
	pop %rsi
	ret

	.bss
rtc_regs:	.skip 16
