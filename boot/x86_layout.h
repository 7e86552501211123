/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The x86-64 guest-physical map kvbox builds.  One place for every fixed
 * address so boot/, vmm/ and devices/ agree.
 *
 *   0x0000_0500  GDT (boot/cpu.c)
 *   0x0000_6000  PVH hvm_start_info + memmap (boot/pvh.c)
 *   0x0000_7000  boot_params "zero page" (boot/bzimage.c)
 *   0x0000_9000  PML4, 0xa000 PDPT, 0xb000..0xefff four PDs: identity map
 *                of the first 4 GiB with 2 MiB pages (64-bit entry)
 *   0x0002_0000  kernel command line (up to 64 KiB)
 *   0x0009_fc00  MP table (EBDA); 0x9fc00..0x100000 reserved in e820
 *   0x0010_0000  kernel (bzImage protected-mode part, or PVH ELF segments)
 *   top of low RAM: initrd, page aligned
 *   0xc000_0000  start of the 32-bit MMIO hole (virtio-mmio devices, 0xd000_0000)
 *   0xfec0_0000  IOAPIC, 0xfee0_0000 LAPIC (in-kernel irqchip)
 *   0x1_0000_0000 RAM above the hole when guest RAM > 3 GiB
 */
#ifndef KVBOX_BOOT_X86_LAYOUT_H
#define KVBOX_BOOT_X86_LAYOUT_H

#define X86_GDT_ADDR	     0x500ULL
#define X86_PVH_INFO_ADDR    0x6000ULL
#define X86_ZERO_PAGE_ADDR   0x7000ULL
#define X86_PML4_ADDR	     0x9000ULL
#define X86_PDPT_ADDR	     0xa000ULL
#define X86_PD_ADDR	     0xb000ULL /* four pages: 0xb000..0xefff */
#define X86_CMDLINE_ADDR     0x20000ULL
#define X86_CMDLINE_MAX	     0x10000ULL
#define X86_EBDA_ADDR	     0x9fc00ULL
#define X86_HIMEM_START	     0x100000ULL
#define X86_MMIO_HOLE_START  0xc0000000ULL
#define X86_MMIO_HOLE_END    0x100000000ULL
#define X86_VIRTIO_MMIO_BASE 0xd0000000ULL
#define X86_VIRTIO_MMIO_SIZE 0x1000ULL
#define X86_IOAPIC_ADDR	     0xfec00000ULL
#define X86_LAPIC_ADDR	     0xfee00000ULL

/* Legacy I/O ports served by devices/. */
#define X86_PORT_COM1	    0x3f8
#define X86_PORT_I8042_DATA 0x60
#define X86_PORT_I8042_CMD  0x64
#define X86_PORT_RTC_INDEX  0x70
#define X86_PORT_RTC_DATA   0x71
#define X86_PORT_PVPANIC    0x505

/* First IOAPIC pin handed to virtio-mmio devices (4 is COM1). */
#define X86_IRQ_COM1	     4
#define X86_IRQ_VIRTIO_FIRST 5

#endif
