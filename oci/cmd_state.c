/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `kvbox state ID` and `kvbox list`: read-only views of the state
 * directory.  Neither takes a container lock (state.json is replaced
 * atomically); both refresh liveness in memory, so a container whose
 * sandbox died reads "stopped" with pid 0, as in runc.
 *
 *   kvbox state ID                         OCI state JSON, indented
 *   kvbox list [-q] [--format table|json]  runc's table, ids, or a JSON array
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "oci/cli.h"
#include "util/cleanup.h"

/* Loads ID from --root without locking and refreshes its status. */
static int load_view(struct oci_cli *cli, struct oci_statedir *root, const char *id,
		     struct oci_container **out, struct kv_err *err)
{
	int r = oci_cli_open_root(cli, root, false, err);
	if (r == -ENOENT) {
		int v = oci_id_validate(id, err);
		return v < 0 ? v : kv_err_set(err, ENOENT, "container \"%s\" does not exist", id);
	}
	if (r < 0)
		return r;
	r = oci_state_load(root, id, 0, out, err);
	if (r == 0)
		oci_state_refresh(*out);
	return r;
}

static int print_json(json_t *j, size_t flags)
{
	if (!j)
		return -ENOMEM;
	int r = json_dumpf(j, stdout, flags | JSON_PRESERVE_ORDER);
	fputc('\n', stdout);
	json_decref(j);
	return r < 0 ? -EIO : 0;
}

int oci_cmd_state(struct oci_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {0}};
	struct oci_statedir root = {.fd = -1};
	struct oci_container *c = NULL;
	struct kv_err err = {0};
	int ch;

	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (ch != 'h')
			return oci_cli_bad_option(cli, argv, optind, optopt);
		printf("usage: kvbox state ID\nPrints the container's OCI state JSON.\n");
		return 0;
	}
	if (oci_cli_nargs(cli, argc, optind, 1, 1, "the container id"))
		return 1;
	int r = load_view(cli, &root, argv[optind], &c, &err);
	if (r == 0 && print_json(oci_state_json(&c->st), JSON_INDENT(2)) < 0)
		r = kv_err_set(&err, EIO, "cannot write the state to stdout");
	oci_container_free(c);
	oci_statedir_close(&root);
	return r < 0 ? oci_cli_fail_err(cli, &err) : 0;
}

/* ---- list ---- */

struct row {
	json_t *j; /* oci_state_json() of the container */
	char pid[16];
};

/* Display width as Go's tabwriter counts it: runes, not bytes. */
static size_t width(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

static const char *field(const struct row *r, int col)
{
	static const char *const keys[] = {"id", NULL, "status", "bundle", "created", "owner"};
	if (col == 1)
		return r->pid;
	const char *s = json_string_value(json_object_get(r->j, keys[col]));
	return s ? s : "";
}

/* runc's tabwriter.NewWriter(os.Stdout, 12, 1, 3, ' ', 0): every column
 * but the last is max(12, widest + 3) wide. */
static void print_table(const struct row *rows, size_t n)
{
	static const char *const head[] = {"ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"};
	size_t w[5];

	for (int col = 0; col < 5; col++) {
		w[col] = width(head[col]);
		for (size_t i = 0; i < n; i++)
			if (width(field(&rows[i], col)) > w[col])
				w[col] = width(field(&rows[i], col));
		w[col] = w[col] + 3 < 12 ? 12 : w[col] + 3;
	}
	for (size_t i = 0; i <= n; i++) {
		for (int col = 0; col < 6; col++) {
			const char *s = i == 0 ? head[col] : field(&rows[i - 1], col);
			fputs(s, stdout);
			if (col < 5)
				printf("%*s", (int)(w[col] - width(s)), "");
		}
		fputc('\n', stdout);
	}
}

enum list_format { LIST_TABLE, LIST_JSON };

static int list_parse(struct oci_cli *cli, int argc, char **argv, bool *quiet,
		      enum list_format *fmt)
{
	static const struct option opts[] = {{"quiet", no_argument, NULL, 'q'},
					     {"format", required_argument, NULL, 'f'},
					     {"help", no_argument, NULL, 'h'},
					     {0}};
	int ch;

	while ((ch = getopt_long(argc, argv, "qf:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'q':
			*quiet = true;
			break;
		case 'f':
			if (!strcmp(optarg, "json"))
				*fmt = LIST_JSON;
			else if (!strcmp(optarg, "table"))
				*fmt = LIST_TABLE;
			else
				return oci_cli_fail(cli, 1, "invalid format option \"%s\"", optarg);
			break;
		case 'h':
			printf("usage: kvbox list [-q|--quiet] [-f|--format table|json]\n");
			return 0;
		default:
			return oci_cli_bad_option(cli, argv, optind, optopt);
		}
	}
	if (oci_cli_nargs(cli, argc, optind, 0, 0, "none"))
		return 1;
	return -1;
}

/* One row per loadable container; one that vanished meanwhile is skipped,
 * one that cannot be read is a warning (runc does the same). */
static size_t load_rows(struct oci_cli *cli, struct oci_statedir *root, char **ids, size_t n,
			struct row *rows)
{
	size_t got = 0;
	for (size_t i = 0; i < n; i++) {
		struct oci_container *c = NULL;
		struct kv_err err = {0};
		int r = oci_state_load(root, ids[i], 0, &c, &err);
		if (r == -ENOENT)
			continue;
		if (r < 0) {
			oci_cli_warn(cli, "%s", err.msg);
			continue;
		}
		oci_state_refresh(c);
		rows[got].j = oci_state_json(&c->st);
		oci_container_free(c);
		if (!rows[got].j)
			continue;
		snprintf(rows[got].pid, sizeof(rows[got].pid), "%lld",
			 json_integer_value(json_object_get(rows[got].j, "pid")));
		got++;
	}
	return got;
}

static int list_print(const struct row *rows, size_t n, bool quiet, enum list_format fmt)
{
	if (quiet) {
		for (size_t i = 0; i < n; i++)
			printf("%s\n", field(&rows[i], 0));
		return 0;
	}
	if (fmt == LIST_TABLE) {
		print_table(rows, n);
		return 0;
	}
	/* runc prints null for no containers; an empty array is what a
	 * reader of a list expects */
	json_t *a = json_array();
	for (size_t i = 0; a && i < n; i++)
		json_array_append(a, rows[i].j);
	return print_json(a, JSON_COMPACT);
}

int oci_cmd_list(struct oci_cli *cli, int argc, char **argv)
{
	struct oci_statedir root = {.fd = -1};
	struct kv_err err = {0};
	bool quiet = false;
	enum list_format fmt = LIST_TABLE;
	char **ids = NULL;
	size_t n = 0;

	int r = list_parse(cli, argc, argv, &quiet, &fmt);
	if (r >= 0)
		return r;
	r = oci_cli_open_root(cli, &root, false, &err);
	if (r == 0)
		r = oci_state_list(&root, &ids, &n, &err);
	else if (r == -ENOENT)
		r = 0; /* no root yet: no containers */
	if (r < 0)
		return oci_cli_fail_err(cli, &err);
	cleanup_free struct row *rows = calloc(n ? n : 1, sizeof(*rows));
	if (!rows) {
		oci_ids_free(ids, n);
		oci_statedir_close(&root);
		return oci_cli_fail(cli, 1, "out of memory");
	}
	size_t got = load_rows(cli, &root, ids, n, rows);
	oci_ids_free(ids, n);
	oci_statedir_close(&root);
	r = list_print(rows, got, quiet, fmt);
	for (size_t i = 0; i < got; i++)
		json_decref(rows[i].j);
	return r < 0 ? oci_cli_fail(cli, 1, "cannot write the list to stdout") : 0;
}
