/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The create sequence and what the lifecycle commands share; see
 * oci/lifecycle.h.
 *
 * create, in order (runtime-spec "Lifecycle"):
 *   1. config.json parsed and converted for the guest (every error
 *      before anything exists);
 *   2. ROOT/ID made with its lock held, status "creating";
 *   3. the host cgroup made (oci/cgroup.h) and recorded in ROOT/ID/cgroup;
 *      the sandbox forked, moved into the cgroup, then exec'd as
 *      `kvbox sandbox`, in its own session, with our fds 0-2 as the container's stdio and a pipe it
 *      reports readiness on ("ready GOFER_PID" / "error MESSAGE");
 *      every other fd is closed (the shim's socket must not leak); its
 *      pid and start time saved at once (still "creating"), so a delete
 *      after this command was killed finds it;
 *   4. state "created" saved with the sandbox's pid and start time;
 *   5. prestart, createRuntime, createContainer hooks;
 *   6. the pid file, last.
 * A failure at 3-6 kills the sandbox (and whatever is in its cgroup) and
 * removes the cgroup and ROOT/ID.
 */
#include "oci/lifecycle.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "guest/initramfs.h"
#include "oci/cgroup.h"
#include "oci/hooks.h"
#include "oci/net.h"
#include "oci/spec_agent.h"
#include "oci/template.h"
#include "util/cleanup.h"
#include "vmm/ctl.h"
#include "vmm/sandbox.h"
#include "vmm/kvm.h"
#include "vmm/template.h"
#include "vmm/vm_boot.h"

int oci_container_open(struct oci_cli *cli, const char *id, bool lock, struct oci_statedir *root,
		       struct oci_container **out, struct kv_err *err)
{
	*out = NULL;
	int r = oci_id_validate(id, err);
	if (r < 0)
		return r;
	r = oci_cli_open_root(cli, root, false, err);
	if (r == -ENOENT)
		return kv_err_set(err, ENOENT, "container \"%s\" does not exist", id);
	if (r < 0)
		return r;
	r = oci_state_load(root, id, lock ? OCI_LOAD_LOCK : 0, out, err);
	if (r == 0)
		oci_state_refresh(*out);
	return r;
}

int oci_container_call(struct oci_container *c, const json_t *req, int timeout_ms, json_t **reply,
		       struct kv_err *err)
{
	int r = ctl_call(c->dirfd, req, NULL, 0, timeout_ms, reply, err);
	if (r < 0)
		return kv_err_wrap(err, r, "container \"%s\"", c->st.id);
	return 0;
}

int oci_container_require(const struct oci_container *c, unsigned mask, struct kv_err *err)
{
	if (mask & (1u << c->st.status))
		return 0;
	switch (c->st.status) {
	case OCI_STATUS_STOPPED:
		return kv_err_set(err, EINVAL, "container \"%s\" is stopped", c->st.id);
	case OCI_STATUS_CREATING:
		return kv_err_set(err, EBUSY, "container \"%s\" is still being created", c->st.id);
	default:
		return kv_err_set(err, EINVAL, "container \"%s\" is %s", c->st.id,
				  oci_status_name(c->st.status));
	}
}

int oci_write_pid_file(const char *path, pid_t pid, struct kv_err *err)
{
	char tmp[PATH_MAX];
	int n = snprintf(tmp, sizeof(tmp), "%s.kvbox-tmp.%d", path, (int)getpid());
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return kv_err_set(err, ENAMETOOLONG, "--pid-file %s: path too long", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return kv_err_sys(err, errno, "--pid-file %s", path);
	char buf[32];
	int len = snprintf(buf, sizeof(buf), "%d", (int)pid);
	bool ok = write(fd, buf, (size_t)len) == len;
	ok = close(fd) == 0 && ok;
	if (!ok || rename(tmp, path) < 0) {
		int e = errno ? errno : EIO;
		unlink(tmp);
		return kv_err_sys(err, e, "--pid-file %s", path);
	}
	return 0;
}

int oci_container_hooks(struct oci_cli *cli, struct oci_container *c, int kind, struct kv_err *err)
{
	(void)cli;
	struct oci_config *cfg = NULL;
	int r = oci_config_load(c->st.bundle, &cfg, err);
	/* a bundle removed before `delete` (as clients do) has no hooks left
	 * to run: not an error, as for runc, which keeps none either */
	if (r < 0 && kind == OCI_HOOK_POSTSTOP && access(c->st.bundle, F_OK) < 0)
		return 0;
	if (r < 0 && kind == OCI_HOOK_POSTSTOP && r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	if (cfg->hooks.n[kind] == 0) {
		oci_config_free(cfg);
		return 0;
	}
	json_t *state = oci_state_json(&c->st);
	r = state ? oci_hooks_run(&cfg->hooks, (enum oci_hook_kind)kind, state, c->st.bundle, err)
		  : kv_err_set(err, ENOMEM, "state JSON");
	json_decref(state);
	oci_config_free(cfg);
	return r;
}

/* ---- create ---- */

/* What create works from once the config has passed: the VM's size and
 * the host cgroup's path and limits (strings in cfg). */
struct create_plan {
	struct oci_config *cfg;
	uint64_t mem_bytes;
	unsigned ncpus;
	char template_dir[PATH_MAX]; /* "" = boot cold */
	char cg_path[OCI_CG_PATH_MAX];
	struct oci_cg_limits cg;
};

/* Everything `create` can check before anything exists. */
static int precheck(const struct oci_create_opts *o, const char *id, bool systemd,
		    struct create_plan *p, struct kv_err *err)
{
	int r = oci_config_load(o->bundle, &p->cfg, err);
	if (r < 0)
		return r;
	struct oci_config *cfg = p->cfg;
	if (!cfg->process)
		return kv_err_set(err, EINVAL,
				  "%s/config.json: process: required to create a "
				  "container",
				  o->bundle);
	if (cfg->process->terminal && !o->console_socket)
		return kv_err_set(err, EINVAL,
				  "process.terminal is true but no --console-socket was given");
	struct agent_create ac = {0};
	struct oci_vm_plan plan = {0};
	r = oci_spec_to_agent(cfg, id, SANDBOX_MAX_SHARES, &ac, &plan, err);
	if (r == 0)
		r = oci_cg_path(cfg->linux_spec.cgroups_path, systemd, id, p->cg_path,
				sizeof(p->cg_path), err);
	if (r == 0)
		oci_cg_limits_from(cfg->linux_spec.resources, plan.mem_bytes, plan.ncpus, &p->cg);
	p->mem_bytes = plan.mem_bytes;
	p->ncpus = plan.ncpus;
	oci_agent_create_free(&ac);
	oci_vm_plan_free(&plan);
	if (r < 0)
		return kv_err_wrap(err, r, "%s/config.json", o->bundle);
	const char *kernel = oci_default_kernel();
	if (access(kernel, R_OK) < 0)
		return kv_err_set(err, errno,
				  "guest kernel %s: %s (build it with images/build-kernel, or set "
				  "KVBOX_KERNEL)",
				  kernel, strerror(errno));
	char agent[PATH_MAX];
	return agent_binary_path(agent, sizeof(agent), err);
}

/* --boot-mode template: the template for this VM size, built now if it
 * is missing (before anything of the container exists, and outside its
 * cgroup).  A template that cannot be built means a cold boot (a debug
 * line: the container does not depend on the cache, and what broke the
 * build, a bad kernel say, is then reported by the boot itself). */
static void pick_template(struct oci_cli *cli, struct create_plan *p)
{
	p->template_dir[0] = 0;
	if (!cli->template_boot)
		return;
	struct template_params tp;
	struct kv_err err = {0};
	bool built = false;
	/* a template can exist only for a kernel this host boots (on a PVM
	 * host the cold boot then says why not) */
	if (kvm_detect_flavour() == KVM_FLAVOUR_PVM &&
	    !vm_boot_kernel_runs_here(oci_default_kernel())) {
		oci_cli_debug(cli, "booting cold: %s cannot run on this host's KVM",
			      oci_default_kernel());
		return;
	}
	if (template_params_init(&tp, p->mem_bytes, p->ncpus, &err) < 0 ||
	    template_ensure(cli, &tp, false, p->template_dir, sizeof(p->template_dir), &built,
			    &err) < 0) {
		oci_cli_debug(cli, "no template, booting cold: %s", err.msg);
		p->template_dir[0] = 0;
		return;
	}
	oci_cli_debug(cli, "template %s%s", p->template_dir, built ? " (built now)" : "");
}

/* The host cgroup (oci/cgroup.h), made and recorded in ROOT/ID before the
 * sandbox exists, so that a failure from here on, or a `delete --force`
 * after a killed create, finds and removes it. */
static int make_cgroup(struct oci_cli *cli, struct oci_container *c, const struct create_plan *p,
		       struct oci_cgroup *cg, struct kv_err *err)
{
	struct oci_cg_layout l;
	int r = oci_cg_layout_read(NULL, NULL, &l, err);
	if (r < 0)
		return r;
	r = oci_cg_create(&l, p->cg_path, &p->cg, cg, err);
	oci_cg_layout_fini(&l);
	if (r < 0)
		return r;
	if ((r = oci_cg_save(c->dirfd, cg, err)) < 0) {
		oci_cg_destroy(cg, NULL);
		oci_cg_fini(cg);
		return r;
	}
	oci_cli_debug(cli, "container \"%s\": host cgroup %s (memory.max %llu, pids.max %llu)",
		      c->st.id, p->cg_path, (unsigned long long)p->cg.mem_max,
		      (unsigned long long)p->cg.pids_max);
	return 0;
}

/* The child: becomes `kvbox sandbox`.  Never returns. */
__attribute__((noreturn)) static void exec_sandbox(struct oci_cli *cli, const char *id,
						   const struct oci_create_opts *o,
						   const char *root, const char *template_dir,
						   int ready, int go)
{
	/* wait until the parent has moved us into the cgroup: one byte, or
	 * EOF when it could not (then it kills us anyway) */
	char b;
	ssize_t got;
	while ((got = read(go, &b, 1)) < 0 && errno == EINTR)
		;
	if (got != 1)
		_exit(127);
	close(go);
	setsid();
	/* the ready pipe goes right after the fds we keep (0-2); all others
	 * close (runc's --preserve-fds cannot reach into a VM) */
	int target = 3;
	if (ready != target) {
		if (dup2(ready, target) < 0)
			_exit(127);
	} else {
		fcntl(target, F_SETFD, 0);
	}
	syscall(SYS_close_range, target + 1, ~0U, 0);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	const char *argv[24];
	int n = 0;
	argv[n++] = "kvbox";
	argv[n++] = "sandbox";
	argv[n++] = "--root";
	argv[n++] = root;
	argv[n++] = "--bundle";
	argv[n++] = o->bundle;
	argv[n++] = "--ready-fd";
	argv[n++] = "3";
	if (o->console_socket) {
		argv[n++] = "--console-socket";
		argv[n++] = o->console_socket;
	}
	if (cli->log_path) {
		argv[n++] = "--log";
		argv[n++] = cli->log_path;
		argv[n++] = "--log-format";
		argv[n++] = cli->log_format == OCI_LOG_JSON ? "json" : "text";
	}
	if (cli->debug)
		argv[n++] = "--debug";
	if (cli->network) {
		argv[n++] = "--network";
		argv[n++] = cli->network;
	}
	if (o->restore_dir) {
		argv[n++] = "--restore";
		argv[n++] = o->restore_dir;
	} else if (template_dir[0]) {
		argv[n++] = "--template";
		argv[n++] = template_dir;
		if (cli->template_copy)
			argv[n++] = "--template-copy";
	}
	argv[n++] = id;
	argv[n] = NULL;
	execv("/proc/self/exe", (char **)argv);
	dprintf(STDERR_FILENO, "kvbox create: exec of the sandbox failed: %s\n", strerror(errno));
	_exit(127);
}

static unsigned create_timeout_s(void)
{
	const char *v = getenv("KVBOX_CREATE_TIMEOUT");
	long t = v ? strtol(v, NULL, 10) : 0;
	return t > 0 ? (unsigned)t : OCI_CREATE_TIMEOUT_S;
}

/* Reads the sandbox's one line; 0 with *gofer on "ready". */
static int wait_ready(int fd, pid_t child, pid_t *gofer, struct kv_err *err)
{
	char line[KV_ERR_MSG_MAX + 64];
	size_t len = 0;
	unsigned timeout = create_timeout_s();
	time_t end = time(NULL) + timeout;
	for (;;) {
		int left = (int)(end - time(NULL));
		if (left <= 0)
			return kv_err_set(err, ETIMEDOUT,
					  "the sandbox was not ready within %u s "
					  "(KVBOX_CREATE_TIMEOUT)",
					  timeout);
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int r = poll(&p, 1, left * 1000);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			continue;
		ssize_t n = read(fd, line + len, sizeof(line) - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		if (memchr(line, '\n', len) || len == sizeof(line) - 1)
			break;
	}
	line[len] = 0;
	char *nl = strchr(line, '\n');
	if (nl)
		*nl = 0;
	if (!strncmp(line, "ready ", 6)) {
		*gofer = (pid_t)atoi(line + 6);
		return 0;
	}
	if (!strncmp(line, "error ", 6))
		return kv_err_set(err, EIO, "%s", line + 6);
	/* EOF comes as its fds close, a moment before it can be reaped:
	 * give it up to 2 s to say how it ended (SIGSYS: a seccomp kill). */
	int status = 0;
	for (int i = 0; i < 200; i++) {
		pid_t w = waitpid(child, &status, WNOHANG);
		if (w == child) {
			if (WIFSIGNALED(status))
				return kv_err_set(
				    err, EIO, "the sandbox died of signal %d (%s) while starting",
				    WTERMSIG(status), strsignal(WTERMSIG(status)));
			return kv_err_set(err, EIO,
					  "the sandbox exited with status %d while starting",
					  WEXITSTATUS(status));
		}
		if (w < 0 && errno != EINTR)
			break;
		usleep(10000);
	}
	return kv_err_set(err, EIO, "the sandbox stopped talking while starting");
}

/* With --debug, the last lines of the guest console of a create that
 * failed go to the debug log before ROOT/ID (and console.log in it) is
 * removed. */
static void debug_console_tail(struct oci_cli *cli, struct oci_container *c)
{
	char buf[2048];
	if (!cli->debug)
		return;
	int fd = openat(c->dirfd, "console.log", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return;
	off_t end = lseek(fd, 0, SEEK_END);
	off_t from = end > (off_t)sizeof(buf) - 1 ? end - (off_t)sizeof(buf) + 1 : 0;
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, from);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = 0;
	char *line = from ? strchr(buf, '\n') : buf; /* skip a cut first line */
	for (char *save = NULL, *l = strtok_r(line ? line : buf, "\r\n", &save); l;
	     l = strtok_r(NULL, "\r\n", &save))
		oci_cli_debug(cli, "guest console: %s", l);
}

static void kill_child(pid_t pid)
{
	kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

int oci_create(struct oci_cli *cli, const char *id, const struct oci_create_opts *o, pid_t *sandbox,
	       struct kv_err *err)
{
	struct oci_statedir root = {.fd = -1};
	struct oci_container *c = NULL;
	struct create_plan plan = {0};
	struct oci_cgroup cg = {0};
	int r = oci_id_validate(id, err);
	if (r < 0)
		return r;
	if ((r = precheck(o, id, cli->systemd_cgroup, &plan, err)) < 0) {
		oci_config_free(plan.cfg);
		return r;
	}
	if (!o->restore_dir)
		pick_template(cli, &plan);
	if ((r = oci_cli_open_root(cli, &root, true, err)) < 0) {
		oci_config_free(plan.cfg);
		return r;
	}
	if ((r = oci_state_create(&root, id, o->bundle, &c, err)) < 0) {
		if (r == -EEXIST)
			kv_err_set(err, EEXIST, "container \"%s\" already exists", id);
		oci_statedir_close(&root);
		oci_config_free(plan.cfg);
		return r;
	}
	if (o->preserve_fds > 0)
		oci_cli_warn(cli, "--preserve-fds %d: fds cannot be passed into a VM; closed",
			     o->preserve_fds);
	int pipefd[2] = {-1, -1}, go[2] = {-1, -1};
	pid_t child = -1, gofer = -1;
	if ((r = make_cgroup(cli, c, &plan, &cg, err)) < 0)
		goto fail;
	if (pipe2(pipefd, O_CLOEXEC) < 0 || pipe2(go, O_CLOEXEC) < 0) {
		r = kv_err_sys(err, errno, "pipe");
		goto fail;
	}
	fflush(NULL);
	child = fork();
	if (child < 0) {
		r = kv_err_sys(err, errno, "fork");
		goto fail;
	}
	if (child == 0) {
		close(pipefd[0]);
		close(go[1]);
		exec_sandbox(cli, id, o, root.path, plan.template_dir, pipefd[1], go[0]);
	}
	close(pipefd[1]);
	close(go[0]);
	pipefd[1] = go[0] = -1;
	/* the sandbox is known before it is ready, so that a delete after
	 * this command was killed can end it (the sandbox also ends by itself
	 * when it sees the ready pipe's reader gone: vmm/sandbox.c) */
	if ((r = oci_proc_identify(child, &c->st.sandbox, err)) < 0 ||
	    (r = oci_state_save(c, err)) < 0)
		goto fail;
	/* into the cgroup before it execs, so before any guest code runs; the
	 * gofer it forks inherits it */
	if ((r = oci_cg_enter(&cg, child, err)) < 0)
		goto fail;
	if (write(go[1], "g", 1) != 1) {
		r = kv_err_sys(err, errno, "starting the sandbox");
		goto fail;
	}
	close(go[1]);
	go[1] = -1;
	r = wait_ready(pipefd[0], child, &gofer, err);
	close(pipefd[0]);
	pipefd[0] = -1;
	if (r < 0)
		goto fail;
	if (plan.template_dir[0])
		template_ws_adopt(cli, plan.template_dir, c->dirfd, plan.mem_bytes);
	c->st.status = o->restore_dir ? OCI_STATUS_RUNNING : OCI_STATUS_CREATED;
	free(c->st.rootfs);
	c->st.rootfs = strdup(plan.cfg->root.path);
	if (gofer > 0)
		oci_proc_identify(gofer, &c->st.gofer, NULL);
	char sock[PATH_MAX];
	snprintf(sock, sizeof(sock), "%s/%s", c->dir, CTL_SOCKET_NAME);
	free(c->st.control_socket);
	c->st.control_socket = strdup(sock);
	if ((r = oci_state_save(c, err)) < 0)
		goto fail;
	if ((r = oci_container_hooks(cli, c, OCI_HOOK_PRESTART, err)) < 0 ||
	    (r = oci_container_hooks(cli, c, OCI_HOOK_CREATE_RUNTIME, err)) < 0 ||
	    (r = oci_container_hooks(cli, c, OCI_HOOK_CREATE_CONTAINER, err)) < 0)
		goto fail;
	if (o->pid_file && (r = oci_write_pid_file(o->pid_file, child, err)) < 0)
		goto fail;
	*sandbox = child;
	oci_cg_fini(&cg);
	oci_config_free(plan.cfg);
	oci_container_free(c);
	oci_statedir_close(&root);
	return 0;
fail:
	for (int i = 0; i < 2; i++) {
		if (pipefd[i] >= 0)
			close(pipefd[i]);
		if (go[i] >= 0)
			close(go[i]);
	}
	if (child > 0)
		kill_child(child);
	debug_console_tail(cli, c);
	if (c->st.gofer.pid)
		oci_proc_kill_wait(&c->st.gofer, 5000, NULL);
	/* kills anything left inside (a gofer not yet reported) and removes it */
	struct kv_err cerr = {0};
	if (oci_cg_teardown(c->dirfd, &cerr) < 0)
		oci_cli_warn(cli, "%s", cerr.msg);
	oci_cg_fini(&cg);
	/* what the killed sandbox had not given back yet (its interfaces'
	 * addresses and routes, taps, qdiscs: ROOT/ID/net), before ROOT/ID
	 * and that record go */
	struct kv_err nerr = {0};
	if (oci_net_cleanup(c->dirfd, &nerr) < 0)
		oci_cli_warn(cli, "container \"%s\": its network: %s", id, nerr.msg);
	oci_state_destroy(c, NULL);
	oci_container_free(c);
	oci_statedir_close(&root);
	oci_config_free(plan.cfg);
	return r;
}

/* ---- start ---- */

int oci_start_locked(struct oci_cli *cli, struct oci_container *c, struct kv_err *err)
{
	if (c->st.status != OCI_STATUS_CREATED) {
		if (c->st.status == OCI_STATUS_STOPPED)
			return kv_err_set(err, EINVAL, "cannot start a container that has stopped");
		return kv_err_set(err, EINVAL, "cannot start an already %s container",
				  oci_status_name(c->st.status));
	}
	int r = oci_container_hooks(cli, c, OCI_HOOK_START_CONTAINER, err);
	if (r < 0)
		return r;
	/* "running" is saved first: a state that cannot be written (a full
	 * disk) fails start before anything ran, instead of leaving a running
	 * container that state.json calls "created" */
	c->st.status = OCI_STATUS_RUNNING;
	if ((r = oci_state_save(c, err)) < 0) {
		c->st.status = OCI_STATUS_CREATED;
		return kv_err_wrap(err, r, "container \"%s\" not started", c->st.id);
	}
	json_t *req = json_pack("{s:s}", "op", "start");
	json_t *reply = NULL;
	r = oci_container_call(c, req, OCI_START_TIMEOUT_MS, &reply, err);
	json_decref(req);
	json_decref(reply);
	if (r < 0) {
		c->st.status = OCI_STATUS_CREATED;
		if (oci_state_save(c, NULL) < 0)
			/* state.json says "running" for an init that never ran:
			 * make it true the other way, the container is over */
			oci_proc_kill_wait(&c->st.sandbox, 10000, NULL);
		return r;
	}
	struct kv_err herr = {0};
	if (oci_container_hooks(cli, c, OCI_HOOK_POSTSTART, &herr) < 0)
		oci_cli_warn(cli, "%s", herr.msg);
	return 0;
}
