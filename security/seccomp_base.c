/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Rules every role shares: what glibc itself needs to run a thread in
 * kvbox (memory, locks, time, exit, signal return).  Everything a role
 * does on purpose is in its own file.  Why each is here:
 */
#include <sys/mman.h>

#include "security/seccomp.h"

static const struct kv_seccomp_rule rules[] = {
    /* malloc: the heap, large blocks, arenas, freeing thread stacks.
     * No new executable memory: mmap/mprotect with PROT_EXEC are killed. */
    SC_ALLOW(brk),
    SC_MASK(mmap, 2, PROT_EXEC, 0),
    SC_MASK(mprotect, 2, PROT_EXEC, 0),
    SC_ALLOW(munmap),
    SC_ALLOW(mremap),
    SC_ALLOW(madvise),
    /* pthread mutexes, condition variables, joins; spin locks that give
     * the CPU away when contended (the sanitizer runtimes' internal
     * locks: an ASan vCPU thread was killed on sched_yield under load) */
    SC_ALLOW(futex),
    SC_ALLOW(sched_yield),
    /* time: vDSO normally; the syscall when the vDSO has no fast path */
    SC_ALLOW(clock_gettime),
    SC_ALLOW(gettimeofday),
    SC_ALLOW(time),
    /* a signal handler returning (the vCPU kick, SIGSYS never gets here) */
    SC_ALLOW(rt_sigreturn),
    /* blocking signals (pthread_create, raise, abort); abort() resets
     * SIGABRT to its default action before raising it again */
    SC_ALLOW(rt_sigprocmask),
    SC_ALLOW(rt_sigaction),
    /* raise()/abort() signal the calling thread: tgkill(own pid, ...) and
     * getpid/gettid to name it; nobody else can be signalled this way */
    SC_ALLOW(getpid),
    SC_ALLOW(gettid),
    SC_ARG(tgkill, 0, KV_SC_SELF_PID),
    /* sanitizer builds set up an alternate signal stack on each new
     * thread and query it before every noreturn call (_exit, abort) */
    SC_ALLOW(sigaltstack),
    /* error lines and logs go to stderr or a log file */
    SC_ALLOW(write),
    /* ending a thread or the process */
    SC_ALLOW(exit),
    SC_ALLOW(exit_group),
};

const struct kv_seccomp_policy kv_seccomp_base = {"base", rules, sizeof(rules) / sizeof(rules[0])};
