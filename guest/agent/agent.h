/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kvbox-agent: PID 1 of the guest.  Interfaces between its files:
 *
 *   main.c     start-up, the epoll loop, request dispatch, power-off
 *   chan.c     the control channel: vsock connect, frame reassembly, a
 *              bounded output queue
 *   mount.c    the agent's own mounts, and the container's root filesystem
 *              (9p rootfs, mounts, devices, masked/read-only paths,
 *              pivot_root)
 *   process.c  the agent's side of container processes: fork into the
 *              right namespaces, the sync socket, the process table,
 *              reaping and EXIT events
 *   child.c    the child's side: from fork to execve
 *   caps.c     capability sets, uid/gid/groups (capset(2) directly)
 *   net.c      loopback, the NICs of CREATE (rtnetlink), vsock stream connect
 *   stdio.c    stdio streams, the terminal relay (pty master <-> vsock)
 *   info.c     PS, STATS, HELLO contents, /proc/cmdline
 *   selftest.c kvbox.agent_test=1: a stand-in host inside the guest that
 *              drives the agent over vsock loopback (selftest_cases.c:
 *              the container spec and the checks)
 *
 * The agent is single-threaded; all state hangs off struct agent.  Every
 * function that can fail returns a negative errno and fills a kv_err.
 */
#ifndef KVBOX_GUEST_AGENT_AGENT_H
#define KVBOX_GUEST_AGENT_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "guest/protocol.h"
#include "util/err.h"

#define AGENT_LOG_PREFIX    "kvbox-agent: "
#define AGENT_RUN_DIR	    "/run/kvbox"
#define AGENT_ROOTFS_DIR    "/run/kvbox/rootfs"
#define AGENT_SHARES_DIR    "/run/kvbox/shares"
#define AGENT_CGROUP	    "/sys/fs/cgroup/container"
#define AGENT_DEFAULT_CID   2u /* VMADDR_CID_HOST */
#define AGENT_DEFAULT_MSIZE (512u * 1024)
#define AGENT_PROC_SLOTS    256
#define AGENT_MAX_WAITERS   8
#define RELAY_BUF	    65536

struct agent_config {
	uint32_t cid, port; /* kvbox.agent_cid= (default 2), kvbox.agent_port= */
	bool test;	    /* kvbox.agent_test=1 */
	char test_root[64]; /* kvbox.agent_test_root=TAG (else a tmpfs rootfs) */
	char test_data[64]; /* kvbox.agent_test_data=TAG (a bind mount) */
	bool debug;	    /* kvbox.debug=1 */
};

/* The control channel. */
struct chan {
	int fd;
	uint8_t *rbuf; /* AGENT_MAX_FRAME */
	size_t rlen;
	uint8_t *wbuf;
	size_t wlen, wcap;
};

/* pty master <-> vsock stream, bounded both ways. */
struct relay {
	int master, sock;
	uint8_t to_pty[RELAY_BUF], to_sock[RELAY_BUF];
	size_t to_pty_len, to_sock_len;
	bool sock_eof, master_eof;
};

enum proc_state {
	PROC_FREE,
	PROC_PREPARING, /* forked, setting up; CREATE/EXEC reply pending */
	PROC_CREATED,	/* init prepared, blocked before exec until START */
	PROC_STARTING,	/* released; waiting for exec (sync socket EOF) */
	PROC_RUNNING,
	PROC_EXITED, /* reaped; kept for WAIT */
};

struct proc {
	enum proc_state state;
	pid_t pid;
	bool is_init;
	bool reported; /* the host was told the pid: an EXIT event is due */
	int sync;      /* agent's end of the child's sync socket, or -1 */
	int console;   /* terminal: the vsock stream, until the pty arrives */
	uint16_t pending_type;
	uint32_t pending_id;
	bool pending;
	struct relay *relay;
	struct agent_exit exit;
	uint32_t waiters[AGENT_MAX_WAITERS];
	unsigned nwaiters;
	uint64_t seq; /* exited entries are recycled oldest first */
};

struct agent {
	struct agent_config cfg;
	int epfd, sigfd, devnull, self_pidns;
	struct chan chan;
	struct proc procs[AGENT_PROC_SLOTS];
	uint64_t seq;
	pid_t selftest_pid;
	bool have_cgroup;
	bool stopping;
	uint64_t start_ns;
	unsigned cap_last; /* /proc/sys/kernel/cap_last_cap */
	/* park.c: PARK answered after the current frame, then the channel
	 * is the next host's connection (restored from a template) */
	bool park_pending;
	uint32_t park_id;
	bool created; /* a CREATE was handled: PARK is a checkpoint's */
};

/* epoll tokens: kind in the high 32 bits, a proc index in the low. */
enum token_kind { TOK_SIGNAL = 1, TOK_CHAN, TOK_SYNC, TOK_PTY, TOK_PTYSOCK };
#define TOKEN(kind, idx) (((uint64_t)(kind) << 32) | (uint32_t)(idx))
#define TOKEN_KIND(t)	 ((unsigned)((t) >> 32))
#define TOKEN_INDEX(t)	 ((unsigned)((t)&0xffffffffu))

/* Messages on a child's sync socket (SOCK_SEQPACKET).  Agent -> child:
 * one byte, SYNC_GO (may proceed past the cgroup step) or SYNC_START. */
enum sync_kind { SYNC_READY = 1, SYNC_ERROR };
#define SYNC_GO	   'g'
#define SYNC_START 's'
struct sync_msg {
	uint32_t kind;
	int32_t errnum;
	char msg[KV_ERR_MSG_MAX];
};

/* main.c */
void agent_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void agent_send(struct agent *a, struct agent_msg *m);
void agent_send_error(struct agent *a, uint32_t id, int errnum, const char *msg);
uint64_t agent_now_ns(void);
int agent_epoll_set(struct agent *a, int fd, uint32_t events, uint64_t token, bool add);

/* chan.c */
int chan_open(struct chan *c, uint32_t cid, uint32_t port, unsigned timeout_ms, struct kv_err *err);
typedef void (*chan_frame_fn)(void *ctx, const uint8_t *frame, size_t len);
int chan_read(struct chan *c, chan_frame_fn fn, void *ctx, struct kv_err *err);
int chan_queue(struct chan *c, const uint8_t *frame, size_t len);
int chan_flush(struct chan *c);
int chan_drain(struct chan *c, int timeout_ms);
void chan_close(struct chan *c);
/* A connected stream becomes the channel (made non-blocking). */
int chan_adopt(struct chan *c, int fd, struct kv_err *err);

/* park.c */
int park_request(struct agent *a, uint32_t id, struct kv_err *err);
const char *park_now(struct agent *a);
int resume_request(struct agent *a, const struct agent_resume *rs, struct kv_err *err);

/* mount.c */
int mount_agent_base(struct kv_err *err);
int mount_container(const struct agent_create *c, struct kv_err *err);
int mount_make_dirs(const char *path, mode_t mode);

/* process.c */
int proc_create(struct agent *a, uint32_t id, const struct agent_create *c, struct kv_err *err);
int proc_start(struct agent *a, uint32_t id, struct kv_err *err);
int proc_exec(struct agent *a, uint32_t id, const struct agent_process *p, struct kv_err *err);
int proc_signal(struct agent *a, const struct agent_signal *s, struct kv_err *err);
int proc_wait(struct agent *a, uint32_t id, uint32_t pid, struct kv_err *err);
int proc_resize(struct agent *a, const struct agent_resize *r, struct kv_err *err);
void proc_sync_ready(struct agent *a, unsigned idx);
void proc_reap(struct agent *a);
void proc_kill_all(struct agent *a);
struct proc *proc_init(struct agent *a);
struct proc *proc_find(struct agent *a, pid_t pid);
bool proc_in_container(struct agent *a, pid_t pid);

/* child.c: never returns */
struct child_args {
	const struct agent_create *create; /* NULL for EXEC */
	const struct agent_process *proc;
	int sync;
	int stdio[3];
	int nsfd[4]; /* EXEC: mnt, uts, ipc, cgroup of the init (-1 = skip) */
	unsigned cap_last;
};
__attribute__((noreturn)) void child_main(const struct child_args *c);

/* caps.c */
int caps_apply(const struct agent_process *p, unsigned cap_last, struct kv_err *err);

/* net.c */
int net_loopback_up(struct kv_err *err);
/* The NICs of CREATE: found by MAC, renamed, MTU, up, addresses, routes. */
int net_configure(const struct agent_net_if *nets, uint32_t n, struct kv_err *err);
int net_vsock_connect(uint32_t cid, uint32_t port, unsigned timeout_ms, struct kv_err *err);

/* stdio.c */
int stdio_connect(struct agent *a, const struct agent_process *p, int fds[3], int *console,
		  struct kv_err *err);
int relay_start(struct agent *a, unsigned idx, int master, int sock);
void relay_event(struct agent *a, unsigned idx, bool pty_side, uint32_t events);
void relay_free(struct agent *a, struct proc *p);

/* info.c */
int info_cmdline(struct agent_config *cfg, struct kv_err *err);
void info_hello(struct agent *a, struct agent_msg *m, char *kernel, size_t klen);
int info_ps(struct agent *a, struct agent_msg *m, struct kv_err *err);
int info_stats(struct agent *a, struct agent_stats *s, struct kv_err *err);
int info_update(struct agent *a, const struct agent_update *u, struct kv_err *err);

/* selftest.c */
pid_t selftest_spawn(struct agent *a);

#endif
