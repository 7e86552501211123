/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config.json parser tests (oci/config.h), what must parse:
 * - the three configs real clients generated (podman, containerd's ctr,
 *   docker; tests/fixtures/client-configs/), a sample of fields each,
 *   checked exactly;
 * - semantics: null = absent, unknown keys ignored, root path resolution,
 *   mount option classification, every process and linux field;
 * - the standalone process and resources parsers, `kvbox spec`'s default
 *   config parsing back, oci_config_load, the name tables.
 * What must not parse is in test_oci_config_errors.c.
 */
#include "tests/unit/test_oci_config.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <linux/capability.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/file.h"

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

static struct oci_config *load_fixture(const char *name, const char *bundle)
{
	struct kv_err err = {0};
	struct oci_config *cfg = NULL;
	uint8_t *buf = NULL;
	size_t len;
	char *path = fixture_path(name);
	if (read_file_bounded(path, OCI_CONFIG_MAX_SIZE, &buf, &len, &err))
		fail_msg("%s", err.msg);
	if (oci_config_parse((char *)buf, len, bundle, &cfg, &err))
		fail_msg("%s: %s", name, err.msg);
	free(buf);
	free(path);
	return cfg;
}

#define CAPBIT(c) (1ull << (c))

/* ---- the client configs ---------------------------------------------- */

static void check_podman_process(const struct oci_process *p)
{
	assert_false(p->terminal);
	assert_int_equal(p->args.n, 2);
	assert_string_equal(p->args.v[0], "sleep");
	assert_string_equal(p->args.v[1], "60");
	assert_null(p->args.v[2]);
	assert_int_equal(p->env.n, 5);
	assert_string_equal(p->env.v[2], "container=podman");
	assert_string_equal(p->cwd, "/");
	assert_int_equal(p->user.uid, 0);
	assert_true(p->user.umask.set);
	assert_int_equal(p->user.umask.v, 022);
	assert_int_equal(p->user.n_additional_gids, 0);
	assert_true(p->has_capabilities);
	assert_true(p->caps.given[OCI_CAP_BOUNDING]);
	assert_false(p->caps.given[OCI_CAP_INHERITABLE]);
	assert_false(p->caps.given[OCI_CAP_AMBIENT]);
	assert_int_equal(__builtin_popcountll(p->caps.set[OCI_CAP_BOUNDING]), 14);
	assert_true(p->caps.set[OCI_CAP_EFFECTIVE] & CAPBIT(CAP_SYS_CHROOT));
	assert_false(p->caps.set[OCI_CAP_PERMITTED] & CAPBIT(CAP_SYS_ADMIN));
	assert_int_equal(p->caps.set[OCI_CAP_BOUNDING], p->caps.set[OCI_CAP_PERMITTED]);
	assert_int_equal(p->n_rlimits, 2);
	assert_int_equal(p->rlimits[0].resource, RLIMIT_NOFILE);
	assert_int_equal(p->rlimits[0].hard, 20000);
	assert_int_equal(p->rlimits[0].soft, 20000);
	assert_int_equal(p->rlimits[1].resource, RLIMIT_NPROC);
	assert_int_equal(p->rlimits[1].hard, 32768);
	assert_false(p->no_new_privileges);
	assert_false(p->oom_score_adj.set);
}

static void check_podman_mounts(const struct oci_config *cfg)
{
	assert_int_equal(cfg->n_mounts, 10);
	const struct oci_mount *dev = &cfg->mounts[1];
	assert_string_equal(dev->destination, "/dev");
	assert_string_equal(dev->type, "tmpfs");
	assert_int_equal(dev->flags, MS_NOSUID | MS_NOEXEC | MS_STRICTATIME);
	assert_string_equal(dev->data, "mode=755,size=65536k");
	assert_false(dev->bind);
	const struct oci_mount *shm = &cfg->mounts[5];
	assert_string_equal(shm->destination, "/dev/shm");
	assert_true(shm->bind);
	assert_int_equal(shm->flags, MS_BIND | MS_NOSUID | MS_NOEXEC | MS_NODEV);
	assert_int_equal(shm->n_propagation, 1);
	assert_int_equal(shm->propagation[0], MS_PRIVATE | MS_REC);
	assert_null(shm->data);
	const struct oci_mount *cg = &cfg->mounts[9];
	assert_string_equal(cg->destination, "/sys/fs/cgroup");
	assert_string_equal(cg->type, "cgroup");
	assert_string_equal(cg->source, "cgroup");
	assert_int_equal(cg->options.n, 6);
	assert_int_equal(cg->flags, MS_NOSUID | MS_NOEXEC | MS_NODEV | MS_RELATIME | MS_RDONLY);
	assert_int_equal(cg->n_propagation, 1);
	assert_null(cg->data);
	assert_string_equal(cfg->mounts[3].data, "newinstance,ptmxmode=0666,mode=0620,gid=5");
}

static void check_podman_linux(const struct oci_linux *lx)
{
	assert_int_equal(lx->n_namespaces, 5);
	assert_int_equal(lx->namespaces[0].type, OCI_NS_PID);
	assert_int_equal(lx->namespaces[4].type, OCI_NS_MOUNT);
	assert_null(lx->namespaces[1].path);
	assert_non_null(lx->resources);
	assert_true(lx->resources->pids_limit.set);
	assert_int_equal(lx->resources->pids_limit.v, 2048);
	assert_int_equal(lx->resources->n_devices, 1);
	assert_false(lx->resources->devices[0].allow);
	assert_int_equal(lx->resources->devices[0].type, 'a');
	assert_string_equal(lx->resources->devices[0].access, "rwm");
	assert_false(lx->resources->memory.limit.set);
	assert_string_equal(lx->cgroups_path, "/libpod_parent/libpod-6e5fcbc11f4870fb184bc92ca645"
					      "0a060092fcd8cca41efd99ac7f76640ec38e");
	const struct oci_seccomp *s = lx->seccomp;
	assert_non_null(s);
	assert_int_equal(s->default_action, OCI_SCMP_ACT_ERRNO);
	assert_true(s->default_errno_ret.set);
	assert_int_equal(s->default_errno_ret.v, 38);
	assert_int_equal(s->architectures.n, 3);
	assert_string_equal(s->architectures.v[2], "SCMP_ARCH_X32");
	assert_int_equal(s->n_syscalls, 19);
	assert_int_equal(s->syscalls[0].names.n, 28);
	assert_string_equal(s->syscalls[0].names.v[0], "bdflush");
	assert_int_equal(s->syscalls[0].errno_ret.v, 1);
	assert_int_equal(s->syscalls[1].action, OCI_SCMP_ACT_ALLOW);
	assert_false(s->syscalls[1].errno_ret.set);
	assert_int_equal(s->syscalls[6].n_args, 1);
	assert_int_equal(s->syscalls[6].args[0].value, 4294967295u);
	assert_int_equal(s->syscalls[6].args[0].op, OCI_SCMP_CMP_EQ);
	assert_int_equal(lx->masked_paths.n, 11);
	assert_string_equal(lx->masked_paths.v[10], "/sys/dev/block");
	assert_int_equal(lx->readonly_paths.n, 6);
	assert_int_equal(lx->sysctl.n, 0);
}

static void test_fixture_podman(void **state)
{
	struct oci_config *cfg = load_fixture("podman.json", "/bundle");
	assert_string_equal(cfg->oci_version, "1.0.2-dev");
	assert_string_equal(cfg->root.path, "/var/lib/example/podman/root/vfs/dir/"
					    "0e46de4053b7fd395dea4274b93f57a134ba207e6065eb934a2771"
					    "59da0cd7d5");
	assert_false(cfg->root.readonly);
	assert_string_equal(cfg->hostname, "6e5fcbc11f48");
	assert_null(cfg->domainname);
	assert_non_null(cfg->process);
	check_podman_process(cfg->process);
	check_podman_mounts(cfg);
	assert_int_equal(cfg->annotations.n, 8);
	assert_string_equal(oci_strmap_get(&cfg->annotations, "io.container.manager"), "libpod");
	assert_string_equal(cfg->annotations.v[7].key, "org.opencontainers.image.stopSignal");
	assert_string_equal(cfg->annotations.v[7].value, "15");
	assert_null(oci_strmap_get(&cfg->annotations, "nope"));
	for (int k = 0; k < OCI_HOOK_NKINDS; k++)
		assert_int_equal(cfg->hooks.n[k], 0);
	assert_true(cfg->has_linux);
	check_podman_linux(&cfg->linux_spec);
	assert_non_null(oci_config_namespace(cfg, OCI_NS_NETWORK));
	assert_null(oci_config_namespace(cfg, OCI_NS_USER));
	oci_config_free(cfg);
	(void)state;
}

static void test_fixture_containerd(void **state)
{
	struct oci_config *cfg = load_fixture("containerd-ctr.json", "/run/ctr/bundle/");
	assert_string_equal(cfg->bundle, "/run/ctr/bundle");
	assert_string_equal(cfg->root.spec_path, "rootfs");
	assert_string_equal(cfg->root.path, "/run/ctr/bundle/rootfs");
	assert_null(cfg->hostname);
	const struct oci_process *p = cfg->process;
	assert_int_equal(p->user.n_additional_gids, 1);
	assert_int_equal(p->user.additional_gids[0], 0);
	assert_false(p->user.umask.set);
	assert_true(p->no_new_privileges);
	assert_int_equal(p->n_rlimits, 1);
	assert_int_equal(p->rlimits[0].resource, RLIMIT_NOFILE);
	assert_int_equal(p->rlimits[0].soft, 1024);
	assert_int_equal(p->env.n, 1);
	assert_int_equal(cfg->n_mounts, 7);
	assert_string_equal(cfg->mounts[3].destination, "/dev/shm");
	assert_string_equal(cfg->mounts[3].source, "shm");
	assert_string_equal(cfg->mounts[3].data, "mode=1777,size=65536k");
	assert_int_equal(cfg->mounts[5].flags, MS_NOSUID | MS_NOEXEC | MS_NODEV | MS_RDONLY);
	const struct oci_linux *lx = &cfg->linux_spec;
	assert_string_equal(lx->cgroups_path, "/oci-test/s1");
	assert_int_equal(lx->resources->n_devices, 10);
	const struct oci_dev_rule *d = &lx->resources->devices[8];
	assert_true(d->allow);
	assert_int_equal(d->type, 'c');
	assert_true(d->major.set);
	assert_int_equal(d->major.v, 136);
	assert_false(d->minor.set);
	assert_true(lx->resources->cpu.shares.set);
	assert_int_equal(lx->resources->cpu.shares.v, 1024);
	assert_false(lx->resources->cpu.quota.set);
	assert_null(lx->seccomp);
	assert_int_equal(lx->n_namespaces, 5);
	assert_int_equal(lx->namespaces[4].type, OCI_NS_NETWORK);
	assert_int_equal(lx->masked_paths.n, 10);
	assert_string_equal(lx->readonly_paths.v[4], "/proc/sysrq-trigger");
	oci_config_free(cfg);
	(void)state;
}

static void check_docker_seccomp(const struct oci_seccomp *s)
{
	assert_int_equal(s->default_action, OCI_SCMP_ACT_ERRNO);
	assert_false(s->default_errno_ret.set);
	assert_int_equal(s->flags, 0);
	assert_int_equal(s->n_syscalls, 12);
	assert_int_equal(s->syscalls[0].names.n, 346);
	assert_string_equal(s->syscalls[0].names.v[345], "writev");
	const struct oci_seccomp_rule *clone = &s->syscalls[9];
	assert_string_equal(clone->names.v[0], "clone");
	assert_int_equal(clone->n_args, 1);
	assert_int_equal(clone->args[0].index, 0);
	assert_int_equal(clone->args[0].value, 2114060288);
	assert_int_equal(clone->args[0].value_two, 0);
	assert_int_equal(clone->args[0].op, OCI_SCMP_CMP_MASKED_EQ);
	assert_int_equal(s->syscalls[10].action, OCI_SCMP_ACT_ERRNO);
	assert_int_equal(s->syscalls[10].errno_ret.v, 38);
}

static void test_fixture_docker(void **state)
{
	struct oci_config *cfg = load_fixture("docker.json", "/bundle");
	const struct oci_process *p = cfg->process;
	assert_true(p->oom_score_adj.set);
	assert_int_equal(p->oom_score_adj.v, 0);
	assert_int_equal(p->n_rlimits, 0);
	assert_string_equal(p->env.v[1], "HOSTNAME=989c16788547");
	assert_int_equal(cfg->hooks.n[OCI_HOOK_PRESTART], 1);
	const struct oci_hook *h = &cfg->hooks.list[OCI_HOOK_PRESTART][0];
	assert_string_equal(h->path, "/proc/29270/exe");
	assert_int_equal(h->args.n, 4);
	assert_string_equal(h->args.v[0], "libnetwork-setkey");
	assert_string_equal(h->args.v[3], "cab8da4225d4");
	assert_null(h->env.v);
	assert_false(h->timeout.set);
	assert_int_equal(cfg->hooks.n[OCI_HOOK_POSTSTOP], 0);
	const struct oci_mount *resolv = &cfg->mounts[7];
	assert_string_equal(resolv->destination, "/etc/resolv.conf");
	assert_int_equal(resolv->flags, MS_BIND | MS_REC);
	assert_true(resolv->bind);
	const struct oci_linux *lx = &cfg->linux_spec;
	assert_int_equal(lx->sysctl.n, 2);
	assert_string_equal(oci_strmap_get(&lx->sysctl, "net.ipv4.ping_group_range"),
			    "0 2147483647");
	assert_string_equal(lx->sysctl.v[0].key, "net.ipv4.ip_unprivileged_port_start");
	const struct oci_resources *r = lx->resources;
	assert_true(r->memory.disable_oom_killer.set);
	assert_false(r->memory.disable_oom_killer.v);
	assert_true(r->cpu.shares.set);
	assert_int_equal(r->cpu.shares.v, 0);
	assert_true(r->blkio_weight.set);
	assert_int_equal(r->n_devices, 8);
	assert_false(r->devices[7].allow);
	assert_int_equal(r->devices[7].major.v, 10);
	assert_int_equal(r->devices[7].minor.v, 229);
	assert_int_equal(lx->namespaces[0].type, OCI_NS_MOUNT);
	check_docker_seccomp(lx->seccomp);
	oci_config_free(cfg);
	(void)state;
}

/* ---- semantics -------------------------------------------------------- */

static void test_null_and_unknown_keys(void **state)
{
	struct oci_config *cfg =
	    parse_ok("{'ociVersion':'1.1.0','root':{'path':'/r','future':{'x':[1,2]}},"
		     "'process':null,'hostname':null,'mounts':null,'hooks':{'prestart':null},"
		     "'windows':{'layerFolders':[]},'vm':{'hypervisor':{}},"
		     "'linux':{'resources':null,'seccomp':null,'timeOffsets':{'boottime':{}},"
		     "'namespaces':[{'type':'time','path':''}]},'extra':1}");
	assert_null(cfg->process);
	assert_null(cfg->hostname);
	assert_int_equal(cfg->n_mounts, 0);
	assert_int_equal(cfg->hooks.n[OCI_HOOK_PRESTART], 0);
	assert_null(cfg->linux_spec.resources);
	assert_null(cfg->linux_spec.seccomp);
	assert_int_equal(cfg->linux_spec.namespaces[0].type, OCI_NS_TIME);
	assert_null(cfg->linux_spec.namespaces[0].path);
	assert_string_equal(cfg->root.path, "/r");
	oci_config_free(cfg);

	cfg = parse_ok("{'ociVersion':'1','root':{'path':'r'}}");
	assert_false(cfg->has_linux);
	assert_int_equal(cfg->linux_spec.n_namespaces, 0);
	assert_null(oci_config_namespace(cfg, OCI_NS_PID));
	oci_config_free(cfg);
	(void)state;
}

static void check_root(const char *bundle, const char *path, const char *want)
{
	struct kv_err err = {0};
	struct oci_config *cfg = NULL;
	char *j = NULL;
	assert_true(asprintf(&j, "{\"ociVersion\":\"1\",\"root\":{\"path\":\"%s\"}}", path) > 0);
	assert_int_equal(oci_config_parse(j, strlen(j), bundle, &cfg, &err), 0);
	if (strcmp(cfg->root.path, want))
		fail_msg("bundle %s path %s: got %s, want %s", bundle, path, cfg->root.path, want);
	assert_string_equal(cfg->root.spec_path, path);
	oci_config_free(cfg);
	free(j);
}

static void test_root_path(void **state)
{
	char cwd[PATH_MAX], want[PATH_MAX + 32];
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	check_root("/b/x", "rootfs", "/b/x/rootfs");
	check_root("/b/x/", "./rootfs/", "/b/x/rootfs");
	check_root("/b/x", "../rootfs", "/b/rootfs");
	check_root("/b", "../../../r", "/r");
	check_root("/b", "/abs//y/./z/..", "/abs/y");
	check_root("/b", "/", "/");
	check_root("/b", ".", "/b");
	snprintf(want, sizeof(want), "%s/rel/rootfs", strcmp(cwd, "/") ? cwd : "");
	check_root("rel", "rootfs", want);
	snprintf(want, sizeof(want), "%s/rootfs", strcmp(cwd, "/") ? cwd : "");
	check_root(NULL, "rootfs", want);
	(void)state;
}

static void test_mount_options(void **state)
{
	struct oci_config *cfg = parse_ok(
	    DOC("'mounts':[{'destination':'/a','type':'bind','source':'/s','options':['ro','rw']},"
		"{'destination':'/b','options':['rbind','rshared','slave','rro','rnoatime',"
		"'rrw','uid=1','noexec','exec','tmpcopyup','defaults','size=1k','nosymfollow']},"
		"{'destination':'/c','options':[]},{'destination':'/d'}]"));
	const struct oci_mount *a = &cfg->mounts[0], *b = &cfg->mounts[1];
	assert_true(a->bind); /* type "bind" without the option */
	assert_int_equal(a->flags, 0);
	assert_int_equal(a->clear_flags, MS_RDONLY);
	assert_int_equal(b->flags, MS_BIND | MS_REC | MS_NOSYMFOLLOW);
	assert_int_equal(b->clear_flags, MS_NOEXEC);
	assert_int_equal(b->n_propagation, 2);
	assert_int_equal(b->propagation[0], MS_SHARED | MS_REC);
	assert_int_equal(b->propagation[1], MS_SLAVE);
	assert_true(b->attr_set == (MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOATIME));
	assert_true(b->attr_clr == (MOUNT_ATTR__ATIME | MOUNT_ATTR_RDONLY));
	assert_true(b->tmpcopyup);
	assert_string_equal(b->data, "uid=1,size=1k");
	assert_null(b->type);
	assert_int_equal(cfg->mounts[2].options.n, 0);
	assert_non_null(cfg->mounts[2].options.v);
	assert_null(cfg->mounts[3].options.v);
	assert_null(cfg->mounts[3].data);
	oci_config_free(cfg);
	(void)state;
}

static void test_process_fields(void **state)
{
	struct oci_config *cfg = parse_ok(
	    PROC("'terminal':true,'consoleSize':{'height':24,'width':80},"
		 "'user':{'uid':4294967295,'gid':7,'umask':511,'additionalGids':[1,4294967295],"
		 "'username':'u'},'env':['A=','B=c=d'],'noNewPrivileges':true,"
		 "'apparmorProfile':'p','selinuxLabel':'l','oomScoreAdj':-1000,"
		 "'capabilities':{'bounding':['CAP_CHOWN','CAP_KILL','CAP_CHOWN'],"
		 "'ambient':[],'inheritable':['CAP_CHECKPOINT_RESTORE']}"));
	const struct oci_process *p = cfg->process;
	assert_true(p->terminal && p->has_console_size);
	assert_int_equal(p->console_height, 24);
	assert_int_equal(p->console_width, 80);
	assert_int_equal(p->user.uid, UINT32_MAX);
	assert_int_equal(p->user.umask.v, 0777);
	assert_int_equal(p->user.additional_gids[1], UINT32_MAX);
	assert_string_equal(p->user.username, "u");
	assert_string_equal(p->env.v[1], "B=c=d");
	assert_string_equal(p->apparmor_profile, "p");
	assert_string_equal(p->selinux_label, "l");
	assert_int_equal(p->oom_score_adj.v, -1000);
	assert_true(p->caps.set[OCI_CAP_BOUNDING] == (CAPBIT(CAP_CHOWN) | CAPBIT(CAP_KILL)));
	assert_true(p->caps.given[OCI_CAP_AMBIENT]);
	assert_int_equal(p->caps.set[OCI_CAP_AMBIENT], 0);
	assert_false(p->caps.given[OCI_CAP_EFFECTIVE]);
	assert_true(p->caps.set[OCI_CAP_INHERITABLE] == CAPBIT(40));
	oci_config_free(cfg);
	(void)state;
}

static void test_linux_fields(void **state)
{
	struct oci_config *cfg = parse_ok(LINUX(
	    "'namespaces':[{'type':'user'},{'type':'network','path':'/run/netns/x'},"
	    "{'type':'cgroup'}],'uidMappings':[{'containerID':0,'hostID':100000,'size':65536}],"
	    "'gidMappings':[{'containerID':0,'hostID':100000,'size':65536}],"
	    "'devices':[{'type':'c','path':'/dev/fuse','major':10,'minor':229,'fileMode':438,"
	    "'uid':0,'gid':0},{'type':'p','path':'/dev/fifo'}],"
	    "'rootfsPropagation':'rslave','mountLabel':'m',"
	    "'personality':{'domain':'LINUX32','flags':[]},'intelRdt':{'closID':'x'},"
	    "'resources':{'hugepageLimits':[{'pageSize':'2MB','limit':1048576}],"
	    "'cpu':{'cpus':'0-3,5','mems':'','period':100000,'quota':50000},"
	    "'unified':{'memory.high':'max'},'blockIO':{'weight':500,'leafWeight':10}}"));
	const struct oci_linux *lx = &cfg->linux_spec;
	assert_int_equal(lx->n_namespaces, 3);
	assert_string_equal(oci_config_namespace(cfg, OCI_NS_NETWORK)->path, "/run/netns/x");
	assert_int_equal(lx->n_uid_mappings, 1);
	assert_int_equal(lx->uid_mappings[0].host_id, 100000);
	assert_int_equal(lx->gid_mappings[0].size, 65536);
	assert_int_equal(lx->n_devices, 2);
	assert_int_equal(lx->devices[0].type, 'c');
	assert_int_equal(lx->devices[0].minor, 229);
	assert_int_equal(lx->devices[0].file_mode.v, 0666);
	assert_int_equal(lx->devices[1].type, 'p');
	assert_int_equal(lx->rootfs_propagation, MS_SLAVE | MS_REC);
	assert_string_equal(lx->mount_label, "m");
	assert_string_equal(lx->personality_domain, "LINUX32");
	assert_true(lx->has_intel_rdt);
	const struct oci_resources *r = lx->resources;
	assert_string_equal(r->hugepage_limits[0].page_size, "2MB");
	assert_int_equal(r->hugepage_limits[0].limit, 1048576);
	assert_string_equal(r->cpu.cpus, "0-3,5");
	assert_string_equal(r->cpu.mems, "");
	assert_int_equal(r->cpu.quota.v, 50000);
	assert_string_equal(oci_strmap_get(&r->unified, "memory.high"), "max");
	assert_int_equal(r->blkio_weight.v, 500);
	assert_int_equal(r->blkio_leaf_weight.v, 10);
	oci_config_free(cfg);
	(void)state;
}

/* ---- standalone parsers, spec, load ---------------------------------- */

static void test_process_parse(void **state)
{
	struct kv_err err = {0};
	struct oci_process *p = NULL;
	char *j = dq("{'args':['ls','-l'],'cwd':'/tmp','terminal':true,'env':['X=1']}");
	assert_int_equal(oci_process_parse(j, strlen(j), NULL, &p, &err), 0);
	assert_string_equal(p->args.v[1], "-l");
	assert_string_equal(p->cwd, "/tmp");
	assert_true(p->terminal);
	oci_process_free(p);
	free(j);
	j = dq("{'args':['ls'],'cwd':'/','user':{'uid':'root'}}");
	assert_int_equal(oci_process_parse(j, strlen(j), "/tmp/p.json", &p, &err), -EINVAL);
	assert_null(p);
	assert_string_equal(err.msg, "/tmp/p.json: user.uid: expected an integer, got a string");
	free(j);
	j = dq("{'cwd':'/'}");
	assert_int_equal(oci_process_parse(j, strlen(j), NULL, &p, &err), -EINVAL);
	assert_string_equal(err.msg, "process.json: args: required field is missing");
	free(j);
	(void)state;
}

static void test_resources_parse(void **state)
{
	struct kv_err err = {0};
	struct oci_resources *r = NULL;
	char *j = dq("{'memory':{'limit':536870912},'cpu':{'quota':20000,'period':100000},"
		     "'pids':{'limit':100}}");
	assert_int_equal(oci_resources_parse(j, strlen(j), NULL, &r, &err), 0);
	assert_int_equal(r->memory.limit.v, 536870912);
	assert_int_equal(r->cpu.period.v, 100000);
	assert_int_equal(r->pids_limit.v, 100);
	oci_resources_free(r);
	free(j);
	j = dq("{'memory':{'limit':'512M'}}");
	assert_int_equal(oci_resources_parse(j, strlen(j), NULL, &r, &err), -EINVAL);
	assert_string_equal(err.msg, "resources: memory.limit: expected an integer, got a string");
	free(j);
	(void)state;
}

static void check_default_spec(const struct oci_config *cfg)
{
	const struct oci_process *p = cfg->process;
	assert_string_equal(cfg->oci_version, OCI_SPEC_VERSION);
	assert_int_equal(p->args.n, 1);
	assert_string_equal(p->args.v[0], "sh");
	assert_true(p->terminal);
	assert_true(p->no_new_privileges);
	assert_true(p->caps.set[OCI_CAP_AMBIENT] ==
		    (CAPBIT(CAP_AUDIT_WRITE) | CAPBIT(CAP_KILL) | CAPBIT(CAP_NET_BIND_SERVICE)));
	assert_string_equal(cfg->root.path, "/b/rootfs");
	assert_true(cfg->root.readonly);
	assert_string_equal(cfg->hostname, "kvbox");
	assert_int_equal(cfg->n_mounts, 7);
	assert_string_equal(cfg->mounts[6].destination, "/sys/fs/cgroup");
	assert_int_equal(cfg->linux_spec.n_namespaces, 5);
	assert_null(oci_config_namespace(cfg, OCI_NS_CGROUP));
	assert_non_null(oci_config_namespace(cfg, OCI_NS_UTS));
	assert_int_equal(cfg->linux_spec.masked_paths.n, 10);
	assert_int_equal(cfg->linux_spec.readonly_paths.n, 5);
}

static void test_default_spec(void **state)
{
	struct kv_err err = {0};
	struct oci_config *cfg = NULL;
	json_t *spec = NULL;
	assert_int_equal(oci_config_default_spec(&spec, &err), 0);
	char *text = json_dumps(spec, 0);
	json_decref(spec);
	assert_int_equal(oci_config_parse(text, strlen(text), "/b", &cfg, &err), 0);
	check_default_spec(cfg);
	oci_config_free(cfg);
	free(text);

	text = oci_config_default_spec_text();
	assert_non_null(text);
	assert_int_equal(text[strlen(text) - 1], '\n');
	assert_int_equal(oci_config_parse(text, strlen(text), "/b", &cfg, &err), 0);
	check_default_spec(cfg);
	oci_config_free(cfg);
	free(text);
	(void)state;
}

static void test_load(void **state)
{
	struct kv_err err = {0};
	struct oci_config *cfg = NULL;
	char dir[] = "/tmp/kvbox-config-XXXXXX", path[64], *body = dq(DOC("'hostname':'h'"));
	assert_non_null(mkdtemp(dir));
	assert_int_equal(oci_config_load(dir, &cfg, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "/config.json: No such file or directory"));
	snprintf(path, sizeof(path), "%s/config.json", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(body, f);
	fclose(f);
	assert_int_equal(oci_config_load(dir, &cfg, &err), 0);
	assert_string_equal(cfg->hostname, "h");
	assert_string_equal(cfg->bundle, dir);
	snprintf(path, sizeof(path), "%s/rootfs", dir);
	assert_string_equal(cfg->root.path, path);
	oci_config_free(cfg);
	/* a relative bundle, as `create --bundle .` from inside it */
	char old[PATH_MAX];
	assert_non_null(getcwd(old, sizeof(old)));
	assert_int_equal(chdir(dir), 0);
	assert_int_equal(oci_config_load(".", &cfg, &err), 0);
	assert_string_equal(cfg->root.path, path);
	oci_config_free(cfg);
	assert_int_equal(chdir(old), 0);
	snprintf(path, sizeof(path), "%s/config.json", dir);
	unlink(path);
	rmdir(dir);
	free(body);
	(void)state;
}

static void test_names(void **state)
{
	assert_int_equal(oci_cap_from_name("CAP_CHOWN"), 0);
	assert_int_equal(oci_cap_from_name("CAP_SYS_ADMIN"), CAP_SYS_ADMIN);
	assert_int_equal(oci_cap_from_name("CAP_NOPE"), -1);
	assert_string_equal(oci_cap_name(CAP_CHECKPOINT_RESTORE), "CAP_CHECKPOINT_RESTORE");
	assert_null(oci_cap_name(63));
	assert_int_equal(oci_rlimit_from_name("RLIMIT_NOFILE"), RLIMIT_NOFILE);
	assert_string_equal(oci_rlimit_name(RLIMIT_STACK), "RLIMIT_STACK");
	assert_string_equal(oci_ns_type_name(OCI_NS_NETWORK), "network");
	assert_null(oci_ns_type_name(OCI_NS_NTYPES));
	assert_string_equal(oci_hook_kind_name(OCI_HOOK_CREATE_RUNTIME), "createRuntime");
	assert_string_equal(oci_seccomp_action_name(OCI_SCMP_ACT_KILL_PROCESS),
			    "SCMP_ACT_KILL_PROCESS");
	assert_string_equal(oci_seccomp_op_name(OCI_SCMP_CMP_MASKED_EQ), "SCMP_CMP_MASKED_EQ");
	(void)state;
}

int main(void)
{
	/* clang-format off */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixture_podman),
		cmocka_unit_test(test_fixture_containerd),
		cmocka_unit_test(test_fixture_docker),
		cmocka_unit_test(test_null_and_unknown_keys),
		cmocka_unit_test(test_root_path),
		cmocka_unit_test(test_mount_options),
		cmocka_unit_test(test_process_fields),
		cmocka_unit_test(test_linux_fields),
		cmocka_unit_test(test_process_parse),
		cmocka_unit_test(test_resources_parse),
		cmocka_unit_test(test_default_spec),
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_names),
	};
	/* clang-format on */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
