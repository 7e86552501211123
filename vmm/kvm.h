/* SPDX-License-Identifier: Apache-2.0 */
/*
 * /dev/kvm itself: opening it, the API version, the limits that matter
 * to us, and which flavour of KVM this host has.  Hardware VMX and SVM run
 * any x86-64 guest; KVM-PVM (a paravirtual vendor module that runs guests
 * without hardware virtualisation) runs only kernels built as PVM guests,
 * so kvbox tells the user which one they are on.
 */
#ifndef KVBOX_VMM_KVM_H
#define KVBOX_VMM_KVM_H

#include "util/err.h"

enum kvm_flavour {
	KVM_FLAVOUR_UNKNOWN,
	KVM_FLAVOUR_VMX, /* Intel VT-x, kvm_intel */
	KVM_FLAVOUR_SVM, /* AMD-V, kvm_amd */
	KVM_FLAVOUR_PVM, /* kvm_pvm: PVM guests only */
};

struct kvm_sys {
	int fd;
	enum kvm_flavour flavour;
	int max_vcpus; /* KVM_CAP_MAX_VCPUS: hard limit per VM */
	int nr_vcpus;  /* KVM_CAP_NR_VCPUS: recommended limit */
	int run_size;  /* KVM_GET_VCPU_MMAP_SIZE */
};

/* path is normally "/dev/kvm"; KVBOX_KVM_DEVICE overrides it (tests). */
int kvm_sys_open(struct kvm_sys *k, struct kv_err *err);
void kvm_sys_close(struct kvm_sys *k);

/* Reads /sys/module and /proc/cpuinfo; needs no open /dev/kvm. */
enum kvm_flavour kvm_detect_flavour(void);
const char *kvm_flavour_name(enum kvm_flavour f);

#endif
