#include "guest.h"
	.code64
	.text
	.globl guest_main
guest_main:
	LINE("not written yet")
	FAIL("stub")
	ret
