/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Checkpoints of a running container (see snapshot_checkpoint in
 * vmm/snapshot.h): the state that lives outside the VMM's device structs.
 *
 *   9P     each share's session is the gofer's (its fid table): SAVE stops
 *          the share's queue and returns its position and the session as
 *          bytes (gofer/ctl.h), which go into the image as they are; the
 *          VMM's copy of the queue takes the gofer's position so the
 *          transport's section is right.  On restore the new gofer gets
 *          the bytes (LOAD: every fid walked again, confined, from the
 *          share's root) before the transport hands it the queue.
 *   vsock  the connection table with the bytes in flight
 *          (virtio_vsock_save); on restore every connection gets a new host
 *          end, given to the restorer's accept function (the sandbox ties
 *          the container's stdio streams to the restore's stdio).
 *
 * The gofer is on the guest's side of the trust boundary: what it hands
 * back is only stored, bounded by GOFER_SAVE_MAX; the gofer that reads it
 * again parses it as hostile.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "vmm/snapshot.h"
#include "vmm/snapshot_internal.h"

static uint64_t usec_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000u + (uint64_t)t.tv_nsec / 1000u;
}

/* The virtio-mmio slot of a device, or -1. */
static int slot_of(const struct vm *vm, const struct virtio_dev *d)
{
	for (unsigned i = 0; i < vm->virtio.n; i++)
		if (vm->virtio.slot[i].dev == d)
			return (int)i;
	return -1;
}

static const char *share_tag(const struct vm *vm, unsigned i)
{
	return i < vm->virtio.p9.n ? vm->virtio.p9.dev[i].tag : "?";
}

struct p9_saved {
	bool stopped; /* the gofer stopped the queue: hand it back */
	struct virtq_state st;
	uint8_t *blob;
	size_t len;
};

/* SAVE of share i: its queue position into the VMM's copy of the queue,
 * its session into out->blob. */
static int save_share(struct vm *vm, unsigned i, struct p9_saved *out, struct kv_err *err)
{
	struct vm_p9 *p9 = &vm->virtio.p9;
	cleanup_close int memfd = memfd_create("kvbox-9p-session", MFD_CLOEXEC);
	if (memfd < 0)
		return kv_err_sys(err, errno, "memfd_create");
	uint64_t len = 0;
	memset(&out->st, 0, sizeof(out->st));
	int r = gofer_client_save(&p9->gofer, i, &out->st, memfd, &len, err);
	/* a refused SAVE stopped the queue too: it goes back either way */
	out->stopped = out->st.size != 0;
	if (r < 0)
		return r;
	if (len > GOFER_SAVE_MAX)
		return kv_err_set(err, EPROTO, "share '%s': the gofer returned %llu bytes",
				  share_tag(vm, i), (unsigned long long)len);
	out->blob = malloc(len ? len : 1);
	if (!out->blob)
		return kv_err_set(err, ENOMEM, "share '%s'", share_tag(vm, i));
	size_t got = 0;
	while (got < len) {
		ssize_t n = pread(memfd, out->blob + got, len - got, (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return kv_err_set(err, EPROTO, "share '%s': the 9P session is short",
					  share_tag(vm, i));
		got += (size_t)n;
	}
	out->len = len;
	if (out->stopped) {
		struct virtio_dev *d = &p9->dev[i].vdev;
		struct virtq *q = &p9->dev[i].vq;
		pthread_mutex_lock(&d->lock);
		q->last_avail = out->st.last_avail;
		q->used_idx = out->st.used_idx;
		q->signalled_valid = false;
		pthread_mutex_unlock(&d->lock);
	}
	return 0;
}

int snapshot_checkpoint(struct vm *vm, int dirfd, const char *name, const struct snapshot_ids *ids,
			const void *record, size_t record_len, bool go_on,
			struct snapshot_stats *st, struct kv_err *err)
{
	uint64_t t0 = usec_now();
	if (vm->cfg.nnets)
		return kv_err_set(err, EOPNOTSUPP,
				  "a container with network interfaces cannot be checkpointed yet "
				  "(the tap and the frames in flight are not saved)");
	if (record_len > SNAP_SECTION_MAX)
		return kv_err_set(err, E2BIG, "the sandbox record is %zu bytes", record_len);
	struct vm_p9 *p9 = &vm->virtio.p9;
	struct p9_saved sv[GOFER_MAX_SHARES];
	memset(sv, 0, sizeof(sv));
	struct snap_extra x[GOFER_MAX_SHARES + 2];
	unsigned nx = 0;
	cleanup_free uint8_t *vsock = NULL;
	size_t vsock_len = 0;
	int r = 0;

	for (unsigned i = 0; i < p9->n && r == 0; i++) {
		int slot = slot_of(vm, &p9->dev[i].vdev);
		if (slot < 0)
			r = kv_err_set(err, EINVAL, "share '%s' has no slot", share_tag(vm, i));
		else if (!p9->gofer_live)
			r = kv_err_set(err, EPIPE, "the gofer is gone: its files cannot be saved");
		else if ((r = save_share(vm, i, &sv[i], err)) == 0)
			x[nx++] =
			    (struct snap_extra){SNAP_SEC_P9, (uint32_t)slot, sv[i].blob, sv[i].len};
	}
	/* after the 9p positions: nothing the guest does moves the vsock
	 * (paused), and its transport is saved after virtio_vsock_save */
	if (r == 0 && vm->virtio.vsock_live) {
		int slot = slot_of(vm, &vm->virtio.vsock.vdev);
		if (slot < 0)
			r = kv_err_set(err, EINVAL, "the vsock has no slot");
		else if ((r = virtio_vsock_save(&vm->virtio.vsock, &vsock, &vsock_len, err)) < 0)
			;
		else if (vsock_len > SNAP_SECTION_VSOCK_MAX)
			r = kv_err_set(err, ENOSPC,
				       "the container's streams hold %zu bytes in flight (at most "
				       "%u can be saved): try again once its output is read",
				       vsock_len, SNAP_SECTION_VSOCK_MAX);
		else
			x[nx++] =
			    (struct snap_extra){SNAP_SEC_VSOCK, (uint32_t)slot, vsock, vsock_len};
	}
	x[nx++] = (struct snap_extra){SNAP_SEC_SANDBOX, 0, record, record_len};

	struct snap_manifest m;
	uint64_t len = 0;
	if (r == 0) {
		snap_fill_manifest(vm, ids, &m);
		m.machine |= SNAP_MACHINE_CHECKPOINT;
		r = snap_save_at(vm, dirfd, &m, x, nx, &len, err);
	}
	/* the queues go back to the gofer when the machine goes on; after a
	 * checkpoint that ends it, a request the guest had queued is the
	 * restored machine's to serve, not this gofer's */
	for (unsigned i = 0; i < p9->n; i++) {
		struct kv_err e2 = {0};
		if (sv[i].stopped && (go_on || r < 0) &&
		    gofer_client_resume(&p9->gofer, i, &sv[i].st, &e2) < 0 && r == 0)
			r = kv_err_set(err, e2.code ? e2.code : EIO, "%s", e2.msg);
		free(sv[i].blob);
	}
	if (r < 0)
		return kv_err_wrap(err, r, "checkpoint %s", name);
	if (st)
		*st = (struct snapshot_stats){
		    .mem_data = m.mem_data, .state_len = len, .usec = usec_now() - t0};
	return 0;
}

int snap_restore_p9(struct vm *vm, const struct snapshot *s, struct kv_err *err)
{
	struct vm_p9 *p9 = &vm->virtio.p9;
	for (unsigned i = 0; i < p9->n; i++) {
		int slot = slot_of(vm, &p9->dev[i].vdev);
		const struct snap_section *sec =
		    slot < 0 ? NULL : snap_find(s->img, SNAP_SEC_P9, (uint32_t)slot);
		if (!sec || sec->len == 0)
			continue;
		if (sec->len > GOFER_SAVE_MAX)
			return kv_err_set(err, EINVAL, "share '%s': a 9P session of %llu bytes",
					  share_tag(vm, i), (unsigned long long)sec->len);
		cleanup_close int memfd = memfd_create("kvbox-9p-session", MFD_CLOEXEC);
		if (memfd < 0)
			return kv_err_sys(err, errno, "memfd_create");
		size_t put = 0;
		while (put < sec->len) {
			ssize_t n = pwrite(memfd, sec->data + put, sec->len - put, (off_t)put);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return kv_err_sys(err, n < 0 ? errno : EIO, "memfd");
			put += (size_t)n;
		}
		int r = gofer_client_load(&p9->gofer, i, memfd, sec->len, err);
		if (r < 0)
			return r;
	}
	/* a saved session for a slot that is not a share here */
	for (unsigned k = 0; k < s->img->nsec; k++) {
		const struct snap_section *sec = &s->img->sec[k];
		if (sec->type != SNAP_SEC_P9)
			continue;
		bool found = false;
		for (unsigned i = 0; i < p9->n; i++)
			found |= slot_of(vm, &p9->dev[i].vdev) == (int)sec->index;
		if (!found)
			return kv_err_set(
			    err, EINVAL, "a 9P session for slot %u, which is no share", sec->index);
	}
	return 0;
}

int snap_restore_vsock(struct vm *vm, const struct snapshot *s, struct kv_err *err)
{
	int slot = vm->virtio.vsock_live ? slot_of(vm, &vm->virtio.vsock.vdev) : -1;
	for (unsigned k = 0; k < s->img->nsec; k++) {
		const struct snap_section *sec = &s->img->sec[k];
		if (sec->type != SNAP_SEC_VSOCK)
			continue;
		if ((int)sec->index != slot)
			return kv_err_set(err, EINVAL,
					  "vsock connections for slot %u, which is no vsock",
					  sec->index);
		if (!s->accept)
			return kv_err_set(
			    err, EINVAL,
			    "a container checkpoint: only `kvbox restore` can restore "
			    "it");
		return virtio_vsock_restore(&vm->virtio.vsock, sec->data, sec->len, s->accept,
					    s->accept_ctx, err);
	}
	return 0;
}
