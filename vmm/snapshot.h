/* SPDX-License-Identifier: Apache-2.0 */
/*
 * VM snapshots: saving a paused machine to an image directory and
 * building a machine from one (docs/architecture.md "Snapshots").
 *
 *   DIR/state   the state file (vmm/snapshot_format.h): manifest, KVM VM
 *               state (kvm-clock, irqchip, PIT), each vCPU's state, the
 *               devices' state, every section checksummed
 *   DIR/memory  guest RAM in memfd order, as a sparse file: only pages that
 *               hold a non-zero byte are written, the rest are holes
 *
 * Save (snapshot_save): the caller has paused the VM (vm_pause: every
 * vCPU parked outside KVM_RUN with its pending I/O completed) and runs on
 * the event-loop thread, so no device is being served.  Restore: the
 * caller opens and checks the image (snapshot_open), builds a VM with
 * snapshot_vm_config() (vm_create: same devices, same slots), and
 * snapshot_restore() loads RAM and state before any vCPU runs.
 *
 * Devices whose state lives outside the VMM's memory are refused with one
 * line naming them (snapshot_check_vm): the virtio-9p shares (the gofer's
 * fid table), the virtio-vsock (open connections) and virtio-net (the tap).
 * A template (SNAP_SAVE_TEMPLATE) may hold the first two while they are
 * idle; its restorer builds the same devices with fresh backends (the
 * sandbox: a gofer for the container's shares, a new agent connection),
 * and snapshot_restore() activates every device the guest had set up.
 */
#ifndef KVBOX_VMM_SNAPSHOT_H
#define KVBOX_VMM_SNAPSHOT_H

#include <stdint.h>

#include "util/err.h"
#include "vmm/snapshot_format.h"
#include "vmm/vm.h"

/* What the image names as the guest's software (manifest). */
struct snapshot_ids {
	char kernel_path[256]; /* for messages */
	uint8_t kernel_sha256[32];
	uint64_t kernel_size;
	bool agent; /* agent_sha256/agent_size valid */
	uint8_t agent_sha256[32];
	uint64_t agent_size;
};

struct snapshot_stats {
	uint64_t mem_data;		 /* bytes of non-zero guest pages written or read */
	uint64_t state_len;		 /* bytes of the state file */
	uint64_t usec;			 /* wall time of the save or restore */
	uint64_t mem_usec;		 /* restore: of which loading and checking memory */
	uint64_t sum_usec, copy_usec;	 /* ... of which checking, and copying */
	uint64_t open_usec, create_usec; /* template restore: opening, vm_create */
	bool lazy;			 /* RAM is loaded lazily (vmm/lazy_mem.h) */
	unsigned lazy_ranges;		 /* ... over this many ranges */
	char lazy_why[200];		 /* asked for but copied: why */
	/* template restore, lazily: its working set (vmm/template.h) */
	bool ws_missing;	    /* there was none */
	unsigned ws_blocks;	    /* ... or this many blocks, */
	uint64_t ws_bytes, ws_usec; /* loaded in this time */
	char ws_why[200];	    /* ... or not used: why */
	/* ... the guest kernel's ranges mapped copy-on-write from the image */
	uint64_t shared_bytes, shared_usec; /* (checked in this time) */
};

/* SHA-256 and size of a file (the kernel, the agent). */
int snapshot_file_id(const char *path, uint8_t sha[32], uint64_t *size, struct kv_err *err);

/* 0 if every device of vm can be saved, else -EOPNOTSUPP with one line
 * naming the first one that cannot. */
int snapshot_check_vm(const struct vm *vm, struct kv_err *err);

/* 0 if vm can be saved as a template: devices snapshot_check_vm() refuses
 * are allowed while they hold no state outside the VMM: the vsock with no
 * connection left, each 9p device with no request ever posted (the guest
 * never mounted it: the gofer has no fid).  virtio-net is still refused. */
int snapshot_check_template(const struct vm *vm, struct kv_err *err);

#define SNAP_SAVE_TEMPLATE 1u /* snapshot_check_template; manifest flag */

/* Saves the paused vm into dir, which must not exist (its parent must);
 * on failure nothing is left at dir.  flags: SNAP_SAVE_*. */
int snapshot_save(struct vm *vm, const char *dir, const struct snapshot_ids *ids, unsigned flags,
		  struct snapshot_stats *st, struct kv_err *err);

/*
 * A running container's checkpoint (`kvbox checkpoint`), written into
 * the open, empty directory dirfd (`name` is for messages).  The VM is
 * paused.  Refused with one line: a NIC (the tap and frames in flight are
 * not saved).  Each share's gofer stops serving its queue and hands over
 * its 9P session (every fid as a path to walk again: SNAP_SEC_P9), the
 * vsock's connections are saved with the bytes in flight (SNAP_SEC_VSOCK),
 * and `record` (the sandbox's JSON, SNAP_SEC_SANDBOX) is stored as it is.
 * On failure, or with go_on (--leave-running), every queue a gofer
 * stopped is handed back to it: the machine can go on.  Without go_on
 * they stay stopped (a request the guest had queued is the restored
 * machine's to serve, once) and the caller ends the machine without
 * resuming it.  On failure nothing is left in the directory.
 */
int snapshot_checkpoint(struct vm *vm, int dirfd, const char *name, const struct snapshot_ids *ids,
			const void *record, size_t record_len, bool go_on,
			struct snapshot_stats *st, struct kv_err *err);

struct snapshot {
	char dir[4096];
	uint8_t *buf; /* the state file */
	size_t len;
	struct snap_image *img;
	int dirfd;
	int memfd;	 /* DIR/memory, read-only */
	bool map_memory; /* set by the caller before snapshot_vm_config: RAM is
			  * a copy-on-write mapping of DIR/memory (lazy, page
			  * cache shared between restores) instead of a copy */
	/* set by the caller before snapshot_restore: load RAM lazily
	 * (vmm/lazy_mem.h) where userfaultfd allows, else copy */
	bool lazy;
	/* a checkpoint: who takes each restored vsock connection's host end
	 * (set by the caller before snapshot_restore) */
	vsock_accept_fn accept;
	void *accept_ctx;
};

/* Reads and checks DIR/state (format, checksums, completeness, this
 * kvbox's version) and that DIR/memory has the manifest's size. */
int snapshot_open(const char *dir, struct snapshot *s, struct kv_err *err);
void snapshot_close(struct snapshot *s);

/* The vm_config a restore must build (vm_create), from the manifest (and
 * map_memory); console_out and debug are the caller's. */
void snapshot_vm_config(const struct snapshot *s, struct vm_config *cfg);

/* Loads memory and state into vm (created from snapshot_vm_config, vCPUs
 * not started).  Memory is checked against its checksum before any
 * state is set. */
int snapshot_restore(struct vm *vm, const struct snapshot *s, struct snapshot_stats *st,
		     struct kv_err *err);

#endif
