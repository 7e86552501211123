/* Included by the guests' .S files: clang-format would rewrite the
 * assembler macros, so it stays off for this header. */
/* clang-format off */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the virtio test guests (virtio-rng.S, virtio-hostile.S) know about
 * the device kvbox puts in virtio-mmio slot 0, and the interface of their
 * shared driver helpers in virtio-lib.S.  Register offsets and bits are the
 * virtio 1.x spec's (Linux: include/uapi/linux/virtio_mmio.h,
 * virtio_config.h, virtio_ring.h); an assembler cannot include those.
 *
 * Driver helpers (all preserve every register except %rax and the flags),
 * on the window at the quad vio_base (VIO_BASE unless the guest stores
 * another slot's address there):
 *   vio_read   %edi: offset -> %eax          vio_write  %edi: offset, %esi: value
 *   vio_probe  checks magic/version/device id 4 and prints them; %eax 0 = ok
 *   vio_reset  Status := 0, %eax = Status read back
 *   vio_init   reset, ACK, DRIVER, VERSION_1 only, FEATURES_OK, queue 0 of
 *              VQ_SIZE with the rings below, DRIVER_OK; %eax 0 = ok (FAILs
 *              printed otherwise)
 *   vio_desc   %edi: index, %rsi: addr, %edx: len, %ecx: flags | next << 16
 *   vio_post   %edi: head -> avail ring, avail idx++      vio_notify %edi: value
 *   vio_wait_used  bounded wait for the next used entry; %eax = its length,
 *                  or -1 on timeout
 *   vio_request    %edi: len: one device-writable buffer (vq_buf, first
 *                  32 bytes zeroed), post, notify, wait; %eax as vio_wait_used
 *   vio_nonzero    %edi: len (<= 32): %eax 1 if vq_buf[0..len) has a non-zero byte
 *   vio_wait_status  %edi: mask: bounded wait for (Status & mask); %eax = Status,
 *                    ZF clear when a bit of mask is set
 *   vio_wait_isr     same for InterruptStatus
 */
#ifndef KVBOX_TESTS_VIRTIO_GUEST_H
#define KVBOX_TESTS_VIRTIO_GUEST_H

#define VIO_BASE 0xd0000000 /* slot 0 (the rng unless --no-rng) */
#define VIO_IRQ	 5	    /* its IOAPIC pin */

#define VIO_MAGIC	      0x000
#define VIO_VERSION	      0x004
#define VIO_DEVICE_ID	      0x008
#define VIO_VENDOR_ID	      0x00c
#define VIO_DEV_FEATURES      0x010
#define VIO_DEV_FEATURES_SEL  0x014
#define VIO_DRV_FEATURES      0x020
#define VIO_DRV_FEATURES_SEL  0x024
#define VIO_QUEUE_SEL	      0x030
#define VIO_QUEUE_NUM_MAX     0x034
#define VIO_QUEUE_NUM	      0x038
#define VIO_QUEUE_READY	      0x044
#define VIO_QUEUE_NOTIFY      0x050
#define VIO_INTERRUPT_STATUS  0x060
#define VIO_INTERRUPT_ACK     0x064
#define VIO_STATUS	      0x070
#define VIO_QUEUE_DESC_LOW    0x080
#define VIO_QUEUE_DESC_HIGH   0x084
#define VIO_QUEUE_AVAIL_LOW   0x090
#define VIO_QUEUE_AVAIL_HIGH  0x094
#define VIO_QUEUE_USED_LOW    0x0a0
#define VIO_QUEUE_USED_HIGH   0x0a4
#define VIO_SHM_SEL	      0x0ac
#define VIO_CONFIG_GENERATION 0x0fc
#define VIO_CONFIG	      0x100

#define VIO_MAGIC_VALUE 0x74726976 /* "virt" */
#define VIRTIO_ID_RNG	4

#define S_ACK	      0x01
#define S_DRIVER      0x02
#define S_DRIVER_OK   0x04
#define S_FEATURES_OK 0x08
#define S_NEEDS_RESET 0x40
#define S_FAILED      0x80
#define S_LIVE	      (S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK)

#define INT_VRING  0x1 /* InterruptStatus: used buffer */
#define INT_CONFIG 0x2 /* InterruptStatus: configuration change */

#define VRING_DESC_F_NEXT     1
#define VRING_DESC_F_WRITE    2
#define VRING_DESC_F_INDIRECT 4

/* Queue 0 as the helpers set it up: 8 entries, all three rings in one page
 * (vq_ring): descriptors at +0, avail at +0x100, used at +0x200. */
#define VQ_SIZE	     8
#define VQ_AVAIL_OFF 0x100
#define VQ_USED_OFF  0x200

/* Waits end after ~1-2 s of TSC, or WAIT_SPINS turns should the TSC be odd
 * (seconds on KVM-PVM, where each instruction is emulated). */
#define WAIT_TSC   4000000000
#define WAIT_SPINS 4000000

#ifdef __ASSEMBLER__
/* Register access keeping %rdi/%rsi: VW(off, $imm or reg), VR(off) -> %eax */
#define VW(off, val)                                                           \
	push %rdi;                                                             \
	push %rsi;                                                             \
	mov val, %esi;                                                         \
	mov $(off), %edi;                                                      \
	call vio_write;                                                        \
	pop %rsi;                                                              \
	pop %rdi
#define VR(off)                                                                \
	push %rdi;                                                             \
	mov $(off), %edi;                                                      \
	call vio_read;                                                         \
	pop %rdi
#endif

#endif
