/* SPDX-License-Identifier: Apache-2.0 */
/* Between vmm/snapshot.c and vmm/snapshot_kvm.c (the KVM state). */
#ifndef KVBOX_VMM_SNAPSHOT_INTERNAL_H
#define KVBOX_VMM_SNAPSHOT_INTERNAL_H

#include "vmm/snapshot_format.h"
#include "vmm/vm.h"

int snap_save_vm_kvm(struct vm *vm, struct snap_writer *w, struct kv_err *err);
int snap_restore_vm_kvm(struct vm *vm, const struct snap_image *img, struct kv_err *err);
int snap_save_vcpu(struct vm *vm, unsigned id, struct snap_writer *w, struct kv_err *err);
int snap_restore_vcpu(struct vm *vm, unsigned id, const struct snap_image *img, struct kv_err *err);
uint64_t snap_tsc_khz(struct vm *vm);

#endif
