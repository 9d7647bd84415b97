/*
 * Fuzz target for the PROXY protocol parser (the first bytes a balancer's
 * connection sends, untrusted until parsed): proxy_parse on the input and
 * on every prefix of it.
 * Invariants: a parsed length lies within the input and within
 * PROXY_MAX_BYTES; a prefix of a valid header asks for more (0), and once
 * the header is whole, more bytes after it change nothing; a carried
 * address is IPv4 or IPv6 with the matching length.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include "fuzz_check.h"
#include "proxy_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proxy_header h;
	int whole = proxy_parse(data, size, &h);
	CHECK(whole >= -1 && whole <= (int)size && whole <= PROXY_MAX_BYTES);
	if (whole > 0 && h.has_addr)
		CHECK((h.src.ss_family == AF_INET && h.src_len == sizeof(struct sockaddr_in)) ||
		      (h.src.ss_family == AF_INET6 && h.src_len == sizeof(struct sockaddr_in6)));
	if (whole > 0) {
		for (size_t k = 0; k < (size_t)whole; k++)
			CHECK(proxy_parse(data, k, &h) == 0);
		CHECK(proxy_parse(data, (size_t)whole, &h) == whole);
	}
	/* A net list parsed from the input is consistent. */
	char spec[256];
	size_t n = size < sizeof(spec) - 1 ? size : sizeof(spec) - 1;
	memcpy(spec, data, n);
	spec[n] = '\0';
	struct proxy_trust t;
	char err[96];
	if (proxy_trust_parse(spec, &t, err, sizeof(err)) == 0) {
		CHECK(t.count >= 1 && t.count <= PROXY_TRUST_MAX);
		for (unsigned i = 0; i < t.count; i++)
			CHECK(t.net[i].prefix <= (t.net[i].family == AF_INET ? 32 : 128));
	}
	return 0;
}
