/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config.json "linux.resources" (and the standalone LinuxResources of
 * `update --resources`): the device allow/deny list, memory, cpu, pids,
 * blockIO weights, hugepage limits and cgroup v2 "unified" files.  kvbox
 * sizes the VM from memory and cpu and applies the rest in the guest;
 * network and rdma are ignored, the blockIO device lists type-checked
 * only.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "oci/config_internal.h"
#include "util/cleanup.h"

/* each of r, w, m at most once */
static bool access_ok(const char *s)
{
	static const char rwm[] = "rwm";
	unsigned seen = 0;
	for (; *s; s++) {
		const char *p = strchr(rwm, *s);
		unsigned bit = p ? 1u << (p - rwm) : 0;
		if (!bit || (seen & bit))
			return false;
		seen |= bit;
	}
	return true;
}

static int parse_dev_rule(struct cfg *c, json_t *o, struct oci_dev_rule *d)
{
	cleanup_free char *type = NULL, *access = NULL;
	char q[96];
	if (!cfg_val_is_obj(c, o))
		return c->rc;
	if (!c->rc && !cfg_get(o, "allow"))
		return cfg_fail_key(c, "allow", EINVAL, "required field is missing");
	cfg_bool(c, o, "allow", &d->allow);
	cfg_str(c, o, "type", &type);
	/* -1 is how some clients write "any" */
	cfg_opt_i64(c, o, "major", -1, UINT32_MAX, &d->major);
	cfg_opt_i64(c, o, "minor", -1, UINT32_MAX, &d->minor);
	d->major.set = d->major.set && d->major.v >= 0;
	d->minor.set = d->minor.set && d->minor.v >= 0;
	cfg_str(c, o, "access", &access);
	if (c->rc)
		return c->rc;
	d->type = type && type[0] ? type[0] : 'a';
	if (type && (strlen(type) > 1 || !strchr("abc", d->type)))
		return cfg_fail_key(c, "type", EINVAL, "unknown device type %s (a, b or c)",
				    cfg_quote(q, sizeof(q), type));
	if (!access || !access[0]) {
		strcpy(d->access, "rwm");
		return 0;
	}
	if (!access_ok(access))
		return cfg_fail_key(c, "access", EINVAL, "%s is not a subset of \"rwm\"",
				    cfg_quote(q, sizeof(q), access));
	strcpy(d->access, access); /* at most 3 bytes: access_ok */
	return 0;
}

static int parse_dev_rules(struct cfg *c, json_t *r, struct oci_resources *out)
{
	size_t n;
	json_t *a = cfg_arr(c, r, "devices", &n);
	if (!a || !(out->devices = cfg_calloc(c, n, sizeof(*out->devices))))
		return c->rc;
	size_t m = cfg_push_key(c, "devices");
	for (size_t i = 0; i < n && !c->rc; i++) {
		size_t mi = cfg_push_index(c, i);
		if (!parse_dev_rule(c, json_array_get(a, i), &out->devices[i]))
			out->n_devices++;
		cfg_pop(c, mi);
	}
	cfg_pop(c, m);
	return c->rc;
}

static int parse_memory(struct cfg *c, json_t *r, struct oci_memory *mem)
{
	json_t *o = cfg_obj(c, r, "memory");
	if (!o)
		return c->rc;
	size_t m = cfg_push_key(c, "memory");
	/* bytes; -1 = unlimited */
	cfg_opt_i64(c, o, "limit", -1, INT64_MAX, &mem->limit);
	cfg_opt_i64(c, o, "reservation", -1, INT64_MAX, &mem->reservation);
	cfg_opt_i64(c, o, "swap", -1, INT64_MAX, &mem->swap);
	cfg_opt_i64(c, o, "kernel", -1, INT64_MAX, &mem->kernel);
	cfg_opt_i64(c, o, "kernelTCP", -1, INT64_MAX, &mem->kernel_tcp);
	cfg_opt_u64(c, o, "swappiness", &mem->swappiness);
	cfg_opt_bool(c, o, "disableOOMKiller", &mem->disable_oom_killer);
	cfg_opt_bool(c, o, "useHierarchy", &mem->use_hierarchy);
	cfg_pop(c, m);
	return c->rc;
}

/* "0-3,5": what cpuset.cpus and cpuset.mems accept; "" means unset */
static bool cpu_list_ok(const char *s)
{
	while (*s) {
		char *end;
		if (!isdigit((unsigned char)*s))
			return false;
		unsigned long a = strtoul(s, &end, 10), b = a;
		if (*end == '-') {
			if (!isdigit((unsigned char)end[1]))
				return false;
			b = strtoul(end + 1, &end, 10);
		}
		if (b < a || a > 65535 || b > 65535 || (*end && *end != ','))
			return false;
		s = *end ? end + 1 : end;
		if (end[0] == ',' && !*s)
			return false;
	}
	return true;
}

static int cpu_list(struct cfg *c, json_t *o, const char *key, char **out)
{
	char q[96];
	if (cfg_str(c, o, key, out) || !*out || cpu_list_ok(*out))
		return c->rc;
	size_t m = cfg_push_key(c, key);
	cfg_fail(c, EINVAL, "%s is not a CPU list like \"0-3,5\"", cfg_quote(q, sizeof(q), *out));
	cfg_pop(c, m);
	return c->rc;
}

static int parse_cpu(struct cfg *c, json_t *r, struct oci_cpu *cpu)
{
	json_t *o = cfg_obj(c, r, "cpu");
	if (!o)
		return c->rc;
	size_t m = cfg_push_key(c, "cpu");
	cfg_opt_u64(c, o, "shares", &cpu->shares);
	cfg_opt_i64(c, o, "quota", INT64_MIN, INT64_MAX, &cpu->quota);
	cfg_opt_u64(c, o, "period", &cpu->period);
	cfg_opt_i64(c, o, "realtimeRuntime", INT64_MIN, INT64_MAX, &cpu->realtime_runtime);
	cfg_opt_u64(c, o, "realtimePeriod", &cpu->realtime_period);
	cfg_opt_i64(c, o, "idle", INT64_MIN, INT64_MAX, &cpu->idle);
	cpu_list(c, o, "cpus", &cpu->cpus);
	cpu_list(c, o, "mems", &cpu->mems);
	cfg_pop(c, m);
	return c->rc;
}

static int parse_blkio(struct cfg *c, json_t *r, struct oci_resources *out)
{
	static const char *const lists[] = {"weightDevice", "throttleReadBpsDevice",
					    "throttleWriteBpsDevice", "throttleReadIOPSDevice",
					    "throttleWriteIOPSDevice"};
	size_t n;
	json_t *o = cfg_obj(c, r, "blockIO");
	if (!o)
		return c->rc;
	size_t m = cfg_push_key(c, "blockIO");
	cfg_opt_u32(c, o, "weight", UINT16_MAX, &out->blkio_weight);
	cfg_opt_u32(c, o, "leafWeight", UINT16_MAX, &out->blkio_leaf_weight);
	for (size_t i = 0; i < ARRAY_SIZE(lists); i++)
		cfg_arr(c, o, lists[i], &n);
	cfg_pop(c, m);
	return c->rc;
}

static int parse_hugepages(struct cfg *c, json_t *r, struct oci_resources *out)
{
	size_t n;
	json_t *a = cfg_arr(c, r, "hugepageLimits", &n);
	if (!a || !(out->hugepage_limits = cfg_calloc(c, n, sizeof(*out->hugepage_limits))))
		return c->rc;
	size_t m = cfg_push_key(c, "hugepageLimits");
	for (size_t i = 0; i < n && !c->rc; i++) {
		json_t *o = json_array_get(a, i);
		struct oci_hugepage_limit *h = &out->hugepage_limits[i];
		struct oci_opt_u64 limit = {0};
		size_t mi = cfg_push_index(c, i);
		out->n_hugepage_limits++;
		if (cfg_val_is_obj(c, o) && !cfg_req_str(c, o, "pageSize", &h->page_size)) {
			if (!cfg_get(o, "limit"))
				cfg_fail_key(c, "limit", EINVAL, "required field is missing");
			cfg_opt_u64(c, o, "limit", &limit);
			h->limit = limit.v;
		}
		cfg_pop(c, mi);
	}
	cfg_pop(c, m);
	return c->rc;
}

int cfg_parse_resources(struct cfg *c, json_t *r, struct oci_resources *out)
{
	json_t *pids;
	parse_dev_rules(c, r, out);
	parse_memory(c, r, &out->memory);
	parse_cpu(c, r, &out->cpu);
	if ((pids = cfg_obj(c, r, "pids"))) {
		size_t m = cfg_push_key(c, "pids");
		cfg_opt_i64(c, pids, "limit", INT64_MIN, INT64_MAX, &out->pids_limit);
		cfg_pop(c, m);
	}
	parse_blkio(c, r, out);
	parse_hugepages(c, r, out);
	cfg_strmap(c, r, "unified", &out->unified);
	return c->rc;
}

void cfg_free_resources(struct oci_resources *r)
{
	free(r->devices);
	free(r->cpu.cpus);
	free(r->cpu.mems);
	for (size_t i = 0; i < r->n_hugepage_limits; i++)
		free(r->hugepage_limits[i].page_size);
	free(r->hugepage_limits);
	oci_strmap_free(&r->unified);
}

void oci_resources_free(struct oci_resources *r)
{
	if (r) {
		cfg_free_resources(r);
		free(r);
	}
}

int oci_resources_parse(const char *json, size_t len, const char *name, struct oci_resources **out,
			struct kv_err *err)
{
	struct cfg c;
	cfg_init(&c, name ? name : "resources", err);
	*out = NULL;
	json_t *root = cfg_load_text(&c, json, len);
	if (!root)
		return c.rc;
	struct oci_resources *r = calloc(1, sizeof(*r));
	if (!r)
		cfg_oom(&c);
	else
		cfg_parse_resources(&c, root, r);
	json_decref(root);
	if (c.rc) {
		oci_resources_free(r);
		return c.rc;
	}
	*out = r;
	return 0;
}
