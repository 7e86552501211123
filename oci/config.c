/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config.json, top level: oci_config_load() reads bundle/config.json with
 * a size bound, oci_config_parse() turns the text into a jansson object
 * (config_json.c: limits, syntax errors with line and column) and then
 * walks it section by section into struct oci_config:
 *
 *   ociVersion, root, hostname, domainname, annotations  here
 *   process                                              config_process.c
 *   mounts[]                                             config_mount.c
 *   hooks                                                here
 *   linux                                                config_linux.c
 *     .resources                                         config_resources.c
 *     .seccomp                                           config_seccomp.c
 *
 * The first invalid value stops the walk; its JSON path is in the error.
 * Unknown keys are ignored at every level, as runc does.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oci/config_internal.h"
#include "util/cleanup.h"
#include "util/file.h"

static const char *const hook_keys[OCI_HOOK_NKINDS] = {
    [OCI_HOOK_PRESTART] = "prestart",
    [OCI_HOOK_CREATE_RUNTIME] = "createRuntime",
    [OCI_HOOK_CREATE_CONTAINER] = "createContainer",
    [OCI_HOOK_START_CONTAINER] = "startContainer",
    [OCI_HOOK_POSTSTART] = "poststart",
    [OCI_HOOK_POSTSTOP] = "poststop",
};

const char *oci_hook_kind_name(enum oci_hook_kind k)
{
	return (unsigned)k < OCI_HOOK_NKINDS ? hook_keys[k] : NULL;
}

/* Lexically cleans an absolute path in place, like Go's filepath.Clean:
 * no "//", no "." components, ".." removes the previous component (and
 * stays at "/" at the top), no trailing "/". */
static void clean_abspath(char *p)
{
	char *out = p + 1; /* after the leading '/' */
	const char *in = p + 1;
	while (*in) {
		const char *end = strchrnul(in, '/');
		size_t n = (size_t)(end - in);
		if (n == 0 || (n == 1 && in[0] == '.')) {
			/* skip */
		} else if (n == 2 && in[0] == '.' && in[1] == '.') {
			while (out > p + 1 && *--out != '/')
				;
		} else {
			if (out > p + 1)
				*out++ = '/';
			memmove(out, in, n);
			out += n;
		}
		in = *end ? end + 1 : end;
	}
	*out = '\0';
}

/* dir (absolute, or relative to the cwd; NULL = the cwd) joined with
 * rel (unless rel is absolute) and cleaned; malloc'd. */
static char *abs_join(const char *dir, const char *rel)
{
	char cwd[PATH_MAX];
	cleanup_free char *base = NULL;
	char *out = NULL;
	if (rel && rel[0] == '/') {
		out = strdup(rel);
		if (out)
			clean_abspath(out);
		return out;
	}
	if (!dir || dir[0] != '/') {
		if (!getcwd(cwd, sizeof(cwd)))
			return NULL;
		if (asprintf(&base, "%s/%s", cwd, dir ? dir : "") < 0)
			return NULL;
		dir = base;
	}
	if (asprintf(&out, "%s/%s", dir, rel ? rel : "") < 0)
		return NULL;
	clean_abspath(out);
	return out;
}

static int parse_root(struct cfg *c, json_t *top, struct oci_config *cfg)
{
	json_t *r = cfg_obj(c, top, "root");
	if (!c->rc && !r)
		return cfg_fail_key(c, "root", EINVAL, "required field is missing");
	size_t m = cfg_push_key(c, "root");
	if (!cfg_req_str(c, r, "path", &cfg->root.spec_path) && !cfg->root.spec_path[0]) {
		size_t mp = cfg_push_key(c, "path");
		cfg_fail(c, EINVAL, "must not be empty");
		cfg_pop(c, mp);
	}
	cfg_bool(c, r, "readonly", &cfg->root.readonly);
	cfg_pop(c, m);
	if (c->rc)
		return c->rc;
	cfg->root.path = abs_join(cfg->bundle, cfg->root.spec_path);
	return cfg->root.path ? 0
			      : cfg_fail(c, errno ? errno : ENOMEM, "root.path: cannot resolve");
}

static int parse_hook(struct cfg *c, json_t *o, struct oci_hook *h)
{
	if (!cfg_val_is_obj(c, o))
		return c->rc;
	cfg_abspath(c, o, "path", true, &h->path);
	cfg_strv(c, o, "args", &h->args);
	cfg_strv(c, o, "env", &h->env);
	cfg_opt_i64(c, o, "timeout", 1, INT_MAX, &h->timeout);
	return c->rc;
}

static int parse_hooks(struct cfg *c, json_t *top, struct oci_hooks *hooks)
{
	json_t *ho = cfg_obj(c, top, "hooks");
	if (!ho)
		return c->rc;
	size_t m = cfg_push_key(c, "hooks");
	for (int k = 0; k < OCI_HOOK_NKINDS && !c->rc; k++) {
		size_t n;
		json_t *a = cfg_arr(c, ho, hook_keys[k], &n);
		if (!a || !(hooks->list[k] = cfg_calloc(c, n, sizeof(struct oci_hook))))
			continue;
		size_t mk = cfg_push_key(c, hook_keys[k]);
		for (size_t i = 0; i < n && !c->rc; i++) {
			size_t mi = cfg_push_index(c, i);
			hooks->n[k]++; /* counted before parsing: freed if half done */
			parse_hook(c, json_array_get(a, i), &hooks->list[k][i]);
			cfg_pop(c, mi);
		}
		cfg_pop(c, mk);
	}
	cfg_pop(c, m);
	return c->rc;
}

static int parse_mounts(struct cfg *c, json_t *top, struct oci_config *cfg)
{
	size_t n;
	json_t *a = cfg_arr(c, top, "mounts", &n);
	if (!a || !(cfg->mounts = cfg_calloc(c, n, sizeof(*cfg->mounts))))
		return c->rc;
	size_t m = cfg_push_key(c, "mounts");
	for (size_t i = 0; i < n && !c->rc; i++) {
		size_t mi = cfg_push_index(c, i);
		cfg->n_mounts++;
		cfg_parse_mount(c, json_array_get(a, i), &cfg->mounts[i]);
		cfg_pop(c, mi);
	}
	cfg_pop(c, m);
	return c->rc;
}

static int parse_process(struct cfg *c, json_t *top, struct oci_config *cfg)
{
	json_t *p = cfg_obj(c, top, "process");
	if (!p)
		return c->rc;
	cfg->process = cfg_calloc(c, 1, sizeof(*cfg->process));
	if (!cfg->process)
		return c->rc;
	size_t m = cfg_push_key(c, "process");
	cfg_parse_process(c, p, cfg->process);
	cfg_pop(c, m);
	return c->rc;
}

static int parse_top(struct cfg *c, json_t *top, struct oci_config *cfg)
{
	if (!cfg_req_str(c, top, "ociVersion", &cfg->oci_version) && !cfg->oci_version[0])
		cfg_fail_key(c, "ociVersion", EINVAL, "must not be empty");
	parse_root(c, top, cfg);
	parse_process(c, top, cfg);
	cfg_str(c, top, "hostname", &cfg->hostname);
	cfg_str(c, top, "domainname", &cfg->domainname);
	parse_mounts(c, top, cfg);
	parse_hooks(c, top, &cfg->hooks);
	cfg_strmap(c, top, "annotations", &cfg->annotations);
	json_t *lx = cfg_obj(c, top, "linux");
	if (lx) {
		size_t m = cfg_push_key(c, "linux");
		cfg->has_linux = true;
		cfg_parse_linux(c, lx, &cfg->linux_spec);
		cfg_pop(c, m);
	}
	return c->rc;
}

int oci_config_parse(const char *json, size_t len, const char *bundle_dir, struct oci_config **out,
		     struct kv_err *err)
{
	struct cfg c;
	cfg_init(&c, "config.json", err);
	*out = NULL;
	json_t *top = cfg_load_text(&c, json, len);
	if (!top)
		return c.rc;
	struct oci_config *cfg = calloc(1, sizeof(*cfg));
	if (!cfg) {
		json_decref(top);
		return cfg_oom(&c);
	}
	errno = 0;
	cfg->bundle = abs_join(bundle_dir, NULL);
	if (!cfg->bundle)
		c.rc = kv_err_sys(err, errno ? errno : ENOMEM, "bundle %s: cannot make it absolute",
				  bundle_dir ? bundle_dir : ".");
	else
		parse_top(&c, top, cfg);
	json_decref(top);
	if (c.rc) {
		oci_config_free(cfg);
		return c.rc;
	}
	*out = cfg;
	return 0;
}

int oci_config_load(const char *bundle_dir, struct oci_config **out, struct kv_err *err)
{
	cleanup_free char *path = NULL;
	cleanup_free uint8_t *buf = NULL;
	size_t len;
	*out = NULL;
	if (asprintf(&path, "%s/config.json", bundle_dir && *bundle_dir ? bundle_dir : ".") < 0)
		return kv_err_set(err, ENOMEM, "out of memory");
	int r = read_file_bounded(path, OCI_CONFIG_MAX_SIZE, &buf, &len, err);
	if (r < 0)
		return r;
	return oci_config_parse((const char *)buf, len, bundle_dir, out, err);
}

const struct oci_namespace *oci_config_namespace(const struct oci_config *cfg,
						 enum oci_ns_type type)
{
	for (size_t i = 0; i < cfg->linux_spec.n_namespaces; i++)
		if (cfg->linux_spec.namespaces[i].type == type)
			return &cfg->linux_spec.namespaces[i];
	return NULL;
}

void oci_config_free(struct oci_config *cfg)
{
	if (!cfg)
		return;
	free(cfg->oci_version);
	free(cfg->bundle);
	free(cfg->root.path);
	free(cfg->root.spec_path);
	oci_process_free(cfg->process);
	free(cfg->hostname);
	free(cfg->domainname);
	for (size_t i = 0; i < cfg->n_mounts; i++)
		cfg_free_mount(&cfg->mounts[i]);
	free(cfg->mounts);
	for (int k = 0; k < OCI_HOOK_NKINDS; k++) {
		for (size_t i = 0; i < cfg->hooks.n[k]; i++) {
			free(cfg->hooks.list[k][i].path);
			oci_strv_free(&cfg->hooks.list[k][i].args);
			oci_strv_free(&cfg->hooks.list[k][i].env);
		}
		free(cfg->hooks.list[k]);
	}
	oci_strmap_free(&cfg->annotations);
	cfg_free_linux(&cfg->linux_spec);
	free(cfg);
}
