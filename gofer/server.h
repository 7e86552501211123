/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The 9P2000.L server: the public interface the gofer process (and its
 * virtio-9p queue loop) calls.  A server serves one or more attach points
 * (Tattach aname selects one) over host directories, and turns one request
 * into one response:
 *
 *   chain = validated virtio descriptor chain (readable, then writable)
 *   len = p9_server_handle(s, chain.readable, nr, chain.writable, nw);
 *   push the chain to the used ring with `len`
 *
 * Requests and responses are scatter-gather lists in guest memory; file
 * data moves between the host file and those buffers with preadv/pwritev,
 * with no intermediate copy.  Everything a guest can send is handled with a
 * response (Rlerror for anything malformed); nothing a guest sends can make
 * the server exit.  A server is not thread-safe: one thread per server, or
 * serialise calls.  A session can be saved as bytes and re-created in
 * another server (checkpoint/restore): gofer/session.h.
 */
#ifndef KVBOX_GOFER_SERVER_H
#define KVBOX_GOFER_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "util/err.h"

struct p9_server;

struct p9_attach_point {
	const char *aname; /* Tattach aname: "/" for the rootfs, share tags */
	const char *path;  /* host directory (trusted; used when fd < 0) */
	int fd;		   /* or an already open directory fd (dup'd), -1 */
	bool readonly;	   /* every mutating request fails with EROFS */
};

struct p9_server_config {
	const struct p9_attach_point *attach;
	unsigned nattach;   /* >= 1; an empty aname selects "/" or else the first */
	uint32_t max_msize; /* 0: P9_MAX_MSIZE (512 KiB); clamped to it */
	uint32_t max_fids;  /* 0: 65536 live fids */
	int proc_fd;	    /* "/proc/self/fd" directory fd (dup'd), -1: open it */
	bool no_openat2;    /* walk with openat(O_NOFOLLOW) only (tests, old kernels) */
};

struct p9_stats {
	uint64_t requests, errors;
	uint64_t bytes_read, bytes_written;
};

int p9_server_new(const struct p9_server_config *cfg, struct p9_server **out, struct kv_err *err);
void p9_server_free(struct p9_server *s);

/* Handles the request in req[0..nreq) and writes the response into
 * resp[0..nresp).  Returns the response length, or 0 when the response
 * buffers cannot hold even an Rlerror (11 bytes): a broken chain. */
size_t p9_server_handle(struct p9_server *s, const struct iovec *req, int nreq,
			const struct iovec *resp, int nresp);

/* Negotiated msize (0 before a successful Tversion). */
uint32_t p9_server_msize(const struct p9_server *s);
void p9_server_stats(const struct p9_server *s, struct p9_stats *out);

#endif
