/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Output and exit helpers for the 64-bit test guests.  Polled 8250 output
 * on COM1, i8042 reset, pvpanic.  No interrupts, no memory beyond the
 * caller's stack.  Every guest instruction is emulated on KVM-PVM
 * (PVM-NOTES.md), so these stay short.
 */
#include "guest.h"

	.code64
	.text

/* putc: write %dil to COM1 once LSR.THRE is set (bounded poll). */
	.globl putc
putc:
	push %rax
	push %rcx
	push %rdx
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
	pop %rdx
	pop %rcx
	pop %rax
	ret

/* puts: NUL-terminated string at %rsi. */
	.globl puts
puts:
	push %rsi
	push %rdi
1:	movzbl (%rsi), %edi
	test %edi, %edi
	jz 2f
	call putc
	inc %rsi
	jmp 1b
2:	pop %rdi
	pop %rsi
	ret

/* putsn: at most %rcx bytes of the string at %rsi, '?' for non-printables. */
	.globl putsn
putsn:
	push %rsi
	push %rdi
	push %rcx
	test %rcx, %rcx
	jz 3f
1:	movzbl (%rsi), %edi
	test %edi, %edi
	jz 3f
	cmp $0x20, %edi
	jb 2f
	cmp $0x7e, %edi
	jbe 4f
2:	mov $'?', %edi
4:	call putc
	inc %rsi
	dec %rcx
	jnz 1b
3:	pop %rcx
	pop %rdi
	pop %rsi
	ret

/* puthex: %esi low hex digits of %rdi, most significant first. */
	.globl puthex
puthex:
	push %rdi
	push %rcx
	push %rdx
	mov %rdi, %rdx
	mov %esi, %ecx
	and $31, %ecx
1:	test %ecx, %ecx
	jz 3f
	dec %ecx
	mov %rdx, %rdi
	shl $2, %ecx
	shr %cl, %rdi
	shr $2, %ecx
	and $15, %edi
	cmp $10, %edi
	jb 2f
	add $('a' - '0' - 10), %edi
2:	add $'0', %edi
	call putc
	jmp 1b
3:	pop %rdx
	pop %rcx
	pop %rdi
	ret

/* putdec: %rdi as unsigned decimal. */
	.globl putdec
putdec:
	push %rax
	push %rcx
	push %rdx
	push %rdi
	push %rbx
	sub $24, %rsp
	mov %rdi, %rax
	mov $10, %ebx
	lea 23(%rsp), %rcx
	movb $0, (%rcx)
1:	xor %edx, %edx
	div %rbx
	add $'0', %edx
	dec %rcx
	mov %dl, (%rcx)
	test %rax, %rax
	jnz 1b
	push %rsi
	mov %rcx, %rsi
	call puts
	pop %rsi
	add $24, %rsp
	pop %rbx
	pop %rdi
	pop %rdx
	pop %rcx
	pop %rax
	ret

/* reboot: i8042 "pulse reset line"; the VMM ends the VM with status 0. */
	.globl reboot
reboot:
	mov $I8042_CMD_RESET, %al
	outb %al, $PORT_I8042_CMD
	jmp halt_forever

/* pvpanic: report a guest panic; the VMM exits non-zero. */
	.globl pvpanic
pvpanic:
	mov $PVPANIC_PANICKED, %al
	mov $PORT_PVPANIC, %edx
	outb %al, %dx
	/* fall through: a VMM that ignores pvpanic leaves us halted */
	.globl halt_forever
halt_forever:
	cli
1:	hlt
	jmp 1b

/* fail: print "FAIL: " + string at %rsi + "\n" and count it in fail_count. */
	.globl fail
fail:
	incl fail_count(%rip)
	STR(GUEST_PREFIX "FAIL: ")
	call puts
	push %rdi
	mov $'\n', %edi
	call putc
	pop %rdi
	ret

	.bss
	.globl fail_count
	.balign 4
fail_count:
	.long 0
