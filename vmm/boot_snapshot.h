/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `kvbox boot`'s snapshot flags (docs/cli.md): --snapshot-on SIGNAL saves
 * the running guest when the signal comes (pause, vmm/snapshot.c, then
 * exit or go on); --restore DIR builds the VM from an image instead of
 * booting a kernel.
 */
#ifndef KVBOX_VMM_BOOT_SNAPSHOT_H
#define KVBOX_VMM_BOOT_SNAPSHOT_H

#include <stdbool.h>

#include "vmm/snapshot.h"
#include "vmm/vm.h"

struct boot_snapshot {
	const char *dir;	 /* --snapshot-dir */
	bool leave_running;	 /* --snapshot-leave-running */
	bool saved;		 /* one snapshot per run */
	struct snapshot_ids ids; /* what the manifest names */
};

/* What --restore checks the image against; NULL/0: not given. */
struct boot_restore_req {
	const char *dir;
	const char *kernel;
	uint64_t mem_bytes;
	unsigned ncpus;
	bool debug, no_ioeventfd, no_irqfd;
	bool cow; /* --restore-cow: RAM maps the memory file copy-on-write */
};

/* Opens and checks the image, creates vm from it and restores it (vCPUs
 * not started); fills ids from its manifest.  The caller vm_destroy()s
 * vm on failure too. */
int boot_restore_prepare(struct vm *vm, const struct boot_restore_req *req,
			 struct snapshot_ids *ids, struct kv_err *err);

/* Serves `signal` in vm_run(): refuses a VM with devices that cannot be
 * saved (-EOPNOTSUPP, one line). */
int boot_snapshot_arm(struct vm *vm, int signal, struct boot_snapshot *bs, struct kv_err *err);

#endif
