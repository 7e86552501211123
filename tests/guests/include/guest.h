/* Included by the guests' .S files: clang-format would rewrite the
 * assembler macros, so it stays off for this header. */
/* clang-format off */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared definitions for the kvbox test guests (assembly only, no libc).
 * Every guest talks to the VMM through the legacy PC devices listed here;
 * README.md in this folder is the protocol reference.
 *
 * Output convention: every line a guest prints starts with GUEST_PREFIX and
 * ends in a single "\n", so tests can grep for it among the VMM's own lines.
 *
 * Helpers (lib64.S for 64-bit guests, lib32.S for the 32-bit PVH guest):
 *   putc      %dil/%edi: byte        puts   %rsi/%esi: NUL-terminated string
 *   putsn     %rsi: string, %rcx: max bytes (stops at NUL; non-printable
 *             bytes are shown as '?')
 *   puthex    %rdi: value, %esi: number of hex digits (1..16)
 *   putdec    %rdi: unsigned value
 *   reboot    i8042 reset, never returns        pvpanic  report panic, never returns
 *   halt_forever  cli; hlt loop
 * All helpers preserve every register except the flags.
 */
#ifndef KVBOX_TESTS_GUEST_H
#define KVBOX_TESTS_GUEST_H

#define PORT_COM1	0x3f8
#define UART_THR	0 /* write: transmit holding register */
#define UART_IER	1
#define UART_FCR	2
#define UART_LCR	3
#define UART_MCR	4
#define UART_LSR	5 /* read: line status */
#define UART_SCR	7
#define UART_DLL	0 /* with LCR.DLAB */
#define UART_DLM	1
#define UART_LCR_DLAB	0x80
#define UART_LSR_THRE	0x20
#define UART_LSR_TEMT	0x40
/* polls of LSR before a byte is written anyway: a VMM that never sets
 * THRE must still see output (each poll is one VM exit, ~10-20 us) */
#define UART_POLL_MAX	10000

#define PORT_I8042_CMD	0x64
#define I8042_CMD_RESET	0xfe

#define PORT_PVPANIC	0x505
#define PVPANIC_PANICKED 1

#define PORT_RTC_INDEX	0x70
#define PORT_RTC_DATA	0x71

#define ZERO_PAGE	0x7000
#define BP_E820_ENTRIES	0x1e8 /* u8 */
#define BP_HDR		0x1f1 /* setup_header copy */
#define BP_HDR_MAGIC	0x202 /* "HdrS" */
#define BP_CMD_LINE_PTR	0x228 /* u32 */
#define BP_CMDLINE_SIZE	0x238 /* u32 */
#define BP_EXT_CMD_LINE_PTR 0x0c8 /* u32, high half of the cmdline address */
#define BP_E820_TABLE	0x2d0 /* 20-byte entries: u64 addr, u64 size, u32 type */
#define E820_MAX	128
#define HDRS_MAGIC	0x53726448 /* "HdrS" little-endian */

#define PVH_START_MAGIC	0x336ec578
/* struct hvm_start_info (xen/include/public/arch-x86/hvm/start_info.h) */
#define SI_MAGIC	0
#define SI_VERSION	4
#define SI_FLAGS	8
#define SI_NR_MODULES	12
#define SI_MODLIST	16 /* u64 */
#define SI_CMDLINE	24 /* u64 */
#define SI_RSDP		32 /* u64 */
#define SI_MEMMAP	40 /* u64, version >= 1 */
#define SI_MEMMAP_NR	48 /* u32 */
#define MEMMAP_ENTRY_SIZE 24 /* u64 addr, u64 size, u32 type, u32 reserved */

#define LAPIC_BASE	0xfee00000
#define LAPIC_ID	0x020
#define LAPIC_SVR	0x0f0
#define LAPIC_ICR_LO	0x300
#define LAPIC_ICR_HI	0x310

#define CMDLINE_PRINT_MAX 4096

#define GUEST_PREFIX	"kvbox-guest: "

#ifdef __ASSEMBLER__
/* Print a literal line: LINE("hello") -> "kvbox-guest: hello\n" */
#define LINE(s)                                                                \
	.pushsection .rodata.str, "a";                                         \
	9876 :.ascii GUEST_PREFIX;                                             \
	.ascii s;                                                              \
	.asciz "\n";                                                           \
	.popsection;                                                           \
	PUTS_ADDR(9876b)
/* Print a literal string as is (no prefix, no newline). */
#define STR(s)                                                                 \
	.pushsection .rodata.str, "a";                                         \
	9877 :.asciz s;                                                        \
	.popsection;                                                           \
	PUTS_ADDR(9877b)
/* Report a failed check: FAIL("what") -> "kvbox-guest: FAIL: what\n" and
 * fail_count++.  The common exit path turns any failure into a pvpanic. */
#define FAIL(s)                                                                \
	.pushsection .rodata.str, "a";                                         \
	9878 :.asciz s;                                                        \
	.popsection;                                                           \
	CALL_WITH_STR(9878b, fail)
#define PUTS_ADDR(l) CALL_WITH_STR(l, puts)
#ifdef GUEST_32BIT
#define CALL_WITH_STR(l, fn) push %esi; mov $l, %esi; call fn; pop %esi
#else
#define CALL_WITH_STR(l, fn) push %rsi; lea l(%rip), %rsi; call fn; pop %rsi
#endif
#endif

#endif
