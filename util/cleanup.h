/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Scoped cleanup helpers (crun style).  A variable declared with one of
 * these attributes is released when it goes out of scope; hand ownership
 * on with take_ptr()/take_fd(), which return the value and disarm it.
 */
#ifndef KVBOX_UTIL_CLEANUP_H
#define KVBOX_UTIL_CLEANUP_H

#include <stdlib.h>
#include <unistd.h>
#include <stdio.h>

static inline void kv_freep(void *p)
{
	free(*(void **)p);
}

static inline void kv_closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}

static inline void kv_fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

#define cleanup_free   __attribute__((cleanup(kv_freep)))
#define cleanup_close  __attribute__((cleanup(kv_closep)))
#define cleanup_fclose __attribute__((cleanup(kv_fclosep)))

#define take_ptr(p)                                                                                \
	({                                                                                         \
		__typeof__(p) _t = (p);                                                            \
		(p) = NULL;                                                                        \
		_t;                                                                                \
	})

#define take_fd(fd)                                                                                \
	({                                                                                         \
		int _t = (fd);                                                                     \
		(fd) = -1;                                                                         \
		_t;                                                                                \
	})

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#ifndef container_of
#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))
#endif

#endif
