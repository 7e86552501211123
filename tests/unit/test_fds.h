/* SPDX-License-Identifier: Apache-2.0 */
/* For unit tests that check nothing is left open: include after cmocka.h. */
#ifndef KVBOX_TESTS_UNIT_TEST_FDS_H
#define KVBOX_TESTS_UNIT_TEST_FDS_H

#include <dirent.h>

/* Entries of /proc/self/fd (the directory's own fd and . and .. included:
 * compare two counts, never read one alone). */
static inline unsigned open_fds(void)
{
	unsigned n = 0;
	DIR *d = opendir("/proc/self/fd");
	assert_non_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

#endif
