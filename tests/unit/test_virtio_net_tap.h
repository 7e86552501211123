/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The last test of tests/unit/test_virtio_net.c: the device on a real tap
 * (virtio_net_tap_open(), TUNGETIFF/TUNSETVNETHDRSZ/TUNSETOFFLOAD) in a
 * network namespace of its own, which the test process enters with
 * unshare(CLONE_NEWNET) and leaves with setns().  The tap gets
 * 169.254.77.1/24 and a static neighbour entry for the guest's
 * 169.254.77.2; the fake guest sends an ICMP echo request whose checksum
 * it leaves to the host (NEEDS_CSUM: the kernel drops it unless the vnet
 * header arrived), and waits for the kernel's echo reply on rx.
 * Skipped when the namespace or the tap cannot be made (not root, no
 * /dev/net/tun).  No packet leaves the namespace.
 */
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <sys/ioctl.h>

static uint16_t ip_csum(const uint8_t *p, size_t len)
{
	uint32_t s = 0;
	for (size_t i = 0; i + 1 < len; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		s += (uint32_t)p[len - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static void sin_set(struct sockaddr *sa, const char *ip)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	inet_pton(AF_INET, ip, &sin.sin_addr);
	memcpy(sa, &sin, sizeof(sin));
}

/* Address, netmask, up, and a permanent neighbour entry for the guest. */
static int tap_configure(const char *name, const uint8_t *guest_mac, uint8_t *tap_mac)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct ifreq ifr = {0};
	int r = s < 0 ? -1 : 0;
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	sin_set(&ifr.ifr_addr, "169.254.77.1");
	r = r ?: ioctl(s, SIOCSIFADDR, &ifr);
	sin_set(&ifr.ifr_netmask, "255.255.255.0");
	r = r ?: ioctl(s, SIOCSIFNETMASK, &ifr);
	r = r ?: ioctl(s, SIOCGIFFLAGS, &ifr);
	ifr.ifr_flags |= IFF_UP;
	r = r ?: ioctl(s, SIOCSIFFLAGS, &ifr);
	r = r ?: ioctl(s, SIOCGIFHWADDR, &ifr);
	if (r == 0)
		memcpy(tap_mac, ifr.ifr_hwaddr.sa_data, 6);
	struct arpreq arp = {.arp_flags = ATF_PERM | ATF_COM};
	sin_set(&arp.arp_pa, "169.254.77.2");
	arp.arp_ha.sa_family = ARPHRD_ETHER;
	memcpy(arp.arp_ha.sa_data, guest_mac, 6);
	snprintf(arp.arp_dev, sizeof(arp.arp_dev), "%s", name);
	r = r ?: ioctl(s, SIOCSARP, &arp);
	if (s >= 0)
		close(s);
	return r;
}

/* Ethernet + IPv4 + ICMP echo request (id 0x4b56, seq 1, 32 bytes), ICMP
 * checksum left to the host. */
static uint32_t ping_frame(uint8_t *p, const uint8_t *dst, const uint8_t *src)
{
	memcpy(p, dst, 6);
	memcpy(p + 6, src, 6);
	p[12] = 0x08, p[13] = 0x00;
	uint8_t *ip = p + 14;
	memset(ip, 0, 20);
	ip[0] = 0x45, ip[3] = 60, ip[8] = 64, ip[9] = 1;
	inet_pton(AF_INET, "169.254.77.2", ip + 12);
	inet_pton(AF_INET, "169.254.77.1", ip + 16);
	uint16_t c = ip_csum(ip, 20);
	ip[10] = (uint8_t)(c >> 8), ip[11] = (uint8_t)c;
	uint8_t *icmp = ip + 20;
	memset(icmp, 0, 8);
	icmp[0] = 8, icmp[4] = 0x4b, icmp[5] = 0x56, icmp[7] = 1;
	fill(icmp + 8, 32, 42);
	return 14 + 60;
}

/* Waits for an echo reply in the rx used ring; true when one came. */
static bool wait_reply(struct fx *f, uint16_t *seen)
{
	for (int tries = 0; tries < 50; tries++) {
		struct pollfd p = {.fd = virtio_net_fd(&f->net), .events = POLLIN};
		if (poll(&p, 1, 100) == 1)
			virtio_net_poll(&f->net);
		for (; *seen != used_idx(f, NET_Q_RX); (*seen)++) {
			struct vring_used_elem e = used(f, NET_Q_RX, *seen);
			const uint8_t *b = f->ram + RXBUF(e.id) + 12;
			if (e.len >= 12 + 14 + 28 && b[12] == 0x08 && b[13] == 0 &&
			    b[14 + 9] == 1 && b[34] == 0 && b[38] == 0x4b && b[39] == 0x56)
				return true;
		}
	}
	return false;
}

static void test_net_real_tap(void **state)
{
	(void)state;
	int home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (home < 0 || unshare(CLONE_NEWNET) < 0) {
		if (home >= 0)
			close(home);
		skip(); /* needs CAP_SYS_ADMIN */
	}
	char name[IFNAMSIZ];
	struct kv_err err = {0};
	int fd = virtio_net_tap_open("kvbtest0", name, &err);
	if (fd < 0) {
		assert_int_equal(setns(home, CLONE_NEWNET), 0);
		close(home);
		skip(); /* no /dev/net/tun */
	}
	struct fx *f = calloc(1, sizeof(*f));
	f->host = -1;
	fx_init_fd(f, fd, false);
	close(fd);
	uint8_t guest_mac[6] = TEST_MAC, tap_mac[6];
	assert_int_equal(tap_configure(name, guest_mac, tap_mac), 0);

	probe(f, F_MRG | F_CSUM | F_GCSUM | F_GTSO4, 64);
	assert_int_equal(f->net.tun_offload, TUN_F_CSUM | TUN_F_TSO4); /* the ioctl worked */
	rx_post(f, 0, 32, 4096);
	kick(f, NET_Q_RX);
	struct virtio_net_hdr_v1 h = {
	    .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = 34, .csum_offset = 2};
	memcpy(f->ram + TXBUF, &h, 12);
	uint32_t len = ping_frame(f->ram + TXBUF + 12, tap_mac, guest_mac);
	avail(f, NET_Q_TX, desc(f, NET_Q_TX, TXBUF, 12 + len, 0));
	kick(f, NET_Q_TX);
	assert_int_equal(f->net.stats.tx_frames, 1);
	uint16_t seen = 0;
	assert_true(wait_reply(f, &seen));
	assert_int_equal(status(f), A | D | FOK | OK);

	fx_free(f);
	assert_int_equal(setns(home, CLONE_NEWNET), 0); /* the namespace and tap go */
	close(home);
}
