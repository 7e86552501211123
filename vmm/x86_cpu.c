/* SPDX-License-Identifier: Apache-2.0 */
/* CPUID, LAPIC, FPU and MSR set-up for x86 vCPUs; see vmm/x86_cpu.h. */
#include "vmm/x86_cpu.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#define CPUID_MAX_ENTRIES 256

struct kvm_cpuid2 *x86_cpuid_supported(int kvm_fd, struct kv_err *err)
{
	size_t sz = sizeof(struct kvm_cpuid2) + CPUID_MAX_ENTRIES * sizeof(struct kvm_cpuid_entry2);
	struct kvm_cpuid2 *c = calloc(1, sz);
	if (!c) {
		kv_err_set(err, ENOMEM, "allocating the CPUID table");
		return NULL;
	}
	c->nent = CPUID_MAX_ENTRIES;
	if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c) < 0) {
		kv_err_sys(err, errno, "KVM_GET_SUPPORTED_CPUID");
		free(c);
		return NULL;
	}
	return c;
}

static void fixup_leaf(struct kvm_cpuid_entry2 *e, unsigned id, unsigned ncpus)
{
	switch (e->function) {
	case 1:
		/* EBX[31:24] initial APIC id, [23:16] logical processors per
		 * package; ECX bit 31: running under a hypervisor. */
		e->ebx = (e->ebx & 0x0000ffffu) | (id << 24) | ((ncpus & 0xff) << 16);
		e->ecx |= 1u << 31;
		if (ncpus > 1)
			e->edx |= 1u << 28; /* HTT: the count in EBX[23:16] is valid */
		break;
	case 4:
		/* Deterministic cache parameters: EAX[31:26] = cores - 1,
		 * EAX[25:14] = threads sharing this cache - 1. */
		if ((e->eax & 0x1f) != 0) {
			e->eax &= 0x3fff;
			e->eax |= ((ncpus - 1) & 0x3f) << 26;
			unsigned level = (e->eax >> 5) & 7;
			if (level == 3)
				e->eax |= ((ncpus - 1) & 0xfff) << 14;
		}
		break;
	case 0xb:
	case 0x1f:
		/* Extended topology: subleaf 0 = SMT level (1 thread),
		 * subleaf 1 = core level (ncpus), others invalid. */
		e->edx = id;
		if (e->index == 0) {
			e->eax = 0;
			e->ebx = 1;
			e->ecx = (1u << 8) | 0;
		} else if (e->index == 1) {
			unsigned shift = 0;
			while ((1u << shift) < ncpus)
				shift++;
			e->eax = shift;
			e->ebx = ncpus;
			e->ecx = (2u << 8) | 1;
		} else {
			e->eax = e->ebx = 0;
			e->ecx = e->index;
		}
		break;
	case 0x80000001:
		e->ecx &= ~(1u << 1); /* CmpLegacy: no legacy HT topology */
		break;
	case 0x80000008:
		/* AMD: ECX[7:0] = number of cores - 1. */
		e->ecx = (e->ecx & ~0xffu) | ((ncpus - 1) & 0xff);
		break;
	case 0x8000001e:
		/* AMD extended APIC id; one thread per core. */
		e->eax = id;
		e->ebx = (e->ebx & ~0xffu) | (id & 0xff);
		e->ebx &= ~(0xffu << 8);
		e->ecx = 0;
		break;
	default:
		break;
	}
}

void x86_cpuid_fixup(struct kvm_cpuid2 *c, unsigned id, unsigned ncpus)
{
	for (unsigned i = 0; i < c->nent; i++)
		fixup_leaf(&c->entries[i], id, ncpus);
}

static int set_cpuid(int vcpu_fd, const struct kvm_cpuid2 *supported, unsigned id, unsigned ncpus,
		     struct kv_err *err)
{
	size_t sz = sizeof(*supported) + supported->nent * sizeof(supported->entries[0]);
	struct kvm_cpuid2 *c = malloc(sz);
	if (!c)
		return kv_err_set(err, ENOMEM, "allocating CPUID for vCPU %u", id);
	memcpy(c, supported, sz);
	x86_cpuid_fixup(c, id, ncpus);
	int r = ioctl(vcpu_fd, KVM_SET_CPUID2, c);
	int e = errno;
	free(c);
	if (r < 0)
		return kv_err_sys(err, e, "KVM_SET_CPUID2 for vCPU %u", id);
	return 0;
}

/* LINT0 as ExtINT (the 8259 path) and LINT1 as NMI, as firmware would. */
static int set_lapic_lints(int vcpu_fd, struct kv_err *err)
{
	struct kvm_lapic_state la;
	if (ioctl(vcpu_fd, KVM_GET_LAPIC, &la) < 0)
		return kv_err_sys(err, errno, "KVM_GET_LAPIC");
	uint32_t *lvt0 = (uint32_t *)&la.regs[0x350];
	uint32_t *lvt1 = (uint32_t *)&la.regs[0x360];
	*lvt0 = (*lvt0 & ~0x700u) | (7u << 8); /* delivery mode ExtINT */
	*lvt1 = (*lvt1 & ~0x700u) | (4u << 8); /* delivery mode NMI */
	if (ioctl(vcpu_fd, KVM_SET_LAPIC, &la) < 0)
		return kv_err_sys(err, errno, "KVM_SET_LAPIC");
	return 0;
}

static int set_fpu_msrs(int vcpu_fd, struct kv_err *err)
{
	struct kvm_fpu fpu;
	memset(&fpu, 0, sizeof(fpu));
	fpu.fcw = 0x37f;    /* x87 default control word */
	fpu.mxcsr = 0x1f80; /* SSE exceptions masked */
	if (ioctl(vcpu_fd, KVM_SET_FPU, &fpu) < 0)
		return kv_err_sys(err, errno, "KVM_SET_FPU");
	union {
		struct kvm_msrs hdr;
		uint8_t raw[sizeof(struct kvm_msrs) + sizeof(struct kvm_msr_entry)];
	} m;
	memset(&m, 0, sizeof(m));
	m.hdr.nmsrs = 1;
	m.hdr.entries[0].index = 0x1a0; /* IA32_MISC_ENABLE: fast strings */
	m.hdr.entries[0].data = 1;
	/* Not every KVM flavour accepts this MSR; it is a hint, not a need. */
	(void)ioctl(vcpu_fd, KVM_SET_MSRS, &m);
	return 0;
}

int x86_vcpu_init(int vcpu_fd, const struct kvm_cpuid2 *supported, unsigned id, unsigned ncpus,
		  struct kv_err *err)
{
	int r = set_cpuid(vcpu_fd, supported, id, ncpus, err);
	if (r < 0)
		return r;
	r = set_lapic_lints(vcpu_fd, err);
	if (r < 0)
		return r;
	return set_fpu_msrs(vcpu_fd, err);
}
