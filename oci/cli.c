/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The runc-compatible front door (see oci/cli.h): global flags, the
 * command table, `--version`, and the one way a command reports: a line on
 * stderr plus, with `--log`, a line in the log file as runc's logrus would
 * write it (text: time="..." level=error msg="..."; json:
 * {"level":"error","msg":"...","time":"..."}).
 */
#include <limits.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oci/build-info.h"
#include "oci/cli.h"
#include "oci/net.h"
#include "oci/template.h"
#include "security/seccomp.h"
#include "util/cleanup.h"
#include "vmm/kvm.h"

struct oci_cmd {
	const char *name;
	int (*run)(struct oci_cli *cli, int argc, char **argv);
	const char *summary;
	/* Runs under the CLI's seccomp filter (security/seccomp_cli.c).
	 * Not for the commands that run hooks (any program the bundle names)
	 * or exec the sandbox: create, run, start, delete. */
	bool filtered;
};

static const struct oci_cmd commands[] = {
    {"checkpoint", oci_cmd_checkpoint, "save a running container's whole VM to an image directory",
     false},
    {"create", oci_cmd_create, "create a container: boot its microVM, prepare its process", false},
    {"delete", oci_cmd_delete, "delete a container's state (--force: stop it first)", false},
    {"events", oci_cmd_events, "print a container's resource usage as runc stats events", true},
    {"exec", oci_cmd_exec, "run a new process in a running container", true},
    {"features", oci_cmd_features, "print the features this runtime supports, as JSON", true},
    {"kill", oci_cmd_kill, "send a signal to a container's init (--all: every process)", true},
    {"list", oci_cmd_list, "list the containers in --root", true},
    {"pause", oci_cmd_pause, "freeze a container's VM (vCPUs parked)", true},
    {"ps", oci_cmd_ps, "list a container's processes (guest pids)", true},
    {"restore", oci_cmd_restore, "run a container from a checkpoint image", false},
    {"resume", oci_cmd_resume, "thaw a paused container", true},
    {"run", oci_cmd_run, "create and start a container, wait for it, delete it", false},
    {"spec", oci_cmd_spec, "write a default config.json", true},
    {"start", oci_cmd_start, "start a created container's process", false},
    {"state", oci_cmd_state, "print a container's OCI state JSON", true},
    {"template", oci_cmd_template, "build, list or drop the pre-booted VMs containers start from",
     false},
    {"update", oci_cmd_update, "change a running container's resources", true},
};

void oci_cli_version(FILE *f)
{
	fprintf(f, "kvbox version %s\n", KVBOX_VERSION);
	fprintf(f, "commit: %s\n", KVBOX_COMMIT);
	fprintf(f, "spec: %s\n", OCI_STATE_SPEC);
	fprintf(f, "kvm: %s\n", kvm_flavour_name(kvm_detect_flavour()));
}

void oci_cli_usage_commands(FILE *f)
{
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(f,
		"global flags (before the command): --root DIR (default %s), --log FILE,\n"
		"  --log-format text|json, --debug, --systemd-cgroup,\n"
		"  --network sandbox|none (default sandbox: the VM takes over the\n"
		"  interfaces of the container's network namespace; none: loopback only),\n"
		"  --boot-mode cold|template|template-copy (default template, or\n"
		"  KVBOX_BOOT_MODE: start from a pre-booted VM whose RAM is loaded as the\n"
		"  guest touches it, see kvbox template --help; template-copy: RAM copied\n"
		"  in full before the guest runs; cold: boot the kernel)\n",
		OCI_STATEDIR_DEFAULT);
}

const char *oci_default_kernel(void)
{
	static char built[PATH_MAX];
	const char *k = getenv("KVBOX_KERNEL");
	if (k && *k)
		return k;
	/* a build tree: images/build-kernel links build/kernel/{vmlinux,
	 * bzImage}.  vmlinux first: its PVH entry starts the kernel where it
	 * lies, where a bzImage first decompresses itself (seconds under
	 * emulation, ~100 ms on hardware) */
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = 0;
		char *slash = strrchr(exe, '/');
		if (slash) {
			*slash = 0;
			static const char *const names[] = {"vmlinux", "bzImage"};
			for (size_t i = 0; i < 2; i++) {
				snprintf(built, sizeof(built), "%s/kernel/%s", exe, names[i]);
				if (access(built, R_OK) == 0)
					return built;
			}
		}
	}
	return KVBOX_KERNEL_DEFAULT;
}

/* ---- reporting ---- */

/* Go's %q for the text format: quotes, backslashes and control bytes escaped. */
static void put_quoted(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\x%02x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void log_line(struct oci_cli *cli, const char *level, const char *msg)
{
	char when[OCI_TIME_RFC3339_MAX];
	struct timespec now;

	if (!cli->log)
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	oci_time_rfc3339(&now, when);
	if (cli->log_format == OCI_LOG_JSON) {
		json_t *o = json_pack("{s:s, s:s, s:s}", "level", level, "msg", msg, "time", when);
		char *text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
		if (text)
			fprintf(cli->log, "%s\n", text);
		free(text);
		json_decref(o);
	} else {
		fprintf(cli->log, "time=\"%s\" level=%s msg=", when, level);
		put_quoted(cli->log, msg);
		fputc('\n', cli->log);
	}
	fflush(cli->log);
}

__attribute__((format(printf, 3, 0))) static void report(struct oci_cli *cli, const char *level,
							 const char *fmt, va_list ap)
{
	char msg[KV_ERR_MSG_MAX + 128];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	bool to_stderr = strcmp(level, "debug") || !cli->log;
	if (to_stderr) {
		if (cli->cmd)
			fprintf(stderr, "kvbox %s: %s%s\n", cli->cmd,
				strcmp(level, "warning") ? "" : "warning: ", msg);
		else
			fprintf(stderr, "kvbox: %s\n", msg);
	}
	log_line(cli, level, msg);
}

int oci_cli_fail(struct oci_cli *cli, int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	report(cli, "error", fmt, ap);
	va_end(ap);
	return status;
}

int oci_cli_fail_err(struct oci_cli *cli, const struct kv_err *err)
{
	return oci_cli_fail(cli, 1, "%s", err->msg[0] ? err->msg : "failed");
}

void oci_cli_warn(struct oci_cli *cli, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	report(cli, "warning", fmt, ap);
	va_end(ap);
}

void oci_cli_debug(struct oci_cli *cli, const char *fmt, ...)
{
	va_list ap;
	if (!cli->debug)
		return;
	va_start(ap, fmt);
	report(cli, "debug", fmt, ap);
	va_end(ap);
}

int oci_cli_open_root(struct oci_cli *cli, struct oci_statedir *r, bool create, struct kv_err *err)
{
	return oci_statedir_open(r, cli->root, create, err);
}

int oci_cli_nargs(struct oci_cli *cli, int argc, int optind_, int min, int max, const char *what)
{
	int n = argc - optind_;
	if (n >= min && n <= max)
		return 0;
	if (min == max)
		return oci_cli_fail(cli, 1, "\"%s\" requires exactly %d argument(s): %s", cli->cmd,
				    min, what);
	if (n < min)
		return oci_cli_fail(cli, 1, "\"%s\" requires at least %d argument(s): %s", cli->cmd,
				    min, what);
	return oci_cli_fail(cli, 1, "\"%s\" takes at most %d argument(s): %s", cli->cmd, max, what);
}

int oci_cli_bad_option(struct oci_cli *cli, char **argv, int optind_, int optopt_)
{
	const char *arg = argv[optind_ - 1];
	if (optopt_ && arg && strncmp(arg, "--", 2))
		return oci_cli_fail(cli, 1, "flag -%c: unknown, or needs a value", optopt_);
	return oci_cli_fail(cli, 1, "flag %s: unknown, or needs a value (see kvbox %s --help)",
			    arg ? arg : "?", cli->cmd);
}

/* ---- global flags and dispatch ---- */

/* Before the log is open: stderr only, kvbox's status 2 for a bad global flag. */
__attribute__((format(printf, 1, 2))) static int global_fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "kvbox: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	return 2;
}

enum {
	OPT_ROOT = 256,
	OPT_LOG,
	OPT_LOG_FORMAT,
	OPT_DEBUG,
	OPT_SYSTEMD,
	OPT_CRIU,
	OPT_ROOTLESS,
	OPT_NETWORK,
	OPT_BOOT_MODE
};

static const struct option global_opts[] = {
    {"root", required_argument, NULL, OPT_ROOT},
    {"log", required_argument, NULL, OPT_LOG},
    {"log-format", required_argument, NULL, OPT_LOG_FORMAT},
    {"debug", no_argument, NULL, OPT_DEBUG},
    {"systemd-cgroup", no_argument, NULL, OPT_SYSTEMD},
    {"network", required_argument, NULL, OPT_NETWORK},
    {"boot-mode", required_argument, NULL, OPT_BOOT_MODE},
    /* runc's, accepted and ignored: there is no CRIU, and rootless is decided per command */
    {"criu", required_argument, NULL, OPT_CRIU},
    {"rootless", required_argument, NULL, OPT_ROOTLESS},
    {"version", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {0},
};

/* Parses the flags before the command; returns -1 to go on, else an exit status. */
static int parse_globals(struct oci_cli *cli, int argc, char **argv)
{
	int c;
	opterr = 0;
	optind = 0; /* GNU: full reinitialisation */
	while ((c = getopt_long(argc, argv, "+vh", global_opts, NULL)) != -1) {
		switch (c) {
		case OPT_ROOT:
			if (!*optarg)
				return global_fail("--root: empty path");
			cli->root = optarg;
			break;
		case OPT_LOG:
			cli->log_path = optarg;
			break;
		case OPT_LOG_FORMAT:
			if (!strcmp(optarg, "json"))
				cli->log_format = OCI_LOG_JSON;
			else if (!strcmp(optarg, "text"))
				cli->log_format = OCI_LOG_TEXT;
			else
				return global_fail("--log-format %s: expected text or json",
						   optarg);
			break;
		case OPT_DEBUG:
			cli->debug = true;
			break;
		case OPT_SYSTEMD:
			cli->systemd_cgroup = true;
			break;
		case OPT_NETWORK: {
			enum oci_net_mode mode;
			if (oci_net_mode_parse(optarg, &mode) < 0)
				return global_fail("--network %s: expected sandbox or none",
						   optarg);
			cli->network = oci_net_mode_name(mode);
			break;
		}
		case OPT_BOOT_MODE:
			if (strcmp(optarg, "cold") && strcmp(optarg, "template") &&
			    strcmp(optarg, "template-copy"))
				return global_fail("--boot-mode %s: expected cold, template or "
						   "template-copy",
						   optarg);
			cli->template_boot = strcmp(optarg, "cold") != 0;
			cli->template_copy = !strcmp(optarg, "template-copy");
			break;
		case OPT_CRIU:
		case OPT_ROOTLESS:
			break;
		case 'v':
			oci_cli_version(stdout);
			return 0;
		case 'h':
			printf("usage: kvbox [GLOBAL FLAGS] COMMAND [ARGS...]\ncommands:\n");
			oci_cli_usage_commands(stdout);
			return 0;
		default:
			return global_fail("unknown flag or missing value: %s (see kvbox --help)",
					   argv[optind - 1]);
		}
	}
	return -1;
}

static int open_log(struct oci_cli *cli)
{
	if (!cli->log_path)
		return 0;
	int fd = open(cli->log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0 || !(cli->log = fdopen(fd, "a"))) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		fprintf(stderr, "kvbox: --log %s: %s\n", cli->log_path, strerror(e));
		return 1;
	}
	return 0;
}

int oci_cli_main(int argc, char **argv)
{
	const char *bm = getenv("KVBOX_BOOT_MODE");
	struct oci_cli cli = {.root = OCI_STATEDIR_DEFAULT,
			      .log_format = OCI_LOG_TEXT,
			      .template_boot = !bm || strcmp(bm, "cold"),
			      .template_copy = bm && !strcmp(bm, "template-copy")};

	int r = parse_globals(&cli, argc, argv);
	if (r >= 0)
		return r;
	if (open_log(&cli))
		return 1;
	const struct oci_cmd *cmd = NULL;
	for (size_t i = 0; optind < argc && i < ARRAY_SIZE(commands); i++)
		if (!strcmp(argv[optind], commands[i].name))
			cmd = &commands[i];
	if (!cmd) {
		r = optind < argc ? oci_cli_fail(&cli, 2, "unknown command '%s' (see kvbox --help)",
						 argv[optind])
				  : oci_cli_fail(&cli, 2, "no command given (see kvbox --help)");
		if (cli.log)
			fclose(cli.log);
		return r;
	}
	cli.cmd = cmd->name;
	int sub_argc = argc - optind;
	char **sub_argv = argv + optind;
	optind = 0;
	struct kv_err err = {0};
	if (cmd->filtered && kv_seccomp_install(KV_SECCOMP_CLI, &err) < 0) {
		r = oci_cli_fail_err(&cli, &err);
		if (cli.log)
			fclose(cli.log);
		return r;
	}
	r = cmd->run(&cli, sub_argc, sub_argv);
	if (cli.log)
		fclose(cli.log);
	return r;
}
