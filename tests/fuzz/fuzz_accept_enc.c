/*
 * Fuzz target for Accept-Encoding negotiation, which runs on every static
 * request. The first byte chooses the available codings (low 4 bits) and,
 * with bit 7, an absent field; the rest is the field value.
 * Invariants: every q is at most 1000; the parse reads only its len bytes
 * (bytes after them change nothing); the chosen coding is available or
 * identity; it has the highest q among the available codings; a coding with
 * q = 0 is chosen only as the identity fallback, when no available coding
 * has q > 0; an absent field gives identity.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "accept_enc.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0 || size > 16 * 1024)
		return 0;
	unsigned available = data[0] & 0x0fu;
	bool absent = data[0] & 0x80u;
	const char *value = (const char *)data + 1;
	size_t len = size - 1;

	struct accept_enc ae;
	accept_enc_parse(absent ? NULL : value, len, &ae);
	CHECK(ae.present == !absent);
	for (int c = 0; c < CODING_COUNT; c++)
		CHECK(ae.q[c] <= ACCEPT_ENC_Q_MAX);

	enum content_coding got = accept_enc_choose(&ae, available);
	CHECK((unsigned)got < CODING_COUNT);
	CHECK(got == CODING_IDENTITY || (available & (1u << got)));
	if (absent) {
		CHECK(got == CODING_IDENTITY);
		return 0;
	}
	unsigned avail = available | (1u << CODING_IDENTITY);
	for (int c = 0; c < CODING_COUNT; c++)
		if (avail & (1u << c))
			CHECK(ae.q[c] <= ae.q[got]);
	if (ae.q[got] == 0)
		CHECK(got == CODING_IDENTITY);

	/* The same value followed by more bytes, parsed with the same len. */
	char *longer = malloc(len + 8);
	if (!longer)
		return 0;
	memcpy(longer, value, len);
	memcpy(longer + len, ", br, *", 8);
	struct accept_enc again;
	accept_enc_parse(longer, len, &again);
	CHECK(memcmp(again.q, ae.q, sizeof(ae.q)) == 0);
	free(longer);
	return 0;
}
