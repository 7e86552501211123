/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Host cgroups (oci/cgroup.h): the path rules (runc's, and the systemd
 * form laid out as cgroupfs), reading the hierarchies from mountinfo and
 * /proc/self/cgroup, and the files written for cgroup v1 and v2, against a
 * fake cgroup tree in a temporary directory (`fake` layouts create the
 * files they write); a failed create leaves no directory behind.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "oci/cgroup.h"

static char tmp[256];

static int setup(void **state)
{
	(void)state;
	snprintf(tmp, sizeof(tmp), "/tmp/kvbox-cgtest.XXXXXX");
	return mkdtemp(tmp) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp);
	return system(cmd) == 0 ? 0 : -1;
}

static void put(const char *rel, const char *content)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", tmp, rel);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(content, f);
	fclose(f);
}

static void mkd(const char *rel)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", tmp, rel);
	assert_int_equal(mkdir(p, 0755), 0);
}

/* the file's content, trailing newline dropped; "<none>" when missing */
static const char *get(const char *rel)
{
	static char buf[256];
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", tmp, rel);
	FILE *f = fopen(p, "r");
	if (!f)
		return "<none>";
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return buf;
}

static bool exists(const char *rel)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", tmp, rel);
	return access(p, F_OK) == 0;
}

static const char *path(const char *spec, bool systemd, struct kv_err *e)
{
	static char out[OCI_CG_PATH_MAX];
	kv_err_clear(e);
	int r = oci_cg_path(spec, systemd, "c1", out, sizeof(out), e);
	return r < 0 ? NULL : out;
}

static void test_path_rules(void **state)
{
	(void)state;
	struct kv_err e;
	assert_string_equal(path(NULL, false, &e), "/kvbox/c1");
	assert_string_equal(path("", false, &e), "/kvbox/c1");
	assert_string_equal(path("/a//b/./c/", false, &e), "/a/b/c");
	assert_string_equal(path("a/b", false, &e), "a/b");
	assert_string_equal(path("/libpod_parent/libpod-6e5f", false, &e),
			    "/libpod_parent/libpod-6e5f");
	/* systemd form, with and without the flag */
	assert_string_equal(path("machine.slice:libpod:abc", true, &e),
			    "/machine.slice/libpod-abc.scope");
	assert_string_equal(path("machine.slice:libpod:abc", false, &e),
			    "/machine.slice/libpod-abc.scope");
	assert_string_equal(path("user-1000.slice:kvbox:x", true, &e),
			    "/user.slice/user-1000.slice/kvbox-x.scope");
	assert_string_equal(path(":kvbox:x", true, &e), "/system.slice/kvbox-x.scope");
	assert_string_equal(path("-.slice:p:n", true, &e), "/p-n.scope");
	assert_string_equal(path("system.slice::n", true, &e), "/system.slice/n.scope");
	assert_string_equal(path("machine.slice:p:sub.slice", true, &e),
			    "/machine.slice/sub.slice");
	assert_string_equal(path(NULL, true, &e), "/system.slice/kvbox-c1.scope");
	/* refused, naming linux.cgroupsPath */
	assert_null(path("/a/../b", false, &e));
	assert_string_equal(e.msg, "linux.cgroupsPath: \"/a/../b\": \"..\" is not allowed");
	assert_int_equal(e.code, EINVAL);
	assert_null(path("..", false, &e));
	assert_null(path("/", false, &e));
	assert_non_null(strstr(e.msg, "root cgroup"));
	assert_null(path("/a/b", true, &e));
	assert_string_equal(e.msg, "linux.cgroupsPath: \"/a/b\": expected \"slice:prefix:name\" "
				   "with --systemd-cgroup");
	assert_null(path("machine:p:n", true, &e));
	assert_non_null(strstr(e.msg, "not a slice name"));
	assert_null(path("a--b.slice:p:n", true, &e));
	assert_non_null(strstr(e.msg, "bad slice name"));
	assert_null(path("machine.slice:p:", true, &e));
	assert_null(path("a:b:c:d", true, &e));
}

/* A hybrid host like this CI machine: v1 controllers (cpu and cpuacct
 * co-mounted here), name=systemd, and a cgroup2 `unified` without
 * controllers; the mount point of one has an escaped space. */
static void hybrid(struct oci_cg_layout *l)
{
	const char *dirs[] = {"cg",	   "cg/cpu,cpuacct", "cg/mem ory", "cg/pids",
			      "cg/cpuset", "cg/systemd",     "cg/unified"};
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		mkd(dirs[i]);
	put("cg/cpuset/cpuset.cpus", "0-1\n");
	put("cg/cpuset/cpuset.mems", "0\n");
	char mi[4096];
	snprintf(mi, sizeof(mi),
		 "31 23 0:28 / %1$s/cg rw - tmpfs tmpfs rw\n"
		 "32 31 0:29 / %1$s/cg/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct\n"
		 "35 31 0:32 / %1$s/cg/mem\\040ory rw - cgroup cgroup rw,memory\n"
		 "36 31 0:33 / %1$s/cg/pids rw shared:5 - cgroup cgroup rw,pids\n"
		 "37 31 0:34 / %1$s/cg/cpuset rw - cgroup cgroup rw,cpuset,clone_children\n"
		 "38 31 0:35 / %1$s/cg/systemd rw - cgroup cgroup rw,xattr,name=systemd\n"
		 "41 31 0:38 / %1$s/cg/unified rw - cgroup2 cgroup2 rw,nsdelegate\n",
		 tmp);
	put("mountinfo", mi);
	put("self",
	    "12:devices:/\n" /* not mounted: skipped */
	    "9:name=systemd:/\n8:pids:/\n4:memory:/me\n3:cpuset:/\n1:cpu,cpuacct:/\n0::/\n");
	char a[512], b[512];
	snprintf(a, sizeof(a), "%s/mountinfo", tmp);
	snprintf(b, sizeof(b), "%s/self", tmp);
	struct kv_err e = {0};
	assert_int_equal(oci_cg_layout_read(a, b, l, &e), 0);
	l->fake = true;
}

static void v2(struct oci_cg_layout *l)
{
	mkd("cg");
	put("cg/cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n");
	char mi[1024];
	snprintf(mi, sizeof(mi),
		 "25 1 0:23 / /proc rw - proc proc rw\n"
		 "31 23 0:28 / %s/cg rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n",
		 tmp);
	put("mountinfo", mi);
	put("self", "0::/init.scope\n");
	char a[512], b[512];
	snprintf(a, sizeof(a), "%s/mountinfo", tmp);
	snprintf(b, sizeof(b), "%s/self", tmp);
	struct kv_err e = {0};
	assert_int_equal(oci_cg_layout_read(a, b, l, &e), 0);
	l->fake = true;
}

static void test_layout_hybrid(void **state)
{
	(void)state;
	struct oci_cg_layout l;
	hybrid(&l);
	assert_int_equal(l.n, 6);
	char want[512];
	snprintf(want, sizeof(want), "%s/cg/systemd", tmp);
	assert_string_equal(l.h[0].mnt, want);
	assert_int_equal(l.h[0].ctrls, 0);
	assert_int_equal(l.h[1].ctrls, OCI_CG_PIDS);
	snprintf(want, sizeof(want), "%s/cg/mem ory", tmp);
	assert_string_equal(l.h[2].mnt, want);
	assert_string_equal(l.h[2].own, "/me");
	assert_int_equal(l.h[2].ctrls, OCI_CG_MEMORY);
	assert_int_equal(l.h[3].ctrls, OCI_CG_CPUSET);
	assert_int_equal(l.h[4].ctrls, OCI_CG_CPU | OCI_CG_CPUACCT);
	assert_true(l.h[5].v2);
	assert_int_equal(l.h[5].ctrls, 0); /* no cgroup.controllers: none */
	oci_cg_layout_fini(&l);
}

static void test_layout_none(void **state)
{
	(void)state;
	put("mountinfo", "25 1 0:23 / /proc rw - proc proc rw\n");
	put("self", "0::/\n");
	char a[512], b[512];
	snprintf(a, sizeof(a), "%s/mountinfo", tmp);
	snprintf(b, sizeof(b), "%s/self", tmp);
	struct oci_cg_layout l;
	struct kv_err e = {0};
	assert_int_equal(oci_cg_layout_read(a, b, &l, &e), -ENOENT);
	assert_non_null(strstr(e.msg, "no cgroup hierarchy is mounted"));
}

static void test_v1_files(void **state)
{
	(void)state;
	struct oci_cg_layout l;
	hybrid(&l);
	struct oci_resources res = {0};
	res.cpu.quota = (struct oci_opt_i64){.set = true, .v = 50000};
	res.cpu.period = (struct oci_opt_u64){.set = true, .v = 100000};
	res.cpu.shares = (struct oci_opt_u64){.set = true, .v = 512};
	res.pids_limit = (struct oci_opt_i64){.set = true, .v = 20}; /* the guest's only */
	struct oci_cg_limits lim;
	oci_cg_limits_from(&res, 256ull << 20, 2, &lim);
	struct oci_cgroup cg;
	struct kv_err e = {0};
	assert_int_equal(oci_cg_create(&l, "/kvbox/c1", &lim, &cg, &e), 0);
	assert_int_equal(cg.n, 6);
	char want[64];
	snprintf(want, sizeof(want), "%llu", (256ull << 20) + OCI_CG_MEM_OVERHEAD(256ull << 20));
	assert_string_equal(get("cg/mem ory/kvbox/c1/memory.limit_in_bytes"), want);
	assert_string_equal(want, "352321536"); /* 256 MiB + 64 MiB + 16 MiB */
	assert_string_equal(get("cg/cpu,cpuacct/kvbox/c1/cpu.cfs_quota_us"), "50000");
	assert_string_equal(get("cg/cpu,cpuacct/kvbox/c1/cpu.cfs_period_us"), "100000");
	assert_string_equal(get("cg/cpu,cpuacct/kvbox/c1/cpu.shares"), "512");
	snprintf(want, sizeof(want), "%llu", (unsigned long long)oci_cg_pids(2));
	assert_string_equal(get("cg/pids/kvbox/c1/pids.max"), want);
	assert_string_equal(want, "202"); /* 8 + 2 vCPUs + 3 * 64 */
	/* cpuset: copied down into every new level */
	assert_string_equal(get("cg/cpuset/kvbox/cpuset.cpus"), "0-1");
	assert_string_equal(get("cg/cpuset/kvbox/c1/cpuset.cpus"), "0-1");
	assert_string_equal(get("cg/cpuset/kvbox/c1/cpuset.mems"), "0");
	/* limits only where their controller is */
	assert_false(exists("cg/pids/kvbox/c1/memory.limit_in_bytes"));
	assert_false(exists("cg/systemd/kvbox/c1/pids.max"));
	assert_true(exists("cg/systemd/kvbox/c1"));
	assert_true(exists("cg/unified/kvbox/c1"));
	assert_false(exists("cg/unified/kvbox/cgroup.subtree_control"));

	assert_int_equal(oci_cg_enter(&cg, 4242, &e), 0);
	assert_string_equal(get("cg/pids/kvbox/c1/cgroup.procs"), "4242");
	assert_string_equal(get("cg/unified/kvbox/c1/cgroup.procs"), "4242");

	/* update: the CPU fields only */
	struct oci_cg_limits upd = {.cpu_quota = -1, .cpus = "1"};
	assert_int_equal(oci_cg_set(&cg, &upd, &e), 0);
	assert_string_equal(get("cg/cpu,cpuacct/kvbox/c1/cpu.cfs_quota_us"), "-1");
	assert_string_equal(get("cg/cpu,cpuacct/kvbox/c1/cpu.cfs_period_us"), "100000");
	assert_string_equal(get("cg/cpuset/kvbox/c1/cpuset.cpus"), "1");
	assert_string_equal(get("cg/pids/kvbox/c1/pids.max"), "202");

	/* stats: v1 files */
	put("cg/mem ory/kvbox/c1/memory.usage_in_bytes", "1048576\n");
	put("cg/pids/kvbox/c1/pids.current", "7\n");
	put("cg/cpu,cpuacct/kvbox/c1/cpuacct.usage", "123456789\n");
	struct oci_cg_stats st;
	oci_cg_stats(&cg, &st);
	assert_int_equal(st.mem_bytes, 1048576);
	assert_int_equal(st.mem_limit, 352321536);
	assert_int_equal(st.pids, 7);
	assert_int_equal(st.pids_limit, 202);
	assert_int_equal(st.cpu_ns, 123456789);

	/* recorded, read back, destroyed: the container's level only */
	mkd("state");
	char sd[512];
	snprintf(sd, sizeof(sd), "%s/state", tmp);
	int dfd = open(sd, O_RDONLY | O_DIRECTORY);
	assert_true(dfd >= 0);
	assert_int_equal(oci_cg_save(dfd, &cg, &e), 0);
	struct oci_cgroup back;
	assert_int_equal(oci_cg_load(dfd, &back, &e), 0);
	assert_int_equal(back.n, cg.n);
	for (size_t i = 0; i < cg.n; i++) {
		assert_string_equal(back.d[i].dir, cg.d[i].dir);
		assert_int_equal(back.d[i].ctrls, cg.d[i].ctrls);
		assert_int_equal(back.d[i].v2, cg.d[i].v2);
	}
	back.fake = true;
	assert_int_equal(oci_cg_destroy(&back, &e), 0);
	assert_int_equal(oci_cg_destroy(&back, &e), 0); /* twice is fine */
	assert_false(exists("cg/pids/kvbox/c1"));
	assert_false(exists("cg/cpuset/kvbox/c1"));
	assert_true(exists("cg/pids/kvbox"));
	oci_cg_fini(&back);
	/* teardown without a file: nothing to do */
	unlinkat(dfd, OCI_CG_FILE, 0);
	assert_int_equal(oci_cg_load(dfd, &back, &e), -ENOENT);
	assert_int_equal(oci_cg_teardown(dfd, &e), 0);
	put("state/cgroup", "v1 zz /x\n");
	assert_int_equal(oci_cg_load(dfd, &back, &e), -EINVAL);
	close(dfd);
	oci_cg_fini(&cg);
	oci_cg_layout_fini(&l);
}

static void test_v2_files(void **state)
{
	(void)state;
	struct oci_cg_layout l;
	v2(&l);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.h[0].ctrls, OCI_CG_CPU | OCI_CG_CPUSET | OCI_CG_MEMORY | OCI_CG_PIDS);
	struct oci_resources res = {0};
	res.cpu.quota = (struct oci_opt_i64){.set = true, .v = 150000};
	res.cpu.shares = (struct oci_opt_u64){.set = true, .v = 1024};
	res.cpu.cpus = "0";
	res.cpu.mems = "0";
	struct oci_cg_limits lim;
	oci_cg_limits_from(&res, 512ull << 20, 2, &lim);
	struct oci_cgroup cg;
	struct kv_err e = {0};
	assert_int_equal(oci_cg_create(&l, "/machine.slice/libpod-x.scope", &lim, &cg, &e), 0);
	assert_string_equal(get("cg/cgroup.subtree_control"), "+cpu +cpuset +memory +pids");
	assert_string_equal(get("cg/machine.slice/cgroup.subtree_control"),
			    "+cpu +cpuset +memory +pids");
	assert_false(exists("cg/machine.slice/libpod-x.scope/cgroup.subtree_control"));
	const char *d = "cg/machine.slice/libpod-x.scope/";
	char f[256];
#define AT(x) (snprintf(f, sizeof(f), "%s%s", d, x), f)
	assert_string_equal(get(AT("cpu.max")), "150000 100000");
	assert_string_equal(get(AT("cpu.weight")), "39");
	assert_string_equal(get(AT("cpuset.cpus")), "0");
	assert_string_equal(get(AT("cpuset.mems")), "0");
	assert_string_equal(get(AT("memory.max")), "637534208"); /* 512 + 64 + 32 MiB */
	assert_string_equal(get(AT("pids.max")), "202");
	assert_false(exists(AT("memory.limit_in_bytes")));
	/* update: period alone keeps no quota ("max"), as runc writes it */
	struct oci_cg_limits upd = {.cpu_quota = 20000, .cpu_period = 50000};
	assert_int_equal(oci_cg_set(&cg, &upd, &e), 0);
	assert_string_equal(get(AT("cpu.max")), "20000 50000");
	upd = (struct oci_cg_limits){.cpu_quota = -1};
	assert_int_equal(oci_cg_set(&cg, &upd, &e), 0);
	assert_string_equal(get(AT("cpu.max")), "max 100000");
	/* stats: v2 files */
	put(AT("cpu.stat"), "usage_usec 2500\nuser_usec 2000\nsystem_usec 500\n");
	put(AT("memory.current"), "4096\n");
	struct oci_cg_stats st;
	oci_cg_stats(&cg, &st);
	assert_int_equal(st.cpu_ns, 2500000);
	assert_int_equal(st.mem_bytes, 4096);
	assert_int_equal(st.mem_limit, 637534208);
	assert_int_equal(st.pids, -1); /* no pids.current */
	put(AT("memory.max"), "max\n");
	oci_cg_stats(&cg, &st);
	assert_int_equal(st.mem_limit, -1);
#undef AT
	assert_int_equal(oci_cg_destroy(&cg, &e), 0);
	assert_false(exists("cg/machine.slice/libpod-x.scope"));
	oci_cg_fini(&cg);
	/* a relative path is below this process's own cgroup */
	struct oci_cg_limits none = {0};
	mkd("cg/init.scope");
	assert_int_equal(oci_cg_create(&l, "sub/c2", &none, &cg, &e), 0);
	assert_string_equal(get("cg/init.scope/cgroup.subtree_control"),
			    "+cpu +cpuset +memory +pids");
	assert_true(exists("cg/init.scope/sub/c2"));
	assert_int_equal(oci_cg_destroy(&cg, &e), 0);
	oci_cg_fini(&cg);
	oci_cg_layout_fini(&l);
}

/* A limit no hierarchy can take fails create, and the directories made
 * for it (parents included) are gone again. */
static void test_create_fails_clean(void **state)
{
	(void)state;
	mkd("cg");
	put("cg/cgroup.controllers", "cpu pids\n");
	char mi[512], a[512], b[512];
	snprintf(mi, sizeof(mi), "31 23 0:28 / %s/cg rw - cgroup2 cgroup2 rw\n", tmp);
	put("mountinfo", mi);
	put("self", "0::/\n");
	snprintf(a, sizeof(a), "%s/mountinfo", tmp);
	snprintf(b, sizeof(b), "%s/self", tmp);
	struct oci_cg_layout l;
	struct kv_err e = {0};
	assert_int_equal(oci_cg_layout_read(a, b, &l, &e), 0);
	l.fake = true;
	struct oci_cg_limits lim;
	oci_cg_limits_from(NULL, 256ull << 20, 1, &lim);
	struct oci_cgroup cg;
	assert_int_equal(oci_cg_create(&l, "/kvbox/c1", &lim, &cg, &e), -ENOTSUP);
	assert_string_equal(e.msg, "cgroup: no mounted hierarchy has the memory controller");
	assert_int_equal(cg.n, 0);
	assert_false(exists("cg/kvbox"));
	oci_cg_layout_fini(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_path_rules),
	    cmocka_unit_test_setup_teardown(test_layout_hybrid, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_layout_none, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_v1_files, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_v2_files, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_create_fails_clean, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
