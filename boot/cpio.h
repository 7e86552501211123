/* SPDX-License-Identifier: Apache-2.0 */
/*
 * An in-memory writer for "newc" cpio archives (the format the Linux
 * kernel unpacks as an initramfs).  The VMM builds the guest agent's
 * initramfs with it (guest/initramfs.c) and hands the buffer to the boot
 * code as the initrd, so nothing touches the disk.
 *
 * Entries are appended in order: the kernel's unpacker does not create
 * parent directories, so callers add a directory before what it holds.
 * Every entry is owned by root, with mtime 0, so the same inputs give the
 * same bytes.  The buffer grows up to a bound fixed at cpio_init(); the
 * first failure (bad name, over the bound, out of memory) sticks and every
 * later call returns it, so a builder can check once at cpio_finish().
 */
#ifndef KVBOX_BOOT_CPIO_H
#define KVBOX_BOOT_CPIO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define CPIO_NEWC_MAGIC "070701"
#define CPIO_HDR_SIZE	110u
#define CPIO_NAME_MAX	4096u /* bytes, without the NUL */
#define CPIO_TRAILER	"TRAILER!!!"

struct cpio_writer {
	uint8_t *buf;
	size_t len, cap;
	size_t max; /* bound on the whole archive */
	uint32_t next_ino;
	int err; /* sticky: 0 or -errno */
};

void cpio_init(struct cpio_writer *w, size_t max);

/* Names are relative ("dev/console"); one leading '/' is dropped.  Empty
 * names, "." or ".." components, empty components and names longer than
 * CPIO_NAME_MAX are refused with -EINVAL.  mode carries permission bits
 * only (07777); the file type comes from the call. */
int cpio_add_dir(struct cpio_writer *w, const char *name, mode_t mode);
int cpio_add_file(struct cpio_writer *w, const char *name, mode_t mode, const void *data,
		  size_t len);
int cpio_add_symlink(struct cpio_writer *w, const char *name, const char *target);
/* type is S_IFCHR, S_IFBLK, S_IFIFO or S_IFSOCK. */
int cpio_add_node(struct cpio_writer *w, const char *name, mode_t type, mode_t mode, unsigned major,
		  unsigned minor);

/* Appends the TRAILER!!! entry and hands the buffer over (the caller
 * frees *out); on any earlier failure returns it and frees the buffer. */
int cpio_finish(struct cpio_writer *w, uint8_t **out, size_t *len);

/* Releases the buffer without finishing (safe after cpio_finish). */
void cpio_free(struct cpio_writer *w);

#endif
