/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The error contract (docs/error-handling.md): a function that can fail
 * returns a negative errno-style value and, when given a non-NULL
 * struct kv_err, fills in one human-readable line.  Callers add context on
 * the way up with kv_err_wrap(), so the CLI prints "what failed, on what,
 * why" as a single line.
 */
#ifndef KVBOX_UTIL_ERR_H
#define KVBOX_UTIL_ERR_H

#include <stddef.h>

#define KV_ERR_MSG_MAX 512

struct kv_err {
	int code; /* positive errno value, 0 when unset */
	char msg[KV_ERR_MSG_MAX];
};

/* Sets err (if non-NULL) to the formatted message and returns -errnum. */
int kv_err_set(struct kv_err *err, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Like kv_err_set, appending ": strerror(errnum)". */
int kv_err_sys(struct kv_err *err, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefixes the existing message with context ("context: old message") and
 * returns ret unchanged, so callers can write `return kv_err_wrap(...)`. */
int kv_err_wrap(struct kv_err *err, int ret, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

void kv_err_clear(struct kv_err *err);

#endif
