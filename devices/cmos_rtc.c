/* SPDX-License-Identifier: Apache-2.0 */
/* Read-only CMOS real-time clock (see devices/legacy.h). */
#include "devices/legacy.h"

#include <string.h>

enum {
	RTC_SECONDS = 0x00,
	RTC_MINUTES = 0x02,
	RTC_HOURS = 0x04,
	RTC_WEEKDAY = 0x06,
	RTC_DAY = 0x07,
	RTC_MONTH = 0x08,
	RTC_YEAR = 0x09,
	RTC_REG_A = 0x0a,
	RTC_REG_B = 0x0b,
	RTC_REG_C = 0x0c,
	RTC_REG_D = 0x0d,
	RTC_CENTURY = 0x32,
};

static uint8_t bcd(int v)
{
	return (uint8_t)(((v / 10) % 10) << 4 | (v % 10));
}

static uint8_t rtc_value(const struct cmos_rtc *rtc, uint8_t index)
{
	time_t t = rtc->now ? rtc->now() : time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	switch (index) {
	case RTC_SECONDS:
		return bcd(tm.tm_sec);
	case RTC_MINUTES:
		return bcd(tm.tm_min);
	case RTC_HOURS:
		return bcd(tm.tm_hour);
	case RTC_WEEKDAY:
		return bcd(tm.tm_wday + 1);
	case RTC_DAY:
		return bcd(tm.tm_mday);
	case RTC_MONTH:
		return bcd(tm.tm_mon + 1);
	case RTC_YEAR:
		return bcd(tm.tm_year % 100);
	case RTC_CENTURY:
		return bcd((tm.tm_year + 1900) / 100);
	case RTC_REG_A:
		return 0x26; /* 32.768 kHz base, 1024 Hz; UIP never set */
	case RTC_REG_B:
		return 0x02; /* 24-hour, BCD, no interrupts */
	case RTC_REG_D:
		return 0x80; /* valid RAM and time */
	default:
		return 0;
	}
}

static void rtc_read(void *opaque, uint64_t offset, void *data, unsigned len)
{
	struct cmos_rtc *rtc = opaque;
	memset(data, 0, len);
	if (offset == 1)
		*(uint8_t *)data = rtc_value(rtc, rtc->index);
	else
		*(uint8_t *)data = rtc->index;
}

static void rtc_write(void *opaque, uint64_t offset, const void *data, unsigned len)
{
	struct cmos_rtc *rtc = opaque;
	/* Bit 7 of the index port is the NMI mask, not part of the index.
	 * Writes to the data port are ignored: the clock is the host's. */
	if (offset == 0 && len >= 1)
		rtc->index = *(const uint8_t *)data & 0x7f;
}

const struct bus_dev_ops cmos_rtc_ops = {.read = rtc_read, .write = rtc_write};
