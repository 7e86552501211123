/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `kvbox spec [--bundle DIR]`: writes runc's default config.json (hostname
 * "kvbox") into DIR or the cwd, and, like runc, refuses to replace an
 * existing one (O_EXCL: no check-then-write race).  `--rootless` is
 * runc's and refused: kvbox has no rootless mode.
 *
 * The default spec is built here until oci/config.c provides
 * oci_config_default_spec() in the build; then this file calls that.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oci/cli.h"
#include "util/cleanup.h"

#define SPEC_VERSION "1.0.2-dev"
#define DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static json_t *caps(void)
{
	return json_pack("[s, s, s]", "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE");
}

static json_t *process(void)
{
	return json_pack("{s:b, s:{s:i, s:i}, s:[s], s:[s, s], s:s, s:{s:o, s:o, s:o, s:o}, "
			 "s:[{s:s, s:i, s:i}], s:b}",
			 "terminal", 1, "user", "uid", 0, "gid", 0, "args", "sh", "env",
			 DEFAULT_PATH, "TERM=xterm", "cwd", "/", "capabilities", "bounding", caps(),
			 "effective", caps(), "permitted", caps(), "ambient", caps(), "rlimits",
			 "type", "RLIMIT_NOFILE", "hard", 1024, "soft", 1024, "noNewPrivileges", 1);
}

static json_t *mount(const char *dest, const char *type, const char *source, json_t *options)
{
	json_t *m =
	    json_pack("{s:s, s:s, s:s}", "destination", dest, "type", type, "source", source);
	if (m && options)
		json_object_set_new(m, "options", options);
	else
		json_decref(options);
	return m;
}

static json_t *mounts(void)
{
	return json_pack(
	    "[o, o, o, o, o, o, o]", mount("/proc", "proc", "proc", NULL),
	    mount("/dev", "tmpfs", "tmpfs",
		  json_pack("[s, s, s, s]", "nosuid", "strictatime", "mode=755", "size=65536k")),
	    mount("/dev/pts", "devpts", "devpts",
		  json_pack("[s, s, s, s, s, s]", "nosuid", "noexec", "newinstance",
			    "ptmxmode=0666", "mode=0620", "gid=5")),
	    mount("/dev/shm", "tmpfs", "shm",
		  json_pack("[s, s, s, s, s]", "nosuid", "noexec", "nodev", "mode=1777",
			    "size=65536k")),
	    mount("/dev/mqueue", "mqueue", "mqueue",
		  json_pack("[s, s, s]", "nosuid", "noexec", "nodev")),
	    mount("/sys", "sysfs", "sysfs",
		  json_pack("[s, s, s, s]", "nosuid", "noexec", "nodev", "ro")),
	    mount("/sys/fs/cgroup", "cgroup", "cgroup",
		  json_pack("[s, s, s, s, s]", "nosuid", "noexec", "nodev", "relatime", "ro")));
}

static json_t *linux_part(void)
{
	return json_pack("{s:{s:[{s:b, s:s}]}, s:[{s:s}, {s:s}, {s:s}, {s:s}, {s:s}, {s:s}], "
			 "s:[s, s, s, s, s, s, s, s, s, s], s:[s, s, s, s, s]}",
			 "resources", "devices", "allow", 0, "access", "rwm", "namespaces", "type",
			 "pid", "type", "network", "type", "ipc", "type", "uts", "type", "mount",
			 "type", "cgroup", "maskedPaths", "/proc/acpi", "/proc/asound",
			 "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
			 "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi",
			 "readonlyPaths", "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
			 "/proc/sysrq-trigger");
}

/* runc 1.1's `runc spec`, with kvbox's hostname. */
static json_t *default_spec(void)
{
	return json_pack("{s:s, s:o, s:{s:s, s:b}, s:s, s:o, s:o}", "ociVersion", SPEC_VERSION,
			 "process", process(), "root", "path", "rootfs", "readonly", 1, "hostname",
			 "kvbox", "mounts", mounts(), "linux", linux_part());
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static int write_spec(const char *bundle, struct kv_err *err)
{
	cleanup_close int dfd = open(bundle, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return kv_err_sys(err, errno, "bundle %s", bundle);
	json_t *spec = default_spec();
	cleanup_free char *text =
	    spec ? json_dumps(spec, JSON_INDENT(4) | JSON_PRESERVE_ORDER) : NULL;
	json_decref(spec);
	if (!text)
		return kv_err_set(err, ENOMEM, "out of memory");
	cleanup_close int fd =
	    openat(dfd, "config.json", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
	if (fd < 0 && errno == EEXIST)
		return kv_err_set(err, EEXIST, "File %s/config.json exists. Remove it first",
				  bundle);
	if (fd < 0)
		return kv_err_sys(err, errno, "create %s/config.json", bundle);
	int r = write_all(fd, text, strlen(text));
	if (r == 0)
		r = write_all(fd, "\n", 1);
	if (r < 0) {
		unlinkat(dfd, "config.json", 0);
		return kv_err_sys(err, -r, "write %s/config.json", bundle);
	}
	return 0;
}

int oci_cmd_spec(struct oci_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {{"bundle", required_argument, NULL, 'b'},
					     {"rootless", no_argument, NULL, 'r'},
					     {"help", no_argument, NULL, 'h'},
					     {0}};
	const char *bundle = ".";
	struct kv_err err = {0};
	int ch;

	while ((ch = getopt_long(argc, argv, "b:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'b':
			bundle = optarg;
			break;
		case 'r':
			return oci_cli_fail(cli, 1,
					    "--rootless: rootless containers are not supported "
					    "by kvbox (run it as root)");
		case 'h':
			printf("usage: kvbox spec [-b|--bundle DIR]\n"
			       "Writes a default config.json into DIR (default: the current "
			       "directory).\n");
			return 0;
		default:
			return oci_cli_bad_option(cli, argv, optind, optopt);
		}
	}
	if (oci_cli_nargs(cli, argc, optind, 0, 0, "none"))
		return 1;
	if (write_spec(bundle, &err) < 0)
		return oci_cli_fail_err(cli, &err);
	return 0;
}
