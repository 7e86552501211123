/* SPDX-License-Identifier: Apache-2.0 */
/*
 * 8250/16550A UART, the guest console.  Transmit bytes go to a sink
 * callback (the terminal, plus the console watcher); receive bytes come
 * from uart_push_input() on the event-loop thread into a bounded FIFO.
 * Register accesses come from vCPU threads, so all state sits behind a
 * mutex.  The interrupt line follows IER/IIR like the real part, so the
 * Linux driver runs interrupt-driven (THRE and RDA).
 */
#ifndef KVBOX_DEVICES_UART8250_H
#define KVBOX_DEVICES_UART8250_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/devices.h"

#define UART_FIFO_SIZE 64

struct uart8250 {
	pthread_mutex_t lock;
	unsigned irq;
	const struct machine_hooks *hooks;
	void (*sink)(void *ctx, const uint8_t *buf, size_t len);
	void *sink_ctx;

	uint8_t ier, lcr, mcr, lsr, msr, scr, dll, dlm, fcr;
	bool thr_ipending; /* THRE interrupt pending until IIR is read or THR written */
	int irq_level;
	uint8_t rx[UART_FIFO_SIZE];
	unsigned rx_head, rx_count;
};

extern const struct bus_dev_ops uart8250_ops;

void uart8250_init(struct uart8250 *u, unsigned irq, const struct machine_hooks *hooks,
		   void (*sink)(void *ctx, const uint8_t *buf, size_t len), void *sink_ctx);
void uart8250_destroy(struct uart8250 *u);

/* Queues up to len input bytes; returns how many fit (back-pressure). */
size_t uart8250_push_input(struct uart8250 *u, const uint8_t *buf, size_t len);
/* Free space in the receive FIFO. */
size_t uart8250_rx_space(struct uart8250 *u);

#endif
