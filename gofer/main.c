/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `kvbox gofer`: the internal process role the VMM starts (gofer/client.c).
 * Order matters: close every fd we were not given, point stdin/stdout at
 * /dev/null (the guest console owns the terminal), parse and check the
 * shares, open each share directory and /proc/self/fd while the host's
 * filesystem is still visible, enter the jail, serve.  Messages go to
 * stderr as one "kvbox gofer: ..." line; exit 0 on a clean end, 1 on a
 * failure, 2 on bad arguments.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gofer/gofer.h"
#include "security/seccomp.h"
#include "util/cleanup.h"
#include "util/jail.h"
#include "vmm/lazy_mem.h"
#include "virtio/p9.h"

int gofer_share_parse(char *spec, struct gofer_share *out, struct kv_err *err)
{
	size_t n = strlen(spec);
	char *colon;

	memset(out, 0, sizeof(*out));
	/* ":ro" is the flag only when a ':' is left before it for the tag */
	if (n > 3 && !strcmp(spec + n - 3, ":ro") && memchr(spec, ':', n - 3)) {
		out->readonly = true;
		spec[n - 3] = '\0';
	}
	colon = strrchr(spec, ':');
	if (!colon || colon == spec)
		return kv_err_set(err, EINVAL, "share '%s' is not HOST_DIR:TAG[:ro]", spec);
	*colon = '\0';
	int r = virtio_p9_check_tag(colon + 1, err);
	if (r)
		return kv_err_wrap(err, r, "share '%s'", spec);
	snprintf(out->tag, sizeof(out->tag), "%s", colon + 1);
	out->path = spec;
	return 0;
}

int gofer_shares_check(const struct gofer_share *sh, unsigned n, struct kv_err *err)
{
	struct stat st;

	if (n == 0 || n > GOFER_MAX_SHARES)
		return kv_err_set(err, EINVAL, "%u shares given (1 to %d)", n, GOFER_MAX_SHARES);
	for (unsigned i = 0; i < n; i++) {
		if (stat(sh[i].path, &st) < 0)
			return kv_err_sys(err, errno, "share directory '%s'", sh[i].path);
		if (!S_ISDIR(st.st_mode))
			return kv_err_set(err, ENOTDIR, "share '%s' is not a directory",
					  sh[i].path);
		for (unsigned j = 0; j < i; j++)
			if (!strcmp(sh[i].tag, sh[j].tag))
				return kv_err_set(err, EINVAL, "mount tag '%s' given twice",
						  sh[i].tag);
	}
	return 0;
}

/* Keeps 0-2 and `keep`; stdin and stdout become /dev/null. */
static int close_other_fds(int keep, struct kv_err *err)
{
	int r = jail_close_fds(keep, err);
	if (r < 0)
		return r;
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null < 0)
		return kv_err_sys(err, errno, "open /dev/null");
	if (dup2(null, 0) < 0 || dup2(null, 1) < 0)
		return kv_err_sys(err, errno, "dup2 /dev/null");
	if (null > 1)
		close(null);
	return 0;
}

static int parse_int(const char *s, long min, long max, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

struct gofer_args {
	long ctl, parent;
	bool lazy_mem;
	struct gofer_share shares[GOFER_MAX_SHARES];
	unsigned nshares;
};

static int parse_args(int argc, char **argv, struct gofer_args *a, struct kv_err *err)
{
	static const struct option longopts[] = {
	    {"control-fd", required_argument, NULL, 'c'},
	    {"share", required_argument, NULL, 's'},
	    {"parent-pid", required_argument, NULL, 'p'},
	    {"lazy-mem", no_argument, NULL, 'l'},
	    {NULL, 0, NULL, 0},
	};
	int c, r;

	memset(a, 0, sizeof(*a));
	a->ctl = -1;
	a->parent = -1;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			if (parse_int(optarg, 3, INT_MAX, &a->ctl))
				return kv_err_set(err, EINVAL, "bad --control-fd '%s'", optarg);
			break;
		case 'p':
			if (parse_int(optarg, 1, INT_MAX, &a->parent))
				return kv_err_set(err, EINVAL, "bad --parent-pid '%s'", optarg);
			break;
		case 'l':
			a->lazy_mem = true;
			break;
		case 's':
			if (a->nshares == GOFER_MAX_SHARES)
				return kv_err_set(err, EINVAL, "more than %d shares",
						  GOFER_MAX_SHARES);
			if ((r = gofer_share_parse(optarg, &a->shares[a->nshares], err)))
				return r;
			a->nshares++;
			break;
		default:
			return kv_err_set(err, EINVAL, "unknown argument '%s'", argv[optind - 1]);
		}
	}
	if (optind != argc)
		return kv_err_set(err, EINVAL, "unexpected argument '%s'", argv[optind]);
	if (a->ctl < 0)
		return kv_err_set(err, EINVAL, "--control-fd is required");
	return gofer_shares_check(a->shares, a->nshares, err);
}

static int open_dirs(struct gofer_opts *o, struct kv_err *err)
{
	for (unsigned i = 0; i < o->nshares; i++) {
		o->share_fds[i] = open(o->shares[i].path, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (o->share_fds[i] < 0)
			return kv_err_sys(err, errno, "open share '%s'", o->shares[i].path);
	}
	o->proc_fd = open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (o->proc_fd < 0)
		return kv_err_sys(err, errno, "open /proc/self/fd");
	return 0;
}

static void close_dirs(struct gofer_opts *o)
{
	for (unsigned i = 0; i < o->nshares; i++)
		if (o->share_fds[i] >= 0)
			close(o->share_fds[i]);
	if (o->proc_fd >= 0)
		close(o->proc_fd);
}

int cmd_gofer(int argc, char **argv)
{
	struct kv_err err = {0};
	struct gofer_args a;
	struct gofer_opts o = {.proc_fd = -1, .uffd = -1};
	int r;

	/* exec'd through /proc/self/exe: named for ps and top, as the
	 * sandbox and its threads are */
	prctl(PR_SET_NAME, "kvbox-gofer");
	for (unsigned i = 0; i < GOFER_MAX_SHARES; i++)
		o.share_fds[i] = -1;
	if (parse_args(argc, argv, &a, &err)) {
		fprintf(stderr, "kvbox gofer: %s\n", err.msg);
		return 2;
	}
	o.ctl = (int)a.ctl;
	o.shares = a.shares;
	o.nshares = a.nshares;
	if ((r = close_other_fds(o.ctl, &err)) == 0 && (r = open_dirs(&o, &err)) == 0) {
		/* with CAP_SYS_PTRACE, before the jail (faults taken in the
		 * kernel need it); without one the VMM copies RAM instead */
		if (a.lazy_mem && (o.uffd = lazy_mem_uffd()) < 0)
			o.uffd = -1;
		r = gofer_jail(&o, (pid_t)a.parent, &err);
	}
	if (r == 0)
		r = kv_seccomp_install(KV_SECCOMP_GOFER, &err);
	bool filtered = r == 0;
	if (r == 0)
		r = gofer_run(&o, &err);
	close_dirs(&o);
	if (r)
		fprintf(stderr, "kvbox gofer: %s\n", err.msg);
	/* Under the filter, end here: exit()'s atexit work is not ours to
	 * vouch for (an ASan build's leak check forks a tracer), and there
	 * is nothing to flush (stdout is /dev/null, stderr unbuffered). */
	if (filtered)
		_exit(r ? 1 : 0);
	return r ? 1 : 0;
}
