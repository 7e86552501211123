/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-vsock checkpoint/restore (virtio/vsock_state.c), driven like a
 * guest driver would (test_vsock_guest.h): a save that leaves the device
 * running, a new device resumed from it in either transport order, a
 * connect still being set up, and hostile blobs (every truncation, rule
 * breakers, fd leaks checked).
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

#include "test_fds.h"
#include "test_vsock_guest.h"

#define HOST_PORT  1234u
#define AGENT_PORT 1024u

/* ---- checkpoint / restore ---- */

/* The device's connection (white box: what a checkpoint sees). */
static struct vsock_conn *dev_conn(struct guest *g, uint32_t gport, uint32_t hport)
{
	for (unsigned i = 0; i < g->vs.max_conns; i++) {
		struct vsock_conn *c = &g->vs.conns[i];
		if (c->state != VSOCK_FREE && c->state != VSOCK_DEAD && c->guest_port == gport &&
		    c->host_port == hport)
			return c;
	}
	fail_msg("no connection %u->%u", gport, hport);
	return NULL;
}

/* The host end handed over for (gport, hport). */
static int accepted_fd(struct guest *g, uint32_t gport, uint32_t hport)
{
	for (unsigned i = 0; i < g->naccepted; i++)
		if (g->accepted_gport[i] == gport && g->accepted_hport[i] == hport)
			return g->accepted[i];
	fail_msg("no host end for %u->%u", gport, hport);
	return -1;
}

/* Host -> guest on c until `want` bytes are in `in` (from *got), the guest
 * reading them and giving credit back each time it runs out; every packet
 * must carry the device's fwd_cnt `fwd`. */
static void guest_drain(struct guest *g, struct gconn *c, uint8_t *in, size_t *got, size_t want,
			uint32_t fwd)
{
	struct rxpkt p;
	for (int spins = 0; *got < want; spins++) {
		assert_true(spins < 1000);
		g_pump(g);
		while (g_recv(g, &p)) {
			assert_int_equal(p.op, VIRTIO_VSOCK_OP_RW);
			assert_int_equal(p.dst_port, c->gport);
			assert_int_equal(p.fwd_cnt, fwd);
			assert_true(*got + p.len <= want);
			memcpy(in + *got, p.data, p.len);
			*got += p.len;
			c->fwd_cnt += p.len;
		}
		g_send(g, c, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0);
	}
}

enum { UP_MAX = 2 << 20, DOWN = 20000 };

/* The checkpointed VM's three connections, as the guest knew them. */
struct ckpt_world {
	struct gconn a, b, c;
	uint8_t *up; /* A's guest -> host stream */
	size_t up_sent;
	uint32_t a_fwd;	    /* of it, bytes already in the old host socket */
	uint8_t down[DOWN]; /* B's host -> guest stream */
	size_t b_got;	    /* of it, bytes the guest had */
};

/* A resumed device (either transport order) carries on from the checkpoint
 * with new host ends: the bytes in flight arrive once, in order, before new
 * ones; counters and shutdowns are where they were. */
static void check_resumed(const struct g_ckpt *ck, const uint8_t *blob, size_t len,
			  const struct ckpt_world *w, bool transport_first)
{
	struct guest g;
	struct gconn a = w->a, b = w->b, c = w->c;
	struct rxpkt p;
	struct kv_err err;
	uint8_t buf[8], *in = malloc(UP_MAX);
	g_new_vm(&g, ck);
	if (transport_first)
		g_restore_transport(&g, ck);
	assert_int_equal(virtio_vsock_restore(&g.vs, blob, len, g_on_accept, &g, &err), 0);
	assert_int_equal(g.naccepted, 3); /* inside the call */
	if (!transport_first)
		g_restore_transport(&g, ck);
	assert_int_equal(virtio_vsock_conn_count(&g.vs), 3);
	int fa = accepted_fd(&g, a.gport, a.hport), fb = accepted_fd(&g, b.gport, b.hport);
	int fc = accepted_fd(&g, c.gport, c.hport);

	/* A: the buffered guest bytes, then the guest's SHUTDOWN(SEND) as EOF */
	size_t rest = w->up_sent - w->a_fwd;
	host_read_all(&g, fa, in, rest);
	assert_memory_equal(in, w->up + w->a_fwd, rest);
	host_expect_eof(&g, fa);
	g_send(&g, &a, VIRTIO_VSOCK_OP_SHUTDOWN,
	       VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND, NULL, 0);
	g_expect(&g, &a, VIRTIO_VSOCK_OP_RST, &p);
	assert_int_equal(p.fwd_cnt, a.tx_cnt); /* every byte counted once */

	/* B: the rest of the host's bytes, then what the new owner writes */
	memcpy(in, w->down, w->b_got);
	size_t got = w->b_got;
	guest_drain(&g, &b, in, &got, DOWN, 4);
	assert_memory_equal(in, w->down, DOWN);
	assert_int_equal(write(fb, "NEW", 3), 3);
	got = 0;
	guest_drain(&g, &b, in, &got, 3, 4);
	assert_memory_equal(in, "NEW", 3);
	/* ... and the guest's credit view goes on: no reset, fwd_cnt moves on */
	g_send(&g, &b, VIRTIO_VSOCK_OP_RW, 0, "pong", 4);
	host_read_all(&g, fb, buf, 4);
	assert_memory_equal(buf, "pong", 4);
	g_send(&g, &b, VIRTIO_VSOCK_OP_CREDIT_REQUEST, 0, NULL, 0);
	g_expect(&g, &b, VIRTIO_VSOCK_OP_CREDIT_UPDATE, &p);
	assert_int_equal(p.fwd_cnt, 8);
	assert_int_equal(p.buf_alloc, VSOCK_BUF_ALLOC);

	/* C: the host's bytes and its shutdown, which the old device had not
	 * seen yet */
	c.buf_alloc = 4096;
	g_send(&g, &c, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0);
	g_pump(&g);
	g_expect(&g, &c, VIRTIO_VSOCK_OP_RW, &p);
	assert_memory_equal(p.data, "bye", 3);
	g_expect(&g, &c, VIRTIO_VSOCK_OP_SHUTDOWN, &p);
	assert_int_equal(p.flags, VIRTIO_VSOCK_SHUTDOWN_SEND);
	assert_int_equal(send(fc, "x", 1, MSG_NOSIGNAL), -1);
	assert_false(g_recv(&g, &p));
	assert_int_equal(g.vs.stats.bad_packets, 0);
	assert_int_equal(virtio_vsock_conn_count(&g.vs), 2);
	free(in);
	g_fini(&g);
}

/* The old device goes on after the save (--leave-running): nothing is
 * lost or duplicated in either direction. */
static void check_left_running(struct guest *g, struct ckpt_world *w, int fa, int fb)
{
	struct rxpkt p;
	uint8_t *in = malloc(UP_MAX);
	host_read_all(g, fa, in, w->up_sent - 5); /* "hello" was read before */
	assert_memory_equal(in, w->up + 5, w->up_sent - 5);
	host_expect_eof(g, fa);
	struct gconn b = w->b, c = w->c;
	memcpy(in, w->down, w->b_got);
	size_t got = w->b_got;
	guest_drain(g, &b, in, &got, DOWN, 4);
	assert_memory_equal(in, w->down, DOWN);
	c.buf_alloc = 4096;
	g_send(g, &c, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0);
	g_pump(g);
	g_expect(g, &c, VIRTIO_VSOCK_OP_RW, &p);
	assert_memory_equal(p.data, "bye", 3);
	g_expect(g, &c, VIRTIO_VSOCK_OP_SHUTDOWN, &p);
	assert_false(g_recv(g, &p));
	free(in);
}

static void test_checkpoint_round_trip(void **state)
{
	struct guest g;
	struct rxpkt p;
	struct kv_err err;
	uint8_t buf[8];
	static struct ckpt_world w;
	g_init(&g);
	assert_int_equal(virtio_vsock_listen(&g.vs, HOST_PORT, g_on_accept, &g, NULL), 0);

	/* A, the guest's: bytes both ways, then more than the host takes
	 * (the socket fills, the device buffers a whole buf_alloc), then the
	 * guest shuts its sending side */
	int fa = g_connect(&g, &w.a, 5300, HOST_PORT);
	g_send(&g, &w.a, VIRTIO_VSOCK_OP_RW, 0, "hello", 5);
	host_read_all(&g, fa, buf, 5);
	assert_int_equal(write(fa, "world", 5), 5);
	g_pump(&g);
	g_expect(&g, &w.a, VIRTIO_VSOCK_OP_RW, &p);
	w.up = malloc(UP_MAX);
	fill_pattern(w.up, UP_MAX, 11);
	memcpy(w.up, "hello", 5);
	w.up_sent = 5 + guest_fill_credit_from(&g, &w.a, w.up + 5, UP_MAX - 5);
	assert_int_equal(w.a.tx_cnt - w.a.peer_fwd_cnt, VSOCK_BUF_ALLOC);
	g_send(&g, &w.a, VIRTIO_VSOCK_OP_SHUTDOWN, VIRTIO_VSOCK_SHUTDOWN_SEND, NULL, 0);

	/* B, the host's, to a guest with 8 KiB of room: most of the host's
	 * bytes wait in the socket */
	int fb = virtio_vsock_connect(&g.vs, AGENT_PORT, g_on_connect, &g, NULL);
	assert_true(fb >= 0);
	assert_true(g_recv(&g, &p));
	assert_int_equal(p.op, VIRTIO_VSOCK_OP_REQUEST);
	w.b = (struct gconn){.gport = AGENT_PORT, .hport = p.src_port, .buf_alloc = 8192};
	g_send(&g, &w.b, VIRTIO_VSOCK_OP_RESPONSE, 0, NULL, 0);
	g_send(&g, &w.b, VIRTIO_VSOCK_OP_RW, 0, "ping", 4);
	host_read_all(&g, fb, buf, 4);
	g_pump(&g);
	assert_int_equal(g.connect_calls, 1);
	assert_int_equal(g.connect_result, 0);
	fill_pattern(w.down, DOWN, 12);
	assert_int_equal(write(fb, w.down, DOWN), DOWN);
	g_pump(&g);
	while (g_recv(&g, &p)) {
		assert_int_equal(p.op, VIRTIO_VSOCK_OP_RW);
		assert_memory_equal(p.data, w.down + w.b_got, p.len);
		w.b_got += p.len;
	}
	assert_int_equal(w.b_got, 8192);
	w.b.fwd_cnt = 8192; /* the guest app read it; the device is not told yet */

	/* C, the guest's, with no room: the host's bytes and its shutdown
	 * wait, unseen by the device */
	int fc = g_connect_buf(&g, &w.c, 5301, HOST_PORT, 0);
	assert_int_equal(write(fc, "bye", 3), 3);
	shutdown(fc, SHUT_WR);
	g_pump(&g);
	assert_false(g_recv(&g, &p));

	/* A's host sends a little: the device reads it all, then pops one
	 * more rx buffer, finds the socket empty and holds the buffer */
	assert_int_equal(write(fa, "tail", 4), 4);
	g_pump(&g);
	g_expect(&g, &w.a, VIRTIO_VSOCK_OP_RW, &p);
	assert_memory_equal(p.data, "tail", 4);
	assert_true(g.vs.rx_held);

	/* checkpoint: the VM is paused; the device's blob first, then the
	 * transport; the held rx buffer goes back to the ring */
	uint16_t last_avail = g.vs.vqs[VSOCK_Q_RX].last_avail;
	w.a_fwd = dev_conn(&g, w.a.gport, w.a.hport)->fwd_cnt;
	assert_true(w.a_fwd < w.up_sent);
	uint8_t *blob = NULL;
	size_t len = 0;
	assert_int_equal(virtio_vsock_save(&g.vs, &blob, &len, &err), 0);
	assert_false(g.vs.rx_held);
	assert_int_equal(g.vs.vqs[VSOCK_Q_RX].last_avail, (uint16_t)(last_avail - 1));
	struct g_ckpt ck;
	g_checkpoint(&g, &ck);
	/* saving again (the device changed nothing) gives the same blob */
	uint8_t *blob2 = NULL;
	size_t len2 = 0;
	assert_int_equal(virtio_vsock_save(&g.vs, &blob2, &len2, &err), 0);
	assert_int_equal(len2, len);
	assert_memory_equal(blob2, blob, len);
	free(blob2);

	check_left_running(&g, &w, fa, fb);
	check_resumed(&ck, blob, len, &w, true);
	check_resumed(&ck, blob, len, &w, false);
	free(ck.ram);
	free(blob);
	free(w.up);
	close(fb);
	close(fc);
	g_fini(&g);
}

/* A host connect the guest has not answered cannot be saved (yet). */
static void test_checkpoint_connecting(void **state)
{
	struct guest g;
	struct rxpkt p;
	struct kv_err err;
	uint8_t *blob = NULL;
	size_t len = 0;
	g_init(&g);
	assert_int_equal(virtio_vsock_save(&g.vs, &blob, &len, &err), 0);
	assert_int_equal(len, 24); /* an idle device: the header */
	free(blob);
	int fd = virtio_vsock_connect(&g.vs, AGENT_PORT, g_on_connect, &g, NULL);
	assert_true(fd >= 0);
	blob = NULL;
	assert_int_equal(virtio_vsock_save(&g.vs, &blob, &len, &err), -EBUSY);
	assert_non_null(strstr(err.msg, "being set up"));
	assert_null(blob);
	assert_true(g_recv(&g, &p));
	struct gconn c = {.gport = AGENT_PORT, .hport = p.src_port, .buf_alloc = 4096};
	assert_int_equal(virtio_vsock_save(&g.vs, &blob, &len, &err), -EBUSY);
	g_send(&g, &c, VIRTIO_VSOCK_OP_RESPONSE, 0, NULL, 0);
	assert_int_equal(virtio_vsock_save(&g.vs, &blob, &len, &err), 0);
	assert_int_equal(len, 24 + 48);
	free(blob);
	close(fd);
	g_fini(&g);
}

/* ---- hostile blobs ---- */

/* A hand-built blob (the layout is in virtio/vsock_state.c). */
struct tblob {
	uint8_t b[1024];
	size_t len;
};

static void tb_put(struct tblob *t, const void *d, size_t n)
{
	assert_true(t->len + n <= sizeof(t->b));
	if (n)
		memcpy(t->b + t->len, d, n);
	t->len += n;
}

static void tb_32(struct tblob *t, uint32_t v)
{
	v = htole32(v);
	tb_put(t, &v, 4);
}

struct tconn {
	uint32_t gport, hport;
	uint8_t state, pending, local_shut, peer_shut, flags;
	uint32_t peer_buf_alloc, peer_fwd_cnt, tx_cnt, rx_cnt, fwd_cnt, fwd_adv;
	const char *to_host, *to_guest;
};

static void tb_header(struct tblob *t, uint32_t norphans, uint32_t nconns)
{
	t->len = 0;
	tb_put(t, "KVVS", 4);
	tb_32(t, 1);
	tb_32(t, VSOCK_EPHEMERAL_BASE + 7);
	tb_32(t, norphans);
	tb_32(t, nconns);
	tb_put(t, "\1\0\0\0", 4); /* event pending */
	for (uint32_t i = 0; i < norphans; i++) {
		tb_32(t, 7000 + i);
		tb_32(t, 99);
	}
}

static void tb_conn(struct tblob *t, const struct tconn *c)
{
	uint32_t th = c->to_host ? (uint32_t)strlen(c->to_host) : 0;
	uint32_t tg = c->to_guest ? (uint32_t)strlen(c->to_guest) : 0;
	tb_32(t, c->gport);
	tb_32(t, c->hport);
	uint8_t b[8] = {c->state, c->pending, c->local_shut, c->peer_shut, c->flags};
	tb_put(t, b, 8);
	uint32_t v[] = {c->peer_buf_alloc, c->peer_fwd_cnt, c->tx_cnt, c->rx_cnt,
			c->fwd_cnt,	   c->fwd_adv,	    th,	       tg};
	for (unsigned i = 0; i < ARRAY_SIZE(v); i++)
		tb_32(t, v[i]);
	tb_put(t, c->to_host, th);
	tb_put(t, c->to_guest, tg);
}

/* Every kind of saved connection: open with bytes both ways, closing
 * (SHUTDOWN both ways sent, host end shut), aborting (an RST owed). */
static const struct tconn good_conns[] = {
    {5400, HOST_PORT, 1, 0x04, 0, 0, 0, 65536, 10, 30, 1003, 1000, 990, "abc", "xyz"},
    {5401, VSOCK_EPHEMERAL_BASE, 2, 0, 3, 2, 0x1f, 4096, 0, 0, 50, 50, 50, NULL, NULL},
    {5402, HOST_PORT, 3, 0x08, 0, 0, 0, 0, 0, 0, 8, 8, 8, NULL, NULL},
};

static void tb_good(struct tblob *t)
{
	tb_header(t, 2, ARRAY_SIZE(good_conns));
	for (unsigned i = 0; i < ARRAY_SIZE(good_conns); i++)
		tb_conn(t, &good_conns[i]);
}

/* A connection record that breaks one rule, in place of good_conns[0]. */
struct bad_blob {
	const char *name;
	struct tconn c;
};

static const struct bad_blob bad_conns[] = {
    {"state 0", {5400, HOST_PORT, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, NULL, NULL}},
    {"state 4", {5400, HOST_PORT, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, NULL, NULL}},
    {"port ANY", {VMADDR_PORT_ANY, HOST_PORT, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, NULL, NULL}},
    {"REQUEST owed", {5400, HOST_PORT, 1, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, NULL, NULL}},
    {"RST owed while open", {5400, HOST_PORT, 1, 0x08, 0, 0, 0, 0, 0, 0, 0, 0, 0, NULL, NULL}},
    {"unknown flag", {5400, HOST_PORT, 1, 0, 0, 0, 0x20, 0, 0, 0, 0, 0, 0, NULL, NULL}},
    {"shutdown bit 4", {5400, HOST_PORT, 1, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, NULL, NULL}},
    {"bytes != rx - fwd", {5400, HOST_PORT, 1, 0, 0, 0, 0, 0, 0, 0, 9, 5, 5, "abc", NULL}},
    {"no bytes for rx - fwd", {5400, HOST_PORT, 1, 0, 0, 0, 0, 0, 0, 0, 9, 5, 5, NULL, NULL}},
    {"closing, SEND not sent", {5400, HOST_PORT, 2, 0, 1, 0, 0x1a, 0, 0, 0, 0, 0, 0, NULL, NULL}},
    {"open, both sent", {5400, HOST_PORT, 1, 0, 3, 0, 0x1b, 0, 0, 0, 0, 0, 0, NULL, NULL}},
    {"SEND sent, no EOF", {5400, HOST_PORT, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, NULL, NULL}},
    {"EOF, host not shut", {5400, HOST_PORT, 1, 0, 0, 0, 0x01, 0, 0, 0, 0, 0, 0, NULL, NULL}},
    {"aborting with bytes", {5400, HOST_PORT, 3, 0x08, 0, 0, 0, 0, 0, 0, 0, 0, 0, NULL, "x"}},
    {"aborting, CREDIT owed", {5400, HOST_PORT, 3, 0x0c, 0, 0, 0, 0, 0, 0, 0, 0, 0, NULL, NULL}},
    {"bytes for a gone host", {5400, HOST_PORT, 1, 0, 0, 0, 0x12, 0, 0, 0, 2, 0, 0, "ab", NULL}},
    {"shut with bytes left", {5400, HOST_PORT, 1, 0, 0, 2, 0x04, 0, 0, 0, 2, 0, 0, "ab", NULL}},
    {"bytes to a guest shut", {5400, HOST_PORT, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, NULL, "x"}},
    {"bytes after EOF", {5400, HOST_PORT, 1, 0, 0, 0, 0x09, 0, 0, 0, 0, 0, 0, NULL, "x"}},
    {"SEND not passed on", {5400, HOST_PORT, 1, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, NULL, NULL}},
    {"closed, not reset", {5400, HOST_PORT, 1, 0, 0, 3, 0x04, 0, 0, 0, 0, 0, 0, NULL, NULL}},
    {"duplicate", {5402, HOST_PORT, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, NULL, NULL}},
};

static void expect_refused(struct guest *g, const uint8_t *b, size_t len, int want,
			   const char *what)
{
	struct kv_err err = {0};
	int r = virtio_vsock_restore(&g->vs, b, len, g_on_accept, g, &err);
	if (r != want)
		fail_msg("%s: %d, not %d (%s)", what, r, want, err.msg);
	assert_int_equal(err.code, -want);
	assert_non_null(strchr(err.msg, ':'));
	assert_int_equal(virtio_vsock_conn_count(&g->vs), 0);
	assert_int_equal(g->vs.orphan_len, 0);
	assert_int_equal(g->naccepted, 0);
}

static void test_checkpoint_bad_blobs(void **state)
{
	struct guest g;
	struct tblob t, good;
	uint8_t *again = NULL;
	size_t again_len = 0;
	g_init_max(&g, 4);
	tb_good(&good);
	unsigned fds = open_fds();

	/* every truncation, and one byte too many */
	for (size_t n = 0; n < good.len; n++)
		expect_refused(&g, good.b, n, -EINVAL, "truncated");
	t = good;
	tb_put(&t, "", 1);
	expect_refused(&g, t.b, t.len, -EINVAL, "trailing byte");
	/* the header */
	const struct {
		size_t off;
		uint8_t val;
		const char *name;
	} hdr[] = {
	    {0, 'k', "magic"},	    {4, 2, "version"},	      {9, 0, "ephemeral port < base"},
	    {12, 65, "65 orphans"}, {16, 5, "5 connections"}, {17, 1, "259 connections"},
	    {20, 2, "event 2"},	    {22, 1, "reserved"},
	};
	for (unsigned i = 0; i < ARRAY_SIZE(hdr); i++) {
		t = good;
		t.b[hdr[i].off] = hdr[i].val;
		expect_refused(&g, t.b, t.len, -EINVAL, hdr[i].name);
	}
	t = good;
	memset(t.b + 8, 0xff, 4);
	expect_refused(&g, t.b, t.len, -EINVAL, "ephemeral port ANY");
	t = good;
	t.b[24 + 16 + 13] = 1; /* a connection's reserved byte */
	expect_refused(&g, t.b, t.len, -EINVAL, "conn reserved");
	t = good;
	t.b[24 + 16 + 40 + 2] = 4; /* to_host 256 KiB + 3 */
	expect_refused(&g, t.b, t.len, -EINVAL, "to_host over the limit");
	/* each rule of a connection */
	for (unsigned i = 0; i < ARRAY_SIZE(bad_conns); i++) {
		tb_header(&t, 2, ARRAY_SIZE(good_conns));
		tb_conn(&t, &bad_conns[i].c);
		for (unsigned k = 1; k < ARRAY_SIZE(good_conns); k++)
			tb_conn(&t, &good_conns[k]);
		expect_refused(&g, t.b, t.len, -EINVAL, bad_conns[i].name);
	}
	assert_int_equal(open_fds(), fds);

	/* Building fails half-way (no fds left for the second socketpair):
	 * what was built is undone. */
	int lowest = dup(0);
	close(lowest);
	struct rlimit old, lim;
	getrlimit(RLIMIT_NOFILE, &old);
	lim = old;
	lim.rlim_cur = (rlim_t)lowest + 2;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &lim), 0);
	expect_refused(&g, good.b, good.len, -EMFILE, "fds run out");
	setrlimit(RLIMIT_NOFILE, &old);
	assert_int_equal(open_fds(), fds);

	/* The same device takes the good blob: two host ends (the aborting
	 * one has none), and saves it back byte for byte. */
	struct kv_err err;
	assert_int_equal(virtio_vsock_restore(&g.vs, good.b, good.len, g_on_accept, &g, &err), 0);
	assert_int_equal(g.naccepted, 2);
	assert_int_equal(g.accepted_hport[1], VSOCK_EPHEMERAL_BASE);
	assert_int_equal(virtio_vsock_conn_count(&g.vs), 3);
	assert_int_equal(virtio_vsock_save(&g.vs, &again, &again_len, &err), 0);
	assert_int_equal(again_len, good.len);
	assert_memory_equal(again, good.b, good.len);
	free(again);
	/* a second restore into a device in use */
	assert_int_equal(virtio_vsock_restore(&g.vs, good.b, good.len, g_on_accept, &g, &err),
			 -EBUSY);
	assert_int_equal(g.naccepted, 2);
	/* the restored connection's bytes flow once the guest is back */
	uint8_t buf[3];
	host_read_all(&g, g.accepted[0], buf, 3);
	assert_memory_equal(buf, "abc", 3);
	g_fini(&g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_checkpoint_round_trip),
	    cmocka_unit_test(test_checkpoint_connecting),
	    cmocka_unit_test(test_checkpoint_bad_blobs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
