/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kvbox.agent_test=1: a stand-in for the host, forked by the agent before
 * it connects, that drives the agent through the real protocol over vsock
 * loopback (CID 1): HELLO, CREATE of a built-in container spec (uid 1000,
 * groups, hostname, capabilities with an ambient set, no_new_privs,
 * rlimits, umask, proc/tmpfs/devpts/mqueue/sysfs mounts, a 9p bind mount,
 * masked and read-only paths, a sysctl, a read-only rootfs), START, EXEC
 * (plain, with a terminal and RESIZE, failing), PS, STATS, WAIT, SIGNAL
 * (one process, all), stdin EOF, exit codes, error replies, SHUTDOWN.
 *
 * Rootfs: the 9p share named by kvbox.agent_test_root= (prepared by the
 * test on the host), else a tmpfs filled from the initramfs's busybox.
 * Every check prints one console line, "AGENT-TEST <name> ok" or
 * "AGENT-TEST <name> FAIL <why>", then "AGENT-TEST-DONE passed=N failed=M";
 * tests/integration/nested/agent.bats reads them.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/vm_sockets.h>

#include "guest/agent/agent.h"

#define TIMEOUT_MS  120000
#define TEST_ROOT   "/run/kvbox-test-root"
#define OUT_MAX	    16384
#define CAP_CHOWN_B (1ull << 0)
#define CAP_KILL_B  (1ull << 5)
#define CAP_NBS_B   (1ull << 10)

enum { L_CTL, L_IN, L_OUT, L_ERR, L_CON, L_COUNT };

struct host {
	const struct agent_config *cfg;
	int ctl;
	int lis[L_COUNT];
	uint32_t next_id;
	struct agent_exit exits[64];
	unsigned nexits;
	unsigned pass, fail;
	uint32_t init_pid;
	int in, out, err; /* the init's stdio streams */
};

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

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	char line[2048];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	if (write(STDOUT_FILENO, line, (size_t)n) < 0)
		return;
}

static bool check(struct host *h, const char *name, bool ok, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static bool check(struct host *h, const char *name, bool ok, const char *fmt, ...)
{
	char why[1024] = "";
	if (!ok && fmt) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(why, sizeof(why), fmt, ap);
		va_end(ap);
	}
	say("AGENT-TEST %s %s%s%s", name, ok ? "ok" : "FAIL", ok ? "" : " ", why);
	if (ok)
		h->pass++;
	else
		h->fail++;
	return ok;
}

/* ---- transport ---- */

static int listen_on(uint32_t port)
{
	int s = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_vm sa = {
	    .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = port};
	if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(s, 8) < 0)
		return -1;
	return s;
}

static int accept_within(int lfd, int ms)
{
	struct pollfd p = {.fd = lfd, .events = POLLIN};
	if (poll(&p, 1, ms) <= 0)
		return -1;
	return accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
}

static bool read_full(int fd, void *buf, size_t len, int ms)
{
	size_t off = 0;
	while (off < len) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, ms) <= 0)
			return false;
		ssize_t n = read(fd, (char *)buf + off, len - off);
		if (n <= 0)
			return false;
		off += (size_t)n;
	}
	return true;
}

static void send_frame(struct host *h, const uint8_t *buf, size_t len)
{
	size_t off = 0;
	while (off < len) {
		ssize_t n = write(h->ctl, buf + off, len - off);
		if (n <= 0)
			return;
		off += (size_t)n;
	}
}

/* Next message from the agent into m (free with agent_msg_free). */
static bool read_msg(struct host *h, struct agent_msg *m, int ms)
{
	uint8_t hdr[AGENT_HDR_SIZE];
	struct agent_hdr hd;
	memset(m, 0, sizeof(*m));
	if (!read_full(h->ctl, hdr, sizeof(hdr), ms) || agent_hdr_decode(hdr, sizeof(hdr), &hd) < 0)
		return false;
	uint8_t *buf = malloc(AGENT_HDR_SIZE + hd.len);
	if (!buf)
		return false;
	memcpy(buf, hdr, sizeof(hdr));
	bool ok = read_full(h->ctl, buf + AGENT_HDR_SIZE, hd.len, ms) &&
		  agent_msg_decode(buf, AGENT_HDR_SIZE + hd.len, m) == 0;
	free(buf);
	return ok;
}

static void keep_exit(struct host *h, const struct agent_exit *e)
{
	if (h->nexits < sizeof(h->exits) / sizeof(h->exits[0]))
		h->exits[h->nexits++] = *e;
}

/* Sends m as a request and reads until its reply (ERROR included),
 * keeping EXIT events that come first.  false on a broken channel. */
static bool request(struct host *h, struct agent_msg *m, struct agent_msg *reply)
{
	uint8_t *buf = NULL;
	m->hdr.id = ++h->next_id;
	long n = agent_msg_encode_alloc(m, &buf);
	if (n < 0) {
		say("AGENT-TEST-HOST cannot encode %s: %ld", agent_type_name(m->hdr.type), n);
		return false;
	}
	send_frame(h, buf, (size_t)n);
	free(buf);
	for (;;) {
		if (!read_msg(h, reply, TIMEOUT_MS))
			return false;
		if (reply->hdr.type == AGENT_EXIT) {
			keep_exit(h, &reply->u.exit);
			agent_msg_free(reply);
			continue;
		}
		if (reply->hdr.id == m->hdr.id)
			return true;
		agent_msg_free(reply);
	}
}

/* A request whose reply is only checked for success. */
static bool simple(struct host *h, struct agent_msg *m, const char *name, int want_err)
{
	struct agent_msg r;
	bool got = request(h, m, &r);
	int e = got && r.hdr.type == AGENT_ERROR ? r.u.error.errnum : 0;
	bool ok = got && e == want_err;
	check(h, name, ok, "%s: errno %d (%s), wanted %d", got ? "reply" : "no reply", e,
	      got && e ? r.u.error.message : "", want_err);
	agent_msg_free(&r);
	return ok;
}

static bool wait_exit(struct host *h, uint32_t pid, struct agent_exit *out)
{
	for (;;) {
		for (unsigned i = 0; i < h->nexits; i++) {
			if (h->exits[i].pid == pid) {
				*out = h->exits[i];
				h->exits[i] = h->exits[--h->nexits];
				return true;
			}
		}
		struct agent_msg m;
		if (!read_msg(h, &m, TIMEOUT_MS))
			return false;
		if (m.hdr.type == AGENT_EXIT)
			keep_exit(h, &m.u.exit);
		agent_msg_free(&m);
	}
}

/* Reads fd into buf until needle shows up (or EOF when needle is NULL). */
static size_t read_until(int fd, char *buf, size_t size, const char *needle, int ms)
{
	size_t len = 0;
	buf[0] = '\0';
	while (len < size - 1 && !(needle && strstr(buf, needle))) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, ms) <= 0)
			break;
		ssize_t n = read(fd, buf + len, size - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
	}
	return len;
}

/* The value of "key=" at a line start in out, up to the line end. */
static const char *value_of(const char *out, const char *key, char *val, size_t size)
{
	size_t kl = strlen(key);
	for (const char *l = out; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		if (!strncmp(l, key, kl) && l[kl] == '=') {
			snprintf(val, size, "%.*s", (int)strcspn(l + kl + 1, "\r\n"), l + kl + 1);
			return val;
		}
	}
	snprintf(val, size, "<missing>");
	return val;
}

static void expect(struct host *h, const char *out, const char *key, const char *want)
{
	char name[64], val[1024];
	snprintf(name, sizeof(name), "ct-%s", key);
	value_of(out, key, val, sizeof(val));
	check(h, name, !strcmp(val, want), "got \"%s\" want \"%s\"", val, want);
}

/* Check "ct-KEY" (or "ct-KEY:PART" for a mount) that KEY's value holds part. */
static void expect_has(struct host *h, const char *out, const char *key, const char *part)
{
	char name[128], val[2048];
	if (!strcmp(key, "mounts"))
		snprintf(name, sizeof(name), "ct-mount:%.*s", (int)strcspn(part, ","), part);
	else
		snprintf(name, sizeof(name), "ct-%s", key);
	value_of(out, key, val, sizeof(val));
	check(h, name, strstr(val, part) != NULL, "\"%s\" lacks \"%s\"", val, part);
}

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
static int tmpfs_rootfs(void)
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

static void run(struct host *h)
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
	t_errors(h);
	t_init_exit(h);
}

__attribute__((noreturn)) static void selftest_main(const struct agent_config *cfg)
{
	struct host h = {.cfg = cfg, .ctl = -1, .in = -1, .out = -1, .err = -1};
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int i = 0; i < L_COUNT; i++)
		h.lis[i] = listen_on(cfg->port + (uint32_t)i);
	say("AGENT-TEST-HOST rootfs %s, data %s", cfg->test_root[0] ? cfg->test_root : "tmpfs",
	    cfg->test_data[0] ? cfg->test_data : "none");
	if (!cfg->test_root[0] && tmpfs_rootfs() < 0)
		check(&h, "tmpfs-rootfs", false, "%s", strerror(errno));
	else if (h.lis[L_CTL] < 0 || h.lis[L_CON] < 0)
		check(&h, "listen", false, "vsock loopback: %s", strerror(errno));
	else
		run(&h);
	say("AGENT-TEST-DONE passed=%u failed=%u", h.pass, h.fail);
	struct agent_msg m, r;
	agent_msg_init(&m, AGENT_SHUTDOWN, 0, 0);
	if (h.ctl >= 0 && request(&h, &m, &r))
		agent_msg_free(&r);
	_exit(h.fail ? 1 : 0);
}

pid_t selftest_spawn(struct agent *a)
{
	pid_t pid = fork();
	if (pid == 0)
		selftest_main(&a->cfg);
	if (pid < 0)
		agent_log("self-test: fork: %s", strerror(errno));
	return pid < 0 ? 0 : pid;
}
