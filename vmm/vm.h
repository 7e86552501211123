/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One virtual machine: the KVM VM fd, guest RAM, vCPUs, the PIO/MMIO
 * buses with their devices, and how the machine ended.  All state hangs
 * off struct vm (no globals), so tests can build two.
 *
 * Threads: one per vCPU (vmm/vcpu.c, the KVM_RUN loop and exit dispatch),
 * plus the caller's thread running vm_run(): the event loop for console
 * input, signals, the stop eventfd and every fd a device registered in
 * vm->handlers (virtio queue ioeventfds, vmm/virtio_devs.h).  A vCPU
 * thread that sees the machine end (reset, panic, triple fault, error)
 * records it with vm_request_exit(); the first recorded reason wins and
 * every other vCPU is kicked out of KVM_RUN.
 */
#ifndef KVBOX_VMM_VM_H
#define KVBOX_VMM_VM_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <linux/kvm.h>

#include "devices/console_watch.h"
#include "devices/devices.h"
#include "devices/legacy.h"
#include "devices/uart8250.h"
#include "vmm/bus.h"
#include "vmm/fd_handlers.h"
#include "vmm/kvm.h"
#include "vmm/memory.h"
#include "vmm/virtio_devs.h"

#define VM_KERNEL_RO_MAX 4
#define VM_MAX_VCPUS	 64

enum vm_exit_kind {
	VM_EXIT_NONE,
	VM_EXIT_REBOOT,	      /* guest reset (i8042) */
	VM_EXIT_POWEROFF,     /* guest powered off / halted */
	VM_EXIT_PANIC,	      /* guest kernel panic */
	VM_EXIT_TRIPLE_FAULT, /* KVM_EXIT_SHUTDOWN */
	VM_EXIT_ERROR,	      /* KVM or VMM failure */
	VM_EXIT_USER,	      /* the user quit from the console */
	VM_EXIT_SIGNAL,	      /* the VMM got SIGTERM/SIGINT/SIGHUP */
	VM_EXIT_SNAPSHOT,     /* saved to a snapshot, then stopped (kvbox boot) */
};

struct vm;
struct lazy_mem;

struct vcpu {
	struct vm *vm;
	unsigned id;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool started;
};

struct vm_config {
	uint64_t mem_bytes;
	unsigned ncpus;
	int console_out; /* fd the guest console is written to */
	bool debug;	 /* log unclaimed port/MMIO accesses */
	/* virtio (vmm/virtio_devs.h); all false = the default machine */
	bool no_rng;	   /* leave virtio-rng out */
	bool no_ioeventfd; /* queue notifications only by MMIO exits (tests) */
	bool no_irqfd;	   /* interrupts only by KVM_IRQ_LINE (tests) */
	bool vsock;	   /* add a virtio-vsock (guest CID VM_VSOCK_GUEST_CID) */
	/* virtio-9p shares, served by one gofer process (vmm/p9_devs.h) */
	const struct gofer_share *shares;
	unsigned nshares;
	const char *gofer_exe; /* NULL: /proc/self/exe */
	/* virtio-net NICs over taps (virtio/net.h), slots after the vsock, in
	 * this order (the guest's eth0 is nets[0]); at most VM_NET_MAX.  Each
	 * tap fd is dup'ed by vm_create(): the caller may close its own after. */
	const struct virtio_net_params *nets;
	unsigned nnets;
	/* RAM as a copy-on-write mapping of this file instead of a memfd (a
	 * snapshot's memory file, kvbox boot --restore-cow); no shares then. */
	bool mem_file;
	int mem_file_fd;
	/* a template restore that may load RAM lazily (vmm/lazy_mem.h): the
	 * gofer is started with a userfaultfd for its mapping */
	bool lazy_mem;
};

/* What the main-thread event loop did, for --debug (vmm/runloop.c). */
struct vm_loop_stats {
	uint64_t wakeups;  /* epoll_wait returns with events */
	uint64_t cpu_usec; /* user + system CPU time of the loop's thread */
};

struct vm {
	struct kvm_sys kvm;
	int fd;
	struct vm_config cfg;
	struct guest_mem mem;
	struct kvm_cpuid2 *cpuid;
	unsigned ncpus;
	struct vcpu vcpus[VM_MAX_VCPUS];
	struct io_bus pio, mmio;

	struct machine_hooks hooks;
	struct uart8250 com1;
	struct console_watch watch;
	struct i8042 kbd;
	struct cmos_rtc rtc;
	struct pvpanic pvpanic;
	struct vm_virtio virtio;
	struct lazy_mem *lazy; /* RAM loaded lazily from an image, or NULL */
	/* a template build: the guest kernel's text and read-only data in the
	 * memfd (offset, length pairs), from the agent's PARK reply */
	uint64_t kernel_ro[2 * VM_KERNEL_RO_MAX];
	unsigned nkernel_ro;

	struct fd_handlers handlers; /* fds the main-thread event loop serves */
	struct vm_loop_stats loop_stats;

	/* pause: vCPUs park between KVM_RUN calls (vm_pause/vm_resume) */
	pthread_mutex_t pause_lock;
	pthread_cond_t pause_cond;
	bool pause_req;	 /* parked vCPUs stay parked while set */
	bool stopping;	 /* vm_stop_vcpus: parked vCPUs leave for good */
	unsigned parked; /* vCPU threads waiting in the park */
	/* start gate (same lock and condition): each vCPU thread loads its
	 * seccomp filter, counts itself in `filtered` (the first failure in
	 * filter_err), and waits for `gate_open`, which vm_run() sets once the
	 * main thread has its own filter (docs/security.md) */
	unsigned filtered;
	struct kv_err filter_err;
	bool gate_open;

	pthread_t pit_thread; /* creates the PIT in parallel; see vm.c */
	bool pit_thread_started;
	int pit_errno;

	/* One more signal vm_run() serves on its signalfd (kvbox boot
	 * --snapshot-on): user_signal_cb runs on the event-loop thread.
	 * 0: none.  Blocked in vCPU threads. */
	int user_signal;
	void (*user_signal_cb)(struct vm *vm, void *ctx);
	void *user_signal_ctx;

	int stop_fd; /* eventfd: the machine has ended */
	pthread_mutex_t exit_lock;
	enum vm_exit_kind exit_kind;
	int exit_signal;
	char exit_msg[256];
	bool panic_seen;
	unsigned unclaimed_logged; /* rate limit for --debug access logs */
};

/* Opens KVM, creates the VM, RAM, irqchip, PIT, devices and vCPUs. */
int vm_create(struct vm *vm, const struct vm_config *cfg, struct kv_err *err);
void vm_destroy(struct vm *vm);

/* Records why the machine ended (first caller wins) and stops every vCPU. */
void vm_request_exit(struct vm *vm, enum vm_exit_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Joins the PIT set-up thread vm_create() started (vm_start_vcpus() does
 * too): afterwards the process has no thread of the VM's until the vCPUs
 * start, so a caller may change per-thread state (the sandbox's jail); a
 * restore needs the PIT before it sets its state. */
int vm_wait_pit(struct vm *vm, struct kv_err *err);
/* Starts the vCPU threads and waits until each has loaded its seccomp
 * filter; they enter the guest only once vm_run() opens the gate. */
int vm_start_vcpus(struct vm *vm, struct kv_err *err);
/* Lets started vCPUs enter KVM_RUN (vm_run(), after the main thread's
 * filter).  Idempotent. */
void vm_open_gate(struct vm *vm);
/* Kicks every vCPU out of KVM_RUN and joins the threads. */
/* Stops every vCPU from entering the guest again, from any thread, without
 * waiting: each is kicked out of KVM_RUN and ends its thread (the VM is
 * stopping; vm_stop_vcpus() still joins them).  A vCPU parked in a page
 * fault leaves KVM_RUN before it re-enters the guest once woken. */
void vm_halt_vcpus(struct vm *vm);
void vm_stop_vcpus(struct vm *vm);

/* Parks every started vCPU outside KVM_RUN (guest time stands still:
 * timers catch up on resume) and returns once all are parked, or
 * -ETIMEDOUT after timeout_ms.  Devices served by the event loop or the
 * gofer stay up, so queued work completes while the guest is frozen. */
int vm_pause(struct vm *vm, int timeout_ms, struct kv_err *err);
/* Lets parked vCPUs run again.  Idempotent. */
void vm_resume(struct vm *vm);
bool vm_paused(struct vm *vm);

/* vCPU thread body (vmm/vcpu.c). */
void *vcpu_thread(void *arg);
int vcpu_create(struct vm *vm, unsigned id, struct kv_err *err);
void vcpu_destroy(struct vcpu *v);

const char *vm_exit_kind_name(enum vm_exit_kind k);

#endif
