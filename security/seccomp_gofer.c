/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The gofer's allow-list (`kvbox gofer`, gofer/), loaded once the jail is
 * complete (gofer/jail.c: mount namespace, pivot_root into the shares,
 * no_new_privs) and before the first message from the VMM.  From then on
 * the gofer is one thread that waits on its control socket and the
 * queues' ioeventfds, maps guest RAM from the memfd it is sent, and serves
 * 9P2000.L with *at() calls relative to fds it holds.  What it can no
 * longer do: open sockets, mount, change namespaces, exec, create
 * processes, trace, load BPF or modules.  Plus the shared base rules
 * (security/seccomp_base.c).
 */
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>

#include "security/seccomp.h"

static const struct kv_seccomp_rule rules[] = {
    /* the loop's own set-up, right after the filter (gofer/process.c):
     * an epoll set and a signalfd for SIGTERM/SIGINT/SIGHUP */
    SC_ALLOW(epoll_create1), SC_ALLOW(signalfd4),
    /* the loop: epoll over the control socket and the ioeventfds;
     * irqfd writes are `write`, in base */
    SC_ALLOW(epoll_wait), SC_ALLOW(epoll_pwait), SC_ALLOW(epoll_ctl), SC_ALLOW(read),
    /* control messages with SCM_RIGHTS fds (MEM, ACTIVATE; the REPLY) */
    SC_ALLOW(recvmsg), SC_ALLOW(sendmsg), SC_ALLOW(close),
    /* the SHUTDOWN wait and the control socket's deadline */
    SC_ALLOW(poll), SC_ALLOW(ppoll),
    /* 9P walks and opens: openat2 with RESOLVE_BENEATH |
     * RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS, and reopening a walked
     * inode through the kept /proc/self/fd */
    SC_ALLOW(openat2), SC_ALLOW(openat),
    /* duplicating a fid's fd (F_DUPFD_CLOEXEC), flags, and Tlock /
     * Tgetlock as open-file-description locks */
    SC_ARG(fcntl, 1, F_DUPFD_CLOEXEC), SC_ARG(fcntl, 1, F_GETFL), SC_ARG(fcntl, 1, F_SETFL),
    SC_ARG(fcntl, 1, F_GETFD), SC_ARG(fcntl, 1, F_SETFD), SC_ARG(fcntl, 1, F_OFD_SETLK),
    SC_ARG(fcntl, 1, F_OFD_GETLK),
    /* MEM: the guest-RAM memfd must be sealed against shrinking */
    SC_ARG(fcntl, 1, F_GET_SEALS),
    /* Tgetattr, Tstatfs */
    SC_ALLOW(fstat), SC_ALLOW(newfstatat), SC_ALLOW(statx), SC_ALLOW(fstatfs),
    /* Treaddir */
    SC_ALLOW(getdents64), SC_ALLOW(lseek),
    /* Tread / Twrite straight between the file and guest RAM */
    SC_ALLOW(preadv), SC_ALLOW(pwritev), SC_ALLOW(pread64), SC_ALLOW(pwrite64), SC_ALLOW(readv),
    SC_ALLOW(writev),
    /* Tsetattr: mode, owner, size, times */
    SC_ALLOW(fchmod), SC_ALLOW(fchmodat), SC_ALLOW(fchownat), SC_ALLOW(ftruncate),
    SC_ALLOW(utimensat),
    /* Tfsync */
    SC_ALLOW(fsync), SC_ALLOW(fdatasync),
    /* Tmkdir, Tmknod, Tsymlink, Tlink, Tunlinkat, Trenameat, Treadlink */
    SC_ALLOW(mkdirat), SC_ALLOW(mknodat), SC_ALLOW(symlinkat), SC_ALLOW(linkat), SC_ALLOW(unlinkat),
    SC_ALLOW(renameat), SC_ALLOW(renameat2), SC_ALLOW(readlinkat),
    /* Txattrwalk / Txattrcreate on an opened fd */
    SC_ALLOW(fgetxattr), SC_ALLOW(flistxattr), SC_ALLOW(fsetxattr), SC_ALLOW(fremovexattr),
    /* (MEM: guest RAM is the memfd the VMM sent, mapped shared by the
     * base rules' mmap, never executable) */
};

const struct kv_seccomp_policy kv_seccomp_gofer = {"gofer", rules,
						   sizeof(rules) / sizeof(rules[0])};
