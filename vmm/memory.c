/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Guest RAM: a memfd mapped once with MAP_NORESERVE so pages are only
 * allocated when the guest touches them.  The memfd is what the gofer and
 * snapshots share.  Translation is always of a whole (gpa, len) range.
 */
#include "vmm/memory.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

/* Records the mapping p of `bytes` and splits it around the MMIO hole. */
static void layout(struct guest_mem *m, uint8_t *p, uint64_t bytes, uint64_t hole_start)
{
	(void)madvise(p, bytes, MADV_DONTDUMP);
	m->host = p;
	m->mapped = true;
	m->total = bytes;
	uint64_t low = bytes < hole_start ? bytes : hole_start;
	m->regions[0] = (struct guest_region){.gpa = 0, .size = low, .offset = 0};
	m->nregions = 1;
	if (bytes > low) {
		m->regions[1] = (struct guest_region){
		    .gpa = 0x100000000ULL, .size = bytes - low, .offset = low};
		m->nregions = 2;
	}
}

int guest_mem_create(struct guest_mem *m, uint64_t bytes, uint64_t hole_start, struct kv_err *err)
{
	memset(m, 0, sizeof(*m));
	m->fd = -1;
	if (bytes == 0 || bytes % 4096)
		return kv_err_set(err, EINVAL,
				  "guest memory size %llu is not a positive multiple of 4 KiB",
				  (unsigned long long)bytes);
	int fd = memfd_create("kvbox-guest-ram", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return kv_err_sys(err, errno, "memfd_create");
	if (ftruncate(fd, (off_t)bytes) < 0) {
		int e = errno;
		close(fd);
		return kv_err_sys(err, e, "sizing guest memory to %llu bytes",
				  (unsigned long long)bytes);
	}
	/* The size never changes after this: seal it so nobody who is handed
	 * the fd (the gofer) can shrink it under the VMM and fault it. */
	(void)fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
	if (p == MAP_FAILED) {
		int e = errno;
		close(fd);
		return kv_err_sys(err, e, "mapping %llu bytes of guest memory",
				  (unsigned long long)bytes);
	}
	m->fd = fd;
	layout(m, p, bytes, hole_start);
	return 0;
}

int guest_mem_map_file(struct guest_mem *m, int fd, uint64_t bytes, uint64_t hole_start,
		       struct kv_err *err)
{
	memset(m, 0, sizeof(*m));
	m->fd = -1;
	if (bytes == 0 || bytes % 4096)
		return kv_err_set(err, EINVAL,
				  "guest memory size %llu is not a positive multiple of 4 KiB",
				  (unsigned long long)bytes);
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE, fd, 0);
	if (p == MAP_FAILED)
		return kv_err_sys(err, errno, "mapping %llu bytes of the memory file",
				  (unsigned long long)bytes);
	layout(m, p, bytes, hole_start);
	return 0;
}

void guest_mem_destroy(struct guest_mem *m)
{
	if (m->host && m->mapped)
		munmap(m->host, m->total);
	if (m->fd >= 0)
		close(m->fd);
	m->host = NULL;
	m->mapped = false;
	m->fd = -1;
}

int guest_mem_from_fd(struct guest_mem *m, int fd, uint64_t size,
		      const struct guest_region *regions, unsigned nregions, struct kv_err *err)
{
	struct stat st;
	int seals = fcntl(fd, F_GET_SEALS);

	memset(m, 0, sizeof(*m));
	m->fd = -1;
	if (nregions == 0 || nregions > GUEST_MEM_MAX_REGIONS || size == 0)
		return kv_err_set(err, EINVAL, "guest memory: bad layout");
	for (unsigned i = 0; i < nregions; i++) {
		const struct guest_region *r = &regions[i];
		if (r->size == 0 || r->offset > size || r->size > size - r->offset ||
		    r->gpa + r->size < r->gpa ||
		    (i && r->gpa < regions[i - 1].gpa + regions[i - 1].size))
			return kv_err_set(err, EINVAL, "guest memory: bad region %u", i);
	}
	if (seals < 0 || !(seals & F_SEAL_SHRINK))
		return kv_err_set(err, EINVAL, "guest memory fd is not sealed against shrinking");
	if (fstat(fd, &st) < 0)
		return kv_err_sys(err, errno, "guest memory fd");
	if ((uint64_t)st.st_size < size)
		return kv_err_set(err, EINVAL, "guest memory fd is smaller than its layout");
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
	if (p == MAP_FAILED)
		return kv_err_sys(err, errno, "mapping %llu bytes of guest memory",
				  (unsigned long long)size);
	(void)madvise(p, size, MADV_DONTDUMP);
	m->fd = fd;
	m->mapped = true;
	m->host = p;
	m->total = size;
	m->nregions = nregions;
	memcpy(m->regions, regions, nregions * sizeof(*regions));
	return 0;
}

void guest_mem_fake(struct guest_mem *m, void *buf, uint64_t size)
{
	memset(m, 0, sizeof(*m));
	m->fd = -1;
	m->host = buf;
	m->total = size;
	m->regions[0] = (struct guest_region){.gpa = 0, .size = size, .offset = 0};
	m->nregions = 1;
}

void *guest_mem_ptr(const struct guest_mem *m, uint64_t gpa, uint64_t len)
{
	for (unsigned i = 0; i < m->nregions; i++) {
		const struct guest_region *r = &m->regions[i];
		if (gpa < r->gpa)
			continue;
		uint64_t off = gpa - r->gpa;
		if (off >= r->size)
			continue;
		/* off < size, so size - off cannot underflow: no addition of
		 * guest values that could wrap. */
		if (len > r->size - off)
			return NULL;
		return m->host + r->offset + off;
	}
	return NULL;
}

int guest_mem_write(const struct guest_mem *m, uint64_t gpa, const void *src, uint64_t len)
{
	void *p = guest_mem_ptr(m, gpa, len);
	if (!p)
		return -EFAULT;
	memcpy(p, src, len);
	return 0;
}

int guest_mem_read(const struct guest_mem *m, uint64_t gpa, void *dst, uint64_t len)
{
	const void *p = guest_mem_ptr(m, gpa, len);
	if (!p)
		return -EFAULT;
	memcpy(dst, p, len);
	return 0;
}

uint64_t guest_mem_low_end(const struct guest_mem *m)
{
	return m->nregions ? m->regions[0].gpa + m->regions[0].size : 0;
}
