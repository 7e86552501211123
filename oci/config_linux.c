/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config.json "linux": namespaces (type names, each at most once), uid/gid
 * mappings, device nodes, cgroupsPath, sysctl, masked and read-only paths,
 * rootfsPropagation, mountLabel, and the sections only accepted (intelRdt,
 * personality).  resources and seccomp have their own files
 * (config_resources.c, config_seccomp.c); this one calls them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "oci/config_internal.h"
#include "util/cleanup.h"

static const char *const ns_names[OCI_NS_NTYPES] = {
    [OCI_NS_PID] = "pid",	[OCI_NS_NETWORK] = "network", [OCI_NS_MOUNT] = "mount",
    [OCI_NS_IPC] = "ipc",	[OCI_NS_UTS] = "uts",	      [OCI_NS_USER] = "user",
    [OCI_NS_CGROUP] = "cgroup", [OCI_NS_TIME] = "time",
};

const char *oci_ns_type_name(enum oci_ns_type t)
{
	return (unsigned)t < OCI_NS_NTYPES ? ns_names[t] : NULL;
}

static int ns_type_of(const char *name)
{
	for (int i = 0; i < OCI_NS_NTYPES; i++)
		if (!strcmp(ns_names[i], name))
			return i;
	return -1;
}

static int parse_namespace(struct cfg *c, json_t *o, struct oci_namespace *ns, unsigned *seen)
{
	cleanup_free char *type = NULL;
	char q[96];
	if (!cfg_val_is_obj(c, o) || cfg_req_str(c, o, "type", &type))
		return c->rc;
	int t = ns_type_of(type);
	size_t m = cfg_push_key(c, "type");
	if (t < 0)
		cfg_fail(c, EINVAL, "unknown namespace type %s", cfg_quote(q, sizeof(q), type));
	else if (*seen & (1u << t))
		cfg_fail(c, EINVAL, "duplicate namespace type %s", cfg_quote(q, sizeof(q), type));
	cfg_pop(c, m);
	if (c->rc)
		return c->rc;
	*seen |= 1u << t;
	ns->type = (enum oci_ns_type)t;
	if (!cfg_str(c, o, "path", &ns->path) && ns->path && !ns->path[0]) {
		free(ns->path); /* "" means "new namespace", as in runc */
		ns->path = NULL;
	}
	return c->rc;
}

static int parse_namespaces(struct cfg *c, json_t *lx, struct oci_linux *out)
{
	size_t n;
	unsigned seen = 0;
	json_t *a = cfg_arr(c, lx, "namespaces", &n);
	if (!a || !(out->namespaces = cfg_calloc(c, n, sizeof(*out->namespaces))))
		return c->rc;
	size_t m = cfg_push_key(c, "namespaces");
	for (size_t i = 0; i < n && !c->rc; i++) {
		size_t mi = cfg_push_index(c, i);
		out->n_namespaces++;
		parse_namespace(c, json_array_get(a, i), &out->namespaces[i], &seen);
		cfg_pop(c, mi);
	}
	cfg_pop(c, m);
	return c->rc;
}

static int parse_idmaps(struct cfg *c, json_t *lx, const char *key, struct oci_idmap **out,
			size_t *count)
{
	size_t n;
	json_t *a = cfg_arr(c, lx, key, &n);
	if (!a || !(*out = cfg_calloc(c, n, sizeof(**out))))
		return c->rc;
	size_t m = cfg_push_key(c, key);
	for (size_t i = 0; i < n && !c->rc; i++) {
		json_t *o = json_array_get(a, i);
		struct oci_idmap *im = &(*out)[i];
		size_t mi = cfg_push_index(c, i);
		if (cfg_val_is_obj(c, o)) {
			cfg_u32(c, o, "containerID", true, &im->container_id);
			cfg_u32(c, o, "hostID", true, &im->host_id);
			cfg_u32(c, o, "size", true, &im->size);
		}
		if (!c->rc && im->size == 0)
			cfg_fail_key(c, "size", EINVAL, "must be at least 1");
		if (!c->rc && (uint64_t)im->container_id + im->size - 1 > UINT32_MAX)
			cfg_fail(c, ERANGE, "containerID + size overflows 32 bits");
		if (!c->rc && (uint64_t)im->host_id + im->size - 1 > UINT32_MAX)
			cfg_fail(c, ERANGE, "hostID + size overflows 32 bits");
		cfg_pop(c, mi);
		*count += !c->rc;
	}
	cfg_pop(c, m);
	return c->rc;
}

static int parse_device(struct cfg *c, json_t *o, struct oci_device *d)
{
	cleanup_free char *type = NULL;
	struct oci_opt_i64 major = {0}, minor = {0};
	char q[96];
	if (!cfg_val_is_obj(c, o) || cfg_req_str(c, o, "type", &type))
		return c->rc;
	if (strlen(type) != 1 || !strchr("cbup", type[0])) {
		size_t m = cfg_push_key(c, "type");
		cfg_fail(c, EINVAL, "unknown device type %s (c, b, u or p)",
			 cfg_quote(q, sizeof(q), type));
		cfg_pop(c, m);
		return c->rc;
	}
	d->type = type[0];
	cfg_abspath(c, o, "path", true, &d->path);
	cfg_opt_i64(c, o, "major", 0, UINT32_MAX, &major);
	cfg_opt_i64(c, o, "minor", 0, UINT32_MAX, &minor);
	/* permission bits; runc passes type bits through too, so no range */
	cfg_opt_u32(c, o, "fileMode", UINT32_MAX, &d->file_mode);
	cfg_opt_u32(c, o, "uid", UINT32_MAX, &d->uid);
	cfg_opt_u32(c, o, "gid", UINT32_MAX, &d->gid);
	if (!c->rc && d->type != 'p' && (!major.set || !minor.set))
		cfg_fail_key(c, major.set ? "minor" : "major", EINVAL,
			     "required for a device of type '%c'", d->type);
	d->major = major.v;
	d->minor = minor.v;
	return c->rc;
}

static int parse_devices(struct cfg *c, json_t *lx, struct oci_linux *out)
{
	size_t n;
	json_t *a = cfg_arr(c, lx, "devices", &n);
	if (!a || !(out->devices = cfg_calloc(c, n, sizeof(*out->devices))))
		return c->rc;
	size_t m = cfg_push_key(c, "devices");
	for (size_t i = 0; i < n && !c->rc; i++) {
		size_t mi = cfg_push_index(c, i);
		out->n_devices++;
		parse_device(c, json_array_get(a, i), &out->devices[i]);
		cfg_pop(c, mi);
	}
	cfg_pop(c, m);
	return c->rc;
}

/* maskedPaths, readonlyPaths: absolute paths inside the container */
static int parse_abspaths(struct cfg *c, json_t *lx, const char *key, struct oci_strv *out)
{
	char q[96];
	if (cfg_strv(c, lx, key, out))
		return c->rc;
	size_t m = cfg_push_key(c, key);
	for (size_t i = 0; i < out->n && !c->rc; i++) {
		if (cfg_is_abspath(out->v[i]))
			continue;
		size_t mi = cfg_push_index(c, i);
		cfg_fail(c, EINVAL, "must be an absolute path, not %s",
			 cfg_quote(q, sizeof(q), out->v[i]));
		cfg_pop(c, mi);
	}
	cfg_pop(c, m);
	return c->rc;
}

static int parse_propagation(struct cfg *c, json_t *lx, struct oci_linux *out)
{
	cleanup_free char *s = NULL;
	char q[96];
	if (cfg_str(c, lx, "rootfsPropagation", &s) || !s || !s[0])
		return c->rc;
	long v = cfg_lookup(cfg_propagation_names, cfg_n_propagation_names, s);
	if (v < 0)
		return cfg_fail_key(c, "rootfsPropagation", EINVAL, "unknown propagation %s",
				    cfg_quote(q, sizeof(q), s));
	out->rootfs_propagation = (unsigned long)v;
	return 0;
}

/* Accepted and (mostly) not applied: a VM has no host RDT class to join,
 * and runc 1.1 itself ignores personality.  Types are still checked. */
static int parse_accepted(struct cfg *c, json_t *lx, struct oci_linux *out)
{
	char q[96];
	out->has_intel_rdt = cfg_obj(c, lx, "intelRdt") != NULL;
	json_t *p = cfg_obj(c, lx, "personality");
	if (!p)
		return c->rc;
	size_t m = cfg_push_key(c, "personality");
	if (!cfg_req_str(c, p, "domain", &out->personality_domain) &&
	    strcmp(out->personality_domain, "LINUX") && strcmp(out->personality_domain, "LINUX32"))
		cfg_fail_key(c, "domain", EINVAL, "unknown personality %s (LINUX or LINUX32)",
			     cfg_quote(q, sizeof(q), out->personality_domain));
	cfg_pop(c, m);
	return c->rc;
}

static int parse_sections(struct cfg *c, json_t *lx, struct oci_linux *out)
{
	json_t *r = cfg_obj(c, lx, "resources");
	if (r && (out->resources = cfg_calloc(c, 1, sizeof(*out->resources)))) {
		size_t m = cfg_push_key(c, "resources");
		cfg_parse_resources(c, r, out->resources);
		cfg_pop(c, m);
	}
	json_t *s = cfg_obj(c, lx, "seccomp");
	if (s && (out->seccomp = cfg_calloc(c, 1, sizeof(*out->seccomp)))) {
		size_t m = cfg_push_key(c, "seccomp");
		cfg_parse_seccomp(c, s, out->seccomp);
		cfg_pop(c, m);
	}
	return c->rc;
}

int cfg_parse_linux(struct cfg *c, json_t *lx, struct oci_linux *out)
{
	parse_namespaces(c, lx, out);
	parse_idmaps(c, lx, "uidMappings", &out->uid_mappings, &out->n_uid_mappings);
	parse_idmaps(c, lx, "gidMappings", &out->gid_mappings, &out->n_gid_mappings);
	parse_devices(c, lx, out);
	cfg_str(c, lx, "cgroupsPath", &out->cgroups_path);
	parse_sections(c, lx, out);
	cfg_strmap(c, lx, "sysctl", &out->sysctl);
	parse_abspaths(c, lx, "maskedPaths", &out->masked_paths);
	parse_abspaths(c, lx, "readonlyPaths", &out->readonly_paths);
	parse_propagation(c, lx, out);
	cfg_str(c, lx, "mountLabel", &out->mount_label);
	parse_accepted(c, lx, out);
	return c->rc;
}

void cfg_free_linux(struct oci_linux *l)
{
	for (size_t i = 0; i < l->n_namespaces; i++)
		free(l->namespaces[i].path);
	free(l->namespaces);
	free(l->uid_mappings);
	free(l->gid_mappings);
	for (size_t i = 0; i < l->n_devices; i++)
		free(l->devices[i].path);
	free(l->devices);
	free(l->cgroups_path);
	oci_resources_free(l->resources);
	oci_strmap_free(&l->sysctl);
	if (l->seccomp) {
		cfg_free_seccomp(l->seccomp);
		free(l->seccomp);
	}
	oci_strv_free(&l->masked_paths);
	oci_strv_free(&l->readonly_paths);
	free(l->mount_label);
	free(l->personality_domain);
}
