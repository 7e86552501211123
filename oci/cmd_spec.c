/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `kvbox spec [--bundle DIR]`: writes runc's default config.json (hostname
 * "kvbox") into DIR or the cwd, and, like runc, refuses to replace an
 * existing one (O_EXCL: no check-then-write race).  `--rootless` is
 * runc's and refused: kvbox has no rootless mode.
 *
 * The spec itself is oci/config_spec.c's (oci_config_default_spec), next
 * to the parser that must accept it.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oci/cli.h"
#include "oci/config.h"
#include "util/cleanup.h"

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
	cleanup_free char *text = oci_config_default_spec_text();
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
