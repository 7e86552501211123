/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Output and exit helpers for the 32-bit PVH test guest: the same
 * protocol as lib64.S (polled COM1, i8042 reset, pvpanic), with 32-bit
 * values.  See include/guest.h for the calling convention.
 */
#define GUEST_32BIT
#include "guest.h"

	.code32
	.text

	.globl putc
putc:
	push %eax
	push %ecx
	push %edx
	mov $UART_POLL_MAX, %ecx
	mov $(PORT_COM1 + UART_LSR), %edx
1:	inb %dx, %al
	test $UART_LSR_THRE, %al
	jnz 2f
	dec %ecx
	jnz 1b
2:	mov $(PORT_COM1 + UART_THR), %edx
	mov %edi, %eax
	outb %al, %dx
	pop %edx
	pop %ecx
	pop %eax
	ret

	.globl puts
puts:
	push %esi
	push %edi
1:	movzbl (%esi), %edi
	test %edi, %edi
	jz 2f
	call putc
	inc %esi
	jmp 1b
2:	pop %edi
	pop %esi
	ret

/* putsn: at most %ecx bytes of the string at %esi, '?' for non-printables. */
	.globl putsn
putsn:
	push %esi
	push %edi
	push %ecx
	test %ecx, %ecx
	jz 3f
1:	movzbl (%esi), %edi
	test %edi, %edi
	jz 3f
	cmp $0x20, %edi
	jb 2f
	cmp $0x7e, %edi
	jbe 4f
2:	mov $'?', %edi
4:	call putc
	inc %esi
	dec %ecx
	jnz 1b
3:	pop %ecx
	pop %edi
	pop %esi
	ret

/* puthex: %esi (1..8) low hex digits of %edi. */
	.globl puthex
puthex:
	push %edi
	push %ecx
	push %edx
	mov %edi, %edx
	mov %esi, %ecx
	and $15, %ecx
1:	test %ecx, %ecx
	jz 3f
	dec %ecx
	mov %edx, %edi
	shl $2, %ecx
	shr %cl, %edi
	shr $2, %ecx
	and $15, %edi
	cmp $10, %edi
	jb 2f
	add $('a' - '0' - 10), %edi
2:	add $'0', %edi
	call putc
	jmp 1b
3:	pop %edx
	pop %ecx
	pop %edi
	ret

/* puthex64: the u64 at (%edi) as %esi (1..16) hex digits. */
	.globl puthex64
puthex64:
	push %edi
	push %esi
	push %eax
	mov %edi, %eax
	cmp $8, %esi
	jbe 1f
	sub $8, %esi
	mov 4(%eax), %edi
	call puthex
	mov $8, %esi
1:	mov (%eax), %edi
	call puthex
	pop %eax
	pop %esi
	pop %edi
	ret

/* putdec: %edi as unsigned decimal. */
	.globl putdec
putdec:
	push %eax
	push %ebx
	push %ecx
	push %edx
	push %esi
	sub $16, %esp
	mov %edi, %eax
	mov $10, %ebx
	lea 15(%esp), %ecx
	movb $0, (%ecx)
1:	xor %edx, %edx
	div %ebx
	add $'0', %edx
	dec %ecx
	mov %dl, (%ecx)
	test %eax, %eax
	jnz 1b
	mov %ecx, %esi
	call puts
	add $16, %esp
	pop %esi
	pop %edx
	pop %ecx
	pop %ebx
	pop %eax
	ret

	.globl reboot
reboot:
	mov $I8042_CMD_RESET, %al
	outb %al, $PORT_I8042_CMD
	jmp halt_forever

	.globl pvpanic
pvpanic:
	mov $PVPANIC_PANICKED, %al
	mov $PORT_PVPANIC, %edx
	outb %al, %dx
	.globl halt_forever
halt_forever:
	cli
1:	hlt
	jmp 1b

	.globl fail
fail:
	incl fail_count
	STR(GUEST_PREFIX "FAIL: ")
	call puts
	push %edi
	mov $'\n', %edi
	call putc
	pop %edi
	ret

	.bss
	.globl fail_count
	.balign 4
fail_count:
	.long 0
