/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Builds the agent initramfs in memory (guest/initramfs.h): fixed
 * skeleton, the agent as /init, optional extra files with their parent
 * directories, all through boot/cpio.c.
 */
#include "guest/initramfs.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boot/cpio.h"
#include "util/cleanup.h"
#include "util/file.h"

#define MAX_DIRS 256

struct dirset {
	char *names[MAX_DIRS];
	size_t n;
};

static void dirset_free(struct dirset *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->names[i]);
	d->n = 0;
}

static int dirset_has(const struct dirset *d, const char *name, size_t len)
{
	for (size_t i = 0; i < d->n; i++)
		if (strlen(d->names[i]) == len && !strncmp(d->names[i], name, len))
			return 1;
	return 0;
}

/* Adds every missing parent directory of path (relative, no leading /). */
static int add_parents(struct cpio_writer *w, struct dirset *d, const char *path,
		       struct kv_err *err)
{
	for (const char *s = strchr(path, '/'); s; s = strchr(s + 1, '/')) {
		size_t len = (size_t)(s - path);
		if (dirset_has(d, path, len))
			continue;
		if (d->n == MAX_DIRS)
			return kv_err_set(err, E2BIG, "more than %d directories", MAX_DIRS);
		d->names[d->n] = strndup(path, len);
		if (!d->names[d->n])
			return kv_err_set(err, ENOMEM, "out of memory");
		int r = cpio_add_dir(w, d->names[d->n++], 0755);
		if (r < 0)
			return kv_err_set(err, -r, "cpio: directory %s: %s", d->names[d->n - 1],
					  strerror(-r));
	}
	return 0;
}

static int add_host_file(struct cpio_writer *w, const char *host, const char *guest, mode_t mode,
			 struct kv_err *err)
{
	cleanup_free uint8_t *data = NULL;
	size_t len = 0;
	int r = read_file_bounded(host, AGENT_INITRAMFS_FILE_MAX, &data, &len, err);
	if (r < 0)
		return r;
	r = cpio_add_file(w, guest, mode, data, len);
	if (r < 0)
		return kv_err_set(err, -r, "cpio: %s as %s: %s", host, guest, strerror(-r));
	return 0;
}

static int add_skeleton(struct cpio_writer *w, struct dirset *d)
{
	static const struct {
		const char *name;
		mode_t mode;
	} dirs[] = {{"dev", 0755}, {"proc", 0555}, {"sys", 0555}, {"run", 0755}, {"tmp", 01777}};
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		cpio_add_dir(w, dirs[i].name, dirs[i].mode);
		if (d->n < MAX_DIRS)
			d->names[d->n++] = strdup(dirs[i].name);
	}
	cpio_add_node(w, "dev/console", S_IFCHR, 0600, 5, 1);
	cpio_add_node(w, "dev/null", S_IFCHR, 0666, 1, 3);
	for (size_t i = 0; i < d->n; i++)
		if (!d->names[i])
			return -ENOMEM;
	return w->err;
}

static int check_elf(const char *path, struct kv_err *err)
{
	uint8_t magic[4] = {0};
	FILE *f = fopen(path, "rb");
	if (!f)
		return kv_err_sys(err, errno, "agent %s", path);
	size_t n = fread(magic, 1, sizeof(magic), f);
	fclose(f);
	if (n != 4 || memcmp(magic,
			     "\x7f"
			     "ELF",
			     4))
		return kv_err_set(err, ENOEXEC, "agent %s: not an ELF executable", path);
	return 0;
}

int agent_initramfs_build_with(const char *agent_path, const struct initramfs_file *extra,
			       size_t nextra, uint8_t **out, size_t *len, struct kv_err *err)
{
	struct cpio_writer w;
	struct dirset d = {.n = 0};
	int r;

	*out = NULL;
	*len = 0;
	r = check_elf(agent_path, err);
	if (r < 0)
		return r;
	cpio_init(&w, AGENT_INITRAMFS_MAX);
	r = add_skeleton(&w, &d);
	if (r < 0)
		kv_err_set(err, -r, "cpio skeleton: %s", strerror(-r));
	if (r >= 0)
		r = add_host_file(&w, agent_path, "init", 0755, err);
	for (size_t i = 0; r >= 0 && i < nextra; i++) {
		const char *g = extra[i].guest_path;
		g += g[0] == '/';
		r = add_parents(&w, &d, g, err);
		if (r >= 0)
			r = add_host_file(&w, extra[i].host_path, g, extra[i].mode, err);
	}
	dirset_free(&d);
	if (r < 0) {
		cpio_free(&w);
		return kv_err_wrap(err, r, "agent initramfs");
	}
	r = cpio_finish(&w, out, len);
	if (r < 0)
		return kv_err_set(err, -r, "agent initramfs: %s", strerror(-r));
	return 0;
}

int agent_initramfs_build(const char *agent_path, uint8_t **out, size_t *len, struct kv_err *err)
{
	return agent_initramfs_build_with(agent_path, NULL, 0, out, len, err);
}

static int try_path(char *buf, size_t size, const char *dir, const char *rel)
{
	int n = snprintf(buf, size, "%s/%s", dir, rel);
	return n > 0 && (size_t)n < size && access(buf, X_OK) == 0;
}

int agent_binary_path(char *buf, size_t size, struct kv_err *err)
{
	const char *env = getenv("KVBOX_AGENT");
	if (env && *env) {
		if (access(env, X_OK) < 0)
			return kv_err_sys(err, errno, "KVBOX_AGENT=%s", env);
		if (snprintf(buf, size, "%s", env) >= (int)size)
			return kv_err_set(err, ENAMETOOLONG, "KVBOX_AGENT is too long");
		return 0;
	}
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n < 0)
		return kv_err_sys(err, errno, "readlink /proc/self/exe");
	exe[n] = '\0';
	char *slash = strrchr(exe, '/');
	if (slash)
		*slash = '\0';
	if (try_path(buf, size, exe, "guest/kvbox-agent") ||
	    try_path(buf, size, exe, "../libexec/kvbox/kvbox-agent"))
		return 0;
	return kv_err_set(err, ENOENT,
			  "no kvbox-agent next to %s (guest/kvbox-agent, ../libexec/kvbox/): "
			  "set KVBOX_AGENT",
			  exe);
}
