/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vCPU threads: the KVM_RUN loop and exit dispatch.  Port and MMIO exits
 * go to the buses; everything that ends the machine goes to
 * vm_request_exit().  Nothing a guest does here can end the VMM process
 * other than ending its own machine.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "security/seccomp.h"
#include "vmm/vm.h"
#include "vmm/x86_cpu.h"

int vcpu_create(struct vm *vm, unsigned id, struct kv_err *err)
{
	struct vcpu *v = &vm->vcpus[id];
	v->vm = vm;
	v->id = id;
	v->fd = ioctl(vm->fd, KVM_CREATE_VCPU, (unsigned long)id);
	if (v->fd < 0)
		return kv_err_sys(err, errno, "KVM_CREATE_VCPU");
	void *run =
	    mmap(NULL, (size_t)vm->kvm.run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (run == MAP_FAILED)
		return kv_err_sys(err, errno, "mapping kvm_run");
	v->run = run;
	return x86_vcpu_init(v->fd, vm->cpuid, id, vm->ncpus, err);
}

void vcpu_destroy(struct vcpu *v)
{
	if (v->run && v->vm)
		munmap(v->run, (size_t)v->vm->kvm.run_size);
	v->run = NULL;
	if (v->fd >= 0)
		close(v->fd);
	v->fd = -1;
}

static void log_unclaimed(struct vcpu *v, const char *bus, int write, uint64_t addr, unsigned len)
{
	struct vm *vm = v->vm;
	if (!vm->cfg.debug || vm->unclaimed_logged >= 64)
		return;
	vm->unclaimed_logged++;
	fprintf(stderr, "kvbox: vCPU %u: unclaimed %s %s at 0x%llx (%u bytes)%s\n", v->id, bus,
		write ? "write" : "read", (unsigned long long)addr, len,
		vm->unclaimed_logged == 64 ? " (no more of these will be logged)" : "");
}

static void vcpu_handle_io(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	/* KVM validated these (data_offset lies inside the kvm_run page),
	 * but bound them anyway: size is 1, 2 or 4, count small. */
	unsigned size = run->io.size;
	uint64_t count = run->io.count;
	if (size == 0 || size > 4 || count == 0 ||
	    run->io.data_offset + size * count > (uint64_t)v->vm->kvm.run_size)
		return;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	for (uint64_t i = 0; i < count; i++, data += size) {
		bool claimed;
		if (run->io.direction == KVM_EXIT_IO_OUT)
			claimed = bus_write(&v->vm->pio, run->io.port, data, size);
		else
			claimed = bus_read(&v->vm->pio, run->io.port, data, size);
		if (!claimed)
			log_unclaimed(v, "port", run->io.direction == KVM_EXIT_IO_OUT, run->io.port,
				      size);
	}
}

static void vcpu_handle_mmio(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	unsigned len = run->mmio.len;
	if (len == 0 || len > sizeof(run->mmio.data))
		return;
	bool claimed = run->mmio.is_write
			   ? bus_write(&v->vm->mmio, run->mmio.phys_addr, run->mmio.data, len)
			   : bus_read(&v->vm->mmio, run->mmio.phys_addr, run->mmio.data, len);
	if (!claimed)
		log_unclaimed(v, "MMIO", run->mmio.is_write, run->mmio.phys_addr, len);
}

static void vcpu_handle_system_event(struct vcpu *v)
{
	struct vm *vm = v->vm;
	switch (v->run->system_event.type) {
	case KVM_SYSTEM_EVENT_SHUTDOWN:
		vm_request_exit(vm, VM_EXIT_POWEROFF, "guest powered off");
		break;
	case KVM_SYSTEM_EVENT_RESET:
		vm_request_exit(vm, VM_EXIT_REBOOT, "guest rebooted");
		break;
	case KVM_SYSTEM_EVENT_CRASH:
		vm_request_exit(vm, VM_EXIT_PANIC, "guest crash reported to KVM");
		break;
	default:
		vm_request_exit(vm, VM_EXIT_ERROR, "unknown KVM system event %u",
				v->run->system_event.type);
	}
}

static void vcpu_internal_error(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	const char *what = run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION
			       ? "instruction emulation failed"
			       : "internal error";
	char hint[160] = "";
	if (v->vm->kvm.flavour == KVM_FLAVOUR_PVM)
		snprintf(hint, sizeof(hint),
			 " (this host's KVM is PVM: only PVM guest kernels run "
			 "natively)");
	vm_request_exit(v->vm, VM_EXIT_ERROR, "vCPU %u: KVM %s, suberror %u%s", v->id, what,
			run->internal.suberror, hint);
}

/* A triple fault names where the guest was: the instruction, its mode
 * and its page tables, which is what a kernel developer asks first. */
static void vcpu_triple_fault(struct vcpu *v)
{
	struct kvm_regs r;
	struct kvm_sregs s;
	if (ioctl(v->fd, KVM_GET_REGS, &r) < 0 || ioctl(v->fd, KVM_GET_SREGS, &s) < 0) {
		vm_request_exit(v->vm, VM_EXIT_TRIPLE_FAULT, "guest triple fault on vCPU %u",
				v->id);
		return;
	}
	/* KVM on AMD SVM resets the vCPU before it reports the shutdown (the
	 * VMCB is undefined after one): the reset vector is all there is */
	if (r.rip == 0xfff0 && s.cs.selector == 0xf000) {
		vm_request_exit(
		    v->vm, VM_EXIT_TRIPLE_FAULT,
		    "guest triple fault on vCPU %u (where: not known, KVM reset the vCPU)", v->id);
		return;
	}
	vm_request_exit(v->vm, VM_EXIT_TRIPLE_FAULT,
			"guest triple fault on vCPU %u (rip 0x%llx rsp 0x%llx cs 0x%x cr0 0x%llx "
			"cr2 0x%llx cr3 0x%llx cr4 0x%llx efer 0x%llx)",
			v->id, (unsigned long long)r.rip, (unsigned long long)r.rsp,
			(unsigned)s.cs.selector, (unsigned long long)s.cr0,
			(unsigned long long)s.cr2, (unsigned long long)s.cr3,
			(unsigned long long)s.cr4, (unsigned long long)s.efer);
}

/* Returns false when the loop should end. */
static bool vcpu_dispatch(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		vcpu_handle_io(v);
		return true;
	case KVM_EXIT_MMIO:
		vcpu_handle_mmio(v);
		return true;
	case KVM_EXIT_INTR:
	case KVM_EXIT_HLT: /* only without an in-kernel LAPIC; keep going */
		return true;
	case KVM_EXIT_SHUTDOWN:
		vcpu_triple_fault(v);
		return false;
	case KVM_EXIT_SYSTEM_EVENT:
		vcpu_handle_system_event(v);
		return false;
	case KVM_EXIT_INTERNAL_ERROR:
		vcpu_internal_error(v);
		return false;
	case KVM_EXIT_FAIL_ENTRY:
		vm_request_exit(v->vm, VM_EXIT_ERROR,
				"vCPU %u: KVM entry failed, hardware reason 0x%llx", v->id,
				(unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		return false;
	default:
		vm_request_exit(v->vm, VM_EXIT_ERROR, "vCPU %u: unexpected KVM exit %u", v->id,
				run->exit_reason);
		return false;
	}
}

/* The vCPU was kicked: parks it while a pause is requested.  Returns false
 * when the thread should end (the VM is stopping). */
static bool vcpu_park(struct vcpu *v)
{
	struct vm *vm = v->vm;
	pthread_mutex_lock(&vm->pause_lock);
	if (vm->stopping) {
		pthread_mutex_unlock(&vm->pause_lock);
		return false;
	}
	if (vm->pause_req) {
		/* An exit the guest is still inside (a port read whose data
		 * sits in kvm_run) completes only in KVM_RUN: enter once with
		 * immediate_exit still set, so a paused vCPU's state is whole
		 * (a snapshot reads it).  Returns EINTR at once. */
		(void)ioctl(v->fd, KVM_RUN, 0);
	}
	__atomic_store_n(&v->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
	if (vm->pause_req) {
		vm->parked++;
		pthread_cond_broadcast(&vm->pause_cond);
		while (vm->pause_req && !vm->stopping)
			pthread_cond_wait(&vm->pause_cond, &vm->pause_lock);
		vm->parked--;
	}
	bool go_on = !vm->stopping;
	pthread_mutex_unlock(&vm->pause_lock);
	return go_on;
}

/* Loads this thread's seccomp filter (before its first KVM_RUN), reports
 * to vm_start_vcpus(), and waits at the gate until vm_run() has filtered
 * the main thread.  Returns false when the thread should end. */
static bool vcpu_filter_and_wait(struct vcpu *v)
{
	struct vm *vm = v->vm;
	struct kv_err err = {0};
	int r = kv_seccomp_install(KV_SECCOMP_VCPU, &err);
	pthread_mutex_lock(&vm->pause_lock);
	if (r < 0 && !vm->filter_err.code)
		vm->filter_err = err;
	vm->filtered++;
	pthread_cond_broadcast(&vm->pause_cond);
	while (!vm->gate_open && !vm->stopping)
		pthread_cond_wait(&vm->pause_cond, &vm->pause_lock);
	bool go = r == 0 && !vm->stopping;
	pthread_mutex_unlock(&vm->pause_lock);
	return go;
}

void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	char name[16];
	snprintf(name, sizeof(name), "kvbox-vcpu%u", v->id);
	pthread_setname_np(pthread_self(), name);
	sigset_t kick;
	sigemptyset(&kick);
	sigaddset(&kick, SIGUSR2);
	pthread_sigmask(SIG_UNBLOCK, &kick, NULL);
	if (!vcpu_filter_and_wait(v))
		return NULL;
	for (;;) {
		if (__atomic_load_n(&v->run->immediate_exit, __ATOMIC_SEQ_CST) && !vcpu_park(v))
			break;
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			vm_request_exit(v->vm, VM_EXIT_ERROR, "vCPU %u: KVM_RUN: %s", v->id,
					strerror(errno));
			break;
		}
		if (!vcpu_dispatch(v))
			break;
	}
	return NULL;
}
