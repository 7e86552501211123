/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Building and tearing down a VM (see vmm/vm.h): KVM VM fd, guest RAM
 * slots, in-kernel irqchip and PIT, the legacy devices on the buses, the
 * virtio-mmio devices (vmm/virtio_devs.c), and the vCPUs; plus the single
 * place that decides how the machine ended.
 */
#include "vmm/vm.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "boot/x86_layout.h"
#include "vmm/lazy_mem.h"
#include "vmm/x86_cpu.h"

#define SIG_KICK SIGUSR2
/* vm_stop_vcpus: kicks, 100 ms apart, before a stuck vCPU ends the process. */
#define VM_STOP_TRIES 100

const char *vm_exit_kind_name(enum vm_exit_kind k)
{
	static const char *const names[] = {
	    [VM_EXIT_NONE] = "running",
	    [VM_EXIT_REBOOT] = "reboot",
	    [VM_EXIT_POWEROFF] = "poweroff",
	    [VM_EXIT_PANIC] = "guest panic",
	    [VM_EXIT_TRIPLE_FAULT] = "triple fault",
	    [VM_EXIT_ERROR] = "error",
	    [VM_EXIT_USER] = "quit",
	    [VM_EXIT_SIGNAL] = "signal",
	    [VM_EXIT_SNAPSHOT] = "snapshot saved",
	};
	return k < sizeof(names) / sizeof(names[0]) ? names[k] : "?";
}

void vm_request_exit(struct vm *vm, enum vm_exit_kind kind, const char *fmt, ...)
{
	pthread_mutex_lock(&vm->exit_lock);
	bool first = vm->exit_kind == VM_EXIT_NONE;
	if (first) {
		vm->exit_kind = kind;
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(vm->exit_msg, sizeof(vm->exit_msg), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&vm->exit_lock);
	if (first) {
		uint64_t one = 1;
		ssize_t n = write(vm->stop_fd, &one, sizeof(one));
		(void)n;
	}
}

static void vm_irq_line(void *ctx, unsigned irq, int level)
{
	struct vm *vm = ctx;
	struct kvm_irq_level l = {.irq = irq, .level = level};
	if (ioctl(vm->fd, KVM_IRQ_LINE, &l) < 0)
		vm_request_exit(vm, VM_EXIT_ERROR, "KVM_IRQ_LINE %u: %s", irq, strerror(errno));
}

static void vm_machine_event(void *ctx, enum machine_event ev, const char *why)
{
	struct vm *vm = ctx;
	switch (ev) {
	case MACHINE_EVENT_RESET:
		/* Linux reboots itself after a panic (panic=-1): that reset
		 * ends a panicked guest, not a healthy one. */
		if (vm->panic_seen)
			vm_request_exit(vm, VM_EXIT_PANIC, "guest kernel panic: %s",
					vm->watch.panic_reason[0] ? vm->watch.panic_reason : why);
		else
			vm_request_exit(vm, VM_EXIT_REBOOT, "guest rebooted (%s)", why);
		break;
	case MACHINE_EVENT_POWEROFF:
		vm_request_exit(vm, VM_EXIT_POWEROFF, "guest powered off (%s)", why);
		break;
	case MACHINE_EVENT_PANIC:
		vm_request_exit(vm, VM_EXIT_PANIC, "guest panic reported by %s", why);
		break;
	}
}

/* Guest console output: to the terminal, and through the watcher. */
static void vm_console_sink(void *ctx, const uint8_t *buf, size_t len)
{
	struct vm *vm = ctx;
	size_t off = 0;
	while (off < len) {
		ssize_t n = write(vm->cfg.console_out, buf + off, len - off);
		/* A kick (SIGUSR2) interrupts a write to a stalled terminal;
		 * once the machine is ending, drop the byte and let the vCPU go. */
		if (n < 0 && errno == EINTR &&
		    __atomic_load_n(&vm->exit_kind, __ATOMIC_ACQUIRE) == VM_EXIT_NONE)
			continue;
		if (n <= 0)
			break; /* a closed terminal must not stop the guest */
		off += (size_t)n;
	}
	for (size_t i = 0; i < len; i++) {
		switch (console_watch_byte(&vm->watch, buf[i])) {
		case CONSOLE_EVENT_PANIC_BEGIN:
			vm->panic_seen = true;
			break;
		case CONSOLE_EVENT_PANIC_END:
			vm_machine_event(vm, MACHINE_EVENT_PANIC, "the guest console");
			break;
		case CONSOLE_EVENT_POWEROFF:
			vm_machine_event(vm, MACHINE_EVENT_POWEROFF, "guest console");
			break;
		default:
			break;
		}
	}
}

static int vm_create_irqchip(struct vm *vm, struct kv_err *err)
{
	/* The TSS and identity-map pages are a VMX need; other flavours
	 * may refuse them, which is harmless. */
	(void)ioctl(vm->fd, KVM_SET_TSS_ADDR, 0xfffbd000UL);
	uint64_t idmap = 0xfffbc000ULL;
	(void)ioctl(vm->fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap);
	if (ioctl(vm->fd, KVM_CREATE_IRQCHIP, 0) < 0)
		return kv_err_sys(err, errno, "KVM_CREATE_IRQCHIP");
	return 0;
}

/*
 * KVM_CREATE_PIT2 starts a kernel worker thread and takes 3-4 ms, the
 * largest single cost of start-up.  It only needs the irqchip, so it runs
 * on its own thread while the rest of the machine (devices, vCPUs, the
 * kernel image) is built, and vm_start_vcpus() waits for it.
 */
static void *pit_create_thread(void *arg)
{
	struct vm *vm = arg;
	struct kvm_pit_config pit = {.flags = KVM_PIT_SPEAKER_DUMMY};
	vm->pit_errno = ioctl(vm->fd, KVM_CREATE_PIT2, &pit) < 0 ? errno : 0;
	return NULL;
}

int vm_wait_pit(struct vm *vm, struct kv_err *err)
{
	if (!vm->pit_thread_started)
		return 0;
	pthread_join(vm->pit_thread, NULL);
	vm->pit_thread_started = false;
	if (vm->pit_errno)
		return kv_err_sys(err, vm->pit_errno, "KVM_CREATE_PIT2");
	return 0;
}

static int vm_create_memory(struct vm *vm, struct kv_err *err)
{
	int r = vm->cfg.mem_file
		    ? guest_mem_map_file(&vm->mem, vm->cfg.mem_file_fd, vm->cfg.mem_bytes,
					 X86_MMIO_HOLE_START, err)
		    : guest_mem_create(&vm->mem, vm->cfg.mem_bytes, X86_MMIO_HOLE_START, err);
	if (r < 0)
		return r;
	for (unsigned i = 0; i < vm->mem.nregions; i++) {
		const struct guest_region *g = &vm->mem.regions[i];
		struct kvm_userspace_memory_region slot = {
		    .slot = i,
		    .guest_phys_addr = g->gpa,
		    .memory_size = g->size,
		    .userspace_addr = (uint64_t)(uintptr_t)(vm->mem.host + g->offset),
		};
		if (ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &slot) < 0)
			return kv_err_sys(err, errno,
					  "KVM_SET_USER_MEMORY_REGION (slot %u, %llu MiB)", i,
					  (unsigned long long)(g->size >> 20));
	}
	return 0;
}

static int vm_create_devices(struct vm *vm, struct kv_err *err)
{
	vm->hooks = (struct machine_hooks){vm_irq_line, vm_machine_event, vm};
	vm->pio.name = "pio";
	vm->mmio.name = "mmio";
	console_watch_init(&vm->watch);
	uart8250_init(&vm->com1, X86_IRQ_COM1, &vm->hooks, vm_console_sink, vm);
	vm->kbd.hooks = &vm->hooks;
	vm->pvpanic.hooks = &vm->hooks;
	int r;
	if ((r = bus_register(&vm->pio, X86_PORT_COM1, 8, &uart8250_ops, &vm->com1, "ttyS0",
			      err)) ||
	    (r = bus_register(&vm->pio, X86_PORT_I8042_DATA, 5, &i8042_ops, &vm->kbd, "i8042",
			      err)) ||
	    (r = bus_register(&vm->pio, X86_PORT_RTC_INDEX, 2, &cmos_rtc_ops, &vm->rtc, "rtc",
			      err)) ||
	    (r = bus_register(&vm->pio, X86_PORT_PVPANIC, 1, &pvpanic_ops, &vm->pvpanic, "pvpanic",
			      err)))
		return r;
	return 0;
}

static void kick_handler(int sig)
{
	(void)sig; /* only there so KVM_RUN returns EINTR */
}

int vm_create(struct vm *vm, const struct vm_config *cfg, struct kv_err *err)
{
	memset(vm, 0, sizeof(*vm));
	vm->fd = vm->stop_fd = -1;
	vm->mem.fd = -1;
	vm->cfg = *cfg;
	fd_handlers_init(&vm->handlers);
	pthread_mutex_init(&vm->exit_lock, NULL);
	pthread_mutex_init(&vm->pause_lock, NULL);
	/* vm_pause() waits against CLOCK_MONOTONIC deadlines */
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&vm->pause_cond, &ca);
	pthread_condattr_destroy(&ca);
	for (unsigned i = 0; i < VM_MAX_VCPUS; i++)
		vm->vcpus[i].fd = -1;
	int r = kvm_sys_open(&vm->kvm, err);
	if (r < 0)
		return r;
	if (cfg->ncpus == 0 || cfg->ncpus > (unsigned)vm->kvm.max_vcpus ||
	    cfg->ncpus > VM_MAX_VCPUS)
		return kv_err_set(
		    err, EINVAL, "--cpus %u: this host allows 1 to %d vCPUs per VM", cfg->ncpus,
		    vm->kvm.max_vcpus < VM_MAX_VCPUS ? vm->kvm.max_vcpus : VM_MAX_VCPUS);
	vm->ncpus = cfg->ncpus;
	vm->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->stop_fd < 0)
		return kv_err_sys(err, errno, "eventfd");
	vm->fd = ioctl(vm->kvm.fd, KVM_CREATE_VM, 0);
	if (vm->fd < 0)
		return kv_err_sys(err, errno, "KVM_CREATE_VM");
	/* Memory first: measured here, the first memslot costs ~0.1 ms on a
	 * bare VM but ~7 ms once the irqchip and PIT exist (KVM then waits
	 * for an SRCU grace period). */
	if ((r = vm_create_memory(vm, err)) < 0 || (r = vm_create_irqchip(vm, err)) < 0)
		return r;
	if ((r = pthread_create(&vm->pit_thread, NULL, pit_create_thread, vm)))
		return kv_err_sys(err, r, "starting the PIT set-up thread");
	vm->pit_thread_started = true;
	if ((r = vm_create_devices(vm, err)) < 0 || (r = vm_virtio_create(vm, err)) < 0)
		return r;
	vm->cpuid = x86_cpuid_supported(vm->kvm.fd, err);
	if (!vm->cpuid)
		return -ENOMEM;
	struct sigaction sa = {.sa_handler = kick_handler};
	sigemptyset(&sa.sa_mask);
	sigaction(SIG_KICK, &sa, NULL);
	for (unsigned i = 0; i < vm->ncpus; i++)
		if ((r = vcpu_create(vm, i, err)) < 0)
			return kv_err_wrap(err, r, "vCPU %u", i);
	return 0;
}

static unsigned vm_started_vcpus(const struct vm *vm)
{
	unsigned n = 0;
	for (unsigned i = 0; i < vm->ncpus; i++)
		n += vm->vcpus[i].started;
	return n;
}

int vm_start_vcpus(struct vm *vm, struct kv_err *err)
{
	int r = vm_wait_pit(vm, err);
	if (r < 0)
		return r;
	/* vCPU threads never take process signals: SIGINT/SIGTERM/SIGHUP
	 * belong to the event loop's signalfd, so they are blocked in the
	 * mask the threads inherit. */
	sigset_t block, saved;
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGCHLD);
	if (vm->user_signal)
		sigaddset(&block, vm->user_signal);
	pthread_sigmask(SIG_BLOCK, &block, &saved);
	for (unsigned i = 0; i < vm->ncpus && r == 0; i++) {
		struct vcpu *v = &vm->vcpus[i];
		r = pthread_create(&v->thread, NULL, vcpu_thread, v);
		if (r)
			r = kv_err_sys(err, r, "starting vCPU %u thread", i);
		else
			v->started = true;
	}
	pthread_sigmask(SIG_SETMASK, &saved, NULL);
	/* each started thread reports its filter before anything goes on */
	unsigned want = vm_started_vcpus(vm);
	pthread_mutex_lock(&vm->pause_lock);
	while (vm->filtered < want)
		pthread_cond_wait(&vm->pause_cond, &vm->pause_lock);
	if (r == 0 && vm->filter_err.code)
		r = kv_err_set(err, vm->filter_err.code, "vCPU thread: %s", vm->filter_err.msg);
	pthread_mutex_unlock(&vm->pause_lock);
	return r;
}

void vm_open_gate(struct vm *vm)
{
	pthread_mutex_lock(&vm->pause_lock);
	vm->gate_open = true;
	pthread_cond_broadcast(&vm->pause_cond);
	pthread_mutex_unlock(&vm->pause_lock);
}

int vm_pause(struct vm *vm, int timeout_ms, struct kv_err *err)
{
	pthread_mutex_lock(&vm->pause_lock);
	vm->pause_req = true;
	pthread_mutex_unlock(&vm->pause_lock);
	for (unsigned i = 0; i < vm->ncpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		if (!v->started)
			continue;
		__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
		pthread_kill(v->thread, SIG_KICK);
	}
	struct timespec deadline;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	int r = 0;
	unsigned want = vm_started_vcpus(vm);
	pthread_mutex_lock(&vm->pause_lock);
	while (vm->parked < want && r == 0 && !vm->stopping)
		r = pthread_cond_timedwait(&vm->pause_cond, &vm->pause_lock, &deadline);
	bool ok = vm->parked >= want;
	pthread_mutex_unlock(&vm->pause_lock);
	if (!ok) {
		vm_resume(vm);
		return kv_err_set(err, ETIMEDOUT, "pause: %u of %u vCPUs parked within %d ms",
				  vm->parked, want, timeout_ms);
	}
	return 0;
}

void vm_resume(struct vm *vm)
{
	pthread_mutex_lock(&vm->pause_lock);
	vm->pause_req = false;
	pthread_cond_broadcast(&vm->pause_cond);
	pthread_mutex_unlock(&vm->pause_lock);
}

bool vm_paused(struct vm *vm)
{
	pthread_mutex_lock(&vm->pause_lock);
	bool p = vm->pause_req;
	pthread_mutex_unlock(&vm->pause_lock);
	return p;
}

void vm_halt_vcpus(struct vm *vm)
{
	pthread_mutex_lock(&vm->pause_lock);
	vm->stopping = true;
	pthread_cond_broadcast(&vm->pause_cond);
	pthread_mutex_unlock(&vm->pause_lock);
	for (unsigned i = 0; i < vm->ncpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		if (!v->started)
			continue;
		__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
		pthread_kill(v->thread, SIG_KICK);
	}
}

void vm_stop_vcpus(struct vm *vm)
{
	vm_halt_vcpus(vm);
	for (unsigned i = 0; i < vm->ncpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		if (!v->started)
			continue;
		/* immediate_exit (set by vm_halt_vcpus) covers the window
		 * before the thread enters KVM_RUN; the signal covers a thread
		 * already inside it.  The kick is repeated every 100 ms: one
		 * signal can in principle be consumed by an exit that was
		 * already on its way out. */
		for (unsigned tries = 0;; tries++) {
			if (tries)
				pthread_kill(v->thread, SIG_KICK);
			struct timespec t;
			clock_gettime(CLOCK_REALTIME, &t); /* pthread_timedjoin_np's clock */
			t.tv_nsec += 100 * 1000000L;
			if (t.tv_nsec >= 1000000000L) {
				t.tv_sec++;
				t.tv_nsec -= 1000000000L;
			}
			if (pthread_timedjoin_np(v->thread, NULL, &t) == 0)
				break;
			if (tries == VM_STOP_TRIES) {
				/* A thread that ignores kicks for 10 s is stuck in
				 * the kernel; guest memory cannot be unmapped under
				 * it, so the process ends here rather than hang. */
				fprintf(stderr,
					"kvbox: vCPU %u did not stop within %u ms; exiting\n", i,
					VM_STOP_TRIES * 100);
				_exit(EXIT_FAILURE);
			}
		}
		v->started = false;
	}
}

void vm_destroy(struct vm *vm)
{
	vm_wait_pit(vm, NULL);
	vm_stop_vcpus(vm);
	for (unsigned i = 0; i < VM_MAX_VCPUS; i++)
		vcpu_destroy(&vm->vcpus[i]);
	free(vm->cpuid);
	vm->cpuid = NULL;
	vm_virtio_destroy(vm);
	/* after the gofer: a fault of its still gets served */
	if (vm->lazy) {
		lazy_mem_stop(vm->lazy);
		free(vm->lazy);
		vm->lazy = NULL;
	}
	uart8250_destroy(&vm->com1);
	if (vm->fd >= 0)
		close(vm->fd);
	guest_mem_destroy(&vm->mem);
	if (vm->stop_fd >= 0)
		close(vm->stop_fd);
	kvm_sys_close(&vm->kvm);
	pthread_mutex_destroy(&vm->exit_lock);
	pthread_mutex_destroy(&vm->pause_lock);
	pthread_cond_destroy(&vm->pause_cond);
	vm->fd = vm->stop_fd = -1;
}
