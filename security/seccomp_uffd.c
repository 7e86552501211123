/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The lazy-RAM thread's allow-list (kvbox-uffd, vmm/lazy_mem.c), loaded
 * by the thread itself before it serves its first fault; the thread that
 * starts it waits for that.  It waits on its userfaultfds and a stop
 * eventfd, reads fault messages, and answers each with UFFDIO_COPY from
 * the image's read-only mapping into guest RAM (through the VMM's fd) and
 * UFFDIO_WAKE (a fault in the gofer's mapping); it checks each block
 * against its sum first, and one that fails stops the machine.  It never
 * opens, maps or sends anything.  Plus the shared base rules (security/seccomp_base.c),
 * whose `write` is its one error line.
 */
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>

#include "security/seccomp.h"

static const struct kv_seccomp_rule rules[] = {
    SC_ALLOW(poll),
    SC_ALLOW(ppoll),
    SC_ALLOW(read),
    SC_ARG(ioctl, 1, UFFDIO_COPY),
    SC_ARG(ioctl, 1, UFFDIO_WAKE),
    /* a block it cannot load: the VM is stopped (its vCPUs kicked,
     * tgkill to our own pid: base) and the VMM's ranges unregistered */
    SC_ARG(ioctl, 1, UFFDIO_UNREGISTER),
};

const struct kv_seccomp_policy kv_seccomp_uffd = {"uffd", rules, sizeof(rules) / sizeof(rules[0])};
