/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The decoding cursor under the config.json parser (oci/config_internal.h):
 * text -> jansson object with limits, the JSON path of the value being
 * read, the sticky error, and typed getters.  The section parsers
 * (config.c, config_process.c, config_linux.c, config_resources.c,
 * config_seccomp.c) only call these, so every message has the same shape:
 * `config.json: <path>: <what is wrong>`, on one line.
 *
 * Why jansson: a JSON parser is not kvbox's business and a classic source
 * of bugs (docs/dependencies.md); jansson is small, C, in Debian, checks
 * UTF-8, bounds nesting, and reports line and column of syntax errors.
 * Its one gap for us, integers beyond int64 (the spec's u64 fields: rlimits
 * of RLIM_INFINITY, seccomp argument values, cpu shares), is bridged here:
 * such literals are rewritten into marked strings before parsing and only
 * cfg_val_u64 accepts them.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oci/config_internal.h"
#include "util/cleanup.h"

void cfg_init(struct cfg *c, const char *name, struct kv_err *err)
{
	memset(c, 0, sizeof(*c));
	c->name = name;
	c->err = err;
}

/* ---- errors and the path ------------------------------------------- */

static int cfg_vfail(struct cfg *c, int errnum, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
static int cfg_vfail(struct cfg *c, int errnum, const char *fmt, va_list ap)
{
	char msg[KV_ERR_MSG_MAX];
	if (c->rc)
		return c->rc;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (c->plen)
		c->rc = kv_err_set(c->err, errnum, "%s: %s: %s", c->name, c->path, msg);
	else
		c->rc = kv_err_set(c->err, errnum, "%s: %s", c->name, msg);
	return c->rc;
}

int cfg_fail(struct cfg *c, int errnum, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = cfg_vfail(c, errnum, fmt, ap);
	va_end(ap);
	return r;
}

int cfg_fail_key(struct cfg *c, const char *key, int errnum, const char *fmt, ...)
{
	va_list ap;
	size_t m = cfg_push_key(c, key);
	va_start(ap, fmt);
	int r = cfg_vfail(c, errnum, fmt, ap);
	va_end(ap);
	cfg_pop(c, m);
	return r;
}

int cfg_fail_elem(struct cfg *c, const char *key, size_t i, int errnum, const char *fmt, ...)
{
	va_list ap;
	size_t m = cfg_push_key(c, key);
	cfg_push_index(c, i);
	va_start(ap, fmt);
	int r = cfg_vfail(c, errnum, fmt, ap);
	va_end(ap);
	cfg_pop(c, m);
	return r;
}

int cfg_oom(struct cfg *c)
{
	return cfg_fail(c, ENOMEM, "out of memory");
}

const char *cfg_quote(char *buf, size_t size, const char *s)
{
	const size_t max_in = 64; /* input bytes shown before "..." */
	size_t o = 0, i;
	if (size < 8) {
		if (size)
			buf[0] = '\0';
		return buf;
	}
	buf[o++] = '"';
	for (i = 0; s[i] && o + 6 < size; i++) {
		unsigned char ch = (unsigned char)s[i];
		/* cut at a UTF-8 character boundary only */
		if (i >= max_in && (ch & 0xc0) != 0x80)
			break;
		if (ch == '"' || ch == '\\') {
			buf[o++] = '\\';
			buf[o++] = (char)ch;
		} else if (ch < 0x20 || ch == 0x7f) {
			o += (size_t)snprintf(buf + o, size - o, "\\x%02x", ch);
		} else {
			buf[o++] = (char)ch;
		}
	}
	if (s[i] && o + 5 <= size) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}

static void path_append(struct cfg *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void path_append(struct cfg *c, const char *fmt, ...)
{
	size_t room = sizeof(c->path) - c->plen;
	if (room <= 1)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(c->path + c->plen, room, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= room) {
		/* full: end the path with "..." so the cut shows */
		c->plen = sizeof(c->path) - 1;
		memcpy(c->path + c->plen - 3, "...", 3);
	} else {
		c->plen += (size_t)n;
	}
}

size_t cfg_push_key(struct cfg *c, const char *key)
{
	size_t mark = c->plen;
	path_append(c, "%s%s", c->plen ? "." : "", key);
	return mark;
}

size_t cfg_push_index(struct cfg *c, size_t i)
{
	size_t mark = c->plen;
	path_append(c, "[%zu]", i);
	return mark;
}

size_t cfg_push_mapkey(struct cfg *c, const char *key)
{
	char q[96];
	size_t mark = c->plen;
	path_append(c, "[%s]", cfg_quote(q, sizeof(q), key));
	return mark;
}

void cfg_pop(struct cfg *c, size_t mark)
{
	if (mark < sizeof(c->path)) {
		c->plen = mark;
		c->path[mark] = '\0';
	}
}

/* ---- text -> JSON -------------------------------------------------- */

struct scan {
	size_t n_big;	 /* integer literals beyond int64 */
	bool nul_escape; /* a "\u0000" inside a string */
	size_t deep_at;	 /* offset where nesting went too deep, or SIZE_MAX */
};

static bool beyond_i64(const char *s, size_t n)
{
	bool neg = s[0] == '-';
	const char *d = s + neg;
	size_t nd = n - neg;
	if (nd == 0 || (nd > 1 && d[0] == '0'))
		return false; /* not a JSON integer: jansson will say so */
	if (nd != 19)
		return nd > 19;
	return memcmp(d, neg ? "9223372036854775808" : "9223372036854775807", 19) > 0;
}

/* End of the number token at s[i]; *integral when it has no fraction or
 * exponent. */
static size_t number_end(const char *s, size_t i, size_t len, bool *integral)
{
	size_t j = i + (s[i] == '-');
	while (j < len && isdigit((unsigned char)s[j]))
		j++;
	*integral = true;
	while (j < len && s[j] && (isdigit((unsigned char)s[j]) || strchr(".eE+-", s[j]))) {
		*integral = false;
		j++;
	}
	return j;
}

/*
 * Walks the text outside strings for nesting depth and big integers.
 * With out != NULL, also copies it, each integer beyond int64 becoming the
 * string "\u0000<literal>" (len + 8 bytes per literal); returns the
 * length written.
 */
static size_t scan_text(const char *s, size_t len, char *out, struct scan *st)
{
	size_t i = 0, o = 0;
	int depth = 0;
	bool in_str = false;
	memset(st, 0, sizeof(*st));
	st->deep_at = SIZE_MAX;
	while (i < len) {
		char ch = s[i];
		size_t tok = 1;
		if (in_str) {
			if (ch == '\\' && i + 1 < len) {
				tok = 2;
				if (len - i >= 6 && !memcmp(s + i + 1, "u0000", 5))
					st->nul_escape = true;
			} else if (ch == '"') {
				in_str = false;
			}
		} else if (ch == '"') {
			in_str = true;
		} else if (ch == '{' || ch == '[') {
			if (++depth > OCI_CONFIG_MAX_DEPTH) {
				st->deep_at = i;
				return o;
			}
		} else if (ch == '}' || ch == ']') {
			depth--;
		} else if (ch == '-' || isdigit((unsigned char)ch)) {
			bool integral;
			tok = number_end(s, i, len, &integral) - i;
			if (integral && beyond_i64(s + i, tok)) {
				st->n_big++;
				if (out) {
					memcpy(out + o, "\"\\u0000", 7);
					memcpy(out + o + 7, s + i, tok);
					out[o + 7 + tok] = '"';
					o += 8 + tok;
				}
				i += tok;
				continue;
			}
		}
		if (out)
			memcpy(out + o, s + i, tok);
		o += tok;
		i += tok;
	}
	return o;
}

static void line_col(const char *s, size_t at, int *line, int *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < at; i++) {
		if (s[i] == '\n') {
			(*line)++;
			*col = 1;
		} else if (((unsigned char)s[i] & 0xc0) != 0x80) {
			(*col)++;
		}
	}
}

json_t *cfg_load_text(struct cfg *c, const char *json, size_t len)
{
	struct scan st;
	int line, col;
	if (len > OCI_CONFIG_MAX_SIZE) {
		cfg_fail(c, EFBIG, "%zu bytes is larger than the %u MiB limit", len,
			 OCI_CONFIG_MAX_SIZE >> 20);
		return NULL;
	}
	scan_text(json, len, NULL, &st);
	if (st.deep_at != SIZE_MAX) {
		line_col(json, st.deep_at, &line, &col);
		cfg_fail(c, EINVAL, "line %d column %d: nesting deeper than %d levels", line, col,
			 OCI_CONFIG_MAX_DEPTH);
		return NULL;
	}
	cleanup_free char *copy = NULL;
	const char *text = json;
	size_t flags = 0;
	if (st.n_big) {
		/* the marked strings need JSON_ALLOW_NUL; a "\u0000" of the
		 * file's own would then pass, so refuse it as jansson would */
		if (st.nul_escape) {
			cfg_fail(c, EINVAL, "JSON syntax error: \\u0000 is not allowed in strings");
			return NULL;
		}
		copy = malloc(len + 8 * st.n_big + 1);
		if (!copy) {
			cfg_oom(c);
			return NULL;
		}
		len = scan_text(json, len, copy, &st);
		text = copy;
		flags = JSON_ALLOW_NUL;
	}
	json_error_t je;
	json_t *root = json_loadb(text, len, flags, &je);
	if (!root) {
		/* jansson quotes the bad token: keep the message on one line */
		for (char *p = je.text; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				*p = '?';
		cfg_fail(c, EINVAL, "line %d column %d: JSON syntax error: %s", je.line, je.column,
			 je.text);
		return NULL;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		cfg_fail(c, EINVAL, "expected a JSON object at the top level");
		return NULL;
	}
	return root;
}

/* ---- value getters ------------------------------------------------- */

/* The literal of an integer beyond int64 (see scan_text), or NULL. */
static const char *big_literal(json_t *v)
{
	if (json_is_string(v) && json_string_length(v) > 1 && json_string_value(v)[0] == '\0')
		return json_string_value(v) + 1;
	return NULL;
}

static const char *type_name(json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return big_literal(v) ? "an integer" : "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a fractional number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	default:
		return "null";
	}
}

json_t *cfg_get(json_t *obj, const char *key)
{
	json_t *v = obj ? json_object_get(obj, key) : NULL;
	return json_is_null(v) ? NULL : v;
}

int cfg_val_str(struct cfg *c, json_t *v, char **out)
{
	if (c->rc)
		return c->rc;
	if (!json_is_string(v) || big_literal(v))
		return cfg_fail(c, EINVAL, "expected a string, got %s", type_name(v));
	const char *s = json_string_value(v);
	if (strlen(s) != json_string_length(v))
		return cfg_fail(c, EINVAL, "contains a NUL byte");
	char *d = strdup(s);
	if (!d)
		return cfg_oom(c);
	free(*out);
	*out = d;
	return 0;
}

int cfg_val_bool(struct cfg *c, json_t *v, bool *out)
{
	if (c->rc)
		return c->rc;
	if (!json_is_boolean(v))
		return cfg_fail(c, EINVAL, "expected a boolean, got %s", type_name(v));
	*out = json_is_true(v);
	return 0;
}

static int out_of_range(struct cfg *c, const char *lit, const char *range)
{
	bool cut = strlen(lit) > 24;
	return cfg_fail(c, ERANGE, "%.24s%s is out of range (%s)", lit, cut ? "..." : "", range);
}

int cfg_val_int(struct cfg *c, json_t *v, int64_t min, int64_t max, int64_t *out)
{
	char range[64], lit[32];
	if (c->rc)
		return c->rc;
	snprintf(range, sizeof(range), "%lld..%lld", (long long)min, (long long)max);
	if (big_literal(v))
		return out_of_range(c, big_literal(v), range);
	if (!json_is_integer(v))
		return cfg_fail(c, EINVAL, "expected an integer, got %s", type_name(v));
	json_int_t x = json_integer_value(v);
	if (x < min || x > max) {
		snprintf(lit, sizeof(lit), "%lld", (long long)x);
		return out_of_range(c, lit, range);
	}
	*out = x;
	return 0;
}

int cfg_val_u64(struct cfg *c, json_t *v, uint64_t *out)
{
	const char *range = "0..18446744073709551615";
	char lit[32];
	if (c->rc)
		return c->rc;
	const char *big = big_literal(v);
	if (big) {
		errno = 0;
		unsigned long long x = strtoull(big, NULL, 10);
		if (big[0] == '-' || errno == ERANGE)
			return out_of_range(c, big, range);
		*out = x;
		return 0;
	}
	if (!json_is_integer(v))
		return cfg_fail(c, EINVAL, "expected an integer, got %s", type_name(v));
	if (json_integer_value(v) < 0) {
		snprintf(lit, sizeof(lit), "%lld", (long long)json_integer_value(v));
		return out_of_range(c, lit, range);
	}
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

bool cfg_is_abspath(const char *s)
{
	return s && s[0] == '/';
}

int cfg_val_abspath(struct cfg *c, json_t *v, char **out)
{
	char q[96];
	if (cfg_val_str(c, v, out))
		return c->rc;
	if (!cfg_is_abspath(*out))
		return cfg_fail(c, EINVAL, "must be an absolute path, not %s",
				cfg_quote(q, sizeof(q), *out));
	return 0;
}

bool cfg_val_is_obj(struct cfg *c, json_t *v)
{
	if (!c->rc && !json_is_object(v))
		cfg_fail(c, EINVAL, "expected an object, got %s", type_name(v));
	return !c->rc;
}

bool cfg_val_is_arr(struct cfg *c, json_t *v)
{
	if (!c->rc && !json_is_array(v))
		cfg_fail(c, EINVAL, "expected an array, got %s", type_name(v));
	return !c->rc;
}

void *cfg_calloc(struct cfg *c, size_t n, size_t size)
{
	if (c->rc || n == 0)
		return NULL;
	void *p = calloc(n, size);
	if (!p)
		cfg_oom(c);
	return p;
}

long cfg_lookup(const struct cfg_name *t, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(t[i].name, name))
			return t[i].value;
	return -1;
}

const char *cfg_name_of(const struct cfg_name *t, size_t n, long value)
{
	for (size_t i = 0; i < n; i++)
		if (t[i].value == value)
			return t[i].name;
	return NULL;
}

/* ---- keyed getters ------------------------------------------------- */

int cfg_str(struct cfg *c, json_t *obj, const char *key, char **out)
{
	json_t *v = cfg_get(obj, key);
	if (!v || c->rc)
		return c->rc;
	size_t m = cfg_push_key(c, key);
	cfg_val_str(c, v, out);
	cfg_pop(c, m);
	return c->rc;
}

static int missing(struct cfg *c, const char *key)
{
	return cfg_fail_key(c, key, EINVAL, "required field is missing");
}

int cfg_req_str(struct cfg *c, json_t *obj, const char *key, char **out)
{
	if (!c->rc && !cfg_get(obj, key))
		return missing(c, key);
	return cfg_str(c, obj, key, out);
}

int cfg_abspath(struct cfg *c, json_t *obj, const char *key, bool required, char **out)
{
	json_t *v = cfg_get(obj, key);
	if (c->rc)
		return c->rc;
	if (!v)
		return required ? missing(c, key) : 0;
	size_t m = cfg_push_key(c, key);
	cfg_val_abspath(c, v, out);
	cfg_pop(c, m);
	return c->rc;
}

int cfg_bool(struct cfg *c, json_t *obj, const char *key, bool *out)
{
	json_t *v = cfg_get(obj, key);
	if (!v || c->rc)
		return c->rc;
	size_t m = cfg_push_key(c, key);
	cfg_val_bool(c, v, out);
	cfg_pop(c, m);
	return c->rc;
}

int cfg_opt_bool(struct cfg *c, json_t *obj, const char *key, struct oci_opt_bool *out)
{
	if (!c->rc && cfg_get(obj, key) && !cfg_bool(c, obj, key, &out->v))
		out->set = true;
	return c->rc;
}

int cfg_opt_i64(struct cfg *c, json_t *obj, const char *key, int64_t min, int64_t max,
		struct oci_opt_i64 *out)
{
	json_t *v = cfg_get(obj, key);
	if (!v || c->rc)
		return c->rc;
	size_t m = cfg_push_key(c, key);
	if (!cfg_val_int(c, v, min, max, &out->v))
		out->set = true;
	cfg_pop(c, m);
	return c->rc;
}

int cfg_opt_u32(struct cfg *c, json_t *obj, const char *key, uint32_t max, struct oci_opt_u32 *out)
{
	struct oci_opt_i64 x = {0};
	if (!cfg_opt_i64(c, obj, key, 0, max, &x) && x.set) {
		out->set = true;
		out->v = (uint32_t)x.v;
	}
	return c->rc;
}

int cfg_u32(struct cfg *c, json_t *obj, const char *key, bool required, uint32_t *out)
{
	struct oci_opt_u32 x = {0};
	if (!c->rc && required && !cfg_get(obj, key))
		return missing(c, key);
	if (!cfg_opt_u32(c, obj, key, UINT32_MAX, &x) && x.set)
		*out = x.v;
	return c->rc;
}

int cfg_opt_u64(struct cfg *c, json_t *obj, const char *key, struct oci_opt_u64 *out)
{
	json_t *v = cfg_get(obj, key);
	if (!v || c->rc)
		return c->rc;
	size_t m = cfg_push_key(c, key);
	if (!cfg_val_u64(c, v, &out->v))
		out->set = true;
	cfg_pop(c, m);
	return c->rc;
}

json_t *cfg_obj(struct cfg *c, json_t *obj, const char *key)
{
	json_t *v = cfg_get(obj, key);
	if (!v || c->rc)
		return NULL;
	size_t m = cfg_push_key(c, key);
	bool ok = cfg_val_is_obj(c, v);
	cfg_pop(c, m);
	return ok ? v : NULL;
}

json_t *cfg_arr(struct cfg *c, json_t *obj, const char *key, size_t *n)
{
	json_t *v = cfg_get(obj, key);
	*n = 0;
	if (!v || c->rc)
		return NULL;
	size_t m = cfg_push_key(c, key);
	bool ok = cfg_val_is_arr(c, v);
	cfg_pop(c, m);
	if (ok)
		*n = json_array_size(v);
	return ok ? v : NULL;
}

int cfg_strv(struct cfg *c, json_t *obj, const char *key, struct oci_strv *out)
{
	size_t n;
	json_t *a = cfg_arr(c, obj, key, &n);
	if (!a)
		return c->rc;
	out->v = calloc(n + 1, sizeof(char *));
	if (!out->v)
		return cfg_oom(c);
	size_t m = cfg_push_key(c, key);
	for (size_t i = 0; i < n && !c->rc; i++) {
		size_t mi = cfg_push_index(c, i);
		if (!cfg_val_str(c, json_array_get(a, i), &out->v[i]))
			out->n++;
		cfg_pop(c, mi);
	}
	cfg_pop(c, m);
	return c->rc;
}

int cfg_strmap(struct cfg *c, json_t *obj, const char *key, struct oci_strmap *out)
{
	json_t *o = cfg_obj(c, obj, key);
	const char *k;
	json_t *v;
	if (!o || !json_object_size(o))
		return c->rc;
	out->v = cfg_calloc(c, json_object_size(o), sizeof(*out->v));
	if (!out->v)
		return c->rc;
	size_t m = cfg_push_key(c, key);
	/* keys are NUL-free: jansson refuses "\u0000" in them, and so does
	 * cfg_load_text when it allows NUL for big integers */
	json_object_foreach(o, k, v)
	{
		size_t mk = cfg_push_mapkey(c, k);
		struct oci_kv *kv = &out->v[out->n];
		if (!cfg_val_str(c, v, &kv->value)) {
			out->n++;
			kv->key = strdup(k);
			if (!kv->key)
				cfg_oom(c);
		}
		cfg_pop(c, mk);
		if (c->rc)
			break;
	}
	cfg_pop(c, m);
	return c->rc;
}

void oci_strv_free(struct oci_strv *s)
{
	for (size_t i = 0; s->v && s->v[i]; i++)
		free(s->v[i]);
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

void oci_strmap_free(struct oci_strmap *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->v[i].key);
		free(m->v[i].value);
	}
	free(m->v);
	m->v = NULL;
	m->n = 0;
}

const char *oci_strmap_get(const struct oci_strmap *m, const char *key)
{
	for (size_t i = m->n; i-- > 0;)
		if (m->v[i].key && !strcmp(m->v[i].key, key))
			return m->v[i].value;
	return NULL;
}
