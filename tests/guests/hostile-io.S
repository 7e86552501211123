/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hostile-io.bzimage: a storm of port and MMIO accesses nothing claims,
 * then proof that the machine still works.  Needs the virtio-rng in slot 0
 * (the default of `kvbox boot`).
 *   1. before: the rng serves a request.
 *   2. ports: every port 0..0xffff but the ones with a device behind them
 *      (kvbox's UART 0x3f8-0x3ff, i8042 0x60-0x64, RTC 0x70-0x71, pvpanic
 *      0x505; KVM's in-kernel PIC 0x20-0x21/0xa0-0xa1/0x4d0-0x4d1 and PIT
 *      0x40-0x43/0x61) gets an 8-, 16- and 32-bit write and an 8-bit read,
 *      which must be 0xff; then string I/O (rep outsb/insl of 4 KiB) on
 *      an unknown port, whose reads must fill the buffer with all ones.
 *   3. MMIO: a qword written to every 4 KiB page of the hole 0xc0000000-
 *      0xd0000000, every dword of the seven unused virtio-mmio windows
 *      (0xd0001000-0xd0007fff), every 64 KiB up to the IOAPIC and from
 *      0xff000000 to 4 GiB, every page of the 16 MiB past the end of RAM,
 *      a page-straddling write, a 4 KiB rep movsb into the hole; sampled
 *      reads must return all ones.
 *   4. after: the rng still serves, the RTC still answers, the UART still
 *      prints (this output).
 * Lines "hostile-io: start" and "hostile-io: done" bracket the storm
 * (tests/integration/hostile.bats samples the VMM's RSS and CPU time at
 * each); after "done" the guest waits ~1 s of TSC, then reboots.  Any
 * failed check ends in pvpanic.
 */
#include "guest.h"
#include "virtio-guest.h"

#define HOLE_START	0xc0000000
#define HOLE_END	0xd0000000
#define VIO_FREE_START	0xd0001000	/* slots 1..7: no device */
#define VIO_FREE_END	0xd0008000
#define IOAPIC_START	0xfec00000
#define TOP_START	0xff000000
#define STRING_PORT	0x1234
#define PAST_RAM_SPAN	0x1000000	/* 16 MiB */
#define SETTLE_TSC	3000000000	/* ~1 s at 3 GHz */
#define SETTLE_SPINS	100000000	/* only if the TSC were stuck */

	.code64
	.text
	.globl guest_main
guest_main:
	push %rbx
	push %r12
	LINE("hostile-io test")
	call vio_probe
	test %eax, %eax
	jnz 9f
	call rng_ok
	jnz 9f
	LINE("hostile-io: rng serves before the storm")
	LINE("hostile-io: start")
	call port_storm
	call string_io
	call mmio_storm
	LINE("hostile-io: done")
	STR(GUEST_PREFIX "hostile-io: ")
	mov port_writes(%rip), %rdi
	call putdec
	STR(" port writes, ")
	mov port_reads(%rip), %rdi
	call putdec
	STR(" port reads all ones, ")
	mov mmio_writes(%rip), %rdi
	call putdec
	STR(" MMIO writes, ")
	mov mmio_reads(%rip), %rdi
	call putdec
	STR(" MMIO reads all ones\n")
	/* the machine after the storm */
	VR(VIO_MAGIC)
	cmp $VIO_MAGIC_VALUE, %eax
	je 1f
	FAIL("hostile-io: the rng's magic changed")
1:	call rng_ok
	jnz 9f
	LINE("hostile-io: rng serves after the storm")
	call rtc_ok
	call settle
	cmpl $0, fail_count(%rip)
	jne 9f
	LINE("hostile-io ok")
9:	pop %r12
	pop %rbx
	ret

/* rng_ok: init + one 32-byte request, full and not all zero.  ZF set = ok. */
rng_ok:
	call vio_init
	test %eax, %eax
	jnz 1f
	mov $32, %edi
	call vio_request
	cmp $32, %eax
	jne 2f
	mov $32, %edi
	call vio_nonzero
	test %eax, %eax
	jz 2f
	xor %eax, %eax
	ret
2:	FAIL("hostile-io: the rng did not serve a valid request")
1:	mov $1, %eax
	test %eax, %eax
	ret

/* rtc_ok: status B reads with bit 1 (24 h) or not, but never all ones, and
 * the seconds register is BCD < 0x60. */
rtc_ok:
	mov $0x0b, %al
	outb %al, $PORT_RTC_INDEX
	inb $PORT_RTC_DATA, %al
	cmp $0xff, %al
	jne 1f
	FAIL("hostile-io: RTC status B reads 0xff after the storm")
1:	mov $0x00, %al
	outb %al, $PORT_RTC_INDEX
	inb $PORT_RTC_DATA, %al
	cmp $0x60, %al
	jb 1f
	FAIL("hostile-io: RTC seconds not BCD after the storm")
	ret
1:	LINE("hostile-io: RTC answers after the storm")
	ret

/* port_skip: %edx a port; CF set when a device sits behind it. */
port_skip:
	cmp $0x20, %edx
	je 1f
	cmp $0x21, %edx
	je 1f
	cmp $0xa0, %edx
	je 1f
	cmp $0xa1, %edx
	je 1f
	cmp $0x4d0, %edx
	je 1f
	cmp $0x4d1, %edx
	je 1f
	cmp $0x61, %edx
	je 1f
	cmp $0x505, %edx
	je 1f
	cmp $0x40, %edx
	jb 2f
	cmp $0x43, %edx
	jbe 1f
	cmp $0x60, %edx
	jb 2f
	cmp $0x64, %edx
	jbe 1f
	cmp $0x70, %edx
	je 1f
	cmp $0x71, %edx
	je 1f
	cmp $0x3f8, %edx
	jb 2f
	cmp $0x3ff, %edx
	jbe 1f
2:	clc
	ret
1:	stc
	ret

port_storm:
	push %rdx
	push %rcx
	xor %edx, %edx
1:	call port_skip
	jc 3f
	mov $0xa5, %al
	outb %al, %dx
	mov $0xa5a5, %ax
	outw %ax, %dx
	mov $0xa5a5a5a5, %eax
	outl %eax, %dx
	addq $3, port_writes(%rip)
	inb %dx, %al
	cmp $0xff, %al
	jne 2f
	incq port_reads(%rip)
	jmp 3f
2:	cmpl $8, fail_count(%rip)		/* print the first few only */
	jae 4f
	push %rdi
	push %rsi
	movzbl %al, %ecx
	STR(GUEST_PREFIX "FAIL: hostile-io: port 0x")
	mov %edx, %edi
	mov $4, %esi
	call puthex
	STR(" reads 0x")
	mov %ecx, %edi
	mov $2, %esi
	call puthex
	STR(", not 0xff\n")
	pop %rsi
	pop %rdi
4:	incl fail_count(%rip)
3:	inc %edx
	cmp $0x10000, %edx
	jb 1b
	pop %rcx
	pop %rdx
	LINE("hostile-io: ports done")
	ret

/* rep outsb / rep insl on an unknown port: one exit with a count. */
string_io:
	push %rdi
	push %rsi
	push %rcx
	push %rdx
	mov $STRING_PORT, %edx
	lea io_buf(%rip), %rsi
	mov $4096, %ecx
	cld
	rep outsb
	lea io_buf(%rip), %rdi
	mov $1024, %ecx
	rep insl
	addq $4096, port_writes(%rip)
	lea io_buf(%rip), %rsi
	mov $512, %ecx
1:	cmpq $-1, (%rsi)
	jne 2f
	add $8, %rsi
	dec %ecx
	jnz 1b
	addq $1024, port_reads(%rip)
	LINE("hostile-io: string I/O done")
	jmp 3f
2:	FAIL("hostile-io: rep insl from an unknown port did not read all ones")
3:	pop %rdx
	pop %rcx
	pop %rsi
	pop %rdi
	ret

/* write_range: a qword of 0x5a.. to every %rdx bytes in [%rdi, %rsi) */
write_range:
	push %rdi
	push %rcx
	movabs $0x5a5a5a5a5a5a5a5a, %rcx
1:	cmp %rsi, %rdi
	jae 2f
	mov %rcx, (%rdi)
	incq mmio_writes(%rip)
	add %rdx, %rdi
	jmp 1b
2:	pop %rcx
	pop %rdi
	ret

/* read_range: a 32-bit read of every %rdx bytes in [%rdi, %rsi) must be
 * all ones */
read_range:
	push %rdi
1:	cmp %rsi, %rdi
	jae 3f
	mov (%rdi), %eax
	cmp $0xffffffff, %eax
	je 2f
	FAIL("hostile-io: an unclaimed MMIO read is not all ones")
	jmp 3f
2:	incq mmio_reads(%rip)
	add %rdx, %rdi
	jmp 1b
3:	pop %rdi
	ret

.macro RANGE fn, start, end, step
	movabs $\start, %rdi
	movabs $\end, %rsi
	mov $\step, %edx
	call \fn
.endm

mmio_storm:
	push %rdi
	push %rsi
	push %rdx
	push %rcx
	RANGE write_range, HOLE_START, HOLE_END, 0x1000
	RANGE read_range, HOLE_START, HOLE_END, 0x100000
	RANGE write_range, VIO_FREE_START, VIO_FREE_END, 4
	RANGE read_range, VIO_FREE_START, VIO_FREE_END, 0x100
	RANGE write_range, VIO_FREE_END, IOAPIC_START, 0x10000
	RANGE read_range, VIO_FREE_END, IOAPIC_START, 0x1000000
	RANGE write_range, TOP_START, 0x100000000, 0x10000
	RANGE read_range, TOP_START, 0x100000000, 0x100000
	LINE("hostile-io: MMIO hole done")
	/* 16 MiB past the end of RAM (below the hole) */
	call ram_end
	test %rax, %rax
	jz 1f
	mov %rax, %rdi
	lea PAST_RAM_SPAN(%rax), %rsi
	mov $HOLE_START, %ecx
	cmp %rcx, %rsi
	jbe 2f
	mov %rcx, %rsi
2:	mov $0x1000, %edx
	call write_range
	mov $0x100000, %edx
	call read_range
	LINE("hostile-io: past the end of RAM done")
1:	/* a qword straddling two pages of the hole */
	movabs $0x5a5a5a5a5a5a5a5a, %rax
	mov $(HOLE_START + 0x1ffc), %edi
	mov %rax, (%rdi)
	incq mmio_writes(%rip)
	/* a 4 KiB string move into the hole */
	lea io_buf(%rip), %rsi
	mov $(HOLE_START + 0x100000), %edi
	mov $4096, %ecx
	cld
	rep movsb
	addq $4096, mmio_writes(%rip)
	LINE("hostile-io: string MMIO done")
	pop %rcx
	pop %rdx
	pop %rsi
	pop %rdi
	ret

/* settle: wait ~1 s of TSC (bounded by a spin count) so the host can look
 * at the VMM after the storm. */
settle:
	push %rcx
	push %rdx
	push %r8
	rdtsc
	shl $32, %rdx
	or %rdx, %rax
	mov %rax, %r8
	mov $SETTLE_SPINS, %ecx
1:	pause
	rdtsc
	shl $32, %rdx
	or %rax, %rdx
	sub %r8, %rdx
	movabs $SETTLE_TSC, %rax
	cmp %rax, %rdx
	ja 2f
	dec %ecx
	jnz 1b
2:	pop %r8
	pop %rdx
	pop %rcx
	ret

/* ram_end: as in ports.S: the end of the highest usable e820 entry below
 * the MMIO hole, page-rounded plus one page, or 0. */
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
	.balign 8
port_writes:	.quad 0
port_reads:	.quad 0
mmio_writes:	.quad 0
mmio_reads:	.quad 0
	.balign 4096
io_buf:		.skip 4096
