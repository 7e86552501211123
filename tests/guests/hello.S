/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hello.bzimage: the 64-bit boot protocol end to end.  Programs the UART
 * the way Linux's early serial console does (DLAB divisor dance), prints a
 * greeting, checks the entry state (boot_params in RSI with the setup
 * header copied in, interrupts off), echoes the command line from
 * boot_params.cmd_line_ptr and the e820 map, then reboots: status 0.
 */
#include "guest.h"

	.code64
	.text
	.globl guest_main
guest_main:
	call uart_init
	LINE("hello from 64-bit")

	STR(GUEST_PREFIX "boot_params at 0x")
	mov boot_params(%rip), %rbx
	mov %rbx, %rdi
	mov $8, %esi
	call puthex
	STR("\n")

	cmpl $HDRS_MAGIC, BP_HDR_MAGIC(%rbx)
	je 1f
	FAIL("boot_params has no setup header (HdrS at 0x202)")
1:	testl $0x200, entry_rflags(%rip)
	jz 1f
	FAIL("entered with interrupts enabled")
1:	mov %cr0, %rax
	bt $31, %rax
	jc 1f
	FAIL("entered with paging off")
1:
	/* command line: cmd_line_ptr | ext_cmd_line_ptr << 32 */
	mov BP_CMD_LINE_PTR(%rbx), %eax
	mov BP_EXT_CMD_LINE_PTR(%rbx), %edx
	shl $32, %rdx
	or %rdx, %rax
	STR(GUEST_PREFIX "cmdline: [")
	test %rax, %rax
	jz 2f
	mov $0xffffffff, %edx
	cmp %rdx, %rax
	jbe 1f
	FAIL("cmdline above 4 GiB (not identity-mapped)")
	jmp 2f
1:	mov %rax, %rsi
	mov $CMDLINE_PRINT_MAX, %ecx
	call putsn
2:	STR("]\n")

	call print_e820
	LINE("rebooting")
	ret

/* Linux early_serial_init(): 8n1, no interrupts, no FIFO, DTR|RTS,
 * divisor 1 (115200 baud) through DLAB. */
uart_init:
	mov $(PORT_COM1 + UART_LCR), %edx
	mov $0x03, %al
	outb %al, %dx
	mov $(PORT_COM1 + UART_IER), %edx
	xor %eax, %eax
	outb %al, %dx
	mov $(PORT_COM1 + UART_FCR), %edx
	outb %al, %dx
	mov $(PORT_COM1 + UART_MCR), %edx
	mov $0x03, %al
	outb %al, %dx
	mov $(PORT_COM1 + UART_LCR), %edx
	mov $(0x03 | UART_LCR_DLAB), %al
	outb %al, %dx
	mov $(PORT_COM1 + UART_DLL), %edx
	mov $1, %al
	outb %al, %dx
	mov $(PORT_COM1 + UART_DLM), %edx
	xor %eax, %eax
	outb %al, %dx
	mov $(PORT_COM1 + UART_LCR), %edx
	mov $0x03, %al
	outb %al, %dx
	ret

/* "e820: <start>-<end> type <t>" per entry, then the usable total. */
print_e820:
	push %rbx
	push %r12
	push %r13
	mov boot_params(%rip), %rbx
	movzbl BP_E820_ENTRIES(%rbx), %r12d
	cmp $E820_MAX, %r12d
	jbe 1f
	FAIL("e820_entries > 128")
	mov $E820_MAX, %r12d
1:	lea BP_E820_TABLE(%rbx), %rbx
	xor %r13d, %r13d		/* usable bytes */
2:	test %r12d, %r12d
	jz 4f
	STR(GUEST_PREFIX "e820: 0x")
	mov (%rbx), %rdi
	mov $9, %esi
	call puthex
	STR("-0x")
	mov (%rbx), %rdi
	add 8(%rbx), %rdi
	dec %rdi
	call puthex
	STR(" type ")
	mov 16(%rbx), %edi
	call putdec
	STR("\n")
	cmpl $1, 16(%rbx)
	jne 3f
	add 8(%rbx), %r13
3:	add $20, %rbx
	dec %r12d
	jmp 2b
4:	STR(GUEST_PREFIX "e820: usable RAM ")
	mov %r13, %rdi
	shr $20, %rdi
	call putdec
	STR(" MiB\n")
	pop %r13
	pop %r12
	pop %rbx
	ret
