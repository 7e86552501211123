/* SPDX-License-Identifier: Apache-2.0 */
/*
 * 8250/16550A register model (see uart8250.h).  Only what Linux's 8250
 * driver and early console use: THR/RBR, IER, IIR/FCR, LCR, MCR, LSR,
 * MSR, SCR and the divisor latch.  Loopback mode (MCR bit 4) echoes THR
 * into RBR because the driver's autoconfig probes it.
 */
#include "devices/uart8250.h"

#include <string.h>

enum {
	UART_RX = 0,
	UART_IER = 1,
	UART_IIR = 2,
	UART_LCR = 3,
	UART_MCR = 4,
	UART_LSR = 5,
	UART_MSR = 6,
	UART_SCR = 7,
};

#define IER_RDI	   0x01
#define IER_THRI   0x02
#define IER_RLSI   0x04
#define IER_MSI	   0x08
#define IIR_NO_INT 0x01
#define IIR_THRI   0x02
#define IIR_RDI	   0x04
#define IIR_FIFO   0xc0
#define LCR_DLAB   0x80
#define MCR_LOOP   0x10
#define MCR_OUT2   0x08
#define LSR_DR	   0x01
#define LSR_THRE   0x20
#define LSR_TEMT   0x40
#define MSR_DCD	   0x80
#define MSR_DSR	   0x20
#define MSR_CTS	   0x10

void uart8250_init(struct uart8250 *u, unsigned irq, const struct machine_hooks *hooks,
		   void (*sink)(void *ctx, const uint8_t *buf, size_t len), void *sink_ctx)
{
	memset(u, 0, sizeof(*u));
	pthread_mutex_init(&u->lock, NULL);
	u->irq = irq;
	u->hooks = hooks;
	u->sink = sink;
	u->sink_ctx = sink_ctx;
	u->lsr = LSR_THRE | LSR_TEMT;
	u->msr = MSR_DCD | MSR_DSR | MSR_CTS;
	u->mcr = MCR_OUT2;
}

void uart8250_destroy(struct uart8250 *u)
{
	pthread_mutex_destroy(&u->lock);
}

static uint8_t uart_iir(const struct uart8250 *u)
{
	uint8_t fifo = (u->fcr & 1) ? IIR_FIFO : 0;
	if ((u->ier & IER_RDI) && u->rx_count)
		return IIR_RDI | fifo;
	if ((u->ier & IER_THRI) && u->thr_ipending)
		return IIR_THRI | fifo;
	return IIR_NO_INT | fifo;
}

/* Called with the lock held; only touches the line on a change. */
static void uart_update_irq(struct uart8250 *u)
{
	int level = !(uart_iir(u) & IIR_NO_INT);
	if (level != u->irq_level) {
		u->irq_level = level;
		if (u->hooks && u->hooks->irq_line)
			u->hooks->irq_line(u->hooks->ctx, u->irq, level);
	}
}

static void uart_rx_put(struct uart8250 *u, uint8_t c)
{
	if (u->rx_count == UART_FIFO_SIZE)
		return;
	u->rx[(u->rx_head + u->rx_count) % UART_FIFO_SIZE] = c;
	u->rx_count++;
	u->lsr |= LSR_DR;
}

static uint8_t uart_rx_get(struct uart8250 *u)
{
	if (!u->rx_count)
		return 0;
	uint8_t c = u->rx[u->rx_head];
	u->rx_head = (u->rx_head + 1) % UART_FIFO_SIZE;
	if (--u->rx_count == 0)
		u->lsr &= ~LSR_DR;
	return c;
}

static uint8_t uart_read_reg(struct uart8250 *u, unsigned reg)
{
	bool dlab = u->lcr & LCR_DLAB;
	switch (reg) {
	case UART_RX:
		return dlab ? u->dll : uart_rx_get(u);
	case UART_IER:
		return dlab ? u->dlm : u->ier;
	case UART_IIR: {
		uint8_t iir = uart_iir(u);
		if ((iir & 0x0f) == IIR_THRI)
			u->thr_ipending = false;
		return iir;
	}
	case UART_LCR:
		return u->lcr;
	case UART_MCR:
		return u->mcr;
	case UART_LSR:
		return u->lsr;
	case UART_MSR:
		if (u->mcr & MCR_LOOP)
			return (uint8_t)((u->mcr & 0x0c) << 4 | (u->mcr & 0x01) << 5 |
					 (u->mcr & 0x02) << 3);
		return u->msr;
	default:
		return u->scr;
	}
}

/* Returns the byte to transmit (>= 0) or -1. */
static int uart_write_reg(struct uart8250 *u, unsigned reg, uint8_t v)
{
	bool dlab = u->lcr & LCR_DLAB;
	int tx = -1;
	switch (reg) {
	case UART_RX:
		if (dlab) {
			u->dll = v;
		} else if (u->mcr & MCR_LOOP) {
			uart_rx_put(u, v);
			u->thr_ipending = true;
		} else {
			tx = v;
			u->thr_ipending = true;
		}
		break;
	case UART_IER:
		if (dlab) {
			u->dlm = v;
		} else {
			/* Enabling THRI with an empty THR raises the interrupt at
			 * once, which is what the Linux driver waits for. */
			if (!(u->ier & IER_THRI) && (v & IER_THRI))
				u->thr_ipending = true;
			u->ier = v & 0x0f;
		}
		break;
	case UART_IIR:
		u->fcr = v;
		if (v & 0x02) { /* clear receive FIFO */
			u->rx_count = 0;
			u->lsr &= ~LSR_DR;
		}
		break;
	case UART_LCR:
		u->lcr = v;
		break;
	case UART_MCR:
		u->mcr = v & 0x1f;
		break;
	case UART_SCR:
		u->scr = v;
		break;
	default: /* LSR and MSR are read-only */
		break;
	}
	return tx;
}

static void uart_read(void *opaque, uint64_t offset, void *data, unsigned len)
{
	struct uart8250 *u = opaque;
	uint8_t *out = data;
	memset(data, 0, len);
	if (offset > 7)
		return;
	pthread_mutex_lock(&u->lock);
	out[0] = uart_read_reg(u, (unsigned)offset);
	uart_update_irq(u);
	pthread_mutex_unlock(&u->lock);
}

static void uart_write(void *opaque, uint64_t offset, const void *data, unsigned len)
{
	struct uart8250 *u = opaque;
	if (offset > 7 || len == 0)
		return;
	pthread_mutex_lock(&u->lock);
	int tx = uart_write_reg(u, (unsigned)offset, *(const uint8_t *)data);
	uart_update_irq(u);
	/* The sink runs under the lock: bytes from two vCPUs reach the
	 * terminal, and the console watcher's line state, one at a time. */
	if (tx >= 0 && u->sink) {
		uint8_t c = (uint8_t)tx;
		u->sink(u->sink_ctx, &c, 1);
	}
	pthread_mutex_unlock(&u->lock);
}

const struct bus_dev_ops uart8250_ops = {.read = uart_read, .write = uart_write};

size_t uart8250_push_input(struct uart8250 *u, const uint8_t *buf, size_t len)
{
	pthread_mutex_lock(&u->lock);
	size_t n = 0;
	while (n < len && u->rx_count < UART_FIFO_SIZE)
		uart_rx_put(u, buf[n++]);
	uart_update_irq(u);
	pthread_mutex_unlock(&u->lock);
	return n;
}

size_t uart8250_rx_space(struct uart8250 *u)
{
	pthread_mutex_lock(&u->lock);
	size_t n = UART_FIFO_SIZE - u->rx_count;
	pthread_mutex_unlock(&u->lock);
	return n;
}
