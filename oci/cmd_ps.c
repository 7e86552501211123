/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `kvbox ps [--format table|json] ID` and `kvbox events [--stats]
 * [--interval D] ID`.
 *
 * ps: the container's processes live in the guest, so their pids are not
 * host pids.  `--format json` (what docker top and containerd use) prints
 * the host pids that stand for the container: the sandbox process.  The
 * table lists the guest's view with explicit column names (GUEST-PID,
 * GUEST-PPID, UID, CMD).
 *
 * events: runc's stats events, from the agent's STATS (guest cgroup of
 * the container: CPU, memory, pids) plus the VMM's own host memory and
 * the host cgroup's usage (oci/cgroup.h).
 * --stats prints one and exits; otherwise one every --interval (default
 * 5s) until the container stops.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "oci/cgroup.h"
#include "oci/lifecycle.h"

static const unsigned live =
    (1u << OCI_STATUS_CREATED) | (1u << OCI_STATUS_RUNNING) | (1u << OCI_STATUS_PAUSED);

int oci_cmd_ps(struct oci_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"format", required_argument, NULL, 'f'}, {"help", no_argument, NULL, 'h'}, {0}};
	const char *format = "table";
	int ch;
	while ((ch = getopt_long(argc, argv, "+f:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			format = optarg;
			break;
		case 'h':
			printf("usage: kvbox ps [--format table|json] ID [PS-ARGS...]\n");
			return 0;
		default:
			return oci_cli_bad_option(cli, argv, optind, optopt);
		}
	}
	if (strcmp(format, "table") && strcmp(format, "json"))
		return oci_cli_fail(cli, 1, "--format %s: expected table or json", format);
	if (argc - optind < 1)
		return oci_cli_nargs(cli, argc, optind, 1, 1, "the container id");
	struct oci_statedir root = {.fd = -1};
	struct oci_container *c = NULL;
	struct kv_err err = {0};
	json_t *reply = NULL;
	int r = oci_container_open(cli, argv[optind], false, &root, &c, &err);
	if (r == 0)
		r = oci_container_require(c, live, &err);
	if (r == 0 && !strcmp(format, "json")) {
		printf("[%d]\n", (int)c->st.sandbox.pid);
	} else if (r == 0) {
		json_t *req = json_pack("{s:s}", "op", "ps");
		r = oci_container_call(c, req, OCI_CTL_TIMEOUT_MS, &reply, &err);
		json_decref(req);
	}
	if (r == 0 && reply) {
		printf("%-10s %-10s %-6s %s\n", "GUEST-PID", "GUEST-PPID", "UID", "CMD");
		size_t i;
		json_t *p;
		json_array_foreach(json_object_get(reply, "processes"), i, p)
		{
			printf("%-10lld %-10lld %-6lld %s\n",
			       (long long)json_integer_value(json_object_get(p, "pid")),
			       (long long)json_integer_value(json_object_get(p, "ppid")),
			       (long long)json_integer_value(json_object_get(p, "uid")),
			       json_string_value(json_object_get(p, "cmd")));
		}
	}
	json_decref(reply);
	oci_container_free(c);
	oci_statedir_close(&root);
	return r < 0 ? oci_cli_fail_err(cli, &err) : 0;
}

/* runc's "stats" event from the sandbox's answer. */
static json_t *stats_event(const char *id, const json_t *s)
{
#define U(k) json_integer_value(json_object_get(s, k))
	const json_t *host = json_object_get(s, "host");
	return json_pack(
	    "{s:s, s:s, s:{s:{s:{s:I, s:I, s:I}}, s:{s:{s:I, s:I}, s:{s:I}}, s:{s:I}, "
	    "s:{s:I, s:I, s:i}}}",
	    "type", "stats", "id", id, "data", "cpu", "usage", "total", U("cpu_usage_ns"), "user",
	    U("cpu_user_ns"), "kernel", U("cpu_system_ns"), "memory", "usage", "usage",
	    U("mem_usage"), "limit", U("mem_total"), "stats", "available", U("mem_available"),
	    "pids", "current", U("pids"), "kvbox", "vmm_rss_bytes",
	    json_integer_value(json_object_get(host, "vmm_rss_bytes")), "guest_ram_bytes",
	    json_integer_value(json_object_get(host, "guest_ram_bytes")), "vcpus",
	    (int)json_integer_value(json_object_get(host, "vcpus")));
#undef U
}

/* The host cgroup's numbers (oci/cgroup.h), NULL without one; -1 is a
 * value the hierarchies do not offer (or no limit). */
static json_t *host_cgroup_stats(const struct oci_container *c)
{
	struct oci_cgroup cg;
	if (oci_cg_load(c->dirfd, &cg, NULL) < 0)
		return NULL;
	struct oci_cg_stats st;
	oci_cg_stats(&cg, &st);
	oci_cg_fini(&cg);
	return json_pack("{s:I, s:I, s:I, s:I, s:I}", "memory_bytes", (json_int_t)st.mem_bytes,
			 "memory_limit_bytes", (json_int_t)st.mem_limit, "pids",
			 (json_int_t)st.pids, "pids_limit", (json_int_t)st.pids_limit,
			 "cpu_usage_ns", (json_int_t)st.cpu_ns);
}

/* "5s", "500ms", "1m", or plain seconds. */
static int parse_interval(const char *s, long *ms)
{
	char *end;
	double v = strtod(s, &end);
	if (end == s || v <= 0)
		return -EINVAL;
	if (!*end || !strcmp(end, "s"))
		*ms = (long)(v * 1000);
	else if (!strcmp(end, "ms"))
		*ms = (long)v;
	else if (!strcmp(end, "m"))
		*ms = (long)(v * 60000);
	else
		return -EINVAL;
	return *ms > 0 ? 0 : -EINVAL;
}

int oci_cmd_events(struct oci_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {{"stats", no_argument, NULL, 's'},
					     {"interval", required_argument, NULL, 'i'},
					     {"help", no_argument, NULL, 'h'},
					     {0}};
	bool once = false;
	long interval_ms = 5000;
	int ch;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 's':
			once = true;
			break;
		case 'i':
			if (parse_interval(optarg, &interval_ms) < 0)
				return oci_cli_fail(cli, 1,
						    "--interval %s: expected a duration "
						    "such as 5s or 500ms",
						    optarg);
			break;
		case 'h':
			printf("usage: kvbox events [--stats] [--interval 5s] ID\n");
			return 0;
		default:
			return oci_cli_bad_option(cli, argv, optind, optopt);
		}
	}
	if (oci_cli_nargs(cli, argc, optind, 1, 1, "the container id"))
		return 1;
	const char *id = argv[optind];
	for (bool first = true;; first = false) {
		struct oci_statedir root = {.fd = -1};
		struct oci_container *c = NULL;
		struct kv_err err = {0};
		json_t *reply = NULL;
		int r = oci_container_open(cli, id, false, &root, &c, &err);
		if (r == 0)
			r = oci_container_require(c, live, &err);
		if (r == 0) {
			json_t *req = json_pack("{s:s}", "op", "stats");
			r = oci_container_call(c, req, OCI_CTL_TIMEOUT_MS, &reply, &err);
			json_decref(req);
		}
		json_t *hostcg = r == 0 ? host_cgroup_stats(c) : NULL;
		oci_container_free(c);
		oci_statedir_close(&root);
		if (r < 0) {
			json_decref(reply);
			json_decref(hostcg);
			/* the stream ends quietly when the container does */
			return first || once ? oci_cli_fail_err(cli, &err) : 0;
		}
		json_t *ev = stats_event(id, json_object_get(reply, "stats"));
		json_decref(reply);
		json_t *kv = json_object_get(json_object_get(ev, "data"), "kvbox");
		if (kv && hostcg)
			json_object_set_new(kv, "host_cgroup", hostcg);
		else
			json_decref(hostcg);
		char *line = ev ? json_dumps(ev, JSON_COMPACT) : NULL;
		json_decref(ev);
		if (line)
			printf("%s\n", line);
		free(line);
		fflush(stdout);
		if (once)
			return 0;
		struct timespec ts = {.tv_sec = interval_ms / 1000,
				      .tv_nsec = (interval_ms % 1000) * 1000000L};
		nanosleep(&ts, NULL);
	}
}
