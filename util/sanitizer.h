/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What a sanitizer build (meson -Db_sanitize=address,undefined, e.g.
 * build-asan/ and build-fuzz/) needs from a process that is about to lose
 * /proc and the host's file system: the jailed gofer and the jailed
 * sandbox.  There LeakSanitizer cannot run its exit check (it reads
 * /proc/self/task) and the runtime cannot open an ASAN_OPTIONS log_path
 * file; so the leak check is turned off for that process and reports go
 * to its stderr, where the tests that watch kvbox's stderr see them.  A
 * no-op in normal builds.
 */
#ifndef KVBOX_UTIL_SANITIZER_H
#define KVBOX_UTIL_SANITIZER_H

void kv_sanitizer_jailed(void);

#endif
