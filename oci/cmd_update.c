/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `kvbox update [--resources FILE|-] [--cpu-quota N ...] ID`: changes a
 * running container's resources.  The request is classified by
 * oci/update.h: CPU (quota, period, shares, cpus) and pids change live in
 * the container's cgroup inside the guest (the agent's UPDATE), and the
 * CPU ones also in the sandbox's host cgroup (oci/cgroup.h); a new
 * memory limit is refused (the VM's RAM is fixed at boot); what a VM
 * cannot apply and the client merely sent back is warned about.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guest/protocol.h"
#include "oci/cgroup.h"
#include "oci/lifecycle.h"
#include "oci/update.h"

#define MAX_FLAGS 32

/* The memory limit the VM was sized from (config.json), 0 if none. */
static int64_t config_mem_limit(const struct oci_container *c)
{
	struct oci_config *cfg = NULL;
	int64_t limit = 0;
	if (oci_config_load(c->st.bundle, &cfg, NULL) == 0 && cfg->linux_spec.resources &&
	    cfg->linux_spec.resources->memory.limit.set)
		limit = cfg->linux_spec.resources->memory.limit.v;
	oci_config_free(cfg);
	return limit;
}

/* runc's cgroup v1 shares -> v2 weight conversion. */
static uint64_t shares_to_weight(uint64_t shares)
{
	if (shares < 2)
		shares = 2;
	if (shares > 262144)
		shares = 262144;
	return 1 + ((shares - 2) * 9999) / 262142;
}

static json_t *update_request(const struct oci_update *u)
{
	json_t *req = json_pack("{s:s}", "op", "update");
	if (u->cpu_quota.set)
		json_object_set_new(req, "cpu_quota",
				    json_integer(u->cpu_quota.v < 0 ? -1 : u->cpu_quota.v));
	if (u->cpu_period.set)
		json_object_set_new(req, "cpu_period", json_integer((json_int_t)u->cpu_period.v));
	if (u->cpu_shares.set)
		json_object_set_new(req, "cpu_weight",
				    json_integer((json_int_t)shares_to_weight(u->cpu_shares.v)));
	if (u->pids_limit.set)
		json_object_set_new(req, "pids_max",
				    json_integer(u->pids_limit.v < 0 ? -1 : u->pids_limit.v));
	if (u->cpu_cpus)
		json_object_set_new(req, "cpuset_cpus", json_string(u->cpu_cpus));
	return req;
}

/* The host cgroup's CPU limits follow the container's (oci/cgroup.h); its
 * pids.max is fixed by the sandbox's threads and stays. */
static int update_host_cgroup(struct oci_container *c, const struct oci_update *u,
			      struct kv_err *err)
{
	struct oci_cgroup cg;
	int r = oci_cg_load(c->dirfd, &cg, err);
	if (r == -ENOENT)
		return 0; /* created by a kvbox without host cgroups */
	if (r < 0)
		return kv_err_wrap(err, r, "container \"%s\"", c->st.id);
	struct oci_cg_limits l = {0};
	if (u->cpu_quota.set && u->cpu_quota.v != 0)
		l.cpu_quota = u->cpu_quota.v < 0 ? -1 : u->cpu_quota.v;
	if (u->cpu_period.set)
		l.cpu_period = u->cpu_period.v;
	if (u->cpu_shares.set)
		l.cpu_shares = u->cpu_shares.v;
	l.cpus = u->cpu_cpus;
	r = oci_cg_set(&cg, &l, err);
	oci_cg_fini(&cg);
	if (r < 0)
		return kv_err_wrap(
		    err, r, "container \"%s\": host cgroup (the guest's was updated)", c->st.id);
	return 0;
}

int oci_cmd_update(struct oci_cli *cli, int argc, char **argv)
{
	const char *resources = NULL, *id = NULL;
	struct oci_update_flag flags[MAX_FLAGS];
	size_t nflags = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			printf("usage: kvbox update [--resources FILE|-] [--cpu-quota N] "
			       "[--cpu-period N]\n"
			       "                    [--cpu-share N] [--cpuset-cpus LIST] "
			       "[--pids-limit N] [--memory SIZE] ID\n");
			return 0;
		}
		if (a[0] != '-' || !a[1]) {
			if (id)
				return oci_cli_fail(cli, 1, "update: unexpected argument \"%s\"",
						    a);
			id = a;
			continue;
		}
		const char *name = a + (a[1] == '-' ? 2 : 1);
		char buf[64];
		const char *eq = strchr(name, '=');
		const char *value = NULL;
		if (eq) {
			snprintf(buf, sizeof(buf), "%.*s", (int)(eq - name), name);
			name = buf;
			value = eq + 1;
		} else if (i + 1 < argc) {
			value = argv[++i];
		}
		if (!value)
			return oci_cli_fail(cli, 1, "%s: a value is required", a);
		if (!strcmp(name, "resources") || !strcmp(name, "r")) {
			resources = value;
		} else if (oci_update_is_flag(name) && nflags < MAX_FLAGS) {
			flags[nflags].name = strdup(name);
			flags[nflags++].value = value;
		} else {
			return oci_cli_fail(cli, 1, "update: unknown flag %s", a);
		}
	}
	if (!id)
		return oci_cli_fail(cli, 1,
				    "\"update\" requires exactly 1 argument(s): the "
				    "container id");
	struct oci_statedir root = {.fd = -1};
	struct oci_container *c = NULL;
	struct kv_err err = {0};
	struct oci_update u = {0};
	int r = oci_container_open(cli, id, false, &root, &c, &err);
	if (r == 0)
		r = oci_container_require(c,
					  (1u << OCI_STATUS_RUNNING) | (1u << OCI_STATUS_CREATED) |
					      (1u << OCI_STATUS_PAUSED),
					  &err);
	int64_t mem = r == 0 ? config_mem_limit(c) : 0;
	if (r == 0 && resources) {
		int fd = strcmp(resources, "-") ? open(resources, O_RDONLY | O_CLOEXEC) : 0;
		if (fd < 0)
			r = kv_err_sys(&err, errno, "--resources %s", resources);
		else
			r = oci_update_read(fd, "resources", mem, &u, &err);
		if (fd > 0)
			close(fd);
	} else if (r == 0) {
		r = oci_update_from_flags(flags, nflags, mem, &u, &err);
	}
	for (size_t i = 0; i < nflags; i++)
		free((char *)flags[i].name);
	if (r == 0) {
		for (size_t i = 0; i < u.n_ignored; i++)
			oci_cli_warn(cli, "%s: not applicable to a VM; ignored", u.ignored[i]);
		if (oci_update_changes(&u)) {
			json_t *req = update_request(&u), *reply = NULL;
			r = oci_container_call(c, req, OCI_CTL_TIMEOUT_MS, &reply, &err);
			json_decref(req);
			json_decref(reply);
			if (r == 0)
				r = update_host_cgroup(c, &u, &err);
		}
	}
	oci_update_fini(&u);
	oci_container_free(c);
	oci_statedir_close(&root);
	return r < 0 ? oci_cli_fail_err(cli, &err) : 0;
}
