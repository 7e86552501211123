/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The sandbox's control socket (vmm/ctl.h): CLI requests in, agent
 * requests or VM actions out.  Every connection is served on the loop's
 * thread; a request that needs the agent is answered from the agent
 * reply's callback.  A client that hangs up early only loses its answer.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "oci/spec_agent.h"
#include "vmm/ctl.h"
#include "vmm/sandbox.h"

#define PAUSE_TIMEOUT_MS 5000

static int client_index(struct sandbox *sb, int fd)
{
	for (int i = 0; i < SANDBOX_MAX_CLIENTS; i++)
		if (sb->clients[i].fd == fd)
			return i;
	return -1;
}

void sb_ctl_close(struct sandbox *sb, int client)
{
	if (client < 0 || client >= SANDBOX_MAX_CLIENTS || sb->clients[client].fd < 0)
		return;
	struct sb_client *c = &sb->clients[client];
	fd_handlers_remove(&sb->vm->handlers, c->fd);
	close(c->fd);
	if (c->proc >= 0 && sb->procs[c->proc].client == client)
		sb->procs[c->proc].client = -1;
	c->fd = -1;
	c->busy = false;
	c->proc = -1;
}

void sb_ctl_reply(struct sandbox *sb, int client, json_t *reply)
{
	struct kv_err err = {0};
	if (client >= 0 && sb->clients[client].fd >= 0 && reply &&
	    ctl_send(sb->clients[client].fd, reply, NULL, 0, &err) < 0 && sb->debug)
		sb_log(sb, "debug", "control reply: %s", err.msg);
	if (client >= 0)
		sb->clients[client].busy = false;
	json_decref(reply);
}

static void reply_err(struct sandbox *sb, int client, const struct kv_err *err)
{
	sb_ctl_reply(sb, client, ctl_error_reply(err->code ? err->code : EIO, err->msg));
}

static void reply_ok(struct sandbox *sb, int client)
{
	sb_ctl_reply(sb, client, json_pack("{s:b}", "ok", 1));
}

/* The client index travels through the agent callbacks as ctx. */
#define CTX(i)	 ((void *)(intptr_t)(i))
#define INDEX(p) ((int)(intptr_t)(p))

static void simple_done(struct sandbox *sb, void *ctx, const struct agent_msg *reply,
			const struct kv_err *err)
{
	(void)reply;
	if (err)
		reply_err(sb, INDEX(ctx), err);
	else
		reply_ok(sb, INDEX(ctx));
}

static void start_done(struct sandbox *sb, void *ctx, const struct agent_msg *reply,
		       const struct kv_err *err)
{
	if (!err && sb->phase == SB_CREATED)
		sb->phase = SB_RUNNING;
	simple_done(sb, ctx, reply, err);
}

static void ps_done(struct sandbox *sb, void *ctx, const struct agent_msg *reply,
		    const struct kv_err *err)
{
	if (err) {
		reply_err(sb, INDEX(ctx), err);
		return;
	}
	json_t *list = json_array();
	for (uint32_t i = 0; i < reply->u.ps.nprocs; i++) {
		const struct agent_proc_info *p = &reply->u.ps.procs[i];
		json_array_append_new(list, json_pack("{s:i, s:i, s:i, s:s}", "pid", (int)p->pid,
						      "ppid", (int)p->ppid, "uid", (int)p->uid,
						      "cmd", p->cmd ? p->cmd : ""));
	}
	sb_ctl_reply(sb, INDEX(ctx), json_pack("{s:b, s:o}", "ok", 1, "processes", list));
}

static json_t *host_stats(struct sandbox *sb)
{
	/* the VMM's own resident memory (guest RAM touched included) */
	long rss = sb_status_value(sb->status_fd, "VmRSS");
	unsigned long long rss_kib = rss > 0 ? (unsigned long long)rss : 0;
	return json_pack("{s:I, s:I, s:i, s:I}", "vmm_rss_bytes", (json_int_t)rss_kib * 1024,
			 "guest_ram_bytes", (json_int_t)sb->vm->mem.total, "vcpus",
			 (int)sb->vm->ncpus, "vsock_bytes_to_guest",
			 (json_int_t)sb->vm->virtio.vsock.stats.bytes_to_guest);
}

static void stats_done(struct sandbox *sb, void *ctx, const struct agent_msg *reply,
		       const struct kv_err *err)
{
	if (err) {
		reply_err(sb, INDEX(ctx), err);
		return;
	}
	const struct agent_stats *s = &reply->u.stats;
	json_t *st = json_pack(
	    "{s:I, s:I, s:I, s:I, s:I, s:I, s:i, s:o}", "mem_total", (json_int_t)s->mem_total,
	    "mem_available", (json_int_t)s->mem_available, "mem_usage", (json_int_t)s->mem_usage,
	    "cpu_usage_ns", (json_int_t)s->cpu_usage_ns, "cpu_user_ns", (json_int_t)s->cpu_user_ns,
	    "cpu_system_ns", (json_int_t)s->cpu_system_ns, "pids", (int)s->pids, "host",
	    host_stats(sb));
	sb_ctl_reply(sb, INDEX(ctx), json_pack("{s:b, s:o}", "ok", 1, "stats", st));
}

/* ---- exec ---- */

static void exec_done(struct sandbox *sb, void *ctx, const struct agent_msg *reply,
		      const struct kv_err *err)
{
	int slot = INDEX(ctx);
	struct sb_proc *p = &sb->procs[slot];
	int client = p->client;
	if (err) {
		if (client >= 0)
			reply_err(sb, client, err);
		sb_proc_free(sb, slot);
		if (client >= 0)
			sb->clients[client].proc = -1;
		return;
	}
	p->pid = reply->u.pid.pid;
	if (client >= 0) {
		sb_ctl_reply(sb, client, json_pack("{s:b, s:i}", "ok", 1, "pid", (int)p->pid));
		sb->clients[client].busy = true; /* the exit is owed */
	}
	sb_check_exits(sb);
}

static void do_exec(struct sandbox *sb, int client, json_t *req, int *fds, unsigned nfds)
{
	struct kv_err err = {0};
	json_t *pj = json_object_get(req, "process");
	const char *console = json_string_value(json_object_get(req, "console_socket"));
	struct oci_process *proc = NULL;
	struct agent_msg m;
	int slot = -1;
	char *text = NULL;
	agent_msg_init(&m, AGENT_EXEC, 0, 0);

	if (sb->phase != SB_RUNNING && sb->phase != SB_CREATED) {
		kv_err_set(&err, EINVAL, "cannot exec in a container that is not running");
		goto fail;
	}
	text = pj ? json_dumps(pj, JSON_COMPACT) : NULL;
	if (!text) {
		kv_err_set(&err, EINVAL, "exec: no process given");
		goto fail;
	}
	if (oci_process_parse(text, strlen(text), "process", &proc, &err) < 0)
		goto fail;
	if (oci_process_to_agent(proc, sb->cfg->linux_spec.seccomp, &m.u.exec.process, &err) < 0)
		goto fail;
	slot = sb_proc_alloc(sb, false);
	if (slot < 0) {
		kv_err_set(&err, EAGAIN, "too many processes being run by exec (%d)",
			   SANDBOX_MAX_PROCS);
		goto fail;
	}
	/* stdio fds, or with a terminal one connection to the console socket
	 * (the client connects: the jailed sandbox reaches no path) */
	int io[3] = {-1, -1, -1}, console_fd = -1;
	bool term = m.u.exec.process.terminal;
	for (unsigned i = 0; i < nfds && i < 3; i++)
		io[i] = term ? -1 : fds[i];
	if (term && nfds == 1)
		console_fd = fds[0];
	if (sb_stdio_setup(sb, slot, io, console_fd, console ? console : "(exec's)",
			   &m.u.exec.process, &err) < 0)
		goto fail;
	sb->procs[slot].client = client;
	sb->clients[client].proc = slot;
	if (sb_agent_request(sb, &m, exec_done, CTX(slot), &err) < 0)
		goto fail;
	oci_agent_process_free(&m.u.exec.process);
	oci_process_free(proc);
	free(text);
	return;
fail:
	if (slot >= 0) {
		sb_proc_free(sb, slot);
		sb->clients[client].proc = -1;
	}
	oci_agent_process_free(&m.u.exec.process);
	oci_process_free(proc);
	free(text);
	reply_err(sb, client, &err);
}

/* ---- dispatch ---- */

static void do_request(struct sandbox *sb, int client, json_t *req, int *fds, unsigned nfds)
{
	struct kv_err err = {0};
	const char *op = json_string_value(json_object_get(req, "op"));
	struct agent_msg m;
	int r = 0;
	struct sb_client *c = &sb->clients[client];
	if (!op) {
		kv_err_set(&err, EINVAL, "control request without \"op\"");
		reply_err(sb, client, &err);
		return;
	}
	if (sb->debug)
		sb_log(sb, "debug", "control request %s", op);
	if (!strcmp(op, "signal") && c->proc >= 0) {
		/* a foreground exec forwarding a signal to its process */
		struct sb_proc *p = &sb->procs[c->proc];
		json_int_t sig = json_integer_value(json_object_get(req, "signal"));
		if (p->pid && !p->exited && sig > 0 && sig <= AGENT_MAX_SIGNAL) {
			agent_msg_init(&m, AGENT_SIGNAL, 0, 0);
			m.u.signal.pid = p->pid;
			m.u.signal.signo = (uint32_t)sig;
			sb_agent_request(sb, &m, NULL, NULL, &err);
		}
		return; /* no reply: the exit message is what the client waits for */
	}
	if (c->busy) {
		kv_err_set(&err, EBUSY, "one request at a time per connection");
		reply_err(sb, client, &err);
		return;
	}
	c->busy = true;
	if (sb->ckpt.active) {
		kv_err_set(&err, EBUSY, "a checkpoint is in progress");
		reply_err(sb, client, &err);
		for (unsigned i = 0; i < nfds; i++)
			close(fds[i]);
		return;
	}
	/* a frozen guest answers nothing: refuse what needs the agent at once
	 * (kill 9 and resume are handled below) */
	bool needs_agent =
	    strcmp(op, "pause") && strcmp(op, "resume") &&
	    !(!strcmp(op, "kill") && json_integer_value(json_object_get(req, "signal")) == 9);
	if (needs_agent && vm_paused(sb->vm)) {
		kv_err_set(&err, EAGAIN, "the container is paused (resume it first)");
		reply_err(sb, client, &err);
		for (unsigned i = 0; i < nfds; i++)
			close(fds[i]);
		return;
	}
	if (!strcmp(op, "start")) {
		if (sb->phase != SB_CREATED) {
			r = kv_err_set(&err, EINVAL, "the container is not in the created state");
		} else {
			agent_msg_init(&m, AGENT_START, 0, 0);
			r = sb_agent_request(sb, &m, start_done, CTX(client), &err);
		}
	} else if (!strcmp(op, "kill")) {
		json_int_t sig = json_integer_value(json_object_get(req, "signal"));
		if (sig < 1 || sig > AGENT_MAX_SIGNAL) {
			r = kv_err_set(&err, EINVAL, "invalid signal %lld", (long long)sig);
		} else if (sig == 9 && vm_paused(sb->vm)) {
			/* a frozen guest cannot deliver it: end the VM, as SIGKILL
			 * ends a frozen cgroup's processes */
			sb->init_exited = true;
			sb->init_exit = (struct agent_exit){.code = 137, .signal = 9};
			vm_resume(sb->vm);
			sb_stop_vm(sb, "SIGKILL while paused");
			reply_ok(sb, client);
			return;
		} else {
			agent_msg_init(&m, AGENT_SIGNAL, 0, 0);
			m.u.signal.signo = (uint32_t)sig;
			m.u.signal.all = json_is_true(json_object_get(req, "all"));
			r = sb_agent_request(sb, &m, simple_done, CTX(client), &err);
		}
	} else if (!strcmp(op, "ps")) {
		agent_msg_init(&m, AGENT_PS, 0, 0);
		r = sb_agent_request(sb, &m, ps_done, CTX(client), &err);
	} else if (!strcmp(op, "stats")) {
		agent_msg_init(&m, AGENT_STATS, 0, 0);
		r = sb_agent_request(sb, &m, stats_done, CTX(client), &err);
	} else if (!strcmp(op, "pause")) {
		if ((r = vm_pause(sb->vm, PAUSE_TIMEOUT_MS, &err)) == 0)
			reply_ok(sb, client);
	} else if (!strcmp(op, "resume")) {
		vm_resume(sb->vm);
		reply_ok(sb, client);
	} else if (!strcmp(op, "update")) {
		agent_msg_init(&m, AGENT_UPDATE, 0, 0);
		struct agent_update *u = &m.u.update;
		json_int_t v;
#define GET(key, field)                                                                            \
	if (json_is_integer(json_object_get(req, key))) {                                          \
		v = json_integer_value(json_object_get(req, key));                                 \
		u->field = v < 0 ? AGENT_UNLIMITED : (uint64_t)v;                                  \
	}
		GET("cpu_quota", cpu_quota)
		GET("cpu_period", cpu_period)
		GET("cpu_weight", cpu_weight)
		GET("pids_max", pids_max)
#undef GET
		u->cpuset_cpus = (char *)json_string_value(json_object_get(req, "cpuset_cpus"));
		r = sb_agent_request(sb, &m, simple_done, CTX(client), &err);
	} else if (!strcmp(op, "checkpoint")) {
		sb_ckpt_request(sb, client, req, fds, nfds); /* takes the fds */
		return;
	} else if (!strcmp(op, "exec")) {
		do_exec(sb, client, req, fds, nfds);
		for (unsigned i = 0; i < nfds; i++)
			close(fds[i]); /* sb_stdio_setup took dups */
		return;
	} else {
		r = kv_err_set(&err, EOPNOTSUPP, "unknown control request \"%s\"", op);
	}
	if (r < 0)
		reply_err(sb, client, &err);
	for (unsigned i = 0; i < nfds; i++)
		close(fds[i]);
}

static void client_readable(void *ctx, int fd, uint32_t events)
{
	struct sandbox *sb = ctx;
	int client = client_index(sb, fd);
	if (client < 0)
		return;
	json_t *req = NULL;
	int fds[CTL_MAX_FDS];
	unsigned nfds = 0;
	struct kv_err err = {0};
	(void)events;
	int r = ctl_recv(fd, 0, &req, fds, &nfds, &err);
	if (r == -ETIMEDOUT)
		return; /* spurious */
	if (r < 0) {
		for (unsigned i = 0; i < nfds; i++)
			close(fds[i]);
		sb_ctl_close(sb, client);
		return;
	}
	do_request(sb, client, req, fds, nfds);
	json_decref(req);
}

static bool peer_allowed(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return false;
	return cred.uid == 0 || cred.uid == geteuid();
}

static void ctl_acceptable(void *ctx, int fd, uint32_t events)
{
	struct sandbox *sb = ctx;
	struct kv_err err = {0};
	(void)events;
	int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (c < 0)
		return;
	int slot = client_index(sb, -1);
	if (slot < 0 || !peer_allowed(c) ||
	    fd_handlers_add(&sb->vm->handlers, c, EPOLLIN, client_readable, sb, "control client",
			    &err) < 0) {
		close(c);
		return;
	}
	sb->clients[slot] = (struct sb_client){.fd = c, .busy = false, .proc = -1};
}

int sb_ctl_start(struct sandbox *sb, struct kv_err *err)
{
	for (int i = 0; i < SANDBOX_MAX_CLIENTS; i++)
		sb->clients[i] = (struct sb_client){.fd = -1, .proc = -1};
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/%s", sb->dir_fd,
		 CTL_SOCKET_NAME);
	sb->ctl_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (sb->ctl_fd < 0)
		return kv_err_sys(err, errno, "control socket");
	unlinkat(sb->dir_fd, CTL_SOCKET_NAME, 0);
	mode_t old = umask(077);
	int r = bind(sb->ctl_fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r < 0 || listen(sb->ctl_fd, 16) < 0)
		return kv_err_sys(err, errno, "control socket %s/%s/%s", sb->root, sb->id,
				  CTL_SOCKET_NAME);
	return fd_handlers_add(&sb->vm->handlers, sb->ctl_fd, EPOLLIN, ctl_acceptable, sb,
			       "control socket", err);
}

/* An exec'd process ended and its output is delivered: tell its client. */
void sb_ctl_proc_exited(struct sandbox *sb, int slot)
{
	struct sb_proc *p = &sb->procs[slot];
	int client = p->client;
	if (client >= 0 && sb->clients[client].fd >= 0) {
		json_t *msg = json_pack("{s:{s:i, s:i}}", "exit", "code", (int)p->exit.code,
					"signal", (int)p->exit.signal);
		struct kv_err err = {0};
		ctl_send(sb->clients[client].fd, msg, NULL, 0, &err);
		json_decref(msg);
		sb_ctl_close(sb, client);
	}
	sb_proc_free(sb, slot);
}
