/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kvbox's single binary: the runc-compatible OCI commands (later in this
 * folder), the internal process roles (sandbox, gofer), and `boot`, the
 * direct kernel-boot debugging entry point.  This file only dispatches.
 */
#include <stdio.h>
#include <string.h>

#include "gofer/gofer.h"
#include "oci/cli.h"
#include "vmm/boot_cmd.h"
#include "vmm/sandbox.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: kvbox [--version] [GLOBAL FLAGS] COMMAND [ARGS...]\n"
		   "commands:\n"
		   "  boot      boot a kernel image with its console on this terminal\n"
		   "  version   print version and KVM information\n");
	oci_cli_usage_commands(f);
}

static int cmd_version(void)
{
	oci_cli_version(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "--version") || !strcmp(cmd, "-v") || !strcmp(cmd, "version"))
		return cmd_version();
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(cmd, "boot"))
		return cmd_boot(argc - 1, argv + 1);
	/* internal roles, started by kvbox itself (docs/cli.md) */
	if (!strcmp(cmd, "gofer"))
		return cmd_gofer(argc - 1, argv + 1);
	if (!strcmp(cmd, "sandbox"))
		return cmd_sandbox(argc - 1, argv + 1);
	/* the runc-compatible commands and their global flags (oci/cli.c) */
	return oci_cli_main(argc, argv);
}
