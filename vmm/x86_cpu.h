/* SPDX-License-Identifier: Apache-2.0 */
/*
 * x86 vCPU architectural set-up that is not about the boot image: CPUID
 * (host-supported leaves with per-vCPU APIC ids and a flat topology of one
 * socket, ncpus cores, one thread each), the LAPIC's LINT pins, FPU and a
 * few MSRs.  The boot state (registers, segments, paging) comes from
 * boot/ through x86_boot_regs()/x86_boot_sregs().
 */
#ifndef KVBOX_VMM_X86_CPU_H
#define KVBOX_VMM_X86_CPU_H

#include <linux/kvm.h>

#include "util/err.h"

/* Fetches KVM_GET_SUPPORTED_CPUID once per VM; free() the result. */
struct kvm_cpuid2 *x86_cpuid_supported(int kvm_fd, struct kv_err *err);

/* Rewrites a copy of the supported table for vCPU `id` of `ncpus`;
 * pure function of its inputs, unit-tested. */
void x86_cpuid_fixup(struct kvm_cpuid2 *c, unsigned id, unsigned ncpus);

/* CPUID, LAPIC, FPU and MSRs for one vCPU fd. */
int x86_vcpu_init(int vcpu_fd, const struct kvm_cpuid2 *supported, unsigned id, unsigned ncpus,
		  struct kv_err *err);

#endif
