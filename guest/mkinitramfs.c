/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kvbox-agent-initramfs AGENT OUT [HOST:GUEST[:MODE]]...
 *
 * Writes the agent initramfs that the VMM builds in memory
 * (agent_initramfs_build_with()) to OUT, with extra host files (octal
 * MODE, default 0755).  For the nested tests and for looking inside with
 * `cpio -t`; kvbox itself never writes this file.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guest/initramfs.h"
#include "util/cleanup.h"

#define MAX_EXTRA 64

static int parse_extra(char *arg, struct initramfs_file *f)
{
	char *guest = strchr(arg, ':');
	if (!guest || guest == arg || !guest[1])
		return -1;
	*guest++ = '\0';
	char *mode = strchr(guest, ':');
	f->mode = 0755;
	if (mode) {
		*mode++ = '\0';
		char *end;
		unsigned long m = strtoul(mode, &end, 8);
		if (*end || m > 07777)
			return -1;
		f->mode = (mode_t)m;
	}
	f->host_path = arg;
	f->guest_path = guest;
	return 0;
}

int main(int argc, char **argv)
{
	struct initramfs_file extra[MAX_EXTRA];
	struct kv_err err = {0};

	if (argc < 3 || argc - 3 > MAX_EXTRA) {
		fprintf(stderr, "usage: %s AGENT OUT [HOST:GUEST[:MODE]]...\n", argv[0]);
		return 2;
	}
	for (int i = 3; i < argc; i++) {
		if (parse_extra(argv[i], &extra[i - 3]) < 0) {
			fprintf(stderr, "%s: bad file argument: %s\n", argv[0], argv[i]);
			return 2;
		}
	}
	cleanup_free uint8_t *buf = NULL;
	size_t len = 0;
	if (agent_initramfs_build_with(argv[1], extra, (size_t)(argc - 3), &buf, &len, &err) < 0) {
		fprintf(stderr, "%s: %s\n", argv[0], err.msg);
		return 1;
	}
	FILE *f = fopen(argv[2], "wb");
	if (!f || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
		fprintf(stderr, "%s: writing %s: %s\n", argv[0], argv[2], strerror(errno));
		return 1;
	}
	return 0;
}
