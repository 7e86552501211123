/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the agent reports rather than does: the kernel command line it is
 * configured by, HELLO, the container's process list (PS) and resource use
 * (STATS: the container cgroup when cgroup2 is there, /proc otherwise).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "guest/agent/agent.h"
#include "util/cleanup.h"

#define CMD_MAX 256
#define PS_MAX	3000

/* Reads a small file into buf (NUL-terminated); bytes read or -errno. */
static ssize_t slurp(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	size_t len = 0;
	while (len < size - 1) {
		ssize_t n = read(fd, buf + len, size - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	return (ssize_t)len;
}

static void copy_word(char *dst, size_t size, const char *v)
{
	snprintf(dst, size, "%.*s", (int)strcspn(v, " \n"), v);
}

int info_cmdline(struct agent_config *cfg, struct kv_err *err)
{
	char buf[4096];
	if (slurp("/proc/cmdline", buf, sizeof(buf)) < 0)
		return kv_err_sys(err, errno, "reading /proc/cmdline");
	cfg->cid = 0;
	for (char *t = strtok(buf, " \n"); t; t = strtok(NULL, " \n")) {
		if (!strncmp(t, "kvbox.agent_port=", 17))
			cfg->port = (uint32_t)strtoul(t + 17, NULL, 0);
		else if (!strncmp(t, "kvbox.agent_cid=", 16))
			cfg->cid = (uint32_t)strtoul(t + 16, NULL, 0);
		else if (!strncmp(t, "kvbox.agent_test=", 17))
			cfg->test = t[17] == '1';
		else if (!strncmp(t, "kvbox.agent_test_root=", 22))
			copy_word(cfg->test_root, sizeof(cfg->test_root), t + 22);
		else if (!strncmp(t, "kvbox.agent_test_data=", 22))
			copy_word(cfg->test_data, sizeof(cfg->test_data), t + 22);
		else if (!strncmp(t, "kvbox.debug=", 12))
			cfg->debug = t[12] == '1';
	}
	/* the self-test host lives in this guest: vsock loopback */
	if (!cfg->cid)
		cfg->cid = cfg->test ? 1 : AGENT_DEFAULT_CID;
	if (cfg->test && !cfg->port)
		cfg->port = 1024;
	return 0;
}

void info_hello(struct agent *a, struct agent_msg *m, char *kernel, size_t klen)
{
	struct utsname u;
	snprintf(kernel, klen, "%s", uname(&u) == 0 ? u.release : "unknown");
	agent_msg_init(m, AGENT_HELLO, AGENT_F_EVENT, 0);
	m->u.hello.version = AGENT_PROTO_VERSION;
	m->u.hello.agent_version = KVBOX_VERSION;
	m->u.hello.kernel = kernel;
	m->u.hello.boot_ns = agent_now_ns();
	m->u.hello.agent_start_ns = a->start_ns;
}

/* ppid and uid of pid; its command line with spaces, or [comm]. */
static int proc_entry(pid_t pid, struct agent_proc_info *pi, char *cmd)
{
	char path[64], buf[1024];
	struct stat st;
	snprintf(path, sizeof(path), "/proc/%d", pid);
	if (stat(path, &st) < 0)
		return -errno;
	pi->pid = (uint32_t)pid;
	pi->uid = st.st_uid;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (slurp(path, buf, sizeof(buf)) < 0)
		return -ESRCH;
	const char *rp = strrchr(buf, ')');
	int ppid = 0;
	if (rp)
		sscanf(rp + 1, " %*c %d", &ppid);
	pi->ppid = (uint32_t)ppid;
	snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
	ssize_t n = slurp(path, cmd, CMD_MAX);
	for (ssize_t i = 0; i < n; i++)
		if (!cmd[i])
			cmd[i] = ' ';
	while (n > 0 && cmd[n - 1] == ' ')
		cmd[--n] = '\0';
	if (n <= 0) {
		const char *l = strchr(buf, '(');
		snprintf(cmd, CMD_MAX, "[%.*s]", rp && l ? (int)(rp - l - 1) : 0, l ? l + 1 : "");
	}
	pi->cmd = cmd;
	return 0;
}

/* Container pids, into a malloc'ed array. */
static int container_pids(struct agent *a, pid_t **out, uint32_t *n)
{
	cleanup_close int fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d)
		return -errno;
	fd = -1;
	pid_t *v = malloc(AGENT_MAX_PROCS * sizeof(*v));
	*n = 0;
	struct dirent *e;
	while (v && (e = readdir(d)) && *n < AGENT_MAX_PROCS) {
		pid_t pid = (pid_t)atoi(e->d_name);
		if (pid > 0 && proc_in_container(a, pid))
			v[(*n)++] = pid;
	}
	closedir(d);
	*out = v;
	return v ? 0 : -ENOMEM;
}

int info_ps(struct agent *a, struct agent_msg *m, struct kv_err *err)
{
	pid_t *pids = NULL;
	uint32_t n = 0;
	int r = container_pids(a, &pids, &n);
	if (r < 0)
		return kv_err_sys(err, -r, "listing /proc");
	if (n > PS_MAX)
		n = PS_MAX; /* what fits in one frame with full command lines */
	size_t each = sizeof(struct agent_proc_info) + CMD_MAX;
	struct agent_proc_info *procs = calloc(n ? n : 1, each);
	if (!procs) {
		free(pids);
		return kv_err_set(err, ENOMEM, "out of memory");
	}
	char *cmds = (char *)(procs + n);
	uint32_t k = 0;
	for (uint32_t i = 0; i < n; i++)
		if (proc_entry(pids[i], &procs[k], cmds + (size_t)k * CMD_MAX) == 0)
			k++;
	free(pids);
	m->u.ps.procs = procs;
	m->u.ps.nprocs = k;
	return 0;
}

static uint64_t field_u64(const char *text, const char *key)
{
	const char *p = strstr(text, key);
	return p ? strtoull(p + strlen(key), NULL, 10) : 0;
}

static void stats_cgroup(struct agent_stats *s)
{
	char buf[4096];
	if (slurp(AGENT_CGROUP "/memory.current", buf, sizeof(buf)) > 0)
		s->mem_usage = strtoull(buf, NULL, 10);
	if (slurp(AGENT_CGROUP "/pids.current", buf, sizeof(buf)) > 0)
		s->pids = (uint32_t)strtoul(buf, NULL, 10);
	if (slurp(AGENT_CGROUP "/cpu.stat", buf, sizeof(buf)) > 0) {
		s->cpu_usage_ns = field_u64(buf, "usage_usec ") * 1000;
		s->cpu_user_ns = field_u64(buf, "user_usec ") * 1000;
		s->cpu_system_ns = field_u64(buf, "system_usec ") * 1000;
	}
}

/* No cgroup: the whole guest's CPU time and memory, the pid count. */
static void stats_proc(struct agent *a, struct agent_stats *s)
{
	char buf[4096];
	s->mem_usage = s->mem_total - s->mem_available;
	if (slurp("/proc/stat", buf, sizeof(buf)) > 0) {
		unsigned long long u = 0, ni = 0, sy = 0;
		long hz = sysconf(_SC_CLK_TCK);
		sscanf(buf, "cpu %llu %llu %llu", &u, &ni, &sy);
		uint64_t tick = hz > 0 ? 1000000000ull / (uint64_t)hz : 10000000ull;
		s->cpu_user_ns = (u + ni) * tick;
		s->cpu_system_ns = sy * tick;
		s->cpu_usage_ns = s->cpu_user_ns + s->cpu_system_ns;
	}
	pid_t *pids = NULL;
	uint32_t n = 0;
	if (container_pids(a, &pids, &n) == 0)
		s->pids = n;
	free(pids);
}

int info_stats(struct agent *a, struct agent_stats *s, struct kv_err *err)
{
	char buf[4096];
	if (slurp("/proc/meminfo", buf, sizeof(buf)) < 0)
		return kv_err_sys(err, errno, "reading /proc/meminfo");
	s->mem_total = field_u64(buf, "MemTotal:") * 1024;
	s->mem_available = field_u64(buf, "MemAvailable:") * 1024;
	if (a->have_cgroup)
		stats_cgroup(s);
	else
		stats_proc(a, s);
	return 0;
}

/* Writes one value to a file of the container's cgroup. */
static int cg_write(const char *file, const char *value, struct kv_err *err)
{
	char path[128];
	snprintf(path, sizeof(path), AGENT_CGROUP "/%s", file);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return kv_err_sys(err, errno, "UPDATE: %s", path);
	ssize_t n = write(fd, value, strlen(value));
	int e = errno;
	close(fd);
	if (n < 0)
		return kv_err_sys(err, e, "UPDATE: %s <- \"%s\"", path, value);
	return 0;
}

int info_update(struct agent *a, const struct agent_update *u, struct kv_err *err)
{
	char v[64];
	int r = 0;
	if (!a->have_cgroup)
		return kv_err_set(err, EOPNOTSUPP, "UPDATE: the guest has no container cgroup");
	if (u->cpu_quota || u->cpu_period) {
		/* cpu.max takes "QUOTA PERIOD"; keep what is not being changed */
		char cur[64] = "max 100000";
		slurp(AGENT_CGROUP "/cpu.max", cur, sizeof(cur));
		char quota[32] = "max";
		unsigned long long period = 100000;
		sscanf(cur, "%31s %llu", quota, &period);
		if (u->cpu_quota == AGENT_UNLIMITED)
			snprintf(quota, sizeof(quota), "max");
		else if (u->cpu_quota)
			snprintf(quota, sizeof(quota), "%llu", (unsigned long long)u->cpu_quota);
		if (u->cpu_period && u->cpu_period != AGENT_UNLIMITED)
			period = u->cpu_period;
		snprintf(v, sizeof(v), "%s %llu", quota, period);
		if ((r = cg_write("cpu.max", v, err)) < 0)
			return r;
	}
	if (u->cpu_weight) {
		snprintf(v, sizeof(v), "%llu", (unsigned long long)u->cpu_weight);
		if ((r = cg_write("cpu.weight", v, err)) < 0)
			return r;
	}
	if (u->pids_max) {
		if (u->pids_max == AGENT_UNLIMITED)
			snprintf(v, sizeof(v), "max");
		else
			snprintf(v, sizeof(v), "%llu", (unsigned long long)u->pids_max);
		if ((r = cg_write("pids.max", v, err)) < 0)
			return r;
	}
	if (u->cpuset_cpus && *u->cpuset_cpus)
		r = cg_write("cpuset.cpus", u->cpuset_cpus, err);
	return r;
}
