/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `kvbox checkpoint` and `kvbox restore`, the sandbox's side.
 *
 * Checkpoint (control request "checkpoint", with the image directory as
 * an fd: the jailed sandbox reaches no path):
 *   1. PARK to the agent: it answers, closes the control channel and
 *      waits for a host on its vsock port; the container's processes go
 *      on (guest/agent/park.c).
 *   2. Once our end of the channel has seen EOF and the vsock holds only
 *      the container's streams (a 10 ms poll, 5 s at most), the vCPUs are
 *      paused and the image written (snapshot_checkpoint: memory, vCPUs,
 *      devices, each share's 9P session, the vsock's connections, and the
 *      sandbox record below).
 *   3. --leave-running: vCPUs resumed, a new channel to the parked agent
 *      (its HELLO is all we need).  Otherwise the container ends as if
 *      killed by SIGKILL (runc's checkpoint leaves it stopped) without
 *      running again: the gofer keeps its queues stopped, the vsock is
 *      no longer served, the bytes it had handed to our relays reach the
 *      container's stdio (2 s at most), and the machine is stopped while
 *      paused.  Whatever the guest had queued is the restored machine's
 *      to carry out, once.
 * A failure at any step puts the container back as in 3 with
 * --leave-running and answers the error.
 *
 * The sandbox record (SNAP_SEC_SANDBOX, JSON): the init's process slot
 * (its stdio ports are derived from it), guest pid and terminal flag,
 * and the tags of every 9p device in slot order.
 *
 * Restore (`kvbox sandbox --restore DIR`, from `kvbox restore`): the
 * machine is built as the image's (its RAM size and vCPUs, the same 9p
 * tags: the bundle's shares first, which must have the saved tags, then
 * read-only fillers on an empty directory), the init's stdio is set up
 * from our stdio as create would (a new pty for a terminal, its master to
 * --console-socket), and snapshot_restore() rebuilds the vsock's
 * connections, handing each host end to restore_accept: the init's
 * streams are relayed, those of exec'd processes closed (their `kvbox
 * exec` was the old sandbox's).  Then the agent's HELLO, RESUME (fresh
 * entropy, the clock), and the container is running.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "oci/template.h"
#include "util/cleanup.h"
#include "vmm/ctl.h"
#include "vmm/sandbox.h"
#include "vmm/snapshot.h"
#include "vmm/template.h"

#define CKPT_POLL_MS	 10
#define CKPT_IDLE_POLLS	 500 /* 5 s for the control connection to go */
#define CKPT_DRAIN_POLLS 200 /* 2 s for the output already relayed */
#define CKPT_PAUSE_MS	 5000
#define RECORD_VERSION	 1
#define RECORD_MAX_BYTES (64u * 1024)

/* ---- checkpoint ---- */

static void ckpt_end(struct sandbox *sb)
{
	struct sb_ckpt *k = &sb->ckpt;
	if (k->poll_fd >= 0) {
		fd_handlers_remove(&sb->vm->handlers, k->poll_fd);
		close(k->poll_fd);
	}
	if (k->dirfd >= 0)
		close(k->dirfd);
	k->poll_fd = k->dirfd = -1;
	k->active = k->parking = k->draining = false;
	k->client = -1;
}

/* The container goes on: vCPUs, and a channel to the parked agent. */
static void ckpt_continue(struct sandbox *sb)
{
	struct kv_err err = {0};
	if (vm_paused(sb->vm))
		vm_resume(sb->vm);
	if (sb->agent_fd >= 0)
		return; /* PARK failed: the agent never left */
	sb->reconnecting = true;
	if (sb_agent_connect(sb, &err) < 0) {
		sb_log(sb, "error", "reconnecting to the agent after a checkpoint: %s", err.msg);
		sb_stop_vm(sb, "the agent cannot be reached after a checkpoint");
	}
}

static void ckpt_fail(struct sandbox *sb, const struct kv_err *err)
{
	sb_log(sb, "error", "checkpoint: %s", err->msg);
	int client = sb->ckpt.client;
	ckpt_end(sb);
	ckpt_continue(sb);
	sb_ctl_reply(sb, client, ctl_error_reply(err->code ? err->code : EIO, err->msg));
}

static json_t *record_json(struct sandbox *sb)
{
	int slot = -1;
	for (int i = 0; i < SANDBOX_MAX_PROCS && slot < 0; i++)
		if (sb->procs[i].used && sb->procs[i].is_init)
			slot = i;
	json_t *tags = json_array();
	const struct vm_p9 *p9 = &sb->vm->virtio.p9;
	for (unsigned i = 0; i < p9->n; i++)
		json_array_append_new(tags, json_string(p9->dev[i].tag));
	const struct sb_proc *p = slot >= 0 ? &sb->procs[slot] : NULL;
	return json_pack("{s:i, s:s, s:{s:i, s:I, s:b}, s:o}", "version", RECORD_VERSION, "id",
			 sb->id, "init", "slot", slot, "pid", (json_int_t)(p ? p->pid : 0),
			 "terminal", p && p->terminal, "shares", tags);
}

static void ckpt_save(struct sandbox *sb)
{
	struct sb_ckpt *k = &sb->ckpt;
	struct kv_err err = {0};
	if (vm_pause(sb->vm, CKPT_PAUSE_MS, &err) < 0) {
		ckpt_fail(sb, &err);
		return;
	}
	json_t *rec = record_json(sb);
	char *text = rec ? json_dumps(rec, JSON_COMPACT) : NULL;
	json_decref(rec);
	if (!text) {
		kv_err_set(&err, ENOMEM, "building the sandbox record");
		ckpt_fail(sb, &err);
		return;
	}
	struct snapshot_ids ids = {0};
	snprintf(ids.kernel_path, sizeof(ids.kernel_path), "%s", sb->kernel);
	struct snapshot_stats st = {0};
	uint64_t t0 = sb_now_ms();
	int r = snapshot_checkpoint(sb->vm, k->dirfd, k->name, &ids, text, strlen(text),
				    k->leave_running, &st, &err);
	free(text);
	if (r < 0) {
		ckpt_fail(sb, &err);
		return;
	}
	sb_log(sb, sb->debug ? "debug" : "info",
	       "checkpointed to %s in %llu ms: %llu KiB of memory, state %llu bytes", k->name,
	       (unsigned long long)(sb_now_ms() - t0), (unsigned long long)(st.mem_data >> 10),
	       (unsigned long long)st.state_len);
	if (k->leave_running) {
		int client = k->client;
		ckpt_end(sb);
		sb_ctl_reply(sb, client, json_pack("{s:b}", "ok", 1));
		ckpt_continue(sb);
		return;
	}
	/* runc leaves a checkpointed container stopped, as if SIGKILLed.  The
	 * machine never runs again (what it would do now, the restored one
	 * does): the vsock is no longer served, and once the bytes it had
	 * already handed to our relays reached the container's stdio, the
	 * machine is stopped, still paused */
	struct vm_virtio *v = &sb->vm->virtio;
	if (v->vsock_watched) {
		fd_handlers_remove(&sb->vm->handlers, virtio_vsock_fd(&v->vsock));
		v->vsock_watched = false;
	}
	sb->init_exited = true;
	sb->init_exit = (struct agent_exit){.code = 137, .signal = 9};
	sb->phase = SB_EXITING;
	k->draining = true;
	k->polls = 0;
}

/* The relays of our end of the container's output streams have nothing
 * left to read, and none waits on a slow reader. */
static bool outputs_drained(struct sandbox *sb)
{
	for (int i = 0; i < SANDBOX_MAX_PROCS; i++) {
		struct sb_proc *p = &sb->procs[i];
		for (unsigned j = 0; p->used && j < 4; j++) {
			struct relay *r = &p->relay[j];
			int n = 0;
			if (!r->started || r->out_is_vsock ||
			    __atomic_load_n(&r->done, __ATOMIC_ACQUIRE))
				continue;
			if (__atomic_load_n(&r->host_wait, __ATOMIC_RELAXED) ||
			    (ioctl(r->in, FIONREAD, &n) == 0 && n > 0))
				return false;
		}
	}
	return true;
}

static void drain_tick(struct sandbox *sb)
{
	struct sb_ckpt *k = &sb->ckpt;
	if (!outputs_drained(sb) && ++k->polls < CKPT_DRAIN_POLLS)
		return;
	int client = k->client;
	ckpt_end(sb);
	sb_ctl_reply(sb, client, json_pack("{s:b}", "ok", 1));
	sb_stop_vm(sb, "checkpointed");
}

static void on_poll(void *ctx, int fd, uint32_t events)
{
	struct sandbox *sb = ctx;
	struct sb_ckpt *k = &sb->ckpt;
	uint64_t n;
	(void)events;
	if (read(fd, &n, sizeof(n)) != (ssize_t)sizeof(n))
		return;
	if (k->draining) {
		drain_tick(sb);
		return;
	}
	if (virtio_vsock_conn_count(&sb->vm->virtio.vsock) <= k->conns_target) {
		ckpt_save(sb);
		return;
	}
	if (++k->polls >= CKPT_IDLE_POLLS) {
		struct kv_err err = {0};
		kv_err_set(&err, ETIMEDOUT,
			   "the agent's control connection did not close within %u ms",
			   CKPT_IDLE_POLLS * CKPT_POLL_MS);
		ckpt_fail(sb, &err);
	}
}

void sb_ckpt_channel_closed(struct sandbox *sb)
{
	struct sb_ckpt *k = &sb->ckpt;
	struct kv_err err = {0};
	k->parking = false;
	k->poll_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	struct itimerspec its = {.it_interval = {.tv_nsec = CKPT_POLL_MS * 1000000L},
				 .it_value = {.tv_nsec = CKPT_POLL_MS * 1000000L}};
	if (k->poll_fd < 0 || timerfd_settime(k->poll_fd, 0, &its, NULL) < 0) {
		kv_err_sys(&err, errno, "timerfd");
		ckpt_fail(sb, &err);
		return;
	}
	if (fd_handlers_add(&sb->vm->handlers, k->poll_fd, EPOLLIN, on_poll, sb, "checkpoint poll",
			    &err) < 0) {
		close(k->poll_fd);
		k->poll_fd = -1;
		ckpt_fail(sb, &err);
	}
}

static void park_done(struct sandbox *sb, void *ctx, const struct agent_msg *reply,
		      const struct kv_err *err)
{
	(void)ctx;
	(void)reply;
	if (err) {
		struct kv_err e = *err;
		sb->ckpt.parking = false;
		kv_err_wrap(&e, -(e.code ? e.code : EIO), "the agent");
		ckpt_fail(sb, &e);
	}
	/* else: the agent closes the channel; sandbox_agent.c calls
	 * sb_ckpt_channel_closed() at its EOF */
}

void sb_ckpt_request(struct sandbox *sb, int client, json_t *req, int *fds, unsigned nfds)
{
	struct sb_ckpt *k = &sb->ckpt;
	struct kv_err err = {0};
	const char *name = json_string_value(json_object_get(req, "image_path"));
	bool busy = false;
	for (unsigned i = 0; i < SANDBOX_MAX_PENDING; i++)
		busy |= sb->pending[i].used;
	if (nfds != 1)
		kv_err_set(&err, EINVAL, "checkpoint: the image directory fd is missing");
	else if (k->active)
		kv_err_set(&err, EBUSY, "a checkpoint is in progress already");
	else if (sb->phase != SB_RUNNING)
		kv_err_set(&err, EINVAL, "only a running container can be checkpointed");
	else if (sb->vm->cfg.nnets)
		kv_err_set(&err, EOPNOTSUPP,
			   "a container with network interfaces cannot be checkpointed yet (the "
			   "tap and the frames in flight are not saved)");
	else if (busy || sb->agent_fd < 0)
		kv_err_set(&err, EBUSY, "the agent is busy: try again");
	if (err.code) {
		for (unsigned i = 0; i < nfds; i++)
			close(fds[i]);
		sb_ctl_reply(sb, client, ctl_error_reply(err.code, err.msg));
		return;
	}
	*k = (struct sb_ckpt){.active = true,
			      .parking = true,
			      .client = client,
			      .dirfd = fds[0],
			      .poll_fd = -1,
			      .leave_running = json_is_true(json_object_get(req, "leave_running"))};
	snprintf(k->name, sizeof(k->name), "%s", name ? name : "(image directory)");
	/* every connection but the control channel stays */
	unsigned n = virtio_vsock_conn_count(&sb->vm->virtio.vsock);
	k->conns_target = n ? n - 1 : 0;
	struct agent_msg m;
	agent_msg_init(&m, AGENT_PARK, 0, 0);
	if (sb_agent_request(sb, &m, park_done, NULL, &err) < 0)
		ckpt_fail(sb, &err);
}

/* ---- restore ---- */

/* The restored connections' host ends: the init's streams as a fresh
 * accept would have them; anything else (exec'd processes' streams)
 * closed. */
static void restore_accept(void *ctx, int fd, uint32_t host_port, uint32_t guest_port)
{
	struct sandbox *sb = ctx;
	uint32_t off = host_port - SANDBOX_PORT_BASE;
	int slot = host_port >= SANDBOX_PORT_BASE ? (int)(off / 4) : -1;
	int stream = (int)(off % 4);
	struct sb_proc *p =
	    slot >= 0 && slot < SANDBOX_MAX_PROCS && sb->procs[slot].used ? &sb->procs[slot] : NULL;
	if (!p || !p->is_init) {
		close(fd);
		return;
	}
	if (stream == STREAM_STDIN && p->host_fd[0] < 0) {
		close(fd); /* no stdin now: EOF */
		return;
	}
	if ((stream == STREAM_STDOUT || stream == STREAM_STDERR) && p->host_fd[stream] < 0) {
		/* the restore's output is /dev/null: the bytes go there */
		p->host_fd[stream] = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (p->host_fd[stream] < 0) {
			close(fd);
			return;
		}
	}
	if (sb->jailed) {
		sb_stdio_accept(sb, fd, host_port, guest_port);
		return;
	}
	if (sb->nheld >= STREAM_COUNT) {
		close(fd);
		return;
	}
	sb->held[sb->nheld].fd = fd;
	sb->held[sb->nheld].host_port = host_port;
	sb->held[sb->nheld].guest_port = guest_port;
	sb->nheld++;
}

void sb_restore_attach(struct sandbox *sb)
{
	for (unsigned i = 0; i < sb->nheld; i++)
		sb_stdio_accept(sb, sb->held[i].fd, sb->held[i].host_port, sb->held[i].guest_port);
	sb->nheld = 0;
}

struct record {
	int slot;
	uint32_t pid;
	bool terminal;
	unsigned nshares;
	char tags[SANDBOX_MAX_SHARES][32];
};

static int record_parse(const struct snap_section *sec, struct record *rec, struct kv_err *err)
{
	json_error_t je;
	if (!sec || sec->len > RECORD_MAX_BYTES)
		return kv_err_set(err, EINVAL, "the sandbox record is missing or too long");
	json_t *j = json_loadb((const char *)sec->data, sec->len, JSON_REJECT_DUPLICATES, &je);
	if (!j)
		return kv_err_set(err, EINVAL, "the sandbox record: %s", je.text);
	json_int_t version = -1, slot = -1, pid = -1;
	int terminal = 0;
	json_t *shares = NULL;
	int r =
	    json_unpack_ex(j, &je, 0, "{s:I, s:{s:I, s:I, s:b}, s:o}", "version", &version, "init",
			   "slot", &slot, "pid", &pid, "terminal", &terminal, "shares", &shares);
	if (r < 0) {
		r = kv_err_set(err, EINVAL, "the sandbox record: %s", je.text);
	} else if (version != RECORD_VERSION) {
		r = kv_err_set(err, EINVAL, "the sandbox record: version %lld, expected %d",
			       (long long)version, RECORD_VERSION);
	} else if (slot < 0 || slot >= SANDBOX_MAX_PROCS || pid <= 0 || pid > INT32_MAX) {
		r = kv_err_set(err, EINVAL, "the sandbox record: init slot %lld, pid %lld",
			       (long long)slot, (long long)pid);
	} else if (!json_is_array(shares) || json_array_size(shares) > SANDBOX_MAX_SHARES) {
		r = kv_err_set(err, EINVAL,
			       "the sandbox record: \"shares\" is not a list of at "
			       "most %d tags",
			       SANDBOX_MAX_SHARES);
	}
	rec->slot = (int)slot;
	rec->pid = (uint32_t)pid;
	rec->terminal = terminal;
	rec->nshares = r < 0 ? 0 : (unsigned)json_array_size(shares);
	for (unsigned i = 0; i < rec->nshares && r == 0; i++) {
		const char *t = json_string_value(json_array_get(shares, i));
		struct kv_err e2 = {0};
		if (!t || strlen(t) >= sizeof(rec->tags[i]) || virtio_p9_check_tag(t, &e2) < 0)
			r = kv_err_set(err, EINVAL, "the sandbox record: share %u has no valid tag",
				       i);
		else
			snprintf(rec->tags[i], sizeof(rec->tags[i]), "%s", t);
	}
	json_decref(j);
	return r;
}

/* The machine's shares: the bundle's, which must be the saved ones in
 * order, then read-only fillers on `empty` for the rest. */
static int restore_shares(struct sandbox *sb, const struct record *rec, const char *empty,
			  struct gofer_share *out, struct kv_err *err)
{
	const struct oci_vm_plan *pl = &sb->plan;
	if (pl->nshares > rec->nshares)
		return kv_err_set(err, EINVAL,
				  "the bundle has %u shares (rootfs and bind mounts), the "
				  "checkpointed container had %u",
				  pl->nshares, rec->nshares);
	for (unsigned i = 0; i < rec->nshares; i++) {
		if (i < pl->nshares) {
			if (strcmp(pl->shares[i].tag, rec->tags[i]))
				return kv_err_set(
				    err, EINVAL,
				    "the bundle's mounts differ from the checkpointed "
				    "container's (share %u is '%s' here, '%s' there)",
				    i, pl->shares[i].tag, rec->tags[i]);
			out[i] = pl->shares[i];
			continue;
		}
		out[i] = (struct gofer_share){.path = empty, .readonly = true};
		snprintf(out[i].tag, sizeof(out[i].tag), "%s", rec->tags[i]);
	}
	return 0;
}

static int restore_init(struct sandbox *sb, const struct record *rec, struct kv_err *err)
{
	if (rec->terminal != sb->create.process.terminal)
		return kv_err_set(err, EINVAL,
				  "process.terminal is %s in the bundle, %s in the checkpoint",
				  sb->create.process.terminal ? "true" : "false",
				  rec->terminal ? "true" : "false");
	int slot = -1;
	for (int i = 0; i <= rec->slot; i++)
		slot = sb_proc_alloc(sb, i == rec->slot);
	for (int i = 0; i < rec->slot; i++)
		sb_proc_free(sb, i); /* only the init's slot number matters */
	if (slot != rec->slot)
		return kv_err_set(err, EINVAL, "the init's process slot %d is not free", rec->slot);
	const int fds[3] = {STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO};
	struct agent_process ap = sb->create.process;
	int r = sb_stdio_setup(sb, slot, fds, sb->console_fd, sb->console_socket, &ap, err);
	if (sb->console_fd >= 0)
		close(sb->console_fd); /* the master went through it */
	sb->console_fd = -1;
	if (r < 0)
		return r;
	/* the streams exist: nothing is to connect to our ports */
	for (int k = 0; k < STREAM_COUNT; k++)
		if (sb->procs[slot].listening[k]) {
			virtio_vsock_unlisten(&sb->vm->virtio.vsock, sb_port(slot, k));
			sb->procs[slot].listening[k] = false;
		}
	sb->procs[slot].pid = rec->pid;
	return 0;
}

int sb_restore_checkpoint(struct sandbox *sb, const struct vm_config *base, struct kv_err *err)
{
	struct snapshot s;
	struct snapshot_stats st = {0};
	struct record rec;
	uint64_t t0 = sb_now_ms();
	int r = snapshot_open(sb->restore_dir, &s, err);
	const struct snap_manifest *m = r == 0 ? &s.img->man : NULL;
	enum kvm_flavour here = kvm_detect_flavour();
	if (r == 0 && !(m->machine & SNAP_MACHINE_CHECKPOINT))
		r = kv_err_set(err, EINVAL, "%s is not a container checkpoint", sb->restore_dir);
	else if (r == 0 && m->flavour != (uint32_t)here)
		r = kv_err_set(err, EINVAL, "%s was saved on another kind of KVM host (%s here)",
			       sb->restore_dir, kvm_flavour_name(here));
	if (r == 0 && (r = record_parse(snap_find(s.img, SNAP_SEC_SANDBOX, 0), &rec, err)) < 0)
		kv_err_wrap(err, r, "%s", sb->restore_dir);
	/* fillers: an empty directory in the container's own state dir */
	static char empty[PATH_MAX];
	snprintf(empty, sizeof(empty), "%s/%s/empty", sb->root, sb->id);
	if (r == 0 && mkdirat(sb->dir_fd, "empty", 0500) < 0 && errno != EEXIST)
		r = kv_err_sys(err, errno, "%s", empty);
	/* the machine keeps a pointer to its shares */
	static struct gofer_share shares[SANDBOX_MAX_SHARES];
	if (r == 0)
		r = restore_shares(sb, &rec, empty, shares, err);
	if (r == 0) {
		struct vm_config vc = *base;
		vc.shares = shares;
		vc.nshares = rec.nshares;
		vc.mem_bytes = m->mem_bytes;
		vc.ncpus = m->ncpus;
		vc.no_rng = !(m->machine & SNAP_MACHINE_RNG);
		vc.vsock = true;
		vc.mem_file = false;
		r = vm_create(sb->vm, &vc, err);
	}
	if (r == 0)
		r = sb_stdio_start(sb, err);
	if (r == 0)
		r = restore_init(sb, &rec, err);
	if (r == 0) {
		s.accept = restore_accept;
		s.accept_ctx = sb;
		r = snapshot_restore(sb->vm, &s, &st, err);
	}
	snapshot_close(&s);
	if (r < 0)
		return kv_err_wrap(err, r, "restoring the checkpoint");
	sb->restored = true;
	sb->from_checkpoint = true;
	if (sb->debug)
		sb_log(sb, "debug",
		       "restored checkpoint %s in %llu ms (memory %llu KiB in %llu ms), init pid "
		       "%" PRIu32,
		       sb->restore_dir, (unsigned long long)(sb_now_ms() - t0),
		       (unsigned long long)(st.mem_data >> 10),
		       (unsigned long long)(st.mem_usec / 1000), rec.pid);
	return 0;
}
