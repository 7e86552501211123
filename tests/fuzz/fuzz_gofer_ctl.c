/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the VMM <-> gofer control protocol parser
 * (gofer/ctl.c gofer_msg_parse).  The VMM parses what a possibly
 * compromised gofer sends, so the parser must hold for any bytes.
 *
 *   byte 0: which side parses (bit 0: the VMM, else the gofer)
 *   byte 1: fds that "came with" the message (0..3)
 *   byte 2: shares configured (0..8)
 *   rest:   the message bytes
 *
 * Accepted messages must satisfy the documented rules; anything else
 * must be refused without touching memory past the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gofer/ctl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gofer_msg m;

	if (size < 3)
		return 0;
	uint32_t accept = (data[0] & 1) ? GOFER_ACCEPT_VMM : GOFER_ACCEPT_GOFER;
	unsigned nfds = data[1] % 4, ndev = data[2] % (GOFER_MAX_SHARES + 1);
	if (gofer_msg_parse(data + 3, size - 3, nfds, accept, ndev, &m) != 0)
		return 0;
	if (size - 3 != sizeof(m) || memcmp(&m, data + 3, sizeof(m)))
		abort(); /* accepted something that is not exactly a message */
	if (!(accept & GOFER_MSG_BIT(m.type)) || nfds != gofer_msg_nfds(m.type))
		abort();
	if ((m.type == GOFER_MSG_ACTIVATE || m.type == GOFER_MSG_RESET ||
	     m.type == GOFER_MSG_QUEUE_ERROR || m.type == GOFER_MSG_SAVE ||
	     m.type == GOFER_MSG_LOAD) &&
	    m.dev >= ndev)
		abort();
	if (m.type == GOFER_MSG_LOAD && (m.mem_size == 0 || m.mem_size > GOFER_SAVE_MAX))
		abort(); /* the gofer mallocs this much */
	if (m.type == GOFER_MSG_SAVE && m.mem_size != 0)
		abort();
	if (m.status > 0 || (m.type == GOFER_MSG_QUEUE_ERROR && m.status == 0))
		abort();
	if (m.type == GOFER_MSG_MEM) {
		for (uint32_t i = 0; i < m.nregions; i++)
			if (m.regions[i].offset + m.regions[i].size > m.mem_size ||
			    m.regions[i].offset + m.regions[i].size < m.regions[i].offset)
				abort();
	}
	return 0;
}
