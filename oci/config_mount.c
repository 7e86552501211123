/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config.json "mounts[i]": destination, type, source, and the options
 * list classified exactly as runc 1.1's parseMountOptions does: mount(2)
 * flags to set or clear, propagation changes (in order), recursive
 * mount_setattr(2) attributes (rro, rnosuid, ...), the tmpcopyup
 * extension, and everything else joined as the filesystem's data string.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>

#include "oci/config_internal.h"
#include "util/cleanup.h"

struct mount_flag {
	const char *name;
	bool clear;
	unsigned long flag;
};

static const struct mount_flag mount_flags[] = {
    {"acl", false, MS_POSIXACL},
    {"async", true, MS_SYNCHRONOUS},
    {"atime", true, MS_NOATIME},
    {"bind", false, MS_BIND},
    {"defaults", false, 0},
    {"dev", true, MS_NODEV},
    {"diratime", true, MS_NODIRATIME},
    {"dirsync", false, MS_DIRSYNC},
    {"exec", true, MS_NOEXEC},
    {"iversion", false, MS_I_VERSION},
    {"lazytime", false, MS_LAZYTIME},
    {"loud", true, MS_SILENT},
    {"mand", false, MS_MANDLOCK},
    {"noacl", true, MS_POSIXACL},
    {"noatime", false, MS_NOATIME},
    {"nodev", false, MS_NODEV},
    {"nodiratime", false, MS_NODIRATIME},
    {"noexec", false, MS_NOEXEC},
    {"noiversion", true, MS_I_VERSION},
    {"nolazytime", true, MS_LAZYTIME},
    {"nomand", true, MS_MANDLOCK},
    {"norelatime", true, MS_RELATIME},
    {"nostrictatime", true, MS_STRICTATIME},
    {"nosuid", false, MS_NOSUID},
    {"nosymfollow", false, MS_NOSYMFOLLOW},
    {"rbind", false, MS_BIND | MS_REC},
    {"relatime", false, MS_RELATIME},
    {"remount", false, MS_REMOUNT},
    {"ro", false, MS_RDONLY},
    {"rw", true, MS_RDONLY},
    {"silent", false, MS_SILENT},
    {"strictatime", false, MS_STRICTATIME},
    {"suid", true, MS_NOSUID},
    {"symfollow", true, MS_NOSYMFOLLOW},
    {"sync", false, MS_SYNCHRONOUS},
};

/* shared with linux.rootfsPropagation (config_linux.c) */
const struct cfg_name cfg_propagation_names[] = {
    {"private", MS_PRIVATE},	   {"rprivate", MS_PRIVATE | MS_REC},
    {"shared", MS_SHARED},	   {"rshared", MS_SHARED | MS_REC},
    {"slave", MS_SLAVE},	   {"rslave", MS_SLAVE | MS_REC},
    {"unbindable", MS_UNBINDABLE}, {"runbindable", MS_UNBINDABLE | MS_REC},
};
const size_t cfg_n_propagation_names = ARRAY_SIZE(cfg_propagation_names);

/* runc's recAttrFlags, with its semantics: "r<attr>" sets, "r<no-attr>"
 * clears; an access-time value set also clears MOUNT_ATTR__ATIME, as
 * mount_setattr(2) requires. */
static const struct {
	const char *name;
	bool clear;
	uint64_t flag;
} rec_attrs[] = {
    {"rro", false, MOUNT_ATTR_RDONLY},
    {"rrw", true, MOUNT_ATTR_RDONLY},
    {"rnosuid", false, MOUNT_ATTR_NOSUID},
    {"rsuid", true, MOUNT_ATTR_NOSUID},
    {"rnodev", false, MOUNT_ATTR_NODEV},
    {"rdev", true, MOUNT_ATTR_NODEV},
    {"rnoexec", false, MOUNT_ATTR_NOEXEC},
    {"rexec", true, MOUNT_ATTR_NOEXEC},
    {"rnodiratime", false, MOUNT_ATTR_NODIRATIME},
    {"rdiratime", true, MOUNT_ATTR_NODIRATIME},
    {"rrelatime", false, MOUNT_ATTR_RELATIME},
    {"rnorelatime", true, MOUNT_ATTR_RELATIME},
    {"rnoatime", false, MOUNT_ATTR_NOATIME},
    {"ratime", true, MOUNT_ATTR_NOATIME},
    {"rstrictatime", false, MOUNT_ATTR_STRICTATIME},
    {"rnostrictatime", true, MOUNT_ATTR_STRICTATIME},
    {"rnosymfollow", false, MOUNT_ATTR_NOSYMFOLLOW},
    {"rsymfollow", true, MOUNT_ATTR_NOSYMFOLLOW},
};

static bool apply_flag(struct oci_mount *m, const char *o)
{
	for (size_t i = 0; i < ARRAY_SIZE(mount_flags); i++) {
		if (strcmp(mount_flags[i].name, o))
			continue;
		if (mount_flags[i].clear) {
			m->flags &= ~mount_flags[i].flag;
			m->clear_flags |= mount_flags[i].flag;
		} else {
			m->flags |= mount_flags[i].flag;
			m->clear_flags &= ~mount_flags[i].flag;
		}
		return true;
	}
	return false;
}

static bool apply_rec_attr(struct oci_mount *m, const char *o)
{
	for (size_t i = 0; i < ARRAY_SIZE(rec_attrs); i++) {
		if (strcmp(rec_attrs[i].name, o))
			continue;
		uint64_t f = rec_attrs[i].flag;
		if (rec_attrs[i].clear) {
			m->attr_clr |= f;
		} else {
			m->attr_set |= f;
			if ((f & MOUNT_ATTR__ATIME) == f)
				m->attr_clr |= MOUNT_ATTR__ATIME;
		}
		return true;
	}
	return false;
}

/* Appends o to m->data, comma-separated; the total is bounded by the
 * file size. */
static int append_data(struct cfg *c, struct oci_mount *m, const char *o)
{
	size_t old = m->data ? strlen(m->data) : 0, add = strlen(o);
	char *d = realloc(m->data, old + add + 2);
	if (!d)
		return cfg_oom(c);
	if (old)
		d[old++] = ',';
	memcpy(d + old, o, add + 1);
	m->data = d;
	return 0;
}

static int classify_options(struct cfg *c, struct oci_mount *m)
{
	if (m->options.n) {
		m->propagation = cfg_calloc(c, m->options.n, sizeof(*m->propagation));
		if (!m->propagation)
			return c->rc;
	}
	for (size_t i = 0; i < m->options.n && !c->rc; i++) {
		const char *o = m->options.v[i];
		long prop = cfg_lookup(cfg_propagation_names, cfg_n_propagation_names, o);
		if (prop >= 0)
			m->propagation[m->n_propagation++] = (unsigned long)prop;
		else if (!strcmp(o, "tmpcopyup"))
			m->tmpcopyup = true;
		else if (!apply_flag(m, o) && !apply_rec_attr(m, o))
			append_data(c, m, o);
	}
	m->bind = (m->flags & MS_BIND) || (m->type && !strcmp(m->type, "bind"));
	return c->rc;
}

int cfg_parse_mount(struct cfg *c, json_t *o, struct oci_mount *m)
{
	if (!cfg_val_is_obj(c, o))
		return c->rc;
	/* runc 1.1 prefixes a relative destination with "/" and warns; the
	 * spec says MUST be absolute, and a guess here would mount
	 * somewhere the user did not mean: refuse */
	cfg_abspath(c, o, "destination", true, &m->destination);
	cfg_str(c, o, "type", &m->type);
	cfg_str(c, o, "source", &m->source);
	if (!cfg_strv(c, o, "options", &m->options)) {
		size_t mk = cfg_push_key(c, "options");
		classify_options(c, m);
		cfg_pop(c, mk);
	}
	return c->rc;
}

void cfg_free_mount(struct oci_mount *m)
{
	free(m->destination);
	free(m->type);
	free(m->source);
	oci_strv_free(&m->options);
	free(m->propagation);
	free(m->data);
}
