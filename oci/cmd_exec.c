/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `kvbox exec`: a new process in a running container, run by the guest
 * agent inside the container's namespaces.
 *
 *   exec [--process FILE | ARGS form] [-t|--tty] [--console-socket S]
 *        [-d|--detach] [--pid-file F] [--cwd DIR] [--env|-e K=V]...
 *        [--user|-u UID[:GID]] [--additional-gids|-g GID]... [--cap|-c CAP]...
 *        [--no-new-privs] [--preserve-fds N] [--process-label L]
 *        [--apparmor P] ID [COMMAND [ARG...]]
 *
 * The process starts from the container's own config.json "process"
 * (env, user, capabilities, rlimits, cwd) with the flags applied, as runc
 * does, unless --process gives a whole process JSON.  Our fds 0-2 travel
 * to the sandbox (SCM_RIGHTS) and become the process's stdio; with a
 * terminal, we connect to --console-socket and hand the sandbox that
 * connection (it is jailed: no path reaches it), which it sends the pty
 * master on; without one, a socketpair brings the master back to us and
 * we relay it to our own terminal (raw mode).
 *
 * The exec'd process's status is ours: we keep the control connection
 * open until the sandbox reports the exit, forwarding the signals we get.
 * With --detach a child of ours does the waiting (its pid goes to
 * --pid-file; conmon and the shim wait for it), and we exit at once.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "oci/lifecycle.h"
#include "vmm/ctl.h"

struct exec_args {
	const char *process_file, *console_socket, *pid_file, *cwd, *user;
	bool tty, detach, no_new_privs;
	json_t *env, *gids, *caps; /* arrays of flag values */
	const char *id;
	char **args;
	int nargs;
};

static int parse(struct oci_cli *cli, int argc, char **argv, struct exec_args *a)
{
	enum {
		OPT_PROCESS = 256,
		OPT_CONSOLE,
		OPT_PIDFILE,
		OPT_CWD,
		OPT_NNP,
		OPT_PRESERVE,
		OPT_LABEL,
		OPT_APPARMOR
	};
	static const struct option opts[] = {
	    {"process", required_argument, NULL, 'p'},
	    {"console-socket", required_argument, NULL, OPT_CONSOLE},
	    {"pid-file", required_argument, NULL, OPT_PIDFILE},
	    {"cwd", required_argument, NULL, OPT_CWD},
	    {"env", required_argument, NULL, 'e'},
	    {"user", required_argument, NULL, 'u'},
	    {"additional-gids", required_argument, NULL, 'g'},
	    {"cap", required_argument, NULL, 'c'},
	    {"tty", no_argument, NULL, 't'},
	    {"detach", no_argument, NULL, 'd'},
	    {"no-new-privs", no_argument, NULL, OPT_NNP},
	    {"preserve-fds", required_argument, NULL, OPT_PRESERVE},
	    {"process-label", required_argument, NULL, OPT_LABEL},
	    {"apparmor", required_argument, NULL, OPT_APPARMOR},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	memset(a, 0, sizeof(*a));
	a->env = json_array();
	a->gids = json_array();
	a->caps = json_array();
	int ch;
	while ((ch = getopt_long(argc, argv, "+p:e:u:g:c:tdh", opts, NULL)) != -1) {
		switch (ch) {
		case 'p':
			a->process_file = optarg;
			break;
		case OPT_CONSOLE:
			a->console_socket = optarg;
			break;
		case OPT_PIDFILE:
			a->pid_file = optarg;
			break;
		case OPT_CWD:
			a->cwd = optarg;
			break;
		case 'e':
			if (!strchr(optarg, '=') || optarg[0] == '=')
				return oci_cli_fail(cli, 1, "--env %s: expected NAME=VALUE",
						    optarg);
			json_array_append_new(a->env, json_string(optarg));
			break;
		case 'u':
			a->user = optarg;
			break;
		case 'g': {
			char *end;
			long g = strtol(optarg, &end, 10);
			if (*end || end == optarg || g < 0 || g > 0xfffffffeL)
				return oci_cli_fail(cli, 1, "--additional-gids %s: expected a gid",
						    optarg);
			json_array_append_new(a->gids, json_integer(g));
			break;
		}
		case 'c':
			json_array_append_new(a->caps, json_string(optarg));
			break;
		case 't':
			a->tty = true;
			break;
		case 'd':
			a->detach = true;
			break;
		case OPT_NNP:
			a->no_new_privs = true;
			break;
		case OPT_PRESERVE:
			oci_cli_warn(cli,
				     "--preserve-fds: fds cannot be passed into a VM; ignored");
			break;
		case OPT_LABEL:
		case OPT_APPARMOR:
			break; /* host LSM labels do not apply inside the guest */
		case 'h':
			printf("usage: kvbox exec [--process FILE] [-t] [--console-socket S] [-d] "
			       "[--pid-file F]\n"
			       "                  [--cwd DIR] [-e K=V]... [-u UID[:GID]] [-g "
			       "GID]... [--cap CAP]...\n"
			       "                  ID [COMMAND [ARG...]]\n");
			exit(0);
		default:
			return oci_cli_bad_option(cli, argv, optind, optopt);
		}
	}
	if (argc - optind < 1)
		return oci_cli_nargs(cli, argc, optind, 1, 1, "the container id");
	a->id = argv[optind];
	a->args = argv + optind + 1;
	a->nargs = argc - optind - 1;
	if (!a->process_file && a->nargs == 0)
		return oci_cli_fail(cli, 1, "a command to run is required (or --process)");
	return 0;
}

static void exec_args_fini(struct exec_args *a)
{
	json_decref(a->env);
	json_decref(a->gids);
	json_decref(a->caps);
	a->env = a->gids = a->caps = NULL;
}

/* Replaces or appends NAME=... in env. */
static void env_set(json_t *env, const char *kv)
{
	size_t nlen = (size_t)(strchr(kv, '=') - kv) + 1;
	size_t i;
	json_t *v;
	json_array_foreach(env, i, v)
	{
		const char *s = json_string_value(v);
		if (s && !strncmp(s, kv, nlen)) {
			json_array_set_new(env, i, json_string(kv));
			return;
		}
	}
	json_array_append_new(env, json_string(kv));
}

/* The process JSON to run. */
static int build_process(struct oci_container *c, const struct exec_args *a, json_t **out,
			 struct kv_err *err)
{
	json_error_t je;
	json_t *p;
	if (a->process_file) {
		p = json_load_file(a->process_file, 0, &je);
		if (!p || !json_is_object(p)) {
			json_decref(p);
			return kv_err_set(err, EINVAL, "--process %s: %s", a->process_file,
					  p ? "not a JSON object" : je.text);
		}
	} else {
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "%s/config.json", c->st.bundle);
		json_t *cfg = json_load_file(path, 0, &je);
		json_t *base = cfg ? json_object_get(cfg, "process") : NULL;
		p = base ? json_deep_copy(base) : json_object();
		json_decref(cfg);
		json_t *args = json_array();
		for (int i = 0; i < a->nargs; i++)
			json_array_append_new(args, json_string(a->args[i]));
		json_object_set_new(p, "args", args);
		json_object_set_new(p, "terminal", json_boolean(a->tty));
		json_object_del(p, "consoleSize");
		if (!json_is_string(json_object_get(p, "cwd")))
			json_object_set_new(p, "cwd", json_string("/"));
	}
	if (a->tty)
		json_object_set_new(p, "terminal", json_true());
	if (a->cwd)
		json_object_set_new(p, "cwd", json_string(a->cwd));
	if (json_array_size(a->env)) {
		json_t *env = json_object_get(p, "env");
		if (!json_is_array(env)) {
			env = json_array();
			json_object_set_new(p, "env", env);
		}
		size_t i;
		json_t *v;
		json_array_foreach(a->env, i, v) env_set(env, json_string_value(v));
	}
	json_t *user = json_object_get(p, "user");
	if (!json_is_object(user)) {
		user = json_pack("{s:i, s:i}", "uid", 0, "gid", 0);
		json_object_set_new(p, "user", user);
	}
	if (a->user) {
		char *end;
		long uid = strtol(a->user, &end, 10), gid = 0;
		if (end == a->user || (*end && *end != ':'))
			goto bad_user;
		if (*end == ':') {
			const char *g = end + 1;
			gid = strtol(g, &end, 10);
			if (end == g || *end)
				goto bad_user;
		}
		if (uid < 0 || gid < 0 || uid > 0xfffffffeL || gid > 0xfffffffeL)
			goto bad_user;
		json_object_set_new(user, "uid", json_integer(uid));
		json_object_set_new(user, "gid", json_integer(gid));
	}
	if (json_array_size(a->gids))
		json_object_set(user, "additionalGids", a->gids);
	if (a->no_new_privs)
		json_object_set_new(p, "noNewPrivileges", json_true());
	if (json_array_size(a->caps)) {
		json_t *caps = json_object_get(p, "capabilities");
		if (!json_is_object(caps)) {
			caps = json_object();
			json_object_set_new(p, "capabilities", caps);
		}
		static const char *sets[] = {"bounding", "effective", "permitted"};
		for (size_t s = 0; s < 3; s++) {
			json_t *list = json_object_get(caps, sets[s]);
			if (!json_is_array(list)) {
				list = json_array();
				json_object_set_new(caps, sets[s], list);
			}
			size_t i;
			json_t *v;
			json_array_foreach(a->caps, i, v) json_array_append(list, v);
		}
	}
	*out = p;
	return 0;
bad_user:
	json_decref(p);
	return kv_err_set(err, EINVAL, "--user %s: expected UID[:GID] (numbers)", a->user);
}

__attribute__((noreturn)) static void exit_like(int code, int sig)
{
	if (sig > 0 && sig < 65) {
		struct rlimit none = {0, 0};
		setrlimit(RLIMIT_CORE, &none);
		prctl(PR_SET_DUMPABLE, 0);
		signal(sig, SIG_DFL);
		sigset_t s;
		sigemptyset(&s);
		sigaddset(&s, sig);
		sigprocmask(SIG_UNBLOCK, &s, NULL);
		raise(sig);
		_exit(128 + sig);
	}
	_exit(code & 0xff);
}

/* ---- a terminal of our own (exec -t without --console-socket) ---- */

struct local_tty {
	int sock, peer; /* a socketpair: the sandbox sends the master on peer */
	int master;
	bool raw;
	struct termios saved;
};

static int local_tty_pair(struct local_tty *t, struct kv_err *err)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return kv_err_sys(err, errno, "socketpair for the terminal");
	t->sock = sv[0];
	t->peer = sv[1];
	return 0;
}

static void local_tty_cleanup(struct local_tty *t)
{
	if (t->raw)
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &t->saved);
	t->raw = false;
	if (t->sock >= 0)
		close(t->sock);
	if (t->peer >= 0)
		close(t->peer);
	t->sock = t->peer = -1;
}

/* --console-socket: we connect and hand the connection to the sandbox,
 * which cannot reach paths from its jail. */
static int console_connect(const char *path, int *fd, struct kv_err *err)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa.sun_path))
		return kv_err_set(err, ENAMETOOLONG, "--console-socket %s: path too long", path);
	strcpy(sa.sun_path, path);
	*fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (*fd < 0)
		return kv_err_sys(err, errno, "console socket");
	if (connect(*fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return kv_err_sys(err, errno, "--console-socket %s: connect", path);
	return 0;
}

/* Takes the master the sandbox sent to our socket. */
static int local_tty_accept(struct local_tty *t, struct kv_err *err)
{
	struct pollfd p = {.fd = t->sock, .events = POLLIN};
	if (poll(&p, 1, 10000) <= 0)
		return kv_err_set(err, ETIMEDOUT, "no pty from the sandbox");
	char name[128];
	struct iovec iov = {.iov_base = name, .iov_len = sizeof(name)};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = u.buf,
			    .msg_controllen = sizeof(u.buf)};
	ssize_t n = recvmsg(t->sock, &mh, MSG_CMSG_CLOEXEC);
	struct cmsghdr *c = n >= 0 ? CMSG_FIRSTHDR(&mh) : NULL;
	if (!c || c->cmsg_type != SCM_RIGHTS)
		return kv_err_set(err, EPROTO, "console socket: no pty received");
	memcpy(&t->master, CMSG_DATA(c), sizeof(int));
	struct winsize ws;
	if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0)
		ioctl(t->master, TIOCSWINSZ, &ws);
	if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &t->saved) == 0) {
		struct termios raw = t->saved;
		cfmakeraw(&raw);
		if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw) == 0)
			t->raw = true;
	}
	return 0;
}

static void copy_once(int from, int to, bool *eof)
{
	char buf[16384];
	ssize_t n = read(from, buf, sizeof(buf));
	if (n <= 0) {
		if (n == 0 || (errno != EINTR && errno != EAGAIN))
			*eof = true;
		return;
	}
	for (ssize_t off = 0; off < n;) {
		ssize_t w = write(to, buf + off, (size_t)(n - off));
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		off += w;
	}
}

/* Waits for the exit message, forwarding signals (and relaying a local
 * terminal).  Never returns. */
__attribute__((noreturn)) static void wait_exit(int sock, struct local_tty *t)
{
	static const int fwd[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};
	sigset_t set;
	sigemptyset(&set);
	for (size_t i = 0; i < sizeof(fwd) / sizeof(fwd[0]); i++)
		sigaddset(&set, fwd[i]);
	sigprocmask(SIG_BLOCK, &set, NULL);
	int sfd = signalfd(-1, &set, SFD_CLOEXEC);
	bool in_eof = t == NULL || t->master < 0, out_eof = in_eof;
	for (;;) {
		struct pollfd p[4] = {{.fd = sock, .events = POLLIN},
				      {.fd = sfd, .events = POLLIN},
				      {.fd = in_eof ? -1 : STDIN_FILENO, .events = POLLIN},
				      {.fd = out_eof ? -1 : t->master, .events = POLLIN}};
		if (poll(p, 4, -1) < 0 && errno != EINTR)
			break;
		if (p[3].revents)
			copy_once(t->master, STDOUT_FILENO, &out_eof);
		if (p[2].revents)
			copy_once(STDIN_FILENO, t->master, &in_eof);
		if (p[1].revents) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof(si)) == sizeof(si)) {
				if (si.ssi_signo == SIGWINCH) {
					struct winsize ws;
					if (t && t->master >= 0 &&
					    ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0)
						ioctl(t->master, TIOCSWINSZ, &ws);
				} else {
					json_t *m = json_pack("{s:s, s:i}", "op", "signal",
							      "signal", (int)si.ssi_signo);
					ctl_send(sock, m, NULL, 0, NULL);
					json_decref(m);
				}
			}
		}
		if (p[0].revents) {
			/* the rest of the terminal's output first */
			while (!out_eof && t && t->master >= 0) {
				struct pollfd q = {.fd = t->master, .events = POLLIN};
				if (poll(&q, 1, 100) <= 0)
					break;
				copy_once(t->master, STDOUT_FILENO, &out_eof);
			}
			json_t *msg = NULL;
			struct kv_err err = {0};
			int r = ctl_recv(sock, 0, &msg, NULL, NULL, &err);
			if (t)
				local_tty_cleanup(t);
			json_t *e = r == 0 ? json_object_get(msg, "exit") : NULL;
			if (!e) {
				fprintf(stderr, "kvbox exec: lost the sandbox: %s\n",
					r < 0 ? err.msg : "unexpected message");
				_exit(255);
			}
			exit_like((int)json_integer_value(json_object_get(e, "code")),
				  (int)json_integer_value(json_object_get(e, "signal")));
		}
	}
	if (t)
		local_tty_cleanup(t);
	_exit(255);
}

int oci_cmd_exec(struct oci_cli *cli, int argc, char **argv)
{
	struct exec_args a;
	int r = parse(cli, argc, argv, &a);
	if (r) {
		exec_args_fini(&a);
		return r;
	}
	struct oci_statedir root = {.fd = -1};
	struct oci_container *c = NULL;
	struct kv_err err = {0};
	json_t *proc = NULL, *req = NULL, *reply = NULL;
	struct local_tty tty = {.sock = -1, .peer = -1, .master = -1};
	int sock = -1;
	int console_fd = -1;
	r = oci_container_open(cli, a.id, false, &root, &c, &err);
	if (r == 0)
		r = oci_container_require(
		    c, (1u << OCI_STATUS_RUNNING) | (1u << OCI_STATUS_CREATED), &err);
	if (r == 0)
		r = build_process(c, &a, &proc, &err);
	bool terminal = r == 0 && json_is_true(json_object_get(proc, "terminal"));
	const char *console = a.console_socket;
	if (r == 0 && terminal && console) {
		r = console_connect(console, &console_fd, &err);
	} else if (r == 0 && terminal) {
		if (a.detach)
			r = kv_err_set(&err, EINVAL, "%s",
				       "a terminal with --detach needs --console-socket");
		else if ((r = local_tty_pair(&tty, &err)) == 0)
			console = "(exec's own terminal)";
	}
	if (r == 0) {
		req = json_pack("{s:s, s:O}", "op", "exec", "process", proc);
		if (terminal)
			json_object_set_new(req, "console_socket", json_string(console));
		if ((sock = ctl_connect(c->dirfd, &err)) < 0)
			r = sock;
	}
	if (r == 0) {
		const int fds[3] = {STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO};
		const int con[1] = {console_fd >= 0 ? console_fd : tty.peer};
		r = ctl_call_on(sock, req, terminal ? con : fds, terminal ? 1 : 3,
				OCI_START_TIMEOUT_MS, &reply, &err);
	}
	/* the sandbox has its own copy now */
	if (console_fd >= 0)
		close(console_fd);
	if (tty.peer >= 0)
		close(tty.peer);
	tty.peer = -1;
	if (r == 0 && terminal && !a.console_socket)
		r = local_tty_accept(&tty, &err);
	json_decref(req);
	json_decref(reply);
	json_decref(proc);
	exec_args_fini(&a);
	oci_container_free(c);
	oci_statedir_close(&root);
	if (r < 0) {
		local_tty_cleanup(&tty);
		if (sock >= 0)
			close(sock);
		return oci_cli_fail_err(cli, &err);
	}
	if (!a.detach) {
		if (a.pid_file && oci_write_pid_file(a.pid_file, getpid(), &err) < 0)
			oci_cli_warn(cli, "%s", err.msg);
		wait_exit(sock, terminal ? &tty : NULL);
	}
	fflush(NULL);
	pid_t child = fork();
	if (child < 0)
		return oci_cli_fail(cli, 1, "fork: %s", strerror(errno));
	if (child == 0) {
		/* the waiter: no stdio of ours may keep the caller's pipes open */
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (null >= 0) {
			dup2(null, 0);
			dup2(null, 1);
			dup2(null, 2);
		}
		wait_exit(sock, NULL);
	}
	close(sock);
	if (a.pid_file && oci_write_pid_file(a.pid_file, child, &err) < 0)
		return oci_cli_fail_err(cli, &err);
	return 0;
}
