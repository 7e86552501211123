/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Guest physical memory: one memfd mapped once, split into at most two
 * RAM regions around the x86 32-bit MMIO hole.  Every translation is of a
 * (gpa, len) range and is overflow-checked; there is no gpa-only lookup.
 * Tests build a struct guest_mem over a plain buffer with guest_mem_fake().
 */
#ifndef KVBOX_VMM_MEMORY_H
#define KVBOX_VMM_MEMORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define GUEST_MEM_MAX_REGIONS 2

struct guest_region {
	uint64_t gpa;	 /* guest-physical start */
	uint64_t size;	 /* bytes */
	uint64_t offset; /* offset into the memfd / host mapping */
};

struct guest_mem {
	int fd;		/* memfd backing all of RAM, -1 for fake or file-mapped memory */
	bool mapped;	/* host is our own mapping (memfd or file), unmapped on destroy */
	uint8_t *host;	/* host mapping of the whole memfd */
	uint64_t total; /* bytes of RAM (sum of regions) */
	unsigned nregions;
	struct guest_region regions[GUEST_MEM_MAX_REGIONS];
};

/* Creates a memfd of `bytes` (MAP_NORESERVE, touched lazily) and lays it out
 * below and above the MMIO hole starting at `hole_start` (4 GiB end). */
int guest_mem_create(struct guest_mem *m, uint64_t bytes, uint64_t hole_start, struct kv_err *err);
void guest_mem_destroy(struct guest_mem *m);

/* RAM as a private (copy-on-write) mapping of `bytes` of the file fd (a
 * snapshot's memory file, vmm/snapshot.h): pages are read from the page
 * cache when the guest first touches them, shared between every VM that
 * maps the same file, and copied on the first write.  Laid out as
 * guest_mem_create() does.  fd stays the caller's; m->fd is -1 (no memfd
 * to hand to a gofer). */
int guest_mem_map_file(struct guest_mem *m, int fd, uint64_t bytes, uint64_t hole_start,
		       struct kv_err *err);

/* Maps guest RAM another process created (the gofer, from the VMM's
 * memfd): `size` bytes of fd laid out as regions[0..n).  The fd must be
 * sealed against shrinking and hold `size` bytes; regions must lie inside
 * it, ascend and not overlap.  Takes fd on success (guest_mem_destroy
 * closes it). */
int guest_mem_from_fd(struct guest_mem *m, int fd, uint64_t size,
		      const struct guest_region *regions, unsigned nregions, struct kv_err *err);

/* Wraps an existing buffer as RAM at gpa 0 (tests, fuzzers). */
void guest_mem_fake(struct guest_mem *m, void *buf, uint64_t size);

/* Host pointer for [gpa, gpa+len) or NULL when any byte of it is not RAM or
 * the range wraps.  len == 0 is valid only for a gpa inside RAM. */
void *guest_mem_ptr(const struct guest_mem *m, uint64_t gpa, uint64_t len);

/* Copies in/out of guest memory; return 0 or -EFAULT. */
int guest_mem_write(const struct guest_mem *m, uint64_t gpa, const void *src, uint64_t len);
int guest_mem_read(const struct guest_mem *m, uint64_t gpa, void *dst, uint64_t len);

/* Highest RAM address below the MMIO hole (exclusive). */
uint64_t guest_mem_low_end(const struct guest_mem *m);

#endif
