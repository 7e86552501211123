/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `kvbox kill [--all|-a] ID [SIGNAL]`: the sandbox asks the guest agent to
 * signal the container's init (or, with --all, every process of the
 * container).  The container must be created, running or paused (a paused
 * VM takes only SIGKILL, which ends it).  When the sandbox does not answer
 * and the signal is SIGKILL, the sandbox process itself is killed (pid +
 * start time checked through a pidfd), which ends the VM and the
 * container with it.  No lock is taken, as in runc: kill must work while
 * another command holds the container.
 *
 * Signal numbers are the guest's (Linux x86-64), written out rather than
 * taken from the host's <signal.h>.  Real-time signals follow docker:
 * RTMIN is 34 (glibc's SIGRTMIN), RTMAX 64.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "oci/cli.h"
#include "oci/lifecycle.h"
#include "util/cleanup.h"

#define SIG_MAX	    64
#define SIG_RTMIN   34
#define SIG_RTMAX   64
#define SIG_DEFAULT 15 /* SIGTERM */
#define SIGKILL_NUM 9

static const struct {
	const char *name;
	int num;
} signals[] = {
    {"HUP", 1},	  {"INT", 2},	{"QUIT", 3},  {"ILL", 4},     {"TRAP", 5},    {"ABRT", 6},
    {"IOT", 6},	  {"BUS", 7},	{"FPE", 8},   {"KILL", 9},    {"USR1", 10},   {"SEGV", 11},
    {"USR2", 12}, {"PIPE", 13}, {"ALRM", 14}, {"TERM", 15},   {"STKFLT", 16}, {"CHLD", 17},
    {"CLD", 17},  {"CONT", 18}, {"STOP", 19}, {"TSTP", 20},   {"TTIN", 21},   {"TTOU", 22},
    {"URG", 23},  {"XCPU", 24}, {"XFSZ", 25}, {"VTALRM", 26}, {"PROF", 27},   {"WINCH", 28},
    {"IO", 29},	  {"POLL", 29}, {"PWR", 30},  {"SYS", 31},
};

/* "N" in 1..SIG_MAX, whole string; -1 otherwise. */
static int number(const char *s)
{
	char *end;
	if (!*s || *s == '+' || *s == '-' || *s == ' ')
		return -1;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *end || v < 1 || v > SIG_MAX)
		return -1;
	return (int)v;
}

/* RTMIN, RTMIN+N, RTMAX, RTMAX-N (name already without "SIG"). */
static int realtime(const char *name)
{
	int n = 0;
	if (!strncasecmp(name, "RTMIN", 5)) {
		if (name[5] && (name[5] != '+' || (n = number(name + 6)) < 0))
			return -1;
		return SIG_RTMIN + n <= SIG_RTMAX ? SIG_RTMIN + n : -1;
	}
	if (!strncasecmp(name, "RTMAX", 5)) {
		if (name[5] && (name[5] != '-' || (n = number(name + 6)) < 0))
			return -1;
		return SIG_RTMAX - n >= SIG_RTMIN ? SIG_RTMAX - n : -1;
	}
	return -1;
}

int oci_signal_parse(const char *s, int *sig, struct kv_err *err)
{
	const char *name = s;

	if (*s >= '0' && *s <= '9') {
		*sig = number(s);
		if (*sig < 0)
			return kv_err_set(err, EINVAL, "invalid signal \"%.32s\": not 1 to %d", s,
					  SIG_MAX);
		return 0;
	}
	if (!strncasecmp(name, "SIG", 3))
		name += 3;
	for (size_t i = 0; i < ARRAY_SIZE(signals); i++) {
		if (!strcasecmp(name, signals[i].name)) {
			*sig = signals[i].num;
			return 0;
		}
	}
	*sig = realtime(name);
	if (*sig < 0)
		return kv_err_set(err, EINVAL, "unknown signal \"%.32s\"", s);
	return 0;
}

int oci_kill_parse_args(int argc, char **argv, struct oci_kill_args *out, struct kv_err *err)
{
	static const struct option opts[] = {{"all", no_argument, NULL, 'a'}, {0}};
	int ch;

	*out = (struct oci_kill_args){.sig = SIG_DEFAULT};
	opterr = 0;
	optind = 0;
	/* '+': "kill ID -9" must not read -9 as a flag by permuting */
	while ((ch = getopt_long(argc, argv, "+a", opts, NULL)) != -1) {
		if (ch != 'a')
			return kv_err_set(err, EINVAL, "flag %s: unknown",
					  argv[optind - 1] ? argv[optind - 1] : "?");
		out->all = true;
	}
	int n = argc - optind;
	if (n < 1 || n > 2)
		return kv_err_set(err, EINVAL,
				  "\"kill\" requires 1 or 2 arguments: the container id and "
				  "optionally a signal");
	int r = oci_id_validate(argv[optind], err);
	if (r < 0)
		return r;
	out->id = argv[optind];
	if (n == 2)
		return oci_signal_parse(argv[optind + 1], &out->sig, err);
	return 0;
}

int oci_cmd_kill(struct oci_cli *cli, int argc, char **argv)
{
	struct oci_kill_args a;
	struct kv_err err = {0};
	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("usage: kvbox kill [--all|-a] ID [SIGNAL]\n"
		       "Sends SIGNAL (default SIGTERM; a number or a name) to the container.\n");
		return 0;
	}
	if (oci_kill_parse_args(argc, argv, &a, &err) < 0)
		return oci_cli_fail_err(cli, &err);
	struct oci_statedir root = {.fd = -1};
	struct oci_container *c = NULL;
	int r = oci_container_open(cli, a.id, false, &root, &c, &err);
	if (r == 0)
		r = oci_container_require(c,
					  (1u << OCI_STATUS_CREATED) | (1u << OCI_STATUS_RUNNING) |
					      (1u << OCI_STATUS_PAUSED),
					  &err);
	if (r == 0) {
		json_t *req =
		    json_pack("{s:s, s:i, s:b}", "op", "kill", "signal", a.sig, "all", a.all);
		json_t *reply = NULL;
		r = oci_container_call(c, req, OCI_CTL_TIMEOUT_MS, &reply, &err);
		json_decref(req);
		json_decref(reply);
		if (r < 0 && a.sig == SIGKILL_NUM && r != -EINVAL) {
			oci_cli_debug(cli, "%s; SIGKILL to the sandbox", err.msg);
			r = oci_proc_kill_wait(&c->st.sandbox, 10000, &err);
		}
	}
	oci_container_free(c);
	oci_statedir_close(&root);
	return r < 0 ? oci_cli_fail_err(cli, &err) : 0;
}
