/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The runc-compatible command line: global flags, the command table, and
 * how a command reports an error (one line on stderr, and with `--log F`
 * one line appended to F, JSON with `--log-format json`, which is what
 * containerd shows when a command fails).
 *
 * oci/main.c hands everything that is not an internal role or `boot` to
 * oci_cli_main().  It parses the global flags (before the command, as runc),
 * opens the log, and calls the command's entry point with argv[0] = the
 * command name.  A command is one oci/cmd_NAME.c file with
 *   int oci_cmd_NAME(struct oci_cli *cli, int argc, char **argv);
 * declared below and listed in the table in oci/cli.c.  It returns the
 * process exit status: 0, or 1 for every failure including usage errors
 * (as runc); the global level keeps kvbox's 2 for an unknown command/flag.
 */
#ifndef KVBOX_OCI_CLI_H
#define KVBOX_OCI_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "oci/state.h"
#include "util/err.h"

enum oci_log_format {
	OCI_LOG_TEXT,
	OCI_LOG_JSON,
};

struct oci_cli {
	const char *root;     /* --root, default OCI_STATEDIR_DEFAULT */
	const char *log_path; /* --log, NULL: stderr only */
	enum oci_log_format log_format;
	bool debug;	     /* --debug: debug lines to the log (or stderr) */
	bool systemd_cgroup; /* --systemd-cgroup: accepted, kept for the cgroup code */
	const char *network; /* --network sandbox|none (oci/net.h), default sandbox */
	bool template_boot;  /* --boot-mode template (default; KVBOX_BOOT_MODE=cold) */
	bool template_copy;  /* --boot-mode template-copy: RAM copied, not lazy */
	const char *cmd;     /* the command being run, for messages */
	FILE *log;	     /* the opened --log file */
};

/* argv as main() got it.  Returns the exit status. */
int oci_cli_main(int argc, char **argv);

/* `kvbox --version`: runc's lines (version, commit, spec) plus "kvm: FLAVOUR". */
void oci_cli_version(FILE *f);
/* The OCI commands' lines of `kvbox --help`. */
void oci_cli_usage_commands(FILE *f);

/* Reports a failure: "kvbox CMD: MSG" on stderr and an error line in the
 * log; returns status so a command can `return oci_cli_fail(cli, 1, ...)`. */
int oci_cli_fail(struct oci_cli *cli, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* oci_cli_fail with err's message; status 1. */
int oci_cli_fail_err(struct oci_cli *cli, const struct kv_err *err);
/* A warning (stderr + log), the command goes on. */
void oci_cli_warn(struct oci_cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Only with --debug: to the log, or to stderr without --log. */
void oci_cli_debug(struct oci_cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Opens --root; without create a missing root is -ENOENT (no containers). */
int oci_cli_open_root(struct oci_cli *cli, struct oci_statedir *r, bool create, struct kv_err *err);

/* Checks the number of positional arguments left after getopt (runc's
 * "requires exactly N argument(s)" as one line); 0 or exit status 1. */
int oci_cli_nargs(struct oci_cli *cli, int argc, int optind_, int min, int max, const char *what);
/* The one-line message for an option getopt_long rejected. */
int oci_cli_bad_option(struct oci_cli *cli, char **argv, int optind_, int optopt_);

/* The guest kernel kvbox boots for a container: $KVBOX_KERNEL, else
 * kernel/vmlinux or kernel/bzImage beside the kvbox binary (a build tree), else the path
 * configured at build time (KVBOX_KERNEL_DEFAULT). */
const char *oci_default_kernel(void);

/* Signal names and numbers as the guest (Linux x86-64) numbers them:
 * "9", "KILL", "SIGKILL", "sigkill", "RTMIN+3"; 1..64.  -EINVAL with
 * `unknown signal "X"`. */
int oci_signal_parse(const char *s, int *sig, struct kv_err *err);

/* `kill [--all|-a] ID [SIGNAL]` (SIGNAL defaults to SIGTERM), parsed and
 * validated (oci/cmd_kill.c). */
struct oci_kill_args {
	const char *id;
	int sig;
	bool all;
};
int oci_kill_parse_args(int argc, char **argv, struct oci_kill_args *out, struct kv_err *err);

/* Command entry points (argv[0] is the command name). */
int oci_cmd_state(struct oci_cli *cli, int argc, char **argv);
int oci_cmd_list(struct oci_cli *cli, int argc, char **argv);
int oci_cmd_delete(struct oci_cli *cli, int argc, char **argv);
int oci_cmd_features(struct oci_cli *cli, int argc, char **argv);
int oci_cmd_spec(struct oci_cli *cli, int argc, char **argv);
int oci_cmd_create(struct oci_cli *cli, int argc, char **argv);
int oci_cmd_run(struct oci_cli *cli, int argc, char **argv);
int oci_cmd_start(struct oci_cli *cli, int argc, char **argv);
int oci_cmd_kill(struct oci_cli *cli, int argc, char **argv);
int oci_cmd_exec(struct oci_cli *cli, int argc, char **argv);
int oci_cmd_ps(struct oci_cli *cli, int argc, char **argv);
int oci_cmd_events(struct oci_cli *cli, int argc, char **argv);
int oci_cmd_pause(struct oci_cli *cli, int argc, char **argv);
int oci_cmd_resume(struct oci_cli *cli, int argc, char **argv);
int oci_cmd_update(struct oci_cli *cli, int argc, char **argv);
int oci_cmd_checkpoint(struct oci_cli *cli, int argc, char **argv);
int oci_cmd_restore(struct oci_cli *cli, int argc, char **argv);

/* delete's hook for what a container holds outside its state directory:
 * runs after the sandbox is dead, before the directory goes.  Later work
 * adds poststop hooks, taps and cgroups here (oci/cmd_delete.c). */
int oci_container_teardown(struct oci_cli *cli, struct oci_container *c, struct kv_err *err);

#endif
