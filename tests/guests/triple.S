/* SPDX-License-Identifier: Apache-2.0 */
/*
 * triple.bzimage: loads an IDT with limit 0 and executes int3.  Delivering
 * #BP faults (#GP on the IDT limit), delivering that faults again (#DF),
 * and the third fault shuts the vCPU down: KVM_EXIT_SHUTDOWN.  The VMM
 * must report a triple fault and exit non-zero.  ud2 follows in case int3
 * were somehow skipped; a clean reboot after it would be a VMM bug.
 */
#include "guest.h"

	.code64
	.text
	.globl guest_main
guest_main:
	LINE("triple fault test")
	LINE("loading a zero-limit IDT, then int3")
	lidt null_idt(%rip)
	int3
	ud2
	FAIL("survived int3 and ud2 with an empty IDT")
	ret

	.section .rodata
	.balign 16
null_idt:
	.word 0			/* limit */
	.quad 0			/* base */
