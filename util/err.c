/* SPDX-License-Identifier: Apache-2.0 */
/* Implementation of the kv_err contract described in util/err.h. */
#include "util/err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

__attribute__((format(printf, 4, 0))) static int
kv_err_vset(struct kv_err *err, int errnum, int with_strerror, const char *fmt, va_list ap)
{
	if (errnum <= 0)
		errnum = EINVAL;
	if (!err)
		return -errnum;
	err->code = errnum;
	int n = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	if (with_strerror && n >= 0 && (size_t)n < sizeof(err->msg))
		snprintf(err->msg + n, sizeof(err->msg) - (size_t)n, ": %s", strerror(errnum));
	return -errnum;
}

int kv_err_set(struct kv_err *err, int errnum, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = kv_err_vset(err, errnum, 0, fmt, ap);
	va_end(ap);
	return r;
}

int kv_err_sys(struct kv_err *err, int errnum, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = kv_err_vset(err, errnum, 1, fmt, ap);
	va_end(ap);
	return r;
}

int kv_err_wrap(struct kv_err *err, int ret, const char *fmt, ...)
{
	if (!err)
		return ret;
	char prefix[KV_ERR_MSG_MAX];
	char old[KV_ERR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof(old));
	if (old[0])
		snprintf(err->msg, sizeof(err->msg), "%s: %s", prefix, old);
	else
		snprintf(err->msg, sizeof(err->msg), "%s", prefix);
	if (!err->code && ret < 0)
		err->code = -ret;
	return ret;
}

void kv_err_clear(struct kv_err *err)
{
	if (err) {
		err->code = 0;
		err->msg[0] = '\0';
	}
}
