/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The VMM event loop's allow-list: the main thread of `kvbox boot` and of
 * `kvbox sandbox`, loaded by vm_run() once the loop is set up (every fd,
 * the gofer, the control socket, the raw terminal exist), before the vCPUs
 * may enter the guest.  The sandbox's stdio relay threads
 * (vmm/sandbox_stdio.c), created later by this thread, inherit it.  What
 * runs here: the epoll loop and every device or sandbox callback on it,
 * the agent channel, the control socket and its clients (exec with a pty
 * and --console-socket, pause/resume, update, stats), the relays, and the
 * way out (vCPUs stopped and joined, gofer ended, taps given back, the
 * sandbox exiting like the container's init).  It never forks or execs:
 * the gofer was started while the machine was built.  Plus the shared
 * base rules (security/seccomp_base.c).
 */
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <linux/netlink.h>
#include <linux/seccomp.h>
#include <linux/userfaultfd.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <termios.h>

#include "security/seccomp.h"

/* a thread, never a process: pthread_create's clone always has these */
#define THREAD_FLAGS (CLONE_VM | CLONE_THREAD | CLONE_SIGHAND)

static const struct kv_seccomp_rule rules[] = {
    /* the event loop: epoll, its fds, its signalfd; `write` is in base */
    SC_ALLOW(epoll_wait),
    SC_ALLOW(epoll_pwait),
    SC_ALLOW(epoll_ctl),
    SC_ALLOW(read),
    SC_ALLOW(readv),
    SC_ALLOW(writev),
    SC_ALLOW(close),
    /* new fds at run time: an epoll set (vm_run), a relay's cancel
     * eventfd, timers (boot/shutdown deadlines, the window-size tick) */
    SC_ALLOW(epoll_create1),
    SC_ALLOW(eventfd2),
    SC_ALLOW(signalfd4),
    SC_ALLOW(timerfd_create),
    SC_ALLOW(timerfd_settime),
    SC_ALLOW(timerfd_gettime),
    /* relays and clients wait on one or two fds */
    SC_ALLOW(poll),
    SC_ALLOW(ppoll),
    /* sockets: AF_UNIX only for the control socket's clients, vsock
     * connections (socketpairs), the --console-socket (connect + the pty
     * master by SCM_RIGHTS) and if_nametoindex(); netlink route only, to
     * give the container's addresses and routes back at the end */
    SC_ARG(socket, 0, AF_UNIX),
    SC_ARG2(socket, 0, AF_NETLINK, 2, NETLINK_ROUTE),
    SC_ARG(socketpair, 0, AF_UNIX),
    SC_ALLOW(accept),
    SC_ALLOW(accept4),
    SC_ALLOW(connect),
    SC_ALLOW(bind), /* the netlink socket's own address */
    SC_ALLOW(sendto),
    SC_ALLOW(sendmsg),
    SC_ALLOW(recvfrom),
    SC_ALLOW(recvmsg),
    SC_ALLOW(shutdown),
    SC_ALLOW(getsockopt), /* SO_PEERCRED of a control client, SO_ERROR */
    SC_ALLOW(setsockopt), /* NETLINK_EXT_ACK */
    SC_ALLOW(getsockname),
    /* the control socket's peer check compares uids */
    SC_ALLOW(getuid),
    SC_ALLOW(geteuid),
    SC_ALLOW(getgid),
    SC_ALLOW(getegid),
    /* ioctls: the guest's IOAPIC pins without an irqfd and the legacy
     * devices' interrupts on console input */
    SC_ARG(ioctl, 1, KVM_IRQ_LINE),
    /* virtio-net offloads at DRIVER_OK / reset when served here */
    SC_ARG(ioctl, 1, TUNSETOFFLOAD),
    /* terminals: kvbox boot restores the user's terminal; a container pty
     * (posix_openpt, grantpt, unlockpt, ptsname_r, raw mode, window size) */
    SC_ARG(ioctl, 1, TCGETS),
    SC_ARG(ioctl, 1, TCSETS),
    SC_ARG(ioctl, 1, TCSETSW),
    SC_ARG(ioctl, 1, TCSETSF),
    SC_ARG(ioctl, 1, TIOCGWINSZ),
    SC_ARG(ioctl, 1, TIOCSWINSZ),
    SC_ARG(ioctl, 1, TIOCGPTN),
    SC_ARG(ioctl, 1, TIOCSPTLCK),
    /* the pty's other end from its master (the jail's devpts has no
     * path the host knows) */
    SC_ARG(ioctl, 1, TIOCGPTPEER),
    /* if_nametoindex() of a tap or link at the end */
    SC_ARG(ioctl, 1, SIOCGIFINDEX),
    /* files: /dev/ptmx and the pty slave for a terminal, /dev/null;
     * the control socket and net state unlinked at the end */
    SC_ALLOW(openat),
    SC_ALLOW(fstat),
    SC_ALLOW(newfstatat),
    SC_ALLOW(statx),
    SC_ALLOW(unlinkat),
    SC_ALLOW(lseek),
    SC_ALLOW(fcntl),
    SC_ALLOW(dup),
    /* exec with linux.seccomp: the container's profile compiled to BPF by
     * libseccomp into a memfd, read back */
    SC_ALLOW(memfd_create),
    SC_ALLOW(pread64),
    /* libseccomp asking the kernel what it supports; a filter added by
     * this call can only take rights away */
    SC_ALLOW(seccomp),
    /* virtio-rng */
    SC_ALLOW(getrandom),
    /* relay threads: pthread_create.  clone3 answers ENOSYS so glibc falls
     * back to clone, whose flags can be checked: threads only */
    SC_MASK(clone, 0, THREAD_FLAGS, THREAD_FLAGS),
    SC_ERRNO(clone3, 38 /* ENOSYS */),
    SC_ALLOW(set_robust_list),
    SC_ALLOW(rseq),
    /* a sanitizer build's new thread reads its own attributes
     * (pthread_getattr_np) */
    SC_ALLOW(sched_getaffinity),
    /* (kicking a vCPU out of KVM_RUN is pthread_kill: tgkill to our own
     * pid, in base) */
    /* the gofer: SIGKILL when it misbehaves or does not stop, then reaped */
    SC_ARG(kill, 1, SIGKILL),
    SC_ALLOW(wait4),
    SC_ALLOW(waitid),
    SC_ALLOW(pidfd_open),
    SC_ALLOW(nanosleep),
    SC_ALLOW(clock_nanosleep),
    /* `kvbox boot --snapshot-on SIG` (vmm/boot_snapshot.c): with the
     * vCPUs parked, this thread reads the VM's and each vCPU's state
     * (get-only ioctls: nothing here changes a running guest) and writes
     * the image directory (mkdir, the files written at offsets, made
     * durable, the memory file sized first so it stays sparse; a failed save
     * removes what it wrote) */
    SC_ARG(ioctl, 1, KVM_CHECK_EXTENSION),
    SC_ARG(ioctl, 1, KVM_GET_MSR_INDEX_LIST),
    SC_ARG(ioctl, 1, KVM_GET_CLOCK),
    SC_ARG(ioctl, 1, KVM_GET_IRQCHIP),
    SC_ARG(ioctl, 1, KVM_GET_PIT2),
    SC_ARG(ioctl, 1, KVM_GET_REGS),
    SC_ARG(ioctl, 1, KVM_GET_SREGS),
    SC_ARG(ioctl, 1, KVM_GET_FPU),
    SC_ARG(ioctl, 1, KVM_GET_XSAVE),
    SC_ARG(ioctl, 1, KVM_GET_XSAVE2),
    SC_ARG(ioctl, 1, KVM_GET_XCRS),
    SC_ARG(ioctl, 1, KVM_GET_MSRS),
    SC_ARG(ioctl, 1, KVM_GET_LAPIC),
    SC_ARG(ioctl, 1, KVM_GET_CPUID2),
    SC_ARG(ioctl, 1, KVM_GET_MP_STATE),
    SC_ARG(ioctl, 1, KVM_GET_VCPU_EVENTS),
    SC_ARG(ioctl, 1, KVM_GET_DEBUGREGS),
    SC_ARG(ioctl, 1, KVM_GET_TSC_KHZ),
    SC_ALLOW(mkdir),
    SC_ALLOW(mkdirat),
    SC_ALLOW(ftruncate),
    SC_ALLOW(pwrite64),
    SC_ALLOW(fsync),
    SC_ALLOW(fdatasync),
    SC_ALLOW(rmdir), /* a failed save removes its partial image */
    /* `kvbox checkpoint` (vmm/snapshot_ckpt.c): the same, plus the
     * vsock's host -> guest bytes still unread in a device end, counted
     * and peeked (virtio/vsock_state.c; SO_PEEK_OFF is a setsockopt) */
    SC_ARG(ioctl, 1, FIONREAD),
    /* ... and RAM restored lazily from a template is loaded in full first
     * (vmm/lazy_mem.c: lazy_mem_fill, into the registered ranges only) */
    SC_ARG(ioctl, 1, UFFDIO_COPY),
    /* --debug: the loop's CPU time */
    SC_ALLOW(getrusage),
    /* the sandbox ends like the container's init: no core, not dumpable,
     * the signal's default action, raise() */
    SC_ARG2(prlimit64, 0, 0, 1, RLIMIT_CORE),
    SC_ARG(prctl, 0, PR_SET_DUMPABLE),
    SC_ARG(prctl, 0, PR_SET_NAME),
};

const struct kv_seccomp_policy kv_seccomp_vmm = {"vmm", rules, sizeof(rules) / sizeof(rules[0])};
