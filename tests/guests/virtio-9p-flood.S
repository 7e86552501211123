/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-9p-flood.bzimage: floods the gofer through a virtio-9p queue.
 * Run with `kvbox boot --no-rng --share A:t0 --share B:t1`: the 9p devices
 * are in slots 0 and 1.  Every request is a readable descriptor holding a
 * 9P message and a writable 1 KiB reply buffer; four go out per
 * notification (a batch), and each must come back, in order, with a reply
 * the right size for its header.
 *   1. mixed flood, CYCLES cycles of two batches:
 *        A: Tversion, Tattach fid 1, Twalk 1 -> 2 (clone), Tgetattr 2
 *           (each must get its own R-message);
 *        B: two malformed messages from a table of 11 (size fields past
 *           the buffer or below the header, unknown and reply types,
 *           nwname 0xffff, strings past the end, a bad afid, a read of
 *           a missing fid, Tlopen with every flag bit, walks to ".." and
 *           "."), then Tclunk 2 and a walk to a missing name (Rlerror).
 *        A malformed message must get Rlerror or a valid reply, never
 *        silence, a broken queue or a dead gofer.
 *   2. fid flood: ROUNDS times, FIDS walks cloning fid 1 into new fids
 *      that are never clunked, then a Tversion, which must drop them all.
 *   3. the other share (slot 1) serves batch A; then slot 0 again, after a
 *      device reset.
 * "9p-flood: start" and "9p-flood: done" bracket 1 and 2 (tests/
 * integration/hostile.bats samples the VMM's and the gofer's RSS, CPU and
 * fds there); at both the gofer holds the same fids and queues, and the
 * guest holds still for ~2 s of TSC after each line.  A command
 * line starting with "q" (`--cmdline quick`) makes it a short run (25
 * cycles, 64 fids, no wait): the well-behaved neighbour the test runs
 * alongside a flood.  Any failed check ends in pvpanic.
 */
#include "guest.h"
#include "virtio-guest.h"

#define CYCLES		1000	/* x 8 requests */
#define FIDS		2048	/* per round */
#define QUICK_CYCLES	25	/* with a command line starting "quick" */
#define QUICK_FIDS	64
#define ROUNDS		2
#define RSP_SIZE	1024
#define WAIT_TRIES	10	/* x vio_wait_used's 1-2 s */
#define VIRTIO_ID_9P	9
#define SLOT1		(VIO_BASE + 0x1000)
#define RLERROR		7
#define ANY		0	/* expect: Rlerror or any R-message */
#define SETTLE_TSC	6000000000	/* ~2 s at 3 GHz */
#define SETTLE_SPINS	100000000	/* only if the TSC were stuck */
#define W		VRING_DESC_F_WRITE
#define N		VRING_DESC_F_NEXT

/* MSG name, bytes...: a 9P message in .rodata with its length in name_len */
.macro MSG name, bytes:vararg
	.pushsection .rodata
\name:	.byte \bytes
\name\()_end:
	.popsection
	.set \name\()_len, \name\()_end - \name
.endm
/* 9P little-endian helpers for MSG byte lists */
#define U16(x)	((x) & 0xff), (((x) >> 8) & 0xff)
#define U32(x)	U16((x) & 0xffff), U16(((x) >> 16) & 0xffff)
#define NOFID	U32(0xffffffff)

	MSG tversion, U32(21), 100, U16(0xffff), U32(8192), U16(8), '9','P','2','0','0','0','.','L'
	MSG tattach1, U32(23), 104, U16(1), U32(1), NOFID, U16(0), U16(0), U32(0)
	MSG twalk12, U32(17), 110, U16(2), U32(1), U32(2), U16(0)
	MSG tgetattr2, U32(19), 24, U16(3), U32(2), U32(0x7ff), U32(0)
	MSG tclunk2, U32(11), 120, U16(4), U32(2)
	MSG twalk_missing, U32(30), 110, U16(5), U32(1), U32(3), U16(1), U16(11), 'n','o','-','s','u','c','h','-','f','i','l'
	/* malformed */
	MSG m_size_big, U32(0x10000), 24, U16(6), U32(2), U32(0x7ff), U32(0)
	MSG m_size_small, U32(4), 24, U16(7), U32(2)
	MSG m_type_unknown, U32(11), 0xff, U16(8), U32(0)
	MSG m_type_reply, U32(11), 101, U16(9), U32(0)
	MSG m_nwname_huge, U32(17), 110, U16(10), U32(1), U32(5), U16(0xffff)
	MSG m_string_past, U32(21), 110, U16(11), U32(1), U32(5), U16(1), U16(0xfff0), 'a','b'
	MSG m_afid, U32(23), 104, U16(12), U32(6), U32(7), U16(0), U16(0), U32(0)
	MSG m_read_missing, U32(23), 116, U16(13), U32(999), U32(0), U32(0), U32(4096)
	MSG m_lopen_flags, U32(15), 12, U16(14), U32(2), U32(0xffffffff)
	MSG m_walk_dotdot, U32(23), 110, U16(15), U32(1), U32(8), U16(2), U16(2), '.','.', U16(0)
	MSG m_walk_dot, U32(20), 110, U16(16), U32(1), U32(9), U16(1), U16(1), '.'

/* REQ msg, expect: a table entry {addr, len, expected reply type} */
.macro REQ msg, expect
	.quad \msg
	.long \msg\()_len, \expect
.endm
#define REQ_SIZE 16

	.section .rodata
	.balign 8
batch_a:
	REQ tversion, 101
	REQ tattach1, 105
	REQ twalk12, 111
	REQ tgetattr2, 25
malformed:
	REQ m_size_big, ANY
	REQ m_size_small, ANY
	REQ m_type_unknown, ANY
	REQ m_type_reply, ANY
	REQ m_nwname_huge, ANY
	REQ m_string_past, ANY
	REQ m_afid, ANY
	REQ m_read_missing, ANY
	REQ m_lopen_flags, ANY
	REQ m_walk_dotdot, ANY
	REQ m_walk_dot, ANY
malformed_end:
#define NMALFORMED ((malformed_end - malformed) / REQ_SIZE)
tail_b:
	REQ tclunk2, 121
	REQ twalk_missing, RLERROR

	.text
	.globl guest_main
guest_main:
	push %rbx
	push %r12
	push %r13
	LINE("virtio-9p-flood test")
	mov boot_params(%rip), %rax
	mov BP_CMD_LINE_PTR(%rax), %eax
	test %eax, %eax
	jz 1f
	cmpb $'q', (%rax)
	jne 1f
	movl $QUICK_CYCLES, cycles(%rip)
	movl $QUICK_FIDS, fids(%rip)
	movl $0, settle_on(%rip)
	LINE("9p-flood: quick run")
1:	call p9_probe
	jnz 9f
	call vio_init
	test %eax, %eax
	jnz 9f
	/* a clean exchange first: version + attach must work */
	lea batch_a(%rip), %rdi
	call batch_from
	call submit
	jnz 9f
	LINE("9p-flood: start")
	cmpl $0, settle_on(%rip)		/* held while the host samples */
	je 1f
	call settle
1:
	/* 1. the mixed flood */
	xor %r12d, %r12d			/* cycle */
	xor %r13d, %r13d			/* malformed index */
1:	lea batch_a(%rip), %rdi
	call batch_from
	call submit
	jnz 8f
	/* batch B: malformed[r13], malformed[r13+1], tclunk2, twalk_missing */
	lea malformed(%rip), %rsi
	mov %r13, %rax
	shl $4, %rax
	lea (%rsi,%rax), %rdi
	call copy_req
	mov %rax, batch+0(%rip)
	mov %rdx, batch+8(%rip)
	inc %r13d
	cmp $NMALFORMED, %r13d
	jb 2f
	xor %r13d, %r13d
2:	mov %r13, %rax
	shl $4, %rax
	lea (%rsi,%rax), %rdi
	call copy_req
	mov %rax, batch+16(%rip)
	mov %rdx, batch+24(%rip)
	lea tail_b(%rip), %rdi
	call copy_req
	mov %rax, batch+32(%rip)
	mov %rdx, batch+40(%rip)
	lea tail_b+REQ_SIZE(%rip), %rdi
	call copy_req
	mov %rax, batch+48(%rip)
	mov %rdx, batch+56(%rip)
	call submit
	jnz 8f
	inc %r12d
	cmp cycles(%rip), %r12d
	jb 1b
	call report_flood
	/* 2. the fid flood */
	xor %r12d, %r12d
3:	call fid_flood
	jnz 8f
	inc %r12d
	cmp $ROUNDS, %r12d
	jb 3b
	LINE("9p-flood: done")
	/* the state at "start" again (fids 1 and 2, share 0 live): hold it
	 * while the host samples the gofer */
	cmpl $0, settle_on(%rip)
	je 1f
	call settle
1:	/* 3. the other share, then this one again after a reset */
	call vio_reset
	mov $SLOT1, %eax
	mov %rax, vio_base(%rip)
	call p9_probe
	jnz 9f
	call vio_init
	test %eax, %eax
	jnz 9f
	lea batch_a(%rip), %rdi
	call batch_from
	call submit
	jnz 9f
	LINE("9p-flood: the other share serves")
	call vio_reset
	mov $VIO_BASE, %eax
	mov %rax, vio_base(%rip)
	call vio_init
	test %eax, %eax
	jnz 9f
	lea batch_a(%rip), %rdi
	call batch_from
	call submit
	jnz 9f
	LINE("9p-flood: the flooded share serves after a reset")
	cmpl $0, fail_count(%rip)
	jne 9f
	LINE("virtio-9p-flood ok")
	jmp 9f
8:	FAIL("9p-flood: the flood stopped")
9:	pop %r13
	pop %r12
	pop %rbx
	ret

/* p9_probe: magic, version 2, device id 9 at vio_base; prints the mount
 * tag.  ZF set = ok. */
p9_probe:
	VR(VIO_MAGIC)
	cmp $VIO_MAGIC_VALUE, %eax
	jne 1f
	VR(VIO_VERSION)
	cmp $2, %eax
	jne 1f
	VR(VIO_DEVICE_ID)
	cmp $VIRTIO_ID_9P, %eax
	jne 1f
	STR(GUEST_PREFIX "9p-flood: virtio-9p at 0x")
	push %rdi
	push %rsi
	mov vio_base(%rip), %rdi
	mov $8, %esi
	call puthex
	STR(", tag length ")
	VR(VIO_CONFIG)
	movzwl %ax, %edi
	call putdec
	STR("\n")
	pop %rsi
	pop %rdi
	xor %eax, %eax
	ret
1:	FAIL("9p-flood: no virtio-9p device (run with --no-rng --share A:t0 --share B:t1)")
	mov $1, %eax
	test %eax, %eax
	ret

/* copy_req: table entry at %rdi -> %rax = addr, %rdx = len | expect << 32 */
copy_req:
	mov (%rdi), %rax
	mov 8(%rdi), %rdx
	ret

/* batch_from: the 4 entries at %rdi into batch */
batch_from:
	push %rcx
	push %rsi
	lea batch(%rip), %rsi
	mov $8, %ecx
1:	mov (%rdi), %rax
	mov %rax, (%rsi)
	add $8, %rdi
	add $8, %rsi
	dec %ecx
	jnz 1b
	pop %rsi
	pop %rcx
	ret

/* submit: post the 4 requests of batch (descriptors 2k: request, 2k+1:
 * reply buffer k), one notify, then wait for 4 used entries in order and
 * check each reply.  ZF set = every reply came (bad replies are FAILs but
 * the flood goes on); ZF clear = a reply never came. */
submit:
	push %rbx
	push %rcx
	push %rdx
	push %rsi
	push %rdi
	push %r8
	lea batch(%rip), %rbx
	xor %r8d, %r8d				/* k */
1:	mov %r8, %rax
	shl $4, %rax				/* REQ_SIZE * k */
	mov (%rbx,%rax), %rsi			/* request */
	mov 8(%rbx,%rax), %edx
	lea 1(%r8,%r8), %ecx			/* next = 2k + 1 */
	shl $16, %ecx
	or $N, %ecx
	lea (%r8,%r8), %edi
	call vio_desc
	call rsp_addr
	movl $0, (%rsi)				/* size */
	movb $0, 4(%rsi)			/* type */
	mov $RSP_SIZE, %edx
	mov $W, %ecx
	lea 1(%r8,%r8), %edi
	call vio_desc
	lea (%r8,%r8), %edi
	call vio_post
	inc %r8d
	cmp $4, %r8d
	jb 1b
	addq $4, requests(%rip)
	xor %edi, %edi
	call vio_notify
	xor %r8d, %r8d
2:	mov $WAIT_TRIES, %ecx			/* a loaded host may be slow */
3:	call vio_wait_used
	cmp $-1, %eax
	jne 4f
	dec %ecx
	jnz 3b
	jmp 8f
4:	mov %eax, %edx				/* written */
	call rsp_addr
	call check_reply
	inc %r8d
	cmp $4, %r8d
	jb 2b
	xor %eax, %eax
	jmp 9f
8:	FAIL("9p-flood: a request got no reply")
	mov $1, %eax
	test %eax, %eax
9:	pop %r8
	pop %rdi
	pop %rsi
	pop %rdx
	pop %rcx
	pop %rbx
	ret

/* rsp_addr: %rsi = reply buffer %r8 */
rsp_addr:
	lea rsp_buf(%rip), %rsi
	mov %r8, %rax
	shl $10, %rax				/* RSP_SIZE */
	add %rax, %rsi
	ret

/* check_reply: reply at %rsi, %edx bytes written, for batch entry %r8. */
check_reply:
	push %rcx
	incq replies(%rip)
	cmp $7, %edx
	jb 7f
	cmp (%rsi), %edx			/* written == the reply's size[4] */
	jne 7f
	mov %r8, %rcx
	shl $4, %rcx
	lea batch(%rip), %rax
	mov 12(%rax,%rcx), %ecx			/* expected type */
	movzbl 4(%rsi), %eax
	cmp $RLERROR, %eax
	jne 1f
	incq rlerrors(%rip)
	cmp $ANY, %ecx
	je 9f
	cmp $RLERROR, %ecx
	je 9f
	FAIL("9p-flood: Rlerror to a valid request")
	jmp 9f
1:	test $1, %eax				/* R-messages are odd */
	jz 7f
	cmp $ANY, %ecx
	je 9f
	cmp %ecx, %eax
	je 9f
7:	FAIL("9p-flood: a reply of the wrong size or type")
9:	pop %rcx
	ret

/* fid_flood: Tversion + Tattach 1, FIDS clones of fid 1 (4 per batch),
 * then a Tversion that must drop them.  ZF set = ok. */
fid_flood:
	push %r12
	lea batch_a(%rip), %rdi
	call batch_from
	call submit
	jnz 9f
	mov $10, %r12d				/* first new fid */
1:	xor %ecx, %ecx
2:	lea walk_buf(%rip), %rsi
	mov %rcx, %rax
	shl $5, %rax
	add %rax, %rsi
	lea twalk12(%rip), %rdi
	mov (%rdi), %rax			/* 17 bytes: copy 24 */
	mov %rax, (%rsi)
	mov 8(%rdi), %rax
	mov %rax, 8(%rsi)
	mov 16(%rdi), %rax
	mov %rax, 16(%rsi)
	mov %r12d, 11(%rsi)			/* newfid */
	inc %r12d
	lea batch(%rip), %rdi
	mov %rcx, %rax
	shl $4, %rax
	add %rax, %rdi
	mov %rsi, (%rdi)
	movl $twalk12_len, 8(%rdi)
	movl $111, 12(%rdi)
	inc %ecx
	cmp $4, %ecx
	jb 2b
	call submit
	jnz 9f
	mov fids(%rip), %eax
	add $10, %eax
	cmp %eax, %r12d
	jb 1b
	mov fids(%rip), %eax
	add %rax, fids_made(%rip)
	/* Tversion drops every fid: fid 10 must be gone afterwards */
	lea batch_a(%rip), %rdi
	call batch_from
	call submit
	jnz 9f
	STR(GUEST_PREFIX "9p-flood: fid flood: ")
	push %rdi
	mov fids(%rip), %edi
	call putdec
	pop %rdi
	STR(" fids held, dropped by Tversion\n")
	xor %eax, %eax
9:	pop %r12
	ret

report_flood:
	push %rdi
	STR(GUEST_PREFIX "9p-flood: ")
	mov requests(%rip), %rdi
	call putdec
	STR(" requests (")
	mov cycles(%rip), %edi
	add %edi, %edi
	call putdec
	STR(" malformed), ")
	mov replies(%rip), %rdi
	call putdec
	STR(" replies, ")
	mov rlerrors(%rip), %rdi
	call putdec
	STR(" Rlerror\n")
	pop %rdi
	ret

settle:
	push %rcx
	push %rdx
	push %r8
	rdtsc
	shl $32, %rdx
	or %rdx, %rax
	mov %rax, %r8
	mov $SETTLE_SPINS, %ecx
1:	pause
	rdtsc
	shl $32, %rdx
	or %rax, %rdx
	sub %r8, %rdx
	movabs $SETTLE_TSC, %rax
	cmp %rax, %rdx
	ja 2f
	dec %ecx
	jnz 1b
2:	pop %r8
	pop %rdx
	pop %rcx
	ret

	.data
	.balign 4
cycles:		.long CYCLES
fids:		.long FIDS
settle_on:	.long 1

	.bss
	.balign 8
batch:		.skip 4 * REQ_SIZE
requests:	.quad 0
replies:	.quad 0
rlerrors:	.quad 0
fids_made:	.quad 0
	.balign 64
walk_buf:	.skip 4 * 32
	.balign 4096
rsp_buf:	.skip 4 * RSP_SIZE
