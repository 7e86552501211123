/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `kvbox create` and `kvbox run`, with runc's flags:
 *
 *   create [--bundle|-b DIR] [--pid-file F] [--console-socket S]
 *          [--preserve-fds N] [--no-pivot] [--no-new-keyring] ID
 *   run    (the same) [--detach|-d] [--keep] ID
 *
 * create leaves the container "created": the sandbox (the VMM) runs
 * detached from us with the container's init prepared in the guest; its
 * pid is the pid file's.  run = create + start, then (without -d) waits
 * for the container, forwarding the signals we get to it, removes it
 * (unless --keep) and exits with its status: the code, or 128 + the
 * signal that killed it.  The sequence is oci_create() (oci/lifecycle.c).
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "oci/lifecycle.h"

struct create_args {
	struct oci_create_opts o;
	char bundle_abs[PATH_MAX];
	bool detach, keep;
	const char *id;
};

static int parse(struct oci_cli *cli, int argc, char **argv, bool run, struct create_args *a)
{
	enum { OPT_PRESERVE = 256, OPT_NO_PIVOT, OPT_NO_KEYRING, OPT_KEEP };
	static const struct option opts[] = {
	    {"bundle", required_argument, NULL, 'b'},
	    {"pid-file", required_argument, NULL, 'p'},
	    {"console-socket", required_argument, NULL, 'c'},
	    {"preserve-fds", required_argument, NULL, OPT_PRESERVE},
	    {"no-pivot", no_argument, NULL, OPT_NO_PIVOT},
	    {"no-new-keyring", no_argument, NULL, OPT_NO_KEYRING},
	    {"detach", no_argument, NULL, 'd'},
	    {"keep", no_argument, NULL, OPT_KEEP},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	memset(a, 0, sizeof(*a));
	const char *bundle = ".";
	int ch;
	while ((ch = getopt_long(argc, argv, run ? "b:dh" : "b:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'b':
			bundle = optarg;
			break;
		case 'p':
			a->o.pid_file = optarg;
			break;
		case 'c':
			a->o.console_socket = optarg;
			break;
		case OPT_PRESERVE: {
			char *end;
			long n = strtol(optarg, &end, 10);
			if (*end || end == optarg || n < 0 || n > 4096)
				return oci_cli_fail(cli, 1, "--preserve-fds %s: expected a count",
						    optarg);
			a->o.preserve_fds = (int)n;
			break;
		}
		case OPT_NO_PIVOT:
		case OPT_NO_KEYRING:
			break; /* accepted: the guest always pivots, keyrings are the guest's */
		case 'd':
			if (!run)
				return oci_cli_bad_option(cli, argv, optind, optopt);
			a->detach = true;
			break;
		case OPT_KEEP:
			if (!run)
				return oci_cli_bad_option(cli, argv, optind, optopt);
			a->keep = true;
			break;
		case 'h':
			printf("usage: kvbox %s [--bundle DIR] [--pid-file FILE] [--console-socket "
			       "SOCKET]\n       %*s [--preserve-fds N]%s ID\n",
			       run ? "run" : "create", run ? 3 : 6, "",
			       run ? " [--detach] [--keep]" : "");
			exit(0);
		default:
			return oci_cli_bad_option(cli, argv, optind, optopt);
		}
	}
	if (oci_cli_nargs(cli, argc, optind, 1, 1, "the container id"))
		return 1;
	a->id = argv[optind];
	if (!realpath(bundle, a->bundle_abs))
		return oci_cli_fail(cli, 1, "bundle %s: %s", bundle, strerror(errno));
	a->o.bundle = a->bundle_abs;
	a->o.run = run;
	return 0;
}

int oci_cmd_create(struct oci_cli *cli, int argc, char **argv)
{
	struct create_args a;
	int r = parse(cli, argc, argv, false, &a);
	if (r)
		return r;
	struct kv_err err = {0};
	pid_t pid;
	if (oci_create(cli, a.id, &a.o, &pid, &err) < 0)
		return oci_cli_fail_err(cli, &err);
	return 0;
}

/* Waits for the sandbox (our child), forwarding signals to the container.
 * Returns the wait status. */
int oci_wait_forwarding(struct oci_cli *cli, const char *id, pid_t child)
{
	static const int fwd[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
	sigset_t set;
	sigemptyset(&set);
	for (size_t i = 0; i < sizeof(fwd) / sizeof(fwd[0]); i++)
		sigaddset(&set, fwd[i]);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);
	int sfd = signalfd(-1, &set, SFD_CLOEXEC);
	int status = 0;
	for (;;) {
		pid_t w = waitpid(child, &status, WNOHANG);
		if (w == child)
			break;
		if (w < 0 && errno != EINTR)
			return 255 << 8;
		struct pollfd p = {.fd = sfd, .events = POLLIN};
		if (poll(&p, 1, 1000) <= 0)
			continue;
		struct signalfd_siginfo si;
		if (read(sfd, &si, sizeof(si)) != sizeof(si) || si.ssi_signo == SIGCHLD)
			continue;
		struct oci_statedir root = {.fd = -1};
		struct oci_container *c = NULL;
		struct kv_err err = {0};
		if (oci_container_open(cli, id, false, &root, &c, &err) == 0) {
			json_t *req =
			    json_pack("{s:s, s:i}", "op", "kill", "signal", (int)si.ssi_signo);
			json_t *reply = NULL;
			if (oci_container_call(c, req, OCI_CTL_TIMEOUT_MS, &reply, &err) < 0)
				oci_cli_warn(cli, "forwarding signal %u: %s", si.ssi_signo,
					     err.msg);
			json_decref(req);
			json_decref(reply);
		}
		oci_container_free(c);
		oci_statedir_close(&root);
	}
	close(sfd);
	return status;
}

int oci_cmd_run(struct oci_cli *cli, int argc, char **argv)
{
	struct create_args a;
	int r = parse(cli, argc, argv, true, &a);
	if (r)
		return r;
	struct kv_err err = {0};
	pid_t pid;
	if (oci_create(cli, a.id, &a.o, &pid, &err) < 0)
		return oci_cli_fail_err(cli, &err);
	struct oci_statedir root = {.fd = -1};
	struct oci_container *c = NULL;
	r = oci_container_open(cli, a.id, true, &root, &c, &err);
	if (r == 0)
		r = oci_start_locked(cli, c, &err);
	oci_container_free(c);
	oci_statedir_close(&root);
	if (r < 0) {
		/* runc removes a container whose start failed under run */
		char *del[] = {"delete", "--force", (char *)a.id, NULL};
		oci_cli_fail_err(cli, &err);
		optind = 1;
		oci_cmd_delete(cli, 3, del);
		return 1;
	}
	if (a.detach)
		return 0;
	int status = oci_wait_forwarding(cli, a.id, pid);
	if (!a.keep) {
		char *del[] = {"delete", "--force", (char *)a.id, NULL};
		optind = 1;
		oci_cmd_delete(cli, 3, del);
	}
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}
