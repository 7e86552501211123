/* SPDX-License-Identifier: Apache-2.0 */
/*
 * counter.bzimage: counts to COUNT_MAX on the serial port, one line
 * "count N" every ~DELAY_TSC TSC ticks, for the snapshot tests
 * (tests/integration/snapshot.bats).  State lives where a snapshot must
 * carry it: the count in a register (%r12) and in memory (count_mem),
 * compared on every step; the TSC paces the lines; and each step takes
 * 32 bytes from the virtio-rng, so the device's queue positions (ring
 * indices in guest RAM and in the VMM) must survive a save and restore.
 * With a second vCPU (--cpus 2) the AP stays in wait-for-SIPI throughout.
 * Ends with "counter: done", reboot; any failed check: FAIL, pvpanic.
 */
#include "guest.h"
#include "virtio-guest.h"

#define COUNT_MAX 40
#define DELAY_TSC 150000000 /* ~50-100 ms on a 1.5-3 GHz TSC */

	.code64
	.text
	.globl guest_main
guest_main:
	push %r12
	LINE("counter: start")
	call vio_probe
	test %eax, %eax
	jnz 9f
	call vio_init
	test %eax, %eax
	jnz 9f
	xor %r12d, %r12d
1:	inc %r12
	incq count_mem(%rip)
	cmp count_mem(%rip), %r12
	je 2f
	FAIL("counter: the count in %r12 and in memory differ")
	jmp 9f
2:	mov $32, %edi
	call vio_request
	/* each wait is ~1-2 s of TSC; a loaded host can starve the VMM's
	 * event loop that long, so wait up to 4 times more (a request the
	 * device never sees still fails) */
	mov $4, %ecx
4:	cmp $-1, %eax
	jne 5f
	call vio_wait_used
	dec %ecx
	jnz 4b
5:	cmp $32, %eax
	je 3f
	FAIL("counter: virtio-rng request not served")
	jmp 9f
3:	STR(GUEST_PREFIX "count ")
	mov %r12, %rdi
	call putdec
	STR("\n")
	call delay
	cmp $COUNT_MAX, %r12
	jb 1b
	LINE("counter: done")
9:	pop %r12
	ret

/* Spins until the TSC has moved DELAY_TSC past its value at entry. */
delay:
	push %rax
	push %rcx
	push %rdx
	rdtsc
	shl $32, %rdx
	or %rax, %rdx
	lea DELAY_TSC(%rdx), %rcx
1:	pause
	rdtsc
	shl $32, %rdx
	or %rax, %rdx
	cmp %rcx, %rdx
	jb 1b
	pop %rdx
	pop %rcx
	pop %rax
	ret

	.bss
	.balign 8
count_mem:	.quad 0
