/* SPDX-License-Identifier: Apache-2.0 */
/* Container templates, the VMM side; see vmm/template.h. */
#include "vmm/template.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "guest/initramfs.h"
#include "util/cleanup.h"
#include "util/file.h"
#include "vmm/lazy_mem.h"
#include "vmm/agent_chan.h"
#include "vmm/runloop.h"
#include "vmm/vm_boot.h"

#define SANDBOX_CMDLINE "console=ttyS0 reboot=k panic=-1 quiet"
#define IDLE_POLL_MS	10

void sandbox_cmdline(char *buf, size_t size, bool debug)
{
	snprintf(buf, size, "%s kvbox.agent_port=%u%s", SANDBOX_CMDLINE, VM_AGENT_PORT,
		 debug ? " kvbox.debug=1" : "");
}

unsigned template_shares(const struct gofer_share *in, unsigned n, const char *empty,
			 struct gofer_share out[TEMPLATE_SHARES])
{
	for (unsigned i = 0; i < TEMPLATE_SHARES; i++) {
		if (i < n) {
			out[i] = in[i];
			continue;
		}
		out[i] = (struct gofer_share){.path = empty, .readonly = true};
		if (i == 0)
			snprintf(out[i].tag, sizeof(out[i].tag), "kvboxroot");
		else
			snprintf(out[i].tag, sizeof(out[i].tag), "kvb%u", i);
	}
	return TEMPLATE_SHARES;
}

/* ---- build ---- */

struct tbuild {
	struct vm *vm;
	struct vm_agent agent;
	const char *out;
	struct snapshot_ids ids;
	int poll_fd;
	bool saved;
	struct snapshot_stats st;
	struct kv_err err;
};

static void save_now(struct tbuild *t)
{
	if (vm_pause(t->vm, 5000, &t->err) < 0 ||
	    snapshot_save(t->vm, t->out, &t->ids, SNAP_SAVE_TEMPLATE, &t->st, &t->err) < 0) {
		vm_request_exit(t->vm, VM_EXIT_ERROR, "%s", t->err.msg);
		return;
	}
	t->saved = true;
	vm_request_exit(t->vm, VM_EXIT_SNAPSHOT, "template saved to %s", t->out);
}

/* The agent's connection ends with an RST exchange in the guest: save
 * once the device has no connection left. */
static void on_idle_poll(void *ctx, int fd, uint32_t events)
{
	struct tbuild *t = ctx;
	uint64_t n;
	(void)events;
	if (read(fd, &n, sizeof(n)) != (ssize_t)sizeof(n))
		return;
	if (virtio_vsock_conn_count(&t->vm->virtio.vsock))
		return;
	fd_handlers_remove(&t->vm->handlers, fd);
	save_now(t);
}

/* The agent's read-only kernel pages as whole LAZY_BLOCKs of the memfd
 * (below the MMIO hole, where a guest-physical address is the memfd
 * offset); what does not fit is left to the lazy loading. */
void template_kernel_ro(struct vm *vm, const uint32_t *pages, uint32_t n)
{
	uint64_t low = guest_mem_low_end(&vm->mem), end = 0;
	vm->nkernel_ro = 0;
	for (uint32_t i = 0; i + 1 < n && vm->nkernel_ro < VM_KERNEL_RO_MAX; i += 2) {
		uint64_t s = (uint64_t)pages[i] * 4096, e = s + (uint64_t)pages[i + 1] * 4096;
		s = (s + LAZY_BLOCK - 1) & ~(uint64_t)(LAZY_BLOCK - 1);
		e &= ~(uint64_t)(LAZY_BLOCK - 1);
		if (e > low)
			e = low & ~(uint64_t)(LAZY_BLOCK - 1);
		if (e <= s || s < end)
			continue;
		vm->kernel_ro[2 * vm->nkernel_ro] = s;
		vm->kernel_ro[2 * vm->nkernel_ro + 1] = e - s;
		vm->nkernel_ro++;
		end = e;
	}
}

static void on_parked(struct vm_agent *a, void *ctx)
{
	struct tbuild *t = ctx;
	template_kernel_ro(t->vm, a->kernel_ro, a->nkernel_ro);
	struct itimerspec its = {.it_value = {.tv_nsec = IDLE_POLL_MS * 1000000L},
				 .it_interval = {.tv_nsec = IDLE_POLL_MS * 1000000L}};
	if (timerfd_settime(t->poll_fd, 0, &its, NULL) < 0 ||
	    fd_handlers_add(&t->vm->handlers, t->poll_fd, EPOLLIN, on_idle_poll, t,
			    "template idle poll", &t->err) < 0)
		vm_request_exit(t->vm, VM_EXIT_ERROR, "template: cannot wait for the vsock");
}

static int build_ids(const struct template_build *b, struct snapshot_ids *ids, struct kv_err *err)
{
	memset(ids, 0, sizeof(*ids));
	snprintf(ids->kernel_path, sizeof(ids->kernel_path), "%s", b->kernel);
	int r = snapshot_file_id(b->kernel, ids->kernel_sha256, &ids->kernel_size, err);
	if (r == 0)
		r = snapshot_file_id(b->agent, ids->agent_sha256, &ids->agent_size, err);
	ids->agent = r == 0;
	return r;
}

int template_vm_build(const struct template_build *b, const char *out, struct snapshot_stats *st,
		      struct kv_err *err)
{
	struct tbuild t = {.out = out, .poll_fd = -1};
	cleanup_free uint8_t *initrd = NULL;
	size_t initrd_len = 0;
	int r;
	if ((r = build_ids(b, &t.ids, err)) < 0 ||
	    (r = agent_initramfs_build(b->agent, &initrd, &initrd_len, err)) < 0)
		return r;
	t.vm = calloc(1, sizeof(*t.vm));
	if (!t.vm)
		return kv_err_set(err, ENOMEM, "template: out of memory");
	struct gofer_share shares[TEMPLATE_SHARES];
	struct vm_config vc = {
	    .mem_bytes = b->mem_bytes,
	    .ncpus = b->ncpus,
	    .console_out = b->console_fd,
	    .vsock = true,
	    .shares = shares,
	    .nshares = template_shares(NULL, 0, b->empty, shares),
	};
	char cmdline[256];
	sandbox_cmdline(cmdline, sizeof(cmdline), false);
	struct vm_boot_spec spec = {
	    .kernel = b->kernel,
	    .initrd = initrd,
	    .initrd_len = initrd_len,
	    .cmdline = cmdline,
	    .ncpus = b->ncpus,
	};
	t.agent.on_parked = on_parked;
	t.agent.parked_ctx = &t;
	t.poll_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (t.poll_fd < 0)
		r = kv_err_sys(err, errno, "template: timerfd_create");
	if (r == 0)
		r = vm_boot_load(t.vm, &vc, &spec, err);
	if (r == 0)
		r = vm_agent_start(&t.agent, t.vm, TEMPLATE_AGENT_TIMEOUT_S, err);
	if (r == 0 && (r = vm_wait_pit(t.vm, err)) == 0)
		r = vm_start_vcpus(t.vm, err);
	if (r == 0) {
		enum vm_exit_kind kind = vm_run(t.vm, -1);
		if (!t.saved)
			r = t.err.msg[0] ? kv_err_set(err, EIO, "template: %s", t.err.msg)
					 : kv_err_set(err, EIO,
						      "template: the VM stopped before it was "
						      "saved: %s (%s)",
						      t.vm->exit_msg, vm_exit_kind_name(kind));
		else if (st)
			*st = t.st;
	}
	vm_agent_stop(&t.agent);
	vm_destroy(t.vm);
	free(t.vm);
	if (t.poll_fd >= 0)
		close(t.poll_fd);
	return r;
}

/* ---- restore ---- */

static uint64_t usec_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000u + (uint64_t)t.tv_nsec / 1000u;
}

/* ---- the working set ---- */

/* the image's block count (a block is LAZY_BLOCK == SNAP_SUM_BLOCK) */
static uint32_t ws_nblk(uint64_t mem_bytes)
{
	return (uint32_t)snap_sum_blocks(mem_bytes);
}

size_t template_ws_max(uint64_t mem_bytes)
{
	return 16 + 4 * (size_t)ws_nblk(mem_bytes);
}

int template_ws_parse(const uint8_t *buf, size_t len, uint64_t mem_bytes, uint32_t **blocks,
		      unsigned *n, struct kv_err *err)
{
	uint32_t hdr[2];
	*blocks = NULL;
	*n = 0;
	if (len < 16 || memcmp(buf, TEMPLATE_WS_MAGIC, 8))
		return kv_err_set(err, EINVAL, "not a working set");
	memcpy(hdr, buf + 8, sizeof(hdr));
	uint32_t nblk = le32toh(hdr[0]), count = le32toh(hdr[1]);
	if (nblk != ws_nblk(mem_bytes) || count > nblk || len != 16 + 4 * (size_t)count)
		return kv_err_set(
		    err, EINVAL, "working set of %u blocks of %u, for an image of %u, in %zu bytes",
		    count, nblk, ws_nblk(mem_bytes), len);
	uint32_t *b = malloc(((size_t)count + 1) * sizeof(*b));
	if (!b)
		return kv_err_set(err, ENOMEM, "working set");
	for (uint32_t i = 0; i < count; i++) {
		memcpy(&b[i], buf + 16 + 4 * (size_t)i, 4);
		b[i] = le32toh(b[i]);
		if (b[i] >= nblk || (i && b[i] <= b[i - 1])) {
			uint32_t bad = b[i];
			free(b);
			return kv_err_set(err, EINVAL,
					  "working set: block %u (entry %u) out of order or range",
					  bad, i);
		}
	}
	*blocks = b;
	*n = count;
	return 0;
}

uint8_t *template_ws_encode(uint64_t mem_bytes, const uint32_t *blocks, unsigned n, size_t *len)
{
	*len = 16 + 4 * (size_t)n;
	uint8_t *buf = malloc(*len);
	if (!buf)
		return NULL;
	uint32_t hdr[2] = {htole32(ws_nblk(mem_bytes)), htole32(n)};
	memcpy(buf, TEMPLATE_WS_MAGIC, 8);
	memcpy(buf + 8, hdr, sizeof(hdr));
	for (unsigned i = 0; i < n; i++) {
		uint32_t v = htole32(blocks[i]);
		memcpy(buf + 16 + 4 * (size_t)i, &v, 4);
	}
	return buf;
}

/* RAM loaded lazily: the template's working set, if it has one, loaded
 * now.  A list that does not parse is not used (st->ws_why); a block in
 * it that fails its sum fails the restore, as its fault would have. */
static int load_working_set(struct vm *vm, const char *dir, struct snapshot_stats *st,
			    struct kv_err *err)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/../%s", dir, TEMPLATE_WS);
	cleanup_free uint8_t *buf = NULL;
	cleanup_free uint32_t *blocks = NULL;
	size_t len = 0;
	unsigned n = 0;
	struct kv_err e = {0};
	int r = read_file_bounded(path, template_ws_max(vm->mem.total), &buf, &len, &e);
	if (r == -ENOENT) {
		st->ws_missing = true;
		return 0;
	}
	if (r < 0 || template_ws_parse(buf, len, vm->mem.total, &blocks, &n, &e) < 0) {
		snprintf(st->ws_why, sizeof(st->ws_why), "%s", e.msg);
		return 0;
	}
	r = lazy_mem_prefetch(vm->lazy, blocks, n, err);
	struct lazy_stats ls;
	lazy_mem_stats(vm->lazy, &ls);
	st->ws_blocks = n;
	st->ws_bytes = ls.prefetch_bytes;
	st->ws_usec = ls.prefetch_usec;
	return r;
}

int template_vm_restore(struct vm *vm, const char *dir, const struct vm_config *cfg,
			struct snapshot_stats *st, struct kv_err *err)
{
	struct snapshot s;
	uint64_t t0 = usec_now(), t1 = 0;
	int r = snapshot_open(dir, &s, err);
	st->open_usec = usec_now() - t0;
	if (r < 0) {
		snapshot_close(&s);
		return r;
	}
	const struct snap_manifest *m = &s.img->man;
	enum kvm_flavour here = kvm_detect_flavour();
	if (!(m->machine & SNAP_MACHINE_TEMPLATE))
		r = kv_err_set(err, EINVAL, "template %s: not a template image", dir);
	else if (m->mem_bytes != cfg->mem_bytes || m->ncpus != cfg->ncpus)
		r = kv_err_set(err, EINVAL,
			       "template %s: holds a %llu MiB guest with %u vCPU(s), the "
			       "container needs %llu MiB and %u",
			       dir, (unsigned long long)(m->mem_bytes >> 20), m->ncpus,
			       (unsigned long long)(cfg->mem_bytes >> 20), cfg->ncpus);
	else if (m->flavour != (uint32_t)here)
		r = kv_err_set(err, EINVAL,
			       "template %s: saved on another kind of KVM host (%s here)", dir,
			       kvm_flavour_name(here));
	if (r == 0) {
		struct vm_config c = *cfg;
		c.no_rng = !(m->machine & SNAP_MACHINE_RNG);
		c.vsock = true;
		c.mem_file = false;
		s.lazy = c.lazy_mem;
		t1 = usec_now();
		r = vm_create(vm, &c, err);
		st->create_usec = usec_now() - t1;
	}
	if (r == 0)
		r = snapshot_restore(vm, &s, st, err);
	if (r == 0 && vm->lazy)
		r = load_working_set(vm, dir, st, err);
	snapshot_close(&s);
	return r;
}
