/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the config.json parser (oci/config*.c): arbitrary
 * bytes into oci_config_parse, oci_process_parse and oci_resources_parse.
 * Any outcome but a crash, a leak or a sanitizer report is fine, with two
 * checks: a failure leaves *out NULL with a one-line message naming
 * config.json, and a success yields a config whose invariants hold
 * (absolute paths where the header promises them, NULL-terminated lists,
 * argv non-empty).
 *
 * Seed corpus: tests/fuzz/corpus/config/ (the three client configs, the
 * default spec, and small variants with u64 values, hooks and
 * seccomp args).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oci/config.h"

static void check_strv(const struct oci_strv *s)
{
	if (s->v && s->v[s->n] != NULL)
		__builtin_trap();
}

static void check_config(const struct oci_config *cfg)
{
	if (cfg->root.path[0] != '/' || cfg->bundle[0] != '/')
		__builtin_trap();
	if (cfg->process) {
		if (cfg->process->args.n == 0 || cfg->process->cwd[0] != '/')
			__builtin_trap();
		check_strv(&cfg->process->args);
		check_strv(&cfg->process->env);
	}
	for (size_t i = 0; i < cfg->n_mounts; i++) {
		if (cfg->mounts[i].destination[0] != '/')
			__builtin_trap();
		check_strv(&cfg->mounts[i].options);
	}
	for (int k = 0; k < OCI_HOOK_NKINDS; k++)
		for (size_t i = 0; i < cfg->hooks.n[k]; i++)
			if (cfg->hooks.list[k][i].path[0] != '/')
				__builtin_trap();
	for (size_t i = 0; i < cfg->linux_spec.n_namespaces; i++)
		if (!oci_ns_type_name(cfg->linux_spec.namespaces[i].type))
			__builtin_trap();
}

static void check_err(int r, const void *out, const struct kv_err *err, const char *name)
{
	if (r >= 0)
		return;
	if (out || strchr(err->msg, '\n') || strncmp(err->msg, name, strlen(name)))
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kv_err err = {0};
	struct oci_config *cfg = NULL;
	int r = oci_config_parse((const char *)data, size, "/bundle", &cfg, &err);
	check_err(r, cfg, &err, "config.json: ");
	if (r == 0) {
		check_config(cfg);
		oci_config_free(cfg);
	}

	/* the standalone parsers share every getter with the full one; on
	 * big inputs they would only triple the time per run */
	if (size > 4096)
		return 0;
	struct oci_process *p = NULL;
	r = oci_process_parse((const char *)data, size, NULL, &p, &err);
	check_err(r, p, &err, "process.json: ");
	oci_process_free(p);

	struct oci_resources *res = NULL;
	r = oci_resources_parse((const char *)data, size, NULL, &res, &err);
	check_err(r, res, &err, "resources: ");
	oci_resources_free(res);
	return 0;
}
