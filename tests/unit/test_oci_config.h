/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Helpers shared by the config.json parser tests (test_oci_config.c,
 * test_oci_config_errors.c): snippets written with ' for ", and parse
 * helpers that fail the test with the parser's message.
 */
#ifndef KVBOX_TEST_OCI_CONFIG_H
#define KVBOX_TEST_OCI_CONFIG_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "oci/config.h"

/* Snippets are written with ' for ": returns a malloc'd copy with " . */
static inline char *dq(const char *s)
{
	char *d = strdup(s);
	assert_non_null(d);
	for (char *p = d; *p; p++)
		if (*p == '\'')
			*p = '"';
	return d;
}

static inline struct oci_config *parse_ok(const char *snippet)
{
	struct kv_err err = {0};
	struct oci_config *cfg = NULL;
	char *j = dq(snippet);
	int r = oci_config_parse(j, strlen(j), "/bundle", &cfg, &err);
	if (r)
		fail_msg("unexpected error: %s\n  for %s", err.msg, j);
	free(j);
	assert_non_null(cfg);
	return cfg;
}

/* Parses snippet, which must fail with a one-line message containing want. */
static inline void expect_err(const char *snippet, const char *want)
{
	struct kv_err err = {0};
	struct oci_config *cfg = NULL;
	char *j = dq(snippet);
	int r = oci_config_parse(j, strlen(j), "/bundle", &cfg, &err);
	if (r == 0)
		fail_msg("accepted, expected \"%s\"\n  for %s", want, j);
	assert_true(r < 0);
	assert_null(cfg);
	if (!strstr(err.msg, want))
		fail_msg("got      \"%s\"\nexpected \"%s\"\n  for %s", err.msg, want, j);
	assert_null(strchr(err.msg, '\n'));
	assert_int_equal(strncmp(err.msg, "config.json: ", 13), 0);
	free(j);
}

/* The repository's tests/fixtures, found from this source file's path
 * (relative to the build root, which is three levels above the test). */

#define DOC(...)   "{'ociVersion':'1.0.2','root':{'path':'rootfs'}," __VA_ARGS__ "}"
#define PROC(...)  DOC("'process':{'args':['sh'],'cwd':'/'," __VA_ARGS__ "}")
#define LINUX(...) DOC("'linux':{" __VA_ARGS__ "}")

#endif
