/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `update` requests (oci/update.h): LinuxResources JSON sorted into live
 * changes, a refused memory change and ignored fields; zeros meaning
 * "unchanged"; malformed JSON with the JSON path in the message; reading
 * from an fd with a size bound; runc's flags giving the same result.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oci/update.h"

#define MIB (1024 * 1024)

static int parse(const char *json, int64_t cur, struct oci_update *u, struct kv_err *e)
{
	return oci_update_parse(json, strlen(json), NULL, cur, u, e);
}

static bool ignored(const struct oci_update *u, const char *path)
{
	for (size_t i = 0; i < u->n_ignored; i++)
		if (!strcmp(u->ignored[i], path))
			return true;
	return false;
}

static void test_valid(void **state)
{
	(void)state;
	struct oci_update u;
	struct kv_err e = {0};
	const char *json = "{\"memory\":{\"limit\":536870912,\"swap\":1073741824},"
			   "\"cpu\":{\"shares\":512,\"quota\":50000,\"period\":100000,"
			   "\"cpus\":\"0-1\",\"mems\":\"0\"},"
			   "\"pids\":{\"limit\":100},\"blockIO\":{\"weight\":300}}";
	assert_int_equal(parse(json, 512 * MIB, &u, &e), 0);
	assert_true(oci_update_changes(&u));
	assert_true(u.cpu_shares.set);
	assert_int_equal(u.cpu_shares.v, 512);
	assert_true(u.cpu_quota.set);
	assert_int_equal(u.cpu_quota.v, 50000);
	assert_true(u.cpu_period.set);
	assert_int_equal(u.cpu_period.v, 100000);
	assert_string_equal(u.cpu_cpus, "0-1");
	assert_true(u.pids_limit.set);
	assert_int_equal(u.pids_limit.v, 100);
	assert_int_equal(u.n_ignored, 3);
	assert_true(ignored(&u, "memory.swap"));
	assert_true(ignored(&u, "cpu.mems"));
	assert_true(ignored(&u, "blockIO.weight"));
	oci_update_fini(&u);
	assert_null(u.cpu_cpus);
}

/* 0 and "" are "unchanged", as in runc; negative limits are "none" */
static void test_zero_unchanged(void **state)
{
	(void)state;
	struct oci_update u;
	assert_int_equal(parse("{\"memory\":{\"limit\":0,\"swap\":0},\"cpu\":{\"shares\":0,"
			       "\"quota\":0,\"period\":0,\"cpus\":\"\"},\"pids\":{\"limit\":0}}",
			       0, &u, NULL),
			 0);
	assert_false(oci_update_changes(&u));
	assert_int_equal(u.n_ignored, 0);
	oci_update_fini(&u);
	assert_int_equal(parse("{}", 0, &u, NULL), 0);
	assert_false(oci_update_changes(&u));
	assert_int_equal(parse("{\"cpu\":{\"quota\":-5},\"pids\":{\"limit\":-2}}", 0, &u, NULL), 0);
	assert_int_equal(u.cpu_quota.v, -1);
	assert_int_equal(u.pids_limit.v, -1);
	oci_update_fini(&u);
}

static void test_pids_accepted(void **state)
{
	(void)state;
	struct oci_update u;
	/* memory unknown (0) does not matter when memory is not asked for */
	assert_int_equal(parse("{\"pids\":{\"limit\":64}}", 0, &u, NULL), 0);
	assert_true(u.pids_limit.set);
	assert_int_equal(u.pids_limit.v, 64);
	assert_false(u.cpu_shares.set || u.cpu_quota.set || u.cpu_period.set || u.cpu_cpus);
	oci_update_fini(&u);
}

static void test_memory_refused(void **state)
{
	(void)state;
	static const char want[] = "memory.limit: changing the memory of a running VM is not "
				   "supported (restart the container)";
	struct oci_update u;
	struct kv_err e = {0};
	const char *grow = "{\"memory\":{\"limit\":1073741824},\"pids\":{\"limit\":5}}";
	assert_int_equal(parse(grow, 512 * MIB, &u, &e), -EOPNOTSUPP);
	assert_string_equal(e.msg, want);
	assert_false(oci_update_changes(&u));
	/* unknown current limit: any limit is refused */
	assert_int_equal(parse(grow, 0, &u, &e), -EOPNOTSUPP);
	assert_string_equal(e.msg, want);
	/* "unlimited" is a change too */
	assert_int_equal(parse("{\"memory\":{\"limit\":-1}}", 512 * MIB, &u, &e), -EOPNOTSUPP);
	/* the same value again is fine */
	assert_int_equal(parse(grow, 1024 * MIB, &u, &e), 0);
	assert_int_equal(u.pids_limit.v, 5);
	oci_update_fini(&u);
}

static void test_malformed(void **state)
{
	(void)state;
	static const struct {
		const char *json, *want;
	} bad[] = {
	    {"{\"cpu\":{\"quota\":\"x\"}}",
	     "resources: cpu.quota: expected an integer, got a string"},
	    {"{\"cpu\":{\"cpus\":\"0-\"}}",
	     "resources: cpu.cpus: \"0-\" is not a CPU list like \"0-3,5\""},
	    {"{\"pids\":7}", "resources: pids: expected an object, got an integer"},
	    {"[1]", "resources: "},
	    {"{\"cpu\":", "resources: "},
	    {"", "resources: "},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct oci_update u;
		struct kv_err e = {0};
		int r = parse(bad[i].json, 0, &u, &e);
		if (r != -EINVAL || strncmp(e.msg, bad[i].want, strlen(bad[i].want)))
			fail_msg("%s: got %d \"%s\", want \"%s\"", bad[i].json, r, e.msg,
				 bad[i].want);
		if (!strcmp(bad[i].want, "resources: "))
			assert_true(strlen(e.msg) > strlen(bad[i].want));
		else
			assert_string_equal(e.msg, bad[i].want);
	}
}

static void test_read_fd(void **state)
{
	(void)state;
	struct oci_update u;
	struct kv_err e = {0};
	int p[2];
	assert_int_equal(pipe(p), 0);
	static const char json[] = "{\"cpu\":{\"cpus\":\"1\"}}";
	assert_int_equal(write(p[1], json, strlen(json)), (ssize_t)strlen(json));
	close(p[1]);
	assert_int_equal(oci_update_read(p[0], "stdin", 0, &u, &e), 0);
	assert_string_equal(u.cpu_cpus, "1");
	oci_update_fini(&u);
	close(p[0]);

	/* over the bound: refused without parsing */
	FILE *f = tmpfile();
	assert_non_null(f);
	fputc('{', f);
	for (size_t i = 0; i < OCI_UPDATE_MAX_SIZE; i++)
		fputc(' ', f);
	fputc('}', f);
	fflush(f);
	rewind(f);
	assert_int_equal(oci_update_read(fileno(f), "big.json", 0, &u, &e), -EFBIG);
	assert_string_equal(e.msg, "big.json: larger than 1048576 bytes");
	fclose(f);
}

static void test_flags(void **state)
{
	(void)state;
	struct oci_update u;
	struct kv_err e = {0};
	const struct oci_update_flag ok[] = {
	    {"cpu-quota", "50000"}, {"cpu-period", "100000"}, {"cpu-share", "256"},
	    {"cpuset-cpus", "0-1"}, {"memory", "512m"},	      {"pids-limit", "64"},
	    {"memory-swap", "1g"},  {"cpu-quota", "20000"}, /* the last one wins */
	};
	assert_int_equal(oci_update_from_flags(ok, 8, 512 * MIB, &u, &e), 0);
	assert_int_equal(u.cpu_quota.v, 20000);
	assert_int_equal(u.cpu_period.v, 100000);
	assert_int_equal(u.cpu_shares.v, 256);
	assert_string_equal(u.cpu_cpus, "0-1");
	assert_int_equal(u.pids_limit.v, 64);
	assert_int_equal(u.n_ignored, 1);
	assert_string_equal(u.ignored[0], "memory.swap");
	oci_update_fini(&u);

	const struct oci_update_flag grow[] = {{"memory", "1G"}};
	assert_int_equal(oci_update_from_flags(grow, 1, 512 * MIB, &u, &e), -EOPNOTSUPP);
	assert_non_null(strstr(e.msg, "memory.limit: changing the memory"));

	static const struct {
		struct oci_update_flag f;
		const char *want;
	} bad[] = {
	    {{"cpu-quota", "abc"}, "--cpu-quota: \"abc\" is not an integer"},
	    {{"cpu-share", "-1"}, "--cpu-share: \"-1\" is not a non-negative integer"},
	    {{"pids-limit", ""}, "--pids-limit: \"\" is not an integer"},
	    {{"cpu-period", "99999999999999999999"},
	     "--cpu-period: 99999999999999999999 is out of range"},
	    {{"memory", "12x"}, "--memory: \"12x\" is not a size"},
	    {{"memory", "1 "}, "--memory: \"1 \" is not a size"},
	    {{"memory", "99999999p"}, "--memory: 99999999p is out of range"},
	    {{"cpuset-cpus", "a"},
	     "update flags: cpu.cpus: \"a\" is not a CPU list like \"0-3,5\""},
	    {{"no-such", "1"}, "--no-such: not a resource flag"},
	    {{"memory", NULL}, "--memory: needs a value"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = oci_update_from_flags(&bad[i].f, 1, 0, &u, &e);
		assert_true(r < 0);
		assert_string_equal(e.msg, bad[i].want);
	}
}

static void test_flag_sizes(void **state)
{
	(void)state;
	static const struct {
		const char *v;
		int64_t want;
	} sizes[] = {
	    {"-1", -1},	       {"100", 100},	 {"1k", 1024}, {"1.5g", 3 * 512 * MIB},
	    {"64 KiB", 65536}, {"2MB", 2 * MIB}, {"3b", 3},    {"1T", 1ll << 40},
	};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		/* --memory equal to the current limit is accepted: proves the value */
		struct oci_update_flag f = {"memory", sizes[i].v};
		struct oci_update u;
		struct kv_err e = {0};
		int64_t cur = sizes[i].want == -1 ? 512 * MIB : sizes[i].want;
		int r = oci_update_from_flags(&f, 1, cur, &u, &e);
		if (sizes[i].want == -1)
			assert_int_equal(r, -EOPNOTSUPP);
		else if (r)
			fail_msg("%s: %s", sizes[i].v, e.msg);
		oci_update_fini(&u);
	}
	assert_true(oci_update_is_flag("cpuset-mems"));
	assert_false(oci_update_is_flag("resources"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_valid),	  cmocka_unit_test(test_zero_unchanged),
	    cmocka_unit_test(test_pids_accepted), cmocka_unit_test(test_memory_refused),
	    cmocka_unit_test(test_malformed),	  cmocka_unit_test(test_read_fd),
	    cmocka_unit_test(test_flags),	  cmocka_unit_test(test_flag_sizes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
