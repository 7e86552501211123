/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-rng.bzimage: a minimal virtio-mmio driver for the virtio-rng
 * device kvbox boot puts at 0xd0000000 (IRQ 5).
 *   1. probe: magic "virt", version 2, device id 4;
 *   2. route IOAPIC pin 5 to vector 0x30 on the BSP and enable its LAPIC,
 *      so an interrupt from the device shows up in the LAPIC's IRR (IF
 *      stays 0: nothing is delivered, the bit just stays pending);
 *   3. status dance with VERSION_1 only, queue 0 of 8 entries in guest RAM,
 *      DRIVER_OK (virtio-lib.S);
 *   4. REQUESTS requests of REQ_LEN device-writable bytes: post, notify
 *      (QueueNotify: an ioeventfd in kvbox, or an MMIO exit), poll the used
 *      ring; each must come back full and not all zero;
 *   5. InterruptStatus has the used-buffer bit, InterruptACK clears it, and
 *      the LAPIC saw vector 0x30 (the irqfd -> GSI 5 -> IOAPIC path);
 *   6. "virtio-rng ok N bytes", reset the device, reboot.
 * Any failed check: FAIL line, pvpanic, non-zero exit.
 */
#include "guest.h"
#include "virtio-guest.h"

#define REQUESTS	4
#define REQ_LEN		32
#define IOAPIC_BASE	0xfec00000
#define IOAPIC_WIN	0x10
#define IRQ_VECTOR	0x30
#define LAPIC_IRR	0x200	/* + 0x10 per 32 vectors */

	.code64
	.text
	.globl guest_main
guest_main:
	push %rbx
	push %r12
	LINE("virtio-rng test")
	call vio_probe
	test %eax, %eax
	jnz 9f
	call route_irq
	call vio_init
	test %eax, %eax
	jnz 9f
	LINE("virtio-rng: driver ok, queue 0 has 8 entries")

	xor %ebx, %ebx				/* bytes received */
	mov $REQUESTS, %r12d
1:	mov $REQ_LEN, %edi
	call vio_request
	cmp $-1, %eax
	jne 2f
	FAIL("virtio-rng: no used buffer within ~2 s of the notification")
	jmp 9f
2:	cmp $REQ_LEN, %eax
	je 3f
	FAIL("virtio-rng: used length is not the buffer length")
	jmp 9f
3:	add %eax, %ebx
	mov $REQ_LEN, %edi
	call vio_nonzero
	test %eax, %eax
	jnz 4f
	FAIL("virtio-rng: buffer is all zero after the device used it")
	jmp 9f
4:	dec %r12d
	jnz 1b
	call print_sample

	call check_interrupt
	STR(GUEST_PREFIX "virtio-rng ok ")
	mov %rbx, %rdi
	call putdec
	STR(" bytes\n")
	call vio_reset
	test %eax, %eax
	jz 9f
	FAIL("virtio-rng: Status not 0 after the final reset")
9:	pop %r12
	pop %rbx
	ret

/* IOAPIC redirection entry for pin VIO_IRQ: vector 0x30, fixed, physical,
 * edge, active high, unmasked, destination APIC 0.  LAPIC SVR: enabled. */
route_irq:
	push %rdx
	mov $IOAPIC_BASE, %edx
	movl $(0x10 + 2 * VIO_IRQ + 1), (%rdx)
	movl $0, IOAPIC_WIN(%rdx)
	movl $(0x10 + 2 * VIO_IRQ), (%rdx)
	movl $IRQ_VECTOR, IOAPIC_WIN(%rdx)
	mov $LAPIC_BASE, %edx
	movl $0x1ff, LAPIC_SVR(%rdx)
	pop %rdx
	ret

check_interrupt:
	push %rdi
	push %rdx
	mov $INT_VRING, %edi
	call vio_wait_isr
	jnz 1f
	FAIL("virtio-rng: InterruptStatus lacks the used-buffer bit")
	jmp 3f
1:	VW(VIO_INTERRUPT_ACK, %eax)
	VR(VIO_INTERRUPT_STATUS)
	test %eax, %eax
	jz 2f
	FAIL("virtio-rng: InterruptACK did not clear InterruptStatus")
2:	LINE("virtio-rng: InterruptStatus used-buffer bit set, ACK clears it")
	/* the edge reaches the LAPIC asynchronously (irqfd is injected by a
	 * kernel worker): poll IRR for vector 0x30, bounded */
	mov $LAPIC_BASE, %edx
	mov $WAIT_SPINS, %ecx
4:	mov LAPIC_IRR + 0x10 * (IRQ_VECTOR / 32)(%rdx), %eax
	bt $(IRQ_VECTOR % 32), %eax
	jc 5f
	pause
	dec %ecx
	jnz 4b
	FAIL("virtio-rng: vector 0x30 never became pending in the LAPIC (IRQ 5 not raised)")
	jmp 3f
5:	LINE("virtio-rng: IRQ 5 reached the LAPIC as vector 0x30")
3:	pop %rdx
	pop %rdi
	ret

/* The first 8 bytes of the last buffer, for a human reading the log. */
print_sample:
	push %rdi
	push %rsi
	STR(GUEST_PREFIX "virtio-rng: sample 0x")
	mov vq_buf(%rip), %rdi
	bswap %rdi
	mov $16, %esi
	call puthex
	STR("\n")
	pop %rsi
	pop %rdi
	ret
