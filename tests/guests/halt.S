/* SPDX-License-Identifier: Apache-2.0 */
/*
 * halt.bzimage: prints one line and executes cli; hlt.  With the in-kernel
 * irqchip the vCPU then sleeps inside KVM_RUN forever and never exits to
 * the VMM (PVM-NOTES.md, case f).  Tests run it under a timeout to prove
 * kvbox neither spins on the CPU nor ignores SIGTERM meanwhile.
 */
#include "guest.h"

	.code64
	.text
	.globl guest_main
guest_main:
	LINE("halting with interrupts off")
	jmp halt_forever
