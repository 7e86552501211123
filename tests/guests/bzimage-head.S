/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The bzImage wrapper shared by every *.bzimage guest: a Linux boot
 * protocol 2.15 setup header (what the VMM's bzImage parser reads), a
 * stub at load_addr+0 that reports a wrong entry point, and the 64-bit
 * entry at load_addr+0x200 that sets up a stack and calls guest_main.
 * bzimage.ld places .setup at file offset 0 and the payload right after
 * the (setup_sects+1)*512 bytes of setup, linked at 0x100000.
 *
 * guest_main returns normally for a clean end: the entry code then
 * reboots (status 0) if no check failed, and raises pvpanic otherwise.
 */
#include "guest.h"

#define SETUP_SECTS	4
#define XLF_KERNEL_64	0x0001
#define LOADED_HIGH	0x01

	.section .setup, "a"
	.code16
	.globl setup_start
setup_start:
	.org 0x1f1
setup_sects:	.byte SETUP_SECTS
root_flags:	.word 0
syssize:	.long _syssize		/* payload size in 16-byte units */
ram_size:	.word 0
vid_mode:	.word 0xffff		/* "normal" */
root_dev:	.word 0
boot_flag:	.word 0xaa55
	.org 0x200
		.byte 0xeb, setup_code - 1f	/* jmp setup_code */
1:		.ascii "HdrS"
version:	.word 0x020f
realmode_swtch:	.long 0
start_sys_seg:	.word 0x1000
kernel_version:	.word kver - 0x200
type_of_loader:	.byte 0
loadflags:	.byte LOADED_HIGH
setup_move_size: .word 0x8000
code32_start:	.long 0x100000
ramdisk_image:	.long 0
ramdisk_size:	.long 0
bootsect_kludge: .long 0
heap_end_ptr:	.word 0
ext_loader_ver:	.byte 0
ext_loader_type: .byte 0
	.org 0x228
cmd_line_ptr:	.long 0
initrd_addr_max: .long 0x7fffffff
kernel_alignment: .long 0x200000
relocatable_kernel: .byte 0
min_alignment:	.byte 21
xloadflags:	.word XLF_KERNEL_64
cmdline_size:	.long 4095
hardware_subarch: .long 0
hardware_subarch_data: .quad 0
payload_offset:	.long 0
payload_length:	.long 0
setup_data:	.quad 0
	.org 0x258
pref_address:	.quad 0x100000
init_size:	.long _init_size	/* payload + bss */
handover_offset: .long 0
kernel_info_offset: .long 0

/* Real-mode setup entry: only a 16-bit boot loader would come here, and
 * kvbox never does.  Stop quietly rather than pretend to work. */
setup_code:
	cli
1:	hlt
	jmp 1b
kver:	.asciz "kvbox test guest"

/*
 * load_addr+0: the 32-bit boot protocol entry.  kvbox must enter at +0x200
 * in 64-bit mode, so arriving here is a VMM bug.  Built only from
 * instructions that decode the same in 32- and 64-bit mode (no memory,
 * no stack), it says so on COM1 and raises pvpanic.
 */
	.section .head32, "ax"
.macro OUTC c
	.byte 0xb0, \c, 0xee		/* mov $c, %al; out %al, %dx */
.endm
.macro OUTS str
	.irpc c, \str
	.byte 0xb0
	.ascii "\c"
	.byte 0xee
	.endr
.endm
	.byte 0xba			/* mov $PORT_COM1, %edx */
	.long PORT_COM1
	OUTS kvbox-guest:
	OUTC ' '
	OUTS FAIL:
	OUTC ' '
	OUTS entered
	OUTC ' '
	OUTS at
	OUTC ' '
	OUTS load_addr+0
	OUTC ' '
	OUTS not
	OUTC ' '
	OUTS +0x200
	OUTC '\n'
	.byte 0xba			/* mov $PORT_PVPANIC, %edx */
	.long PORT_PVPANIC
	OUTC PVPANIC_PANICKED
	.byte 0xfa, 0xf4, 0xeb, 0xfd	/* cli; 1: hlt; jmp 1b */

/* load_addr+0x200: 64-bit entry, RSI = boot_params, interrupts off. */
	.section .head64, "ax"
	.code64
	.globl startup_64
startup_64:
	lea stack_top(%rip), %rsp	/* lea and mov leave RFLAGS alone */
	mov %rsi, boot_params(%rip)
	pushfq
	popq entry_rflags(%rip)
	cld
	call guest_main
	cmpl $0, fail_count(%rip)
	jne 1f
	jmp reboot
1:	LINE("FAILED")
	jmp pvpanic

	.bss
	.balign 16
	.globl boot_params, entry_rflags
boot_params:	.quad 0
entry_rflags:	.quad 0
	.balign 4096
stack:	.skip 16384
stack_top:
