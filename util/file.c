/* SPDX-License-Identifier: Apache-2.0 */
/* Bounded whole-file reads and size parsing; see util/file.h. */
#include "util/file.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/cleanup.h"

int read_file_bounded(const char *path, size_t max, uint8_t **out, size_t *len, struct kv_err *err)
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return kv_err_sys(err, errno, "%s", path);
	struct stat st;
	if (fstat(fd, &st) < 0)
		return kv_err_sys(err, errno, "%s", path);
	if (!S_ISREG(st.st_mode))
		return kv_err_set(err, EINVAL, "%s: not a regular file", path);
	if ((uint64_t)st.st_size > max)
		return kv_err_set(err, EFBIG, "%s: %lld bytes is larger than the %zu MiB limit",
				  path, (long long)st.st_size, max >> 20);
	size_t size = (size_t)st.st_size;
	cleanup_free uint8_t *buf = malloc(size ? size : 1);
	if (!buf)
		return kv_err_set(err, ENOMEM, "%s: cannot allocate %zu bytes", path, size);
	size_t got = 0;
	while (got < size) {
		ssize_t n = read(fd, buf + got, size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return kv_err_sys(err, errno, "%s", path);
		if (n == 0)
			return kv_err_set(err, EIO, "%s: file shrank while being read", path);
		got += (size_t)n;
	}
	*out = take_ptr(buf);
	*len = size;
	return 0;
}

int parse_size_mib_default(const char *s, uint64_t *bytes)
{
	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno)
		return -ERANGE;
	unsigned shift = 20;
	if (*end) {
		switch (toupper((unsigned char)*end)) {
		case 'K':
			shift = 10;
			break;
		case 'M':
			shift = 20;
			break;
		case 'G':
			shift = 30;
			break;
		case 'T':
			shift = 40;
			break;
		default:
			return -EINVAL;
		}
		end++;
		if (!strcasecmp(end, "iB") || !strcasecmp(end, "B"))
			end += strlen(end);
		if (*end)
			return -EINVAL;
	}
	if (v > (UINT64_MAX >> shift))
		return -ERANGE;
	*bytes = (uint64_t)v << shift;
	return 0;
}
