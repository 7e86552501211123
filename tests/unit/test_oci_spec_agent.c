/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config.json -> CREATE request and VM plan (oci/spec_agent.h):
 * - the three client configs (tests/fixtures/client-configs/) convert once
 *   their host paths are re-rooted in a temporary bundle, and the request
 *   survives agent_msg_encode_alloc + agent_msg_decode;
 * - bind mounts: directory dedupe (also through a symlink), read-only
 *   shares, file sources as parent + subpath, missing sources, share
 *   overflow;
 * - namespaces, devices, cgroup v1 -> v2, process defaults;
 * - seccomp: BPF shape, and a compiled filter installed in a child;
 * - the VM size rules and bad annotations.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include "oci/spec_agent.h"

struct t {
	char bundle[PATH_MAX];
};

/* ---- helpers -------------------------------------------------------- */

static void mkdirs(const char *path)
{
	char buf[PATH_MAX];
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		mkdir(buf, 0755);
		*p = '/';
	}
	mkdir(buf, 0755);
}

static void touch(const char *path)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", path);
	mkdirs(dirname(dir));
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	close(fd);
}

static int setup(void **state)
{
	struct t *t = calloc(1, sizeof(*t));
	assert_non_null(t);
	snprintf(t->bundle, sizeof(t->bundle), "/tmp/kvbox-spec-agent-XXXXXX");
	assert_non_null(mkdtemp(t->bundle));
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/rootfs", t->bundle);
	mkdirs(p);
	*state = t;
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	return remove(path);
}

static int teardown(void **state)
{
	struct t *t = *state;
	nftw(t->bundle, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(t);
	return 0;
}

static char *fixture_path(const char *name)
{
	char exe[PATH_MAX], *out = NULL, src[PATH_MAX];
	snprintf(src, sizeof(src), "%s", __FILE__);
	char *srcdir = dirname(src); /* .../tests/unit */
	if (srcdir[0] == '/') {
		assert_true(asprintf(&out, "%s/../fixtures/client-configs/%s", srcdir, name) > 0);
		return out;
	}
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	assert_true(n > 0);
	exe[n] = '\0';
	char *root = dirname(dirname(dirname(exe)));
	assert_true(asprintf(&out, "%s/%s/../fixtures/client-configs/%s", root, srcdir, name) > 0);
	return out;
}

/* Parses JSON written with ' for ", with every "@" replaced by the bundle. */
static struct oci_config *parse(struct t *t, const char *snippet)
{
	char buf[16384];
	size_t o = 0;
	for (const char *s = snippet; *s && o < sizeof(buf) - PATH_MAX; s++) {
		if (*s == '@')
			o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s", t->bundle);
		else
			buf[o++] = *s == '\'' ? '"' : *s;
	}
	buf[o] = '\0';
	struct kv_err err = {0};
	struct oci_config *cfg = NULL;
	if (oci_config_parse(buf, o, t->bundle, &cfg, &err))
		fail_msg("parse: %s\n  for %s", err.msg, buf);
	return cfg;
}

/* A client config with root.path and each bind source moved under the
 * bundle ("host" + the original path), made on disk: a file, or a
 * directory when its name is "shm". */
static struct oci_config *load_fixture(struct t *t, const char *name)
{
	char *path = fixture_path(name), p[PATH_MAX];
	json_error_t je;
	json_t *j = json_load_file(path, 0, &je);
	if (!j)
		fail_msg("%s: %s", path, je.text);
	free(path);
	snprintf(p, sizeof(p), "%s/rootfs", t->bundle);
	json_object_set_new(json_object_get(j, "root"), "path", json_string(p));
	size_t i;
	json_t *m;
	json_array_foreach(json_object_get(j, "mounts"), i, m)
	{
		const char *type = json_string_value(json_object_get(m, "type"));
		const char *src = json_string_value(json_object_get(m, "source"));
		if (!type || strcmp(type, "bind"))
			continue;
		snprintf(p, sizeof(p), "%s/host%s", t->bundle, src);
		if (!strcmp(strrchr(src, '/'), "/shm"))
			mkdirs(p);
		else
			touch(p);
		json_object_set_new(m, "source", json_string(p));
	}
	char *text = json_dumps(j, 0);
	json_decref(j);
	struct kv_err err = {0};
	struct oci_config *cfg = NULL;
	if (oci_config_parse(text, strlen(text), t->bundle, &cfg, &err))
		fail_msg("%s: %s", name, err.msg);
	free(text);
	return cfg;
}

static void convert_ok(struct oci_config *cfg, unsigned max, struct agent_create *c,
		       struct oci_vm_plan *plan)
{
	struct kv_err err = {0};
	if (oci_spec_to_agent(cfg, "ct1", max, c, plan, &err))
		fail_msg("oci_spec_to_agent: %s", err.msg);
}

static void convert_err(struct oci_config *cfg, unsigned max, const char *want)
{
	struct kv_err err = {0};
	struct agent_create c;
	struct oci_vm_plan plan;
	int r = oci_spec_to_agent(cfg, "ct1", max, &c, &plan, &err);
	if (r == 0)
		fail_msg("accepted, expected \"%s\"", want);
	assert_true(r < 0);
	if (!strstr(err.msg, want))
		fail_msg("got      \"%s\"\nexpected \"%s\"", err.msg, want);
	assert_null(c.mounts); /* released on failure */
	assert_int_equal(plan.nshares, 0);
}

static const struct agent_mount *find_mount(const struct agent_create *c, const char *dst)
{
	for (uint32_t i = 0; i < c->nmounts; i++)
		if (!strcmp(c->mounts[i].destination, dst))
			return &c->mounts[i];
	fail_msg("no mount at %s", dst);
	return NULL;
}

/* Encodes c as a CREATE frame and decodes it back: the agent's view. */
static void roundtrip(const struct agent_create *c)
{
	struct agent_msg m, d;
	agent_msg_init(&m, AGENT_CREATE, 0, 7);
	m.u.create = *c;
	uint8_t *buf = NULL;
	long n = agent_msg_encode_alloc(&m, &buf);
	assert_true(n > 0);
	assert_int_equal(agent_msg_decode(buf, (size_t)n, &d), 0);
	const struct agent_create *b = &d.u.create;
	assert_string_equal(b->container_id, c->container_id);
	assert_string_equal(b->rootfs_tag, OCI_ROOTFS_TAG);
	assert_int_equal(b->nmounts, c->nmounts);
	for (uint32_t i = 0; i < c->nmounts; i++) {
		assert_string_equal(b->mounts[i].destination, c->mounts[i].destination);
		assert_string_equal(b->mounts[i].type, c->mounts[i].type);
		assert_int_equal(b->mounts[i].flags, c->mounts[i].flags);
	}
	assert_int_equal(b->process.nargs, c->process.nargs);
	assert_int_equal(b->process.seccomp_len, c->process.seccomp_len);
	if (c->process.seccomp_len)
		assert_memory_equal(b->process.seccomp_bpf, c->process.seccomp_bpf,
				    c->process.seccomp_len);
	assert_int_equal(b->namespaces, c->namespaces);
	assert_int_equal(b->nsysctls, c->nsysctls);
	agent_msg_free(&d);
	free(buf);
}

#define NS_DEFAULT (CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS)

/* ---- client configs ------------------------------------------------- */

static void test_podman(void **state)
{
	struct t *t = *state;
	struct oci_config *cfg = load_fixture(t, "podman.json");
	struct agent_create c;
	struct oci_vm_plan plan;
	convert_ok(cfg, GOFER_MAX_SHARES, &c, &plan);
	/* rootfs; userdata/shm (a directory); runroot's userdata (3 files) */
	assert_int_equal(plan.nshares, 3);
	assert_string_equal(plan.shares[0].tag, OCI_ROOTFS_TAG);
	assert_false(plan.shares[0].readonly);
	assert_string_equal(plan.shares[1].tag, "kvb1");
	assert_string_equal(plan.shares[2].tag, "kvb2");
	assert_non_null(strstr(plan.shares[1].path, "/userdata/shm"));
	assert_non_null(strstr(plan.shares[2].path, "/runroot/vfs-containers/"));
	const struct agent_mount *m = find_mount(&c, "/dev/shm");
	assert_string_equal(m->type, "bind");
	assert_string_equal(m->source, "kvb1");
	assert_null(m->subpath);
	assert_int_equal(m->flags, MS_NOSUID | MS_NOEXEC | MS_NODEV);
	assert_int_equal(m->propagation, MS_PRIVATE | MS_REC);
	m = find_mount(&c, "/etc/hosts");
	assert_string_equal(m->source, "kvb2");
	assert_string_equal(m->subpath, "hosts");
	m = find_mount(&c, "/run/.containerenv");
	assert_string_equal(m->subpath, ".containerenv");
	m = find_mount(&c, "/sys/fs/cgroup");
	assert_string_equal(m->type, "cgroup2");
	assert_null(m->data);
	assert_true(m->flags & MS_RDONLY);
	m = find_mount(&c, "/dev/pts");
	assert_string_equal(m->type, "devpts");
	assert_string_equal(m->data, "newinstance,ptmxmode=0666,mode=0620,gid=5");
	assert_int_equal(c.namespaces, NS_DEFAULT);
	assert_int_equal(c.process.umask, 18);
	assert_int_equal(c.process.nrlimits, 2);
	assert_true(c.process.seccomp_len > 0);
	assert_int_equal(c.process.seccomp_len % 8, 0);
	assert_int_equal(plan.mem_bytes, OCI_VM_MEM_DEFAULT);
	assert_int_equal(plan.ncpus, 1);
	roundtrip(&c);
	oci_agent_create_free(&c);
	oci_vm_plan_free(&plan);
	oci_config_free(cfg);
}

static void test_docker(void **state)
{
	struct t *t = *state;
	struct oci_config *cfg = load_fixture(t, "docker.json");
	struct agent_create c;
	struct oci_vm_plan plan;
	convert_ok(cfg, GOFER_MAX_SHARES, &c, &plan);
	/* resolv.conf, hostname and hosts share one directory */
	assert_int_equal(plan.nshares, 2);
	assert_false(plan.shares[1].readonly);
	const char *files[] = {"/etc/resolv.conf", "/etc/hostname", "/etc/hosts"};
	for (size_t i = 0; i < 3; i++) {
		const struct agent_mount *m = find_mount(&c, files[i]);
		assert_string_equal(m->source, "kvb1");
		assert_string_equal(m->subpath, strrchr(files[i], '/') + 1);
		assert_int_equal(m->flags, 0); /* rbind: MS_BIND|MS_REC dropped */
	}
	assert_string_equal(find_mount(&c, "/sys/fs/cgroup")->type, "cgroup2");
	assert_int_equal(c.nsysctls, 2);
	assert_string_equal(c.sysctls[0].key, "net.ipv4.ip_unprivileged_port_start");
	assert_int_equal(c.namespaces, NS_DEFAULT);
	assert_true(c.nmasked_paths > 0 && c.nreadonly_paths > 0);
	assert_true(c.process.seccomp_len > 0);
	assert_int_equal(c.process.seccomp_len % 8, 0);
	assert_int_equal(c.process.umask, 022);
	roundtrip(&c);
	oci_agent_create_free(&c);
	oci_vm_plan_free(&plan);
	oci_config_free(cfg);
}

static void test_containerd(void **state)
{
	struct t *t = *state;
	struct oci_config *cfg = load_fixture(t, "containerd-ctr.json");
	struct agent_create c;
	struct oci_vm_plan plan;
	convert_ok(cfg, 1, &c, &plan); /* no bind mounts: the rootfs alone */
	assert_int_equal(plan.nshares, 1);
	assert_string_equal(c.rootfs_tag, OCI_ROOTFS_TAG);
	assert_true(c.process.no_new_privs);
	assert_int_equal(c.process.seccomp_len, 0);
	assert_int_equal(c.process.ngroups, 1);
	assert_true(c.process.cap_bounding != 0);
	assert_int_equal(c.process.cap_bounding, c.process.cap_effective);
	assert_int_equal(c.process.cap_ambient, 0);
	assert_int_equal(c.namespaces, NS_DEFAULT);
	roundtrip(&c);
	oci_agent_create_free(&c);
	oci_vm_plan_free(&plan);
	oci_config_free(cfg);
}

/* ---- bind mounts ---------------------------------------------------- */

#define BASE "{'ociVersion':'1.0.2','root':{'path':'rootfs','readonly':true},"
#define PROC "'process':{'args':['sh'],'cwd':'/'}"

static void test_bind_dedupe(void **state)
{
	struct t *t = *state;
	char p[PATH_MAX], l[PATH_MAX];
	snprintf(p, sizeof(p), "%s/d1", t->bundle);
	mkdirs(p);
	snprintf(l, sizeof(l), "%s/d1-link", t->bundle);
	assert_int_equal(symlink(p, l), 0);
	snprintf(p, sizeof(p), "%s/d2/sub", t->bundle);
	mkdirs(p);
	snprintf(p, sizeof(p), "%s/d2/f.txt", t->bundle);
	touch(p);
	struct oci_config *cfg = parse(
	    t, BASE PROC
	    ",'mounts':["
	    "{'destination':'/a','type':'bind','source':'@/d1','options':['rbind','ro']},"
	    "{'destination':'/b','source':'@/d1-link','options':['bind']},"
	    "{'destination':'/c','type':'bind','source':'@/d2/sub','options':['ro','nosuid']},"
	    "{'destination':'/d','type':'bind','source':'@/d2/f.txt','options':['rro']},"
	    "{'destination':'/e','type':'none','source':'@/d2/sub/','options':['rbind','ro',"
	    "'rslave']},"
	    "{'destination':'/f','type':'bind','source':'d2','options':['ro']}]}");
	struct agent_create c;
	struct oci_vm_plan plan;
	convert_ok(cfg, GOFER_MAX_SHARES, &c, &plan);
	assert_true(plan.shares[0].readonly);
	assert_int_equal(plan.nshares, 4); /* root, d1, d2/sub, d2 */
	snprintf(p, sizeof(p), "%s/d1", t->bundle);
	assert_string_equal(plan.shares[1].path, p);
	assert_false(plan.shares[1].readonly); /* /b is writable */
	assert_true(plan.shares[2].readonly);  /* /c and /e: both ro */
	assert_true(plan.shares[3].readonly);  /* /d (rro) and /f */
	assert_string_equal(c.mounts[0].source, "kvb1");
	assert_int_equal(c.mounts[0].flags, MS_RDONLY);
	assert_string_equal(c.mounts[1].type, "bind");
	assert_string_equal(c.mounts[1].source, "kvb1");
	assert_int_equal(c.mounts[1].flags, 0);
	assert_string_equal(c.mounts[2].source, "kvb2");
	assert_int_equal(c.mounts[2].flags, MS_RDONLY | MS_NOSUID);
	assert_string_equal(c.mounts[3].source, "kvb3");
	assert_string_equal(c.mounts[3].subpath, "f.txt");
	assert_int_equal(c.mounts[3].flags, MS_RDONLY);
	assert_string_equal(c.mounts[4].type, "bind");
	assert_string_equal(c.mounts[4].source, "kvb2");
	assert_int_equal(c.mounts[4].propagation, MS_SLAVE | MS_REC);
	assert_string_equal(c.mounts[5].source, "kvb3"); /* relative to the bundle */
	assert_null(c.mounts[5].subpath);
	roundtrip(&c);
	oci_agent_create_free(&c);
	oci_vm_plan_free(&plan);
	oci_config_free(cfg);
}

static void test_bind_errors(void **state)
{
	struct t *t = *state;
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/x1", t->bundle);
	mkdirs(p);
	snprintf(p, sizeof(p), "%s/x2", t->bundle);
	mkdirs(p);
	struct oci_config *cfg =
	    parse(t, BASE PROC ",'mounts':["
			       "{'destination':'/proc','type':'proc','source':'proc'},"
			       "{'destination':'/a','type':'bind','source':'@/x1'},"
			       "{'destination':'/b','type':'bind','source':'@/x1'},"
			       "{'destination':'/c','type':'bind','source':'@/x2'}]}");
	convert_err(cfg, 2, "mounts[3].source: \"");
	convert_err(cfg, 2, "/x2\" needs a 9p share, and the VM takes 2");
	struct agent_create c;
	struct oci_vm_plan plan;
	convert_ok(cfg, 3, &c, &plan);
	assert_int_equal(plan.nshares, 3);
	oci_agent_create_free(&c);
	oci_vm_plan_free(&plan);
	convert_err(cfg, 0, "must be 1..");
	oci_config_free(cfg);

	cfg = parse(t,
		    BASE PROC ",'mounts':[{'destination':'/a','type':'bind','source':'/proc'},"
			      "{'destination':'/b','type':'bind','source':'/nonexistent/kvbox'}]}");
	convert_err(cfg, 8, "mounts[1].source: \"/nonexistent/kvbox\" does not exist");
	oci_config_free(cfg);

	cfg = parse(t, BASE PROC ",'mounts':[{'destination':'/n','type':'bind',"
				 "'source':'/dev/null'}]}");
	convert_err(cfg, 8, "mounts[0].source: \"/dev/null\" is not a directory or a regular file");
	oci_config_free(cfg);

	cfg = parse(t, "{'ociVersion':'1.0.2','root':{'path':'nothere'}," PROC "}");
	convert_err(cfg, 8, "root.path: \"");
	convert_err(cfg, 8, "/nothere\" is not a directory");
	oci_config_free(cfg);

	cfg = parse(t, "{'ociVersion':'1.0.2','root':{'path':'rootfs'}}");
	convert_err(cfg, 8, "process: required");
	oci_config_free(cfg);
}

/* ---- the rest of CREATE -------------------------------------------- */

static void test_linux(void **state)
{
	struct t *t = *state;
	struct oci_config *cfg = parse(
	    t, BASE PROC
	    ",'hostname':'h1','domainname':'d1',"
	    "'mounts':[{'destination':'/sys/fs/cgroup','type':'cgroup','source':'cgroup',"
	    "'options':['ro','name=systemd']}],"
	    "'linux':{'namespaces':[{'type':'pid'},{'type':'network','path':'/run/netns/x'},"
	    "{'type':'user'},{'type':'cgroup'},{'type':'mount'},{'type':'time'}],"
	    "'devices':[{'path':'/dev/fuse','type':'c','major':10,'minor':229},"
	    "{'path':'/dev/u','type':'u','major':1,'minor':2,'fileMode':8630,'uid':5,'gid':6}],"
	    "'sysctl':{'kernel.msgmax':'4242'},"
	    "'maskedPaths':['/proc/kcore'],'readonlyPaths':['/proc/sys']}}");
	struct agent_create c;
	struct oci_vm_plan plan;
	convert_ok(cfg, 1, &c, &plan);
	assert_true(c.rootfs_readonly);
	assert_string_equal(c.hostname, "h1");
	assert_string_equal(c.domainname, "d1");
	assert_int_equal(c.namespaces, CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWCGROUP);
	assert_string_equal(c.mounts[0].type, "cgroup2");
	assert_null(c.mounts[0].data); /* v1 options dropped */
	assert_int_equal(c.ndevices, 2);
	assert_int_equal(c.devices[0].type, 'c');
	assert_int_equal(c.devices[0].mode, 0666);
	assert_int_equal(c.devices[1].type, 'c');
	assert_int_equal(c.devices[1].mode, 8630 & 07777);
	assert_int_equal(c.devices[1].uid, 5);
	assert_int_equal(c.devices[1].gid, 6);
	assert_string_equal(c.sysctls[0].value, "4242");
	assert_string_equal(c.masked_paths[0], "/proc/kcore");
	assert_null(c.masked_paths[1]);
	assert_string_equal(c.readonly_paths[0], "/proc/sys");
	roundtrip(&c);
	oci_agent_create_free(&c);
	oci_vm_plan_free(&plan);
	oci_config_free(cfg);

	cfg =
	    parse(t, BASE PROC ",'linux':{'namespaces':[{'type':'ipc','path':'/proc/1/ns/ipc'}]}}");
	convert_err(cfg, 1, "linux.namespaces[0].path: joining an existing ipc namespace");
	oci_config_free(cfg);
	/* no namespaces at all: still a mount namespace (the agent needs it) */
	cfg = parse(t, BASE PROC "}");
	convert_ok(cfg, 1, &c, &plan);
	assert_int_equal(c.namespaces, CLONE_NEWNS);
	assert_null(c.hostname);
	oci_agent_create_free(&c);
	oci_vm_plan_free(&plan);
	oci_config_free(cfg);
}

/* ---- process -------------------------------------------------------- */

static void test_process(void **state)
{
	struct t *t = *state;
	struct oci_config *cfg =
	    parse(t, BASE "'process':{'args':['a','b'],'cwd':'/w',"
			  "'terminal':true,'consoleSize':{'height':24,'width':80},"
			  "'env':['A=1'],'user':{'uid':7,'gid':8,'additionalGids':[9,10]},"
			  "'noNewPrivileges':true}}");
	struct agent_process p;
	struct kv_err err = {0};
	assert_int_equal(oci_process_to_agent(cfg->process, NULL, &p, &err), 0);
	assert_int_equal(p.nargs, 2);
	assert_null(p.args[2]);
	assert_string_equal(p.env[0], "A=1");
	assert_string_equal(p.cwd, "/w");
	assert_int_equal(p.uid, 7);
	assert_int_equal(p.gid, 8);
	assert_int_equal(p.ngroups, 2);
	assert_int_equal(p.groups[1], 10);
	assert_int_equal(p.umask, 022);
	assert_true(p.terminal);
	assert_int_equal(p.console_rows, 24);
	assert_int_equal(p.console_cols, 80);
	assert_true(p.no_new_privs);
	/* no "capabilities": empty sets, as runc */
	assert_int_equal(p.cap_bounding | p.cap_effective | p.cap_permitted, 0);
	assert_int_equal(p.stdin_port | p.stdout_port | p.console_port, 0);
	oci_agent_process_free(&p);
	oci_config_free(cfg);

	cfg = parse(t, BASE "'process':{'args':['a'],'cwd':'/','capabilities':{"
			    "'bounding':['CAP_CHOWN','CAP_KILL'],'ambient':['CAP_KILL']}}}");
	assert_int_equal(oci_process_to_agent(cfg->process, NULL, &p, &err), 0);
	assert_int_equal(p.cap_bounding, (1ull << 0) | (1ull << 5));
	assert_int_equal(p.cap_ambient, 1ull << 5);
	assert_int_equal(p.cap_effective, 0);
	oci_agent_process_free(&p);
	oci_config_free(cfg);
}

/* ---- seccomp -------------------------------------------------------- */

#define SECCOMP(...) BASE PROC ",'linux':{'seccomp':{" __VA_ARGS__ "}}}"

/* Installs the filter in a child, which calls getppid() and reports. */
static int run_filter(const struct agent_process *p)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct sock_fprog prog = {(unsigned short)(p->seccomp_len / 8),
					  (struct sock_filter *)(void *)p->seccomp_bpf};
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
		    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, p->seccomp_flags, &prog) < 0)
			_exit(200);
		errno = 0;
		long r = syscall(SYS_getppid);
		/* the raw call: a sanitizer's _exit() hook would make calls the
		 * filter may deny */
		syscall(SYS_exit_group, r < 0 ? errno : 0);
		_exit(201); /* not reached */
	}
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

static void test_seccomp(void **state)
{
	struct t *t = *state;
	struct oci_config *cfg = parse(
	    t,
	    SECCOMP("'defaultAction':'SCMP_ACT_ALLOW',"
		    "'architectures':['SCMP_ARCH_X86_64','SCMP_ARCH_X86','SCMP_ARCH_AARCH64'],"
		    "'flags':['SECCOMP_FILTER_FLAG_LOG','SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV'],"
		    "'syscalls':[{'names':['getppid','no_such_syscall_kvbox'],"
		    "'action':'SCMP_ACT_ERRNO','errnoRet':42},"
		    "{'names':['getpid'],'action':'SCMP_ACT_ALLOW'},"
		    "{'names':['personality'],'action':'SCMP_ACT_ERRNO','args':["
		    "{'index':0,'value':0,'op':'SCMP_CMP_EQ'},{'index':0,'value':8,'op':'SCMP_CMP_"
		    "EQ'}]},"
		    "{'names':['clone'],'action':'SCMP_ACT_LOG','args':["
		    "{'index':0,'value':2114060288,'valueTwo':0,'op':'SCMP_CMP_MASKED_EQ'},"
		    "{'index':1,'value':0,'op':'SCMP_CMP_NE'}]}]"));
	struct agent_process p;
	struct kv_err err = {0};
	if (oci_process_to_agent(cfg->process, cfg->linux_spec.seccomp, &p, &err))
		fail_msg("%s", err.msg);
	assert_true(p.seccomp_len > 0);
	assert_int_equal(p.seccomp_len % 8, 0);
	assert_true(p.seccomp_len <= AGENT_MAX_BPF_INSNS * 8);
	assert_int_equal(p.seccomp_flags, SECCOMP_FILTER_FLAG_LOG);
	assert_int_equal(run_filter(&p), 42);
	oci_agent_process_free(&p);
	oci_config_free(cfg);

	/* default ERRNO with defaultErrnoRet; getppid allowed */
	cfg = parse(t, SECCOMP("'defaultAction':'SCMP_ACT_ERRNO','defaultErrnoRet':38,"
			       "'syscalls':[{'names':['getppid','exit','exit_group'],'action':'"
			       "SCMP_ACT_ALLOW'}]"));
	assert_int_equal(oci_process_to_agent(cfg->process, cfg->linux_spec.seccomp, &p, &err), 0);
	assert_int_equal(run_filter(&p), 0);
	oci_agent_process_free(&p);
	oci_config_free(cfg);
	cfg = parse(t, SECCOMP("'defaultAction':'SCMP_ACT_ALLOW',"
			       "'syscalls':[{'names':['getppid'],'action':'SCMP_ACT_ERRNO'}]"));
	assert_int_equal(oci_process_to_agent(cfg->process, cfg->linux_spec.seccomp, &p, &err), 0);
	assert_int_equal(run_filter(&p), EPERM); /* errnoRet defaults to EPERM */
	oci_agent_process_free(&p);
	oci_config_free(cfg);
}

/* ---- VM size -------------------------------------------------------- */

static void size_ok(struct t *t, const char *linux_res, const char *ann, uint64_t mem,
		    unsigned cpus)
{
	char buf[2048];
	snprintf(buf, sizeof(buf), BASE PROC ",'linux':{'resources':{%s}},'annotations':{%s}}",
		 linux_res, ann);
	struct oci_config *cfg = parse(t, buf);
	uint64_t m = 0;
	unsigned n = 0;
	struct kv_err err = {0};
	if (oci_vm_size(cfg, &m, &n, &err))
		fail_msg("%s\n  for %s", err.msg, buf);
	assert_int_equal(m, mem);
	assert_int_equal(n, cpus);
	oci_config_free(cfg);
}

static void size_err(struct t *t, const char *ann, const char *want)
{
	char buf[2048];
	snprintf(buf, sizeof(buf), BASE PROC ",'annotations':{%s}}", ann);
	struct oci_config *cfg = parse(t, buf);
	uint64_t m;
	unsigned n;
	struct kv_err err = {0};
	assert_true(oci_vm_size(cfg, &m, &n, &err) < 0);
	if (!strstr(err.msg, want))
		fail_msg("got      \"%s\"\nexpected \"%s\"", err.msg, want);
	oci_config_free(cfg);
}

static void test_vm_size(void **state)
{
	struct t *t = *state;
	const uint64_t MiB = 1 << 20;
	long online = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned cap = online > 64 ? 64 : (unsigned)online;
	size_ok(t, "", "", 256 * MiB, 1);
	size_ok(t, "'memory':{'limit':-1}", "", 256 * MiB, 1);
	size_ok(t, "'memory':{'limit':0}", "", 256 * MiB, 1);
	size_ok(t, "'memory':{'limit':1048576}", "", 128 * MiB, 1);
	size_ok(t, "'memory':{'limit':536870913}", "", 513 * MiB, 1);
	size_ok(t, "'cpu':{'quota':150000,'period':100000}", "", 0 + 256 * MiB, cap < 2 ? cap : 2);
	size_ok(t, "'cpu':{'quota':100000,'period':100000}", "", 256 * MiB, 1);
	size_ok(t, "'cpu':{'quota':-1,'period':100000}", "", 256 * MiB, 1);
	size_ok(t, "'cpu':{'quota':100000000,'period':1000}", "", 256 * MiB, cap);
	size_ok(t, "'cpu':{'quota':150000}", "", 256 * MiB, 1);
	size_ok(t, "'memory':{'limit':1048576}", "'io.kvbox.vm.memory':'1G','io.kvbox.vm.cpus':'3'",
		1024 * MiB, 3);
	size_ok(t, "", "'io.kvbox.vm.memory':'512'", 512 * MiB, 1);
	size_ok(t, "", "'io.kvbox.vm.memory':'200000K'", 196 * MiB, 1);
	size_ok(t, "", "'io.kvbox.vm.cpus':'64'", 256 * MiB, 64);
	size_err(t, "'io.kvbox.vm.memory':'lots'", "annotations.\"io.kvbox.vm.memory\": \"lots\"");
	size_err(t, "'io.kvbox.vm.memory':'64M'", "io.kvbox.vm.memory");
	size_err(t, "'io.kvbox.vm.memory':'1X'", "io.kvbox.vm.memory");
	size_err(t, "'io.kvbox.vm.cpus':'0'", "annotations.\"io.kvbox.vm.cpus\": \"0\"");
	size_err(t, "'io.kvbox.vm.cpus':'65'", "in 1..64");
	size_err(t, "'io.kvbox.vm.cpus':'2x'", "io.kvbox.vm.cpus");
	size_err(t, "'io.kvbox.vm.cpus':'-1'", "io.kvbox.vm.cpus");
	size_err(t, "'io.kvbox.vm.cpus':''", "io.kvbox.vm.cpus");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_podman, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_docker, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_containerd, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bind_dedupe, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bind_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_linux, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_process, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_seccomp, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_vm_size, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
