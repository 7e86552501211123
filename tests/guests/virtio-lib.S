/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A minimal polled virtio-mmio (version 2) driver for the test guests:
 * register access, the status dance, queue 0 set-up in guest RAM, posting
 * a descriptor, notifying, and bounded waits.  No interrupts are taken
 * (IF stays 0); completion is seen by polling the used ring.  Interface:
 * include/virtio-guest.h.  Every instruction is emulated on KVM-PVM, so
 * nothing here loops over more than a few dozen bytes.
 */
#include "guest.h"
#include "virtio-guest.h"

	.code64
	.text

/* vio_read: 32-bit register %edi -> %eax of the window at vio_base (slot
 * 0 unless a guest changes it).  The base is loaded into a register: a
 * 0xd0000000 displacement would be sign-extended. */
	.globl vio_read
vio_read:
	push %rdx
	mov vio_base(%rip), %rdx
	mov %edi, %eax
	mov (%rdx,%rax), %eax
	pop %rdx
	ret

/* vio_write: 32-bit register %edi := %esi */
	.globl vio_write
vio_write:
	push %rdx
	push %rax
	mov vio_base(%rip), %rdx
	mov %edi, %eax
	mov %esi, (%rdx,%rax)
	pop %rax
	pop %rdx
	ret

	.globl vio_probe
vio_probe:
	VR(VIO_MAGIC)
	cmp $VIO_MAGIC_VALUE, %eax
	je 1f
	FAIL("virtio: no 'virt' magic at 0xd0000000 (no device in slot 0?)")
	mov $1, %eax
	ret
1:	VR(VIO_VERSION)
	cmp $2, %eax
	je 1f
	FAIL("virtio: version is not 2 (virtio-mmio modern)")
	mov $1, %eax
	ret
1:	VR(VIO_DEVICE_ID)
	cmp $VIRTIO_ID_RNG, %eax
	je 1f
	FAIL("virtio: device id is not 4 (entropy source)")
	mov $1, %eax
	ret
1:	push %rdi
	push %rsi
	STR(GUEST_PREFIX "virtio: magic virt, version 2, device id 4, vendor 0x")
	VR(VIO_VENDOR_ID)
	mov %eax, %edi
	mov $8, %esi
	call puthex
	STR(", irq ")
	mov $VIO_IRQ, %edi
	call putdec
	STR("\n")
	pop %rsi
	pop %rdi
	xor %eax, %eax
	ret

	.globl vio_reset
vio_reset:
	VW(VIO_STATUS, $0)
	VR(VIO_STATUS)
	ret

/* Zero the rings' indices and our shadows (the device forgets its own on
 * reset; the driver must not leave stale indices in memory). */
vio_rings_clear:
	movl $0, vq_ring+VQ_AVAIL_OFF(%rip)	/* flags, idx */
	movl $0, vq_ring+VQ_USED_OFF(%rip)
	movl $0, vio_avail_shadow(%rip)		/* and vio_used_shadow */
	ret

	.globl vio_init
vio_init:
	push %rsi
	call vio_reset
	test %eax, %eax
	jz 1f
	FAIL("virtio: Status is not 0 after a reset")
	jmp 9f
1:	VW(VIO_STATUS, $S_ACK)
	VW(VIO_STATUS, $(S_ACK | S_DRIVER))
	VW(VIO_DEV_FEATURES_SEL, $1)
	VR(VIO_DEV_FEATURES)
	test $1, %eax				/* VIRTIO_F_VERSION_1 is bit 32 */
	jnz 1f
	FAIL("virtio: device does not offer VIRTIO_F_VERSION_1")
	jmp 9f
1:	VW(VIO_DRV_FEATURES_SEL, $1)
	VW(VIO_DRV_FEATURES, $1)
	VW(VIO_DRV_FEATURES_SEL, $0)
	VW(VIO_DRV_FEATURES, $0)
	VW(VIO_STATUS, $(S_ACK | S_DRIVER | S_FEATURES_OK))
	VR(VIO_STATUS)
	cmp $(S_ACK | S_DRIVER | S_FEATURES_OK), %eax
	je 1f
	FAIL("virtio: FEATURES_OK not accepted for VERSION_1 alone")
	jmp 9f
1:	VW(VIO_QUEUE_SEL, $0)
	VR(VIO_QUEUE_NUM_MAX)
	cmp $VQ_SIZE, %eax
	jae 1f
	FAIL("virtio: QueueNumMax of queue 0 below 8")
	jmp 9f
1:	VR(VIO_QUEUE_READY)
	test %eax, %eax
	jz 1f
	FAIL("virtio: queue 0 ready right after a reset")
	jmp 9f
1:	call vio_rings_clear
	VW(VIO_QUEUE_NUM, $VQ_SIZE)
	lea vq_ring(%rip), %rsi			/* linked below 4 GiB */
	VW(VIO_QUEUE_DESC_LOW, %esi)
	VW(VIO_QUEUE_DESC_HIGH, $0)
	lea vq_ring+VQ_AVAIL_OFF(%rip), %rsi
	VW(VIO_QUEUE_AVAIL_LOW, %esi)
	VW(VIO_QUEUE_AVAIL_HIGH, $0)
	lea vq_ring+VQ_USED_OFF(%rip), %rsi
	VW(VIO_QUEUE_USED_LOW, %esi)
	VW(VIO_QUEUE_USED_HIGH, $0)
	VW(VIO_QUEUE_READY, $1)
	VR(VIO_QUEUE_READY)
	cmp $1, %eax
	je 1f
	FAIL("virtio: QueueReady does not read back 1")
	jmp 9f
1:	VW(VIO_STATUS, $S_LIVE)
	VR(VIO_STATUS)
	cmp $S_LIVE, %eax
	je 1f
	FAIL("virtio: Status is not 0xf after DRIVER_OK")
	jmp 9f
1:	xor %eax, %eax
	pop %rsi
	ret
9:	mov $1, %eax
	pop %rsi
	ret

/* vio_desc: descriptor %edi := {addr %rsi, len %edx, flags %cx, next ecx>>16} */
	.globl vio_desc
vio_desc:
	push %rdx
	push %rdi
	and $0xffff, %edi			/* the table has VQ_SIZE entries; */
	shl $4, %edi				/* callers pick indices inside it */
	lea vq_ring(%rip), %rax
	add %rdi, %rax
	mov %rsi, (%rax)
	mov %edx, 8(%rax)
	mov %ecx, 12(%rax)			/* flags (u16), next (u16) */
	pop %rdi
	pop %rdx
	ret

/* vio_post: avail.ring[shadow % size] := head %di; avail.idx := ++shadow.
 * x86 keeps stores in order: the entry is visible before the index. */
	.globl vio_post
vio_post:
	push %rdx
	lea vq_ring+VQ_AVAIL_OFF(%rip), %rdx
	movzwl vio_avail_shadow(%rip), %eax
	and $(VQ_SIZE - 1), %eax
	mov %di, 4(%rdx,%rax,2)
	incw vio_avail_shadow(%rip)
	movzwl vio_avail_shadow(%rip), %eax
	mov %ax, 2(%rdx)
	pop %rdx
	ret

	.globl vio_notify
vio_notify:
	VW(VIO_QUEUE_NOTIFY, %edi)
	ret

/* wait_start: %r8 = start TSC, %r9d = spins left.  wait_over: CF=1 when
 * either bound is exhausted.  Callers save %r8/%r9. */
wait_start:
	push %rdx
	rdtsc
	shl $32, %rdx
	or %rdx, %rax
	mov %rax, %r8
	mov $WAIT_SPINS, %r9d
	pop %rdx
	ret
wait_over:
	push %rax
	push %rdx
	pause
	rdtsc
	shl $32, %rdx
	or %rax, %rdx
	sub %r8, %rdx
	movabs $WAIT_TSC, %rax
	cmp %rax, %rdx
	ja 1f
	dec %r9d
	jz 1f
	clc
	jmp 2f
1:	stc
2:	pop %rdx
	pop %rax
	ret

	.globl vio_wait_used
vio_wait_used:
	push %r8
	push %r9
	push %rdx
	call wait_start
1:	movzwl vq_ring+VQ_USED_OFF+2(%rip), %eax
	cmp vio_used_shadow(%rip), %ax
	jne 2f
	call wait_over
	jnc 1b
	mov $-1, %eax
	jmp 3f
2:	movzwl vio_used_shadow(%rip), %eax
	and $(VQ_SIZE - 1), %eax
	lea vq_ring+VQ_USED_OFF+4(%rip), %rdx
	mov 4(%rdx,%rax,8), %eax		/* used elem: u32 id, u32 len */
	incw vio_used_shadow(%rip)
3:	pop %rdx
	pop %r9
	pop %r8
	ret

/* vio_wait_reg: bounded wait for (register %edi & %esi) != 0; %eax = value */
vio_wait_reg:
	push %r8
	push %r9
	call wait_start
1:	call vio_read
	test %esi, %eax
	jnz 2f
	call wait_over
	jnc 1b
2:	pop %r9
	pop %r8
	test %esi, %eax
	ret

	.globl vio_wait_status
vio_wait_status:
	push %rdi
	push %rsi
	mov %edi, %esi
	mov $VIO_STATUS, %edi
	call vio_wait_reg
	pop %rsi
	pop %rdi
	ret

	.globl vio_wait_isr
vio_wait_isr:
	push %rdi
	push %rsi
	mov %edi, %esi
	mov $VIO_INTERRUPT_STATUS, %edi
	call vio_wait_reg
	pop %rsi
	pop %rdi
	ret

	.globl vio_request
vio_request:
	push %rsi
	push %rdx
	push %rcx
	push %rdi
	lea vq_buf(%rip), %rsi
	movq $0, (%rsi)
	movq $0, 8(%rsi)
	movq $0, 16(%rsi)
	movq $0, 24(%rsi)
	mov %edi, %edx
	mov $VRING_DESC_F_WRITE, %ecx
	xor %edi, %edi
	call vio_desc
	call vio_post				/* head 0 */
	call vio_notify				/* queue 0 */
	call vio_wait_used
	pop %rdi
	pop %rcx
	pop %rdx
	pop %rsi
	ret

	.globl vio_nonzero
vio_nonzero:
	push %rcx
	push %rsi
	lea vq_buf(%rip), %rsi
	mov %edi, %ecx
	cmp $32, %ecx
	jbe 1f
	mov $32, %ecx
1:	xor %eax, %eax
	test %ecx, %ecx
	jz 3f
2:	or (%rsi), %al
	inc %rsi
	dec %ecx
	jnz 2b
	test %al, %al
	setnz %al
3:	pop %rsi
	pop %rcx
	ret

	.data
	.balign 8
	.globl vio_base
vio_base:	.quad VIO_BASE

	.bss
	.balign 4096
	.globl vq_ring, vq_buf
vq_ring:	.skip 4096
vq_buf:		.skip 4096
	.globl vio_avail_shadow, vio_used_shadow
	.balign 4
vio_avail_shadow:	.word 0
vio_used_shadow:	.word 0
