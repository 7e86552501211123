/* SPDX-License-Identifier: Apache-2.0 */
/*
 * state.json in and out, and the OCI state JSON that `kvbox state` prints.
 * state.json is kvbox's own file but keeps the OCI names where there is
 * one, with kvbox's additions under "kvbox":
 *
 *   {"ociVersion": "1.0.2-dev", "id": "c1", "status": "running",
 *    "pid": 4242, "pidStartTime": 881234, "bundle": "/b", "rootfs": "/b/rootfs",
 *    "annotations": {}, "created": "2024-01-02T03:04:05.123456789Z",
 *    "owner": "root",
 *    "kvbox": {"creatorPid": 0, "creatorStartTime": 0, "goferPid": 4243,
 *              "goferStartTime": 881240, "controlSocket": "/run/kvbox/c1/sandbox.sock"}}
 *
 * The parser checks every field's type and range and names the field in
 * its error; unknown fields are ignored, so a newer kvbox can add some.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "oci/state_json.h"

/* A value from the file, quoted in an error: at most n-1 bytes, anything
 * outside printable ASCII as '?', so the error stays one line. */
static const char *printable(const char *v, char *buf, size_t n)
{
	size_t i = 0;
	for (; v && v[i] && i + 1 < n; i++)
		buf[i] = (v[i] >= 0x20 && v[i] < 0x7f) ? v[i] : '?';
	buf[i] = '\0';
	return buf;
}

static int bad(struct kv_err *err, const char *path, const char *what)
{
	return kv_err_set(err, EINVAL, "%s: %s", path, what);
}

/* obj[key] as a malloc'd string; a missing key is an error unless optional
 * (then *out stays NULL); null counts as missing. */
static int get_str(json_t *obj, const char *key, const char *path, bool optional, char **out,
		   struct kv_err *err)
{
	json_t *v = json_object_get(obj, key);
	if (!v || json_is_null(v)) {
		if (optional)
			return 0;
		return bad(err, path, "missing");
	}
	if (!json_is_string(v))
		return bad(err, path, "expected a string");
	if (strlen(json_string_value(v)) != json_string_length(v))
		return bad(err, path, "contains a NUL byte");
	*out = strdup(json_string_value(v));
	return *out ? 0 : kv_err_set(err, ENOMEM, "out of memory");
}

static int get_int(json_t *obj, const char *key, const char *path, long long max, long long *out,
		   struct kv_err *err)
{
	json_t *v = json_object_get(obj, key);
	if (!v) {
		*out = 0;
		return 0;
	}
	if (!json_is_integer(v))
		return bad(err, path, "expected an integer");
	long long x = json_integer_value(v);
	if (x < 0 || x > max)
		return bad(err, path, "out of range");
	*out = x;
	return 0;
}

static int get_proc(json_t *obj, const char *pid_key, const char *start_key, const char *prefix,
		    struct oci_proc *p, struct kv_err *err)
{
	char path[64];
	long long pid, start;

	snprintf(path, sizeof(path), "%s%s", prefix, pid_key);
	int r = get_int(obj, pid_key, path, INT_MAX, &pid, err);
	if (r < 0)
		return r;
	snprintf(path, sizeof(path), "%s%s", prefix, start_key);
	r = get_int(obj, start_key, path, LLONG_MAX, &start, err);
	if (r < 0)
		return r;
	p->pid = (pid_t)pid;
	p->start_time = (unsigned long long)start;
	return 0;
}

static int get_annotations(json_t *root, struct oci_state *st, struct kv_err *err)
{
	json_t *a = json_object_get(root, "annotations");
	const char *k;
	json_t *v;

	if (!a || json_is_null(a)) {
		st->annotations = json_object();
		return st->annotations ? 0 : kv_err_set(err, ENOMEM, "out of memory");
	}
	if (!json_is_object(a))
		return bad(err, "annotations", "expected an object");
	json_object_foreach(a, k, v)
	{
		if (!json_is_string(v)) {
			char q[65];
			return kv_err_set(err, EINVAL, "annotations.%s: expected a string",
					  printable(k, q, sizeof(q)));
		}
	}
	st->annotations = json_incref(a);
	return 0;
}

static int get_kvbox(json_t *root, struct oci_state *st, struct kv_err *err)
{
	json_t *k = json_object_get(root, "kvbox");
	if (!k)
		return 0;
	if (!json_is_object(k))
		return bad(err, "kvbox", "expected an object");
	int r = get_proc(k, "creatorPid", "creatorStartTime", "kvbox.", &st->creator, err);
	if (r == 0)
		r = get_proc(k, "goferPid", "goferStartTime", "kvbox.", &st->gofer, err);
	if (r == 0)
		r = get_str(k, "controlSocket", "kvbox.controlSocket", true, &st->control_socket,
			    err);
	return r;
}

static int get_fields(json_t *root, struct oci_state *st, struct kv_err *err)
{
	char *status = NULL;
	int r = get_str(root, "ociVersion", "ociVersion", false, &st->oci_version, err);
	if (r == 0)
		r = get_str(root, "id", "id", false, &st->id, err);
	if (r == 0)
		r = get_str(root, "status", "status", false, &status, err);
	if (r == 0 && oci_status_parse(status, &st->status) < 0) {
		char q[33];
		r = kv_err_set(err, EINVAL, "status: \"%s\" is not a container status",
			       printable(status, q, sizeof(q)));
	}
	free(status);
	if (r == 0)
		r = get_proc(root, "pid", "pidStartTime", "", &st->sandbox, err);
	if (r == 0)
		r = get_str(root, "bundle", "bundle", false, &st->bundle, err);
	if (r == 0 && st->bundle[0] != '/')
		r = bad(err, "bundle", "not an absolute path");
	if (r == 0)
		r = get_str(root, "rootfs", "rootfs", true, &st->rootfs, err);
	return r;
}

int oci_state_parse(const char *buf, size_t len, struct oci_state *st, struct kv_err *err)
{
	json_error_t je;
	char *created = NULL;
	char jt[sizeof(je.text)];
	json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	if (!root)
		return kv_err_set(err, EINVAL, "not valid JSON: %s (line %d, column %d)",
				  printable(je.text, jt, sizeof(jt)), je.line, je.column);
	int r = json_is_object(root) ? 0 : bad(err, "(top)", "expected an object");
	if (r == 0)
		r = get_fields(root, st, err);
	if (r == 0)
		r = get_annotations(root, st, err);
	if (r == 0)
		r = get_str(root, "created", "created", false, &created, err);
	if (r == 0 && strlen(created) >= sizeof(st->created))
		r = bad(err, "created", "too long");
	if (r == 0)
		strcpy(st->created, created);
	free(created);
	if (r == 0)
		r = get_str(root, "owner", "owner", true, &st->owner, err);
	if (r == 0)
		r = get_kvbox(root, st, err);
	json_decref(root);
	return r;
}

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

char *oci_state_format(const struct oci_state *st)
{
	json_t *k = json_pack(
	    "{s:i, s:I, s:i, s:I, s:o}", "creatorPid", (int)st->creator.pid, "creatorStartTime",
	    (json_int_t)st->creator.start_time, "goferPid", (int)st->gofer.pid, "goferStartTime",
	    (json_int_t)st->gofer.start_time, "controlSocket", str_or_null(st->control_socket));
	if (!k)
		return NULL;
	json_t *root =
	    json_pack("{s:s, s:s, s:s, s:i, s:I, s:s, s:o, s:o, s:s, s:s, s:o}", "ociVersion",
		      st->oci_version ? st->oci_version : OCI_STATE_SPEC, "id", st->id, "status",
		      oci_status_name(st->status), "pid", (int)st->sandbox.pid, "pidStartTime",
		      (json_int_t)st->sandbox.start_time, "bundle", st->bundle, "rootfs",
		      str_or_null(st->rootfs), "annotations",
		      st->annotations ? json_incref(st->annotations) : json_object(), "created",
		      st->created, "owner", st->owner ? st->owner : "", "kvbox", k);
	if (!root)
		return NULL;
	char *text = json_dumps(root, JSON_PRESERVE_ORDER | JSON_INDENT(2));
	json_decref(root);
	return text;
}

json_t *oci_state_json(const struct oci_state *st)
{
	bool has_pid = st->status == OCI_STATUS_CREATED || st->status == OCI_STATUS_RUNNING ||
		       st->status == OCI_STATUS_PAUSED;
	json_t *o = json_pack("{s:s, s:s, s:i, s:s, s:s, s:s}", "ociVersion",
			      st->oci_version ? st->oci_version : OCI_STATE_SPEC, "id", st->id,
			      "pid", has_pid ? (int)st->sandbox.pid : 0, "status",
			      oci_status_name(st->status), "bundle", st->bundle ? st->bundle : "",
			      "rootfs", st->rootfs ? st->rootfs : "");
	if (!o)
		return NULL;
	if (json_object_set_new(o, "created", json_string(st->created)) < 0 ||
	    (st->annotations && json_object_size(st->annotations) &&
	     json_object_set(o, "annotations", st->annotations) < 0) ||
	    json_object_set_new(o, "owner", json_string(st->owner ? st->owner : "")) < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}
