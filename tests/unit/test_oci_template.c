/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Templates, the pure parts: the share layout a template machine has
 * (vmm/template.c) and the cache key (oci/template.c), which must name
 * another template whenever what the guest was built from changes.
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
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "oci/template.h"
#include "vmm/lazy_mem.h"
#include "vmm/template.h"
#include "vmm/vm.h"

static void test_shares_layout(void **state)
{
	(void)state;
	struct gofer_share in[2] = {
	    {.path = "/rootfs", .tag = "kvboxroot"},
	    {.path = "/data", .tag = "kvb1", .readonly = false},
	};
	struct gofer_share out[TEMPLATE_SHARES];
	assert_int_equal(template_shares(in, 2, "/t/empty", out), TEMPLATE_SHARES);
	assert_string_equal(out[0].path, "/rootfs");
	assert_string_equal(out[1].path, "/data");
	assert_false(out[1].readonly);
	for (unsigned i = 2; i < TEMPLATE_SHARES; i++) {
		char tag[16];
		snprintf(tag, sizeof(tag), "kvb%u", i);
		assert_string_equal(out[i].tag, tag);
		assert_string_equal(out[i].path, "/t/empty");
		assert_true(out[i].readonly);
	}
	/* no container shares: every device on the empty directory, the
	 * rootfs tag first (what a template machine is built with) */
	assert_int_equal(template_shares(NULL, 0, "/e", out), TEMPLATE_SHARES);
	assert_string_equal(out[0].tag, "kvboxroot");
	assert_string_equal(out[0].path, "/e");
	assert_true(out[0].readonly);
}

static void touch_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_key(void **state)
{
	(void)state;
	char dir[] = "/tmp/kvbox-tkey.XXXXXX";
	assert_non_null(mkdtemp(dir));
	char kernel[64], agent[64];
	snprintf(kernel, sizeof(kernel), "%s/kernel", dir);
	snprintf(agent, sizeof(agent), "%s/agent", dir);
	touch_file(kernel, "kernel");
	touch_file(agent, "agent");
	struct template_params p = {.mem_bytes = 256u << 20, .ncpus = 1, .kernel = kernel};
	snprintf(p.agent, sizeof(p.agent), "%s", agent);
	struct kv_err err = {0};
	char k1[TEMPLATE_KEY_LEN + 1], k2[TEMPLATE_KEY_LEN + 1];
	assert_int_equal(template_key(&p, k1, &err), 0);
	assert_int_equal(strlen(k1), TEMPLATE_KEY_LEN);
	assert_int_equal(strspn(k1, "0123456789abcdef"), TEMPLATE_KEY_LEN);
	assert_int_equal(template_key(&p, k2, &err), 0);
	assert_string_equal(k1, k2); /* stable */
	p.mem_bytes = 512u << 20;
	assert_int_equal(template_key(&p, k2, &err), 0);
	assert_string_not_equal(k1, k2);
	p.mem_bytes = 256u << 20;
	p.ncpus = 2;
	assert_int_equal(template_key(&p, k2, &err), 0);
	assert_string_not_equal(k1, k2);
	p.ncpus = 1;
	/* a rebuilt agent (new mtime and size) is another template */
	struct timeval tv[2] = {{1000000000, 0}, {1000000000, 0}};
	assert_int_equal(utimes(agent, tv), 0);
	assert_int_equal(template_key(&p, k2, &err), 0);
	assert_string_not_equal(k1, k2);
	char k3[TEMPLATE_KEY_LEN + 1];
	touch_file(kernel, "kernel, rebuilt");
	assert_int_equal(template_key(&p, k3, &err), 0);
	assert_string_not_equal(k2, k3);
	/* a missing kernel is an error naming it */
	unlink(kernel);
	assert_true(template_key(&p, k3, &err) < 0);
	assert_non_null(strstr(err.msg, kernel));
	unlink(agent);
	rmdir(dir);
}

/* A working set (vmm/template.h): encoded and parsed back; anything out
 * of shape is refused with one line. */
static void test_working_set(void **state)
{
	(void)state;
	const uint64_t mem = 16u << 20; /* 256 blocks */
	const uint32_t blocks[] = {0, 3, 4, 255};
	size_t len;
	uint8_t *buf = template_ws_encode(mem, blocks, 4, &len);
	assert_non_null(buf);
	assert_int_equal(len, 16 + 4 * 4);
	assert_true(len <= template_ws_max(mem));
	uint32_t *got;
	unsigned n;
	struct kv_err err = {0};
	assert_int_equal(template_ws_parse(buf, len, mem, &got, &n, &err), 0);
	assert_int_equal(n, 4);
	assert_memory_equal(got, blocks, sizeof(blocks));
	free(got);
	/* another guest size */
	assert_int_equal(template_ws_parse(buf, len, 32u << 20, &got, &n, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "for an image of 512"));
	assert_null(got);
	/* truncated, extended, bad magic */
	assert_int_equal(template_ws_parse(buf, len - 1, mem, &got, &n, &err), -EINVAL);
	assert_int_equal(template_ws_parse(buf, 10, mem, &got, &n, &err), -EINVAL);
	buf[0] ^= 1;
	assert_int_equal(template_ws_parse(buf, len, mem, &got, &n, &err), -EINVAL);
	assert_string_equal(err.msg, "not a working set");
	buf[0] ^= 1;
	/* out of order, repeated, out of range */
	const uint32_t bad[][2] = {{4, 3}, {3, 3}, {1, 256}};
	for (unsigned i = 0; i < 3; i++) {
		uint8_t *b = template_ws_encode(mem, bad[i], 2, &len);
		assert_int_equal(template_ws_parse(b, len, mem, &got, &n, &err), -EINVAL);
		assert_non_null(strstr(err.msg, "out of order or range"));
		free(b);
	}
	/* empty is fine */
	uint8_t *e = template_ws_encode(mem, NULL, 0, &len);
	assert_int_equal(template_ws_parse(e, len, mem, &got, &n, &err), 0);
	assert_int_equal(n, 0);
	free(got);
	free(e);
	free(buf);
}

/* The agent's read-only kernel pages become whole blocks of the memfd
 * below the MMIO hole; the rest is left to the lazy loading. */
static void test_kernel_ro(void **state)
{
	(void)state;
	struct vm *vm = calloc(1, sizeof(*vm));
	assert_non_null(vm);
	vm->mem.nregions = 1;
	vm->mem.regions[0] = (struct guest_region){0, 64u << 20, 0};
	/* "Kernel code" 0x1000000-0x180010f, "Kernel rodata" 0x1a00000-0x1b00fff */
	const uint32_t pages[] = {0x1000, 0x800, 0x1a00, 0x101};
	template_kernel_ro(vm, pages, 4);
	assert_int_equal(vm->nkernel_ro, 2);
	assert_int_equal(vm->kernel_ro[0], 0x1000000);
	assert_int_equal(vm->kernel_ro[1], 0x800000);
	assert_int_equal(vm->kernel_ro[2], 0x1a00000);
	assert_int_equal(vm->kernel_ro[3], 0x100000); /* the partial block left out */
	/* less than a block, past low RAM, overlapping: dropped or cut */
	const uint32_t odd[] = {0x10, 0x8, 0x3ff0, 0x100, 0x3f00, 0x20};
	template_kernel_ro(vm, odd, 6);
	assert_int_equal(vm->nkernel_ro, 1);
	assert_int_equal(vm->kernel_ro[0], 0x3ff0000);
	assert_int_equal(vm->kernel_ro[1], 0x10000);
	template_kernel_ro(vm, pages, 3); /* an odd count: the pair that is whole */
	assert_int_equal(vm->nkernel_ro, 1);
	free(vm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_shares_layout),
	    cmocka_unit_test(test_key),
	    cmocka_unit_test(test_working_set),
	    cmocka_unit_test(test_kernel_ro),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
