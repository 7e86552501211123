/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The newc cpio writer (boot/cpio.c) and the agent initramfs built with it
 * (guest/initramfs.c): archives parsed back by a small independent reader
 * here, and listed by Debian's own `cpio -t` when it is installed; names,
 * bounds and the sticky error.
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
#include <sys/wait.h>
#include <unistd.h>

#include "boot/cpio.h"
#include "guest/initramfs.h"

struct entry {
	char name[256];
	uint32_t ino, mode, nlink, rmaj, rmin;
	const uint8_t *data;
	size_t len;
};

static uint32_t hex8(const uint8_t *p)
{
	char tmp[9];
	memcpy(tmp, p, 8);
	tmp[8] = '\0';
	char *end;
	unsigned long v = strtoul(tmp, &end, 16);
	assert_true(*end == '\0');
	return (uint32_t)v;
}

/* Parses a newc archive written by anyone; checks alignment and the
 * trailer; returns the number of entries before the trailer. */
static size_t parse(const uint8_t *buf, size_t len, struct entry *out, size_t max)
{
	size_t off = 0, n = 0;
	for (;;) {
		assert_true(off % 4 == 0);
		assert_true(len - off >= CPIO_HDR_SIZE);
		const uint8_t *h = buf + off;
		assert_memory_equal(h, CPIO_NEWC_MAGIC, 6);
		struct entry e = {0};
		e.ino = hex8(h + 6);
		e.mode = hex8(h + 14);
		assert_int_equal(hex8(h + 22), 0); /* uid */
		assert_int_equal(hex8(h + 30), 0); /* gid */
		e.nlink = hex8(h + 38);
		assert_int_equal(hex8(h + 46), 0); /* mtime */
		e.len = hex8(h + 54);
		e.rmaj = hex8(h + 78);
		e.rmin = hex8(h + 86);
		uint32_t nsize = hex8(h + 94);
		assert_int_equal(hex8(h + 102), 0); /* check */
		off += CPIO_HDR_SIZE;
		assert_true(nsize >= 2 && nsize < sizeof(e.name) && len - off >= nsize);
		memcpy(e.name, buf + off, nsize);
		assert_int_equal(e.name[nsize - 1], '\0');
		assert_int_equal(strlen(e.name), nsize - 1);
		off = (off + nsize + 3) & ~(size_t)3;
		assert_true(len - off >= e.len);
		e.data = buf + off;
		off = (off + e.len + 3) & ~(size_t)3;
		assert_true(off <= len);
		if (!strcmp(e.name, CPIO_TRAILER)) {
			assert_int_equal(off, len);
			return n;
		}
		assert_true(n < max);
		out[n++] = e;
	}
}

static const struct entry *find(const struct entry *e, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(e[i].name, name))
			return &e[i];
	return NULL;
}

static uint8_t *sample_archive(size_t *len)
{
	struct cpio_writer w;
	static uint8_t payload[5000];
	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 7);
	cpio_init(&w, 1 << 20);
	assert_int_equal(cpio_add_dir(&w, "dev", 0755), 0);
	assert_int_equal(cpio_add_node(&w, "/dev/console", S_IFCHR, 0600, 5, 1), 0);
	assert_int_equal(cpio_add_node(&w, "dev/sda", S_IFBLK, 0660, 8, 0), 0);
	assert_int_equal(cpio_add_node(&w, "dev/fifo", S_IFIFO, 0644, 0, 0), 0);
	assert_int_equal(cpio_add_dir(&w, "bin", 0755), 0);
	assert_int_equal(cpio_add_file(&w, "bin/tool", 04755, payload, sizeof(payload)), 0);
	assert_int_equal(cpio_add_file(&w, "empty", 0644, NULL, 0), 0);
	assert_int_equal(cpio_add_file(&w, "a", 0600, "x", 1), 0); /* 1-byte name, 1-byte data */
	assert_int_equal(cpio_add_symlink(&w, "bin/sh", "tool"), 0);
	assert_int_equal(cpio_add_symlink(&w, "init", "/bin/tool"), 0);
	uint8_t *out = NULL;
	assert_int_equal(cpio_finish(&w, &out, len), 0);
	assert_non_null(out);
	assert_int_equal(cpio_add_dir(&w, "late", 0755), -EALREADY);
	cpio_free(&w);
	return out;
}

static void test_round_trip(void **state)
{
	size_t len;
	struct entry e[16];
	(void)state;
	uint8_t *buf = sample_archive(&len);
	assert_int_equal(len % 4, 0);
	size_t n = parse(buf, len, e, 16);
	assert_int_equal(n, 10);

	const struct entry *c = find(e, n, "dev/console");
	assert_non_null(c);
	assert_int_equal(c->mode, S_IFCHR | 0600);
	assert_int_equal(c->rmaj, 5);
	assert_int_equal(c->rmin, 1);
	c = find(e, n, "dev/sda");
	assert_int_equal(c->mode, S_IFBLK | 0660);
	assert_int_equal(c->rmaj, 8);
	assert_int_equal(find(e, n, "dev/fifo")->mode, S_IFIFO | 0644);
	assert_int_equal(find(e, n, "dev")->mode, S_IFDIR | 0755);
	assert_int_equal(find(e, n, "dev")->nlink, 2);
	c = find(e, n, "bin/tool");
	assert_int_equal(c->mode, S_IFREG | 04755);
	assert_int_equal(c->len, 5000);
	for (size_t i = 0; i < c->len; i++)
		assert_int_equal(c->data[i], (uint8_t)(i * 7));
	assert_int_equal(find(e, n, "empty")->len, 0);
	c = find(e, n, "a");
	assert_int_equal(c->len, 1);
	assert_int_equal(c->data[0], 'x');
	c = find(e, n, "bin/sh");
	assert_int_equal(c->mode, S_IFLNK | 0777);
	assert_int_equal(c->len, 4);
	assert_memory_equal(c->data, "tool", 4);
	/* inode numbers are distinct and non-zero */
	for (size_t i = 0; i < n; i++) {
		assert_int_not_equal(e[i].ino, 0);
		for (size_t j = 0; j < i; j++)
			assert_int_not_equal(e[i].ino, e[j].ino);
	}
	/* deterministic */
	size_t len2;
	uint8_t *buf2 = sample_archive(&len2);
	assert_int_equal(len, len2);
	assert_memory_equal(buf, buf2, len);
	free(buf);
	free(buf2);
}

/* Runs `cpio CPIOARGS` on buf and returns its stdout (malloc'ed), or NULL
 * when cpio is not installed. */
static char *run_cpio(const uint8_t *buf, size_t len, const char *cpioargs)
{
	if (system("command -v cpio >/dev/null 2>&1") != 0)
		return NULL;
	char dir[] = "/tmp/kvbox-cpio-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[128], cmd[512];
	snprintf(path, sizeof(path), "%s/a.cpio", dir);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, len, f), len);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "cpio %s --quiet <%s 2>&1; echo status=$?", cpioargs, path);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	char *out = calloc(1, 65536);
	size_t n = fread(out, 1, 65535, p);
	out[n] = '\0';
	pclose(p);
	unlink(path);
	rmdir(dir);
	return out;
}

static void test_debian_cpio_lists_it(void **state)
{
	size_t len;
	(void)state;
	uint8_t *buf = sample_archive(&len);
	char *out = run_cpio(buf, len, "-t");
	if (!out) {
		free(buf);
		skip();
	}
	assert_string_equal(out, "dev\ndev/console\ndev/sda\ndev/fifo\nbin\nbin/tool\nempty\na\n"
				 "bin/sh\ninit\nstatus=0\n");
	free(out);
	out = run_cpio(buf, len, "-tv");
	/* the long listing shows types, modes, device numbers and link targets */
	assert_non_null(strstr(out, "crw-------"));
	assert_non_null(strstr(out, "5,   1"));
	assert_non_null(strstr(out, "brw-rw----"));
	assert_non_null(strstr(out, "prw-r--r--"));
	assert_non_null(strstr(out, "-rwsr-xr-x"));
	assert_non_null(strstr(out, "bin/sh -> tool"));
	assert_non_null(strstr(out, "status=0"));
	free(out);
	free(buf);
}

static void test_bad_names_and_sticky_error(void **state)
{
	struct cpio_writer w;
	(void)state;
	const char *bad[] = {"", "/", "a//b", "./a", "a/./b", "../a", "a/..", "a/", CPIO_TRAILER};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cpio_init(&w, 1 << 20);
		assert_int_equal(cpio_add_dir(&w, bad[i], 0755), -EINVAL);
		/* sticky: a good entry after a bad one fails too, and finish says so */
		assert_int_equal(cpio_add_dir(&w, "ok", 0755), -EINVAL);
		uint8_t *out = (uint8_t *)1;
		size_t len = 1;
		assert_int_equal(cpio_finish(&w, &out, &len), -EINVAL);
		assert_null(out);
		assert_int_equal(len, 0);
		cpio_free(&w);
	}
	char longname[CPIO_NAME_MAX + 2];
	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	cpio_init(&w, 1 << 20);
	assert_int_equal(cpio_add_dir(&w, longname, 0755), -EINVAL);
	cpio_free(&w);
	cpio_init(&w, 1 << 20);
	assert_int_equal(cpio_add_node(&w, "dev/x", S_IFREG, 0600, 1, 1), -EINVAL);
	cpio_free(&w);
	cpio_init(&w, 1 << 20);
	assert_int_equal(cpio_add_node(&w, "dev/x", S_IFCHR, 0600, 0x1000, 1), -EINVAL);
	cpio_free(&w);
	cpio_init(&w, 1 << 20);
	assert_int_equal(cpio_add_symlink(&w, "l", ""), -EINVAL);
	cpio_free(&w);
	cpio_init(&w, 1 << 20);
	assert_int_equal(cpio_add_file(&w, "f", 0644, NULL, 3), -EINVAL);
	cpio_free(&w);
}

static void test_bounded(void **state)
{
	struct cpio_writer w;
	static uint8_t data[4096];
	(void)state;
	cpio_init(&w, 4096);
	assert_int_equal(cpio_add_file(&w, "f1", 0644, data, 2000), 0);
	assert_int_equal(cpio_add_file(&w, "f2", 0644, data, 3000), -EFBIG);
	assert_true(w.len <= 4096 && w.cap <= 4096);
	uint8_t *out;
	size_t len;
	assert_int_equal(cpio_finish(&w, &out, &len), -EFBIG);
	/* the trailer itself must fit in the bound */
	cpio_init(&w, 4096);
	assert_int_equal(cpio_add_file(&w, "f", 0644, data, 3900), 0);
	assert_int_equal(cpio_finish(&w, &out, &len), -EFBIG);
	cpio_init(&w, 0);
	assert_int_equal(cpio_add_dir(&w, "d", 0755), -EFBIG);
	cpio_free(&w);
}

/* The agent initramfs: the skeleton, this test binary standing in for the
 * agent (any ELF will do), and extra files with their parent directories. */
static void test_agent_initramfs(void **state)
{
	struct kv_err err = {0};
	uint8_t *buf = NULL;
	size_t len = 0;
	struct entry e[32];
	(void)state;

	char self[4096];
	ssize_t sl = readlink("/proc/self/exe", self, sizeof(self) - 1);
	assert_true(sl > 0);
	self[sl] = '\0';
	struct initramfs_file extra[] = {
	    {"/etc/hostname", "/etc/kvbox/name", 0640},
	    {self, "usr/local/bin/probe", 0755},
	};
	int r = agent_initramfs_build_with(self, extra, 2, &buf, &len, &err);
	assert_int_equal(r, 0);
	size_t n = parse(buf, len, e, 32);
	const struct entry *init = find(e, n, "init");
	assert_non_null(init);
	assert_int_equal(init->mode, S_IFREG | 0755);
	assert_memory_equal(init->data,
			    "\x7f"
			    "ELF",
			    4);
	const struct entry *con = find(e, n, "dev/console");
	assert_non_null(con);
	assert_int_equal(con->mode, S_IFCHR | 0600);
	assert_int_equal(con->rmaj, 5);
	assert_int_equal(con->rmin, 1);
	assert_true(find(e, n, "dev/console") > find(e, n, "dev"));
	for (const char *d = "proc\0sys\0run\0tmp\0etc\0etc/kvbox\0usr\0usr/local\0usr/local/bin\0";
	     *d; d += strlen(d) + 1)
		assert_true(find(e, n, d) && S_ISDIR(find(e, n, d)->mode));
	assert_true(find(e, n, "usr/local/bin") < find(e, n, "usr/local/bin/probe"));
	assert_int_equal(find(e, n, "etc/kvbox/name")->mode, S_IFREG | 0640);
	free(buf);

	/* not an ELF file; a missing file: one line naming it */
	r = agent_initramfs_build("/etc/hostname", &buf, &len, &err);
	assert_int_equal(r, -ENOEXEC);
	assert_non_null(strstr(err.msg, "/etc/hostname"));
	assert_null(buf);
	r = agent_initramfs_build("/nonexistent/agent", &buf, &len, &err);
	assert_int_equal(r, -ENOENT);
	assert_non_null(strstr(err.msg, "/nonexistent/agent"));
	struct initramfs_file missing[] = {{"/nonexistent/x", "bin/x", 0755}};
	r = agent_initramfs_build_with(self, missing, 1, &buf, &len, &err);
	assert_true(r < 0);
	assert_non_null(strstr(err.msg, "/nonexistent/x"));
	assert_null(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_debian_cpio_lists_it),
	    cmocka_unit_test(test_bad_names_and_sticky_error),
	    cmocka_unit_test(test_bounded),
	    cmocka_unit_test(test_agent_initramfs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
