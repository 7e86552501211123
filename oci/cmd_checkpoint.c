/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `kvbox checkpoint` and `kvbox restore`, with runc's flags:
 *
 *   checkpoint [--image-path DIR] [--work-path DIR] [--leave-running]
 *              [--tcp-established] [--ext-unix-sk] [--shell-job]
 *              [--file-locks] [--manage-cgroups-mode M] [--auto-dedup] ID
 *   restore    [--image-path DIR] [--work-path DIR] [--bundle|-b DIR]
 *              [--detach|-d] [--pid-file F] [--console-socket S]
 *              [--no-subreaper] [--no-pivot] (and checkpoint's no-ops) ID
 *
 * The image is the whole VM (vmm/snapshot.h: memory, vCPUs, devices, each
 * share's 9P session, the vsock's connections) written by the sandbox
 * into DIR/state and DIR/memory (DIR defaults to ./checkpoint, made if
 * missing, as runc's), plus DIR/inventory.img, a one-line note: podman
 * decides a checkpoint exists by CRIU's inventory file.  The sandbox is jailed, so it gets DIR as
 * an open fd.  Without --leave-running the container then stops, as if SIGKILLed, and is deleted,
 * as runc destroys it: its id is free for the restore.
 *
 * restore = create from the image instead of a boot: the container is
 * "running" when restore returns (-d) or, without -d, restore waits for
 * it, forwarding signals, deletes it and exits with its status, like run.
 * The container's stdio is restore's own (a new pty with --console-socket
 * when the process has a terminal).
 *
 * CRIU's own options have no meaning for a VM: the ones that only tune
 * how CRIU treats host resources are accepted and ignored (a VM has no
 * host TCP connections, unix sockets or file locks to carry: the guest's
 * are in its memory); the ones that change what is saved (--pre-dump,
 * --parent-path, --lazy-pages, --page-server, --status-fd, --empty-ns,
 * --lsm-profile, --lsm-mount-context) are refused.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "oci/lifecycle.h"
#include "oci/state.h"
#include "vmm/ctl.h"

#define CKPT_TIMEOUT_MS (600 * 1000) /* memory written under TCG */

enum {
	OPT_IMAGE = 256,
	OPT_WORK,
	OPT_LEAVE,
	OPT_IGNORED,	 /* no argument */
	OPT_IGNORED_ARG, /* with one */
	OPT_REFUSED,
	OPT_REFUSED_ARG,
	OPT_PID_FILE,
	OPT_CONSOLE,
};

#define CRIU_COMMON_OPTS                                                                           \
	{"image-path", required_argument, NULL, OPT_IMAGE},                                        \
	    {"work-path", required_argument, NULL, OPT_WORK},                                      \
	    {"tcp-established", no_argument, NULL, OPT_IGNORED},                                   \
	    {"ext-unix-sk", no_argument, NULL, OPT_IGNORED},                                       \
	    {"shell-job", no_argument, NULL, OPT_IGNORED},                                         \
	    {"file-locks", no_argument, NULL, OPT_IGNORED},                                        \
	    {"auto-dedup", no_argument, NULL, OPT_IGNORED},                                        \
	    {"manage-cgroups-mode", required_argument, NULL, OPT_IGNORED_ARG},                     \
	    {"lazy-pages", no_argument, NULL, OPT_REFUSED},                                        \
	    {"empty-ns", required_argument, NULL, OPT_REFUSED_ARG},                                \
	{                                                                                          \
		"help", no_argument, NULL, 'h'                                                     \
	}

static int refused(struct oci_cli *cli, const char *cmd, const char *opt)
{
	return oci_cli_fail(cli, 1,
			    "%s: %s is a CRIU option with no meaning for a VM checkpoint (the "
			    "whole machine is saved); not supported",
			    cmd, opt);
}

/* The image directory: made if missing (one level, 0700, as runc), and
 * not already holding a checkpoint. */
static int open_image_dir(const char *path, struct kv_err *err)
{
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return kv_err_sys(err, errno, "--image-path %s", path);
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return kv_err_sys(err, errno, "--image-path %s", path);
	if (faccessat(fd, "state", F_OK, AT_SYMLINK_NOFOLLOW) == 0 ||
	    faccessat(fd, "memory", F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
		close(fd);
		return kv_err_set(err, EEXIST, "--image-path %s holds a checkpoint already", path);
	}
	return fd;
}

/* Waits (bounded) for the checkpointed sandbox to end. */
static void wait_gone(struct oci_container *c, int timeout_ms)
{
	for (int waited = 0; waited < timeout_ms; waited += 20) {
		if (!oci_proc_alive(&c->st.sandbox))
			return;
		struct timespec ts = {0, 20 * 1000000L};
		nanosleep(&ts, NULL);
	}
}

int oci_cmd_checkpoint(struct oci_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
	    CRIU_COMMON_OPTS,
	    {"leave-running", no_argument, NULL, OPT_LEAVE},
	    {"pre-dump", no_argument, NULL, OPT_REFUSED},
	    {"parent-path", required_argument, NULL, OPT_REFUSED_ARG},
	    {"page-server", required_argument, NULL, OPT_REFUSED_ARG},
	    {"status-fd", required_argument, NULL, OPT_REFUSED_ARG},
	    {0},
	};
	const char *image = "checkpoint";
	bool leave = false;
	int ch, idx = 0;
	while ((ch = getopt_long(argc, argv, "h", opts, &idx)) != -1) {
		switch (ch) {
		case OPT_IMAGE:
			image = optarg;
			break;
		case OPT_LEAVE:
			leave = true;
			break;
		case OPT_WORK:
		case OPT_IGNORED:
		case OPT_IGNORED_ARG:
			break;
		case OPT_REFUSED:
		case OPT_REFUSED_ARG:
			return refused(cli, "checkpoint", argv[optind - 1]);
		case 'h':
			printf("usage: kvbox checkpoint [--image-path DIR] [--work-path DIR] "
			       "[--leave-running] ID\n");
			exit(0);
		default:
			return oci_cli_bad_option(cli, argv, optind, optopt);
		}
	}
	if (oci_cli_nargs(cli, argc, optind, 1, 1, "the container id"))
		return 1;
	const char *id = argv[optind];
	struct oci_statedir root = {.fd = -1};
	struct oci_container *c = NULL;
	struct kv_err err = {0};
	int r = oci_container_open(cli, id, true, &root, &c, &err);
	if (r == 0)
		r = oci_container_require(c, 1u << OCI_STATUS_RUNNING, &err);
	int dirfd = r == 0 ? open_image_dir(image, &err) : -1;
	if (r == 0 && dirfd < 0)
		r = dirfd;
	if (r == 0) {
		char abs[PATH_MAX];
		json_t *req = json_pack("{s:s, s:s, s:b}", "op", "checkpoint", "image_path",
					realpath(image, abs) ? abs : image, "leave_running", leave);
		json_t *reply = NULL;
		r = ctl_call(c->dirfd, req, &dirfd, 1, CKPT_TIMEOUT_MS, &reply, &err);
		json_decref(req);
		json_decref(reply);
		if (r < 0)
			kv_err_wrap(&err, r, "container \"%s\"", id);
	}
	/* podman looks for CRIU's inventory.img to decide a checkpoint
	 * exists (and then hands the directory back to us as it is) */
	if (r == 0) {
		static const char note[] = "kvbox checkpoint: not a CRIU image; the VM is in "
					   "'state' and 'memory'\n";
		int fd = openat(dirfd, "inventory.img",
				O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0 || write(fd, note, sizeof(note) - 1) != (ssize_t)(sizeof(note) - 1))
			oci_cli_warn(cli, "--image-path %s: inventory.img: %s", image,
				     strerror(errno));
		if (fd >= 0)
			close(fd);
	}
	if (dirfd >= 0)
		close(dirfd);
	if (r == 0 && !leave)
		wait_gone(c, 30000);
	oci_container_free(c);
	oci_statedir_close(&root);
	if (r < 0)
		return oci_cli_fail_err(cli, &err);
	if (!leave) {
		/* as runc: the checkpointed container is destroyed */
		char *del[] = {"delete", "--force", (char *)id, NULL};
		optind = 1;
		return oci_cmd_delete(cli, 3, del);
	}
	return 0;
}

int oci_cmd_restore(struct oci_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
	    CRIU_COMMON_OPTS,
	    {"bundle", required_argument, NULL, 'b'},
	    {"detach", no_argument, NULL, 'd'},
	    {"pid-file", required_argument, NULL, OPT_PID_FILE},
	    {"console-socket", required_argument, NULL, OPT_CONSOLE},
	    {"no-subreaper", no_argument, NULL, OPT_IGNORED},
	    {"no-pivot", no_argument, NULL, OPT_IGNORED},
	    {"lsm-profile", required_argument, NULL, OPT_REFUSED_ARG},
	    {"lsm-mount-context", required_argument, NULL, OPT_REFUSED_ARG},
	    {0},
	};
	const char *image = "checkpoint", *bundle = ".";
	bool detach = false;
	struct oci_create_opts o = {0};
	int ch, idx = 0;
	while ((ch = getopt_long(argc, argv, "b:dh", opts, &idx)) != -1) {
		switch (ch) {
		case OPT_IMAGE:
			image = optarg;
			break;
		case 'b':
			bundle = optarg;
			break;
		case 'd':
			detach = true;
			break;
		case OPT_PID_FILE:
			o.pid_file = optarg;
			break;
		case OPT_CONSOLE:
			o.console_socket = optarg;
			break;
		case OPT_WORK:
		case OPT_IGNORED:
		case OPT_IGNORED_ARG:
			break;
		case OPT_REFUSED:
		case OPT_REFUSED_ARG:
			return refused(cli, "restore", argv[optind - 1]);
		case 'h':
			printf("usage: kvbox restore [--image-path DIR] [--bundle DIR] [--detach] "
			       "[--pid-file FILE]\n                     [--console-socket SOCKET] "
			       "ID\n");
			exit(0);
		default:
			return oci_cli_bad_option(cli, argv, optind, optopt);
		}
	}
	if (oci_cli_nargs(cli, argc, optind, 1, 1, "the container id"))
		return 1;
	const char *id = argv[optind];
	char bundle_abs[PATH_MAX], image_abs[PATH_MAX];
	if (!realpath(bundle, bundle_abs))
		return oci_cli_fail(cli, 1, "bundle %s: %s", bundle, strerror(errno));
	if (!realpath(image, image_abs))
		return oci_cli_fail(cli, 1, "--image-path %s: %s", image, strerror(errno));
	struct stat st;
	if (stat(image_abs, &st) < 0 || !S_ISDIR(st.st_mode))
		return oci_cli_fail(cli, 1, "--image-path %s: not a directory", image);
	o.bundle = bundle_abs;
	o.restore_dir = image_abs;
	o.run = !detach;
	struct kv_err err = {0};
	pid_t pid;
	if (oci_create(cli, id, &o, &pid, &err) < 0)
		return oci_cli_fail_err(cli, &err);
	if (detach)
		return 0;
	int status = oci_wait_forwarding(cli, id, pid);
	char *del[] = {"delete", "--force", (char *)id, NULL};
	optind = 1;
	oci_cmd_delete(cli, 3, del);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}
