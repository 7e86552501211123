/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `kvbox boot`: the debugging entry point.  Boots a kernel image directly
 * with the guest's serial console on the terminal and exits with a status
 * that says how the guest ended (docs/cli.md):
 *   0 guest powered off or rebooted (or the user quit with Ctrl-A x)
 *   1 VMM or KVM error          2 usage error
 *   3 guest kernel panic        4 guest triple fault
 *   128+N the VMM was stopped by signal N
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "boot/boot.h"
#include "gofer/gofer.h"
#include "guest/initramfs.h"
#include "util/cleanup.h"
#include "util/file.h"
#include "vmm/agent_chan.h"
#include "vmm/boot_cmd.h"
#include "vmm/boot_snapshot.h"
#include "vmm/vm_boot.h"
#include "vmm/runloop.h"
#include "vmm/snapshot.h"
#include "vmm/vm.h"

#define INITRD_MAX_BYTES (1024u << 20)
#define DEFAULT_MEM_MIB	 256
#define MIN_MEM_BYTES	 (4ULL << 20)
#define DEFAULT_CMDLINE	 "console=ttyS0 reboot=k panic=-1"
/* --rootfs: the share's tag and what Linux needs to mount it as / (a
 * nodev root: init/do_mounts.c mount_nodev_root).  512000 is the largest
 * msize Linux's virtio transport takes (PAGE_SIZE * (128 - 3)). */
#define ROOTFS_TAG "kvboxroot"
#define ROOTFS_CMDLINE                                                                             \
	"root=" ROOTFS_TAG " rootfstype=9p "                                                       \
	"rootflags=trans=virtio,version=9p2000.L,msize=512000,cache=loose rw"

struct boot_opts {
	const char *kernel, *initrd, *cmdline;
	const char *memory_arg, *cpus_arg;
	uint64_t mem_bytes;
	unsigned ncpus;
	bool debug;
	bool no_rng;
	bool agent;		/* --agent: agent initramfs, vsock, HELLO, SHUTDOWN */
	unsigned agent_timeout; /* seconds */
	const char *rootfs;
	struct gofer_share shares[GOFER_MAX_SHARES]; /* --rootfs first, then each --share */
	unsigned nshares;
	/* snapshots (vmm/snapshot.h) */
	int snapshot_on;	  /* --snapshot-on: the signal, 0 = none */
	const char *snapshot_dir; /* --snapshot-dir */
	bool snapshot_keep;	  /* --snapshot-leave-running */
	const char *restore;	  /* --restore DIR */
	bool restore_cow;	  /* --restore-cow */
	bool machine_flags;	  /* a flag --restore cannot take was given */
	const char *machine_flag; /* ... which one */
	char *cmdline_buf;	  /* --cmdline + ROOTFS_CMDLINE, owned */
	char *agent_cmdline;	  /* ... + kvbox.agent_port=, owned */
};

static void boot_usage(FILE *f)
{
	fprintf(f,
		"usage: kvbox boot --kernel FILE [--initrd FILE] [--cmdline STRING]\n"
		"                  [--cpus N] [--memory SIZE] [--no-rng] [--debug]\n"
		"                  [--share HOST_DIR:TAG[:ro]]... [--rootfs DIR]\n"
		"                  [--agent [--agent-timeout SECONDS]]\n"
		"Boots FILE (bzImage or PVH ELF vmlinux) with its serial console on this\n"
		"terminal. Ctrl-A x quits. SIZE takes K, M, G suffixes (plain numbers are MiB).\n"
		"The guest gets a virtio-rng (virtio-mmio) unless --no-rng; each device is\n"
		"declared by a virtio_mmio.device= entry appended to the command line.\n"
		"--share exports HOST_DIR as a virtio-9p device with mount tag TAG (in the\n"
		"guest: mount -t 9p -o trans=virtio,version=9p2000.L TAG /mnt); --rootfs\n"
		"boots with DIR as the guest's root filesystem (9p tag " ROOTFS_TAG ").\n"
		"--agent boots the kvbox-agent initramfs (unless --initrd) with a virtio-vsock,\n"
		"waits for the agent's HELLO, prints 'kvbox: agent ready: ...' and shuts the\n"
		"guest down (an error if that takes over --agent-timeout, default 120 s).\n"
		"\n"
		"       kvbox boot ... --snapshot-on SIGNAL --snapshot-dir DIR\n"
		"                  [--snapshot-leave-running]\n"
		"       kvbox boot --restore DIR [--restore-cow] [--kernel FILE] [--memory SIZE]\n"
		"                  [--cpus N] [--debug] [--snapshot-on SIGNAL --snapshot-dir DIR]\n"
		"On SIGNAL (USR1 or QUIT) the guest is paused and saved to DIR (which must not\n"
		"exist), then kvbox exits 0, or with --snapshot-leave-running the guest goes\n"
		"on. --restore runs the saved guest from where it stopped; --kernel, --memory\n"
		"and --cpus, if given, must match the image. --restore-cow maps DIR/memory\n"
		"copy-on-write instead of copying it (pages load as the guest touches them).\n");
}

__attribute__((format(printf, 2, 3))) static int fail(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "kvbox boot: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	return code;
}

/* One --share HOST_DIR:TAG[:ro]; the directory is checked later, with
 * the whole list. */
static int add_share(struct boot_opts *o, char *spec)
{
	char shown[256];
	struct kv_err err = {0};

	snprintf(shown, sizeof(shown), "%s", spec);
	if (o->nshares == GOFER_MAX_SHARES)
		return fail(2, "--share %s: at most %d shares", shown, GOFER_MAX_SHARES);
	if (gofer_share_parse(spec, &o->shares[o->nshares], &err) < 0)
		return fail(2, "--share %s: %s", shown, err.msg);
	o->nshares++;
	return 0;
}

/* --rootfs becomes the first share; every directory must exist, every
 * tag be unique, and the devices fit the virtio-mmio slots. */
static int check_shares(struct boot_opts *o)
{
	struct kv_err err = {0};
	unsigned slots = VM_VIRTIO_MAX - (o->no_rng ? 0 : 1) - (o->agent ? 1 : 0);

	if (o->rootfs) {
		if (o->nshares == GOFER_MAX_SHARES)
			return fail(2, "--rootfs: at most %d shares in all", GOFER_MAX_SHARES);
		memmove(&o->shares[1], &o->shares[0], o->nshares * sizeof(o->shares[0]));
		o->shares[0] = (struct gofer_share){.path = o->rootfs, .tag = ROOTFS_TAG};
		o->nshares++;
	}
	if (o->nshares == 0)
		return 0;
	if (o->nshares > slots)
		return fail(2, "%u shares: this machine has room for %u (%u virtio-mmio slots%s)",
			    o->nshares, slots, VM_VIRTIO_MAX,
			    o->no_rng ? (o->agent ? ", one is the vsock" : "")
				      : (o->agent ? ", two are the rng and the vsock"
						  : ", one is the rng"));
	if (gofer_shares_check(o->shares, o->nshares, &err) < 0)
		return fail(2, "%s%s", o->rootfs ? "--rootfs/--share: " : "--share: ", err.msg);
	if (o->rootfs) {
		if (asprintf(&o->cmdline_buf, "%s%s" ROOTFS_CMDLINE, o->cmdline,
			     o->cmdline[0] ? " " : "") < 0)
			return fail(1, "%s", "out of memory");
		o->cmdline = o->cmdline_buf;
	}
	return 0;
}

static int snapshot_signal_parse(const char *s)
{
	if (strncmp(s, "SIG", 3) == 0)
		s += 3;
	if (strcmp(s, "USR1") == 0)
		return SIGUSR1;
	if (strcmp(s, "QUIT") == 0)
		return SIGQUIT;
	return 0;
}

static int check_snapshot_opts(struct boot_opts *o)
{
	if (!!o->snapshot_on != !!o->snapshot_dir)
		return fail(2, "%s", "--snapshot-on and --snapshot-dir go together");
	if (o->snapshot_keep && !o->snapshot_on)
		return fail(2, "%s", "--snapshot-leave-running needs --snapshot-on");
	if (o->snapshot_dir && access(o->snapshot_dir, F_OK) == 0)
		return fail(
		    2, "--snapshot-dir %s: already exists (a snapshot goes to a new directory)",
		    o->snapshot_dir);
	if (o->restore_cow && !o->restore)
		return fail(2, "%s", "--restore-cow needs --restore");
	if (!o->restore)
		return 0;
	if (o->machine_flag || o->nshares || o->rootfs)
		return fail(2, "%s: not with --restore (the image fixes the machine)",
			    o->machine_flag ? o->machine_flag
			    : o->rootfs	    ? "--rootfs"
					    : "--share");
	return 0;
}

static int parse_boot_opts(int argc, char **argv, struct boot_opts *o)
{
	static const struct option longopts[] = {
	    {"kernel", required_argument, NULL, 'k'},
	    {"initrd", required_argument, NULL, 'i'},
	    {"cmdline", required_argument, NULL, 'c'},
	    {"cpus", required_argument, NULL, 'n'},
	    {"memory", required_argument, NULL, 'm'},
	    {"debug", no_argument, NULL, 'd'},
	    {"no-rng", no_argument, NULL, 'R'},
	    {"share", required_argument, NULL, 'S'},
	    {"rootfs", required_argument, NULL, 'r'},
	    {"agent", no_argument, NULL, 'A'},
	    {"agent-timeout", required_argument, NULL, 'T'},
	    {"snapshot-on", required_argument, NULL, 'O'},
	    {"snapshot-dir", required_argument, NULL, 'D'},
	    {"snapshot-leave-running", no_argument, NULL, 'L'},
	    {"restore", required_argument, NULL, 'X'},
	    {"restore-cow", no_argument, NULL, 'W'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	memset(o, 0, sizeof(*o));
	o->cmdline = DEFAULT_CMDLINE;
	o->mem_bytes = (uint64_t)DEFAULT_MEM_MIB << 20;
	o->ncpus = 1;
	o->agent_timeout = VM_AGENT_TIMEOUT_DEFAULT;
	opterr = 0;
	optind = 1;
	int c;
	while ((c = getopt_long(argc, argv, "+", longopts, NULL)) != -1) {
		switch (c) {
		case 'k':
			o->kernel = optarg;
			break;
		case 'i':
			o->initrd = optarg;
			o->machine_flag = "--initrd";
			break;
		case 'c':
			o->cmdline = optarg;
			o->machine_flag = "--cmdline";
			break;
		case 'n':
			o->cpus_arg = optarg;
			break;
		case 'm':
			o->memory_arg = optarg;
			break;
		case 'd':
			o->debug = true;
			break;
		case 'R':
			o->no_rng = true;
			o->machine_flag = "--no-rng";
			break;
		case 'A':
			o->agent = true;
			o->machine_flag = "--agent";
			break;
		case 'T': {
			char *end;
			errno = 0;
			unsigned long t = strtoul(optarg, &end, 10);
			if (errno || *end || end == optarg || t < 1 || t > 86400)
				return fail(2, "--agent-timeout '%s': expected 1 to 86400 seconds",
					    optarg);
			o->agent_timeout = (unsigned)t;
			break;
		}
		case 'S':
			if (add_share(o, optarg))
				return 2;
			break;
		case 'r':
			if (o->rootfs)
				return fail(2, "%s", "--rootfs given twice");
			o->rootfs = optarg;
			break;
		case 'O':
			if ((o->snapshot_on = snapshot_signal_parse(optarg)) == 0)
				return fail(2, "--snapshot-on '%s': expected USR1 or QUIT", optarg);
			break;
		case 'D':
			o->snapshot_dir = optarg;
			break;
		case 'L':
			o->snapshot_keep = true;
			break;
		case 'X':
			o->restore = optarg;
			break;
		case 'W':
			o->restore_cow = true;
			break;
		case 'h':
			boot_usage(stdout);
			exit(0);
		default:
			return fail(2, "unknown or incomplete option '%s' (see kvbox boot --help)",
				    argv[optind - 1]);
		}
	}
	if (optind < argc)
		return fail(2, "unexpected argument '%s'", argv[optind]);
	int r = check_snapshot_opts(o);
	if (r || o->restore)
		return r;
	if (!o->kernel)
		return fail(2, "%s", "--kernel FILE is required");
	r = check_shares(o);
	if (r || !o->agent)
		return r;
	if (asprintf(&o->agent_cmdline, "%s%skvbox.agent_port=%u", o->cmdline,
		     o->cmdline[0] ? " " : "", VM_AGENT_PORT) < 0)
		return fail(1, "%s", "out of memory");
	o->cmdline = o->agent_cmdline;
	return 0;
}

static int check_sizes(struct boot_opts *o, int max_vcpus)
{
	if (o->memory_arg) {
		if (parse_size_mib_default(o->memory_arg, &o->mem_bytes) < 0)
			return fail(2, "--memory '%s': expected a size such as 512M or 2G",
				    o->memory_arg);
		struct sysinfo si;
		uint64_t host = sysinfo(&si) == 0 ? (uint64_t)si.totalram * si.mem_unit : 0;
		if (o->mem_bytes < MIN_MEM_BYTES)
			return fail(2, "--memory %s: a guest needs at least 4M", o->memory_arg);
		if (host && o->mem_bytes > host) {
			fprintf(stderr,
				"kvbox boot: --memory %s: more than this host's %llu MiB of RAM\n",
				o->memory_arg, (unsigned long long)(host >> 20));
			return 2;
		}
		o->mem_bytes = (o->mem_bytes + 0x1fffff) & ~0x1fffffULL; /* 2 MiB pages */
	}
	if (o->cpus_arg) {
		char *end;
		errno = 0;
		long n = strtol(o->cpus_arg, &end, 10);
		if (errno || *end || end == o->cpus_arg || n < 1 || n > max_vcpus) {
			fprintf(
			    stderr,
			    "kvbox boot: --cpus '%s': expected 1 to %d (this host's KVM limit)\n",
			    o->cpus_arg, max_vcpus);
			return 2;
		}
		o->ncpus = (unsigned)n;
	}
	return 0;
}

/* Test knobs (docs/cli.md): set and not "0" forces a fallback path. */
static bool env_flag(const char *name)
{
	const char *v = getenv(name);
	return v && *v && strcmp(v, "0") != 0;
}

/* Loads kernel and initrd, builds the VM, and sets the boot vCPU up. */
static int boot_prepare(struct vm *vm, const struct boot_opts *o, struct kv_err *err)
{
	cleanup_free uint8_t *ibuf = NULL;
	size_t ilen = 0;
	int r;
	if (o->initrd &&
	    (r = read_file_bounded(o->initrd, INITRD_MAX_BYTES, &ibuf, &ilen, err)) < 0)
		return kv_err_wrap(err, r, "initrd");
	if (o->agent && !o->initrd) {
		char agent[PATH_MAX];
		if ((r = agent_binary_path(agent, sizeof(agent), err)) < 0 ||
		    (r = agent_initramfs_build(agent, &ibuf, &ilen, err)) < 0)
			return kv_err_wrap(err, r, "--agent");
	}
	struct vm_config cfg = {
	    .mem_bytes = o->mem_bytes,
	    .ncpus = o->ncpus,
	    .console_out = STDOUT_FILENO,
	    .debug = o->debug,
	    .no_rng = o->no_rng,
	    .vsock = o->agent,
	    .no_ioeventfd = env_flag("KVBOX_NO_IOEVENTFD"),
	    .no_irqfd = env_flag("KVBOX_NO_IRQFD"),
	    .shares = o->shares,
	    .nshares = o->nshares,
	};
	struct vm_boot_spec b = {
	    .kernel = o->kernel,
	    .initrd = ibuf,
	    .initrd_len = ilen,
	    .cmdline = o->cmdline,
	    .ncpus = o->ncpus,
	};
	return vm_boot_load(vm, &cfg, &b, err);
}

/* Boots or restores the VM and arms --snapshot-on; 0, or the exit status
 * after one line on stderr. */
static int prepare(struct vm *vm, const struct boot_opts *o, struct boot_snapshot *bs,
		   struct kv_err *err)
{
	int r;
	if (o->snapshot_on) {
		/* Held pending until the event loop's signalfd takes it. */
		sigset_t set;
		sigemptyset(&set);
		sigaddset(&set, o->snapshot_on);
		pthread_sigmask(SIG_BLOCK, &set, NULL);
		bs->dir = o->snapshot_dir;
		bs->leave_running = o->snapshot_keep;
	}
	if (o->restore) {
		struct boot_restore_req req = {
		    .dir = o->restore,
		    .kernel = o->kernel,
		    .mem_bytes = o->memory_arg ? o->mem_bytes : 0,
		    .ncpus = o->cpus_arg ? o->ncpus : 0,
		    .debug = o->debug,
		    .no_ioeventfd = env_flag("KVBOX_NO_IOEVENTFD"),
		    .no_irqfd = env_flag("KVBOX_NO_IRQFD"),
		    .cow = o->restore_cow,
		};
		r = boot_restore_prepare(vm, &req, &bs->ids, err);
	} else {
		r = boot_prepare(vm, o, err);
		if (r == 0 && o->snapshot_on) {
			snprintf(bs->ids.kernel_path, sizeof(bs->ids.kernel_path), "%s", o->kernel);
			r = snapshot_file_id(o->kernel, bs->ids.kernel_sha256, &bs->ids.kernel_size,
					     err);
		}
	}
	if (r < 0) {
		fprintf(stderr, "kvbox boot: %s\n", err->msg);
		return 1;
	}
	if (o->snapshot_on && boot_snapshot_arm(vm, o->snapshot_on, bs, err) < 0) {
		fprintf(stderr, "kvbox boot: %s\n", err->msg);
		return 2;
	}
	return 0;
}

static int exit_status(const struct vm *vm, enum vm_exit_kind kind)
{
	switch (kind) {
	case VM_EXIT_REBOOT:
	case VM_EXIT_POWEROFF:
	case VM_EXIT_USER:
	case VM_EXIT_SNAPSHOT:
		return 0;
	case VM_EXIT_PANIC:
		return 3;
	case VM_EXIT_TRIPLE_FAULT:
		return 4;
	case VM_EXIT_SIGNAL:
		return 128 + vm->exit_signal;
	default:
		return 1;
	}
}

static void debug_report(const struct vm *vm)
{
	vm_virtio_report(&vm->virtio, stderr);
	fprintf(stderr, "kvbox: event loop: %llu wakeups, %llu.%03llu s CPU\n",
		(unsigned long long)vm->loop_stats.wakeups,
		(unsigned long long)(vm->loop_stats.cpu_usec / 1000000),
		(unsigned long long)(vm->loop_stats.cpu_usec / 1000 % 1000));
}

int cmd_boot(int argc, char **argv)
{
	struct boot_opts o;
	int r = parse_boot_opts(argc, argv, &o);
	if (r)
		return r;
	cleanup_free char *cmdline_owned = o.cmdline_buf;
	cleanup_free char *agent_cmdline_owned = o.agent_cmdline;
	(void)cmdline_owned; /* freed on the way out; o.cmdline may point at them */
	(void)agent_cmdline_owned;
	if (o.kernel && access(o.kernel, R_OK) < 0)
		return fail(2, "--kernel %s: %s", o.kernel, strerror(errno));
	struct kvm_sys probe;
	struct kv_err err = {0};
	if (kvm_sys_open(&probe, &err) < 0) {
		fprintf(stderr, "kvbox boot: %s\n", err.msg);
		return 1;
	}
	int max_vcpus = probe.max_vcpus < VM_MAX_VCPUS ? probe.max_vcpus : VM_MAX_VCPUS;
	kvm_sys_close(&probe);
	if ((r = check_sizes(&o, max_vcpus)))
		return r;
	cleanup_free struct vm *vm = calloc(1, sizeof(*vm));
	cleanup_free struct boot_snapshot *bs = calloc(1, sizeof(*bs));
	if (!vm || !bs)
		return fail(1, "%s", "out of memory");
	if ((r = prepare(vm, &o, bs, &err)) != 0) {
		vm_destroy(vm);
		return r;
	}
	if (o.debug) {
		fprintf(stderr, "kvbox: KVM flavour %s, %u vCPU(s), %llu MiB\n",
			kvm_flavour_name(vm->kvm.flavour), vm->ncpus,
			(unsigned long long)(vm->mem.total >> 20));
		vm_virtio_describe(&vm->virtio, stderr);
	}
	cleanup_free struct vm_agent *agent = o.agent ? calloc(1, sizeof(*agent)) : NULL;
	if (o.agent && (!agent || vm_agent_start(agent, vm, o.agent_timeout, &err) < 0)) {
		fprintf(stderr, "kvbox boot: %s\n", agent ? err.msg : "out of memory");
		if (agent)
			vm_agent_stop(agent);
		vm_destroy(vm);
		return 1;
	}
	if (vm_start_vcpus(vm, &err) < 0) {
		fprintf(stderr, "kvbox boot: %s\n", err.msg);
		if (agent)
			vm_agent_stop(agent);
		vm_destroy(vm);
		return 1;
	}
	enum vm_exit_kind kind = vm_run(vm, STDIN_FILENO);
	if (agent)
		vm_agent_stop(agent);
	int status = exit_status(vm, kind);
	if (agent && !agent->hello_seen && status == 0) {
		/* the guest ended on its own: the agent never said HELLO */
		char why[sizeof(vm->exit_msg)];
		memcpy(why, vm->exit_msg, sizeof(why));
		snprintf(vm->exit_msg, sizeof(vm->exit_msg),
			 "agent: the guest stopped (%.180s) without a HELLO", why);
		status = 1;
	}
	if (status != 0 && kind != VM_EXIT_SIGNAL)
		fprintf(stderr, "kvbox boot: %s\n", vm->exit_msg);
	else if (o.debug)
		fprintf(stderr, "kvbox: %s\n", vm->exit_msg);
	if (o.debug)
		debug_report(vm);
	vm_destroy(vm);
	return status;
}
