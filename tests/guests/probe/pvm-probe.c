/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pvm-probe: a stand-alone diagnostic that asks this host's /dev/kvm which
 * guest entry modes and platform behaviours actually work.  Written for
 * KVM-PVM hosts (see tests/guests/PVM-NOTES.md), where anything that is not
 * a PVM guest runs through KVM's instruction emulator, but it runs
 * unchanged on hardware VMX/SVM too.
 *
 * Each case builds a fresh VM the way kvbox does (in-kernel irqchip, PIT2,
 * CPUID from KVM_GET_SUPPORTED_CPUID, one RAM slot at 0), copies a tiny
 * hand-written guest to a fixed address, sets the entry state and runs the
 * vCPU(s), logging every exit.  A case passes when the guest reaches the
 * i8042 reset (out 0xfe -> port 0x64), or for the negative cases when the
 * expected exit (SHUTDOWN, no exit at all) is seen.
 *
 * Build: gcc -O2 -Wall -pthread -o pvm-probe tests/guests/probe/pvm-probe.c
 * Run:   ./pvm-probe            (needs rw access to /dev/kvm)
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <linux/kvm.h>

#define MEM_SIZE   (4u << 20)
#define CODE_ADDR  0x1000u  /* BSP code */
#define TRAMP_ADDR 0x10000u /* AP real-mode trampoline (SIPI vector 0x10) */
#define FLAG_ADDR  0x8000u
#define GDT_ADDR   0x500u
#define PML4_ADDR  0x9000u
#define MAX_VCPUS  2

/* ---- guest code, assembled by gcc into .rodata and copied into the VM ---- */
#define GUEST(name) extern const uint8_t name##_start[], name##_end[]
GUEST(g_real);
GUEST(g_prot32);
GUEST(g_long64);
GUEST(g_triple);
GUEST(g_mmio);
GUEST(g_hlt);
GUEST(g_smp_bsp);
GUEST(g_smp_ap);
GUEST(g_prot32_to_long);
GUEST(g_spin);
GUEST(g_spin16);
GUEST(g_pause);

__asm__(".pushsection .rodata.guest,\"a\"\n"
	/* (a) real mode: print 'R', poll LSR once, reset */
	".code16\n"
	"g_real_start:\n"
	"  mov $0x3fd, %dx\n  in %dx, %al\n"
	"  mov $0x3f8, %dx\n  mov $'R', %al\n  out %al, %dx\n"
	"  mov $0xfe, %al\n  out %al, $0x64\n"
	"1: cli\n  hlt\n  jmp 1b\n"
	"g_real_end:\n"
	/* (b) 32-bit protected mode, paging off, flat segments */
	".code32\n"
	"g_prot32_start:\n"
	"  mov $0x3f8, %dx\n  mov $'P', %al\n  out %al, %dx\n"
	"  movl $0x11223344, 0x8000\n  mov 0x8000, %eax\n  out %eax, $0x80\n"
	"  mov $0xfe, %al\n  out %al, $0x64\n"
	"1: cli\n  hlt\n  jmp 1b\n"
	"g_prot32_end:\n"
	/* (b2) 32-bit entry that turns on PAE paging and long mode itself,
	 * the way a PVH kernel does */
	"g_prot32_to_long_start:\n"
	"  mov %cr4, %eax\n  or $0x20, %eax\n  mov %eax, %cr4\n"
	"  mov $0x9000, %eax\n  mov %eax, %cr3\n"
	"  mov $0xc0000080, %ecx\n  rdmsr\n  or $0x100, %eax\n  wrmsr\n"
	"  mov %cr0, %eax\n  or $0x80000000, %eax\n  mov %eax, %cr0\n"
	"  ljmp $0x08, $(0x1000 + 2f - g_prot32_to_long_start)\n"
	".code64\n"
	"2: mov $0x3f8, %dx\n  mov $'L', %al\n  out %al, %dx\n"
	"  mov $0xfe, %al\n  out %al, $0x64\n"
	"1: cli\n  hlt\n  jmp 1b\n"
	"g_prot32_to_long_end:\n"
	/* (c) 64-bit long mode, identity paging; also CPUID leaf 1 */
	".code64\n"
	"g_long64_start:\n"
	"  mov $0x3f8, %dx\n  mov $'6', %al\n  out %al, %dx\n"
	"  mov $1, %eax\n  cpuid\n  mov %ebx, %eax\n  out %eax, $0x80\n"
	"  movabs $0x1122334455667788, %rax\n  mov %rax, 0x8000\n"
	"  mov 0x8000, %rax\n  shr $32, %rax\n  out %eax, $0x80\n"
	"  mov $0xfe, %al\n  out %al, $0x64\n"
	"1: cli\n  hlt\n  jmp 1b\n"
	"g_long64_end:\n"
	/* (d) triple fault: zero-limit IDT then ud2 */
	"g_triple_start:\n"
	"  mov $0x3f8, %dx\n  mov $'T', %al\n  out %al, %dx\n"
	"  movq $0, 0x8100\n  movq $0, 0x8108\n  lidt 0x8100\n"
	"  ud2\n"
	"  mov $0xfe, %al\n  out %al, $0x64\n"
	"g_triple_end:\n"
	/* (e) MMIO to an unmapped address: read then write */
	"g_mmio_start:\n"
	"  mov $0xc0001000, %ebx\n  mov (%rbx), %eax\n  out %eax, $0x80\n"
	"  movl $0xa5a5a5a5, (%rbx)\n  movb $0x5a, 4(%rbx)\n"
	"  mov $0xfe, %al\n  out %al, $0x64\n"
	"g_mmio_end:\n"
	/* (h) speed: 100M iterations of dec/jnz, plus 1M pause */
	"g_spin_start:\n"
	"  mov $1000000, %ecx\n1: dec %ecx\n  jnz 1b\n"
	"  mov $0xfe, %al\n  out %al, $0x64\n"
	"g_spin_end:\n"
	"g_pause_start:\n"
	"  mov $100000, %ecx\n1: pause\n  dec %ecx\n  jnz 1b\n"
	"  mov $0xfe, %al\n  out %al, $0x64\n"
	"g_pause_end:\n"
	/* (f) cli; hlt — should sleep in the kernel forever */
	"g_hlt_start:\n"
	"  mov $0x3f8, %dx\n  mov $'H', %al\n  out %al, %dx\n"
	"  cli\n  hlt\n"
	"  mov $'!', %al\n  out %al, %dx\n"
	"  mov $0xfe, %al\n  out %al, $0x64\n"
	"g_hlt_end:\n"
	/* (g) SMP: BSP (64-bit) sends INIT-SIPI-SIPI to APIC id 1 through the
	 * in-kernel LAPIC, waits (bounded) for the AP's flag */
	"g_smp_bsp_start:\n"
	"  movl $0, 0x8000\n"
	"  mov $0xfee000f0, %ebx\n  movl $0x1ff, (%rbx)\n"	/* SVR: enable */
	"  mov $0xfee00310, %ebx\n  movl $0x01000000, (%rbx)\n" /* dest id 1 */
	"  mov $0xfee00300, %ebx\n  movl $0x00004500, (%rbx)\n" /* INIT */
	"  movl $0x00004610, (%rbx)\n"				/* SIPI 0x10 */
	"  movl $0x00004610, (%rbx)\n"				/* SIPI again */
	"  mov $20000000, %ecx\n"
	"2: cmpl $0x600d, 0x8000\n  je 3f\n  pause\n  dec %ecx\n  jnz 2b\n"
	"3: mov 0x8000, %eax\n  out %eax, $0x80\n"
	"  mov 0x8004, %eax\n  out %eax, $0x80\n"
	"  mov $0x3f8, %dx\n  mov $'B', %al\n  out %al, %dx\n"
	"  mov $0xfe, %al\n  out %al, $0x64\n"
	"1: cli\n  hlt\n  jmp 1b\n"
	"g_smp_bsp_end:\n"
	".code16\n"
	"g_smp_ap_start:\n"
	"  cli\n  xor %ax, %ax\n  mov %ax, %ds\n"
	"  mov $0x3f8, %dx\n  mov $'A', %al\n  out %al, %dx\n"
	"  mov $1, %eax\n  cpuid\n  shr $24, %ebx\n  mov %ebx, 0x8004\n"
	"  movl $0x600d, 0x8000\n"
	"1: cli\n  hlt\n  jmp 1b\n"
	"g_smp_ap_end:\n"
	"g_spin16_start:\n"
	"  mov $1000000, %ecx\n1: dec %ecx\n  jnz 1b\n"
	"  mov $0xfe, %al\n  out %al, $0x64\n"
	"g_spin16_end:\n"
	".code64\n"
	".popsection\n");

/* ---- harness ---- */
enum mode { MODE_REAL, MODE_PROT32, MODE_LONG64 };

struct vcpu {
	int fd;
	int id;
	struct kvm_run *run;
	pthread_t thr;
	bool reset, shutdown, hlt, intr, failed;
	char log[2048];
	size_t loglen;
	struct vm *vm;
};

struct vm {
	int kvm, fd;
	uint8_t *mem;
	int nvcpu;
	struct vcpu cpu[MAX_VCPUS];
	size_t run_size;
	struct kvm_cpuid2 *cpuid;
};

static void die(const char *what)
{
	fprintf(stderr, "pvm-probe: %s: %s\n", what, strerror(errno));
	exit(2);
}

static void logf_(struct vcpu *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(struct vcpu *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (c->loglen < sizeof(c->log) - 1) {
		int n = vsnprintf(c->log + c->loglen, sizeof(c->log) - c->loglen, fmt, ap);
		if (n > 0)
			c->loglen += (size_t)n;
		if (c->loglen > sizeof(c->log) - 1)
			c->loglen = sizeof(c->log) - 1;
	}
	va_end(ap);
}

static void on_sig(int s)
{
	(void)s;
}

static void vm_init(struct vm *vm, int nvcpu)
{
	memset(vm, 0, sizeof(*vm));
	vm->kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm < 0)
		die("open /dev/kvm");
	vm->fd = ioctl(vm->kvm, KVM_CREATE_VM, 0);
	if (vm->fd < 0)
		die("KVM_CREATE_VM");
	/* Intel needs a TSS address below 4G outside RAM; harmless on PVM */
	if (ioctl(vm->fd, KVM_SET_TSS_ADDR, 0xfffbd000) < 0)
		perror("pvm-probe: KVM_SET_TSS_ADDR (ignored)");
	if (ioctl(vm->fd, KVM_CREATE_IRQCHIP, 0) < 0)
		die("KVM_CREATE_IRQCHIP");
	struct kvm_pit_config pit = {.flags = KVM_PIT_SPEAKER_DUMMY};
	if (ioctl(vm->fd, KVM_CREATE_PIT2, &pit) < 0)
		die("KVM_CREATE_PIT2");
	vm->mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (vm->mem == MAP_FAILED)
		die("mmap");
	struct kvm_userspace_memory_region r = {
	    .slot = 0,
	    .guest_phys_addr = 0,
	    .memory_size = MEM_SIZE,
	    .userspace_addr = (uintptr_t)vm->mem,
	};
	if (ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &r) < 0)
		die("KVM_SET_USER_MEMORY_REGION");

	int n = 256;
	vm->cpuid = calloc(1, sizeof(*vm->cpuid) + n * sizeof(struct kvm_cpuid_entry2));
	vm->cpuid->nent = n;
	if (ioctl(vm->kvm, KVM_GET_SUPPORTED_CPUID, vm->cpuid) < 0)
		die("KVM_GET_SUPPORTED_CPUID");
	vm->run_size = ioctl(vm->kvm, KVM_GET_VCPU_MMAP_SIZE, 0);

	vm->nvcpu = nvcpu;
	for (int i = 0; i < nvcpu; i++) {
		struct vcpu *c = &vm->cpu[i];
		c->vm = vm;
		c->id = i;
		c->fd = ioctl(vm->fd, KVM_CREATE_VCPU, i);
		if (c->fd < 0)
			die("KVM_CREATE_VCPU");
		/* per-vCPU APIC id in leaf 1 EBX[31:24] and leaf 0xb EDX */
		for (unsigned e = 0; e < vm->cpuid->nent; e++) {
			struct kvm_cpuid_entry2 *ent = &vm->cpuid->entries[e];
			if (ent->function == 1)
				ent->ebx = (ent->ebx & 0x00ffffff) | ((uint32_t)i << 24);
			if (ent->function == 0xb || ent->function == 0x1f)
				ent->edx = (uint32_t)i;
		}
		if (ioctl(c->fd, KVM_SET_CPUID2, vm->cpuid) < 0)
			die("KVM_SET_CPUID2");
		c->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, c->fd, 0);
		if (c->run == MAP_FAILED)
			die("mmap kvm_run");
	}
}

static void vm_free(struct vm *vm)
{
	for (int i = 0; i < vm->nvcpu; i++) {
		munmap(vm->cpu[i].run, vm->run_size);
		close(vm->cpu[i].fd);
	}
	munmap(vm->mem, MEM_SIZE);
	free(vm->cpuid);
	close(vm->fd);
	close(vm->kvm);
}

static void put_code(struct vm *vm, uint32_t addr, const uint8_t *s, const uint8_t *e)
{
	memcpy(vm->mem + addr, s, (size_t)(e - s));
}

/* GDT at 0x500: 0x08 code64, 0x10 code32/64 per mode, 0x18 data (the
 * layout boot/ uses: 0x10 code, 0x18 data). */
static void build_tables(struct vm *vm, bool code64)
{
	uint64_t *gdt = (uint64_t *)(vm->mem + GDT_ADDR);
	gdt[0] = 0;
	gdt[1] = 0x00af9a000000ffffULL; /* 64-bit code, used by prot32_to_long */
	gdt[2] = code64 ? 0x00af9a000000ffffULL : 0x00cf9a000000ffffULL;
	gdt[3] = 0x00cf92000000ffffULL;
	uint64_t *pml4 = (uint64_t *)(vm->mem + PML4_ADDR);
	uint64_t *pdpt = (uint64_t *)(vm->mem + PML4_ADDR + 0x1000);
	uint64_t *pd = (uint64_t *)(vm->mem + PML4_ADDR + 0x2000);
	pml4[0] = (PML4_ADDR + 0x1000) | 3;
	for (int i = 0; i < 4; i++)
		pdpt[i] = (PML4_ADDR + 0x2000 + i * 0x1000) | 3;
	for (int i = 0; i < 4 * 512; i++)
		pd[i] = ((uint64_t)i << 21) | 0x83;
}

static void seg(struct kvm_segment *s, uint16_t sel, uint8_t type, bool l, bool db)
{
	*s = (struct kvm_segment){
	    .base = 0,
	    .limit = 0xffffffff,
	    .selector = sel,
	    .type = type,
	    .present = 1,
	    .dpl = 0,
	    .db = db,
	    .s = 1,
	    .l = l,
	    .g = 1,
	};
}

static void set_entry(struct vm *vm, struct vcpu *c, enum mode m, uint32_t rip)
{
	struct kvm_sregs sr;
	struct kvm_regs rg;
	if (ioctl(c->fd, KVM_GET_SREGS, &sr) < 0)
		die("KVM_GET_SREGS");
	if (m == MODE_REAL) {
		struct kvm_segment *ss[] = {&sr.cs, &sr.ds, &sr.es, &sr.fs, &sr.gs, &sr.ss};
		for (unsigned i = 0; i < 6; i++) {
			ss[i]->base = 0;
			ss[i]->selector = 0;
		}
	} else {
		build_tables(vm, m == MODE_LONG64);
		seg(&sr.cs, 0x10, 0xb, m == MODE_LONG64, m != MODE_LONG64);
		struct kvm_segment d;
		seg(&d, 0x18, 0x3, false, true);
		sr.ds = sr.es = sr.fs = sr.gs = sr.ss = d;
		sr.gdt.base = GDT_ADDR;
		sr.gdt.limit = 4 * 8 - 1;
		sr.cr0 = 0x11; /* PE | ET */
		if (m == MODE_LONG64) {
			sr.cr0 |= 0x80000000u;
			sr.cr3 = PML4_ADDR;
			sr.cr4 |= 0x20;
			sr.efer |= 0x500;
		}
	}
	if (ioctl(c->fd, KVM_SET_SREGS, &sr) < 0)
		die("KVM_SET_SREGS");
	memset(&rg, 0, sizeof(rg));
	rg.rflags = 2;
	rg.rip = rip;
	rg.rsp = 0x8f00;
	if (ioctl(c->fd, KVM_SET_REGS, &rg) < 0)
		die("KVM_SET_REGS");
}

static const char *exit_name(uint32_t r)
{
	switch (r) {
	case KVM_EXIT_IO:
		return "IO";
	case KVM_EXIT_MMIO:
		return "MMIO";
	case KVM_EXIT_HLT:
		return "HLT";
	case KVM_EXIT_SHUTDOWN:
		return "SHUTDOWN";
	case KVM_EXIT_FAIL_ENTRY:
		return "FAIL_ENTRY";
	case KVM_EXIT_INTERNAL_ERROR:
		return "INTERNAL_ERROR";
	case KVM_EXIT_SYSTEM_EVENT:
		return "SYSTEM_EVENT";
	case KVM_EXIT_DEBUG:
		return "DEBUG";
	default:
		return "other";
	}
}

/* Run one vCPU until reset, shutdown, an error, or a signal (timeout). */
static void *vcpu_loop(void *arg)
{
	struct vcpu *c = arg;
	for (int n = 0; n < 10000; n++) {
		int r = ioctl(c->fd, KVM_RUN, 0);
		if (r < 0) {
			if (errno == EAGAIN) {
				/* an AP in UNINITIALIZED state returns EAGAIN once it
				 * has taken INIT/SIPI: userspace must simply re-enter */
				logf_(c, "[EAGAIN, re-run] ");
				continue;
			}
			if (errno == EINTR) {
				c->intr = true;
				logf_(c, "[KVM_RUN EINTR: no exit before timeout] ");
				return NULL;
			}
			logf_(c, "[KVM_RUN error %s] ", strerror(errno));
			c->failed = true;
			return NULL;
		}
		struct kvm_run *run = c->run;
		switch (run->exit_reason) {
		case KVM_EXIT_IO: {
			uint8_t *d = (uint8_t *)run + run->io.data_offset;
			uint32_t v = 0;
			if (run->io.direction == KVM_EXIT_IO_OUT) {
				memcpy(&v, d, run->io.size);
				if (run->io.port == 0x3f8)
					logf_(c, "out3f8 '%c' ", v);
				else
					logf_(c, "out(%#x,%u)=%#x ", run->io.port, run->io.size, v);
				if (run->io.port == 0x64 && v == 0xfe) {
					c->reset = true;
					logf_(c, "[i8042 reset] ");
					return NULL;
				}
			} else {
				v = run->io.port == 0x3fd ? 0x60 : 0xffffffff;
				memcpy(d, &v, run->io.size);
				logf_(c, "in(%#x,%u) ", run->io.port, run->io.size);
			}
			break;
		}
		case KVM_EXIT_MMIO:
			if (run->mmio.is_write) {
				uint64_t v = 0;
				memcpy(&v, run->mmio.data, run->mmio.len);
				logf_(c, "mmio-write(%#llx,%u)=%#llx ",
				      (unsigned long long)run->mmio.phys_addr, run->mmio.len,
				      (unsigned long long)v);
			} else {
				memset(run->mmio.data, 0xff, sizeof(run->mmio.data));
				logf_(c, "mmio-read(%#llx,%u) ",
				      (unsigned long long)run->mmio.phys_addr, run->mmio.len);
			}
			break;
		case KVM_EXIT_SHUTDOWN:
			c->shutdown = true;
			logf_(c, "[SHUTDOWN] ");
			return NULL;
		case KVM_EXIT_HLT:
			c->hlt = true;
			logf_(c, "[HLT exit] ");
			return NULL;
		case KVM_EXIT_INTERNAL_ERROR:
			logf_(c, "[INTERNAL_ERROR suberror %u", run->internal.suberror);
			for (unsigned i = 0; i < run->internal.ndata && i < 4; i++)
				logf_(c, " %#llx", (unsigned long long)run->internal.data[i]);
			logf_(c, "] ");
			c->failed = true;
			return NULL;
		case KVM_EXIT_FAIL_ENTRY:
			logf_(c, "[FAIL_ENTRY reason %#llx] ",
			      (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
			c->failed = true;
			return NULL;
		default:
			logf_(c, "[exit %u %s] ", run->exit_reason, exit_name(run->exit_reason));
			c->failed = true;
			return NULL;
		}
	}
	logf_(c, "[too many exits] ");
	c->failed = true;
	return NULL;
}

static double cpu_seconds(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* Run all vCPUs on threads; after timeout_ms, kick the ones still inside
 * KVM_RUN with SIGUSR1 (no SA_RESTART -> EINTR). */
static void vm_run(struct vm *vm, int timeout_ms, double *cpu_used, double *wall)
{
	struct timespec t0, t1;
	double c0 = cpu_seconds();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < vm->nvcpu; i++)
		pthread_create(&vm->cpu[i].thr, NULL, vcpu_loop, &vm->cpu[i]);
	for (int i = 0; i < vm->nvcpu; i++) {
		struct timespec dl;
		clock_gettime(CLOCK_REALTIME, &dl);
		long ms = timeout_ms;
		dl.tv_sec += ms / 1000;
		dl.tv_nsec += (ms % 1000) * 1000000L;
		if (dl.tv_nsec >= 1000000000L) {
			dl.tv_sec++;
			dl.tv_nsec -= 1000000000L;
		}
		while (pthread_timedjoin_np(vm->cpu[i].thr, NULL, &dl) == ETIMEDOUT) {
			for (int j = 0; j < vm->nvcpu; j++) {
				vm->cpu[j].run->immediate_exit = 1;
				pthread_kill(vm->cpu[j].thr, SIGUSR1);
			}
			clock_gettime(CLOCK_REALTIME, &dl);
			dl.tv_sec += 1;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	*cpu_used = cpu_seconds() - c0;
	*wall = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
}

static int failures;

static void report(const char *name, struct vm *vm, bool ok, double cpu, double wall)
{
	printf("%-34s %s  (wall %.3fs, cpu %.3fs)\n", name, ok ? "PASS" : "FAIL", wall, cpu);
	for (int i = 0; i < vm->nvcpu; i++)
		printf("    vcpu%d: %s\n", i, vm->cpu[i].log);
	if (!ok)
		failures++;
}

static void simple_case(const char *name, enum mode m, const uint8_t *s, const uint8_t *e)
{
	struct vm vm;
	double cpu, wall;
	vm_init(&vm, 1);
	put_code(&vm, CODE_ADDR, s, e);
	set_entry(&vm, &vm.cpu[0], m, CODE_ADDR);
	vm_run(&vm, 20000, &cpu, &wall);
	report(name, &vm, vm.cpu[0].reset, cpu, wall);
	vm_free(&vm);
}

static void case_prot32_to_long(void)
{
	struct vm vm;
	double cpu, wall;
	vm_init(&vm, 1);
	put_code(&vm, CODE_ADDR, g_prot32_to_long_start, g_prot32_to_long_end);
	set_entry(&vm, &vm.cpu[0], MODE_PROT32, CODE_ADDR);
	vm_run(&vm, 2000, &cpu, &wall);
	report("(b2) 32-bit -> long mode by guest", &vm, vm.cpu[0].reset, cpu, wall);
	vm_free(&vm);
}

static void case_triple(void)
{
	struct vm vm;
	double cpu, wall;
	vm_init(&vm, 1);
	put_code(&vm, CODE_ADDR, g_triple_start, g_triple_end);
	set_entry(&vm, &vm.cpu[0], MODE_LONG64, CODE_ADDR);
	vm_run(&vm, 2000, &cpu, &wall);
	report("(d) triple fault -> SHUTDOWN", &vm, vm.cpu[0].shutdown, cpu, wall);
	vm_free(&vm);
}

static void case_mmio(void)
{
	struct vm vm;
	double cpu, wall;
	vm_init(&vm, 1);
	put_code(&vm, CODE_ADDR, g_mmio_start, g_mmio_end);
	set_entry(&vm, &vm.cpu[0], MODE_LONG64, CODE_ADDR);
	vm_run(&vm, 2000, &cpu, &wall);
	bool ok = vm.cpu[0].reset && strstr(vm.cpu[0].log, "mmio-read(0xc0001000,4)") &&
		  strstr(vm.cpu[0].log, "out(0x80,4)=0xffffffff");
	report("(e) unmapped MMIO -> EXIT_MMIO", &vm, ok, cpu, wall);
	vm_free(&vm);
}

static void case_hlt(void)
{
	struct vm vm;
	double cpu, wall;
	vm_init(&vm, 1);
	put_code(&vm, CODE_ADDR, g_hlt_start, g_hlt_end);
	set_entry(&vm, &vm.cpu[0], MODE_LONG64, CODE_ADDR);
	vm_run(&vm, 2000, &cpu, &wall);
	/* expected: no exit at all, vCPU asleep in the kernel, little CPU */
	bool ok = vm.cpu[0].intr && !vm.cpu[0].hlt && cpu < 0.5;
	report("(f) cli;hlt never exits (2s)", &vm, ok, cpu, wall);
	vm_free(&vm);
}

static void case_smp(void)
{
	struct vm vm;
	double cpu, wall;
	vm_init(&vm, 2);
	put_code(&vm, CODE_ADDR, g_smp_bsp_start, g_smp_bsp_end);
	put_code(&vm, TRAMP_ADDR, g_smp_ap_start, g_smp_ap_end);
	set_entry(&vm, &vm.cpu[0], MODE_LONG64, CODE_ADDR);
	struct kvm_mp_state mp;
	if (ioctl(vm.cpu[1].fd, KVM_GET_MP_STATE, &mp) == 0)
		printf("    AP initial mp_state=%u (0=RUNNABLE 1=UNINITIALIZED 2=INIT_RECEIVED)\n",
		       mp.mp_state);
	vm_run(&vm, 3000, &cpu, &wall);
	bool ok = vm.cpu[0].reset && strstr(vm.cpu[0].log, "out(0x80,4)=0x600d ") &&
		  strstr(vm.cpu[1].log, "out3f8 'A'");
	report("(g) INIT-SIPI-SIPI starts AP", &vm, ok, cpu, wall);
	vm_free(&vm);
}

int main(void)
{
	struct sigaction sa = {.sa_handler = on_sig};
	sigaction(SIGUSR1, &sa, NULL);

	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		die("open /dev/kvm");
	printf("KVM_GET_API_VERSION=%d  KVM_CAP_NR_VCPUS=%d  KVM_CAP_MAX_VCPUS=%d\n",
	       ioctl(kvm, KVM_GET_API_VERSION, 0),
	       ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS),
	       ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS));
	close(kvm);
	printf("kvm_pvm module: %s\n",
	       access("/sys/module/kvm_pvm", F_OK) == 0 ? "present" : "absent");

	simple_case("(a) 16-bit real mode", MODE_REAL, g_real_start, g_real_end);
	simple_case("(b) 32-bit protected, paging off", MODE_PROT32, g_prot32_start, g_prot32_end);
	case_prot32_to_long();
	simple_case("(c) 64-bit long mode, PML4 0x9000", MODE_LONG64, g_long64_start, g_long64_end);
	case_triple();
	case_mmio();
	case_hlt();
	case_smp();
	simple_case("(h) speed: 1e6 x dec/jnz, 64-bit", MODE_LONG64, g_spin_start, g_spin_end);
	simple_case("(h2) speed: 1e5 x pause/dec/jnz", MODE_LONG64, g_pause_start, g_pause_end);
	simple_case("(h3) speed: 1e6 x dec/jnz, real", MODE_REAL, g_spin16_start, g_spin16_end);
	printf("%d failure(s)\n", failures);
	return failures ? 1 : 0;
}
