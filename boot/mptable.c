/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Intel MultiProcessor Specification 1.4 table that tells a guest
 * without ACPI how many CPUs it has and how ISA/virtio-mmio interrupts reach
 * the IOAPIC.  Written at the EBDA (0x9fc00, which the kernel scans): the
 * floating pointer, then the configuration table it points to, with one
 * processor entry per vCPU (APIC id = vCPU index), an ISA bus, the IOAPIC
 * (id = ncpus), IOAPIC pins 0..23 one-to-one with IRQs 0..23 (KVM's default
 * GSI routing), ExtINT on the BSP's LINT0 and NMI on every LINT1.
 */
#include "boot/boot.h"
#include "boot/x86_layout.h"

#include <errno.h>
#include <string.h>

#define MP_SPEC_REV	  4
#define MP_LAPIC_VERSION  0x14 /* what KVM's in-kernel LAPIC reports */
#define MP_IOAPIC_VERSION 0x11
#define MP_CPU_SIGNATURE  0x600 /* family 6 */
#define MP_CPU_FEATURES	  0x201 /* FPU | APIC */
#define MP_CPU_ENABLED	  0x01
#define MP_CPU_BSP	  0x02
#define MP_IOAPIC_USABLE  0x01
#define MP_BUS_ISA	  0
#define MP_IOAPIC_PINS	  24
#define MP_ALL_LAPICS	  0xff

enum { MP_PROCESSOR, MP_BUS, MP_IOAPIC, MP_INTSRC, MP_LINTSRC };
enum { MP_IRQ_INT = 0, MP_IRQ_NMI = 1, MP_IRQ_EXTINT = 3 };

struct mpf_intel {
	char signature[4]; /* "_MP_" */
	uint32_t physptr;
	uint8_t length; /* in 16-byte units */
	uint8_t spec_rev;
	uint8_t checksum;
	uint8_t feature[5]; /* feature[0] == 0: a config table is present */
} __attribute__((packed));

struct mpc_table {
	char signature[4]; /* "PCMP" */
	uint16_t length;
	uint8_t spec_rev;
	uint8_t checksum;
	char oem[8];
	char product[12];
	uint32_t oem_ptr;
	uint16_t oem_size;
	uint16_t entry_count;
	uint32_t lapic_addr;
	uint16_t ext_length;
	uint8_t ext_checksum;
	uint8_t reserved;
} __attribute__((packed));

struct mpc_cpu {
	uint8_t type, apic_id, apic_ver, flags;
	uint32_t signature, features, reserved[2];
} __attribute__((packed));

struct mpc_bus {
	uint8_t type, bus_id;
	char bus_type[6];
} __attribute__((packed));

struct mpc_ioapic {
	uint8_t type, apic_id, apic_ver, flags;
	uint32_t addr;
} __attribute__((packed));

/* Same layout for IO (MP_INTSRC) and local (MP_LINTSRC) interrupt entries. */
struct mpc_irq {
	uint8_t type, irq_type;
	uint16_t irq_flags; /* 0: polarity and trigger conform to the bus */
	uint8_t src_bus, src_irq, dst_apic, dst_pin;
} __attribute__((packed));

_Static_assert(sizeof(struct mpf_intel) == 16 && sizeof(struct mpc_table) == 44 &&
		   sizeof(struct mpc_cpu) == 20 && sizeof(struct mpc_bus) == 8 &&
		   sizeof(struct mpc_ioapic) == 8 && sizeof(struct mpc_irq) == 8,
	       "MP spec 1.4 entry sizes");

#define MP_FIXED_ENTRIES (2 + MP_IOAPIC_PINS + 2) /* bus, ioapic, pins, 2 lint */
#define MP_TABLE_SIZE(n)                                                                           \
	(sizeof(struct mpc_table) + (n) * sizeof(struct mpc_cpu) + sizeof(struct mpc_bus) +        \
	 sizeof(struct mpc_ioapic) + (MP_IOAPIC_PINS + 2) * sizeof(struct mpc_irq))

/* The APIC-id limit is the binding one; check the others hold under it. */
_Static_assert(X86_EBDA_ADDR + sizeof(struct mpf_intel) + MP_TABLE_SIZE(X86_MAX_VCPUS) <=
		   X86_HIMEM_START,
	       "MP table for X86_MAX_VCPUS fits below 1 MiB");
_Static_assert(MP_TABLE_SIZE(X86_MAX_VCPUS) <= UINT16_MAX, "MP table length fits 16 bits");

static uint8_t mp_checksum(const uint8_t *p, size_t len)
{
	uint8_t sum = 0;
	for (size_t i = 0; i < len; i++)
		sum += p[i];
	return (uint8_t)-sum;
}

/* Appends `len` bytes at *cur: the caller sized the buffer for every entry. */
static void mp_put(uint8_t **cur, const void *entry, size_t len)
{
	memcpy(*cur, entry, len);
	*cur += len;
}

static void mp_put_cpus(uint8_t **cur, unsigned ncpus)
{
	for (unsigned i = 0; i < ncpus; i++) {
		struct mpc_cpu c = {
		    .type = MP_PROCESSOR,
		    .apic_id = (uint8_t)i,
		    .apic_ver = MP_LAPIC_VERSION,
		    .flags = MP_CPU_ENABLED | (i == 0 ? MP_CPU_BSP : 0),
		    .signature = MP_CPU_SIGNATURE,
		    .features = MP_CPU_FEATURES,
		};
		mp_put(cur, &c, sizeof(c));
	}
}

static void mp_put_irqs(uint8_t **cur, uint8_t ioapic_id)
{
	for (unsigned pin = 0; pin < MP_IOAPIC_PINS; pin++) {
		struct mpc_irq e = {.type = MP_INTSRC,
				    .irq_type = MP_IRQ_INT,
				    .src_bus = MP_BUS_ISA,
				    .src_irq = (uint8_t)pin,
				    .dst_apic = ioapic_id,
				    .dst_pin = (uint8_t)pin};
		mp_put(cur, &e, sizeof(e));
	}
	struct mpc_irq extint = {.type = MP_LINTSRC,
				 .irq_type = MP_IRQ_EXTINT,
				 .src_bus = MP_BUS_ISA,
				 .dst_apic = 0,
				 .dst_pin = 0};
	struct mpc_irq nmi = {.type = MP_LINTSRC,
			      .irq_type = MP_IRQ_NMI,
			      .src_bus = MP_BUS_ISA,
			      .dst_apic = MP_ALL_LAPICS,
			      .dst_pin = 1};
	mp_put(cur, &extint, sizeof(extint));
	mp_put(cur, &nmi, sizeof(nmi));
}

/* The configuration table at `tbl` (length MP_TABLE_SIZE(ncpus)). */
static void mp_fill_table(uint8_t *tbl, unsigned ncpus)
{
	uint8_t *cur = tbl + sizeof(struct mpc_table);
	uint8_t ioapic_id = (uint8_t)ncpus;

	mp_put_cpus(&cur, ncpus);
	struct mpc_bus bus = {.type = MP_BUS, .bus_id = MP_BUS_ISA, .bus_type = "ISA   "};
	mp_put(&cur, &bus, sizeof(bus));
	struct mpc_ioapic io = {.type = MP_IOAPIC,
				.apic_id = ioapic_id,
				.apic_ver = MP_IOAPIC_VERSION,
				.flags = MP_IOAPIC_USABLE,
				.addr = (uint32_t)X86_IOAPIC_ADDR};
	mp_put(&cur, &io, sizeof(io));
	mp_put_irqs(&cur, ioapic_id);

	struct mpc_table h = {
	    .signature = "PCMP",
	    .length = (uint16_t)(cur - tbl),
	    .spec_rev = MP_SPEC_REV,
	    .oem = "KVBOX   ",
	    .product = "MICROVM     ",
	    .entry_count = (uint16_t)(ncpus + MP_FIXED_ENTRIES),
	    .lapic_addr = (uint32_t)X86_LAPIC_ADDR,
	};
	memcpy(tbl, &h, sizeof(h));
	tbl[offsetof(struct mpc_table, checksum)] = mp_checksum(tbl, h.length);
}

int x86_write_mptable(struct guest_mem *mem, unsigned ncpus, struct kv_err *err)
{
	if (ncpus == 0 || ncpus > X86_MAX_VCPUS)
		return kv_err_set(err, EINVAL,
				  "MP table: %u vCPUs requested; between 1 and %u are supported",
				  ncpus, X86_MAX_VCPUS);
	size_t total = sizeof(struct mpf_intel) + MP_TABLE_SIZE(ncpus);
	uint8_t *p = guest_mem_ptr(mem, X86_EBDA_ADDR, total);
	if (!p)
		return kv_err_set(err, ENOMEM,
				  "MP table: 0x%llx+0x%zx is not guest RAM (guest too small)",
				  (unsigned long long)X86_EBDA_ADDR, total);
	memset(p, 0, total);
	mp_fill_table(p + sizeof(struct mpf_intel), ncpus);

	struct mpf_intel fp = {
	    .signature = "_MP_",
	    .physptr = (uint32_t)(X86_EBDA_ADDR + sizeof(struct mpf_intel)),
	    .length = 1,
	    .spec_rev = MP_SPEC_REV,
	};
	fp.checksum = mp_checksum((const uint8_t *)&fp, sizeof(fp));
	memcpy(p, &fp, sizeof(fp));
	return 0;
}
