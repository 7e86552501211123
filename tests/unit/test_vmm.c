/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for vmm/ pieces that need no /dev/kvm: the bus, guest
 * memory translation, CPUID topology fix-ups, the console escape and
 * size parsing. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "util/file.h"
#include "vmm/bus.h"
#include "vmm/memory.h"
#include "vmm/runloop.h"
#include "vmm/x86_cpu.h"

struct reg_dev {
	uint64_t last_off;
	uint8_t last_val;
	int reads, writes;
};

static void dev_read(void *opaque, uint64_t off, void *data, unsigned len)
{
	struct reg_dev *d = opaque;
	d->reads++;
	d->last_off = off;
	memset(data, 0x42, len);
}

static void dev_write(void *opaque, uint64_t off, const void *data, unsigned len)
{
	struct reg_dev *d = opaque;
	d->writes++;
	d->last_off = off;
	d->last_val = *(const uint8_t *)data;
}

static const struct bus_dev_ops dev_ops = {dev_read, dev_write};

static void test_bus_dispatch_and_overlap(void **state)
{
	struct io_bus bus = {.name = "pio"};
	struct reg_dev a = {0}, b = {0};
	struct kv_err err = {0};
	assert_int_equal(bus_register(&bus, 0x3f8, 8, &dev_ops, &a, "a", &err), 0);
	assert_int_equal(bus_register(&bus, 0x60, 5, &dev_ops, &b, "b", &err), 0);
	assert_int_equal(bus_register(&bus, 0x3fc, 8, &dev_ops, &b, "c", &err), -EEXIST);
	assert_non_null(strstr(err.msg, "overlaps"));
	assert_int_equal(bus_register(&bus, 0x3f0, 9, &dev_ops, &b, "d", &err), -EEXIST);
	assert_int_equal(bus_register(&bus, 0, 0, &dev_ops, &b, "e", &err), -EINVAL);
	assert_int_equal(bus_register(&bus, UINT64_MAX, 2, &dev_ops, &b, "f", &err), -EINVAL);
	uint8_t v = 7;
	assert_true(bus_write(&bus, 0x3fd, &v, 1));
	assert_int_equal(a.last_off, 5);
	assert_int_equal(a.last_val, 7);
	assert_true(bus_write(&bus, 0x64, &v, 1));
	assert_int_equal(b.last_off, 4);
	uint32_t w = 0;
	assert_false(bus_read(&bus, 0x80, &w, 4));
	assert_int_equal(w, 0xffffffffu);
	/* an access straddling the end of a device is not claimed */
	assert_false(bus_read(&bus, 0x3fe, &w, 4));
	assert_false(bus_write(&bus, 0x1000, &v, 1));
	assert_int_equal(a.writes + b.writes, 2);
}

static void test_guest_mem_ranges(void **state)
{
	static uint8_t buf[1 << 16];
	struct guest_mem m;
	guest_mem_fake(&m, buf, sizeof(buf));
	assert_ptr_equal(guest_mem_ptr(&m, 0, sizeof(buf)), buf);
	assert_ptr_equal(guest_mem_ptr(&m, 100, 0), buf + 100);
	assert_null(guest_mem_ptr(&m, 1, sizeof(buf)));
	assert_null(guest_mem_ptr(&m, sizeof(buf), 0));
	assert_null(guest_mem_ptr(&m, UINT64_MAX, 2));
	assert_null(guest_mem_ptr(&m, 10, UINT64_MAX));
	assert_int_equal(guest_mem_write(&m, sizeof(buf) - 2, "abc", 3), -EFAULT);
	assert_int_equal(guest_mem_write(&m, sizeof(buf) - 3, "abc", 3), 0);
}

static void test_guest_mem_memfd_split(void **state)
{
	struct guest_mem m;
	struct kv_err err = {0};
	/* 3 GiB + 64 MiB with the hole at 3 GiB: a second region at 4 GiB */
	uint64_t size = (3ULL << 30) + (64ULL << 20);
	assert_int_equal(guest_mem_create(&m, size, 0xc0000000ULL, &err), 0);
	assert_int_equal(m.nregions, 2);
	assert_int_equal(guest_mem_low_end(&m), 0xc0000000ULL);
	assert_non_null(guest_mem_ptr(&m, 0x100000000ULL, 64ULL << 20));
	assert_null(guest_mem_ptr(&m, 0xc0000000ULL, 1));
	assert_null(guest_mem_ptr(&m, 0xbfffffffULL, 2)); /* crosses into the hole */
	guest_mem_destroy(&m);
	assert_int_equal(guest_mem_create(&m, 12345, 0xc0000000ULL, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "4 KiB"));
}

static struct kvm_cpuid2 *make_cpuid(void)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + 6 * sizeof(struct kvm_cpuid_entry2));
	c->nent = 6;
	c->entries[0] = (struct kvm_cpuid_entry2){.function = 1, .ebx = 0xff00ffff};
	c->entries[1] = (struct kvm_cpuid_entry2){.function = 0xb, .index = 0};
	c->entries[2] = (struct kvm_cpuid_entry2){.function = 0xb, .index = 1};
	c->entries[3] = (struct kvm_cpuid_entry2){.function = 0xb, .index = 2};
	c->entries[4] = (struct kvm_cpuid_entry2){.function = 4, .eax = 0x63};
	c->entries[5] = (struct kvm_cpuid_entry2){.function = 0x8000001e};
	return c;
}

static void test_cpuid_topology(void **state)
{
	struct kvm_cpuid2 *c = make_cpuid();
	x86_cpuid_fixup(c, 3, 4);
	assert_int_equal(c->entries[0].ebx >> 24, 3);
	assert_int_equal((c->entries[0].ebx >> 16) & 0xff, 4);
	assert_int_equal(c->entries[0].ebx & 0xffff, 0xffff);
	assert_true(c->entries[0].ecx & (1u << 31));
	assert_true(c->entries[0].edx & (1u << 28));
	assert_int_equal(c->entries[1].edx, 3);
	assert_int_equal(c->entries[1].ebx, 1);
	assert_int_equal(c->entries[2].ebx, 4);
	assert_int_equal(c->entries[2].eax, 2); /* shift for 4 cores */
	assert_int_equal((c->entries[2].ecx >> 8) & 0xff, 2);
	assert_int_equal(c->entries[3].ebx, 0);
	assert_int_equal(c->entries[4].eax >> 26, 3);
	assert_int_equal(c->entries[5].eax, 3);
	free(c);
	c = make_cpuid();
	x86_cpuid_fixup(c, 0, 1);
	assert_false(c->entries[0].edx & (1u << 28));
	assert_int_equal(c->entries[2].eax, 0);
	free(c);
}

static void test_console_escape(void **state)
{
	struct console_escape e = {0};
	unsigned char out[2];
	unsigned n;
	assert_int_equal(console_escape_feed(&e, 'a', out, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(console_escape_feed(&e, 0x01, out, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(console_escape_feed(&e, 0x01, out, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(out[0], 0x01);
	console_escape_feed(&e, 0x01, out, &n);
	assert_int_equal(console_escape_feed(&e, 'b', out, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(out[0], 0x01);
	assert_int_equal(out[1], 'b');
	console_escape_feed(&e, 0x01, out, &n);
	assert_int_equal(console_escape_feed(&e, 'x', out, &n), 1);
}

static void test_parse_size(void **state)
{
	uint64_t b;
	assert_int_equal(parse_size_mib_default("256", &b), 0);
	assert_int_equal(b, 256ULL << 20);
	assert_int_equal(parse_size_mib_default("2G", &b), 0);
	assert_int_equal(b, 2ULL << 30);
	assert_int_equal(parse_size_mib_default("512MiB", &b), 0);
	assert_int_equal(b, 512ULL << 20);
	assert_int_equal(parse_size_mib_default("64k", &b), 0);
	assert_int_equal(b, 64ULL << 10);
	assert_int_equal(parse_size_mib_default("", &b), -EINVAL);
	assert_int_equal(parse_size_mib_default("-1", &b), -EINVAL);
	assert_int_equal(parse_size_mib_default("12Q", &b), -EINVAL);
	assert_int_equal(parse_size_mib_default("1Gx", &b), -EINVAL);
	assert_int_equal(parse_size_mib_default("99999999999999999999", &b), -ERANGE);
	assert_int_equal(parse_size_mib_default("99999999999T", &b), -ERANGE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bus_dispatch_and_overlap),
	    cmocka_unit_test(test_guest_mem_ranges),
	    cmocka_unit_test(test_guest_mem_memfd_split),
	    cmocka_unit_test(test_cpuid_topology),
	    cmocka_unit_test(test_console_escape),
	    cmocka_unit_test(test_parse_size),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
