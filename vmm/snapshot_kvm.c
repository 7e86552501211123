/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The KVM half of a snapshot: the VM's in-kernel devices (kvm-clock,
 * PIC master/slave, IOAPIC, PIT) and each vCPU's architectural state, as
 * raw KVM structures in state-file sections (vmm/snapshot_format.h).
 *
 * Get order (after vm_pause, which re-entered KVM_RUN with immediate_exit
 * so pending I/O completed): MP state first (KVM_GET_MP_STATE runs
 * kvm_apic_accept_events, which may change other state), then registers,
 * special registers, XSAVE (or FPU), XCRs, debug registers, LAPIC, MSRs,
 * and vCPU events last (the other gets may update what it reports).
 *
 * Set order (KVM's constraints, as Firecracker and QEMU apply them):
 * CPUID before anything; special registers before the LAPIC (they carry
 * the APIC base); registers before vCPU events (KVM_SET_REGS drops a
 * pending exception that the events restore); the LAPIC before the MSRs
 * (the TSC deadline MSR only sticks with the LAPIC configured); MP state
 * last.  The VM's PIT, clock and irqchips are set before any vCPU.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "util/cleanup.h"
#include "vmm/snapshot.h"
#include "vmm/snapshot_internal.h"

#define MSR_IA32_FEATURE_CONTROL 0x3a
#define MSR_IA32_MCG_CTL	 0x17b
#define MSR_LIST_MAX		 1024
#define CPUID_MAX		 256

static int vm_ioctl_get(int fd, unsigned long req, void *data, const char *what, struct kv_err *err)
{
	if (ioctl(fd, req, data) < 0)
		return kv_err_sys(err, errno, "%s", what);
	return 0;
}

int snap_save_vm_kvm(struct vm *vm, struct snap_writer *w, struct kv_err *err)
{
	struct kvm_clock_data clock;
	struct kvm_pit_state2 pit;
	int r;
	memset(&clock, 0, sizeof(clock));
	memset(&pit, 0, sizeof(pit));
	if ((r = vm_ioctl_get(vm->fd, KVM_GET_CLOCK, &clock, "KVM_GET_CLOCK", err)) < 0)
		return r;
	/* Restored as a plain value: the guest's clock goes on from here. */
	clock.flags = 0;
	snap_writer_add(w, SNAP_SEC_CLOCK, 0, &clock, sizeof(clock));
	for (unsigned chip = 0; chip < 3; chip++) {
		struct kvm_irqchip ic;
		memset(&ic, 0, sizeof(ic));
		ic.chip_id = chip;
		if ((r = vm_ioctl_get(vm->fd, KVM_GET_IRQCHIP, &ic, "KVM_GET_IRQCHIP", err)) < 0)
			return kv_err_wrap(err, r, "chip %u", chip);
		snap_writer_add(w, SNAP_SEC_IRQCHIP, chip, &ic, sizeof(ic));
	}
	if ((r = vm_ioctl_get(vm->fd, KVM_GET_PIT2, &pit, "KVM_GET_PIT2", err)) < 0)
		return r;
	snap_writer_add(w, SNAP_SEC_PIT, 0, &pit, sizeof(pit));
	return 0;
}

int snap_restore_vm_kvm(struct vm *vm, const struct snap_image *img, struct kv_err *err)
{
	const struct snap_section *s = snap_find(img, SNAP_SEC_PIT, 0);
	if (ioctl(vm->fd, KVM_SET_PIT2, s->data) < 0)
		return kv_err_sys(err, errno, "KVM_SET_PIT2");
	s = snap_find(img, SNAP_SEC_CLOCK, 0);
	struct kvm_clock_data clock;
	memcpy(&clock, s->data, sizeof(clock));
	clock.flags = 0;
	if (ioctl(vm->fd, KVM_SET_CLOCK, &clock) < 0)
		return kv_err_sys(err, errno, "KVM_SET_CLOCK");
	for (unsigned chip = 0; chip < 3; chip++) {
		struct kvm_irqchip ic;
		memcpy(&ic, snap_find(img, SNAP_SEC_IRQCHIP, chip)->data, sizeof(ic));
		if (ic.chip_id != chip)
			return kv_err_set(err, EINVAL, "irqchip section %u holds chip %u", chip,
					  ic.chip_id);
		if (ioctl(vm->fd, KVM_SET_IRQCHIP, &ic) < 0)
			return kv_err_sys(err, errno, "KVM_SET_IRQCHIP (chip %u)", chip);
	}
	return 0;
}

/* ---- MSRs ---- */

/* The MSRs to save: KVM_GET_MSR_INDEX_LIST without the two Firecracker
 * leaves out (not exported by Linux hosts as guest state).  Any other MSR
 * KVM_GET_MSRS cannot read is dropped in snap_save_msrs. */
static int msr_list(struct vm *vm, uint32_t *out, unsigned *n, struct kv_err *err)
{
	cleanup_free struct kvm_msr_list *l =
	    calloc(1, sizeof(*l) + MSR_LIST_MAX * sizeof(uint32_t));
	if (!l)
		return kv_err_set(err, ENOMEM, "MSR list");
	l->nmsrs = MSR_LIST_MAX;
	if (ioctl(vm->kvm.fd, KVM_GET_MSR_INDEX_LIST, l) < 0)
		return kv_err_sys(err, errno, "KVM_GET_MSR_INDEX_LIST");
	*n = 0;
	for (unsigned i = 0; i < l->nmsrs && i < MSR_LIST_MAX; i++)
		if (l->indices[i] != MSR_IA32_FEATURE_CONTROL && l->indices[i] != MSR_IA32_MCG_CTL)
			out[(*n)++] = l->indices[i];
	return 0;
}

static int save_msrs(struct vm *vm, int fd, unsigned id, struct snap_writer *w, struct kv_err *err)
{
	uint32_t idx[MSR_LIST_MAX];
	unsigned n = 0;
	int r = msr_list(vm, idx, &n, err);
	if (r < 0)
		return r;
	cleanup_free struct kvm_msr_entry *out = calloc(MSR_LIST_MAX, sizeof(*out));
	cleanup_free struct kvm_msrs *m =
	    calloc(1, sizeof(*m) + MSR_LIST_MAX * sizeof(struct kvm_msr_entry));
	if (!m || !out)
		return kv_err_set(err, ENOMEM, "MSRs");
	/* KVM_GET_MSRS stops at the first MSR it cannot read: that one is
	 * dropped and the read goes on after it. */
	unsigned next = 0, nout = 0;
	while (next < n) {
		m->nmsrs = n - next;
		for (unsigned i = 0; i < m->nmsrs; i++)
			m->entries[i] = (struct kvm_msr_entry){.index = idx[next + i]};
		int got = ioctl(fd, KVM_GET_MSRS, m);
		if (got < 0)
			return kv_err_sys(err, errno, "vCPU %u: KVM_GET_MSRS", id);
		memcpy(&out[nout], m->entries, (size_t)got * sizeof(*out));
		nout += (unsigned)got;
		next += (unsigned)got + 1; /* skip the unreadable one */
	}
	snap_writer_add(w, SNAP_SEC_MSRS, id, out, nout * sizeof(*out));
	return 0;
}

static int restore_msrs(int fd, unsigned id, const struct snap_section *s, struct kv_err *err)
{
	size_t n = s->len / sizeof(struct kvm_msr_entry);
	cleanup_free struct kvm_msrs *m = calloc(1, sizeof(*m) + s->len);
	if (!m)
		return kv_err_set(err, ENOMEM, "MSRs");
	m->nmsrs = (uint32_t)n;
	memcpy(m->entries, s->data, s->len);
	int set = ioctl(fd, KVM_SET_MSRS, m);
	if (set < 0)
		return kv_err_sys(err, errno, "vCPU %u: KVM_SET_MSRS", id);
	if ((size_t)set < n)
		return kv_err_set(err, EINVAL, "vCPU %u: KVM refused MSR 0x%x (%d of %zu set)", id,
				  m->entries[set].index, set, n);
	return 0;
}

/* ---- one vCPU ---- */

struct vcpu_get {
	uint32_t type;
	unsigned long req;
	size_t size;
	const char *name;
	bool optional; /* a refusal (EINVAL, ENOTTY, ...) leaves the section out */
};

/* After MP state, in get order; XSAVE, MSRs, events and CPUID are apart. */
static const struct vcpu_get vcpu_gets[] = {
    {SNAP_SEC_REGS, KVM_GET_REGS, sizeof(struct kvm_regs), "KVM_GET_REGS", false},
    {SNAP_SEC_SREGS, KVM_GET_SREGS, sizeof(struct kvm_sregs), "KVM_GET_SREGS", false},
    {SNAP_SEC_XCRS, KVM_GET_XCRS, sizeof(struct kvm_xcrs), "KVM_GET_XCRS", true},
    {SNAP_SEC_DEBUGREGS, KVM_GET_DEBUGREGS, sizeof(struct kvm_debugregs), "KVM_GET_DEBUGREGS",
     true},
    {SNAP_SEC_LAPIC, KVM_GET_LAPIC, sizeof(struct kvm_lapic_state), "KVM_GET_LAPIC", false},
};

static bool refused(int e)
{
	return e == EINVAL || e == ENOTTY || e == EOPNOTSUPP || e == ENXIO;
}

static int save_fixed(int fd, unsigned id, const struct vcpu_get *g, struct snap_writer *w,
		      struct kv_err *err)
{
	_Alignas(16) uint8_t buf[4096];
	_Static_assert(sizeof(struct kvm_lapic_state) <= sizeof(buf), "LAPIC fits");
	_Static_assert(sizeof(struct kvm_sregs) <= sizeof(buf), "sregs fit");
	memset(buf, 0, g->size);
	if (ioctl(fd, g->req, buf) < 0) {
		if (g->optional && refused(errno))
			return 0;
		return kv_err_sys(err, errno, "vCPU %u: %s", id, g->name);
	}
	snap_writer_add(w, g->type, id, buf, g->size);
	return 0;
}

/* XSAVE area size of this host (>= 4096), 0 without XSAVE. */
static int xsave_size(struct vm *vm)
{
	int n = ioctl(vm->fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);
	if (n >= (int)sizeof(struct kvm_xsave))
		return n;
	return ioctl(vm->fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE) > 0 ? (int)sizeof(struct kvm_xsave)
								     : 0;
}

static int save_fpu(struct vm *vm, int fd, unsigned id, struct snap_writer *w, struct kv_err *err)
{
	int size = xsave_size(vm);
	if (size > 0) {
		cleanup_free uint8_t *x = calloc(1, (size_t)size);
		if (!x)
			return kv_err_set(err, ENOMEM, "XSAVE area");
		unsigned long req =
		    size > (int)sizeof(struct kvm_xsave) ? KVM_GET_XSAVE2 : KVM_GET_XSAVE;
		if (ioctl(fd, req, x) == 0) {
			snap_writer_add(w, SNAP_SEC_XSAVE, id, x, (size_t)size);
			return 0;
		}
		if (!refused(errno))
			return kv_err_sys(err, errno, "vCPU %u: KVM_GET_XSAVE", id);
	}
	struct kvm_fpu fpu;
	memset(&fpu, 0, sizeof(fpu));
	if (ioctl(fd, KVM_GET_FPU, &fpu) < 0)
		return kv_err_sys(err, errno, "vCPU %u: KVM_GET_FPU", id);
	snap_writer_add(w, SNAP_SEC_FPU, id, &fpu, sizeof(fpu));
	return 0;
}

static int save_cpuid(int fd, unsigned id, struct snap_writer *w, struct kv_err *err)
{
	size_t sz = sizeof(struct kvm_cpuid2) + CPUID_MAX * sizeof(struct kvm_cpuid_entry2);
	cleanup_free struct kvm_cpuid2 *c = calloc(1, sz);
	if (!c)
		return kv_err_set(err, ENOMEM, "CPUID");
	c->nent = CPUID_MAX;
	if (ioctl(fd, KVM_GET_CPUID2, c) < 0)
		return kv_err_sys(err, errno, "vCPU %u: KVM_GET_CPUID2", id);
	snap_writer_add(w, SNAP_SEC_CPUID, id, c,
			sizeof(*c) + c->nent * sizeof(struct kvm_cpuid_entry2));
	return 0;
}

int snap_save_vcpu(struct vm *vm, unsigned id, struct snap_writer *w, struct kv_err *err)
{
	int fd = vm->vcpus[id].fd, r;
	struct kvm_mp_state mp = {0};
	if (ioctl(fd, KVM_GET_MP_STATE, &mp) < 0)
		return kv_err_sys(err, errno, "vCPU %u: KVM_GET_MP_STATE", id);
	snap_writer_add(w, SNAP_SEC_MP_STATE, id, &mp, sizeof(mp));
	for (size_t i = 0; i < 2; i++)
		if ((r = save_fixed(fd, id, &vcpu_gets[i], w, err)) < 0)
			return r;
	if ((r = save_fpu(vm, fd, id, w, err)) < 0)
		return r;
	for (size_t i = 2; i < sizeof(vcpu_gets) / sizeof(vcpu_gets[0]); i++)
		if ((r = save_fixed(fd, id, &vcpu_gets[i], w, err)) < 0)
			return r;
	if ((r = save_msrs(vm, fd, id, w, err)) < 0 || (r = save_cpuid(fd, id, w, err)) < 0)
		return r;
	struct kvm_vcpu_events ev;
	memset(&ev, 0, sizeof(ev));
	if (ioctl(fd, KVM_GET_VCPU_EVENTS, &ev) < 0)
		return kv_err_sys(err, errno, "vCPU %u: KVM_GET_VCPU_EVENTS", id);
	snap_writer_add(w, SNAP_SEC_EVENTS, id, &ev, sizeof(ev));
	return 0;
}

static int set_section(int fd, unsigned id, const struct snap_image *img, uint32_t type,
		       unsigned long req, const char *name, struct kv_err *err)
{
	const struct snap_section *s = snap_find(img, type, id);
	if (!s)
		return 0; /* optional, checked by snap_parse */
	/* KVM reads the struct in place: give it an aligned private copy. */
	cleanup_free void *copy = malloc(s->len);
	if (!copy)
		return kv_err_set(err, ENOMEM, "%s", name);
	memcpy(copy, s->data, s->len);
	if (ioctl(fd, req, copy) < 0)
		return kv_err_sys(err, errno, "vCPU %u: %s", id, name);
	return 0;
}

static int restore_xsave(struct vm *vm, int fd, unsigned id, const struct snap_image *img,
			 struct kv_err *err)
{
	const struct snap_section *s = snap_find(img, SNAP_SEC_XSAVE, id);
	if (!s)
		return set_section(fd, id, img, SNAP_SEC_FPU, KVM_SET_FPU, "KVM_SET_FPU", err);
	int size = xsave_size(vm);
	if (size <= 0 || (uint64_t)size < s->len)
		return kv_err_set(err, EINVAL,
				  "vCPU %u: the image's XSAVE area is %llu bytes, this host's %d",
				  id, (unsigned long long)s->len, size);
	cleanup_free uint8_t *x = calloc(1, (size_t)size);
	if (!x)
		return kv_err_set(err, ENOMEM, "XSAVE area");
	memcpy(x, s->data, s->len);
	if (ioctl(fd, KVM_SET_XSAVE, x) < 0)
		return kv_err_sys(err, errno, "vCPU %u: KVM_SET_XSAVE", id);
	return 0;
}

/* A guest reads the TSC at the rate it was booted with: on a host whose
 * TSC runs at another rate KVM must scale it (Firecracker does the same),
 * else the guest's clocks run fast or slow.  Within 250 ppm is the same. */
static int restore_tsc_rate(int fd, unsigned id, uint64_t khz, struct kv_err *err)
{
	int here = ioctl(fd, KVM_GET_TSC_KHZ, 0);
	if (khz == 0 || here <= 0)
		return 0;
	uint64_t diff = khz > (uint64_t)here ? khz - (uint64_t)here : (uint64_t)here - khz;
	if (diff * 4000 <= khz)
		return 0;
	if (ioctl(fd, KVM_SET_TSC_KHZ, (unsigned long)khz) < 0)
		return kv_err_sys(
		    err, errno,
		    "vCPU %u: the image's TSC ran at %llu kHz, this host's at %d kHz, "
		    "and KVM_SET_TSC_KHZ failed",
		    id, (unsigned long long)khz, here);
	return 0;
}

int snap_restore_vcpu(struct vm *vm, unsigned id, const struct snap_image *img, struct kv_err *err)
{
	int fd = vm->vcpus[id].fd, r;
	if ((r = restore_tsc_rate(fd, id, img->man.tsc_khz, err)) < 0)
		return r;
	if ((r = set_section(fd, id, img, SNAP_SEC_CPUID, KVM_SET_CPUID2, "KVM_SET_CPUID2", err)) ||
	    (r = set_section(fd, id, img, SNAP_SEC_SREGS, KVM_SET_SREGS, "KVM_SET_SREGS", err)) ||
	    (r = set_section(fd, id, img, SNAP_SEC_REGS, KVM_SET_REGS, "KVM_SET_REGS", err)) ||
	    (r = restore_xsave(vm, fd, id, img, err)) ||
	    (r = set_section(fd, id, img, SNAP_SEC_XCRS, KVM_SET_XCRS, "KVM_SET_XCRS", err)) ||
	    (r = set_section(fd, id, img, SNAP_SEC_DEBUGREGS, KVM_SET_DEBUGREGS,
			     "KVM_SET_DEBUGREGS", err)) ||
	    (r = set_section(fd, id, img, SNAP_SEC_LAPIC, KVM_SET_LAPIC, "KVM_SET_LAPIC", err)) ||
	    (r = restore_msrs(fd, id, snap_find(img, SNAP_SEC_MSRS, id), err)) ||
	    (r = set_section(fd, id, img, SNAP_SEC_EVENTS, KVM_SET_VCPU_EVENTS,
			     "KVM_SET_VCPU_EVENTS", err)) ||
	    (r = set_section(fd, id, img, SNAP_SEC_MP_STATE, KVM_SET_MP_STATE, "KVM_SET_MP_STATE",
			     err)))
		return r;
	return 0;
}

uint64_t snap_tsc_khz(struct vm *vm)
{
	int khz = ioctl(vm->vcpus[0].fd, KVM_GET_TSC_KHZ, 0);
	return khz > 0 ? (uint64_t)khz : 0;
}
