/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The host <-> guest-agent protocol, shared by the VMM and kvbox-agent: the
 * one codec for it (guest/protocol.c).  Everything past agent_msg_decode()
 * sees validated structs.
 *
 * Transport: one AF_VSOCK stream, the agent connects to the host (CID 2) on
 * the port given by kvbox.agent_port= on the guest kernel command line.
 * Process stdio uses further vsock streams the agent connects to the ports
 * named in CREATE/EXEC (see struct agent_process).
 *
 * Frame (little-endian):
 *
 *     u32 len      payload bytes that follow this 12-byte header
 *                  (<= AGENT_MAX_PAYLOAD)
 *     u16 type     enum agent_type
 *     u16 flags    AGENT_F_REPLY | AGENT_F_EVENT (at most one)
 *     u32 id       request id; a reply (or ERROR) carries its request's id,
 *                  events carry 0
 *     payload      a sequence of fields
 *
 * Field: u16 tag, u32 len, len bytes.  Tags are unique within one struct.
 * A tag the decoder does not know is an error unless it has bit 15 set
 * (AGENT_TAG_OPTIONAL), which lets a newer peer add fields an older one may
 * skip.  Values: u32/u64/i32 as 4/8 little-endian bytes, bool as one byte
 * 0/1, strings as bytes (no NUL inside, <= AGENT_STR_MAX), lists as u32
 * count then per element (u32 len + bytes) for strings and structs (a
 * struct is itself a field sequence) or packed u32s for u32 lists.  A field
 * that is absent decodes as 0 / NULL / empty, and encoders leave out
 * exactly those, so the encoding of a struct is deterministic.
 *
 * Who sends what:
 *
 *   agent -> host, events:  HELLO (once, first), EXIT (each process ends)
 *   host -> agent requests, each answered by a reply of the same type with
 *   AGENT_F_REPLY, or by an ERROR reply, both with the request's id:
 *     CREATE  struct agent_create     -> struct agent_pid (init, guest pid)
 *     START   (empty)                 -> (empty) once the init has exec'd
 *     EXEC    struct agent_exec       -> struct agent_pid once exec'd
 *     SIGNAL  struct agent_signal     -> (empty)
 *     WAIT    struct agent_wait       -> struct agent_exit when pid ends
 *     PS      (empty)                 -> struct agent_ps
 *     RESIZE  struct agent_resize     -> (empty)
 *     STATS   (empty)                 -> struct agent_stats
 *     SHUTDOWN (empty)                -> (empty) once every container process
 *                                        is gone and the guest synced its
 *                                        filesystems; then it powers off
 *     UPDATE  struct agent_update     -> (empty) once the container's cgroup
 *                                        took every value
 *     PARK    (empty)                 -> struct agent_parked; then the agent
 *                                        closes the channel and listens on
 *                                        its port for the next host (a
 *                                        template or a checkpoint is saved
 *                                        while it waits; a container's
 *                                        processes go on); the new
 *                                        connection starts with HELLO
 *     RESUME  struct agent_resume     -> (empty) once the guest's random
 *                                        pool is reseeded and its clock set
 *                                        (the first request after a
 *                                        template or checkpoint restore)
 *
 * Decoding is a cursor with a sticky error (diod style): truncation
 * -EPROTO, an unknown type or flag combination -EBADMSG, a frame larger
 * than allowed -EMSGSIZE, a value out of its range or a count over its
 * limit -EINVAL / -E2BIG.  Decoded pointers point into an arena owned by
 * the message: agent_msg_free() releases all of it.
 */
#ifndef KVBOX_GUEST_PROTOCOL_H
#define KVBOX_GUEST_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AGENT_PROTO_VERSION 1u
#define AGENT_HDR_SIZE	    12u
#define AGENT_MAX_PAYLOAD   (1u << 20)
#define AGENT_MAX_FRAME	    (AGENT_HDR_SIZE + AGENT_MAX_PAYLOAD)
#define AGENT_TAG_OPTIONAL  0x8000u

/* Limits enforced while decoding. */
#define AGENT_STR_MAX	    (128u * 1024) /* Linux's MAX_ARG_STRLEN */
#define AGENT_PATH_MAX	    4096u
#define AGENT_MAX_ARGS	    4096u
#define AGENT_MAX_ENV	    4096u
#define AGENT_MAX_GROUPS    1024u
#define AGENT_MAX_RLIMITS   16u /* RLIM_NLIMITS */
#define AGENT_MAX_MOUNTS    256u
#define AGENT_MAX_PATHS	    1024u /* masked / read-only paths */
#define AGENT_MAX_SYSCTLS   256u
#define AGENT_MAX_DEVICES   256u
#define AGENT_MAX_PROCS	    16384u /* PS reply */
#define AGENT_MAX_BPF_INSNS 4096u  /* BPF_MAXINSNS */
#define AGENT_MAX_SIGNAL    64u	   /* _NSIG - 1 */
#define AGENT_CAP_MASK_BITS 64u
#define AGENT_MAX_NETS	    8u	/* NICs */
#define AGENT_MAX_ADDRS	    64u /* addresses, and routes, per NIC */
#define AGENT_IFNAME_MAX    15u /* IFNAMSIZ - 1 */

/* Ports: 0 means "none" (stdin reads /dev/null, output is discarded). */
#define AGENT_NO_PORT 0u

enum agent_type {
	AGENT_HELLO = 1,
	AGENT_CREATE,
	AGENT_START,
	AGENT_EXEC,
	AGENT_SIGNAL,
	AGENT_WAIT,
	AGENT_EXIT,
	AGENT_PS,
	AGENT_RESIZE,
	AGENT_STATS,
	AGENT_SHUTDOWN,
	AGENT_ERROR,
	AGENT_UPDATE, /* added in protocol 1 after ERROR: wire values never move */
	AGENT_PARK,
	AGENT_RESUME,
	AGENT_TYPE_COUNT,
};

#define AGENT_F_REPLY 0x0001u
#define AGENT_F_EVENT 0x0002u

struct agent_hdr {
	uint32_t len; /* payload length */
	uint16_t type;
	uint16_t flags;
	uint32_t id;
};

struct agent_hello {
	uint32_t version; /* AGENT_PROTO_VERSION */
	char *agent_version;
	char *kernel;		 /* uname -r of the guest */
	uint64_t boot_ns;	 /* CLOCK_BOOTTIME when HELLO was sent */
	uint64_t agent_start_ns; /* CLOCK_BOOTTIME when the agent started */
};

struct agent_rlimit {
	uint32_t type; /* RLIMIT_* */
	uint64_t soft, hard;
};

/* The process to run: OCI "process", already resolved by the host
 * (capability names to bit numbers, the seccomp profile to a BPF program
 * for the guest's architecture). */
struct agent_process {
	char **args; /* NULL-terminated as well as counted */
	uint32_t nargs;
	char **env;
	uint32_t nenv;
	char *cwd; /* absolute, inside the container */
	uint32_t uid, gid;
	uint32_t *groups; /* additionalGids */
	uint32_t ngroups;
	uint32_t umask;
	struct agent_rlimit *rlimits;
	uint32_t nrlimits;
	/* capability sets, bit n = capability n */
	uint64_t cap_bounding, cap_effective, cap_inheritable, cap_permitted, cap_ambient;
	bool no_new_privs;
	bool terminal;
	/* vsock ports on the host the agent connects to for stdio; with
	 * terminal, only console_port is used (both directions) */
	uint32_t stdin_port, stdout_port, stderr_port, console_port;
	uint32_t console_rows, console_cols; /* initial size, 0 = leave */
	uint8_t *seccomp_bpf;		     /* struct sock_filter[], 8 bytes each */
	uint32_t seccomp_len;		     /* bytes */
	uint32_t seccomp_flags;		     /* SECCOMP_FILTER_FLAG_* */
};

/* One mount, OCI "mounts[]" after the host resolved options into flags.
 * type "bind": source is a 9p tag the agent mounts once and binds
 * subpath of it (a file or a directory; "" = the share's root) to
 * destination; flags (MS_RDONLY, MS_NOSUID, ...) are applied by a remount.
 * Any other type is passed to mount(2) with source, flags and data. */
struct agent_mount {
	char *destination; /* absolute, inside the container */
	char *type;
	char *source;
	char *subpath;
	uint64_t flags;	      /* MS_* */
	uint64_t propagation; /* MS_PRIVATE | MS_SLAVE | MS_SHARED | MS_UNBINDABLE [| MS_REC] */
	char *data;
};

struct agent_sysctl {
	char *key; /* dotted: net.ipv4.ip_forward */
	char *value;
};

struct agent_device {
	char *path;    /* absolute, inside the container */
	uint32_t type; /* 'c', 'b' or 'p' */
	uint32_t major, minor;
	uint32_t mode; /* permission bits */
	uint32_t uid, gid;
};

/* Networking (CREATE, optional tags: an older agent skips them).  The host
 * read these from the interface a guest NIC mirrors (oci/net.h). */
struct agent_ip_addr {
	uint32_t family; /* AF_INET or AF_INET6 */
	uint8_t *addr;	 /* 4 or 16 bytes, network order */
	uint32_t addr_len;
	uint32_t prefix; /* 0..32 / 0..128 */
};

struct agent_route {
	uint32_t family;
	uint8_t *dst; /* absent (0 bytes) with prefix 0: the default route */
	uint32_t dst_len;
	uint32_t prefix;
	uint8_t *gateway; /* absent: on-link (scope link) */
	uint32_t gateway_len;
	uint32_t metric; /* RTA_PRIORITY, 0 = none */
};

/* One guest NIC, found by its MAC, renamed to name, given mtu, brought
 * up, then the addresses and routes added (routes through this NIC). */
struct agent_net_if {
	char *name; /* 1..15 bytes, no '/', ':' or space; not "." or ".." */
	uint8_t *mac;
	uint32_t mac_len; /* 6 */
	uint32_t mtu;	  /* 0 = leave */
	struct agent_ip_addr *addrs;
	uint32_t naddrs;
	struct agent_route *routes;
	uint32_t nroutes;
};

struct agent_create {
	char *container_id;
	struct agent_process process;
	char *rootfs_tag;  /* 9p tag of the rootfs share, or ... */
	char *rootfs_path; /* ... a directory already in the guest (tests) */
	uint32_t msize;	   /* 9p msize, 0 = the agent's default */
	bool rootfs_readonly;
	char *hostname; /* NULL = leave */
	char *domainname;
	struct agent_mount *mounts;
	uint32_t nmounts;
	char **masked_paths;
	uint32_t nmasked_paths;
	char **readonly_paths;
	uint32_t nreadonly_paths;
	struct agent_sysctl *sysctls;
	uint32_t nsysctls;
	struct agent_device *devices;
	uint32_t ndevices;
	uint32_t namespaces; /* CLONE_NEW* to create; 0 = the default set */
	/* optional tag 15: the NICs to configure before the container
	 * starts (none: loopback only) */
	struct agent_net_if *nets;
	uint32_t nnets;
};

struct agent_exec {
	struct agent_process process;
};

struct agent_pid {
	uint32_t pid; /* guest pid (the agent's pid namespace) */
};

struct agent_signal {
	uint32_t pid; /* 0 = the container's init */
	uint32_t signo;
	bool all; /* every process of the container */
};

struct agent_wait {
	uint32_t pid;
};

struct agent_exit {
	uint32_t pid;
	uint32_t code;	 /* 0..255 for exit(), 128 + signal when signalled */
	uint32_t signal; /* 0 unless killed by a signal */
	bool core;
};

struct agent_proc_info {
	uint32_t pid, ppid, uid;
	char *cmd;
};

struct agent_ps {
	struct agent_proc_info *procs;
	uint32_t nprocs;
};

struct agent_resize {
	uint32_t pid; /* 0 = the container's init */
	uint32_t rows, cols;
};

struct agent_stats {
	uint64_t mem_total, mem_available; /* guest, bytes */
	uint64_t mem_usage;		   /* container, bytes */
	uint64_t cpu_usage_ns, cpu_user_ns, cpu_system_ns;
	uint32_t pids;
};

/* Live resource changes, written to the container's cgroup (v2) in the
 * guest.  0 / NULL leaves a value unchanged; AGENT_UNLIMITED means "max". */
#define AGENT_UNLIMITED UINT64_MAX
struct agent_update {
	uint64_t cpu_quota;  /* cpu.max quota, microseconds per period */
	uint64_t cpu_period; /* cpu.max period, microseconds */
	uint64_t cpu_weight; /* cpu.weight 1..10000 */
	uint64_t pids_max;   /* pids.max */
	char *cpuset_cpus;   /* cpuset.cpus */
};

/* After a restore from a template every guest holds the same random
 * state and the template's clock: fresh entropy from the host (mixed in
 * and credited, then the kernel's CRNG reseeded) and the host's
 * CLOCK_REALTIME. */
#define AGENT_SEED_BYTES 64u
struct agent_resume {
	uint8_t *seed; /* AGENT_SEED_BYTES */
	uint32_t seed_len;
	uint64_t realtime_ns; /* host CLOCK_REALTIME when sent */
};

/* PARK's reply.  Before any CREATE (a template): the guest-physical
 * ranges of the running kernel's text and read-only data, as /proc/iomem
 * names them ("Kernel code", "Kernel rodata"), whole pages inside them:
 * pairs of (first page, page count), ascending.  The host may give every
 * VM restored from the template those pages copy-on-write from the image
 * (vmm/lazy_mem.h).  Empty after a CREATE (a checkpoint). */
#define AGENT_MAX_RO_RANGES 4u
struct agent_parked {
	uint32_t *kernel_ro; /* 2 * n entries */
	uint32_t nkernel_ro;
};

struct agent_error {
	int32_t errnum; /* positive errno */
	char *message;
};

struct agent_arena;

struct agent_msg {
	struct agent_hdr hdr;
	union {
		struct agent_hello hello;
		struct agent_create create;
		struct agent_exec exec;
		struct agent_pid pid;
		struct agent_signal signal;
		struct agent_wait wait;
		struct agent_exit exit;
		struct agent_ps ps;
		struct agent_resize resize;
		struct agent_stats stats;
		struct agent_error error;
		struct agent_update update;
		struct agent_resume resume;
		struct agent_parked parked;
	} u;
	struct agent_arena *arena; /* owns decoded data; NULL when built by hand */
};

/* Which payload a (type, flags) pair carries; -EBADMSG if the pair is not
 * part of the protocol. */
int agent_hdr_check(const struct agent_hdr *hdr);

/* Reads the 12-byte header from buf.  -EAGAIN if len < AGENT_HDR_SIZE,
 * -EMSGSIZE if the payload is larger than AGENT_MAX_PAYLOAD, -EBADMSG for
 * an unknown type or flag combination.  A stream reader calls this first,
 * then waits for AGENT_HDR_SIZE + hdr->len bytes. */
int agent_hdr_decode(const uint8_t *buf, size_t len, struct agent_hdr *hdr);

/* Decodes one whole frame (header + payload, exactly len bytes) into msg,
 * which the caller releases with agent_msg_free() whether or not this
 * succeeded. */
int agent_msg_decode(const uint8_t *buf, size_t len, struct agent_msg *msg);

void agent_msg_free(struct agent_msg *msg);

/* Sets up a message to encode (zeroes the payload). */
void agent_msg_init(struct agent_msg *msg, enum agent_type type, uint16_t flags, uint32_t id);

/* Encodes msg (msg->hdr.len is ignored and computed) into buf.  Returns the
 * frame length, or -EMSGSIZE if it does not fit in cap or in
 * AGENT_MAX_FRAME, -EBADMSG for a bad type/flags pair, -EINVAL for a value
 * the decoder would refuse (so a host bug is caught on the host). */
long agent_msg_encode(const struct agent_msg *msg, uint8_t *buf, size_t cap);

/* Same, into a malloc'ed buffer of the exact size. */
long agent_msg_encode_alloc(const struct agent_msg *msg, uint8_t **out);

/* An ERROR reply to request id. */
long agent_error_encode(uint32_t id, int errnum, const char *message, uint8_t *buf, size_t cap);

const char *agent_type_name(unsigned type);

#endif
