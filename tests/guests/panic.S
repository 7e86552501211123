/* SPDX-License-Identifier: Apache-2.0 */
/*
 * panic.bzimage: reads the pvpanic capability byte (bit 0 = "panicked"
 * event supported, as Linux's pvpanic driver checks), prints it, then
 * writes PVPANIC_PANICKED to port 0x505.  The VMM must end the VM and
 * exit non-zero, reporting a guest panic.  If it does not, the guest
 * halts with interrupts off (the test's timeout catches that).
 */
#include "guest.h"

	.code64
	.text
	.globl guest_main
guest_main:
	LINE("panic test")
	STR(GUEST_PREFIX "pvpanic capabilities 0x")
	mov $PORT_PVPANIC, %edx
	inb %dx, %al
	movzbl %al, %edi
	mov $2, %esi
	call puthex
	STR("\n")
	LINE("raising pvpanic")
	call pvpanic		/* never returns */
