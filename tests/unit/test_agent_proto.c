/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The host <-> agent protocol codec (guest/protocol.c): a round trip of
 * every message (request, reply and event forms) with every field set,
 * compared field by field and byte for byte; every truncation of every
 * frame; oversized lengths and counts; unknown types, flags and tags;
 * the semantic checks on both the encode and the decode side.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>

#include "guest/protocol.h"

static char *args[] = {"/bin/sh", "-c", "echo hi", NULL};
static char *env[] = {"PATH=/bin", "TERM=xterm", "EMPTY=", NULL};
static uint32_t groups[] = {10, 20, 65534};
static struct agent_rlimit rlimits[] = {{7, 1024, 4096}, {0, 0, UINT64_MAX}};
static uint8_t bpf[16] = {0x06, 0, 0, 0, 0, 0, 0xff, 0x7f, 1, 2, 3, 4, 5, 6, 7, 8};
static struct agent_mount mounts[] = {
    {"/proc", "proc", "proc", NULL, MS_NOSUID | MS_NOEXEC | MS_NODEV, 0, NULL},
    {"/data", "bind", "kvboxdata", "sub/dir", MS_RDONLY, MS_REC | MS_PRIVATE, NULL},
    {"/dev", "tmpfs", "tmpfs", NULL, MS_NOSUID, 0, "mode=755,size=65536k"},
};
static char *masked[] = {"/proc/kcore", "/sys/firmware", NULL};
static char *ropaths[] = {"/proc/sys", NULL};
static struct agent_sysctl sysctls[] = {{"kernel.msgmax", "4242"}, {"net/ipv4/ip_forward", ""}};
static struct agent_device devices[] = {{"/dev/fuse", 'c', 10, 229, 0666, 0, 0},
					{"/dev/loop0", 'b', 7, 0, 0660, 0, 6}};
static uint8_t ip4[] = {169, 254, 10, 2}, gw4[] = {169, 254, 0, 1}, net4[] = {10, 9, 0, 0};
static uint8_t ip6[16] = {0xfd, 0x00, [15] = 2};
static struct agent_ip_addr addrs[] = {{AF_INET, ip4, 4, 16}, {AF_INET6, ip6, 16, 64}};
static struct agent_route routes[] = {{AF_INET, NULL, 0, 0, gw4, 4, 0},
				      {AF_INET, net4, 4, 16, NULL, 0, 100}};
static uint8_t mac0[6] = {0x02, 0x42, 0xac, 0x11, 0, 2}, mac1[6] = {0x0e, 1, 2, 3, 4, 5};
static struct agent_net_if nets[] = {{"eth0", mac0, 6, 1400, addrs, 2, routes, 2},
				     {"net1", mac1, 6, 0, NULL, 0, NULL, 0}};
static struct agent_proc_info procs[] = {
    {1, 0, 0, "/bin/sh -c sleep 100"}, {27, 1, 1000, ""}, {28, 27, 0, NULL}};

static void fill_process(struct agent_process *p)
{
	p->args = args;
	p->nargs = 3;
	p->env = env;
	p->nenv = 3;
	p->cwd = "/tmp";
	p->uid = 1000;
	p->gid = 1001;
	p->groups = groups;
	p->ngroups = 3;
	p->umask = 027;
	p->rlimits = rlimits;
	p->nrlimits = 2;
	p->cap_bounding = 0x1ffffffffffull;
	p->cap_effective = 0x420;
	p->cap_inheritable = 0x400;
	p->cap_permitted = 0x421;
	p->cap_ambient = 0x400;
	p->no_new_privs = true;
	p->terminal = true;
	p->stdin_port = 1025;
	p->stdout_port = 1026;
	p->stderr_port = 1027;
	p->console_port = 1028;
	p->console_rows = 50;
	p->console_cols = 132;
	p->seccomp_bpf = bpf;
	p->seccomp_len = sizeof(bpf);
	p->seccomp_flags = 1;
}

/* A message of each kind with every field set. */
static void sample(struct agent_msg *m, unsigned kind)
{
	static const struct {
		uint16_t type, flags;
	} kinds[] = {
	    {AGENT_HELLO, AGENT_F_EVENT},
	    {AGENT_CREATE, 0},
	    {AGENT_CREATE, AGENT_F_REPLY},
	    {AGENT_START, 0},
	    {AGENT_START, AGENT_F_REPLY},
	    {AGENT_EXEC, 0},
	    {AGENT_EXEC, AGENT_F_REPLY},
	    {AGENT_SIGNAL, 0},
	    {AGENT_SIGNAL, AGENT_F_REPLY},
	    {AGENT_WAIT, 0},
	    {AGENT_WAIT, AGENT_F_REPLY},
	    {AGENT_EXIT, AGENT_F_EVENT},
	    {AGENT_PS, 0},
	    {AGENT_PS, AGENT_F_REPLY},
	    {AGENT_RESIZE, 0},
	    {AGENT_RESIZE, AGENT_F_REPLY},
	    {AGENT_STATS, 0},
	    {AGENT_STATS, AGENT_F_REPLY},
	    {AGENT_SHUTDOWN, 0},
	    {AGENT_SHUTDOWN, AGENT_F_REPLY},
	    {AGENT_ERROR, AGENT_F_REPLY},
	    {AGENT_PARK, 0},
	    {AGENT_PARK, AGENT_F_REPLY},
	    {AGENT_RESUME, 0},
	    {AGENT_RESUME, AGENT_F_REPLY},
	};
	assert_true(kind < sizeof(kinds) / sizeof(kinds[0]));
	uint16_t t = kinds[kind].type, fl = kinds[kind].flags;
	agent_msg_init(m, t, fl, fl == AGENT_F_EVENT ? 0 : 0x10000 + kind);
	if (t == AGENT_HELLO) {
		m->u.hello =
		    (struct agent_hello){AGENT_PROTO_VERSION, "0.1.0", "6.1.0-kvbox", 1234567, 987};
	} else if (t == AGENT_CREATE && !fl) {
		struct agent_create *c = &m->u.create;
		c->container_id = "ctr-1";
		fill_process(&c->process);
		c->rootfs_tag = "kvboxroot";
		c->msize = 512 * 1024;
		c->rootfs_readonly = true;
		c->hostname = "box";
		c->domainname = "example.org";
		c->mounts = mounts;
		c->nmounts = 3;
		c->masked_paths = masked;
		c->nmasked_paths = 2;
		c->readonly_paths = ropaths;
		c->nreadonly_paths = 1;
		c->sysctls = sysctls;
		c->nsysctls = 2;
		c->devices = devices;
		c->ndevices = 2;
		c->namespaces = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC;
		c->nets = nets;
		c->nnets = 2;
	} else if ((t == AGENT_CREATE || t == AGENT_EXEC) && fl) {
		m->u.pid.pid = 4242;
	} else if (t == AGENT_EXEC) {
		fill_process(&m->u.exec.process);
	} else if (t == AGENT_SIGNAL && !fl) {
		m->u.signal = (struct agent_signal){7, 15, true};
	} else if (t == AGENT_WAIT && !fl) {
		m->u.wait.pid = 99;
	} else if (t == AGENT_EXIT || t == AGENT_WAIT) {
		m->u.exit = (struct agent_exit){99, 137, 9, true};
	} else if (t == AGENT_PS && fl) {
		m->u.ps.procs = procs;
		m->u.ps.nprocs = 3;
	} else if (t == AGENT_RESIZE && !fl) {
		m->u.resize = (struct agent_resize){0, 24, 80};
	} else if (t == AGENT_STATS && fl) {
		m->u.stats = (struct agent_stats){1ull << 30, 1ull << 29, 12345678, 5, 3, 2, 17};
	} else if (t == AGENT_ERROR) {
		m->u.error = (struct agent_error){ENOENT, "exec /bin/nope: No such file"};
	} else if (t == AGENT_RESUME && !fl) {
		static uint8_t seed[AGENT_SEED_BYTES];
		for (unsigned i = 0; i < sizeof(seed); i++)
			seed[i] = (uint8_t)(i * 37 + 1);
		m->u.resume = (struct agent_resume){seed, sizeof(seed), 1798000000123456789ull};
	}
}

#define NKINDS 25

static uint8_t *enc(const struct agent_msg *m, long *len)
{
	uint8_t *buf = NULL;
	*len = agent_msg_encode_alloc(m, &buf);
	assert_true(*len >= (long)AGENT_HDR_SIZE);
	return buf;
}

static void assert_strv(char **a, char **b, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		assert_string_equal(a[i], b[i]);
	assert_null(b[n]);
}

static void assert_process(const struct agent_process *a, const struct agent_process *b)
{
	assert_int_equal(a->nargs, b->nargs);
	assert_strv(a->args, b->args, a->nargs);
	assert_int_equal(a->nenv, b->nenv);
	assert_strv(a->env, b->env, a->nenv);
	assert_string_equal(a->cwd, b->cwd);
	assert_int_equal(a->uid, b->uid);
	assert_int_equal(a->gid, b->gid);
	assert_int_equal(a->ngroups, b->ngroups);
	assert_memory_equal(a->groups, b->groups, a->ngroups * 4);
	assert_int_equal(a->umask, b->umask);
	assert_int_equal(a->nrlimits, b->nrlimits);
	assert_memory_equal(a->rlimits, b->rlimits, a->nrlimits * sizeof(*a->rlimits));
	assert_int_equal(a->cap_bounding, b->cap_bounding);
	assert_int_equal(a->cap_effective, b->cap_effective);
	assert_int_equal(a->cap_inheritable, b->cap_inheritable);
	assert_int_equal(a->cap_permitted, b->cap_permitted);
	assert_int_equal(a->cap_ambient, b->cap_ambient);
	assert_int_equal(a->no_new_privs, b->no_new_privs);
	assert_int_equal(a->terminal, b->terminal);
	assert_int_equal(a->stdin_port, b->stdin_port);
	assert_int_equal(a->stdout_port, b->stdout_port);
	assert_int_equal(a->stderr_port, b->stderr_port);
	assert_int_equal(a->console_port, b->console_port);
	assert_int_equal(a->console_rows, b->console_rows);
	assert_int_equal(a->console_cols, b->console_cols);
	assert_int_equal(a->seccomp_len, b->seccomp_len);
	assert_memory_equal(a->seccomp_bpf, b->seccomp_bpf, a->seccomp_len);
	assert_int_equal(a->seccomp_flags, b->seccomp_flags);
}

static void assert_create(const struct agent_create *a, const struct agent_create *b)
{
	assert_string_equal(a->container_id, b->container_id);
	assert_process(&a->process, &b->process);
	assert_string_equal(a->rootfs_tag, b->rootfs_tag);
	assert_null(b->rootfs_path);
	assert_int_equal(a->msize, b->msize);
	assert_int_equal(a->rootfs_readonly, b->rootfs_readonly);
	assert_string_equal(a->hostname, b->hostname);
	assert_string_equal(a->domainname, b->domainname);
	assert_int_equal(a->nmounts, b->nmounts);
	for (uint32_t i = 0; i < a->nmounts; i++) {
		const struct agent_mount *x = &a->mounts[i], *y = &b->mounts[i];
		assert_string_equal(x->destination, y->destination);
		assert_string_equal(x->type, y->type);
		assert_string_equal(x->source, y->source);
		if (x->subpath)
			assert_string_equal(x->subpath, y->subpath);
		else
			assert_null(y->subpath);
		assert_int_equal(x->flags, y->flags);
		assert_int_equal(x->propagation, y->propagation);
		if (x->data)
			assert_string_equal(x->data, y->data);
		else
			assert_null(y->data);
	}
	assert_strv(a->masked_paths, b->masked_paths, a->nmasked_paths);
	assert_strv(a->readonly_paths, b->readonly_paths, a->nreadonly_paths);
	assert_int_equal(a->nsysctls, b->nsysctls);
	for (uint32_t i = 0; i < a->nsysctls; i++) {
		assert_string_equal(a->sysctls[i].key, b->sysctls[i].key);
		assert_string_equal(a->sysctls[i].value, b->sysctls[i].value);
	}
	assert_int_equal(a->ndevices, b->ndevices);
	for (uint32_t i = 0; i < a->ndevices; i++) {
		assert_string_equal(a->devices[i].path, b->devices[i].path);
		assert_int_equal(a->devices[i].type, b->devices[i].type);
		assert_int_equal(a->devices[i].major, b->devices[i].major);
		assert_int_equal(a->devices[i].minor, b->devices[i].minor);
		assert_int_equal(a->devices[i].mode, b->devices[i].mode);
		assert_int_equal(a->devices[i].gid, b->devices[i].gid);
	}
	assert_int_equal(a->namespaces, b->namespaces);
	assert_int_equal(a->nnets, b->nnets);
	for (uint32_t i = 0; i < a->nnets; i++) {
		const struct agent_net_if *x = &a->nets[i], *y = &b->nets[i];
		assert_string_equal(x->name, y->name);
		assert_int_equal(y->mac_len, 6);
		assert_memory_equal(x->mac, y->mac, 6);
		assert_int_equal(x->mtu, y->mtu);
		assert_int_equal(x->naddrs, y->naddrs);
		for (uint32_t j = 0; j < x->naddrs; j++) {
			assert_int_equal(x->addrs[j].family, y->addrs[j].family);
			assert_int_equal(x->addrs[j].addr_len, y->addrs[j].addr_len);
			assert_memory_equal(x->addrs[j].addr, y->addrs[j].addr,
					    x->addrs[j].addr_len);
			assert_int_equal(x->addrs[j].prefix, y->addrs[j].prefix);
		}
		assert_int_equal(x->nroutes, y->nroutes);
		for (uint32_t j = 0; j < x->nroutes; j++) {
			const struct agent_route *r = &x->routes[j], *q = &y->routes[j];
			assert_int_equal(r->family, q->family);
			assert_int_equal(r->dst_len, q->dst_len);
			if (r->dst_len)
				assert_memory_equal(r->dst, q->dst, r->dst_len);
			assert_int_equal(r->prefix, q->prefix);
			assert_int_equal(r->gateway_len, q->gateway_len);
			if (r->gateway_len)
				assert_memory_equal(r->gateway, q->gateway, r->gateway_len);
			assert_int_equal(r->metric, q->metric);
		}
	}
}

static void assert_payload(const struct agent_msg *a, const struct agent_msg *b)
{
	unsigned t = a->hdr.type, fl = a->hdr.flags;
	assert_int_equal(a->hdr.type, b->hdr.type);
	assert_int_equal(a->hdr.flags, b->hdr.flags);
	assert_int_equal(a->hdr.id, b->hdr.id);
	if (t == AGENT_HELLO) {
		assert_int_equal(a->u.hello.version, b->u.hello.version);
		assert_string_equal(a->u.hello.agent_version, b->u.hello.agent_version);
		assert_string_equal(a->u.hello.kernel, b->u.hello.kernel);
		assert_int_equal(a->u.hello.boot_ns, b->u.hello.boot_ns);
		assert_int_equal(a->u.hello.agent_start_ns, b->u.hello.agent_start_ns);
	} else if (t == AGENT_CREATE && !fl) {
		assert_create(&a->u.create, &b->u.create);
	} else if (t == AGENT_EXEC && !fl) {
		assert_process(&a->u.exec.process, &b->u.exec.process);
	} else if (t == AGENT_PS && fl) {
		assert_int_equal(a->u.ps.nprocs, b->u.ps.nprocs);
		for (uint32_t i = 0; i < a->u.ps.nprocs; i++) {
			assert_int_equal(a->u.ps.procs[i].pid, b->u.ps.procs[i].pid);
			assert_int_equal(a->u.ps.procs[i].ppid, b->u.ps.procs[i].ppid);
			assert_int_equal(a->u.ps.procs[i].uid, b->u.ps.procs[i].uid);
		}
		assert_string_equal(b->u.ps.procs[0].cmd, "/bin/sh -c sleep 100");
		assert_string_equal(b->u.ps.procs[1].cmd, ""); /* an empty string is kept */
		assert_null(b->u.ps.procs[2].cmd);
	} else if (t == AGENT_RESUME && !fl) {
		assert_int_equal(a->u.resume.seed_len, b->u.resume.seed_len);
		assert_memory_equal(a->u.resume.seed, b->u.resume.seed, AGENT_SEED_BYTES);
		assert_int_equal(a->u.resume.realtime_ns, b->u.resume.realtime_ns);
	} else if (t == AGENT_ERROR) {
		assert_int_equal(a->u.error.errnum, b->u.error.errnum);
		assert_string_equal(a->u.error.message, b->u.error.message);
	} else if ((t == AGENT_CREATE || t == AGENT_EXEC) && fl) {
		assert_int_equal(a->u.pid.pid, b->u.pid.pid);
	} else if (t == AGENT_SIGNAL && !fl) {
		assert_int_equal(a->u.signal.pid, b->u.signal.pid);
		assert_int_equal(a->u.signal.signo, b->u.signal.signo);
		assert_int_equal(a->u.signal.all, b->u.signal.all);
	} else if (t == AGENT_WAIT && !fl) {
		assert_int_equal(a->u.wait.pid, b->u.wait.pid);
	} else if (t == AGENT_EXIT || t == AGENT_WAIT) {
		assert_int_equal(a->u.exit.pid, b->u.exit.pid);
		assert_int_equal(a->u.exit.code, b->u.exit.code);
		assert_int_equal(a->u.exit.signal, b->u.exit.signal);
		assert_int_equal(a->u.exit.core, b->u.exit.core);
	} else if (t == AGENT_RESIZE && !fl) {
		assert_int_equal(a->u.resize.rows, b->u.resize.rows);
		assert_int_equal(a->u.resize.cols, b->u.resize.cols);
	} else if (t == AGENT_STATS && fl) {
		const struct agent_stats *x = &a->u.stats, *y = &b->u.stats;
		assert_int_equal(x->mem_total, y->mem_total);
		assert_int_equal(x->mem_available, y->mem_available);
		assert_int_equal(x->mem_usage, y->mem_usage);
		assert_int_equal(x->cpu_usage_ns, y->cpu_usage_ns);
		assert_int_equal(x->cpu_user_ns, y->cpu_user_ns);
		assert_int_equal(x->cpu_system_ns, y->cpu_system_ns);
		assert_int_equal(x->pids, y->pids);
	}
}

static void test_round_trip_every_message(void **state)
{
	(void)state;
	for (unsigned k = 0; k < NKINDS; k++) {
		struct agent_msg m, d;
		long len, len2;
		sample(&m, k);
		uint8_t *buf = enc(&m, &len);
		struct agent_hdr h;
		assert_int_equal(agent_hdr_decode(buf, (size_t)len, &h), 0);
		assert_int_equal(h.len + AGENT_HDR_SIZE, len);
		int dr = agent_msg_decode(buf, (size_t)len, &d);
		if (dr)
			print_error("kind %u (%s): %d\n", k, agent_type_name(m.hdr.type), dr);
		assert_int_equal(dr, 0);
		assert_payload(&m, &d);
		uint8_t *buf2 = enc(&d, &len2); /* deterministic: same bytes again */
		assert_int_equal(len, len2);
		assert_memory_equal(buf, buf2, (size_t)len);
		/* the measuring pass and a too-small buffer */
		assert_int_equal(agent_msg_encode(&m, NULL, AGENT_MAX_FRAME), len);
		assert_int_equal(agent_msg_encode(&m, buf2, (size_t)len - 1), -EMSGSIZE);
		agent_msg_free(&d);
		free(buf);
		free(buf2);
	}
}

/* Every prefix of every frame: the buffer shorter than the header says
 * fails; with the header's length cut to match, a success is only allowed
 * when it re-encodes to exactly those bytes (a cut between fields). */
static void test_truncated_at_every_offset(void **state)
{
	(void)state;
	for (unsigned k = 0; k < NKINDS; k++) {
		struct agent_msg m, d;
		long len;
		sample(&m, k);
		uint8_t *buf = enc(&m, &len);
		for (long cut = 0; cut < len; cut++) {
			uint8_t *b = malloc((size_t)cut + 1); /* exact size for ASan */
			memcpy(b, buf, (size_t)cut);
			assert_true(agent_msg_decode(b, (size_t)cut, &d) < 0);
			agent_msg_free(&d);
			if (cut >= (long)AGENT_HDR_SIZE) {
				uint32_t pl = (uint32_t)cut - AGENT_HDR_SIZE;
				memcpy(b, &pl, 4);
				if (agent_msg_decode(b, (size_t)cut, &d) == 0) {
					uint8_t *re = NULL;
					long rl = agent_msg_encode_alloc(&d, &re);
					assert_int_equal(rl, cut);
					assert_memory_equal(re, b, (size_t)cut);
					free(re);
				}
				agent_msg_free(&d);
			}
			free(b);
		}
		free(buf);
	}
}

/* ---- hand-made payloads ---- */

struct raw {
	uint8_t b[4096];
	size_t n;
};

static void raw_bytes(struct raw *r, const void *p, size_t n)
{
	memcpy(r->b + r->n, p, n);
	r->n += n;
}

static void raw_int(struct raw *r, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		r->b[r->n++] = (uint8_t)(v >> (8 * i));
}

static void raw_hdr(struct raw *r, uint16_t type, uint16_t flags)
{
	r->n = 0;
	raw_int(r, 0, 4);
	raw_int(r, type, 2);
	raw_int(r, flags, 2);
	raw_int(r, 1, 4);
}

static void raw_field(struct raw *r, uint16_t tag, const void *v, uint32_t len)
{
	raw_int(r, tag, 2);
	raw_int(r, len, 4);
	raw_bytes(r, v, len);
}

static void raw_u32(struct raw *r, uint16_t tag, uint32_t v)
{
	uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
	raw_field(r, tag, b, 4);
}

static int raw_decode(struct raw *r)
{
	struct agent_msg d;
	uint32_t pl = (uint32_t)(r->n - AGENT_HDR_SIZE);
	memcpy(r->b, &pl, 4);
	int ret = agent_msg_decode(r->b, r->n, &d);
	agent_msg_free(&d);
	return ret;
}

static void test_oversized(void **state)
{
	struct raw r;
	struct agent_hdr h;
	(void)state;

	/* a header announcing more than AGENT_MAX_PAYLOAD */
	raw_hdr(&r, AGENT_START, 0);
	uint32_t big = AGENT_MAX_PAYLOAD + 1;
	memcpy(r.b, &big, 4);
	assert_int_equal(agent_hdr_decode(r.b, r.n, &h), -EMSGSIZE);
	big = UINT32_MAX;
	memcpy(r.b, &big, 4);
	assert_int_equal(agent_hdr_decode(r.b, r.n, &h), -EMSGSIZE);
	struct agent_msg d;
	assert_int_equal(agent_msg_decode(r.b, r.n, &d), -EMSGSIZE);
	agent_msg_free(&d);
	assert_int_equal(agent_hdr_decode(r.b, AGENT_HDR_SIZE - 1, &h), -EAGAIN);

	/* a field longer than what is left */
	raw_hdr(&r, AGENT_WAIT, 0);
	raw_int(&r, 1, 2);
	raw_int(&r, 0xfffffff0u, 4);
	assert_int_equal(raw_decode(&r), -EPROTO);

	/* list counts far over the limit or over the bytes left: refused
	 * before anything is allocated */
	raw_hdr(&r, AGENT_PS, AGENT_F_REPLY);
	uint8_t cnt[4] = {0xff, 0xff, 0xff, 0xff};
	raw_field(&r, 1, cnt, 4);
	assert_int_equal(raw_decode(&r), -E2BIG);
	raw_hdr(&r, AGENT_PS, AGENT_F_REPLY);
	uint8_t cnt2[4] = {100, 0, 0, 0};
	raw_field(&r, 1, cnt2, 4);
	assert_int_equal(raw_decode(&r), -EPROTO);

	/* a string over its limit (hostname: 64) */
	struct agent_msg m;
	sample(&m, 1);
	char host[66];
	memset(host, 'h', 65);
	host[65] = '\0';
	m.u.create.hostname = host;
	uint8_t *out = NULL;
	assert_int_equal(agent_msg_encode_alloc(&m, &out), -EINVAL);

	/* a frame over AGENT_MAX_FRAME does not encode */
	static char blob[AGENT_STR_MAX];
	memset(blob, 'x', sizeof(blob) - 1);
	char *many[12];
	for (int i = 0; i < 12; i++)
		many[i] = blob;
	sample(&m, 1);
	m.u.create.process.env = many;
	m.u.create.process.nenv = 7;
	assert_int_equal(agent_msg_encode(&m, NULL, SIZE_MAX), -EINVAL); /* no '=' */
	blob[3] = '=';
	m.u.create.process.nenv = 12;
	assert_int_equal(agent_msg_encode(&m, NULL, SIZE_MAX), -EMSGSIZE);
	m.u.create.process.nenv = 7;
	assert_true(agent_msg_encode(&m, NULL, SIZE_MAX) > (long)(7 * AGENT_STR_MAX));
}

/* RESUME carries exactly AGENT_SEED_BYTES of seed and a clock: less seed,
 * more, or no time is refused both ways. */
static void test_resume_checks(void **state)
{
	(void)state;
	static uint8_t seed[AGENT_SEED_BYTES + 1];
	struct agent_msg m;
	uint8_t *out = NULL;
	agent_msg_init(&m, AGENT_RESUME, 0, 7);
	m.u.resume = (struct agent_resume){seed, 8, 1};
	assert_int_equal(agent_msg_encode_alloc(&m, &out), -EINVAL);
	m.u.resume.seed_len = AGENT_SEED_BYTES + 1;
	assert_true(agent_msg_encode_alloc(&m, &out) < 0);
	m.u.resume.seed_len = AGENT_SEED_BYTES;
	m.u.resume.realtime_ns = 0;
	assert_int_equal(agent_msg_encode_alloc(&m, &out), -EINVAL);
	m.u.resume.realtime_ns = 1;
	long n = agent_msg_encode_alloc(&m, &out);
	assert_true(n > (long)AGENT_HDR_SIZE);
	struct agent_msg d;
	assert_int_equal(agent_msg_decode(out, (size_t)n, &d), 0);
	assert_int_equal(d.u.resume.seed_len, AGENT_SEED_BYTES);
	agent_msg_free(&d);
	free(out);
	/* PARK takes no payload */
	agent_msg_init(&m, AGENT_PARK, 0, 8);
	n = agent_msg_encode_alloc(&m, &out);
	assert_int_equal(n, (long)AGENT_HDR_SIZE);
	free(out);
	/* its reply: none (a checkpoint) or the kernel's read-only pages */
	agent_msg_init(&m, AGENT_PARK, AGENT_F_REPLY, 8);
	n = agent_msg_encode_alloc(&m, &out);
	assert_true(n >= (long)AGENT_HDR_SIZE);
	assert_int_equal(agent_msg_decode(out, (size_t)n, &d), 0);
	assert_int_equal(d.u.parked.nkernel_ro, 0);
	agent_msg_free(&d);
	free(out);
	uint32_t ro[] = {0x1000, 0x800, 0x1a00, 0x101};
	m.u.parked.kernel_ro = ro;
	m.u.parked.nkernel_ro = 4;
	n = agent_msg_encode_alloc(&m, &out);
	assert_int_equal(agent_msg_decode(out, (size_t)n, &d), 0);
	assert_int_equal(d.u.parked.nkernel_ro, 4);
	assert_memory_equal(d.u.parked.kernel_ro, ro, sizeof(ro));
	agent_msg_free(&d);
	free(out);
	/* odd, empty, overlapping, descending, too many: refused */
	const uint32_t bad[][4] = {{1, 1, 2, 0}, {5, 2, 6, 1}, {10, 1, 3, 1}};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		m.u.parked.kernel_ro = (uint32_t *)bad[i];
		m.u.parked.nkernel_ro = 4;
		assert_int_equal(agent_msg_encode_alloc(&m, &out), -EINVAL);
	}
	m.u.parked.kernel_ro = ro;
	m.u.parked.nkernel_ro = 3;
	assert_int_equal(agent_msg_encode_alloc(&m, &out), -EINVAL);
	uint32_t many[2 * AGENT_MAX_RO_RANGES + 2];
	for (unsigned i = 0; i < 2 * AGENT_MAX_RO_RANGES + 2; i += 2) {
		many[i] = 10 * i;
		many[i + 1] = 1;
	}
	m.u.parked.kernel_ro = many;
	m.u.parked.nkernel_ro = 2 * AGENT_MAX_RO_RANGES + 2;
	assert_true(agent_msg_encode_alloc(&m, &out) < 0);
}

static void test_unknown_types_flags_tags(void **state)
{
	struct raw r;
	struct agent_hdr h;
	(void)state;

	const uint16_t bad[][2] = {
	    {0, 0},
	    {AGENT_TYPE_COUNT, 0},
	    {999, AGENT_F_REPLY},
	    {AGENT_HELLO, 0}, /* HELLO is an event */
	    {AGENT_HELLO, AGENT_F_REPLY},
	    {AGENT_EXIT, 0},
	    {AGENT_ERROR, 0}, /* ERROR is a reply */
	    {AGENT_CREATE, AGENT_F_EVENT},
	    {AGENT_START, AGENT_F_REPLY | AGENT_F_EVENT}, /* both */
	    {AGENT_START, 0x0100},			  /* undefined flag */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		raw_hdr(&r, bad[i][0], bad[i][1]);
		assert_int_equal(agent_hdr_decode(r.b, r.n, &h), -EBADMSG);
		assert_int_equal(raw_decode(&r), -EBADMSG);
		struct agent_msg m;
		agent_msg_init(&m, bad[i][0], bad[i][1], 1);
		assert_int_equal(agent_msg_encode(&m, r.b, sizeof(r.b)), -EBADMSG);
	}
	assert_string_equal(agent_type_name(AGENT_CREATE), "CREATE");
	assert_string_equal(agent_type_name(0), "UNKNOWN");
	assert_string_equal(agent_type_name(4000), "UNKNOWN");

	/* an unknown tag fails; with the optional bit it is skipped */
	raw_hdr(&r, AGENT_WAIT, 0);
	raw_u32(&r, 1, 5);
	raw_u32(&r, 77, 1);
	assert_int_equal(raw_decode(&r), -EBADMSG);
	raw_hdr(&r, AGENT_WAIT, 0);
	raw_u32(&r, 1, 5);
	raw_u32(&r, AGENT_TAG_OPTIONAL | 77, 1);
	assert_int_equal(raw_decode(&r), 0);
	/* any field in a message that has no payload */
	raw_hdr(&r, AGENT_START, 0);
	raw_u32(&r, 1, 5);
	assert_int_equal(raw_decode(&r), -EBADMSG);
}

static void test_malformed_fields(void **state)
{
	struct raw r;
	(void)state;

	raw_hdr(&r, AGENT_WAIT, 0); /* duplicate tag */
	raw_u32(&r, 1, 5);
	raw_u32(&r, 1, 6);
	assert_int_equal(raw_decode(&r), -EPROTO);
	raw_hdr(&r, AGENT_WAIT, 0); /* u32 of 3 bytes */
	raw_field(&r, 1, "abc", 3);
	assert_int_equal(raw_decode(&r), -EPROTO);
	raw_hdr(&r, AGENT_SIGNAL, 0); /* bool of 2 */
	raw_u32(&r, 2, 9);
	raw_field(&r, 3, "\x02", 1);
	assert_int_equal(raw_decode(&r), -EINVAL);
	raw_hdr(&r, AGENT_ERROR, AGENT_F_REPLY); /* NUL inside a string */
	raw_u32(&r, 1, 5);
	raw_field(&r, 2, "a\0b", 3);
	assert_int_equal(raw_decode(&r), -EINVAL);
	raw_hdr(&r, AGENT_PS, AGENT_F_REPLY); /* bytes left over in a list */
	raw_field(&r, 1, "\x00\x00\x00\x00\x01", 5);
	assert_int_equal(raw_decode(&r), -EPROTO);
	raw_hdr(&r, AGENT_PS, AGENT_F_REPLY); /* element shorter than its length */
	raw_field(&r, 1, "\x01\x00\x00\x00\x09\x00\x00\x00", 8);
	assert_int_equal(raw_decode(&r), -EPROTO);
	raw_hdr(&r, AGENT_WAIT, 0); /* half a field header */
	raw_int(&r, 1, 2);
	raw_int(&r, 0, 2);
	assert_int_equal(raw_decode(&r), -EPROTO);
	raw_hdr(&r, AGENT_CREATE, 0); /* required fields missing */
	raw_field(&r, 1, "id", 2);
	assert_int_equal(raw_decode(&r), -EPROTO);
	raw_hdr(&r, AGENT_ERROR, AGENT_F_REPLY); /* errno out of range */
	raw_u32(&r, 1, 0);
	assert_int_equal(raw_decode(&r), -EINVAL);
}

/* Semantic checks refuse the same values when encoding and decoding. */
static void expect_invalid(struct agent_msg *m)
{
	uint8_t *out = NULL;
	assert_int_equal(agent_msg_encode_alloc(m, &out), -EINVAL);
	assert_null(out);
}

static void test_semantic_checks(void **state)
{
	struct agent_msg m;
	(void)state;

	sample(&m, 1);
	m.u.create.process.cwd = "tmp";
	expect_invalid(&m);
	sample(&m, 1);
	m.u.create.process.nargs = 0;
	expect_invalid(&m);
	sample(&m, 1);
	m.u.create.process.umask = 01000;
	expect_invalid(&m);
	sample(&m, 1);
	struct agent_rlimit dup[] = {{7, 1, 2}, {7, 1, 2}};
	m.u.create.process.rlimits = dup;
	expect_invalid(&m);
	sample(&m, 1);
	struct agent_rlimit inv[] = {{7, 3, 2}};
	m.u.create.process.rlimits = inv;
	m.u.create.process.nrlimits = 1;
	expect_invalid(&m);
	sample(&m, 1);
	m.u.create.process.seccomp_len = 7;
	expect_invalid(&m);
	sample(&m, 1);
	m.u.create.rootfs_path = "/run/x"; /* both rootfs forms */
	expect_invalid(&m);
	sample(&m, 1);
	m.u.create.rootfs_tag = NULL; /* neither */
	expect_invalid(&m);
	sample(&m, 1);
	m.u.create.rootfs_tag = NULL;
	m.u.create.rootfs_path = "/run/kvbox/test-root";
	uint8_t *out = NULL;
	assert_true(agent_msg_encode_alloc(&m, &out) > 0);
	free(out);
	sample(&m, 1);
	m.u.create.namespaces = 0x100; /* CLONE_VM */
	expect_invalid(&m);
	sample(&m, 1);
	char *rel[] = {"proc/kcore", NULL};
	m.u.create.masked_paths = rel;
	m.u.create.nmasked_paths = 1;
	expect_invalid(&m);

	const char *bad_keys[] = {"../etc/passwd", "/abs", "a..b", "a.", "", "x y", "a/./b"};
	for (size_t i = 0; i < sizeof(bad_keys) / sizeof(bad_keys[0]); i++) {
		sample(&m, 1);
		struct agent_sysctl s = {(char *)bad_keys[i], "1"};
		m.u.create.sysctls = &s;
		m.u.create.nsysctls = 1;
		expect_invalid(&m);
	}
	const char *bad_sub[] = {"..", "../x", "a/../b", "/abs", "a/.."};
	for (size_t i = 0; i < sizeof(bad_sub) / sizeof(bad_sub[0]); i++) {
		sample(&m, 1);
		struct agent_mount mt = {"/data", "bind", "tag", (char *)bad_sub[i], 0, 0, NULL};
		m.u.create.mounts = &mt;
		m.u.create.nmounts = 1;
		expect_invalid(&m);
	}
	sample(&m, 1);
	struct agent_mount notag = {"/data", "bind", "", NULL, 0, 0, NULL};
	m.u.create.mounts = &notag;
	m.u.create.nmounts = 1;
	expect_invalid(&m);
	sample(&m, 1);
	struct agent_device dev = {"/dev/x", 'z', 1, 1, 0666, 0, 0};
	m.u.create.devices = &dev;
	m.u.create.ndevices = 1;
	expect_invalid(&m);

	/* networking */
	const char *bad_names[] = {"", "0123456789abcdef", "a/b", "a:1", "a b", ".", ".."};
	for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
		sample(&m, 1);
		struct agent_net_if n = nets[0];
		n.name = (char *)bad_names[i];
		m.u.create.nets = &n;
		m.u.create.nnets = 1;
		expect_invalid(&m);
	}
	struct agent_net_if same[2] = {nets[0], nets[1]};
	same[1].name = "eth0"; /* two NICs, one name */
	sample(&m, 1);
	m.u.create.nets = same;
	expect_invalid(&m);
	same[1] = nets[1];
	same[1].mac = mac0; /* one MAC */
	expect_invalid(&m);
	uint8_t mcast[6] = {0x01, 0, 0x5e, 0, 0, 1};
	struct agent_net_if bad = nets[0];
	m.u.create.nets = &bad;
	m.u.create.nnets = 1;
	bad.mac = mcast;
	expect_invalid(&m);
	bad = nets[0];
	bad.mtu = 67;
	expect_invalid(&m);
	bad = nets[0];
	struct agent_ip_addr a4 = {AF_INET, ip4, 4, 33};
	bad.addrs = &a4;
	bad.naddrs = 1;
	expect_invalid(&m);
	a4 = (struct agent_ip_addr){AF_INET6, ip4, 4, 16}; /* length for another family */
	expect_invalid(&m);
	a4 = (struct agent_ip_addr){AF_INET, ip4, 4, 16};
	struct agent_route rt = {AF_INET, NULL, 0, 8, gw4, 4, 0}; /* prefix without dst */
	bad.routes = &rt;
	bad.nroutes = 1;
	expect_invalid(&m);
	rt = (struct agent_route){AF_INET, net4, 4, 16, ip6, 16, 0}; /* v6 gateway */
	expect_invalid(&m);
	rt = (struct agent_route){AF_INET, net4, 4, 16, gw4, 4, 0};
	out = NULL;
	assert_true(agent_msg_encode_alloc(&m, &out) > 0);
	free(out);

	agent_msg_init(&m, AGENT_SIGNAL, 0, 1);
	m.u.signal.signo = 0;
	expect_invalid(&m);
	m.u.signal.signo = 65;
	expect_invalid(&m);
	agent_msg_init(&m, AGENT_RESIZE, 0, 1);
	m.u.resize.rows = 70000;
	expect_invalid(&m);
	agent_msg_init(&m, AGENT_EXIT, AGENT_F_EVENT, 0);
	m.u.exit.code = 256;
	expect_invalid(&m);
}

static void test_error_encode(void **state)
{
	uint8_t buf[8192];
	struct agent_msg d;
	(void)state;

	long n = agent_error_encode(77, ENOENT, "no such thing", buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(agent_msg_decode(buf, (size_t)n, &d), 0);
	assert_int_equal(d.hdr.type, AGENT_ERROR);
	assert_int_equal(d.hdr.flags, AGENT_F_REPLY);
	assert_int_equal(d.hdr.id, 77);
	assert_int_equal(d.u.error.errnum, ENOENT);
	assert_string_equal(d.u.error.message, "no such thing");
	agent_msg_free(&d);
	/* a bogus errno becomes EIO; a long message is cut, not refused */
	static char longmsg[10000];
	memset(longmsg, 'm', sizeof(longmsg) - 1);
	n = agent_error_encode(78, -3, longmsg, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(agent_msg_decode(buf, (size_t)n, &d), 0);
	assert_int_equal(d.u.error.errnum, EIO);
	assert_int_equal(strlen(d.u.error.message), 4095);
	agent_msg_free(&d);
}

/* A stream of frames split at arbitrary points parses back frame by frame
 * with the header-first reading a stream reader does. */
static void test_stream_reassembly(void **state)
{
	(void)state;
	uint8_t stream[65536];
	size_t total = 0;
	for (unsigned k = 0; k < NKINDS; k++) {
		struct agent_msg m;
		sample(&m, k);
		long n = agent_msg_encode(&m, stream + total, sizeof(stream) - total);
		assert_true(n > 0);
		total += (size_t)n;
	}
	size_t off = 0;
	unsigned k = 0;
	while (off < total) {
		struct agent_hdr h;
		assert_int_equal(agent_hdr_decode(stream + off, total - off, &h), 0);
		struct agent_msg d;
		assert_int_equal(agent_msg_decode(stream + off, AGENT_HDR_SIZE + h.len, &d), 0);
		struct agent_msg m;
		sample(&m, k++);
		assert_payload(&m, &d);
		agent_msg_free(&d);
		off += AGENT_HDR_SIZE + h.len;
	}
	assert_int_equal(k, NKINDS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip_every_message),
	    cmocka_unit_test(test_truncated_at_every_offset),
	    cmocka_unit_test(test_oversized),
	    cmocka_unit_test(test_unknown_types_flags_tags),
	    cmocka_unit_test(test_malformed_fields),
	    cmocka_unit_test(test_semantic_checks),
	    cmocka_unit_test(test_resume_checks),
	    cmocka_unit_test(test_error_encode),
	    cmocka_unit_test(test_stream_reassembly),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
