/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-vsock driven end to end like a guest driver would (the small
 * driver in test_vsock_guest.h: rx buffers, tx packets, used rings over
 * fake RAM) against the host API (listeners, connect, socketpair fds,
 * poll): connections both ways with exact bytes, credit flow control in
 * both directions, shutdown and close both ways, resets, the connection
 * table limit, malformed packets, rx fairness and the event queue.
 * Checkpoint/restore: test_vsock_state.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <linux/virtio_ids.h>
#include <linux/vm_sockets.h>

#include "util/cleanup.h"

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

	bulk_to_host(&g, &c, fd, 1);
	bulk_to_guest(&g, &c, fd, 2);
	assert_int_equal(virtio_vsock_conn_count(&g.vs), 1);
	g_fini(&g);
}

/* The VMM connects to the agent's port; the guest answers, refuses, or the
 * VMM gives up first. */
static void test_host_connect(void **state)
{
	struct guest g;
	struct rxpkt p;
	g_init(&g);
	int fd = virtio_vsock_connect(&g.vs, AGENT_PORT, g_on_connect, &g, NULL);
	assert_true(fd >= 0);
	assert_true(g_recv(&g, &p));
	assert_int_equal(p.op, VIRTIO_VSOCK_OP_REQUEST);
	assert_int_equal(p.dst_port, AGENT_PORT);
	assert_true(p.src_port >= VSOCK_EPHEMERAL_BASE);
	assert_int_equal(p.buf_alloc, VSOCK_BUF_ALLOC);
	struct gconn c = {.gport = AGENT_PORT, .hport = p.src_port, .buf_alloc = 65536};

	/* Bytes written before the answer wait in the socket. */
	assert_int_equal(write(fd, "ping", 4), 4);
	g_pump(&g);
	assert_false(g_recv(&g, &p));
	assert_int_equal(g.connect_calls, 0);

	g_send(&g, &c, VIRTIO_VSOCK_OP_RESPONSE, 0, NULL, 0);
	g_pump(&g);
	assert_int_equal(g.connect_calls, 1);
	assert_int_equal(g.connect_result, 0);
	g_expect(&g, &c, VIRTIO_VSOCK_OP_RW, &p);
	assert_int_equal(p.len, 4);
	assert_memory_equal(p.data, "ping", 4);
	g_send(&g, &c, VIRTIO_VSOCK_OP_RW, 0, "pong", 4);
	uint8_t buf[4];
	host_read_all(&g, fd, buf, 4);
	assert_memory_equal(buf, "pong", 4);

	/* Refused: the guest has no listener and sends RST. */
	int fd2 = virtio_vsock_connect(&g.vs, 99, g_on_connect, &g, NULL);
	assert_true(fd2 >= 0);
	assert_true(g_recv(&g, &p));
	assert_int_equal(p.op, VIRTIO_VSOCK_OP_REQUEST);
	assert_int_not_equal(p.src_port, c.hport);
	struct gconn c2 = {.gport = 99, .hport = p.src_port};
	g_send(&g, &c2, VIRTIO_VSOCK_OP_RST, 0, NULL, 0);
	g_pump(&g);
	assert_int_equal(g.connect_calls, 2);
	assert_int_equal(g.connect_result, -ECONNREFUSED);
	host_expect_eof(&g, fd2);
	close(fd2);
	assert_int_equal(virtio_vsock_conn_count(&g.vs), 1);

	/* The VMM closes before the guest answers: the guest gets RST. */
	int fd3 = virtio_vsock_connect(&g.vs, 77, g_on_connect, &g, NULL);
	assert_true(g_recv(&g, &p));
	assert_int_equal(p.op, VIRTIO_VSOCK_OP_REQUEST);
	uint32_t hp3 = p.src_port;
	close(fd3);
	g_pump(&g);
	assert_true(g_recv(&g, &p));
	assert_int_equal(p.op, VIRTIO_VSOCK_OP_RST);
	assert_int_equal(p.src_port, hp3);
	assert_int_equal(g.connect_calls, 2);
	assert_int_equal(virtio_vsock_conn_count(&g.vs), 1);
	close(fd);
	g_fini(&g);
}

/* Host -> guest: never more than the guest's credit; the host's socket
 * fills up (EAGAIN) meanwhile; CREDIT_UPDATE resumes; CREDIT_REQUEST is
 * answered. */
static void test_credit_host_to_guest(void **state)
{
	struct guest g;
	struct gconn c;
	struct rxpkt p;
	g_init(&g);
	assert_int_equal(virtio_vsock_listen(&g.vs, HOST_PORT, g_on_accept, &g, NULL), 0);
	int fd = g_connect_buf(&g, &c, 5001, HOST_PORT, 8192);

	enum { LEN = 20000 };
	uint8_t out[LEN], in[LEN];
	fill_pattern(out, LEN, 3);
	assert_int_equal(write(fd, out, LEN), LEN);
	size_t got = 0;
	for (int round = 0; got < LEN; round++) {
		assert_true(round < 4);
		g_pump(&g);
		size_t this_round = 0;
		while (g_recv(&g, &p)) {
			assert_int_equal(p.op, VIRTIO_VSOCK_OP_RW);
			memcpy(in + got, p.data, p.len);
			got += p.len;
			this_round += p.len;
		}
		/* exactly the credit, or what is left */
		assert_int_equal(this_round,
				 LEN - (got - this_round) < 8192 ? LEN - (got - this_round) : 8192);
		g_pump(&g);
		assert_false(g_recv(&g, &p));	   /* nothing beyond the credit */
		c.fwd_cnt += (uint32_t)this_round; /* the guest app read it */
		g_send(&g, &c, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0);
	}
	assert_memory_equal(in, out, LEN);

	/* No credit: the host's writes stop with EAGAIN, bounded. */
	c.buf_alloc = 0;
	g_send(&g, &c, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0);
	static uint8_t chunk[65536];
	size_t queued = 0;
	for (;;) {
		g_pump(&g);
		ssize_t n = write(fd, chunk, sizeof(chunk));
		if (n < 0) {
			assert_int_equal(errno, EAGAIN);
			break;
		}
		queued += (size_t)n;
		assert_true(queued < 16u << 20);
	}
	assert_false(g_recv(&g, &p));

	/* CREDIT_REQUEST gets our numbers back. */
	g_send(&g, &c, VIRTIO_VSOCK_OP_CREDIT_REQUEST, 0, NULL, 0);
	g_expect(&g, &c, VIRTIO_VSOCK_OP_CREDIT_UPDATE, &p);
	assert_int_equal(p.buf_alloc, VSOCK_BUF_ALLOC);
	assert_int_equal(p.fwd_cnt, 0);

	/* Credit again: the backlog flows. */
	c.buf_alloc = 256 * 1024;
	g_send(&g, &c, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0);
	g_pump(&g);
	assert_true(g_recv(&g, &p));
	assert_int_equal(p.op, VIRTIO_VSOCK_OP_RW);
	g_fini(&g);
}

/* Guest -> host: a guest that honours credit stalls at 0 and is never
 * reset; one byte past the credit is hostile and costs it the connection. */
static void test_credit_guest_exceeds(void **state)
{
	struct guest g;
	struct gconn c;
	struct rxpkt p;
	g_init(&g);
	assert_int_equal(virtio_vsock_listen(&g.vs, HOST_PORT, g_on_accept, &g, NULL), 0);
	int fd = g_connect(&g, &c, 5002, HOST_PORT);
	size_t sent = guest_fill_credit(&g, &c);
	/* The socket took some, our buffer holds exactly buf_alloc. */
	assert_true(sent >= VSOCK_BUF_ALLOC);
	assert_int_equal(c.tx_cnt - c.peer_fwd_cnt, VSOCK_BUF_ALLOC);
	assert_int_equal(g.vs.stats.bad_packets, 0);

	g_send(&g, &c, VIRTIO_VSOCK_OP_RW, 0, "x", 1);
	g_expect(&g, &c, VIRTIO_VSOCK_OP_RST, &p);
	assert_int_equal(g.vs.stats.bad_packets, 1);
	host_expect_eof(&g, fd);
	assert_int_equal(virtio_vsock_conn_count(&g.vs), 0);
	g_fini(&g);
}

/* The guest closes (or resets) with a full backlog and a host that reads
 * late: every byte still reaches the host, then EOF. */
static void test_close_with_backlog(void **state)
{
	struct guest g;
	struct gconn c;
	struct rxpkt p;
	static uint8_t in[4 << 20];
	g_init(&g);
	assert_int_equal(virtio_vsock_listen(&g.vs, HOST_PORT, g_on_accept, &g, NULL), 0);
	for (int rst = 0; rst < 2; rst++) {
		int fd = g_connect(&g, &c, 5100 + (uint32_t)rst, HOST_PORT);
		size_t sent = guest_fill_credit(&g, &c);
		/* the socket is full and the device holds a whole buf_alloc */
		assert_int_equal(c.tx_cnt - c.peer_fwd_cnt, VSOCK_BUF_ALLOC);
		if (rst) {
			g_send(&g, &c, VIRTIO_VSOCK_OP_RST, 0, NULL, 0);
			assert_int_equal(virtio_vsock_conn_count(&g.vs), 0);
		} else {
			g_send(&g, &c, VIRTIO_VSOCK_OP_SHUTDOWN,
			       VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND, NULL, 0);
			g_pump(&g);
			assert_false(g_recv(&g, &p)); /* no RST before the bytes are out */
		}
		assert_true(sent < sizeof(in));
		host_read_all(&g, fd, in, sent);
		host_expect_eof(&g, fd);
		if (!rst)
			g_expect(&g, &c, VIRTIO_VSOCK_OP_RST, &p);
		assert_int_equal(virtio_vsock_conn_count(&g.vs), 0);
	}
	g_fini(&g);
}

/* ---- malformed packets ---- */

struct bad_case {
	const char *name;
	uint64_t src_cid, dst_cid;
	uint16_t type, op;
	uint32_t len;	  /* header len field */
	uint32_t payload; /* bytes really in the chain after the header */
	uint32_t hdr_len; /* bytes of header in the chain */
	bool rst;	  /* an RST comes back */
};

static const struct bad_case bad_cases[] = {
    {"wrong src_cid", 7, 2, 1, VIRTIO_VSOCK_OP_REQUEST, 0, 0, 44, true},
    {"wrong dst_cid", G_CID, 3, 1, VIRTIO_VSOCK_OP_REQUEST, 0, 0, 44, true},
    {"dst_cid is the guest", G_CID, G_CID, 1, VIRTIO_VSOCK_OP_RW, 0, 0, 44, true},
    {"huge len", G_CID, 2, 1, VIRTIO_VSOCK_OP_RW, 0xfffffff0u, 16, 44, true},
    {"len over 64 KiB", G_CID, 2, 1, VIRTIO_VSOCK_OP_RW, 65537, 65537, 44, true},
    {"len past the chain", G_CID, 2, 1, VIRTIO_VSOCK_OP_RW, 100, 40, 44, true},
    {"op 0", G_CID, 2, 1, 0, 0, 0, 44, true},
    {"op 8", G_CID, 2, 1, 8, 0, 0, 44, true},
    {"op 0xffff", G_CID, 2, 1, 0xffff, 0, 0, 44, true},
    {"seqpacket", G_CID, 2, VIRTIO_VSOCK_TYPE_SEQPACKET, VIRTIO_VSOCK_OP_REQUEST, 0, 0, 44, true},
    {"type 0", G_CID, 2, 0, VIRTIO_VSOCK_OP_REQUEST, 0, 0, 44, true},
    {"payload on REQUEST", G_CID, 2, 1, VIRTIO_VSOCK_OP_REQUEST, 5, 5, 44, true},
    {"RST with a bad cid", 9, 2, 1, VIRTIO_VSOCK_OP_RST, 0, 0, 44, false},
    {"short header", G_CID, 2, 1, VIRTIO_VSOCK_OP_REQUEST, 0, 0, 20, false},
    {"one byte", G_CID, 2, 1, VIRTIO_VSOCK_OP_REQUEST, 0, 0, 1, false},
};

static void send_bad(struct guest *g, const struct bad_case *bc, uint32_t gport, uint32_t hport)
{
	static uint8_t pkt[44 + 65537];
	struct virtio_vsock_hdr h = {
	    .src_cid = htole64(bc->src_cid),
	    .dst_cid = htole64(bc->dst_cid),
	    .src_port = htole32(gport),
	    .dst_port = htole32(hport),
	    .len = htole32(bc->len),
	    .type = htole16(bc->type),
	    .op = htole16(bc->op),
	    .buf_alloc = htole32(4096),
	};
	memcpy(pkt, &h, sizeof(h));
	g_send_raw(g, pkt, bc->hdr_len, pkt + 44, bc->payload, bc->payload > 0);
}

static void test_malformed(void **state)
{
	struct guest g;
	struct gconn c;
	struct rxpkt p;
	g_init(&g);
	assert_int_equal(virtio_vsock_listen(&g.vs, HOST_PORT, g_on_accept, &g, NULL), 0);
	for (unsigned i = 0; i < ARRAY_SIZE(bad_cases); i++) {
		const struct bad_case *bc = &bad_cases[i];
		uint64_t bad_before = g.vs.stats.bad_packets;
		send_bad(&g, bc, 6000 + i, HOST_PORT);
		g_pump(&g);
		if (bc->rst) {
			if (!g_recv(&g, &p))
				fail_msg("%s: no RST", bc->name);
			assert_int_equal(p.op, VIRTIO_VSOCK_OP_RST);
			assert_int_equal(p.dst_port, 6000 + i);
			assert_int_equal(p.src_port, HOST_PORT);
		}
		if (g_recv(&g, &p))
			fail_msg("%s: unexpected op %u", bc->name, p.op);
		assert_int_equal(g.vs.stats.bad_packets, bad_before + 1);
		assert_int_equal(g.naccepted, 0);
		assert_int_equal(r32(&g.vs.vdev, VIRTIO_MMIO_STATUS), A | D | FOK | OK);
	}
	assert_int_equal(virtio_vsock_conn_count(&g.vs), 0);

	/* A valid packet for no connection: RST, not counted as bad. */
	c = (struct gconn){.gport = 7000, .hport = HOST_PORT};
	g_send(&g, &c, VIRTIO_VSOCK_OP_RW, 0, "zz", 2);
	g_expect(&g, &c, VIRTIO_VSOCK_OP_RST, &p);
	/* REQUEST to a port nobody listens on: RST (connection refused). */
	c.hport = 4321;
	g_send(&g, &c, VIRTIO_VSOCK_OP_REQUEST, 0, NULL, 0);
	g_expect(&g, &c, VIRTIO_VSOCK_OP_RST, &p);

	/* The device still works; a bad packet on a live connection resets
	 * that one connection, not its neighbour. */
	struct gconn c2;
	int fd = g_connect(&g, &c, 7001, HOST_PORT);
	int fd2 = g_connect(&g, &c2, 7002, HOST_PORT);
	send_bad(&g, &bad_cases[7], 7001, HOST_PORT); /* op 8 */
	g_expect(&g, &c, VIRTIO_VSOCK_OP_RST, &p);
	host_expect_eof(&g, fd);
	g_send(&g, &c, VIRTIO_VSOCK_OP_REQUEST, 0, NULL, 0); /* after RST: fine again */
	g_expect(&g, &c, VIRTIO_VSOCK_OP_RESPONSE, &p);
	/* ... and so do a second REQUEST and data after SHUTDOWN(SEND) */
	g_send(&g, &c, VIRTIO_VSOCK_OP_REQUEST, 0, NULL, 0);
	g_expect(&g, &c, VIRTIO_VSOCK_OP_RST, &p);
	g_send(&g, &c2, VIRTIO_VSOCK_OP_RW, 0, "ok", 2);
	uint8_t buf[2];
	host_read_all(&g, fd2, buf, 2);
	assert_memory_equal(buf, "ok", 2);
	g_send(&g, &c2, VIRTIO_VSOCK_OP_SHUTDOWN, VIRTIO_VSOCK_SHUTDOWN_SEND, NULL, 0);
	g_send(&g, &c2, VIRTIO_VSOCK_OP_RW, 0, "no", 2);
	g_expect(&g, &c2, VIRTIO_VSOCK_OP_RST, &p);
	host_expect_eof(&g, fd2);
	g_pump(&g);
	assert_int_equal(virtio_vsock_conn_count(&g.vs), 0);
	assert_int_equal(r32(&g.vs.vdev, VIRTIO_MMIO_STATUS), A | D | FOK | OK);
	g_fini(&g);
}

/* ---- shutdown and close ---- */

static void test_shutdown_guest_first(void **state)
{
	struct guest g;
	struct gconn c;
	struct rxpkt p;
	uint8_t buf[3];
	g_init(&g);
	assert_int_equal(virtio_vsock_listen(&g.vs, HOST_PORT, g_on_accept, &g, NULL), 0);
	int fd = g_connect(&g, &c, 5003, HOST_PORT);
	g_send(&g, &c, VIRTIO_VSOCK_OP_RW, 0, "abc", 3);
	g_send(&g, &c, VIRTIO_VSOCK_OP_SHUTDOWN, VIRTIO_VSOCK_SHUTDOWN_SEND, NULL, 0);
	host_read_all(&g, fd, buf, 3);
	assert_memory_equal(buf, "abc", 3);
	host_expect_eof(&g, fd);
	/* the other direction still works */
	assert_int_equal(write(fd, "xyz", 3), 3);
	g_pump(&g);
	g_expect(&g, &c, VIRTIO_VSOCK_OP_RW, &p);
	assert_memory_equal(p.data, "xyz", 3);
	shutdown(fd, SHUT_WR);
	g_pump(&g);
	g_expect(&g, &c, VIRTIO_VSOCK_OP_SHUTDOWN, &p);
	assert_int_equal(p.flags, VIRTIO_VSOCK_SHUTDOWN_SEND);
	/* the guest closes: our RST ends it */
	g_send(&g, &c, VIRTIO_VSOCK_OP_SHUTDOWN,
	       VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND, NULL, 0);
	g_expect(&g, &c, VIRTIO_VSOCK_OP_RST, &p);
	assert_int_equal(virtio_vsock_conn_count(&g.vs), 0);
	g_pump(&g);
	assert_false(g_recv(&g, &p));
	/* guest shuts its receive side: host writes fail with EPIPE */
	int fd2 = g_connect(&g, &c, 5004, HOST_PORT);
	g_send(&g, &c, VIRTIO_VSOCK_OP_SHUTDOWN, VIRTIO_VSOCK_SHUTDOWN_RCV, NULL, 0);
	assert_int_equal(send(fd2, "x", 1, MSG_NOSIGNAL), -1);
	assert_int_equal(errno, EPIPE);
	g_fini(&g);
}

static void test_shutdown_host_first(void **state)
{
	struct guest g;
	struct gconn c;
	struct rxpkt p;
	uint8_t buf[4];
	g_init(&g);
	assert_int_equal(virtio_vsock_listen(&g.vs, HOST_PORT, g_on_accept, &g, NULL), 0);

	/* Half-close: the guest sees SHUTDOWN(SEND) after the data, and can
	 * still send. */
	int fd = g_connect(&g, &c, 5005, HOST_PORT);
	assert_int_equal(write(fd, "end", 3), 3);
	shutdown(fd, SHUT_WR);
	g_pump(&g);
	g_expect(&g, &c, VIRTIO_VSOCK_OP_RW, &p);
	assert_memory_equal(p.data, "end", 3);
	g_expect(&g, &c, VIRTIO_VSOCK_OP_SHUTDOWN, &p);
	assert_int_equal(p.flags, VIRTIO_VSOCK_SHUTDOWN_SEND);
	g_send(&g, &c, VIRTIO_VSOCK_OP_RW, 0, "more", 4);
	host_read_all(&g, fd, buf, 4);
	assert_memory_equal(buf, "more", 4);
	g_send(&g, &c, VIRTIO_VSOCK_OP_SHUTDOWN,
	       VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND, NULL, 0);
	g_expect(&g, &c, VIRTIO_VSOCK_OP_RST, &p);
	host_expect_eof(&g, fd);
	g.accepted[0] = -1;
	close(fd);

	/* Close: data, then SHUTDOWN(both); data in flight is dropped; the
	 * guest's RST frees the connection. */
	fd = g_connect(&g, &c, 5006, HOST_PORT);
	assert_int_equal(write(fd, "bye", 3), 3);
	close(fd);
	g.accepted[1] = -1;
	g_pump(&g);
	g_expect(&g, &c, VIRTIO_VSOCK_OP_RW, &p);
	assert_memory_equal(p.data, "bye", 3);
	g_expect(&g, &c, VIRTIO_VSOCK_OP_SHUTDOWN, &p);
	assert_int_equal(p.flags, VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND);
	g_send(&g, &c, VIRTIO_VSOCK_OP_RW, 0, "late", 4);
	assert_false(g_recv(&g, &p));
	assert_int_equal(virtio_vsock_conn_count(&g.vs), 1);
	g_send(&g, &c, VIRTIO_VSOCK_OP_RST, 0, NULL, 0);
	assert_int_equal(virtio_vsock_conn_count(&g.vs), 0);
	assert_false(g_recv(&g, &p));
	assert_int_equal(g.vs.stats.bad_packets, 0);
	g_fini(&g);
}

/* ---- limits, resets ---- */

static void test_table_full(void **state)
{
	struct guest g;
	struct gconn c[5];
	struct rxpkt p;
	g_init_max(&g, 4);
	assert_int_equal(virtio_vsock_listen(&g.vs, HOST_PORT, g_on_accept, &g, NULL), 0);
	for (unsigned i = 0; i < 4; i++)
		g_connect(&g, &c[i], 8000 + i, HOST_PORT);
	assert_int_equal(virtio_vsock_conn_count(&g.vs), 4);
	c[4] = (struct gconn){.gport = 8004, .hport = HOST_PORT};
	g_send(&g, &c[4], VIRTIO_VSOCK_OP_REQUEST, 0, NULL, 0);
	g_expect(&g, &c[4], VIRTIO_VSOCK_OP_RST, &p);
	struct kv_err err;
	assert_int_equal(virtio_vsock_connect(&g.vs, AGENT_PORT, NULL, NULL, &err), -ENOSPC);
	assert_non_null(strstr(err.msg, "connections in use"));

	/* The guest resets one: its host fd sees EOF (after the bytes already
	 * sent), the slot is free again. */
	g_send(&g, &c[1], VIRTIO_VSOCK_OP_RW, 0, "last", 4);
	g_send(&g, &c[1], VIRTIO_VSOCK_OP_RST, 0, NULL, 0);
	assert_int_equal(virtio_vsock_conn_count(&g.vs), 3);
	uint8_t buf[4];
	host_read_all(&g, g.accepted[1], buf, 4);
	assert_memory_equal(buf, "last", 4);
	host_expect_eof(&g, g.accepted[1]);
	assert_false(g_recv(&g, &p));
	g_connect(&g, &c[4], 8004, HOST_PORT);
	assert_int_equal(virtio_vsock_conn_count(&g.vs), 4);
	g_fini(&g);
}

/* Two busy connections share the guest's rx buffers turn by turn. */
static void test_rx_fairness(void **state)
{
	struct guest g;
	struct gconn a, b;
	struct rxpkt p;
	static uint8_t data[65536];
	g_init(&g);
	assert_int_equal(virtio_vsock_listen(&g.vs, HOST_PORT, g_on_accept, &g, NULL), 0);
	int fa = g_connect(&g, &a, 9000, HOST_PORT);
	int fb = g_connect(&g, &b, 9001, HOST_PORT);
	g.no_repost = true; /* 32 buffers for 33 packets' worth of bytes */
	assert_int_equal(write(fa, data, sizeof(data)), sizeof(data));
	assert_int_equal(write(fb, data, sizeof(data)), sizeof(data));
	g_pump(&g);
	uint32_t last = 0;
	unsigned n = 0;
	while (g_recv(&g, &p)) {
		assert_int_equal(p.op, VIRTIO_VSOCK_OP_RW);
		assert_int_not_equal(p.dst_port, last);
		last = p.dst_port;
		n++;
	}
	assert_int_equal(n, 32); /* every buffer the guest had */
	g_fini(&g);
}

/* No rx buffers: nothing is lost, everything waits for the guest. */
static void test_rx_starvation(void **state)
{
	struct guest g;
	struct gconn c;
	struct rxpkt p;
	g_init(&g);
	assert_int_equal(virtio_vsock_listen(&g.vs, HOST_PORT, g_on_accept, &g, NULL), 0);
	/* use up all 32 buffers but one on a first connection */
	int f0 = g_connect(&g, &c, 9100, HOST_PORT);
	g.no_repost = true;
	static uint8_t fill[31 * 4000];
	assert_int_equal(write(f0, fill, sizeof(fill)), sizeof(fill));
	g_pump(&g);
	for (int i = 0; i < 31; i++)
		assert_true(g_recv(&g, &p));
	/* the REQUEST takes the last buffer for its RESPONSE, then data waits */
	g_connect(&g, &c, 9101, HOST_PORT);
	int fd = g.accepted[1];
	assert_int_equal(write(fd, "wait", 4), 4);
	g_pump(&g);
	assert_false(g_recv(&g, &p));
	g_post_rx(&g, 2);
	g_expect(&g, &c, VIRTIO_VSOCK_OP_RW, &p);
	assert_memory_equal(p.data, "wait", 4);
	assert_int_equal(write(fd, "last", 4), 4);
	g_pump(&g);
	g_expect(&g, &c, VIRTIO_VSOCK_OP_RW, &p);

	/* A host connect the guest never saw, abandoned: no RST either. */
	int h = virtio_vsock_connect(&g.vs, AGENT_PORT, g_on_connect, &g, NULL);
	assert_true(h >= 0);
	assert_int_equal(virtio_vsock_conn_count(&g.vs), 3);
	close(h);
	g_pump(&g);
	assert_int_equal(virtio_vsock_conn_count(&g.vs), 2);
	g_post_rx(&g, 4);
	g_pump(&g);
	assert_false(g_recv(&g, &p));
	assert_int_equal(g.connect_calls, 0);
	g_fini(&g);
}

/* rx buffers with no room past the header come back empty; the data
 * waits for a real one, and nothing spins meanwhile. */
static void test_rx_small_buffers(void **state)
{
	struct guest g;
	struct gconn c;
	struct rxpkt p;
	static uint8_t fill[32 * 4052];
	g_init(&g);
	assert_int_equal(virtio_vsock_listen(&g.vs, HOST_PORT, g_on_accept, &g, NULL), 0);
	int fd = g_connect(&g, &c, 9150, HOST_PORT);
	g.no_repost = true;
	assert_int_equal(write(fd, fill, sizeof(fill)), sizeof(fill));
	g_pump(&g);
	for (int i = 0; i < 32; i++)
		g_expect(&g, &c, VIRTIO_VSOCK_OP_RW, &p);
	assert_int_equal(write(fd, "tiny", 4), 4);
	g_pump(&g);
	const uint32_t lens[] = {VSOCK_HDR_LEN, 10};
	for (unsigned i = 0; i < 2; i++) {
		uint16_t id = (uint16_t)(g.rx_posted++ % G_QSIZE);
		g_desc(&g, VSOCK_Q_RX, id, RXBUF_GPA + id * RXBUF_SIZE, lens[i], VRING_DESC_F_WRITE,
		       0);
		g_avail(&g, VSOCK_Q_RX, id);
	}
	g_kick(&g, VSOCK_Q_RX);
	for (unsigned i = 0; i < 2; i++) {
		assert_int_not_equal(g_used_idx(&g, VSOCK_Q_RX), g.last_used[VSOCK_Q_RX]);
		assert_int_equal(g_used(&g, VSOCK_Q_RX, g.last_used[VSOCK_Q_RX]++).len, 0);
	}
	assert_int_equal(g_used_idx(&g, VSOCK_Q_RX), g.last_used[VSOCK_Q_RX]);
	g_post_rx(&g, 1);
	g_expect(&g, &c, VIRTIO_VSOCK_OP_RW, &p);
	assert_memory_equal(p.data, "tiny", 4);
	g_fini(&g);
}

static void test_event_transport_reset(void **state)
{
	struct guest g;
	struct gconn c;
	g_init(&g);
	assert_int_equal(virtio_vsock_listen(&g.vs, HOST_PORT, g_on_accept, &g, NULL), 0);
	int fd = g_connect(&g, &c, 9200, HOST_PORT);
	int hfd = virtio_vsock_connect(&g.vs, AGENT_PORT, g_on_connect, &g, NULL);
	assert_true(hfd >= 0);
	struct rxpkt p;
	assert_true(g_recv(&g, &p));
	assert_int_equal(p.op, VIRTIO_VSOCK_OP_REQUEST);

	/* No event buffer yet: the event waits. */
	virtio_vsock_transport_reset(&g.vs);
	assert_int_equal(virtio_vsock_conn_count(&g.vs), 0);
	host_expect_eof(&g, fd);
	host_expect_eof(&g, hfd);
	close(hfd);
	g_pump(&g);
	assert_int_equal(g.connect_calls, 1);
	assert_int_equal(g.connect_result, -ECONNRESET);
	assert_int_equal(g_used_idx(&g, VSOCK_Q_EVENT), 0);
	g_desc(&g, VSOCK_Q_EVENT, 0, EVBUF_GPA, 2, VRING_DESC_F_WRITE, 0); /* too small */
	g_avail(&g, VSOCK_Q_EVENT, 0);
	g_desc(&g, VSOCK_Q_EVENT, 1, EVBUF_GPA, 8, VRING_DESC_F_WRITE, 0);
	g_avail(&g, VSOCK_Q_EVENT, 1);
	g_kick(&g, VSOCK_Q_EVENT);
	assert_int_equal(g_used_idx(&g, VSOCK_Q_EVENT), 2);
	assert_int_equal(g_used(&g, VSOCK_Q_EVENT, 0).len, 0);
	assert_int_equal(g_used(&g, VSOCK_Q_EVENT, 1).len, 4);
	uint32_t id;
	memcpy(&id, g.ram + EVBUF_GPA, 4);
	assert_int_equal(le32toh(id), VIRTIO_VSOCK_EVENT_TRANSPORT_RESET);

	/* With a buffer posted, it goes at once; the device works after. */
	g_desc(&g, VSOCK_Q_EVENT, 2, EVBUF_GPA, 4, VRING_DESC_F_WRITE, 0);
	g_avail(&g, VSOCK_Q_EVENT, 2);
	g_kick(&g, VSOCK_Q_EVENT);
	virtio_vsock_transport_reset(&g.vs);
	assert_int_equal(g_used_idx(&g, VSOCK_Q_EVENT), 3);
	g_connect(&g, &c, 9201, HOST_PORT);
	g_fini(&g);
}

/* The guest resets the device: host ends see EOF, a pending connect
 * fails, listeners stay; after a new probe everything works. */
static void test_device_reset(void **state)
{
	struct guest g;
	struct gconn c;
	g_init(&g);
	assert_int_equal(virtio_vsock_listen(&g.vs, HOST_PORT, g_on_accept, &g, NULL), 0);
	int fd = g_connect(&g, &c, 9300, HOST_PORT);
	g_send(&g, &c, VIRTIO_VSOCK_OP_RW, 0, "x", 1);
	int hfd = virtio_vsock_connect(&g.vs, AGENT_PORT, g_on_connect, &g, NULL);
	w32(&g.vs.vdev, VIRTIO_MMIO_STATUS, 0);
	assert_int_equal(virtio_vsock_conn_count(&g.vs), 0);
	uint8_t b;
	host_read_all(&g, fd, &b, 1);
	host_expect_eof(&g, fd);
	host_expect_eof(&g, hfd);
	close(hfd);
	g_pump(&g);
	assert_int_equal(g.connect_result, -ECONNRESET);
	g_probe(&g);
	g_post_rx(&g, 16);
	g_connect(&g, &c, 9301, HOST_PORT);
	assert_int_equal(virtio_vsock_conn_count(&g.vs), 1);

	/* A broken ring is NEEDS_RESET, as for any device. */
	uint16_t *avail = (uint16_t *)(g.ram + QBASE(VSOCK_Q_TX) + 0x1000);
	avail[1] = (uint16_t)(avail[1] + 1000);
	g_kick(&g, VSOCK_Q_TX);
	assert_true(r32(&g.vs.vdev, VIRTIO_MMIO_STATUS) & NR);
	g_pump(&g); /* poll does not touch stopped queues */
	g_fini(&g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_probe_config),
	    cmocka_unit_test(test_guest_connect_data),
	    cmocka_unit_test(test_host_connect),
	    cmocka_unit_test(test_credit_host_to_guest),
	    cmocka_unit_test(test_credit_guest_exceeds),
	    cmocka_unit_test(test_close_with_backlog),
	    cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_shutdown_guest_first),
	    cmocka_unit_test(test_shutdown_host_first),
	    cmocka_unit_test(test_table_full),
	    cmocka_unit_test(test_rx_fairness),
	    cmocka_unit_test(test_rx_starvation),
	    cmocka_unit_test(test_rx_small_buffers),
	    cmocka_unit_test(test_event_transport_reset),
	    cmocka_unit_test(test_device_reset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
