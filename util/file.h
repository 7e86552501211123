/* SPDX-License-Identifier: Apache-2.0 */
/* Reading whole files with a size bound, and parsing sizes like "256M". */
#ifndef KVBOX_UTIL_FILE_H
#define KVBOX_UTIL_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/* Reads `path` into a malloc'd buffer of at most `max` bytes. */
int read_file_bounded(const char *path, size_t max, uint8_t **out, size_t *len, struct kv_err *err);

/* Parses "N", "NK", "NM", "NG", "NT" (binary units, optional "iB"/"B");
 * plain numbers are MiB, as in QEMU and Firecracker. */
int parse_size_mib_default(const char *s, uint64_t *bytes);

#endif
