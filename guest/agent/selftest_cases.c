/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The self-test's container and its checks (see selftest.c for the mode):
 * a built-in CREATE spec with a non-root user, a reduced capability set
 * with an ambient part, no_new_privs, rlimits, umask, the usual mounts, a
 * 9p bind mount, masked and read-only paths, a sysctl and a read-only
 * rootfs; then START, EXEC (root, detached, a terminal, a seccomp filter,
 * a missing binary), PS, STATS, WAIT, SIGNAL, RESIZE, error replies and
 * the init's exit on stdin EOF.  The container's own shell script prints
 * what it sees as key=value lines; each is compared here.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include "guest/agent/selftest.h"

static const char *const applets[] = {"sh",   "id",    "hostname", "awk",    "cat",  "touch",
				      "ls",   "chown", "sleep",	   "stty",   "tty",  "tr",
				      "grep", "echo",  "pwd",	   "ulimit", "true", "wc"};

static const char init_script[] =
    "echo \"pid=$$\"; echo \"id=$(id)\"; echo \"hostname=$(hostname)\"\n"
    "awk -F'\\t' '/^(Uid|Gid|Groups|Cap[A-Za-z]+|NoNewPrivs):/ "
    "{k=$1; sub(\":\",\"\",k); $1=\"\"; sub(/^ +/,\"\"); sub(/ +$/,\"\"); print k \"=\" $0}' "
    "/proc/self/status\n"
    "echo \"umask=$(umask)\"; echo \"nofile=$(ulimit -n)\"; echo \"nofile_hard=$(ulimit -Hn)\"\n"
    "echo \"rootfs=$(cat /etc/kvbox-rootfs)\"\n"
    "echo \"initramfs=$([ -e /init ] && echo visible || echo hidden)\"\n"
    "echo \"tmp=$(touch /tmp/probe && echo rw || echo ro)\"; echo \"cwd=$(pwd)\"\n"
    "echo \"env=$KVBOX_TEST\"; echo \"msgmax=$(cat /proc/sys/kernel/msgmax)\"\n"
    "echo \"masked_file=$(cat /etc/kvbox-secret 2>&1)\"\n"
    "echo \"masked_dir=$(ls /etc/kvbox-secret-dir 2>&1)\"\n"
    "echo \"devnull=$([ -c /dev/null ] && echo chr || echo missing)\"\n"
    "echo \"ptmx=$([ -e /dev/ptmx ] && echo yes || echo no)\"\n"
    "echo \"chown=$(chown 0 /tmp/probe 2>/dev/null && echo allowed || echo denied)\"\n"
    "echo \"mounts=$(awk '{printf \"%s:%s,\", $2, $3}' /proc/mounts)\"\n"
    "[ -d /data ] && echo \"data=$(echo hello-from-container >/data/written 2>&1 && echo "
    "written)\"\n"
    "echo err-line >&2; echo READY; read line; exit 7\n";

static const char exec_script[] =
    "echo \"exec_pid=$$\"; echo \"exec_uid=$(id -u)\"; echo \"exec_host=$(hostname)\"\n"
    "echo \"exec_rofs=$(touch /rofs-probe 2>&1 | tr -d '\\n')\"\n"
    "echo \"exec_procsys=$( (echo 1 >/proc/sys/kernel/msgmax) 2>&1 | tr -d '\\n')\"\n"
    "echo \"exec_msgmax=$(cat /proc/sys/kernel/msgmax)\"; exit 3\n";

/* ---- the container ---- */

static int copy_file(const char *from, const char *to, mode_t mode)
{
	int in = open(from, O_RDONLY | O_CLOEXEC);
	int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	char buf[65536];
	ssize_t n = 0;
	while (in >= 0 && out >= 0 && (n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			n = -1;
	int ok = in >= 0 && out >= 0 && n == 0;
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	return ok ? 0 : -1;
}

static void write_text(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd >= 0) {
		if (write(fd, text, strlen(text)) < 0)
			say("AGENT-TEST-HOST write %s: %s", path, strerror(errno));
		close(fd);
	}
}

/* A tmpfs rootfs from the initramfs's /bin/busybox, laid out as the bats
 * file lays out the 9p one. */
int selftest_tmpfs_rootfs(void)
{
	char path[256];
	if (mount_make_dirs(TEST_ROOT, 0755) < 0 ||
	    mount("tmpfs", TEST_ROOT, "tmpfs", 0, "mode=0755") < 0)
		return -1;
	const char *dirs[] = {"bin", "etc", "etc/kvbox-secret-dir", "proc", "sys", "dev", "tmp"};
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(path, sizeof(path), TEST_ROOT "/%s", dirs[i]);
		mkdir(path, 0755);
	}
	if (copy_file("/bin/busybox", TEST_ROOT "/bin/busybox", 0755) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(applets) / sizeof(applets[0]); i++) {
		snprintf(path, sizeof(path), TEST_ROOT "/bin/%s", applets[i]);
		symlink("busybox", path);
	}
	write_text(TEST_ROOT "/etc/kvbox-rootfs", "tmpfs\n");
	write_text(TEST_ROOT "/etc/kvbox-secret", "top-secret\n");
	write_text(TEST_ROOT "/etc/kvbox-secret-dir/file", "hidden\n");
	return 0;
}

static char *init_args[] = {"/bin/sh", "-c", (char *)init_script, NULL};
static char *init_env[] = {"PATH=/bin", "HOME=/", "KVBOX_TEST=hello", NULL};
static uint32_t init_groups[] = {10, 20};
static struct agent_rlimit init_rlimits[] = {{7 /* RLIMIT_NOFILE */, 1000, 2000}};
static char *masked[] = {"/etc/kvbox-secret", "/etc/kvbox-secret-dir", "/proc/kcore", NULL};
static char *ropaths[] = {"/proc/sys", NULL};
static struct agent_sysctl sysctls[] = {{"kernel.msgmax", "4242"}};

static void build_create(struct host *h, struct agent_create *c, struct agent_mount *mounts)
{
	const struct agent_mount base[] = {
	    {"/proc", "proc", "proc", NULL, MS_NOSUID | MS_NOEXEC | MS_NODEV, 0, NULL},
	    {"/dev", "tmpfs", "tmpfs", NULL, MS_NOSUID | MS_STRICTATIME, 0, "mode=755,size=65536k"},
	    {"/dev/pts", "devpts", "devpts", NULL, MS_NOSUID | MS_NOEXEC, 0,
	     "newinstance,ptmxmode=0666,mode=0620,gid=5"},
	    {"/dev/shm", "tmpfs", "shm", NULL, MS_NOSUID | MS_NOEXEC | MS_NODEV, 0, "mode=1777"},
	    {"/dev/mqueue", "mqueue", "mqueue", NULL, MS_NOSUID | MS_NOEXEC | MS_NODEV, 0, NULL},
	    {"/sys", "sysfs", "sysfs", NULL, MS_NOSUID | MS_NOEXEC | MS_NODEV | MS_RDONLY, 0, NULL},
	    {"/tmp", "tmpfs", "tmpfs", NULL, MS_NOSUID | MS_NODEV, 0, "mode=1777"},
	    {"/data", "bind", (char *)h->cfg->test_data, "sub", MS_NOSUID | MS_NODEV, MS_PRIVATE,
	     NULL},
	};
	memcpy(mounts, base, sizeof(base));
	memset(c, 0, sizeof(*c));
	c->container_id = "selftest";
	struct agent_process *p = &c->process;
	*p = (struct agent_process){.args = init_args,
				    .nargs = 3,
				    .env = init_env,
				    .nenv = 3,
				    .cwd = "/tmp",
				    .uid = 1000,
				    .gid = 1000,
				    .groups = init_groups,
				    .ngroups = 2,
				    .umask = 027,
				    .rlimits = init_rlimits,
				    .nrlimits = 1,
				    .cap_bounding = CAP_CHOWN_B | CAP_KILL_B | CAP_NBS_B,
				    .cap_effective = CAP_KILL_B | CAP_NBS_B,
				    .cap_permitted = CAP_KILL_B | CAP_NBS_B,
				    .cap_inheritable = CAP_KILL_B | CAP_NBS_B,
				    .cap_ambient = CAP_KILL_B | CAP_NBS_B,
				    .no_new_privs = true,
				    .stdin_port = h->cfg->port + L_IN,
				    .stdout_port = h->cfg->port + L_OUT,
				    .stderr_port = h->cfg->port + L_ERR};
	if (h->cfg->test_root[0])
		c->rootfs_tag = (char *)h->cfg->test_root;
	else
		c->rootfs_path = TEST_ROOT;
	c->rootfs_readonly = true;
	c->hostname = "kvbox-ct";
	c->mounts = mounts;
	c->nmounts = h->cfg->test_data[0] ? 8 : 7;
	c->masked_paths = masked;
	c->nmasked_paths = 3;
	c->readonly_paths = ropaths;
	c->nreadonly_paths = 1;
	c->sysctls = sysctls;
	c->nsysctls = 1;
}

/* A root process for EXEC: every capability, no stdio unless asked. */
static void root_process(struct agent_process *p, char **args, uint32_t nargs)
{
	*p = (struct agent_process){.args = args,
				    .nargs = nargs,
				    .env = init_env,
				    .nenv = 3,
				    .cwd = "/",
				    .umask = 022,
				    .cap_bounding = ~0ull,
				    .cap_effective = ~0ull,
				    .cap_permitted = ~0ull};
}

/* ---- the tests ---- */

static bool t_hello(struct host *h)
{
	struct agent_msg m;
	bool got = read_msg(h, &m, TIMEOUT_MS);
	bool ok = got && m.hdr.type == AGENT_HELLO && m.hdr.flags == AGENT_F_EVENT &&
		  m.u.hello.version == AGENT_PROTO_VERSION && m.u.hello.kernel &&
		  m.u.hello.boot_ns >= m.u.hello.agent_start_ns;
	check(h, "hello", ok, "no HELLO, or a wrong one");
	if (ok)
		say("AGENT-TEST-INFO hello kernel=%s agent=%s agent_start_ms=%llu hello_ms=%llu",
		    m.u.hello.kernel, m.u.hello.agent_version,
		    (unsigned long long)(m.u.hello.agent_start_ns / 1000000),
		    (unsigned long long)(m.u.hello.boot_ns / 1000000));
	agent_msg_free(&m);
	return ok;
}

static bool t_create(struct host *h)
{
	struct agent_msg m, r;
	struct agent_mount mounts[8];
	agent_msg_init(&m, AGENT_CREATE, 0, 0);
	build_create(h, &m.u.create, mounts);
	bool got = request(h, &m, &r);
	h->in = accept_within(h->lis[L_IN], 1000);
	h->out = accept_within(h->lis[L_OUT], 1000);
	h->err = accept_within(h->lis[L_ERR], 1000);
	bool ok = got && r.hdr.type == AGENT_CREATE && r.u.pid.pid > 1;
	check(h, "create", ok, "%s",
	      got && r.hdr.type == AGENT_ERROR ? r.u.error.message : "no reply");
	h->init_pid = ok ? r.u.pid.pid : 0;
	agent_msg_free(&r);
	if (!ok)
		return false;
	check(h, "create-streams", h->in >= 0 && h->out >= 0 && h->err >= 0, "fds %d %d %d", h->in,
	      h->out, h->err);
	char buf[64];
	check(h, "created-not-running", read_until(h->out, buf, sizeof(buf), "", 300) == 0,
	      "output before START: %s", buf);
	agent_msg_init(&m, AGENT_CREATE, 0, 0);
	build_create(h, &m.u.create, mounts);
	simple(h, &m, "create-twice-refused", EEXIST);
	return true;
}

static void t_container(struct host *h)
{
	static char out[OUT_MAX];
	struct agent_msg m;
	agent_msg_init(&m, AGENT_START, 0, 0);
	if (!simple(h, &m, "start", 0))
		return;
	read_until(h->out, out, sizeof(out), "READY", TIMEOUT_MS);
	for (char *l = out; *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : l + strlen(l))
		say("AGENT-TEST-OUT %.*s", (int)strcspn(l, "\n"), l);
	expect(h, out, "pid", "1");
	expect(h, out, "id", "uid=1000 gid=1000 groups=10,20");
	expect(h, out, "hostname", "kvbox-ct");
	expect(h, out, "Uid", "1000 1000 1000 1000");
	expect(h, out, "Gid", "1000 1000 1000 1000");
	expect(h, out, "Groups", "10 20");
	expect(h, out, "CapInh", "0000000000000420");
	expect(h, out, "CapPrm", "0000000000000420");
	expect(h, out, "CapEff", "0000000000000420");
	expect(h, out, "CapBnd", "0000000000000421");
	expect(h, out, "CapAmb", "0000000000000420");
	expect(h, out, "NoNewPrivs", "1");
	expect(h, out, "umask", "0027");
	expect(h, out, "nofile", "1000");
	expect(h, out, "nofile_hard", "2000");
	expect(h, out, "rootfs", h->cfg->test_root[0] ? "9p" : "tmpfs");
	expect(h, out, "initramfs", "hidden");
	expect(h, out, "tmp", "rw");
	expect(h, out, "cwd", "/tmp");
	expect(h, out, "env", "hello");
	expect(h, out, "msgmax", "4242");
	expect(h, out, "masked_file", "");
	expect(h, out, "masked_dir", "");
	expect(h, out, "devnull", "chr");
	expect(h, out, "ptmx", "yes");
	expect(h, out, "chown", "denied");
	expect_has(h, out, "mounts", h->cfg->test_root[0] ? "/:9p," : "/:tmpfs,");
	const char *want_mounts[] = {"/proc:proc,",
				     "/dev:tmpfs,",
				     "/dev/pts:devpts,",
				     "/dev/mqueue:mqueue,",
				     "/sys:sysfs,",
				     "/tmp:tmpfs,",
				     "/etc/kvbox-secret-dir:tmpfs,",
				     "/proc/sys:proc,"};
	for (size_t i = 0; i < sizeof(want_mounts) / sizeof(want_mounts[0]); i++)
		expect_has(h, out, "mounts", want_mounts[i]);
	if (h->cfg->test_data[0]) {
		expect_has(h, out, "mounts", "/data:9p,");
		expect(h, out, "data", "written");
	}
	read_until(h->err, out, sizeof(out), "err-line", 5000);
	check(h, "ct-stderr", strstr(out, "err-line") != NULL, "stderr: %s", out);
}

/* EXEC as root: output, the same namespaces, read-only root and
 * /proc/sys even for root, exit code 3 as an event and through WAIT. */
static void t_exec(struct host *h)
{
	static char out[OUT_MAX];
	static char *args[] = {"sh", "-c", (char *)exec_script, NULL};
	struct agent_msg m, r;
	agent_msg_init(&m, AGENT_EXEC, 0, 0);
	root_process(&m.u.exec.process, args, 3);
	m.u.exec.process.stdout_port = h->cfg->port + L_OUT;
	bool got = request(h, &m, &r);
	int fd = accept_within(h->lis[L_OUT], 1000);
	uint32_t pid = got && r.hdr.type == AGENT_EXEC ? r.u.pid.pid : 0;
	check(h, "exec", pid > 0, "%s", got && r.hdr.type == AGENT_ERROR ? r.u.error.message : "");
	agent_msg_free(&r);
	if (!pid || fd < 0)
		return;
	read_until(fd, out, sizeof(out), NULL, TIMEOUT_MS);
	close(fd);
	for (char *l = out; *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : l + strlen(l))
		say("AGENT-TEST-OUT %.*s", (int)strcspn(l, "\n"), l);
	char v[256];
	value_of(out, "exec_pid", v, sizeof(v));
	check(h, "exec-in-pidns", atoi(v) > 1 && atoi(v) < 100, "pid %s", v);
	expect(h, out, "exec_uid", "0");
	expect(h, out, "exec_host", "kvbox-ct");
	expect_has(h, out, "exec_rofs", "Read-only file system");
	expect_has(h, out, "exec_procsys", "Read-only file system");
	expect(h, out, "exec_msgmax", "4242");
	struct agent_exit e = {0};
	bool ex = wait_exit(h, pid, &e);
	check(h, "exec-exit-event", ex && e.code == 3 && !e.signal, "code %u signal %u", e.code,
	      e.signal);
	agent_msg_init(&m, AGENT_WAIT, 0, 0);
	m.u.wait.pid = pid;
	got = request(h, &m, &r);
	check(h, "wait-after-exit", got && r.hdr.type == AGENT_WAIT && r.u.exit.code == 3,
	      "no WAIT reply with code 3");
	agent_msg_free(&r);
}

static uint32_t exec_sleep(struct host *h)
{
	static char *args[] = {"sleep", "1000", NULL};
	struct agent_msg m, r;
	agent_msg_init(&m, AGENT_EXEC, 0, 0);
	root_process(&m.u.exec.process, args, 2);
	uint32_t pid = 0;
	if (request(h, &m, &r) && r.hdr.type == AGENT_EXEC)
		pid = r.u.pid.pid;
	agent_msg_free(&r);
	return pid;
}

static bool ps_has(struct host *h, uint32_t pid, const char *cmd)
{
	struct agent_msg m, r;
	agent_msg_init(&m, AGENT_PS, 0, 0);
	bool found = false;
	if (request(h, &m, &r) && r.hdr.type == AGENT_PS) {
		for (uint32_t i = 0; i < r.u.ps.nprocs; i++) {
			const struct agent_proc_info *p = &r.u.ps.procs[i];
			if (p->pid == pid && p->cmd && strstr(p->cmd, cmd))
				found = true;
		}
	}
	agent_msg_free(&r);
	return found;
}

/* WAIT before the end, SIGNAL one process, then SIGNAL all (the init,
 * a shell with no SIGTERM handler, is spared as PID 1 of its namespace). */
static void t_signals(struct host *h)
{
	uint32_t a = exec_sleep(h), b = exec_sleep(h);
	check(h, "exec-detached", a && b, "sleep pids %u %u", a, b);
	check(h, "ps", ps_has(h, h->init_pid, "sh -c") && ps_has(h, a, "sleep 1000"),
	      "init %u or sleep %u missing", h->init_pid, a);
	struct agent_msg m, r;
	agent_msg_init(&m, AGENT_STATS, 0, 0);
	bool got = request(h, &m, &r);
	check(h, "stats",
	      got && r.hdr.type == AGENT_STATS && r.u.stats.mem_total > 0 && r.u.stats.pids >= 3,
	      "mem_total %llu pids %u", got ? (unsigned long long)r.u.stats.mem_total : 0ull,
	      got ? r.u.stats.pids : 0);
	agent_msg_free(&r);
	uint8_t frame[AGENT_HDR_SIZE + 64];
	agent_msg_init(&m, AGENT_WAIT, 0, ++h->next_id);
	m.u.wait.pid = a;
	long n = agent_msg_encode(&m, frame, sizeof(frame));
	send_frame(h, frame, (size_t)n); /* its reply comes when a ends */
	uint32_t wait_id = h->next_id;
	agent_msg_init(&m, AGENT_SIGNAL, 0, 0);
	m.u.signal = (struct agent_signal){a, 15, false};
	simple(h, &m, "signal", 0);
	bool waited = false;
	struct agent_exit e = {0};
	for (int i = 0; i < 4 && !waited && read_msg(h, &r, TIMEOUT_MS); i++) {
		if (r.hdr.type == AGENT_EXIT)
			keep_exit(h, &r.u.exit);
		if (r.hdr.type == AGENT_WAIT && r.hdr.id == wait_id)
			waited = r.u.exit.code == 143 && r.u.exit.signal == 15;
		agent_msg_free(&r);
	}
	check(h, "wait-reply", waited, "no WAIT reply with 143/15");
	check(h, "signal-exit", wait_exit(h, a, &e) && e.code == 143 && e.signal == 15,
	      "code %u signal %u", e.code, e.signal);
	agent_msg_init(&m, AGENT_SIGNAL, 0, 0);
	m.u.signal = (struct agent_signal){0, 15, true};
	simple(h, &m, "signal-all", 0);
	check(h, "signal-all-exit", wait_exit(h, b, &e) && e.code == 143, "code %u", e.code);
	check(h, "init-survives-sigterm", ps_has(h, h->init_pid, "sh -c"), "init is gone");
}

/* A terminal: initial size, RESIZE, input, the tty name, exit code 5. */
static void t_tty(struct host *h)
{
	static char *args[] = {"sh", "-c", "stty size; read x; stty size; tty; exit 5", NULL};
	static char out[OUT_MAX];
	struct agent_msg m, r;
	agent_msg_init(&m, AGENT_EXEC, 0, 0);
	root_process(&m.u.exec.process, args, 3);
	m.u.exec.process.terminal = true;
	m.u.exec.process.console_port = h->cfg->port + L_CON;
	m.u.exec.process.console_rows = 24;
	m.u.exec.process.console_cols = 80;
	bool got = request(h, &m, &r);
	int con = accept_within(h->lis[L_CON], 1000);
	uint32_t pid = got && r.hdr.type == AGENT_EXEC ? r.u.pid.pid : 0;
	check(h, "tty-exec", pid && con >= 0, "%s",
	      got && r.hdr.type == AGENT_ERROR ? r.u.error.message : "");
	agent_msg_free(&r);
	if (!pid || con < 0)
		return;
	read_until(con, out, sizeof(out), "24 80", TIMEOUT_MS);
	check(h, "tty-initial-size", strstr(out, "24 80") != NULL, "got \"%s\"", out);
	agent_msg_init(&m, AGENT_RESIZE, 0, 0);
	m.u.resize = (struct agent_resize){pid, 50, 132};
	simple(h, &m, "resize", 0);
	if (write(con, "go\n", 3) != 3)
		say("AGENT-TEST-HOST console write: %s", strerror(errno));
	read_until(con, out, sizeof(out), NULL, TIMEOUT_MS);
	check(h, "tty-resized", strstr(out, "50 132") != NULL, "got \"%s\"", out);
	check(h, "tty-name", strstr(out, "/dev/pts/") != NULL, "got \"%s\"", out);
	close(con);
	struct agent_exit e = {0};
	check(h, "tty-exit", wait_exit(h, pid, &e) && e.code == 5, "code %u", e.code);
}

/* A seccomp filter (EPERM for mkdir/mkdirat) on an EXEC, installed both
 * before the capability drop (no_new_privs off) and after START (on). */
static void t_seccomp(struct host *h)
{
#ifdef __x86_64__
	static struct sock_filter f[] = {
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_mkdir, 2, 0),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_mkdirat, 1, 0),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
	};
	static char *args[] = {"sh", "-c", "mkdir /tmp/seccomp-probe 2>&1; echo rc=$?", NULL};
	static char out[OUT_MAX];
	for (int nnp = 0; nnp < 2; nnp++) {
		struct agent_msg m, r;
		agent_msg_init(&m, AGENT_EXEC, 0, 0);
		root_process(&m.u.exec.process, args, 3);
		m.u.exec.process.stdout_port = h->cfg->port + L_OUT;
		m.u.exec.process.seccomp_bpf = (uint8_t *)f;
		m.u.exec.process.seccomp_len = sizeof(f);
		m.u.exec.process.no_new_privs = nnp;
		bool got = request(h, &m, &r);
		int fd = accept_within(h->lis[L_OUT], 1000);
		bool ok = got && r.hdr.type == AGENT_EXEC && fd >= 0;
		agent_msg_free(&r);
		if (ok)
			read_until(fd, out, sizeof(out), NULL, TIMEOUT_MS);
		if (fd >= 0)
			close(fd);
		check(h, nnp ? "seccomp-nnp" : "seccomp",
		      ok && strstr(out, "Operation not permitted") && strstr(out, "rc=1"),
		      "got \"%s\"", ok ? out : "no exec");
	}
#endif
}

static void t_errors(struct host *h)
{
	static char *args[] = {"/no/such/binary", NULL};
	struct agent_msg m;
	agent_msg_init(&m, AGENT_EXEC, 0, 0);
	root_process(&m.u.exec.process, args, 1);
	simple(h, &m, "exec-missing-binary", ENOENT);
	agent_msg_init(&m, AGENT_START, 0, 0);
	simple(h, &m, "start-twice-refused", EBUSY);
	agent_msg_init(&m, AGENT_WAIT, 0, 0);
	m.u.wait.pid = 99999;
	simple(h, &m, "wait-unknown-pid", ESRCH);
	agent_msg_init(&m, AGENT_RESIZE, 0, 0);
	m.u.resize = (struct agent_resize){0, 1, 1};
	simple(h, &m, "resize-without-tty", ENOTTY);
	/* a frame of an unknown type still gets an ERROR with its id */
	uint8_t raw[AGENT_HDR_SIZE] = {0, 0, 0, 0, 99, 0, 0, 0, 0x77, 0x77, 0, 0};
	send_frame(h, raw, sizeof(raw));
	struct agent_msg r;
	bool got = false;
	for (int i = 0; i < 4 && !got && read_msg(h, &r, TIMEOUT_MS); i++) {
		got =
		    r.hdr.type == AGENT_ERROR && r.hdr.id == 0x7777 && r.u.error.errnum == EBADMSG;
		if (r.hdr.type == AGENT_EXIT)
			keep_exit(h, &r.u.exit);
		agent_msg_free(&r);
	}
	check(h, "unknown-type-error", got, "no EBADMSG reply");
}

/* Closing the init's stdin ends its `read`: exit code 7. */
static void t_init_exit(struct host *h)
{
	close(h->in);
	h->in = -1;
	struct agent_exit e = {0};
	check(h, "stdin-eof-init-exit", wait_exit(h, h->init_pid, &e) && e.code == 7,
	      "code %u signal %u", e.code, e.signal);
	struct agent_msg m;
	agent_msg_init(&m, AGENT_SIGNAL, 0, 0);
	m.u.signal = (struct agent_signal){0, 9, false};
	simple(h, &m, "signal-after-exit", ESRCH);
}

void selftest_run(struct host *h)
{
	h->ctl = accept_within(h->lis[L_CTL], TIMEOUT_MS);
	if (!check(h, "connect", h->ctl >= 0, "the agent did not connect"))
		return;
	if (!t_hello(h) || !t_create(h))
		return;
	t_container(h);
	t_exec(h);
	t_signals(h);
	t_tty(h);
	t_seccomp(h);
	t_errors(h);
	t_init_exit(h);
}
