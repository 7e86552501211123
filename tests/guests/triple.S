/* SPDX-License-Identifier: Apache-2.0 */
/*
 * triple.bzimage: loads an IDT with limit 0 and executes ud2.  Delivering
 * #UD faults (#GP on the IDT limit), delivering that faults again (#DF),
 * and the third fault shuts the vCPU down: KVM_EXIT_SHUTDOWN.  The VMM
 * must report a triple fault and exit non-zero.
 *
 * ud2, not int3: on KVM-PVM every instruction of a non-PVM guest goes
 * through KVM's instruction emulator, which emulates INT n only in real
 * mode; a protected/long-mode int3 there ends in "emulation failure"
 * (KVM_EXIT_INTERNAL_ERROR), not a triple fault.  ud2 raises #UD, which
 * KVM delivers itself (PVM-NOTES.md, case d).
 */
#include "guest.h"

	.code64
	.text
	.globl guest_main
guest_main:
	LINE("triple fault test")
	LINE("loading a zero-limit IDT, then ud2")
	lidt null_idt(%rip)
	ud2
	FAIL("survived ud2 with an empty IDT")
	ret

	.section .rodata
	.balign 16
null_idt:
	.word 0			/* limit */
	.quad 0			/* base */
