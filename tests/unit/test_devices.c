/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for devices/: 8250 UART, i8042, CMOS RTC, pvpanic and the
 * console watcher, each against fake machine hooks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "devices/console_watch.h"
#include "devices/legacy.h"
#include "devices/uart8250.h"

struct fake_machine {
	int irq_level[16];
	int irq_changes;
	int events[3];
	uint8_t out[256];
	size_t out_len;
};

static void fake_irq(void *ctx, unsigned irq, int level)
{
	struct fake_machine *m = ctx;
	m->irq_level[irq] = level;
	m->irq_changes++;
}

static void fake_event(void *ctx, enum machine_event ev, const char *why)
{
	struct fake_machine *m = ctx;
	m->events[ev]++;
}

static void fake_sink(void *ctx, const uint8_t *buf, size_t len)
{
	struct fake_machine *m = ctx;
	memcpy(m->out + m->out_len, buf, len);
	m->out_len += len;
}

static uint8_t rd(const struct bus_dev_ops *ops, void *dev, unsigned off)
{
	uint8_t v = 0xaa;
	ops->read(dev, off, &v, 1);
	return v;
}

static void wr(const struct bus_dev_ops *ops, void *dev, unsigned off, uint8_t v)
{
	ops->write(dev, off, &v, 1);
}

static void test_uart_tx_and_thre_irq(void **state)
{
	struct fake_machine m = {0};
	struct machine_hooks h = {fake_irq, fake_event, &m};
	struct uart8250 u;
	uart8250_init(&u, 4, &h, fake_sink, &m);
	assert_int_equal(rd(&uart8250_ops, &u, 5) & 0x60, 0x60); /* THRE|TEMT */
	wr(&uart8250_ops, &u, 0, 'h');
	wr(&uart8250_ops, &u, 0, 'i');
	assert_int_equal(m.out_len, 2);
	assert_memory_equal(m.out, "hi", 2);
	assert_int_equal(m.irq_level[4], 0); /* IER is 0: no interrupt */
	wr(&uart8250_ops, &u, 1, 0x02);	     /* enable THRI */
	assert_int_equal(m.irq_level[4], 1);
	assert_int_equal(rd(&uart8250_ops, &u, 2) & 0x0f, 0x02); /* IIR: THRI, clears it */
	assert_int_equal(m.irq_level[4], 0);
	assert_int_equal(rd(&uart8250_ops, &u, 2) & 0x0f, 0x01); /* no interrupt */
	uart8250_destroy(&u);
}

static void test_uart_rx_fifo_backpressure(void **state)
{
	struct fake_machine m = {0};
	struct machine_hooks h = {fake_irq, fake_event, &m};
	struct uart8250 u;
	uart8250_init(&u, 4, &h, fake_sink, &m);
	wr(&uart8250_ops, &u, 1, 0x01); /* RDI */
	uint8_t big[100];
	memset(big, 'x', sizeof(big));
	assert_int_equal(uart8250_push_input(&u, big, sizeof(big)), UART_FIFO_SIZE);
	assert_int_equal(uart8250_rx_space(&u), 0);
	assert_int_equal(m.irq_level[4], 1);
	assert_int_equal(rd(&uart8250_ops, &u, 2) & 0x0f, 0x04);
	for (int i = 0; i < UART_FIFO_SIZE; i++) {
		assert_true(rd(&uart8250_ops, &u, 5) & 0x01); /* data ready */
		assert_int_equal(rd(&uart8250_ops, &u, 0), 'x');
	}
	assert_false(rd(&uart8250_ops, &u, 5) & 0x01);
	assert_int_equal(m.irq_level[4], 0);
	uart8250_destroy(&u);
}

static void test_uart_dlab_and_loopback(void **state)
{
	struct fake_machine m = {0};
	struct machine_hooks h = {fake_irq, fake_event, &m};
	struct uart8250 u;
	uart8250_init(&u, 4, &h, fake_sink, &m);
	wr(&uart8250_ops, &u, 3, 0x80); /* DLAB */
	wr(&uart8250_ops, &u, 0, 0x01);
	wr(&uart8250_ops, &u, 1, 0x00);
	assert_int_equal(rd(&uart8250_ops, &u, 0), 0x01);
	wr(&uart8250_ops, &u, 3, 0x03);
	wr(&uart8250_ops, &u, 4, 0x10); /* loopback */
	wr(&uart8250_ops, &u, 0, 0x5a);
	assert_int_equal(m.out_len, 0);
	assert_int_equal(rd(&uart8250_ops, &u, 0), 0x5a);
	wr(&uart8250_ops, &u, 7, 0x77);
	assert_int_equal(rd(&uart8250_ops, &u, 7), 0x77);
	/* out-of-range offsets and empty writes are ignored */
	uint8_t v = 1;
	uart8250_ops.write(&u, 9, &v, 1);
	uart8250_ops.write(&u, 0, &v, 0);
	uart8250_destroy(&u);
}

static void test_i8042_reset_only_on_fe(void **state)
{
	struct fake_machine m = {0};
	struct machine_hooks h = {fake_irq, fake_event, &m};
	struct i8042 k = {.hooks = &h};
	wr(&i8042_ops, &k, 4, 0xaa);
	wr(&i8042_ops, &k, 0, 0xfe);
	assert_int_equal(m.events[MACHINE_EVENT_RESET], 0);
	assert_int_equal(rd(&i8042_ops, &k, 4) & 0x03, 0); /* buffers empty */
	wr(&i8042_ops, &k, 4, 0xfe);
	assert_int_equal(m.events[MACHINE_EVENT_RESET], 1);
}

static time_t fixed_time(void)
{
	return 1795694645; /* 2026-11-26 12:04:05 UTC */
}

static void test_rtc_bcd_clock(void **state)
{
	struct cmos_rtc rtc = {.now = fixed_time};
	const struct {
		uint8_t reg, val;
	} want[] = {{0x00, 0x05}, {0x02, 0x04}, {0x04, 0x12}, {0x07, 0x26}, {0x08, 0x11},
		    {0x09, 0x26}, {0x32, 0x20}, {0x0b, 0x02}, {0x0d, 0x80}};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		wr(&cmos_rtc_ops, &rtc, 0, want[i].reg | 0x80); /* NMI mask bit ignored */
		assert_int_equal(rd(&cmos_rtc_ops, &rtc, 1), want[i].val);
	}
	assert_int_equal(rd(&cmos_rtc_ops, &rtc, 0), 0x0d);
	wr(&cmos_rtc_ops, &rtc, 0, 0x0a);
	assert_int_equal(rd(&cmos_rtc_ops, &rtc, 1) & 0x80, 0); /* never "update in progress" */
}

static void test_pvpanic(void **state)
{
	struct fake_machine m = {0};
	struct machine_hooks h = {fake_irq, fake_event, &m};
	struct pvpanic p = {.hooks = &h};
	assert_int_equal(rd(&pvpanic_ops, &p, 0) & 1, 1);
	wr(&pvpanic_ops, &p, 0, 2); /* crash-loaded only: not a panic */
	assert_int_equal(m.events[MACHINE_EVENT_PANIC], 0);
	wr(&pvpanic_ops, &p, 0, 1);
	assert_int_equal(m.events[MACHINE_EVENT_PANIC], 1);
}

static enum console_event feed(struct console_watch *w, const char *s)
{
	enum console_event last = CONSOLE_EVENT_NONE;
	for (; *s; s++) {
		enum console_event e = console_watch_byte(w, (uint8_t)*s);
		if (e != CONSOLE_EVENT_NONE)
			last = e;
	}
	return last;
}

static void test_console_watch(void **state)
{
	struct console_watch w;
	console_watch_init(&w);
	assert_int_equal(feed(&w, "[    0.1] hello\r\n"), CONSOLE_EVENT_NONE);
	assert_int_equal(
	    feed(&w, "[    1.2] Kernel panic - not syncing: Attempted to kill init!\r\n"),
	    CONSOLE_EVENT_PANIC_BEGIN);
	assert_string_equal(w.panic_reason, "Attempted to kill init!");
	assert_int_equal(feed(&w, "[    1.3] ---[ end Kernel panic - not syncing: x ]---\r\n"),
			 CONSOLE_EVENT_PANIC_END);
	assert_int_equal(feed(&w, "[    2.0] reboot: Power down\n"), CONSOLE_EVENT_POWEROFF);
	assert_int_equal(feed(&w, "reboot: System halted\n"), CONSOLE_EVENT_POWEROFF);
	/* An unterminated line reports nothing yet. */
	assert_int_equal(feed(&w, "reboot: Power down"), CONSOLE_EVENT_NONE);
	assert_int_equal(feed(&w, "\n"), CONSOLE_EVENT_POWEROFF);
	/* A very long line never matches, even if the phrase is inside. */
	char longline[400];
	memset(longline, 'a', sizeof(longline));
	memcpy(longline + 300, "reboot: Power down", 18);
	longline[sizeof(longline) - 1] = '\0';
	assert_int_equal(feed(&w, longline), CONSOLE_EVENT_NONE);
	assert_int_equal(feed(&w, "\n"), CONSOLE_EVENT_NONE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_uart_tx_and_thre_irq),
	    cmocka_unit_test(test_uart_rx_fifo_backpressure),
	    cmocka_unit_test(test_uart_dlab_and_loopback),
	    cmocka_unit_test(test_i8042_reset_only_on_fe),
	    cmocka_unit_test(test_rtc_bcd_clock),
	    cmocka_unit_test(test_pvpanic),
	    cmocka_unit_test(test_console_watch),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
