/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Building a VM and loading a kernel into it: shared by `kvbox boot`
 * (vmm/boot_cmd.c) and the container sandbox (vmm/sandbox.c).  Reads and
 * validates the kernel image (boot/), refuses a standard Linux kernel on
 * a PVM host with one line, creates the machine (vm_create), appends the
 * virtio devices' virtio_mmio.device= entries to the command line, writes
 * kernel, command line and initrd into guest RAM and sets the boot vCPU's
 * registers.  The vCPUs are not started.
 */
#ifndef KVBOX_VMM_VM_BOOT_H
#define KVBOX_VMM_VM_BOOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"
#include "vmm/vm.h"

#define KERNEL_MAX_BYTES (512u << 20)

struct vm_boot_spec {
	const char *kernel; /* bzImage or PVH ELF vmlinux */
	const uint8_t *initrd;
	size_t initrd_len;
	const char *cmdline; /* without the virtio entries */
	unsigned ncpus;
};

/* Whether the kernel at path is an image this host's KVM can boot (read
 * and parsed as vm_boot_load() would; on a PVM host, a PVM guest). */
bool vm_boot_kernel_runs_here(const char *path);

/* On failure the caller still calls vm_destroy(vm). */
int vm_boot_load(struct vm *vm, const struct vm_config *cfg, const struct vm_boot_spec *b,
		 struct kv_err *err);

#endif
