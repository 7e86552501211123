/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The CLI's allow-list: loaded by oci_cli_main() right before a command
 * that never runs another program (state, list, kill, ps, events, exec,
 * pause, resume, update, features, spec).  create, run, start and delete
 * run OCI hooks (oci/hooks.c posix_spawns any program the bundle names,
 * which must not inherit a filter) or fork+exec the sandbox, and delete
 * enters network namespaces: they run unfiltered (docs/security.md).
 * What the filtered commands do: read and write the state directory
 * (locks, atomic state.json), talk to a sandbox over its control socket
 * (SCM_RIGHTS stdio fds), check and signal processes through pidfds,
 * relay a local pty for `exec -t`, fork the detached waiter of `exec -d`,
 * read /dev/kvm's limits for `features`.  Plus the shared base rules
 * (security/seccomp_base.c).
 */
#include <fcntl.h>
#include <linux/kvm.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <termios.h>

#include "security/seccomp.h"

/* no new namespaces for a forked child */
#define NS_FLAGS                                                                                   \
	(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | \
	 CLONE_NEWCGROUP)

static const struct kv_seccomp_rule rules[] = {
    /* files: config.json, process.json, state.json (written to a temp
     * file, synced, renamed), pid files, /proc/PID/stat for start times,
     * the state directory listing (`list`), `spec`'s config.json */
    SC_ALLOW(openat),
    SC_ALLOW(read),
    SC_ALLOW(pread64),
    SC_ALLOW(readv),
    SC_ALLOW(writev),
    SC_ALLOW(close),
    SC_ALLOW(fstat),
    SC_ALLOW(newfstatat),
    SC_ALLOW(statx),
    SC_ALLOW(lseek),
    SC_ALLOW(getdents64),
    SC_ALLOW(readlink),
    SC_ALLOW(readlinkat),
    SC_ALLOW(access),
    SC_ALLOW(faccessat),
    SC_ALLOW(faccessat2),
    SC_ALLOW(getcwd),
    SC_ALLOW(mkdir),
    SC_ALLOW(mkdirat),
    SC_ALLOW(rmdir),
    SC_ALLOW(unlink),
    SC_ALLOW(unlinkat),
    SC_ALLOW(rename),
    SC_ALLOW(renameat),
    SC_ALLOW(renameat2),
    SC_ALLOW(fsync),
    SC_ALLOW(fchmod),
    SC_ALLOW(umask),
    /* the container's lock */
    SC_ALLOW(flock),
    SC_ALLOW(fcntl),
    /* stdio handed to the sandbox, the waiter's /dev/null */
    SC_ALLOW(dup),
    SC_ALLOW(dup2),
    SC_ALLOW(dup3),
    SC_ALLOW(pipe2),
    /* the control socket (AF_UNIX SOCK_SEQPACKET), a --console-socket
     * connected for exec -t, and exec -t's own terminal: a socketpair
     * whose other end goes to the (jailed) sandbox, which sends the pty
     * master back on it */
    SC_ARG(socket, 0, AF_UNIX),
    SC_ARG(socketpair, 0, AF_UNIX),
    SC_ALLOW(connect),
    SC_ALLOW(sendto),
    SC_ALLOW(sendmsg),
    SC_ALLOW(recvfrom),
    SC_ALLOW(recvmsg),
    SC_ALLOW(shutdown),
    SC_ALLOW(getsockopt),
    SC_ALLOW(setsockopt),
    /* waiting: the exec relay and exit, signals forwarded by a signalfd */
    SC_ALLOW(poll),
    SC_ALLOW(ppoll),
    SC_ALLOW(signalfd4),
    SC_ALLOW(nanosleep),
    SC_ALLOW(clock_nanosleep),
    /* processes: liveness and signals through pidfds, kill(2) as the
     * fallback to a sandbox; `exec` exits like its process */
    SC_ALLOW(pidfd_open),
    SC_ALLOW(pidfd_send_signal),
    SC_ALLOW(kill),
    SC_ALLOW(wait4),
    SC_ALLOW(getppid),
    SC_ARG2(prlimit64, 0, 0, 1, RLIMIT_CORE),
    SC_ARG(prctl, 0, PR_SET_DUMPABLE),
    /* `exec -d`: the detached waiter is a plain fork (no namespaces);
     * clone3 answers ENOSYS so the flags can be checked */
    SC_MASK(clone, 0, NS_FLAGS, 0),
    SC_ERRNO(clone3, 38 /* ENOSYS */),
    SC_ALLOW(set_robust_list),
    SC_ALLOW(rseq),
    /* ownership checks and the state's owner */
    SC_ALLOW(getuid),
    SC_ALLOW(geteuid),
    SC_ALLOW(getgid),
    SC_ALLOW(getegid),
    /* exec -t: the caller's terminal in raw mode and its window size */
    SC_ARG(ioctl, 1, TCGETS),
    SC_ARG(ioctl, 1, TCSETS),
    SC_ARG(ioctl, 1, TCSETSW),
    SC_ARG(ioctl, 1, TCSETSF),
    SC_ARG(ioctl, 1, TIOCGWINSZ),
    SC_ARG(ioctl, 1, TIOCSWINSZ),
    /* features: /dev/kvm's API version and limits */
    SC_ARG(ioctl, 1, KVM_GET_API_VERSION),
    SC_ARG(ioctl, 1, KVM_CHECK_EXTENSION),
    SC_ARG(ioctl, 1, KVM_GET_VCPU_MMAP_SIZE),
    /* jansson's hash seed */
    SC_ALLOW(getrandom),
};

const struct kv_seccomp_policy kv_seccomp_cli = {"cli", rules, sizeof(rules) / sizeof(rules[0])};
