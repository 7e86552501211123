/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the host <-> agent protocol decoder
 * (guest/protocol.c).  The input is a byte stream of frames, read the way
 * the agent and the VMM read their vsock stream: header first, then the
 * payload length it announces (clamped to what is left).  Each frame the
 * decoder accepts must re-encode, decode again, and re-encode to the same
 * bytes (the encoding of a decoded message is canonical), and every
 * string in it must be NUL-terminated within the arena (ASan checks the
 * reads).  A decoder failure must be one of the documented errors.
 *
 * Seed corpus: build with -DFUZZ_AGENT_GEN_CORPUS (no -fsanitize=fuzzer)
 * to get a program that writes tests/fuzz/corpus/agent_proto/:
 *   cc -D_GNU_SOURCE -DFUZZ_AGENT_GEN_CORPUS -I. tests/fuzz/fuzz_agent_proto.c \
 *      guest/protocol.c -o gen && ./gen tests/fuzz/corpus/agent_proto
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guest/protocol.h"

#define TRAP() __builtin_trap()

static void touch_str(const char *s)
{
	if (s && strlen(s) > AGENT_STR_MAX)
		TRAP();
}

static void touch_strv(char **v, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		touch_str(v[i]);
	if (n && v[n])
		TRAP();
}

static void touch(const struct agent_msg *m)
{
	if (m->hdr.type == AGENT_CREATE && !m->hdr.flags) {
		const struct agent_create *c = &m->u.create;
		touch_strv(c->process.args, c->process.nargs);
		touch_strv(c->process.env, c->process.nenv);
		touch_strv(c->masked_paths, c->nmasked_paths);
		for (uint32_t i = 0; i < c->nmounts; i++)
			touch_str(c->mounts[i].data);
		if (!c->process.cwd || c->process.cwd[0] != '/')
			TRAP(); /* the semantic check promised this */
	}
}

static void check_frame(const uint8_t *buf, size_t len)
{
	struct agent_msg d, d2;
	int r = agent_msg_decode(buf, len, &d);
	if (r < 0) {
		if (r != -EPROTO && r != -EBADMSG && r != -EMSGSIZE && r != -EINVAL &&
		    r != -E2BIG && r != -ENOMEM)
			TRAP();
		agent_msg_free(&d);
		return;
	}
	touch(&d);
	uint8_t *e1 = NULL, *e2 = NULL;
	long n1 = agent_msg_encode_alloc(&d, &e1);
	if (n1 < 0 || (size_t)n1 > len)
		TRAP(); /* re-encoding drops only skipped or zero fields */
	if (agent_msg_decode(e1, (size_t)n1, &d2) != 0)
		TRAP();
	long n2 = agent_msg_encode_alloc(&d2, &e2);
	if (n2 != n1 || memcmp(e1, e2, (size_t)n1))
		TRAP();
	free(e1);
	free(e2);
	agent_msg_free(&d);
	agent_msg_free(&d2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0;
	for (int frames = 0; off < size && frames < 64; frames++) {
		struct agent_hdr h;
		size_t left = size - off;
		int r = agent_hdr_decode(data + off, left, &h);
		if (r == -EAGAIN)
			break;
		size_t flen = r == -EMSGSIZE ? left : AGENT_HDR_SIZE + (size_t)h.len;
		if (flen > left)
			flen = left;
		/* an exact-size copy, so ASan sees any read past the frame */
		uint8_t *f = malloc(flen);
		if (!f)
			return 0;
		memcpy(f, data + off, flen);
		check_frame(f, flen);
		free(f);
		off += flen;
	}
	return 0;
}

#ifdef FUZZ_AGENT_GEN_CORPUS
static void write_seed(const char *dir, const char *name, const struct agent_msg *m)
{
	uint8_t *buf = NULL;
	long n = agent_msg_encode_alloc(m, &buf);
	if (n < 0) {
		fprintf(stderr, "%s: encode failed (%ld)\n", name, n);
		exit(1);
	}
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(buf, 1, (size_t)n, f) != (size_t)n || fclose(f)) {
		perror(path);
		exit(1);
	}
	free(buf);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	const char *dir = argv[1];
	struct agent_msg m;
	static char *args[] = {"/bin/busybox", "sh", "-c", "id; hostname", NULL};
	static char *env[] = {"PATH=/bin", "HOME=/", NULL};
	static uint32_t groups[] = {10, 20};
	static struct agent_rlimit rl[] = {{7, 1024, 2048}};
	static struct agent_mount mounts[] = {
	    {"/proc", "proc", "proc", NULL, 0xe, 0, NULL},
	    {"/data", "bind", "kvboxdata", "sub", 1, 0x44000, NULL},
	    {"/dev", "tmpfs", "tmpfs", NULL, 2, 0, "mode=755"},
	};
	static char *masked[] = {"/proc/kcore", NULL};
	static struct agent_sysctl sc[] = {{"kernel.msgmax", "4242"}};
	static struct agent_device dev[] = {{"/dev/fuse", 'c', 10, 229, 0666, 0, 0}};
	static struct agent_proc_info procs[] = {{1, 0, 0, "sh"}, {7, 1, 1000, "sleep 1"}};

	agent_msg_init(&m, AGENT_HELLO, AGENT_F_EVENT, 0);
	m.u.hello = (struct agent_hello){1, "0.1.0", "6.1.0-kvbox", 123, 45};
	write_seed(dir, "hello", &m);

	agent_msg_init(&m, AGENT_CREATE, 0, 1);
	struct agent_create *c = &m.u.create;
	c->container_id = "ctr";
	c->process = (struct agent_process){.args = args,
					    .nargs = 4,
					    .env = env,
					    .nenv = 2,
					    .cwd = "/",
					    .uid = 1000,
					    .gid = 1000,
					    .groups = groups,
					    .ngroups = 2,
					    .umask = 022,
					    .rlimits = rl,
					    .nrlimits = 1,
					    .cap_bounding = 0x421,
					    .cap_effective = 0x420,
					    .cap_permitted = 0x420,
					    .cap_inheritable = 0x420,
					    .cap_ambient = 0x420,
					    .no_new_privs = true,
					    .stdout_port = 1025,
					    .stderr_port = 1026};
	c->rootfs_tag = "kvboxroot";
	c->rootfs_readonly = true;
	c->hostname = "box";
	c->mounts = mounts;
	c->nmounts = 3;
	c->masked_paths = masked;
	c->nmasked_paths = 1;
	c->sysctls = sc;
	c->nsysctls = 1;
	c->devices = dev;
	c->ndevices = 1;
	c->namespaces = 0x2c020000;
	write_seed(dir, "create", &m);

	struct agent_process p = c->process;
	p.terminal = true;
	p.console_port = 1030;
	p.console_rows = 24;
	p.console_cols = 80;
	agent_msg_init(&m, AGENT_EXEC, 0, 2);
	m.u.exec.process = p;
	write_seed(dir, "exec-tty", &m);

	agent_msg_init(&m, AGENT_EXEC, AGENT_F_REPLY, 2);
	m.u.pid.pid = 42;
	write_seed(dir, "exec-reply", &m);
	agent_msg_init(&m, AGENT_SIGNAL, 0, 3);
	m.u.signal = (struct agent_signal){0, 15, true};
	write_seed(dir, "signal", &m);
	agent_msg_init(&m, AGENT_EXIT, AGENT_F_EVENT, 0);
	m.u.exit = (struct agent_exit){42, 137, 9, false};
	write_seed(dir, "exit", &m);
	agent_msg_init(&m, AGENT_PS, AGENT_F_REPLY, 4);
	m.u.ps = (struct agent_ps){procs, 2};
	write_seed(dir, "ps-reply", &m);
	agent_msg_init(&m, AGENT_RESIZE, 0, 5);
	m.u.resize = (struct agent_resize){0, 50, 132};
	write_seed(dir, "resize", &m);
	agent_msg_init(&m, AGENT_STATS, AGENT_F_REPLY, 6);
	m.u.stats = (struct agent_stats){1 << 30, 1 << 29, 1 << 20, 5, 3, 2, 4};
	write_seed(dir, "stats-reply", &m);
	agent_msg_init(&m, AGENT_ERROR, AGENT_F_REPLY, 7);
	m.u.error = (struct agent_error){2, "no such file"};
	write_seed(dir, "error", &m);
	agent_msg_init(&m, AGENT_SHUTDOWN, 0, 8);
	write_seed(dir, "shutdown", &m);
	return 0;
}
#endif
