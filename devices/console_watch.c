/* SPDX-License-Identifier: Apache-2.0 */
/* Line scanner for the guest's console; see console_watch.h for why. */
#include "devices/console_watch.h"

#include <string.h>

static const char PANIC_BANNER[] = "Kernel panic - not syncing";
static const char PANIC_END[] = "---[ end Kernel panic";

void console_watch_init(struct console_watch *w)
{
	memset(w, 0, sizeof(*w));
}

/* The kernel prefixes lines with "[    1.234567] " when printk.time is
 * on; match the message anywhere in the line. */
static enum console_event console_classify(struct console_watch *w)
{
	w->line[w->len] = '\0';
	/* The end line repeats the banner, so it is checked first. */
	if (strstr(w->line, PANIC_END))
		return CONSOLE_EVENT_PANIC_END;
	const char *p = strstr(w->line, PANIC_BANNER);
	if (p) {
		const char *reason = p + sizeof(PANIC_BANNER) - 1;
		reason += strspn(reason, ": ");
		size_t n = strcspn(reason, "\r\n");
		if (n >= sizeof(w->panic_reason))
			n = sizeof(w->panic_reason) - 1;
		memcpy(w->panic_reason, reason, n);
		w->panic_reason[n] = '\0';
		return CONSOLE_EVENT_PANIC_BEGIN;
	}
	if (strstr(w->line, "reboot: Power down") || strstr(w->line, "reboot: System halted"))
		return CONSOLE_EVENT_POWEROFF;
	return CONSOLE_EVENT_NONE;
}

enum console_event console_watch_byte(struct console_watch *w, uint8_t c)
{
	if (c == '\n') {
		enum console_event ev = w->overflow ? CONSOLE_EVENT_NONE : console_classify(w);
		w->len = 0;
		w->overflow = false;
		return ev;
	}
	if (c == '\r')
		return CONSOLE_EVENT_NONE;
	if (w->len + 1 >= sizeof(w->line)) {
		/* The lines we look for are short; a long line is none of them. */
		w->overflow = true;
		return CONSOLE_EVENT_NONE;
	}
	w->line[w->len++] = (char)c;
	return CONSOLE_EVENT_NONE;
}
