/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Guest RAM loaded lazily from a snapshot's memory file (a template
 * restore: docs/architecture.md, "Templates").
 *
 * RAM stays the sandbox's memfd, mapped by the VMM and by the gofer (which
 * reads and writes 9P data straight into it), but it starts empty: the
 * image's data ranges are registered with userfaultfd (MISSING mode) in
 * both mappings, and the first touch of a page there -- by a vCPU through
 * KVM, by a device model, by the kernel on the VMM's or the gofer's
 * behalf (a read(2) into guest RAM) -- parks the toucher until a handler
 * thread has copied the block around it from the image's page cache into
 * the memfd (UFFDIO_COPY through the VMM's mapping; a fault in the
 * gofer's mapping is then woken with UFFDIO_WAKE on the gofer's fd: the
 * page is in the shared memfd now).  Pages outside the image's ranges
 * were zero in the image and are left to the kernel's ordinary zero fill.
 * The guest's RAM then holds only what it touched, not the whole image,
 * and the image's pages are read from one page cache shared by every
 * restore of the template.
 *
 * The handler thread ("kvbox-uffd") only reads the image's read-only
 * mapping and calls the three uffd ioctls; it never touches guest RAM, so
 * it cannot fault on itself.  It loads its own seccomp filter
 * (KV_SECCOMP_UFFD).  lazy_mem_fill() completes the load (a checkpoint of
 * the machine saves what the memfd holds).
 *
 * userfaultfd(2) needs CAP_SYS_PTRACE for faults taken in the kernel
 * (vm.unprivileged_userfaultfd is 0): the fds are made before the jails.
 * Where it is missing, the caller copies RAM as before.
 */
#ifndef KVBOX_VMM_LAZY_MEM_H
#define KVBOX_VMM_LAZY_MEM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/err.h"

#define LAZY_MAX_RANGES 256
#define LAZY_BLOCK	(64u << 10) /* bytes filled per fault, aligned */
#define LAZY_MAX_SHARED 4	    /* ranges given copy-on-write (the guest kernel's) */

struct lazy_range {
	uint64_t off, len; /* memfd offsets, page-aligned */
};

struct lazy_stats {
	uint64_t faults;			/* faults served (VMM and gofer) */
	uint64_t peer_faults;			/* ... of which in the gofer's mapping */
	uint64_t bytes;				/* bytes copied into RAM by the handler */
	uint64_t fill_bytes;			/* ... and by lazy_mem_fill */
	uint64_t serve_usec;			/* the handler's time in faults (copy + wake) */
	uint64_t prefetch_bytes, prefetch_usec; /* lazy_mem_prefetch */
};

struct lazy_mem {
	int uffd;		  /* the VMM's mapping */
	int peer_uffd;		  /* the gofer's mapping, or -1 */
	uint8_t *host;		  /* the VMM's mapping of the memfd */
	uint64_t peer_base;	  /* the gofer's mapping of it (its address space) */
	uint64_t total;		  /* bytes of RAM */
	const uint8_t *src;	  /* read-only mapping of the image's memory file */
	uint64_t *sums;		  /* its block sums (host order), or NULL: unchecked */
	_Atomic uint8_t *touched; /* per LAZY_BLOCK: 1 once a fault loaded it */
	struct lazy_range ranges[LAZY_MAX_RANGES];
	unsigned nranges;
	int stop_fd; /* eventfd: the thread ends */
	pthread_t thread;
	bool running;
	/* the handler met an error it could not serve (set by it, with
	 * release ordering after `why`: read it with lazy_mem_failed) */
	bool failed;
	/* called once, on the handler thread, when it fails (the VM cannot
	 * go on: something is parked on a page that will not come); set
	 * after lazy_mem_start, before anything can fault; NULL: a line on
	 * stderr */
	void (*on_fail)(void *ctx, const char *why);
	void *fail_ctx;
	char why[512];	/* ... what it was */
	char name[256]; /* the image, for messages (set by the caller, or "") */
	_Atomic uint64_t faults, peer_faults, bytes, fill_bytes, serve_usec;
	_Atomic uint64_t prefetch_bytes, prefetch_usec;
	/* ranges mapped copy-on-write from the image (lazy_mem_share) */
	struct lazy_range shared[LAZY_MAX_SHARED];
	unsigned nshared;
	uint64_t shared_usec; /* checking them */
};

/* The image's data ranges, from its block sums (SNAP_SEC_MEMSUMS as
 * stored: le64 XXH3-64 of each LAZY_BLOCK): the blocks whose sum is not
 * that of zeros, with holes shorter than `gap` merged, at most
 * LAZY_MAX_RANGES (the shortest holes merged first).  Returns the count,
 * or -errno.  A block the file no longer holds (a hole where data was) is
 * still registered, and fails its check when loaded. */
int lazy_mem_ranges_sums(const uint8_t *sums, uint64_t total, uint64_t gap, struct lazy_range *out,
			 unsigned max);

/* Pure: r[0..n) (ascending, disjoint) less every range of cut[0..ncut)
 * (ascending, disjoint), into out (at most max).  Returns the count, or
 * -E2BIG. */
int lazy_ranges_cut(const struct lazy_range *r, unsigned n, const struct lazy_range *cut,
		    unsigned ncut, struct lazy_range *out, unsigned max);

/* Pure: a template's SNAP_SEC_KERNEL_RO (le64 offset, le64 length pairs:
 * the guest kernel's text and read-only data in the RAM memfd) checked
 * against RAM of `total` bytes: at most LAZY_MAX_SHARED pairs, each
 * non-empty, LAZY_BLOCK-aligned, inside RAM, ascending and disjoint.
 * Returns the count, or -EINVAL. */
int lazy_shared_parse(const uint8_t *data, size_t len, uint64_t total, struct lazy_range *out);

/* A userfaultfd for the calling process's mappings (O_CLOEXEC |
 * O_NONBLOCK), or -errno (ENOSYS, EPERM without CAP_SYS_PTRACE). */
int lazy_mem_uffd(void);

/*
 * Arms lazy loading: host (total bytes, the VMM's memfd mapping) is
 * registered over `ranges`; if peer_uffd >= 0 the gofer's mapping at
 * peer_base is registered with it over the same ranges (the fd is taken
 * in every case); src is the image's memory file (an fd, mapped read-only
 * here); sums, if not NULL, its block sums as the image stores them (le64
 * XXH3-64 per LAZY_BLOCK, copied): each block is checked before it is
 * loaded, and a block that fails ends the VM (on_fail) rather than give
 * the guest a wrong page; the handler thread is started.  On failure nothing is
 * registered, the fds are closed, and the caller copies instead.
 */
int lazy_mem_start(struct lazy_mem *l, uint8_t *host, uint64_t total, int image_fd,
		   const uint8_t *sums, const struct lazy_range *ranges, unsigned nranges,
		   int peer_uffd, uint64_t peer_base, struct kv_err *err);

/* Loads the listed blocks (LAZY_BLOCK indices, ascending: a template's
 * working set, vmm/template.h) before the guest runs, each checked first,
 * runs of adjacent blocks in one copy: what the guest would otherwise
 * fault in one block at a time.  Blocks outside the ranges, or loaded
 * already, are skipped.  A block that fails its sum: -EBADMSG. */
int lazy_mem_prefetch(struct lazy_mem *l, const uint32_t *blocks, unsigned n, struct kv_err *err);

/* The blocks faults have loaded so far, ascending, into out (at most
 * max); returns how many. */
unsigned lazy_mem_touched(const struct lazy_mem *l, uint32_t *out, unsigned max);

/* After lazy_mem_start, before the guest runs: each of sh[0..n) (from
 * lazy_shared_parse, registered in no range) checked against its block
 * sums, then mapped copy-on-write from image_fd over the VMM's mapping.
 * The guest reads the image's page cache there, shared by every VM
 * restored from the image, and gets a page of its own where it writes.
 * The gofer's mapping is the memfd's: these ranges must hold nothing it
 * is given (the guest kernel's text and read-only data).  A block that
 * fails its sum: -EBADMSG, nothing mapped. */
int lazy_mem_share(struct lazy_mem *l, int image_fd, const struct lazy_range *sh, unsigned n,
		   struct kv_err *err);

/* Copies every page of the ranges not loaded yet (any thread), each
 * block checked first. */
int lazy_mem_fill(struct lazy_mem *l, struct kv_err *err);

/* With the vCPUs paused (a checkpoint): the shared ranges' contents, the
 * guest's writes included, copied into the memfd (memfd) and the memfd
 * mapped there again, so that RAM is the memfd's alone once more. */
int lazy_mem_unshare(struct lazy_mem *l, int memfd, struct kv_err *err);

void lazy_mem_stats(const struct lazy_mem *l, struct lazy_stats *st);

/* The handler's failure (l->why), or NULL while it has none. */
const char *lazy_mem_failed(const struct lazy_mem *l);

/* Ends the thread and closes everything (a parked toucher is woken and
 * falls back to the kernel's zero fill: only at teardown). */
void lazy_mem_stop(struct lazy_mem *l);

#endif
