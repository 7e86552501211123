/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `kvbox sandbox` (internal): the long-lived VMM process of one container,
 * started by `kvbox create` / `run` (oci/cmd_create.c).  Its host pid is
 * the container's pid: it exits with the container init's exit status, or
 * dies of the same signal (core dumps off) when the init was killed by
 * one.
 *
 *   kvbox sandbox --root ROOT --bundle B --ready-fd N [--console-socket S]
 *                 [--debug] [--log L --log-format text|json]
 *                 [--network sandbox|none] [--template DIR | --restore DIR] ID
 *
 * Start-up (sandbox.c): parse the bundle's config.json again, plan the VM
 * (oci/spec_agent.h: 9p shares, size), enter the container's network
 * namespace and mirror its interfaces (oci/net.h: a tap and a NIC each,
 * given back when the sandbox exits), bind the control socket, build the
 * VM (vm_boot.h) with the agent initramfs, a virtio-vsock and the 9p
 * shares (one gofer process) -- or, with --template and no NIC, restore
 * the template's VM with the same devices (vmm/template.h) and connect
 * to its parked agent, whose HELLO is answered with RESUME (fresh
 * entropy, the clock) before CREATE -- or, with --restore, build it from a
 * checkpoint (sandbox_checkpoint.c: the container is running once the
 * agent is resumed) -- enter the jail (sandbox_jail.c: from then
 * on no path outside ROOT/ID is reachable and no capability is left but
 * CAP_NET_ADMIN with a mirrored network), start the vCPUs and run the
 * event loop.
 * Everything after that happens in callbacks on the loop's thread:
 *
 *   sandbox_agent.c  the agent channel: HELLO, then CREATE; requests with
 *                    ids and a completion callback each; EXIT events
 *   sandbox_ctl.c    the control socket (vmm/ctl.h): CLI requests become
 *                    agent requests or VM actions (pause)
 *   sandbox_stdio.c  stdio of each container process: vsock streams the
 *                    agent connects to our listening ports, relayed by one
 *                    thread per direction to the fds create/exec gave us,
 *                    or to a host pty whose master went to the console
 *                    socket (window size polled and forwarded)
 *
 * Readiness: once CREATE is answered (the init is prepared and waits for
 * START), "ready GOFER_PID\n" is written to the ready fd and it is
 * closed; any failure before that writes "error MESSAGE\n" and exits 1.
 * The init's EXIT: wait (bounded) for its output streams to drain, send
 * SHUTDOWN, let the guest power off, exit with the init's status.
 */
#ifndef KVBOX_VMM_SANDBOX_H
#define KVBOX_VMM_SANDBOX_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "guest/protocol.h"
#include "oci/config.h"
#include "oci/net.h"
#include "oci/spec_agent.h"
#include "util/err.h"
#include "vmm/vm.h"

#define SANDBOX_MAX_PROCS   64	  /* the init + concurrent execs */
#define SANDBOX_PORT_BASE   2048u /* stdio ports: base + 4 * slot + stream */
#define SANDBOX_MAX_PENDING 128
#define SANDBOX_MAX_CLIENTS 64
/* After an EXIT, how long an output stream may go without a byte while
 * the host side is ready for more, before we stop waiting for its EOF: a
 * stream that still moves, or waits on a slow host reader, is followed
 * to its end as runc follows its pipes. */
#define SANDBOX_DRAIN_MS     5000
#define SANDBOX_AGENT_WAIT_S 300 /* HELLO and CREATE, under TCG */
/* RLIMIT_NOFILE in the jail: the worst case is about 1,700 (64 processes
 * x 17: 3 stdio fds, 4 vsock streams x 2 ends, 4 relay eventfds, a pty;
 * 64 control connections x 4 with their fds; ~300 for the machine) */
#define SANDBOX_NOFILE 4096
/* 9p devices: the virtio-mmio slots minus the rng, the vsock, and one kept
 * for the network */
#define SANDBOX_MAX_SHARES (VM_VIRTIO_MAX - 3)

struct sandbox;

/* One direction of one stream: in -> out, on its own thread. */
struct relay {
	struct sandbox *sb;
	int in, out;
	bool out_is_vsock; /* EOF on in -> shutdown(out, SHUT_WR) */
	bool close_out;	   /* out is ours to close at the end */
	int cancel;	   /* eventfd: stop now */
	pthread_t thread;
	bool started;
	bool done;	/* atomic: the thread has finished */
	uint64_t bytes; /* atomic (relaxed): copied so far */
	bool host_wait; /* atomic (relaxed): blocked until the host fd takes more */
	uint64_t seen;	/* main thread: bytes at the last drain check */
};

enum { STREAM_STDIN, STREAM_STDOUT, STREAM_STDERR, STREAM_CONSOLE, STREAM_COUNT };

struct sb_proc {
	bool used;
	bool is_init;
	uint32_t pid; /* guest pid, 0 until CREATE/EXEC answered */
	bool terminal;
	int host_fd[3]; /* create/exec stdio, -1 = none (owned) */
	int pty_master; /* terminal: ours until sent, then -1 */
	int pty_slave;	/* terminal: the host side the relay uses (owned) */
	struct winsize_s {
		unsigned short rows, cols;
	} ws;
	bool listening[STREAM_COUNT];
	int vsock[STREAM_COUNT]; /* accepted streams (owned by the relays) */
	struct relay relay[4];	 /* stdin, stdout, stderr / console in, console out */
	unsigned nrelays;
	bool exited;
	struct agent_exit exit;
	uint64_t exit_deadline_ms; /* monotonic: stop waiting for output (moved by progress) */
	int client;		   /* exec: the waiting control connection, or -1 */
	uint32_t request_id;	   /* CREATE/EXEC in flight */
};

typedef void (*agent_done_fn)(struct sandbox *sb, void *ctx, const struct agent_msg *reply,
			      const struct kv_err *err);

struct sb_pending {
	bool used;
	uint32_t id;
	uint16_t type;
	agent_done_fn fn;
	void *ctx;
	int client; /* control connection the answer goes to, or -1 */
};

struct sb_client {
	int fd;	   /* -1 = free */
	bool busy; /* a request is in flight */
	int proc;  /* exec: the process slot, or -1 */
};

enum sb_phase {
	SB_BOOTING,  /* waiting for HELLO */
	SB_CREATING, /* CREATE sent */
	SB_CREATED,  /* ready written; waiting for START */
	SB_RUNNING,
	SB_EXITING, /* the init ended: draining, then SHUTDOWN */
};

/* A checkpoint in progress (sandbox_checkpoint.c). */
struct sb_ckpt {
	bool active;
	bool parking; /* PARK sent: EOF on the channel is expected */
	bool leave_running;
	bool draining; /* saved: the output relayed, then the machine stops */
	int client;    /* the control connection that asked */
	int dirfd;     /* the image directory */
	int poll_fd;
	unsigned conns_target, polls;
	char name[256];
};

struct sandbox {
	const char *id, *root, *bundle, *console_socket;
	const char *restore_dir; /* --restore: a checkpoint (sandbox_checkpoint.c) */
	bool from_checkpoint;	 /* restored from it: RESUME, then running */
	bool reconnecting;	 /* a new channel to the parked agent (--leave-running) */
	struct sb_ckpt ckpt;
	bool jailed;
	char kernel[256]; /* the guest kernel's path (oci_default_kernel(), read
			   * before the jail), for a checkpoint's manifest */
	/* --restore: the init's restored streams, held until the jail (their
	 * relays are threads; the jail wants one) */
	struct {
		int fd;
		uint32_t host_port, guest_port;
	} held[STREAM_COUNT];
	unsigned nheld;
	const char *template_dir; /* --template: start from it (vmm/template.h) */
	bool template_copy;	  /* --template-copy: its RAM copied, not lazy */
	bool ws_record;		  /* no working set yet: record ours (vmm/template.h) */
	bool restored;		  /* the VM came from the template: RESUME first */
	bool debug;
	FILE *log;
	bool log_json;
	int ready_fd;
	int dir_fd;
	struct oci_config *cfg;
	struct agent_create create;
	struct oci_vm_plan plan;
	enum oci_net_mode net_mode;
	struct oci_net net; /* the mirrored interfaces (oci/net.h) */
	struct vm *vm;
	enum sb_phase phase;
	/* agent channel */
	int agent_fd;
	uint8_t *rbuf;
	size_t rlen;
	uint8_t *wbuf;
	size_t wlen, wcap;
	uint32_t next_id;
	struct sb_pending pending[SANDBOX_MAX_PENDING];
	int timer_fd; /* HELLO/CREATE deadline, later the drain tick */
	int wake_fd;  /* eventfd: a relay finished */
	int tick_fd;  /* timerfd: window sizes, drain deadlines (sb_tick_arm) */
	bool tick_on;
	/* control socket */
	int ctl_fd;
	struct sb_client clients[SANDBOX_MAX_CLIENTS];
	struct sb_proc procs[SANDBOX_MAX_PROCS];
	int console_fd; /* --console-socket, connected before the jail; -1 */
	int status_fd;	/* /proc/self/status, opened before the jail; -1 */
	bool init_exited;
	struct agent_exit init_exit;
	bool shutdown_sent;
	bool vm_failed; /* the machine ended before the init did */
	pid_t gofer_pid;
	int gofer_pidfd;    /* readable once the gofer ended (on_gofer_exit) */
	bool ready_watched; /* ready_fd is in vm->handlers (its reader gone: create died) */
};

/* sandbox.c */
void sb_log(struct sandbox *sb, const char *level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void sb_fail_startup(struct sandbox *sb, const char *msg);
void sb_ready(struct sandbox *sb);
void sb_stop_vm(struct sandbox *sb, const char *why);
uint64_t sb_now_ms(void);

/* sandbox_agent.c */
int sb_agent_listen(struct sandbox *sb, struct kv_err *err);
/* After a template restore: the agent waits on its port (PARK). */
int sb_agent_connect(struct sandbox *sb, struct kv_err *err);
int sb_agent_request(struct sandbox *sb, struct agent_msg *m, agent_done_fn fn, void *ctx,
		     struct kv_err *err);
void sb_agent_shutdown(struct sandbox *sb);

/* sandbox_stdio.c */
int sb_proc_alloc(struct sandbox *sb, bool is_init);
void sb_proc_free(struct sandbox *sb, int slot);
uint32_t sb_port(int slot, int stream);
/* Takes the stdio of a new process: fds (3, -1 = none; dup'd) or, with
 * terminal, a pty whose master is sent on console_fd, a connection to a
 * console socket (runc's protocol; `console_name` names it in errors; the
 * caller keeps console_fd).  Listens on the ports and fills p's ports. */
int sb_stdio_setup(struct sandbox *sb, int slot, const int fds[3], int console_fd,
		   const char *console_name, struct agent_process *p, struct kv_err *err);
/* A connection the agent made to one of our ports (vsock_accept_fn). */
void sb_stdio_accept(void *ctx, int fd, uint32_t host_port, uint32_t guest_port);
/* A process ended: true when its output is drained (or the deadline passed). */
bool sb_stdio_drained(struct sandbox *sb, int slot);
void sb_stdio_tick(struct sandbox *sb);
void sb_tick_arm(struct sandbox *sb, bool on);
void sb_stdio_cancel_all(struct sandbox *sb);
/* The wake and tick fds, and the init's --console-socket connection
 * (made now: the jail reaches no path). */
int sb_stdio_start(struct sandbox *sb, struct kv_err *err);

/* sandbox_jail.c: enters the jail (see there); single-threaded callers
 * only. */
int sb_jail(struct sandbox *sb, struct kv_err *err);
/* The number after "KEY:" in /proc/self/status (status_fd), or -1. */
long sb_status_value(int status_fd, const char *key);

/* sandbox_checkpoint.c */
/* Control request "checkpoint" {image_path, leave_running}, fds: the
 * image directory (taken). */
void sb_ckpt_request(struct sandbox *sb, int client, json_t *req, int *fds, unsigned nfds);
/* The parked agent closed the channel (sandbox_agent.c). */
void sb_ckpt_channel_closed(struct sandbox *sb);
/* --restore: builds the VM from the checkpoint, the init's stdio set up. */
int sb_restore_checkpoint(struct sandbox *sb, const struct vm_config *base, struct kv_err *err);
/* After the jail: relays for the streams restore_accept held. */
void sb_restore_attach(struct sandbox *sb);

/* sandbox_ctl.c */
int sb_ctl_start(struct sandbox *sb, struct kv_err *err);
void sb_ctl_reply(struct sandbox *sb, int client, json_t *reply);
void sb_ctl_close(struct sandbox *sb, int client);
void sb_ctl_proc_exited(struct sandbox *sb, int slot);
/* An EXIT or a relay finishing: exits owed to clients and the init. */
void sb_check_exits(struct sandbox *sb);

int cmd_sandbox(int argc, char **argv);

#endif
