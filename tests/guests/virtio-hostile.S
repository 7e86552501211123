/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-hostile.bzimage: drives the virtio-rng device at 0xd0000000 the
 * way a malicious guest would, one case at a time.  Each case starts from
 * a freshly initialised device (virtio-lib.S: vio_init), does its damage,
 * then checks the outcome:
 *   NEEDS_RESET  the spec (2.1.2, 2.7) makes this a device error: Status
 *                must gain NEEDS_RESET (0x40) and, when DRIVER_OK was set,
 *                InterruptStatus must carry the config-change bit;
 *   IGNORED      the device must shrug it off: a valid request right
 *                after is served and Status still reads 0xf;
 *   ANY          the outcome depends on random data; only recovery counts.
 * Then recovery: reset (Status 0), full init, one valid request whose
 * bytes must arrive.  Each case prints a line, so a VMM that died or hung
 * shows as missing output.  Summary line, then reboot; any failed check
 * ends in pvpanic.  With a command line starting with "h" (`--cmdline
 * hold`) the guest holds still for ~2 s of TSC after "virtio-hostile ok",
 * so tests/integration/hostile.bats can look at the VMM after the abuse.  The notification storm is also what tests/integration/
 * virtio.bats times for kvbox's CPU use.
 */
#include "guest.h"
#include "virtio-guest.h"

#define EXPECT_IGNORED	0
#define EXPECT_RESET	1	/* NEEDS_RESET, before DRIVER_OK */
#define EXPECT_RESET_OK	2	/* NEEDS_RESET + config interrupt (after DRIVER_OK) */
#define EXPECT_ANY	3

#define STORM_NOTIFIES	100000	/* valid queue index: ioeventfd, or MMIO exits */
#define STORM_BAD	500	/* per bad index: always MMIO exits */
#define PAST_RAM	0x4000000000	/* 256 GiB */
#define W		VRING_DESC_F_WRITE
#define N		VRING_DESC_F_NEXT
#define NEXT(i)		((i) << 16)

/* One case table entry: name, function, expected outcome. */
.macro CASE name, fn, expect
	.pushsection .rodata.str, "a"
9879:	.asciz "\name"
	.popsection
	.quad 9879b, \fn
	.long \expect, 0
.endm

	.section .rodata
	.balign 8
cases:
	CASE "descriptor loop (0 -> 1 -> 0)", c_loop, EXPECT_RESET_OK
	CASE "descriptor pointing at itself", c_self_loop, EXPECT_RESET_OK
	CASE "next index past the table", c_next_range, EXPECT_RESET_OK
	CASE "head index past the ring", c_head_range, EXPECT_RESET_OK
	CASE "avail index jumps past the ring size", c_avail_jump, EXPECT_RESET_OK
	CASE "buffer address past the end of RAM", c_past_ram, EXPECT_RESET_OK
	CASE "buffer on the device's own MMIO window", c_mmio_hole, EXPECT_RESET_OK
	CASE "buffer range wrapping past 2^64", c_wrap, EXPECT_RESET_OK
	CASE "buffer length 0xffffffff", c_huge, EXPECT_RESET_OK
	CASE "zero-length chain", c_empty, EXPECT_RESET_OK
	CASE "indirect descriptor not negotiated", c_indirect, EXPECT_RESET_OK
	CASE "descriptor ring on the LAPIC page", c_ring_outside, EXPECT_RESET
	CASE "queue size 3 (not a power of two)", c_ring_size3, EXPECT_RESET
	CASE "queue size 4096 (above QueueNumMax)", c_ring_size_big, EXPECT_RESET
	CASE "misaligned descriptor ring", c_ring_misaligned, EXPECT_RESET
	CASE "notification storm", c_storm, EXPECT_IGNORED
	CASE "unknown, read-only and odd-sized register accesses", c_registers, EXPECT_IGNORED
	CASE "bad status transitions", c_status, EXPECT_IGNORED
	CASE "device writes over the descriptor table it read", c_over_desc, EXPECT_IGNORED
	CASE "device writes over the avail ring", c_over_avail, EXPECT_ANY
cases_end:
#define CASE_SIZE 24

	.text
	.globl guest_main
guest_main:
	push %rbx
	push %r12
	push %r13
	LINE("virtio-hostile test")
	call vio_probe
	test %eax, %eax
	jnz 9f
	lea cases(%rip), %rbx
	xor %r12d, %r12d			/* cases run */
	xor %r13d, %r13d			/* NEEDS_RESET seen */
1:	lea cases_end(%rip), %rax
	cmp %rax, %rbx
	jae 2f
	call run_case
	test %eax, %eax
	jnz 9f					/* device did not recover */
	inc %r12d
	add $CASE_SIZE, %rbx
	jmp 1b
2:	STR(GUEST_PREFIX "virtio-hostile: ")
	mov %r12, %rdi
	call putdec
	STR(" cases, ")
	mov %r13, %rdi
	call putdec
	STR(" NEEDS_RESET, device recovered after every one\n")
	cmpl $0, fail_count(%rip)
	jne 9f
	LINE("virtio-hostile ok")
	call hold
9:	pop %r13
	pop %r12
	pop %rbx
	ret

/* hold: ~2 s of TSC (bounded by a spin count) when the command line
 * starts with 'h'. */
#define HOLD_TSC	6000000000
#define HOLD_SPINS	100000000	/* only if the TSC were stuck */
hold:
	push %rcx
	push %rdx
	push %r8
	mov boot_params(%rip), %rax
	mov BP_CMD_LINE_PTR(%rax), %eax
	test %eax, %eax
	jz 2f
	cmpb $'h', (%rax)
	jne 2f
	rdtsc
	shl $32, %rdx
	or %rdx, %rax
	mov %rax, %r8
	mov $HOLD_SPINS, %ecx
1:	pause
	rdtsc
	shl $32, %rdx
	or %rax, %rdx
	sub %r8, %rdx
	movabs $HOLD_TSC, %rax
	cmp %rax, %rdx
	ja 2f
	dec %ecx
	jnz 1b
2:	pop %r8
	pop %rdx
	pop %rcx
	ret

/* run_case: the entry at %rbx.  Counts NEEDS_RESET in %r13d.  %eax 0, or
 * 1 when the device could not be brought back (the run stops). */
run_case:
	STR(GUEST_PREFIX "hostile: ")
	mov (%rbx), %rsi
	call puts
	STR("\n")
	call vio_init
	test %eax, %eax
	jnz 2f
	call *8(%rbx)
	call check_outcome			/* prints "hostile: <name>: <outcome>" */
	/* recovery: reset, init, a valid request */
	call vio_init
	test %eax, %eax
	jnz 1f
	call request_ok
	test %eax, %eax
	jnz 1f
	STR(", recovered\n")
	xor %eax, %eax
	ret
1:	STR("\n")
2:	FAIL("hostile: the device did not recover after a reset")
	mov $1, %eax
	ret

/* check_outcome: what the entry at %rbx expects, after its damage. */
check_outcome:
	push %r14
	mov 16(%rbx), %r14d
	cmp $EXPECT_IGNORED, %r14d
	je 3f
	cmp $EXPECT_ANY, %r14d
	je 5f
	/* NEEDS_RESET expected (polled: with an ioeventfd the device runs
	 * on another host thread) */
	mov $S_NEEDS_RESET, %edi
	call vio_wait_status
	jnz 1f
	FAIL("hostile: device did not set NEEDS_RESET")
	jmp 2f
1:	inc %r13d
	cmp $EXPECT_RESET_OK, %r14d
	jne 2f
	mov $INT_CONFIG, %edi
	call vio_wait_isr
	jnz 2f
	FAIL("hostile: NEEDS_RESET after DRIVER_OK without a config-change interrupt")
2:	call case_prefix
	STR(": NEEDS_RESET")
	jmp 9f
	/* ignored: the device must still serve requests, Status 0xf */
3:	call request_ok
	VR(VIO_STATUS)
	cmp $S_LIVE, %eax
	je 4f
	FAIL("hostile: Status is not 0xf after an ignored abuse")
4:	call case_prefix
	STR(": ignored, device live")
	jmp 9f
5:	call case_prefix
	STR(": status 0x")
	VR(VIO_STATUS)
	push %rdi
	push %rsi
	mov %eax, %edi
	mov $2, %esi
	call puthex
	pop %rsi
	pop %rdi
9:	pop %r14
	ret

/* "kvbox-guest: hostile: <name>" with no newline */
case_prefix:
	push %rsi
	STR(GUEST_PREFIX "hostile: ")
	mov (%rbx), %rsi
	call puts
	pop %rsi
	ret

/* request_ok: one valid 32-byte request; %eax 0 if it came back full and
 * random, else FAIL and 1. */
request_ok:
	push %rdi
	mov $32, %edi
	call vio_request
	cmp $32, %eax
	je 1f
	FAIL("hostile: a valid request was not served in full")
	jmp 2f
1:	call vio_nonzero
	test %eax, %eax
	jnz 3f
	FAIL("hostile: a valid request came back all zero")
2:	mov $1, %eax
	pop %rdi
	ret
3:	xor %eax, %eax
	pop %rdi
	ret

/* DESC i, flags_next, len: descriptor i over vq_buf.  DESC_AT: any address. */
.macro DESC i, fl, len
	lea vq_buf(%rip), %rsi
	DESC_RSI \i, \fl, \len
.endm
.macro DESC_AT i, addr, fl, len
	movabs $\addr, %rsi
	DESC_RSI \i, \fl, \len
.endm
.macro DESC_RSI i, fl, len
	mov $\i, %edi
	mov $\len, %edx
	mov $\fl, %ecx
	call vio_desc
.endm
/* POST head: make it available and notify queue 0. */
.macro POST head
	mov $\head, %edi
	call vio_post
	xor %edi, %edi
	call vio_notify
.endm

/* ---- broken chains (after DRIVER_OK) ---- */

c_loop:
	DESC 0, (W | N | NEXT(1)), 16
	DESC 1, (W | N | NEXT(0)), 16
	POST 0
	ret

c_self_loop:
	DESC 3, (W | N | NEXT(3)), 16
	POST 3
	ret

c_next_range:
	DESC 0, (W | N | NEXT(200)), 16
	POST 0
	ret

c_head_range:
	DESC 0, W, 16
	POST 200
	ret

c_avail_jump:
	DESC 0, W, 16
	movw $0, vq_ring+VQ_AVAIL_OFF+4(%rip)
	movw $(VQ_SIZE + 1), vq_ring+VQ_AVAIL_OFF+2(%rip)
	xor %edi, %edi
	call vio_notify
	ret

c_past_ram:
	DESC_AT 0, PAST_RAM, W, 16
	POST 0
	ret

c_mmio_hole:
	DESC_AT 0, VIO_BASE, W, 16
	POST 0
	ret

c_wrap:
	DESC_AT 0, 0xfffffffffffffff0, W, 0x20
	POST 0
	ret

c_huge:
	DESC 0, W, 0xffffffff
	POST 0
	ret

c_empty:
	DESC 0, W, 0
	POST 0
	ret

c_indirect:
	DESC 0, VRING_DESC_F_INDIRECT, 16
	POST 0
	ret

/* ---- broken queue set-up (before DRIVER_OK) ---- */

/* reset .. FEATURES_OK, queue 0 selected, rings at their usual places */
to_features_ok:
	call vio_reset
	VW(VIO_STATUS, $S_ACK)
	VW(VIO_STATUS, $(S_ACK | S_DRIVER))
	VW(VIO_DRV_FEATURES_SEL, $1)
	VW(VIO_DRV_FEATURES, $1)
	VW(VIO_DRV_FEATURES_SEL, $0)
	VW(VIO_DRV_FEATURES, $0)
	VW(VIO_STATUS, $(S_ACK | S_DRIVER | S_FEATURES_OK))
	VW(VIO_QUEUE_SEL, $0)
	VW(VIO_QUEUE_NUM, $VQ_SIZE)
	lea vq_ring(%rip), %rsi
	VW(VIO_QUEUE_DESC_LOW, %esi)
	VW(VIO_QUEUE_DESC_HIGH, $0)
	lea vq_ring+VQ_AVAIL_OFF(%rip), %rsi
	VW(VIO_QUEUE_AVAIL_LOW, %esi)
	VW(VIO_QUEUE_AVAIL_HIGH, $0)
	lea vq_ring+VQ_USED_OFF(%rip), %rsi
	VW(VIO_QUEUE_USED_LOW, %esi)
	VW(VIO_QUEUE_USED_HIGH, $0)
	ret

c_ring_outside:
	call to_features_ok
	VW(VIO_QUEUE_DESC_LOW, $LAPIC_BASE)
	VW(VIO_QUEUE_READY, $1)
	ret

c_ring_size3:
	call to_features_ok
	VW(VIO_QUEUE_NUM, $3)
	VW(VIO_QUEUE_READY, $1)
	ret

c_ring_size_big:
	call to_features_ok
	VW(VIO_QUEUE_NUM, $4096)
	VW(VIO_QUEUE_READY, $1)
	ret

c_ring_misaligned:
	call to_features_ok
	lea vq_ring+8(%rip), %rsi
	VW(VIO_QUEUE_DESC_LOW, %esi)
	VW(VIO_QUEUE_READY, $1)
	ret

/* ---- abuse the device must ignore ---- */

/* Nothing posted: every kick finds an empty ring.  Then indices no queue
 * has (1, 0xffffffff), which no ioeventfd matches. */
c_storm:
	push %rdx
	push %rcx
	mov $VIO_BASE, %edx
	mov $STORM_NOTIFIES, %ecx
1:	movl $0, VIO_QUEUE_NOTIFY(%rdx)
	dec %ecx
	jnz 1b
	mov $STORM_BAD, %ecx
2:	movl $1, VIO_QUEUE_NOTIFY(%rdx)
	movl $0xffffffff, VIO_QUEUE_NOTIFY(%rdx)
	dec %ecx
	jnz 2b
	pop %rcx
	pop %rdx
	LINE("hostile: storm sent")
	ret

c_registers:
	push %rdx
	VW(VIO_MAGIC, $0)
	VW(VIO_DEVICE_ID, $9)
	VW(VIO_SHM_SEL, $1)
	VW(0x0c0, $1)
	VW(VIO_CONFIG_GENERATION, $1)
	VW(VIO_CONFIG, $1)			/* rng has no config space */
	VW(0xffc, $1)
	/* queue and feature registers after DRIVER_OK */
	VW(VIO_QUEUE_NUM, $2)
	VW(VIO_QUEUE_DESC_LOW, $0)
	VW(VIO_QUEUE_READY, $0)
	VW(VIO_DRV_FEATURES, $0xffffffff)
	VW(VIO_QUEUE_SEL, $9)			/* no such queue */
	VR(VIO_QUEUE_NUM_MAX)
	test %eax, %eax
	jz 1f
	FAIL("hostile: QueueNumMax of a missing queue is not 0")
1:	VW(VIO_QUEUE_SEL, $0)
	/* sizes and alignments the transport drops */
	mov $VIO_BASE, %edx
	movb $0, VIO_STATUS(%rdx)
	movw $0, VIO_QUEUE_NOTIFY(%rdx)
	movq $0, VIO_QUEUE_DESC_LOW(%rdx)
	movl $0, VIO_STATUS+1(%rdx)
	movl $0, 0xffe(%rdx)			/* straddles into the next window */
	mov 0x0c0(%rdx), %eax
	or VIO_CONFIG(%rdx), %eax
	or 0xffc(%rdx), %eax
	test %eax, %eax
	jz 1f
	FAIL("hostile: reserved registers do not read 0")
1:	VR(VIO_MAGIC)
	cmp $VIO_MAGIC_VALUE, %eax
	je 1f
	FAIL("hostile: magic changed after writes")
1:	VR(VIO_DEVICE_ID)
	cmp $VIRTIO_ID_RNG, %eax
	je 1f
	FAIL("hostile: device id changed after writes")
1:	pop %rdx
	ret

/* STATUS_EXPECT v, what: Status must read v. */
.macro STATUS_EXPECT v, what
	VR(VIO_STATUS)
	cmp $\v, %eax
	je 101f
	FAIL("hostile: status: \what")
101:
.endm

c_status:
	call vio_reset
	VW(VIO_STATUS, $S_DRIVER_OK)
	STATUS_EXPECT 0, "DRIVER_OK straight from reset was accepted"
	VW(VIO_STATUS, $S_LIVE)
	STATUS_EXPECT 0, "0xf straight from reset was accepted"
	VW(VIO_STATUS, $S_ACK)
	VW(VIO_STATUS, $(S_ACK | S_FEATURES_OK))
	STATUS_EXPECT S_ACK, "FEATURES_OK without DRIVER was accepted"
	VW(VIO_STATUS, $(S_ACK | S_DRIVER))
	VW(VIO_DRV_FEATURES_SEL, $1)		/* no VERSION_1 */
	VW(VIO_DRV_FEATURES, $0)
	VW(VIO_DRV_FEATURES_SEL, $0)
	VW(VIO_DRV_FEATURES, $0)
	VW(VIO_STATUS, $(S_ACK | S_DRIVER | S_FEATURES_OK))
	STATUS_EXPECT (S_ACK | S_DRIVER), "FEATURES_OK without VERSION_1 was accepted"
	VW(VIO_DRV_FEATURES_SEL, $1)		/* bit 63: never offered */
	VW(VIO_DRV_FEATURES, $0x80000001)
	VW(VIO_STATUS, $(S_ACK | S_DRIVER | S_FEATURES_OK))
	STATUS_EXPECT (S_ACK | S_DRIVER), "FEATURES_OK with an unoffered bit was accepted"
	VW(VIO_DRV_FEATURES, $1)
	VW(VIO_DRV_FEATURES_SEL, $2)		/* bits 64+: none exist */
	VW(VIO_DRV_FEATURES, $1)
	VW(VIO_STATUS, $(S_ACK | S_DRIVER | S_FEATURES_OK))
	STATUS_EXPECT (S_ACK | S_DRIVER), "FEATURES_OK with feature bit 64 was accepted"
	call vio_init
	VW(VIO_STATUS, $(S_ACK | S_DRIVER | S_DRIVER_OK))
	STATUS_EXPECT S_LIVE, "clearing FEATURES_OK after DRIVER_OK was accepted"
	VW(VIO_STATUS, $(S_LIVE | S_FAILED))
	STATUS_EXPECT (S_LIVE | S_FAILED), "FAILED was not taken"
	xor %edi, %edi
	call vio_notify				/* a failed device ignores it */
	call vio_init				/* reset clears FAILED */
	ret

/* A valid chain whose buffer is the descriptor table itself: the device
 * must have copied the descriptor before writing through it. */
c_over_desc:
	lea vq_ring(%rip), %rsi
	DESC_RSI 0, W, (16 * VQ_SIZE)
	mov $0, %edi
	call vio_post
	xor %edi, %edi
	call vio_notify
	call vio_wait_used
	cmp $(16 * VQ_SIZE), %eax
	je 1f
	FAIL("hostile: request over the descriptor table not served in full")
1:	ret

/* ... and the avail ring: the device's next look at it finds random
 * indices (NEEDS_RESET, most likely). */
c_over_avail:
	lea vq_ring+VQ_AVAIL_OFF(%rip), %rsi
	DESC_RSI 0, W, 32
	POST 0
	call vio_wait_used			/* then either outcome */
	ret
