/* SPDX-License-Identifier: Apache-2.0 */
/* Sanitizer builds and the jail: see util/sanitizer.h. */
#include "util/sanitizer.h"

#if defined(__SANITIZE_ADDRESS__)
#define KV_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define KV_ASAN 1
#endif
#endif

#ifdef KV_ASAN
#include <stdint.h>

#include <sanitizer/common_interface_defs.h>

static int jailed;

/* Called by LeakSanitizer at exit (a weak hook of its runtime). */
int __lsan_is_turned_off(void);
int __lsan_is_turned_off(void)
{
	return jailed;
}

void kv_sanitizer_jailed(void)
{
	jailed = 1;
	__sanitizer_set_report_fd((void *)(uintptr_t)2);
}
#else
void kv_sanitizer_jailed(void)
{
}
#endif
