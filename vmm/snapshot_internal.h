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

/* snapshot.c: the image written into an open directory (memory, then
 * state with the extra sections); on failure both files are removed. */
struct snapshot_ids;
struct snapshot;
struct snap_extra {
	uint32_t type, index;
	const void *data;
	size_t len;
};
int snap_save_at(struct vm *vm, int dirfd, struct snap_manifest *m, const struct snap_extra *x,
		 unsigned nx, uint64_t *len, struct kv_err *err);
void snap_fill_manifest(struct vm *vm, const struct snapshot_ids *ids, struct snap_manifest *m);

/* snapshot_ckpt.c: a checkpoint's 9P sessions (before the transports are
 * restored) and vsock connections (after, before any queue is kicked) */
int snap_restore_p9(struct vm *vm, const struct snapshot *s, struct kv_err *err);
int snap_restore_vsock(struct vm *vm, const struct snapshot *s, struct kv_err *err);

#endif
