/* SPDX-License-Identifier: Apache-2.0 */
/* `kvbox sandbox`: the container's VMM process; see vmm/sandbox.h. */
#include "vmm/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "guest/initramfs.h"
#include "oci/cli.h"
#include "util/cleanup.h"
#include "util/jail.h"
#include "vmm/agent_chan.h"
#include "vmm/ctl.h"
#include "vmm/lazy_mem.h"
#include "vmm/runloop.h"
#include "vmm/template.h"
#include "vmm/vm_boot.h"

#define SHUTDOWN_TIMEOUT_S  10
#define SANDBOX_EXIT_VMFAIL 255 /* the machine ended before the init did */

uint64_t sb_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void sb_log(struct sandbox *sb, const char *level, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!sb->log) {
		/* no --log: our stderr is the container's; keep it clean
		 * unless debugging */
		/* before readiness, errors reach `create` through the ready fd */
		if (sb->debug || (!strcmp(level, "error") && sb->ready_fd < 0))
			fprintf(stderr, "kvbox sandbox %s: %s\n", sb->id, msg);
		return;
	}
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	char when[OCI_TIME_RFC3339_MAX];
	oci_time_rfc3339(&ts, when);
	if (sb->log_json) {
		json_t *o = json_pack("{s:s, s:s, s:s}", "level", level, "msg", msg, "time", when);
		char *line = o ? json_dumps(o, JSON_COMPACT) : NULL;
		if (line)
			fprintf(sb->log, "%s\n", line);
		free(line);
		json_decref(o);
	} else {
		fprintf(sb->log, "time=\"%s\" level=%s msg=\"sandbox %s: %s\"\n", when, level,
			sb->id, msg);
	}
	fflush(sb->log);
}

/* Writes the one line for `create`; false when it could not be written
 * (create is gone: nobody will save our state). */
static bool ready_write(struct sandbox *sb, const char *line)
{
	if (sb->ready_fd < 0)
		return false;
	size_t len = strlen(line);
	while (len) {
		ssize_t n = write(sb->ready_fd, line, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		line += n;
		len -= (size_t)n;
	}
	if (sb->ready_watched)
		fd_handlers_remove(&sb->vm->handlers, sb->ready_fd);
	sb->ready_watched = false;
	close(sb->ready_fd);
	sb->ready_fd = -1;
	return len == 0;
}

void sb_fail_startup(struct sandbox *sb, const char *msg)
{
	char line[1100];
	snprintf(line, sizeof(line), "error %s\n", msg);
	sb_log(sb, "error", "%s", msg);
	ready_write(sb, line);
	vm_request_exit(sb->vm, VM_EXIT_ERROR, "%s", msg);
}

void sb_ready(struct sandbox *sb)
{
	char line[64];
	snprintf(line, sizeof(line), "ready %d\n", (int)sb->gofer_pid);
	if (!ready_write(sb, line)) {
		sb_log(sb, "error", "kvbox create went away before the container was created");
		sb->phase = SB_CREATING; /* so the exit path reports a failed start */
		vm_request_exit(sb->vm, VM_EXIT_ERROR, "kvbox create went away");
	}
}

/* The ready pipe's reader closed before we were ready: `create` was
 * killed.  Nobody can record or delete this sandbox but by its pid (saved
 * while "creating"), so it stops by itself. */
static void on_ready_hup(void *ctx, int fd, uint32_t events)
{
	struct sandbox *sb = ctx;
	(void)fd;
	if (!(events & (EPOLLERR | EPOLLHUP)))
		return;
	sb_fail_startup(sb, "kvbox create went away before the container was created");
}

/* The gofer ended while the VM runs: the container's root filesystem is
 * gone with it, so the container is over (it would only see I/O errors). */
static void on_gofer_exit(void *ctx, int fd, uint32_t events)
{
	struct sandbox *sb = ctx;
	(void)events;
	fd_handlers_remove(&sb->vm->handlers, fd);
	if (sb->phase < SB_CREATED) {
		sb_fail_startup(sb, "the gofer (the container's file server) died");
		return;
	}
	sb_log(sb, "error", "the gofer (pid %d) died: stopping the container", (int)sb->gofer_pid);
	sb_stop_vm(sb, "the gofer died");
}

/* --debug: what the lazily loaded RAM has cost so far */
static void log_lazy(struct sandbox *sb, const char *when)
{
	if (!sb->debug || !sb->vm || !sb->vm->lazy)
		return;
	struct lazy_stats st;
	lazy_mem_stats(sb->vm->lazy, &st);
	sb_log(sb, "debug",
	       "lazy RAM %s: %llu fault(s) served (%llu in the gofer's mapping) in %llu ms, "
	       "%llu KiB loaded on demand, %llu KiB in full loads",
	       when, (unsigned long long)st.faults, (unsigned long long)st.peer_faults,
	       (unsigned long long)(st.serve_usec / 1000), (unsigned long long)(st.bytes >> 10),
	       (unsigned long long)(st.fill_bytes >> 10));
}

/* The first lazy start of a template: the blocks it loaded until its
 * container was prepared, for `create` to keep beside the template
 * (vmm/template.h).  Best effort: without it the next start faults. */
static void record_working_set(struct sandbox *sb)
{
	struct lazy_mem *l = sb->vm->lazy;
	uint64_t total = sb->vm->mem.total;
	size_t max = (total + LAZY_BLOCK - 1) / LAZY_BLOCK, len = 0;
	cleanup_free uint32_t *blocks = calloc(max, sizeof(*blocks));
	if (!blocks)
		return;
	unsigned n = lazy_mem_touched(l, blocks, (unsigned)max);
	cleanup_free uint8_t *buf = template_ws_encode(total, blocks, n, &len);
	int fd = buf ? openat(sb->dir_fd, TEMPLATE_WS_RECORD,
			      O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)
		     : -1;
	if (fd < 0)
		return;
	bool ok = write(fd, buf, len) == (ssize_t)len;
	close(fd);
	if (!ok)
		unlinkat(sb->dir_fd, TEMPLATE_WS_RECORD, 0);
	else if (sb->debug)
		sb_log(sb, "debug", "working set recorded for the template: %u block(s)", n);
}

void sb_stop_vm(struct sandbox *sb, const char *why)
{
	if (sb->debug)
		sb_log(sb, "debug", "stopping the VM: %s", why);
	log_lazy(sb, "at the end");
	vm_request_exit(sb->vm, VM_EXIT_POWEROFF, "%s", why);
}

/* ---- the init: CREATE once the agent said HELLO ---- */

static void create_done(struct sandbox *sb, void *ctx, const struct agent_msg *reply,
			const struct kv_err *err)
{
	int slot = (int)(intptr_t)ctx;
	if (err) {
		sb_fail_startup(sb, err->msg);
		return;
	}
	sb->procs[slot].pid = reply->u.pid.pid;
	sb->phase = SB_CREATED;
	/* the boot deadline is over */
	struct itimerspec off = {0};
	timerfd_settime(sb->timer_fd, 0, &off, NULL);
	if (sb->debug)
		sb_log(sb, "debug", "container prepared: guest pid %" PRIu32, reply->u.pid.pid);
	log_lazy(sb, "until the container was prepared");
	if (sb->ws_record)
		record_working_set(sb);
	sb_ready(sb);
	sb_check_exits(sb); /* it may have died already */
}

static void send_create(struct sandbox *sb);

static void resume_done(struct sandbox *sb, void *ctx, const struct agent_msg *reply,
			const struct kv_err *err)
{
	(void)ctx;
	(void)reply;
	if (err) {
		char msg[KV_ERR_MSG_MAX];
		snprintf(msg, sizeof(msg), "the agent restored from the template: %s", err->msg);
		sb_fail_startup(sb, msg);
		return;
	}
	if (sb->debug)
		sb_log(sb, "debug", "agent resumed: guest entropy reseeded, clock set");
	if (sb->from_checkpoint) {
		/* the container runs where it was checkpointed */
		sb->phase = SB_RUNNING;
		struct itimerspec off = {0};
		timerfd_settime(sb->timer_fd, 0, &off, NULL);
		sb_ready(sb);
		sb_check_exits(sb);
		return;
	}
	send_create(sb);
}

/* Every VM of a template shares its random state and clock: fresh ones
 * before anything of the container runs. */
static void send_resume(struct sandbox *sb)
{
	struct kv_err err = {0};
	uint8_t seed[AGENT_SEED_BYTES];
	size_t got = 0;
	while (got < sizeof(seed)) {
		ssize_t n = getrandom(seed + got, sizeof(seed) - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			sb_fail_startup(sb, "getrandom failed: no entropy for the restored guest");
			return;
		}
		got += (size_t)n;
	}
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct agent_msg m;
	agent_msg_init(&m, AGENT_RESUME, 0, 0);
	m.u.resume.seed = seed;
	m.u.resume.seed_len = sizeof(seed);
	m.u.resume.realtime_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	int r = sb_agent_request(sb, &m, resume_done, NULL, &err);
	explicit_bzero(seed, sizeof(seed));
	if (r < 0)
		sb_fail_startup(sb, err.msg);
}

void sb_on_hello(struct sandbox *sb, const struct agent_hello *h)
{
	if (sb->reconnecting) {
		/* after checkpoint --leave-running: the same agent, back */
		sb->reconnecting = false;
		if (sb->debug)
			sb_log(sb, "debug", "agent channel back after the checkpoint");
		return;
	}
	if (sb->phase != SB_BOOTING)
		return;
	if (sb->debug) {
		char line[512];
		vm_agent_ready_line(h, line, sizeof(line));
		sb_log(sb, "debug", "agent ready: %s", line);
	}
	sb->phase = SB_CREATING;
	if (sb->restored)
		send_resume(sb);
	else
		send_create(sb);
}

static void send_create(struct sandbox *sb)
{
	struct kv_err err = {0};
	int slot = sb_proc_alloc(sb, true);
	const int fds[3] = {STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO};
	int r = slot < 0 ? -1
			 : sb_stdio_setup(sb, slot, fds, sb->console_fd, sb->console_socket,
					  &sb->create.process, &err);
	if (sb->console_fd >= 0)
		close(sb->console_fd); /* the master went through it */
	sb->console_fd = -1;
	if (r < 0) {
		sb_fail_startup(sb, slot < 0 ? "no process slot" : err.msg);
		return;
	}
	struct agent_msg m;
	agent_msg_init(&m, AGENT_CREATE, 0, 0);
	m.u.create = sb->create;
	if (sb_agent_request(sb, &m, create_done, (void *)(intptr_t)slot, &err) < 0)
		sb_fail_startup(sb, err.msg);
}

void sb_on_exit_event(struct sandbox *sb, const struct agent_exit *e)
{
	for (int i = 0; i < SANDBOX_MAX_PROCS; i++) {
		struct sb_proc *p = &sb->procs[i];
		if (!p->used || p->pid != e->pid || p->exited)
			continue;
		p->exited = true;
		p->exit = *e;
		p->exit_deadline_ms = sb_now_ms() + SANDBOX_DRAIN_MS;
		sb_tick_arm(sb, true);
		if (p->is_init) {
			sb->init_exited = true;
			sb->init_exit = *e;
			sb->phase = SB_EXITING;
		}
		if (sb->debug)
			sb_log(sb, "debug",
			       "guest pid %" PRIu32 " exited: code %" PRIu32 " signal %" PRIu32,
			       e->pid, e->code, e->signal);
		break;
	}
	sb_check_exits(sb);
}

static void shutdown_timeout(struct sandbox *sb)
{
	struct itimerspec its = {.it_value = {.tv_sec = SHUTDOWN_TIMEOUT_S}};
	timerfd_settime(sb->timer_fd, 0, &its, NULL);
}

void sb_check_exits(struct sandbox *sb)
{
	for (int i = 0; i < SANDBOX_MAX_PROCS; i++) {
		struct sb_proc *p = &sb->procs[i];
		if (!p->used || !p->exited || !sb_stdio_drained(sb, i))
			continue;
		if (p->is_init) {
			if (!sb->shutdown_sent) {
				sb_agent_shutdown(sb);
				shutdown_timeout(sb);
			}
		} else {
			sb_ctl_proc_exited(sb, i);
		}
	}
}

/* HELLO + CREATE must come within this: KVBOX_CREATE_TIMEOUT, which also
 * bounds `create`'s wait (the sandbox inherits create's environment), or
 * SANDBOX_AGENT_WAIT_S. */
static unsigned agent_wait_s(void)
{
	const char *v = getenv("KVBOX_CREATE_TIMEOUT");
	long t = v ? strtol(v, NULL, 10) : 0;
	return t > 0 && t < 86400 ? (unsigned)t : SANDBOX_AGENT_WAIT_S;
}

static void on_timer(void *ctx, int fd, uint32_t events)
{
	struct sandbox *sb = ctx;
	uint64_t n;
	(void)events;
	if (read(fd, &n, sizeof(n)) != (ssize_t)sizeof(n))
		return;
	if (sb->phase < SB_CREATED) {
		char msg[160];
		snprintf(msg, sizeof(msg),
			 "the guest agent was not ready within %u s (a console log is kept with "
			 "--debug)",
			 agent_wait_s());
		sb_fail_startup(sb, msg);
	} else if (sb->shutdown_sent) {
		sb_stop_vm(sb, "the guest did not power off after SHUTDOWN");
	}
}

/* ---- set-up ---- */

struct sandbox_opts {
	const char *root, *bundle, *console_socket, *log, *log_format, *id, *network, *template_dir;
	const char *restore_dir;
	int ready_fd;
	bool debug;
	bool template_copy;
};

static int parse_opts(int argc, char **argv, struct sandbox_opts *o)
{
	static const struct option longopts[] = {
	    {"root", required_argument, NULL, 'r'},
	    {"bundle", required_argument, NULL, 'b'},
	    {"ready-fd", required_argument, NULL, 'R'},
	    {"console-socket", required_argument, NULL, 'c'},
	    {"log", required_argument, NULL, 'l'},
	    {"log-format", required_argument, NULL, 'f'},
	    {"debug", no_argument, NULL, 'd'},
	    {"network", required_argument, NULL, 'n'},
	    {"template", required_argument, NULL, 't'},
	    {"restore", required_argument, NULL, 'S'},
	    {"template-copy", no_argument, NULL, 'C'},
	    {NULL, 0, NULL, 0},
	};
	memset(o, 0, sizeof(*o));
	o->ready_fd = -1;
	opterr = 0;
	optind = 1;
	int c;
	while ((c = getopt_long(argc, argv, "+", longopts, NULL)) != -1) {
		switch (c) {
		case 'r':
			o->root = optarg;
			break;
		case 'b':
			o->bundle = optarg;
			break;
		case 'R':
			o->ready_fd = atoi(optarg);
			break;
		case 'c':
			o->console_socket = optarg;
			break;
		case 'l':
			o->log = optarg;
			break;
		case 'f':
			o->log_format = optarg;
			break;
		case 'd':
			o->debug = true;
			break;
		case 'n':
			o->network = optarg;
			break;
		case 't':
			o->template_dir = optarg;
			break;
		case 'S':
			o->restore_dir = optarg;
			break;
		case 'C':
			o->template_copy = true;
			break;
		default:
			return -1;
		}
	}
	if (optind != argc - 1 || !o->root || !o->bundle)
		return -1;
	o->id = argv[optind];
	return 0;
}

static int boot_cold(struct sandbox *sb, const struct vm_config *vc, struct kv_err *err)
{
	char agent[PATH_MAX];
	cleanup_free uint8_t *initrd = NULL;
	size_t initrd_len = 0;
	int r;
	if ((r = agent_binary_path(agent, sizeof(agent), err)) < 0 ||
	    (r = agent_initramfs_build(agent, &initrd, &initrd_len, err)) < 0)
		return r;
	char cmdline[256];
	sandbox_cmdline(cmdline, sizeof(cmdline), sb->debug);
	struct vm_boot_spec b = {
	    .kernel = oci_default_kernel(),
	    .initrd = initrd,
	    .initrd_len = initrd_len,
	    .cmdline = cmdline,
	    .ncpus = sb->plan.ncpus,
	};
	return vm_boot_load(sb->vm, vc, &b, err);
}

/* The container's shares in the template's first 9p slots, the rest on
 * its empty directory; RAM, vCPUs and devices from the image. */
static int restore_template(struct sandbox *sb, const struct vm_config *base, struct kv_err *err)
{
	char image[PATH_MAX], empty[PATH_MAX];
	snprintf(image, sizeof(image), "%s/image", sb->template_dir);
	snprintf(empty, sizeof(empty), "%s/empty", sb->template_dir);
	/* every container fits: the plan has at most SANDBOX_MAX_SHARES */
	_Static_assert(TEMPLATE_SHARES == SANDBOX_MAX_SHARES, "a template has every share slot");
	struct gofer_share shares[TEMPLATE_SHARES];
	struct vm_config vc = *base;
	vc.shares = shares;
	vc.nshares = template_shares(sb->plan.shares, sb->plan.nshares, empty, shares);
	vc.lazy_mem = !sb->template_copy;
	struct snapshot_stats st = {0};
	uint64_t t0 = sb_now_ms();
	int r = template_vm_restore(sb->vm, image, &vc, &st, err);
	if (r < 0)
		return kv_err_wrap(err, r,
				   "starting from the template (`kvbox template drop` removes it, "
				   "--boot-mode cold boots without one)");
	sb->restored = true;
	sb->ws_record = st.lazy && st.ws_missing;
	if (sb->debug && st.ws_blocks)
		sb_log(sb, "debug",
		       "working set of the template loaded: %u block(s), %llu KiB in %llu ms",
		       st.ws_blocks, (unsigned long long)(st.ws_bytes >> 10),
		       (unsigned long long)(st.ws_usec / 1000));
	else if (sb->debug && st.ws_why[0])
		sb_log(sb, "debug", "the template's working set is not used: %s", st.ws_why);
	if (sb->debug && st.lazy)
		sb_log(sb, "debug",
		       "guest RAM loaded lazily: %u range(s) of the image registered "
		       "with userfaultfd in the VMM and the gofer; %llu KiB of the guest "
		       "kernel's text and read-only data mapped copy-on-write from it "
		       "(checked in %llu ms)",
		       st.lazy_ranges, (unsigned long long)(st.shared_bytes >> 10),
		       (unsigned long long)(st.shared_usec / 1000));
	else if (sb->debug && vc.lazy_mem)
		sb_log(sb, "debug", "guest RAM copied (lazy loading unavailable: %s)", st.lazy_why);
	if (sb->debug)
		sb_log(sb, "debug",
		       "restored from template %s in %llu ms: open %llu ms, machine and gofer "
		       "%llu ms, memory %llu ms (%llu KiB: checked %llu ms, %s %llu ms), "
		       "KVM and devices %llu ms (state %llu bytes)",
		       sb->template_dir, (unsigned long long)(sb_now_ms() - t0),
		       (unsigned long long)(st.open_usec / 1000),
		       (unsigned long long)(st.create_usec / 1000),
		       (unsigned long long)(st.mem_usec / 1000),
		       (unsigned long long)(st.mem_data >> 10),
		       (unsigned long long)(st.sum_usec / 1000),
		       st.lazy ? "armed lazily" : "copied",
		       (unsigned long long)(st.copy_usec / 1000),
		       (unsigned long long)((st.usec - st.mem_usec) / 1000),
		       (unsigned long long)st.state_len);
	return 0;
}

static int sandbox_prepare(struct sandbox *sb, struct kv_err *err)
{
	/* by path (it may readlink /proc/self/exe): not from the jail */
	snprintf(sb->kernel, sizeof(sb->kernel), "%s", oci_default_kernel());
	int r = oci_config_load(sb->bundle, &sb->cfg, err);
	if (r < 0)
		return r;
	if (!sb->cfg->process)
		return kv_err_set(err, EINVAL, "%s/config.json: no \"process\"", sb->bundle);
	r = oci_spec_to_agent(sb->cfg, sb->id, SANDBOX_MAX_SHARES, &sb->create, &sb->plan, err);
	if (r < 0)
		return r;
	/* before the VM exists: the sandbox lives in the container's network
	 * namespace from here on */
	if ((r = oci_net_setup(&sb->net, sb->net_mode, sb->cfg, sb->dir_fd, err)) < 0)
		return r;
	sb->create.nets = sb->net.ifs;
	sb->create.nnets = sb->net.nlinks;
	if (sb->debug)
		sb_log(sb, "debug", "network %s: %u interface(s) mirrored%s%s",
		       oci_net_mode_name(sb->net_mode), sb->net.nlinks,
		       sb->net.netns[0] ? " in " : "", sb->net.netns);

	int console = -1;
	if (sb->debug)
		console = openat(sb->dir_fd, "console.log",
				 O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (console < 0)
		console = open("/dev/null", O_WRONLY | O_CLOEXEC);
	struct vm_config vc = {
	    .mem_bytes = sb->plan.mem_bytes,
	    .ncpus = sb->plan.ncpus,
	    .console_out = console,
	    .vsock = true,
	    .shares = sb->plan.shares,
	    .nshares = sb->plan.nshares,
	    .nets = sb->net.params,
	    .nnets = sb->net.nlinks,
	};
	if (sb->restore_dir) {
		if (sb->net.nlinks)
			return kv_err_set(
			    err, EOPNOTSUPP,
			    "restoring into a network namespace with interfaces: a "
			    "checkpoint holds no NIC (--network none restores without "
			    "them)");
		if ((r = sb_restore_checkpoint(sb, &vc, err)) < 0)
			return r;
	} else if (sb->template_dir && sb->net.nlinks) {
		if (sb->debug)
			sb_log(sb, "debug", "booting cold: %u NIC(s), a template has none",
			       sb->net.nlinks);
	} else if (sb->template_dir) {
		if ((r = restore_template(sb, &vc, err)) < 0)
			return r;
	}
	if (!sb->restored && (r = boot_cold(sb, &vc, err)) < 0)
		return r;
	if (sb->vm->virtio.p9.gofer_live)
		sb->gofer_pid = sb->vm->virtio.p9.gofer.pid;
	if (sb->gofer_pid > 0) {
		sb->gofer_pidfd = (int)syscall(SYS_pidfd_open, sb->gofer_pid, 0);
		if (sb->gofer_pidfd < 0)
			return kv_err_sys(err, errno, "pidfd_open of the gofer %d",
					  (int)sb->gofer_pid);
		if ((r = fd_handlers_add(&sb->vm->handlers, sb->gofer_pidfd, EPOLLIN, on_gofer_exit,
					 sb, "gofer exit", err)) < 0)
			return r;
	}
	/* no events asked: a pipe's write end reports EPOLLERR once its
	 * reader is gone */
	if (sb->ready_fd >= 0) {
		if ((r = fd_handlers_add(&sb->vm->handlers, sb->ready_fd, 0, on_ready_hup, sb,
					 "ready pipe", err)) < 0)
			return r;
		sb->ready_watched = true;
	}

	sb->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (sb->timer_fd < 0)
		return kv_err_sys(err, errno, "timerfd_create");
	struct itimerspec its = {.it_value = {.tv_sec = agent_wait_s()}};
	timerfd_settime(sb->timer_fd, 0, &its, NULL);
	if ((r = fd_handlers_add(&sb->vm->handlers, sb->timer_fd, EPOLLIN, on_timer, sb,
				 "sandbox timer", err)) < 0 ||
	    (r = sb_stdio_start(sb, err)) < 0 ||
	    (r = sb->restored ? sb_agent_connect(sb, err) : sb_agent_listen(sb, err)) < 0 ||
	    (r = sb_ctl_start(sb, err)) < 0)
		return r;
	if ((r = vm_wait_pit(sb->vm, err)) < 0 || (r = sb_jail(sb, err)) < 0)
		return r;
	sb->jailed = true;
	sb_restore_attach(sb);
	if (sb->debug)
		sb_log(sb, "debug", "VM built (gofer running, kernel loaded), starting the vCPUs");
	return vm_start_vcpus(sb->vm, err);
}

/* Exits like the container's init: its code, or its signal. */
__attribute__((noreturn)) static void exit_like(const struct agent_exit *e)
{
	if (e->signal) {
		struct rlimit no_core = {0, 0};
		setrlimit(RLIMIT_CORE, &no_core);
		prctl(PR_SET_DUMPABLE, 0);
		signal((int)e->signal, SIG_DFL);
		sigset_t s;
		sigemptyset(&s);
		sigaddset(&s, (int)e->signal);
		sigprocmask(SIG_UNBLOCK, &s, NULL);
		raise((int)e->signal);
	}
	_exit(e->signal ? 128 + (int)e->signal : (int)(e->code & 0xff));
}

int cmd_sandbox(int argc, char **argv)
{
	struct sandbox_opts o;
	if (parse_opts(argc, argv, &o) < 0) {
		fprintf(stderr, "kvbox sandbox: internal command, started by kvbox create; usage: "
				"kvbox sandbox --root DIR --bundle DIR --ready-fd N [--template "
				"DIR | --restore DIR] "
				"ID\n");
		return 2;
	}
	static struct sandbox sb;
	struct kv_err err = {0};
	sb.id = o.id;
	sb.root = o.root;
	sb.bundle = o.bundle;
	sb.console_socket = o.console_socket;
	sb.template_dir = o.template_dir;
	sb.template_copy = o.template_copy;
	sb.restore_dir = o.restore_dir;
	sb.ckpt.client = sb.ckpt.dirfd = sb.ckpt.poll_fd = -1;
	sb.debug = o.debug;
	sb.ready_fd = o.ready_fd;
	sb.agent_fd = sb.ctl_fd = sb.timer_fd = sb.wake_fd = sb.tick_fd = sb.gofer_pidfd = -1;
	sb.console_fd = sb.status_fd = -1;
	sb.gofer_pid = -1;
	if (o.network && oci_net_mode_parse(o.network, &sb.net_mode) < 0) {
		fprintf(stderr, "kvbox sandbox: --network %s: expected sandbox or none\n",
			o.network);
		return 2;
	}
	/* only stdio and the ready fd: anything else was not meant for us
	 * (`create` closes them too) */
	if (jail_close_fds(sb.ready_fd, &err) < 0 ||
	    (sb.ready_fd >= 0 && fcntl(sb.ready_fd, F_SETFD, FD_CLOEXEC) < 0)) {
		fprintf(stderr, "kvbox sandbox: %s\n", err.msg[0] ? err.msg : strerror(errno));
		return 1;
	}
	if (o.log) {
		sb.log = fopen(o.log, "ae");
		sb.log_json = o.log_format && !strcmp(o.log_format, "json");
	}
	signal(SIGPIPE, SIG_IGN);
	prctl(PR_SET_NAME, "kvbox-sandbox");
	if (sb.debug)
		sb_log(&sb, "debug", "sandbox process started");

	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s/%s", o.root, o.id);
	sb.dir_fd = open(dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	sb.vm = calloc(1, sizeof(*sb.vm));
	if (sb.dir_fd < 0 || !sb.vm) {
		char msg[PATH_MAX + 64];
		snprintf(msg, sizeof(msg), "%s: %s", dir, strerror(errno));
		sb_log(&sb, "error", "%s", msg);
		char line[sizeof(msg) + 8];
		snprintf(line, sizeof(line), "error %s\n", msg);
		ready_write(&sb, line);
		return 1;
	}
	if (sandbox_prepare(&sb, &err) < 0) {
		char line[KV_ERR_MSG_MAX + 8];
		snprintf(line, sizeof(line), "error %s\n", err.msg);
		sb_log(&sb, "error", "%s", err.msg);
		/* give the network back before saying so: create kills us as
		 * soon as it reads the error (and redoes this from ROOT/ID/net
		 * if we had not finished) */
		vm_destroy(sb.vm);
		oci_net_teardown(&sb.net, sb.dir_fd);
		unlinkat(sb.dir_fd, CTL_SOCKET_NAME, 0);
		ready_write(&sb, line);
		return 1;
	}
	enum vm_exit_kind kind = vm_run(sb.vm, -1);
	bool started = sb.phase >= SB_CREATED;
	if (!started) {
		char line[sizeof(sb.vm->exit_msg) + 64];
		snprintf(line, sizeof(line), "error the VM stopped while booting: %s\n",
			 sb.vm->exit_msg);
		ready_write(&sb, line);
	}
	if (!sb.init_exited && started) {
		sb_log(&sb, "error", "the VM ended before the container did: %s (%s)",
		       sb.vm->exit_msg, vm_exit_kind_name(kind));
	}
	unlinkat(sb.dir_fd, CTL_SOCKET_NAME, 0);
	sb_stdio_cancel_all(&sb);
	vm_destroy(sb.vm);
	if (sb.gofer_pidfd >= 0)
		close(sb.gofer_pidfd);
	oci_net_teardown(&sb.net, sb.dir_fd); /* after the NICs let go of the taps */
	if (sb.debug)
		sb_log(&sb, "debug", "VM destroyed (%s), sandbox exiting", vm_exit_kind_name(kind));
	if (!started)
		return 1;
	if (kind == VM_EXIT_SIGNAL && !sb.init_exited) {
		struct agent_exit e = {.signal = (uint32_t)sb.vm->exit_signal};
		exit_like(&e);
	}
	if (!sb.init_exited)
		return SANDBOX_EXIT_VMFAIL;
	exit_like(&sb.init_exit);
}
