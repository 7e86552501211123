/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Inside the host <-> agent codec: how a payload struct is described.
 * guest/protocol_msgs.c holds one const schema per struct (fields, limits,
 * semantic checks) and the table of which payload each (type, flags) pair
 * carries; guest/protocol.c is the one encoder and decoder that walks
 * them.  Nothing outside these two files includes this header.
 */
#ifndef KVBOX_GUEST_PROTOCOL_INTERNAL_H
#define KVBOX_GUEST_PROTOCOL_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "guest/protocol.h"

enum fkind { F_U32, F_I32, F_U64, F_BOOL, F_STR, F_STRV, F_U32V, F_BYTES, F_STRUCT, F_STRUCTV };

struct schema;

struct field {
	uint16_t tag;
	uint8_t kind;
	uint8_t required; /* strings, lists, structs: must be present */
	uint32_t off;	  /* value (or array pointer) */
	uint32_t noff;	  /* uint32_t count, for lists and bytes */
	uint32_t max;	  /* string bytes, list count, bytes */
	const struct schema *sub;
};

struct schema {
	const struct field *fields;
	unsigned nfields;
	size_t size;		    /* element size, for lists of this struct */
	int (*check)(const void *); /* semantic checks, 0 or -errno */
};

#define FLD(t, k, S, m)                                                                            \
	{                                                                                          \
		t, k, 0, offsetof(S, m), 0, 0, NULL                                                \
	}
#define STR(t, S, m, mx, rq)                                                                       \
	{                                                                                          \
		t, F_STR, rq, offsetof(S, m), 0, mx, NULL                                          \
	}
#define LST(t, k, S, m, n, mx)                                                                     \
	{                                                                                          \
		t, k, 0, offsetof(S, m), offsetof(S, n), mx, NULL                                  \
	}
#define SUBV(t, S, m, n, mx, sub)                                                                  \
	{                                                                                          \
		t, F_STRUCTV, 0, offsetof(S, m), offsetof(S, n), mx, sub                           \
	}
#define SCHEMA(name, S, chk)                                                                       \
	static const struct schema name##_s = {name##_f, sizeof(name##_f) / sizeof(name##_f[0]),   \
					       sizeof(S), chk}

/* The payload schema of a (type, flags) pair, NULL if the pair is not
 * part of the protocol. */
const struct schema *agent_payload_schema(const struct agent_hdr *h);

#endif
