/* SPDX-License-Identifier: Apache-2.0 */
/* `kvbox boot --snapshot-on` and `--restore`; see vmm/boot_snapshot.h. */
#include "vmm/boot_snapshot.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int check_request(const struct boot_restore_req *req, const struct snap_manifest *m,
			 struct kv_err *err)
{
	if (req->kernel) {
		uint8_t sha[32];
		uint64_t size;
		int r = snapshot_file_id(req->kernel, sha, &size, err);
		if (r < 0)
			return kv_err_wrap(err, r, "--kernel");
		if (size != m->kernel_size || memcmp(sha, m->kernel_sha256, 32))
			return kv_err_set(
			    err, EINVAL,
			    "--kernel %s is not the kernel %s was saved with (%s, %llu "
			    "bytes)",
			    req->kernel, req->dir, m->kernel_path[0] ? m->kernel_path : "?",
			    (unsigned long long)m->kernel_size);
	}
	if (req->mem_bytes && req->mem_bytes != m->mem_bytes)
		return kv_err_set(err, EINVAL, "--memory: %s holds a %llu MiB guest, not %llu MiB",
				  req->dir, (unsigned long long)(m->mem_bytes >> 20),
				  (unsigned long long)(req->mem_bytes >> 20));
	if (req->ncpus && req->ncpus != m->ncpus)
		return kv_err_set(err, EINVAL, "--cpus: %s holds a guest with %u vCPU(s), not %u",
				  req->dir, m->ncpus, req->ncpus);
	if (m->machine & SNAP_MACHINE_TEMPLATE)
		return kv_err_set(err, EINVAL,
				  "%s is a container template (kvbox template): containers start "
				  "from it, kvbox boot does not",
				  req->dir);
	if (m->machine & SNAP_MACHINE_CHECKPOINT)
		return kv_err_set(err, EINVAL,
				  "%s is a container checkpoint (kvbox checkpoint): kvbox restore "
				  "takes it, kvbox boot does not",
				  req->dir);
	enum kvm_flavour here = kvm_detect_flavour();
	if (m->flavour != (uint32_t)here)
		return kv_err_set(
		    err, EINVAL, "%s was saved on a %s host, this one is %s", req->dir,
		    kvm_flavour_name(m->flavour <= KVM_FLAVOUR_PVM ? (enum kvm_flavour)m->flavour
								   : KVM_FLAVOUR_UNKNOWN),
		    kvm_flavour_name(here));
	return 0;
}

int boot_restore_prepare(struct vm *vm, const struct boot_restore_req *req,
			 struct snapshot_ids *ids, struct kv_err *err)
{
	struct snapshot s;
	struct snapshot_stats st = {0};
	int r = snapshot_open(req->dir, &s, err);
	if (r == 0)
		r = check_request(req, &s.img->man, err);
	if (r == 0) {
		struct vm_config cfg = {
		    .console_out = STDOUT_FILENO,
		    .debug = req->debug,
		    .no_ioeventfd = req->no_ioeventfd,
		    .no_irqfd = req->no_irqfd,
		};
		s.map_memory = req->cow;
		snapshot_vm_config(&s, &cfg);
		r = vm_create(vm, &cfg, err);
	}
	if (r == 0)
		r = snapshot_restore(vm, &s, &st, err);
	if (r == 0) {
		const struct snap_manifest *m = &s.img->man;
		_Static_assert(sizeof(ids->kernel_path) == sizeof(m->kernel_path), "same size");
		memcpy(ids->kernel_path, m->kernel_path, sizeof(ids->kernel_path));
		memcpy(ids->kernel_sha256, m->kernel_sha256, 32);
		ids->kernel_size = m->kernel_size;
		if (req->debug)
			fprintf(stderr,
				"kvbox: restored %s: %llu KiB of memory data (%s), state %llu "
				"bytes, %llu.%03llu ms\n",
				req->dir, (unsigned long long)(st.mem_data >> 10),
				req->cow ? "mapped copy-on-write" : "copied",
				(unsigned long long)st.state_len,
				(unsigned long long)(st.usec / 1000),
				(unsigned long long)(st.usec % 1000));
	}
	snapshot_close(&s);
	return r;
}

static void on_snapshot_signal(struct vm *vm, void *ctx)
{
	struct boot_snapshot *bs = ctx;
	struct kv_err err = {0};
	struct snapshot_stats st = {0};
	if (bs->saved) {
		fprintf(stderr, "kvbox boot: snapshot: already saved to %s; signal ignored\n",
			bs->dir);
		return;
	}
	if (vm_pause(vm, 5000, &err) < 0) {
		fprintf(stderr, "kvbox boot: snapshot: %s\n", err.msg);
		return;
	}
	if (snapshot_save(vm, bs->dir, &bs->ids, 0, &st, &err) < 0) {
		fprintf(stderr, "kvbox boot: %s; the guest goes on\n", err.msg);
		vm_resume(vm);
		return;
	}
	bs->saved = true;
	fprintf(stderr,
		"kvbox: snapshot saved to %s: %llu KiB of memory data, state %llu bytes, "
		"%llu.%03llu ms\n",
		bs->dir, (unsigned long long)(st.mem_data >> 10), (unsigned long long)st.state_len,
		(unsigned long long)(st.usec / 1000), (unsigned long long)(st.usec % 1000));
	if (bs->leave_running)
		vm_resume(vm);
	else
		vm_request_exit(vm, VM_EXIT_SNAPSHOT, "snapshot saved to %s", bs->dir);
}

int boot_snapshot_arm(struct vm *vm, int signal, struct boot_snapshot *bs, struct kv_err *err)
{
	int r = snapshot_check_vm(vm, err);
	if (r < 0)
		return kv_err_wrap(err, r, "--snapshot-on");
	vm->user_signal = signal;
	vm->user_signal_cb = on_snapshot_signal;
	vm->user_signal_ctx = bs;
	return 0;
}
