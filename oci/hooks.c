/* SPDX-License-Identifier: Apache-2.0 */
/*
 * OCI hooks runner (oci/hooks.h).  Per hook:
 *
 *   spawn_hook()   posix_spawn with stdin/stderr pipes, stdout = out_fd,
 *                  fchdir to the bundle, closefrom(3), default signals, own
 *                  process group; an exec failure comes back as posix_spawn's
 *                  errno (glibc reports it), so a missing binary is ENOENT
 *   supervise()    one poll loop: write the state (non-blocking) while the
 *                  hook reads it, copy its stderr through and keep the tail,
 *                  wake on the pidfd (or every 20 ms without pidfds), and
 *                  SIGKILL the process group at the deadline
 *   hook_error()   turns the wait status and the stderr tail into one line
 *
 * SIGPIPE is blocked in the calling thread for the whole run (a hook that
 * exits without reading stdin makes our write fail with EPIPE instead), and
 * a SIGPIPE that became pending because of us is consumed before the mask
 * is restored.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "oci/hooks.h"
#include "util/cleanup.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

#define POLL_TICK_MS	    20 /* without a pidfd, how often waitpid() is tried */
#define DRAIN_MAX_READS	    16 /* stderr reads after exit (a grandchild may keep writing) */
#define LAST_LINE_MAX	    256
#define TIMEOUT_MAX_SECONDS (100LL * 365 * 24 * 3600) /* beyond this: no deadline */

struct hook_run {
	pid_t pid;
	int pidfd, in_w, err_r, out_fd;
	const char *data; /* the state JSON */
	size_t len, off;
	char tail[OCI_HOOK_STDERR_TAIL];
	size_t tail_len;
	int status; /* waitpid() status once reaped */
	bool timed_out;
};

bool oci_hook_kind_fatal(enum oci_hook_kind kind)
{
	return kind != OCI_HOOK_POSTSTART && kind != OCI_HOOK_POSTSTOP;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Moves fd above 0-2 so that the child's dup2() onto 0, 1, 2 cannot
 * clobber another of its sources (when our own stdio was closed). */
static int fd_above_stdio(int *fd)
{
	if (*fd > 2)
		return 0;
	int n = fcntl(*fd, F_DUPFD_CLOEXEC, 3);
	if (n < 0)
		return -errno;
	close(*fd);
	*fd = n;
	return 0;
}

static void write_all_best_effort(int fd, const char *p, size_t n)
{
	while (fd >= 0 && n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return; /* EPIPE, EAGAIN, ...: pass-through is best effort */
		p += w;
		n -= (size_t)w;
	}
}

static void tail_append(struct hook_run *r, const char *p, size_t n)
{
	size_t cap = sizeof(r->tail);
	if (n >= cap) {
		memcpy(r->tail, p + n - cap, cap);
		r->tail_len = cap;
		return;
	}
	if (r->tail_len + n > cap) {
		size_t drop = r->tail_len + n - cap;
		memmove(r->tail, r->tail + drop, r->tail_len - drop);
		r->tail_len -= drop;
	}
	memcpy(r->tail + r->tail_len, p, n);
	r->tail_len += n;
}

/* Reads what the hook wrote to stderr; closes err_r at EOF or error.
 * Returns false when nothing more can be read now. */
static bool pump_stderr(struct hook_run *r)
{
	char buf[4096];
	ssize_t n = read(r->err_r, buf, sizeof(buf));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return false;
	if (n <= 0) {
		close_fd(&r->err_r);
		return false;
	}
	tail_append(r, buf, (size_t)n);
	write_all_best_effort(r->out_fd, buf, (size_t)n);
	return true;
}

/* Writes as much state as the pipe takes; closes in_w when done (EOF for
 * the hook) or when the hook closed its end (EPIPE: it is allowed to not
 * read at all). */
static void pump_stdin(struct hook_run *r)
{
	while (r->off < r->len) {
		ssize_t n = write(r->in_w, r->data + r->off, r->len - r->off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0)
			break;
		r->off += (size_t)n;
	}
	close_fd(&r->in_w);
}

static void kill_hook(struct hook_run *r)
{
	/* the group first (children of a shell script), then the hook itself
	 * in case it left the group */
	kill(-r->pid, SIGKILL);
	kill(r->pid, SIGKILL);
}

/* True once the hook has been reaped into r->status. */
static bool reaped(struct hook_run *r, int flags)
{
	for (;;) {
		pid_t p = waitpid(r->pid, &r->status, flags);
		if (p < 0 && errno == EINTR)
			continue;
		/* ECHILD: someone else reaped it (a SIGCHLD handler); count it
		 * as killed rather than wait forever */
		if (p < 0)
			r->status = SIGKILL;
		return p != 0;
	}
}

static int poll_timeout(const struct hook_run *r, int64_t deadline)
{
	int64_t t = r->pidfd >= 0 ? -1 : POLL_TICK_MS;
	if (deadline >= 0) {
		int64_t left = deadline - now_ms();
		left = left < 0 ? 0 : left;
		t = t < 0 || left < t ? left : t;
	}
	return t > INT32_MAX ? INT32_MAX : (int)t;
}

/* Feeds stdin, copies stderr, reaps the hook or kills it at the deadline
 * (-1: none). */
static void supervise(struct hook_run *r, int64_t deadline)
{
	for (;;) {
		struct pollfd p[3];
		nfds_t n = 0;
		int i_in = -1, i_err = -1;
		if (r->in_w >= 0)
			p[i_in = (int)n++] = (struct pollfd){.fd = r->in_w, .events = POLLOUT};
		if (r->err_r >= 0)
			p[i_err = (int)n++] = (struct pollfd){.fd = r->err_r, .events = POLLIN};
		if (r->pidfd >= 0)
			p[n++] = (struct pollfd){.fd = r->pidfd, .events = POLLIN};
		if (poll(p, n, poll_timeout(r, deadline)) < 0 && errno != EINTR)
			(void)usleep(POLL_TICK_MS * 1000); /* cannot happen; do not spin */
		if (i_in >= 0 && p[i_in].revents)
			pump_stdin(r);
		if (i_err >= 0 && p[i_err].revents)
			pump_stderr(r);
		if (reaped(r, WNOHANG))
			break;
		if (deadline >= 0 && now_ms() >= deadline) {
			kill_hook(r);
			r->timed_out = true;
			reaped(r, 0);
			break;
		}
	}
	/* what is already in the stderr pipe; no waiting for EOF */
	for (int i = 0; i < DRAIN_MAX_READS && r->err_r >= 0 && pump_stderr(r); i++)
		;
}

/* The last non-empty line of the stderr tail, control characters replaced,
 * at most LAST_LINE_MAX bytes (its end kept). */
static void last_line(const struct hook_run *r, char *out, size_t size)
{
	size_t end = r->tail_len;
	while (end > 0 && (r->tail[end - 1] == '\n' || r->tail[end - 1] == '\r'))
		end--;
	size_t start = end;
	while (start > 0 && r->tail[start - 1] != '\n')
		start--;
	if (end - start > size - 1)
		start = end - (size - 1);
	size_t n = 0;
	for (size_t i = start; i < end; i++) {
		unsigned char c = (unsigned char)r->tail[i];
		out[n++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	out[n] = '\0';
}

static int hook_error(const struct hook_run *r, const char *what, int64_t timeout,
		      struct kv_err *err)
{
	char line[LAST_LINE_MAX + 1], how[64];
	int code = ECANCELED;
	last_line(r, line, sizeof(line));
	if (r->timed_out) {
		code = ETIMEDOUT;
		snprintf(how, sizeof(how), "timed out after %lld s (killed)", (long long)timeout);
	} else if (WIFEXITED(r->status)) {
		if (WEXITSTATUS(r->status) == 0)
			return 0;
		snprintf(how, sizeof(how), "exited with status %d", WEXITSTATUS(r->status));
	} else {
		int sig = WIFSIGNALED(r->status) ? WTERMSIG(r->status) : SIGKILL;
		const char *abbrev = sigabbrev_np(sig);
		snprintf(how, sizeof(how), "was killed by signal %d (SIG%s)", sig,
			 abbrev ? abbrev : "?");
	}
	return kv_err_set(err, code, "%s %s%s%s", what, how, line[0] ? ": " : "", line);
}

/* Pipes for stdin (we write) and stderr (we read), both our ends
 * non-blocking, all close-on-exec (the child gets them by dup2). */
static int make_pipes(int in[2], int errp[2])
{
	if (pipe2(in, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(errp, O_CLOEXEC) < 0)
		return -errno;
	if (fcntl(in[1], F_SETFL, O_NONBLOCK) < 0 || fcntl(errp[0], F_SETFL, O_NONBLOCK) < 0)
		return -errno;
	int r = fd_above_stdio(&in[0]);
	if (!r)
		r = fd_above_stdio(&errp[1]);
	return r;
}

static int spawn_hook(const struct oci_hook *hk, int bundle_fd, int in_r, int out, int err_w,
		      pid_t *pid)
{
	char *const *argv = hk->args.n ? hk->args.v : (char *const[]){hk->path, NULL};
	char *const *envp = hk->env.v ? hk->env.v : (char *const[]){NULL};
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, all;
	sigemptyset(&none);
	sigfillset(&all);
	int r = posix_spawn_file_actions_init(&fa);
	if (r)
		return -r;
	if ((r = posix_spawnattr_init(&at))) {
		posix_spawn_file_actions_destroy(&fa);
		return -r;
	}
	if (!(r = posix_spawn_file_actions_adddup2(&fa, in_r, 0)) &&
	    !(r = posix_spawn_file_actions_adddup2(&fa, out, 1)) &&
	    !(r = posix_spawn_file_actions_adddup2(&fa, err_w, 2)) &&
	    !(r = posix_spawn_file_actions_addfchdir_np(&fa, bundle_fd)) &&
	    !(r = posix_spawn_file_actions_addclosefrom_np(&fa, 3)) &&
	    !(r = posix_spawnattr_setsigmask(&at, &none)) &&
	    !(r = posix_spawnattr_setsigdefault(&at, &all)) &&
	    !(r = posix_spawnattr_setpgroup(&at, 0)) &&
	    !(r = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
						    POSIX_SPAWN_SETPGROUP)))
		r = posix_spawn(pid, hk->path, &fa, &at, argv, envp);
	posix_spawnattr_destroy(&at);
	posix_spawn_file_actions_destroy(&fa);
	return -r;
}

/* Runs one hook to the end.  `what` is "createRuntime hook /x (#1)". */
static int run_one(const struct oci_hook *hk, const char *what, const char *state, size_t len,
		   int bundle_fd, int out_fd, struct kv_err *err)
{
	int in[2] = {-1, -1}, errp[2] = {-1, -1};
	cleanup_close int devnull = -1;
	struct hook_run *r = calloc(1, sizeof(*r));
	if (!r)
		return kv_err_set(err, ENOMEM, "%s: out of memory", what);
	int ret = make_pipes(in, errp);
	if (!ret && out_fd < 0 && (devnull = open("/dev/null", O_WRONLY | O_CLOEXEC)) < 0)
		ret = -errno;
	if (!ret && devnull >= 0)
		ret = fd_above_stdio(&devnull);
	int child_out = out_fd >= 0 ? out_fd : devnull;
	if (ret) {
		kv_err_sys(err, -ret, "%s: setting up its stdio", what);
	} else if ((ret = spawn_hook(hk, bundle_fd, in[0], child_out, errp[1], &r->pid))) {
		kv_err_sys(err, -ret, "%s: cannot execute %s", what, hk->path);
	} else {
		close_fd(&in[0]);
		close_fd(&errp[1]);
		r->in_w = take_fd(in[1]);
		r->err_r = take_fd(errp[0]);
		r->out_fd = out_fd;
		r->data = state;
		r->len = len;
		r->pidfd = (int)syscall(SYS_pidfd_open, r->pid, 0);
		int64_t t = hk->timeout.set ? hk->timeout.v : 0;
		int64_t deadline = t > 0 && t < TIMEOUT_MAX_SECONDS ? now_ms() + t * 1000 : -1;
		supervise(r, deadline);
		ret = hook_error(r, what, t, err);
		close_fd(&r->pidfd);
		close_fd(&r->in_w);
		close_fd(&r->err_r);
	}
	for (int i = 0; i < 2; i++) {
		close_fd(&in[i]);
		close_fd(&errp[i]);
	}
	free(r);
	return ret;
}

/* The hooks of one kind, in order; see oci/hooks.h for when it stops. */
static int run_list(const struct oci_hooks *h, enum oci_hook_kind kind, const char *state,
		    size_t len, int bundle_fd, int out_fd, struct kv_err *err)
{
	bool fatal = oci_hook_kind_fatal(kind);
	int first = 0;
	size_t more = 0;
	for (size_t i = 0; i < h->n[kind]; i++) {
		const struct oci_hook *hk = &h->list[kind][i];
		char what[256];
		snprintf(what, sizeof(what), "%s hook %s (#%zu)", oci_hook_kind_name(kind),
			 hk->path, i + 1);
		struct kv_err e = {0};
		int r = run_one(hk, what, state, len, bundle_fd, out_fd, &e);
		if (!r)
			continue;
		if (first) {
			more++;
			continue;
		}
		first = r;
		if (err)
			*err = e;
		if (fatal)
			return r;
	}
	if (more && err) {
		char msg[sizeof(err->msg)];
		memcpy(msg, err->msg, sizeof(msg));
		kv_err_set(err, -first, "%s (and %zu more failed)", msg, more);
	}
	return first;
}

int oci_hooks_run_to(const struct oci_hooks *h, enum oci_hook_kind kind, const json_t *state,
		     const char *bundle, int out_fd, struct kv_err *err)
{
	if ((unsigned)kind >= OCI_HOOK_NKINDS)
		return kv_err_set(err, EINVAL, "hooks: unknown hook kind %d", (int)kind);
	if (!h || !h->n[kind])
		return 0;
	const char *name = oci_hook_kind_name(kind);
	cleanup_free char *text = json_dumps(state, JSON_COMPACT);
	if (!text)
		return kv_err_set(err, ENOMEM, "%s hooks: cannot encode the state", name);
	cleanup_close int bundle_fd = open(bundle, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (bundle_fd < 0)
		return kv_err_sys(err, errno, "%s hooks: bundle %s", name, bundle);

	sigset_t pipe_set, old, pending;
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	sigpending(&pending);
	bool was_pending = sigismember(&pending, SIGPIPE);

	int r = run_list(h, kind, text, strlen(text), bundle_fd, out_fd, err);

	sigpending(&pending);
	if (!was_pending && sigismember(&pending, SIGPIPE)) {
		struct timespec zero = {0};
		sigtimedwait(&pipe_set, NULL, &zero);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return r;
}

int oci_hooks_run(const struct oci_hooks *h, enum oci_hook_kind kind, const json_t *state,
		  const char *bundle, struct kv_err *err)
{
	return oci_hooks_run_to(h, kind, state, bundle, STDERR_FILENO, err);
}
