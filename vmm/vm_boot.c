/* SPDX-License-Identifier: Apache-2.0 */
/* Building a VM and loading a kernel into it; see vmm/vm_boot.h. */
#include "vmm/vm_boot.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "boot/boot.h"
#include "util/cleanup.h"
#include "util/file.h"

/* On KVM-PVM a standard Linux kernel would run through KVM's instruction
 * emulator for minutes and die; refuse it up front with one line. */
static int pvm_refusal(const struct kernel_image *k, struct kv_err *err)
{
	if (k->kind == KERNEL_BZIMAGE)
		return kv_err_set(
		    err, ENOEXEC,
		    "a Linux bzImage, and this host's KVM is PVM (kvm_pvm), which runs "
		    "only PVM guest kernels; a bzImage cannot be checked for PVM "
		    "support: pass the vmlinux (ELF) of a kernel built with "
		    "CONFIG_PVM_GUEST, or use a host with hardware VMX/SVM");
	return kv_err_set(err, ENOEXEC,
			  "not a PVM guest kernel (no pvm_early_setup symbol), and this host's KVM "
			  "is PVM (kvm_pvm), which runs only PVM guests: use a kernel built with "
			  "CONFIG_PVM_GUEST, or a host with hardware VMX/SVM");
}

/* The command line with the virtio devices' entries appended, written to
 * guest RAM by boot_x86_setup(). */
static int load(struct vm *vm, const struct vm_boot_spec *b, const struct kernel_image *k,
		struct x86_boot_cpu *bsp, struct kv_err *err)
{
	size_t size = vm_virtio_cmdline_size(&vm->virtio, b->cmdline);
	cleanup_free char *cmdline = malloc(size);
	if (!cmdline)
		return kv_err_set(err, ENOMEM, "command line");
	int n = vm_virtio_cmdline(&vm->virtio, b->cmdline, cmdline, size);
	if (n < 0)
		return kv_err_set(err, -n, "command line: no room for the virtio devices");
	struct boot_config bc = {
	    .cmdline = cmdline,
	    .initrd = b->initrd,
	    .initrd_len = b->initrd_len,
	    .ncpus = b->ncpus,
	};
	int r = boot_x86_setup(&vm->mem, k, &bc, bsp, err);
	if (r == -E2BIG && vm->virtio.n)
		return kv_err_wrap(err, r,
				   "loading %s (%zu bytes of virtio_mmio.device= entries "
				   "follow the command line; --no-rng drops one)",
				   b->kernel, (size_t)n - strlen(b->cmdline));
	if (r < 0)
		return kv_err_wrap(err, r, "loading %s", b->kernel);
	return 0;
}

bool vm_boot_kernel_runs_here(const char *path)
{
	cleanup_free uint8_t *kbuf = NULL;
	size_t klen = 0;
	struct kv_err err = {0};
	struct kernel_image k;
	if (read_file_bounded(path, KERNEL_MAX_BYTES, &kbuf, &klen, &err) < 0 ||
	    kernel_image_parse(kbuf, klen, &k, &err) < 0)
		return false;
	return !(kvm_detect_flavour() == KVM_FLAVOUR_PVM && k.is_linux && !k.pvm_guest);
}

int vm_boot_load(struct vm *vm, const struct vm_config *cfg, const struct vm_boot_spec *b,
		 struct kv_err *err)
{
	cleanup_free uint8_t *kbuf = NULL;
	size_t klen = 0;
	int r = read_file_bounded(b->kernel, KERNEL_MAX_BYTES, &kbuf, &klen, err);
	if (r < 0)
		return kv_err_wrap(err, r, "kernel");
	struct kernel_image k;
	if ((r = kernel_image_parse(kbuf, klen, &k, err)) < 0)
		return kv_err_wrap(err, r, "kernel %s", b->kernel);
	if (kvm_detect_flavour() == KVM_FLAVOUR_PVM && k.is_linux && !k.pvm_guest)
		return kv_err_wrap(err, pvm_refusal(&k, err), "kernel %s", b->kernel);
	if ((r = vm_create(vm, cfg, err)) < 0)
		return r;
	struct x86_boot_cpu bsp;
	if ((r = load(vm, b, &k, &bsp, err)) < 0)
		return r;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	int fd = vm->vcpus[0].fd;
	if (ioctl(fd, KVM_GET_SREGS, &sregs) < 0)
		return kv_err_sys(err, errno, "KVM_GET_SREGS");
	x86_boot_regs(&bsp, &regs);
	x86_boot_sregs(&bsp, &sregs);
	if (ioctl(fd, KVM_SET_SREGS, &sregs) < 0)
		return kv_err_sys(err, errno, "KVM_SET_SREGS");
	if (ioctl(fd, KVM_SET_REGS, &regs) < 0)
		return kv_err_sys(err, errno, "KVM_SET_REGS");
	return 0;
}
