/*
 * tests/nested/l1-pid1.c — PID 1 of the nested host (L1) after switch_root.
 * Owner: tests/nested/. Built statically by tests/nested/prepare and put in
 * the L1 initramfs; l1-init.sh copies it into the new root and execs it.
 *
 * Usage: l1-pid1 SHAREDIR
 *   Runs `/bin/sh SHAREDIR/cmd.sh` (written by tests/nested/run) with stdin
 *   from /dev/null and stdout+stderr appended to SHAREDIR/output, reaps every
 *   orphan meanwhile, and when that command ends writes its status
 *   (exit code, or 128+signal) to SHAREDIR/status (via a rename, after
 *   fsync), stops what is left, syncs and powers the machine off.
 *   SHAREDIR/started and SHAREDIR/finished get the guest uptime (seconds).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <sys/reboot.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *share;

static void msg(const char *s)
{
	int fd = open("/dev/console", O_WRONLY | O_NOCTTY);
	if (fd >= 0) {
		dprintf(fd, "nested-pid1: %s\n", s);
		close(fd);
	}
}

static void halt(void)
{
	sync();
	reboot(RB_POWER_OFF);
	for (;;)
		pause();
}

/* Write "text" to SHAREDIR/name atomically and durably. */
static int put(const char *name, const char *text)
{
	char tmp[4096], dst[4096];
	snprintf(tmp, sizeof tmp, "%s/.%s.tmp", share, name);
	snprintf(dst, sizeof dst, "%s/%s", share, name);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return -1;
	size_t n = strlen(text);
	if (write(fd, text, n) != (ssize_t)n || fsync(fd) != 0) {
		close(fd);
		return -1;
	}
	close(fd);
	return rename(tmp, dst);
}

static void put_uptime(const char *name)
{
	char buf[64] = "?\n";
	int fd = open("/proc/uptime", O_RDONLY);
	if (fd >= 0) {
		ssize_t n = read(fd, buf, sizeof buf - 1);
		close(fd);
		if (n > 0) {
			buf[n] = 0;
			char *sp = strchr(buf, ' ');
			if (sp) {
				sp[0] = '\n';
				sp[1] = 0;
			}
		}
	}
	put(name, buf);
}

/*
 * Holds one KVM VM with one vCPU (never run) for the L1's whole life.
 * Creating the first VM and destroying the last flip static keys of the
 * L1 kernel (preempt_notifier_key at every VM; KVM's apic_sw_disabled for
 * a vCPU whose APIC is still software-disabled), and a flip rewrites
 * kernel text through int3 breakpoints on every CPU.  Under QEMU's
 * multi-threaded TCG that cross-modifying code has wedged the L1 (one
 * vCPU stuck in exc_int3, the other spinning on a lock with interrupts
 * off); with this VM held, the tests' VMs never take those counts
 * through zero.  Best effort: no /dev/kvm, no hold.
 */
static void hold_kvm(void)
{
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		return;
	int vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0 || ioctl(vm, KVM_CREATE_IRQCHIP, 0) < 0 || ioctl(vm, KVM_CREATE_VCPU, 0) < 0)
		msg("could not hold a KVM VM (static keys will flip with the tests' VMs)");
	/* the fds stay open until this process dies */
}

int main(int argc, char **argv)
{
	if (argc != 2 || getpid() != 1) {
		fprintf(stderr, "usage: l1-pid1 SHAREDIR (as PID 1)\n");
		return 2;
	}
	share = argv[1];

	char script[4096], out[4096];
	snprintf(script, sizeof script, "%s/cmd.sh", share);
	snprintf(out, sizeof out, "%s/output", share);

	put_uptime("started");

	/* The heartbeat: the L1's uptime in SHAREDIR/heartbeat every 5 s, at
	 * a high priority, so that tests/nested/run can tell a wedged L1
	 * kernel (no beat for minutes) from a slow test. */
	pid_t beat = fork();
	if (beat == 0) {
		setpriority(PRIO_PROCESS, 0, -15);
		hold_kvm();
		for (;;) {
			put_uptime("heartbeat");
			sleep(5);
		}
	}

	pid_t child = fork();
	if (child < 0) {
		msg("fork failed");
		halt();
	}
	if (child == 0) {
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		setsid();
		int in = open("/dev/null", O_RDONLY);
		int o = open(out, O_WRONLY | O_APPEND | O_CREAT, 0644);
		if (in < 0 || o < 0) {
			msg("cannot open /dev/null or the output file");
			_exit(125);
		}
		dup2(in, 0);
		dup2(o, 1);
		dup2(o, 2);
		if (in > 2)
			close(in);
		if (o > 2)
			close(o);
		char *env[] = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
			       NULL};
		execve("/bin/sh", (char *[]){"sh", script, NULL}, env);
		dprintf(2, "nested: cannot exec /bin/sh inside L1: %s\n", strerror(errno));
		_exit(127);
	}

	int st = 0;
	for (;;) {
		int s;
		pid_t p = wait(&s);
		if (p == child) {
			st = s;
			break;
		}
		if (p == beat && beat > 0)
			beat = -1; /* cannot restart it: tests/nested/run will call the L1 wedged */
		if (p < 0 && errno == ECHILD) {
			msg("lost the command");
			halt();
		}
	}
	put_uptime("finished");

	int code = WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : 255;

	/* Stop whatever the command left running, then record the status. */
	kill(-1, SIGTERM);
	struct timespec end, now;
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += 2;
	for (;;) {
		pid_t p = waitpid(-1, NULL, WNOHANG);
		if (p < 0)
			break; /* ECHILD: everyone is gone */
		if (p == 0) {
			clock_gettime(CLOCK_MONOTONIC, &now);
			if (now.tv_sec > end.tv_sec ||
			    (now.tv_sec == end.tv_sec && now.tv_nsec >= end.tv_nsec)) {
				kill(-1, SIGKILL);
				while (wait(NULL) > 0)
					;
				break;
			}
			usleep(20000);
		}
	}

	char buf[32];
	snprintf(buf, sizeof buf, "%d\n", code);
	if (put("status", buf) != 0)
		msg("cannot write the status file");
	halt();
}
