/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The vCPU threads' allow-list (kvbox-vcpuN, vmm/vcpu.c), loaded by each
 * thread before its first KVM_RUN.  A vCPU thread runs guest code and then
 * the device models of whatever the guest touched: port and MMIO exits go
 * to the legacy devices and the virtio-mmio registers, and a queue notify
 * without an ioeventfd (KVBOX_NO_IOEVENTFD, or a write KVM does not
 * match) serves the queue right here.  So next to KVM_RUN it needs what
 * the devices do on a register write.  Plus the shared base rules
 * (security/seccomp_base.c).
 */
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <signal.h>
#include <sys/socket.h>

#include "security/seccomp.h"

static const struct kv_seccomp_rule rules[] = {
    /* running the guest */
    SC_ARG(ioctl, 1, KVM_RUN),
    /* interrupts of the legacy devices (UART, RTC) and of a virtio slot
     * without an irqfd (KVBOX_NO_IRQFD): pulse an IOAPIC pin */
    SC_ARG(ioctl, 1, KVM_IRQ_LINE),
    /* a triple fault is reported with the guest's registers (read only) */
    SC_ARG(ioctl, 1, KVM_GET_REGS),
    SC_ARG(ioctl, 1, KVM_GET_SREGS),
    /* virtio-net DRIVER_OK and reset: the offloads the guest accepted */
    SC_ARG(ioctl, 1, TUNSETOFFLOAD),
    /* eventfds (irqfd, the stop and wake eventfds), tap frames and vsock
     * streams when a queue is served on this thread; `write` is in base */
    SC_ALLOW(read),
    SC_ALLOW(readv),
    SC_ALLOW(writev),
    /* vsock: bytes to and from a connection's socket, the gofer's control
     * socket (ACTIVATE and RESET are register writes: SCM_RIGHTS out, the
     * REPLY in), a tap's rx peek */
    SC_ALLOW(sendto),
    SC_ALLOW(sendmsg),
    SC_ALLOW(recvfrom),
    SC_ALLOW(recvmsg),
    /* vsock: a guest connecting to a host port gets a new socketpair;
     * shutting a stream down for writing */
    SC_ARG(socketpair, 0, AF_UNIX),
    SC_ALLOW(shutdown),
    /* vsock/net: watching or unwatching a socket or tap in the device's
     * private epoll set; closing a dropped connection */
    SC_ALLOW(epoll_ctl),
    SC_ALLOW(close),
    /* the gofer's reply deadline (10 s) during a virtio-9p reset */
    SC_ALLOW(poll),
    SC_ALLOW(ppoll),
    /* a gofer that misbehaves is killed (gofer/client.c gofer_lost) */
    SC_ARG(kill, 1, SIGKILL),
    /* virtio-rng served on this thread */
    SC_ALLOW(getrandom),
    /* flags of a new vsock socket */
    SC_ARG(fcntl, 1, F_GETFL),
    SC_ARG(fcntl, 1, F_SETFL),
};

const struct kv_seccomp_policy kv_seccomp_vcpu = {"vcpu", rules, sizeof(rules) / sizeof(rules[0])};
