/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to the config.json parser (oci/config*.c): the decoding cursor
 * and its typed getters.
 *
 * A `struct cfg` carries the JSON path of the value being decoded
 * ("linux.namespaces[1].type") and a sticky error: the first failure is
 * recorded with that path and every later getter is a no-op, so a section
 * parser can read all its fields in a row and check c->rc once.  Getters
 * taking (obj, key) treat an absent key and JSON null alike: the output is
 * left untouched and 0 returned.  Getters taking a value (cfg_val_*) assume
 * the path already names it.
 */
#ifndef KVBOX_OCI_CONFIG_INTERNAL_H
#define KVBOX_OCI_CONFIG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "oci/config.h"
#include "util/err.h"

#define CFG_PATH_MAX 256

struct cfg {
	struct kv_err *err;
	int rc;		  /* 0, or the first error (negative errno) */
	const char *name; /* message prefix: "config.json" */
	char path[CFG_PATH_MAX];
	size_t plen;
};

void cfg_init(struct cfg *c, const char *name, struct kv_err *err);

/* Parses text into a JSON object: size and depth limits, integers beyond
 * int64 kept (as cfg_val_u64 can read them), syntax errors with their
 * line and column.  Returns a new reference or NULL with c->rc set. */
json_t *cfg_load_text(struct cfg *c, const char *json, size_t len);

/* The JSON path: push returns a mark for pop. */
size_t cfg_push_key(struct cfg *c, const char *key);
size_t cfg_push_index(struct cfg *c, size_t i);
size_t cfg_push_mapkey(struct cfg *c, const char *key); /* ["key"], quoted */
void cfg_pop(struct cfg *c, size_t mark);

/* Records "<name>: <path>: <message>" unless an error is already set;
 * returns c->rc. */
int cfg_fail(struct cfg *c, int errnum, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* the same, for the member key of the current object / its element i */
int cfg_fail_key(struct cfg *c, const char *key, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int cfg_fail_elem(struct cfg *c, const char *key, size_t i, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
int cfg_oom(struct cfg *c);
/* Copies s into buf for a message: quoted, control bytes escaped, long
 * strings cut with "...". */
const char *cfg_quote(char *buf, size_t size, const char *s);

/* obj[key], NULL when absent or null (obj may be NULL). */
json_t *cfg_get(json_t *obj, const char *key);

/* value getters: the path names v */
int cfg_val_str(struct cfg *c, json_t *v, char **out);
int cfg_val_bool(struct cfg *c, json_t *v, bool *out);
int cfg_val_int(struct cfg *c, json_t *v, int64_t min, int64_t max, int64_t *out);
int cfg_val_u64(struct cfg *c, json_t *v, uint64_t *out);
int cfg_val_abspath(struct cfg *c, json_t *v, char **out);
/* checks v is an object / array (error otherwise); false on error */
bool cfg_val_is_obj(struct cfg *c, json_t *v);
bool cfg_val_is_arr(struct cfg *c, json_t *v);

/* keyed getters */
int cfg_str(struct cfg *c, json_t *obj, const char *key, char **out);
int cfg_req_str(struct cfg *c, json_t *obj, const char *key, char **out);
int cfg_abspath(struct cfg *c, json_t *obj, const char *key, bool required, char **out);
int cfg_bool(struct cfg *c, json_t *obj, const char *key, bool *out);
int cfg_opt_bool(struct cfg *c, json_t *obj, const char *key, struct oci_opt_bool *out);
int cfg_u32(struct cfg *c, json_t *obj, const char *key, bool required, uint32_t *out);
int cfg_opt_u32(struct cfg *c, json_t *obj, const char *key, uint32_t max, struct oci_opt_u32 *out);
int cfg_opt_i64(struct cfg *c, json_t *obj, const char *key, int64_t min, int64_t max,
		struct oci_opt_i64 *out);
int cfg_opt_u64(struct cfg *c, json_t *obj, const char *key, struct oci_opt_u64 *out);
int cfg_strv(struct cfg *c, json_t *obj, const char *key, struct oci_strv *out);
int cfg_strmap(struct cfg *c, json_t *obj, const char *key, struct oci_strmap *out);
/* obj[key] checked to be an object / array; NULL when absent, null or on
 * error (then c->rc is set).  cfg_arr also gives the length. */
json_t *cfg_obj(struct cfg *c, json_t *obj, const char *key);
json_t *cfg_arr(struct cfg *c, json_t *obj, const char *key, size_t *n);
/* calloc of n elements (n may be 0: returns NULL without error) */
void *cfg_calloc(struct cfg *c, size_t n, size_t size);

/* A table of names for an enum or flag; -1 when not found. */
struct cfg_name {
	const char *name;
	long value;
};
long cfg_lookup(const struct cfg_name *t, size_t n, const char *name);
const char *cfg_name_of(const struct cfg_name *t, size_t n, long value);

void oci_strv_free(struct oci_strv *s);
void oci_strmap_free(struct oci_strmap *m);
bool cfg_is_abspath(const char *s);

/* section parsers, one per file; each leaves what it parsed in *out even
 * on error so the caller's free releases it */
int cfg_parse_process(struct cfg *c, json_t *o, struct oci_process *out);
void cfg_free_process(struct oci_process *p);
int cfg_parse_linux(struct cfg *c, json_t *o, struct oci_linux *out);
void cfg_free_linux(struct oci_linux *l);
int cfg_parse_resources(struct cfg *c, json_t *o, struct oci_resources *out);
void cfg_free_resources(struct oci_resources *r);
int cfg_parse_seccomp(struct cfg *c, json_t *o, struct oci_seccomp *out);
void cfg_free_seccomp(struct oci_seccomp *s);
/* mount propagation names -> MS_* [|MS_REC] (config_mount.c) */
extern const struct cfg_name cfg_propagation_names[];
extern const size_t cfg_n_propagation_names;
int cfg_parse_mount(struct cfg *c, json_t *o, struct oci_mount *out);
void cfg_free_mount(struct oci_mount *m);

#endif
