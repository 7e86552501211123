/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The sandbox's network set-up (`--network sandbox`, the default): the
 * container's network namespace is the VM's outside.  For each interface
 * there (a veth from CNI, podman, docker...) other than lo:
 *
 *   1. read its MAC, MTU, IPv4 addresses, global IPv6 addresses and the
 *      routes through it (main table, not the kernel's own) over
 *      rtnetlink (util/rtnl.h);
 *   2. open a tap beside it (kvbtapN, virtio_net_tap_open), same MTU, up;
 *   3. join them with an ingress qdisc on each and a matchall filter
 *      whose mirred action redirects every frame to the other's egress:
 *      what the peer sends reaches the guest, what the guest sends leaves
 *      by the interface (Kata's tc mirroring);
 *   4. remove the addresses from the interface (it stays up): the host's
 *      stack must not answer for them; the guest does.
 *
 * The guest NIC gets the interface's MAC and MTU (virtio_net_params) and
 * the agent gives it the name, addresses and routes (agent_net_if in
 * CREATE).  Which namespace: the linux.namespaces "network" path, entered
 * with setns() before the VM is built; without a path, the one the
 * sandbox was started in, unless that is the host's (pid 1's): its
 * interfaces are never touched, and the guest has loopback only (as
 * `--network none`).
 *
 * Teardown gives everything back: the qdiscs (their filters go with
 * them) deleted, the addresses and routes put back on the interface, the
 * taps closed (they are not persistent: they vanish with the last fd).
 * The sandbox does it when it exits; what it did is also written to
 * ROOT/ID/net (OCI_NET_STATE), so `delete` can do the same after a
 * sandbox that was killed.  Both are safe to run twice.
 *
 * Trust: everything here acts on the host, with the caller's privileges,
 * in a namespace the caller named; the guest never drives it.  What the
 * guest can do is send frames, which leave by the interface as if the
 * container sent them there (the same as runc's container with that veth).
 */
#ifndef KVBOX_OCI_NET_H
#define KVBOX_OCI_NET_H

#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>

#include "guest/protocol.h"
#include "oci/config.h"
#include "util/err.h"
#include "virtio/net.h"

#define OCI_NET_MAX   4 /* VM_NET_MAX */
#define OCI_NET_STATE "net"
#define OCI_NET_TAP   "kvbtap"

enum oci_net_mode {
	OCI_NET_SANDBOX,
	OCI_NET_NONE,
};

/* One mirrored interface: what it had, and the tap beside it. */
struct oci_net_link {
	char name[IFNAMSIZ];
	char tap[IFNAMSIZ];
	int index, tap_index;
	int tap_fd;
	uint8_t mac[6];
	uint32_t mtu;
	bool qdisc_if, qdisc_tap; /* ingress qdiscs we added */
	bool flushed;		  /* addresses removed, to give back */
	unsigned naddrs, nroutes;
	struct agent_ip_addr addrs[AGENT_MAX_ADDRS];
	uint8_t addr_buf[AGENT_MAX_ADDRS][16];
	struct agent_route routes[AGENT_MAX_ADDRS];
	uint8_t dst_buf[AGENT_MAX_ADDRS][16], gw_buf[AGENT_MAX_ADDRS][16];
};

struct oci_net {
	char netns[4096]; /* the path entered, "" = where we started */
	uint64_t ns_dev, ns_ino;
	unsigned nlinks;
	struct oci_net_link links[OCI_NET_MAX];
	/* for the VM and the agent, valid while this lives */
	struct virtio_net_params params[OCI_NET_MAX];
	struct agent_net_if ifs[OCI_NET_MAX];
};

/* "sandbox" / "none" -> mode; -EINVAL otherwise. */
int oci_net_mode_parse(const char *s, enum oci_net_mode *mode);
const char *oci_net_mode_name(enum oci_net_mode mode);

/* In the sandbox, before the VM is built: enters the namespace and
 * mirrors its interfaces (above) into n, writing OCI_NET_STATE in
 * state_dirfd.  n is zeroed first; on failure what was done is undone. */
int oci_net_setup(struct oci_net *n, enum oci_net_mode mode, const struct oci_config *cfg,
		  int state_dirfd, struct kv_err *err);

/* Gives back what setup did (in the namespace the caller is in: the
 * sandbox never leaves it) and removes OCI_NET_STATE. */
void oci_net_teardown(struct oci_net *n, int state_dirfd);

/* `delete`: reads OCI_NET_STATE in state_dirfd (none: nothing to do),
 * enters its namespace, gives back what is left, returns to ours. */
int oci_net_cleanup(int state_dirfd, struct kv_err *err);

#endif
