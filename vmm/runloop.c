/* SPDX-License-Identifier: Apache-2.0 */
/* Main-thread event loop and terminal handling; see vmm/runloop.h. */
#include "vmm/runloop.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <unistd.h>

#include "security/seccomp.h"

/* The loop's own fds; tokens from TOK_HANDLERS up belong to vm->handlers
 * (device fds such as virtio ioeventfds, vmm/fd_handlers.h). */
enum loop_token { TOK_STOP = 1, TOK_SIGNAL, TOK_CONSOLE, TOK_HANDLERS = 16 };

#define LOOP_MAX_EVENTS 16

struct loop {
	struct vm *vm;
	int epfd, sigfd, console_in;
	bool console_open;
	bool tty;
	struct termios saved;
	struct console_escape esc;
	unsigned char pending[256]; /* input read but not yet taken by the UART */
	size_t pending_len, pending_off;
};

int console_escape_feed(struct console_escape *e, unsigned char c, unsigned char out[2],
			unsigned *out_len)
{
	*out_len = 0;
	if (e->armed) {
		e->armed = 0;
		if (c == 'x' || c == 'X')
			return 1;
		if (c != CONSOLE_ESCAPE_CHAR)
			out[(*out_len)++] = CONSOLE_ESCAPE_CHAR;
		out[(*out_len)++] = c;
		return 0;
	}
	if (c == CONSOLE_ESCAPE_CHAR) {
		e->armed = 1;
		return 0;
	}
	out[(*out_len)++] = c;
	return 0;
}

static int epoll_add(int epfd, int fd, enum loop_token tok)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = tok};
	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

static void loop_console_enable(struct loop *l, bool on)
{
	struct epoll_event ev = {.events = on ? EPOLLIN : 0, .data.u64 = TOK_CONSOLE};
	if (l->console_open)
		epoll_ctl(l->epfd, EPOLL_CTL_MOD, l->console_in, &ev);
}

/* Pushes buffered input into the UART FIFO; returns true if all went. */
static bool loop_flush_input(struct loop *l)
{
	while (l->pending_off < l->pending_len) {
		size_t n = uart8250_push_input(&l->vm->com1, l->pending + l->pending_off,
					       l->pending_len - l->pending_off);
		if (n == 0)
			return false;
		l->pending_off += n;
	}
	l->pending_len = l->pending_off = 0;
	return true;
}

static void loop_read_console(struct loop *l)
{
	unsigned char buf[128];
	ssize_t n = read(l->console_in, buf, sizeof(buf));
	if (n <= 0) {
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			return;
		/* EOF on stdin: the guest keeps running, we stop reading. */
		epoll_ctl(l->epfd, EPOLL_CTL_DEL, l->console_in, NULL);
		l->console_open = false;
		return;
	}
	for (ssize_t i = 0; i < n; i++) {
		unsigned char out[2];
		unsigned out_len = 1;
		if (l->tty) {
			if (console_escape_feed(&l->esc, buf[i], out, &out_len)) {
				vm_request_exit(l->vm, VM_EXIT_USER, "quit from the console");
				return;
			}
		} else {
			out[0] = buf[i];
		}
		for (unsigned j = 0; j < out_len && l->pending_len < sizeof(l->pending); j++)
			l->pending[l->pending_len++] = out[j];
	}
	/* Back-pressure: stop reading until the guest drains the FIFO. */
	if (!loop_flush_input(l))
		loop_console_enable(l, false);
}

static void loop_signal(struct loop *l)
{
	struct signalfd_siginfo si;
	if (read(l->sigfd, &si, sizeof(si)) != sizeof(si))
		return;
	if (l->vm->user_signal && (int)si.ssi_signo == l->vm->user_signal) {
		l->vm->user_signal_cb(l->vm, l->vm->user_signal_ctx);
		return;
	}
	l->vm->exit_signal = (int)si.ssi_signo;
	vm_request_exit(l->vm, VM_EXIT_SIGNAL, "stopped by signal %s",
			strsignal((int)si.ssi_signo));
}

static void loop_restore_tty(struct loop *l)
{
	if (l->tty)
		tcsetattr(l->console_in, TCSAFLUSH, &l->saved);
	l->tty = false;
}

static int loop_init(struct loop *l, struct vm *vm, int console_in)
{
	memset(l, 0, sizeof(*l));
	l->vm = vm;
	l->console_in = console_in;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	if (vm->user_signal)
		sigaddset(&set, vm->user_signal);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	l->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (l->epfd < 0 || l->sigfd < 0 || epoll_add(l->epfd, vm->stop_fd, TOK_STOP) < 0 ||
	    epoll_add(l->epfd, l->sigfd, TOK_SIGNAL) < 0)
		return -errno;
	int r = fd_handlers_attach(&vm->handlers, l->epfd, TOK_HANDLERS, NULL);
	if (r < 0) {
		errno = -r;
		return r;
	}
	if (console_in >= 0 && epoll_add(l->epfd, console_in, TOK_CONSOLE) == 0) {
		l->console_open = true;
		if (isatty(console_in) && tcgetattr(console_in, &l->saved) == 0) {
			struct termios raw = l->saved;
			cfmakeraw(&raw);
			raw.c_oflag |= OPOST | ONLCR; /* keep our own messages readable */
			if (tcsetattr(console_in, TCSAFLUSH, &raw) == 0)
				l->tty = true;
		}
	}
	return 0;
}

static void loop_dispatch(struct loop *l, const struct epoll_event *ev)
{
	switch (ev->data.u64) {
	case TOK_STOP:
		break; /* exit_kind is set; the loop condition ends us */
	case TOK_SIGNAL:
		loop_signal(l);
		break;
	case TOK_CONSOLE:
		loop_read_console(l);
		break;
	default:
		fd_handlers_dispatch(&l->vm->handlers, ev->data.u64, ev->events);
		break;
	}
}

/* CPU time of the calling thread, in microseconds. */
static uint64_t thread_cpu_usec(void)
{
	struct rusage ru;
	if (getrusage(RUSAGE_THREAD, &ru) < 0)
		return 0;
	return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000u +
	       (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

enum vm_exit_kind vm_run(struct vm *vm, int console_in)
{
	struct loop l;
	uint64_t cpu_start = thread_cpu_usec();
	/* Set-up is over once the loop exists: this thread takes its filter
	 * (the relay threads it starts later inherit it), then the vCPUs,
	 * filtered already, may enter the guest. */
	struct kv_err err = {0};
	if (loop_init(&l, vm, console_in) < 0)
		vm_request_exit(vm, VM_EXIT_ERROR, "setting up the event loop: %s",
				strerror(errno));
	else if (kv_seccomp_install(KV_SECCOMP_VMM, &err) < 0)
		vm_request_exit(vm, VM_EXIT_ERROR, "%s", err.msg);
	else
		vm_open_gate(vm);
	while (__atomic_load_n(&vm->exit_kind, __ATOMIC_ACQUIRE) == VM_EXIT_NONE) {
		struct epoll_event evs[LOOP_MAX_EVENTS];
		/* While input waits for FIFO space, poll the UART every 10 ms. */
		int timeout = l.pending_len ? 10 : -1;
		int n = epoll_wait(l.epfd, evs, LOOP_MAX_EVENTS, timeout);
		if (n < 0 && errno != EINTR) {
			vm_request_exit(vm, VM_EXIT_ERROR, "epoll_wait: %s", strerror(errno));
			break;
		}
		if (n > 0)
			vm->loop_stats.wakeups++;
		if (l.pending_len && loop_flush_input(&l))
			loop_console_enable(&l, true);
		for (int i = 0; i < n; i++)
			loop_dispatch(&l, &evs[i]);
	}
	vm_stop_vcpus(vm);
	fd_handlers_detach(&vm->handlers);
	vm->loop_stats.cpu_usec = thread_cpu_usec() - cpu_start;
	loop_restore_tty(&l);
	if (l.epfd >= 0)
		close(l.epfd);
	if (l.sigfd >= 0)
		close(l.sigfd);
	return vm->exit_kind;
}
