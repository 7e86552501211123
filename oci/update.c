/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `kvbox update` requests (oci/update.h): JSON from a file or stdin, or
 * runc's flags turned into the same JSON, all through oci_resources_parse(),
 * then classify() sorts the result into live changes, a refused memory
 * change and ignored fields.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oci/update.h"
#include "util/cleanup.h"

bool oci_update_changes(const struct oci_update *u)
{
	return u->cpu_shares.set || u->cpu_period.set || u->cpu_quota.set || u->cpu_cpus ||
	       u->pids_limit.set;
}

void oci_update_fini(struct oci_update *u)
{
	free(u->cpu_cpus);
	*u = (struct oci_update){0};
}

static void ignore(struct oci_update *u, bool given, const char *path)
{
	if (given && u->n_ignored < OCI_UPDATE_MAX_IGNORED)
		u->ignored[u->n_ignored++] = path;
}

/* what a VM cannot apply: named, so the caller can warn */
static void classify_ignored(const struct oci_resources *r, struct oci_update *u)
{
	const struct oci_memory *m = &r->memory;
	ignore(u, m->reservation.set && m->reservation.v, "memory.reservation");
	ignore(u, m->swap.set && m->swap.v, "memory.swap");
	ignore(u, m->kernel.set && m->kernel.v, "memory.kernel");
	ignore(u, m->kernel_tcp.set && m->kernel_tcp.v, "memory.kernelTCP");
	ignore(u, m->swappiness.set, "memory.swappiness");
	ignore(u, m->disable_oom_killer.set && m->disable_oom_killer.v, "memory.disableOOMKiller");
	ignore(u, r->cpu.realtime_runtime.set && r->cpu.realtime_runtime.v, "cpu.realtimeRuntime");
	ignore(u, r->cpu.realtime_period.set && r->cpu.realtime_period.v, "cpu.realtimePeriod");
	ignore(u, r->cpu.idle.set && r->cpu.idle.v, "cpu.idle");
	ignore(u, r->cpu.mems && r->cpu.mems[0], "cpu.mems");
	ignore(u, r->blkio_weight.set && r->blkio_weight.v, "blockIO.weight");
	ignore(u, r->blkio_leaf_weight.set && r->blkio_leaf_weight.v, "blockIO.leafWeight");
	ignore(u, r->n_hugepage_limits, "hugepageLimits");
	ignore(u, r->n_devices, "devices");
	ignore(u, r->unified.n, "unified");
}

int oci_update_from_resources(const struct oci_resources *r, int64_t current_mem_limit,
			      struct oci_update *out, struct kv_err *err)
{
	struct oci_update u = {0};
	const struct oci_opt_i64 *lim = &r->memory.limit;
	*out = u;
	if (lim->set && lim->v != 0 && (current_mem_limit == 0 || lim->v != current_mem_limit))
		return kv_err_set(err, EOPNOTSUPP,
				  "memory.limit: changing the memory of a running VM is not "
				  "supported (restart the container)");
	/* 0 = unchanged, a negative quota or pids limit = none, as in runc */
	u.cpu_shares.set = r->cpu.shares.set && r->cpu.shares.v;
	u.cpu_shares.v = r->cpu.shares.v;
	u.cpu_period.set = r->cpu.period.set && r->cpu.period.v;
	u.cpu_period.v = r->cpu.period.v;
	u.cpu_quota.set = r->cpu.quota.set && r->cpu.quota.v;
	u.cpu_quota.v = r->cpu.quota.v < 0 ? -1 : r->cpu.quota.v;
	u.pids_limit.set = r->pids_limit.set && r->pids_limit.v;
	u.pids_limit.v = r->pids_limit.v < 0 ? -1 : r->pids_limit.v;
	if (r->cpu.cpus && r->cpu.cpus[0] && !(u.cpu_cpus = strdup(r->cpu.cpus)))
		return kv_err_set(err, ENOMEM, "cpu.cpus: out of memory");
	classify_ignored(r, &u);
	*out = u;
	return 0;
}

int oci_update_parse(const char *json, size_t len, const char *name, int64_t current_mem_limit,
		     struct oci_update *out, struct kv_err *err)
{
	struct oci_resources *r = NULL;
	*out = (struct oci_update){0};
	int ret = oci_resources_parse(json, len, name, &r, err);
	if (ret)
		return ret;
	ret = oci_update_from_resources(r, current_mem_limit, out, err);
	oci_resources_free(r);
	return ret;
}

int oci_update_read(int fd, const char *name, int64_t current_mem_limit, struct oci_update *out,
		    struct kv_err *err)
{
	const char *what = name ? name : "resources";
	cleanup_free char *buf = malloc(OCI_UPDATE_MAX_SIZE + 1);
	size_t len = 0;
	*out = (struct oci_update){0};
	if (!buf)
		return kv_err_set(err, ENOMEM, "%s: out of memory", what);
	for (;;) {
		ssize_t n = read(fd, buf + len, OCI_UPDATE_MAX_SIZE + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return kv_err_sys(err, errno, "%s: read", what);
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > OCI_UPDATE_MAX_SIZE)
			return kv_err_set(err, EFBIG, "%s: larger than %u bytes", what,
					  OCI_UPDATE_MAX_SIZE);
	}
	return oci_update_parse(buf, len, name, current_mem_limit, out, err);
}

/* ---- runc's flags ----------------------------------------------------- */

enum flag_type { F_U64, F_I64, F_MEM, F_STR };

static const struct {
	const char *flag, *obj, *key;
	enum flag_type type;
} flag_map[] = {
    {"blkio-weight", "blockIO", "weight", F_U64},
    {"cpu-period", "cpu", "period", F_U64},
    {"cpu-quota", "cpu", "quota", F_I64},
    {"cpu-rt-period", "cpu", "realtimePeriod", F_U64},
    {"cpu-rt-runtime", "cpu", "realtimeRuntime", F_I64},
    {"cpu-share", "cpu", "shares", F_U64},
    {"cpu-idle", "cpu", "idle", F_I64},
    {"cpuset-cpus", "cpu", "cpus", F_STR},
    {"cpuset-mems", "cpu", "mems", F_STR},
    {"memory", "memory", "limit", F_MEM},
    {"memory-reservation", "memory", "reservation", F_MEM},
    {"memory-swap", "memory", "swap", F_MEM},
    {"kernel-memory", "memory", "kernel", F_MEM},
    {"kernel-memory-tcp", "memory", "kernelTCP", F_MEM},
    {"pids-limit", "pids", "limit", F_I64},
};

static int find_flag(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(flag_map); i++)
		if (name && !strcmp(flag_map[i].flag, name))
			return (int)i;
	return -1;
}

bool oci_update_is_flag(const char *name)
{
	return find_flag(name) >= 0;
}

/* "-1", or what runc's units.RAMInBytes takes: 1.5g, 512M, 64 KiB, 100 */
static int parse_mem(const char *s, int64_t *out)
{
	static const char units[] = "kmgtp";
	if (!strcmp(s, "-1")) {
		*out = -1;
		return 0;
	}
	size_t digits = strspn(s, "0123456789.");
	if (!digits || s[0] == '.')
		return -EINVAL;
	char *end;
	double v = strtod(s, &end);
	if (end != s + digits)
		return -EINVAL;
	bool space = *end == ' ';
	const char *u = end + space;
	double mult = 1;
	const char *p = *u ? strchr(units, tolower((unsigned char)*u)) : NULL;
	if (p) {
		mult = (double)(1ull << (10 * (p - units + 1)));
		u++;
	}
	u += (*u == 'i' || *u == 'I');
	u += (*u == 'b' || *u == 'B');
	if (*u || (space && u == end + 1)) /* trailing junk, or a lone space */
		return -EINVAL;
	v *= mult;
	if (!(v < 0x1p63))
		return -ERANGE;
	*out = (int64_t)v;
	return 0;
}

static int parse_int(const char *s, bool is_signed, int64_t *out)
{
	char *end;
	errno = 0;
	if (!*s || (!is_signed && s[0] == '-'))
		return -EINVAL;
	long long v = strtoll(s, &end, 10);
	if (*end || end == s)
		return -EINVAL;
	if (errno == ERANGE)
		return -ERANGE;
	*out = v;
	return 0;
}

/* the JSON value for one flag, or NULL with err set */
static json_t *flag_value(int i, const char *value, struct kv_err *err)
{
	static const char *const what[] = {
	    [F_U64] = "a non-negative integer", [F_I64] = "an integer", [F_MEM] = "a size"};
	int64_t v = 0;
	int r = 0;
	enum flag_type t = flag_map[i].type;
	if (t == F_STR)
		return json_string(value);
	r = t == F_MEM ? parse_mem(value, &v) : parse_int(value, t == F_I64, &v);
	if (r == -ERANGE)
		kv_err_set(err, ERANGE, "--%s: %s is out of range", flag_map[i].flag, value);
	else if (r)
		kv_err_set(err, EINVAL, "--%s: \"%s\" is not %s", flag_map[i].flag, value, what[t]);
	return r ? NULL : json_integer(v);
}

static int flags_to_json(const struct oci_update_flag *flags, size_t n, json_t *res,
			 struct kv_err *err)
{
	for (size_t k = 0; k < n; k++) {
		int i = find_flag(flags[k].name);
		if (i < 0)
			return kv_err_set(err, EINVAL, "--%s: not a resource flag",
					  flags[k].name ? flags[k].name : "");
		if (!flags[k].value)
			return kv_err_set(err, EINVAL, "--%s: needs a value", flag_map[i].flag);
		json_t *v = flag_value(i, flags[k].value, err);
		if (!v)
			return -(err ? err->code : EINVAL);
		json_t *o = json_object_get(res, flag_map[i].obj);
		if (!o && json_object_set_new(res, flag_map[i].obj, o = json_object()) < 0) {
			json_decref(v);
			return kv_err_set(err, ENOMEM, "--%s: out of memory", flag_map[i].flag);
		}
		if (json_object_set_new(o, flag_map[i].key, v) < 0)
			return kv_err_set(err, ENOMEM, "--%s: out of memory", flag_map[i].flag);
	}
	return 0;
}

int oci_update_from_flags(const struct oci_update_flag *flags, size_t n, int64_t current_mem_limit,
			  struct oci_update *out, struct kv_err *err)
{
	*out = (struct oci_update){0};
	json_t *res = json_object();
	if (!res)
		return kv_err_set(err, ENOMEM, "update flags: out of memory");
	int r = flags_to_json(flags, n, res, err);
	cleanup_free char *text = r ? NULL : json_dumps(res, JSON_COMPACT);
	json_decref(res);
	if (r)
		return r;
	if (!text)
		return kv_err_set(err, ENOMEM, "update flags: out of memory");
	return oci_update_parse(text, strlen(text), "update flags", current_mem_limit, out, err);
}
