/*
 * proxy_proto — the PROXY protocol (HAProxy's, versions 1 and 2) that a
 * load balancer sends before anything else on a connection, to say whose
 * connection it relays; and the allow-list of networks whose connections
 * must carry it (anyone else could claim any address).
 *
 * Pure functions, no allocation. The parser never reads past len and
 * accepts only what the specification allows: version 1 is one line of at
 * most 107 bytes ending in CRLF ("PROXY TCP4|TCP6|UNKNOWN ..."), version 2
 * a 16-byte header (the 12-byte signature, version 2 with command LOCAL or
 * PROXY, family and length) and its address block (TLVs skipped), at most
 * PROXY_MAX_BYTES in all.
 */
#ifndef LISOD_PROXY_PROTO_H
#define LISOD_PROXY_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

enum {
	PROXY_V1_MAX_BYTES = 107,      /* the longest version-1 line, CRLF included */
	PROXY_MAX_BYTES = 16 + 512,    /* a version-2 header with room for TLVs */
	PROXY_TRUST_MAX = 16,          /* networks in an allow-list */
};

struct proxy_header {
	/* false: LOCAL (a health check of the balancer's own), UNKNOWN, or a
	 * family we do not relay (UDP, unix): the connection's own addresses
	 * stand. true: src is the client's address. */
	bool has_addr;
	struct sockaddr_storage src;
	socklen_t src_len;
};

/*
 * Parse a PROXY header at buf[0..len).
 * Returns its length (> 0) and fills *h; 0 if more bytes are needed (what is
 * there is a valid beginning); -1 if it is not a valid header (the caller
 * closes the connection).
 */
int proxy_parse(const uint8_t *buf, size_t len, struct proxy_header *h);

/* An allow-list of networks: "127.0.0.1/32,10.0.0.0/8,::1/128". */
struct proxy_trust {
	unsigned count;
	struct proxy_net {
		uint8_t family;        /* AF_INET or AF_INET6 */
		uint8_t prefix;        /* bits */
		uint8_t addr[16];
	} net[PROXY_TRUST_MAX];
};

/* Parse spec into *t. 0, or -1 with a message naming the bad entry. A bare
 * address is a /32 or /128; bits beyond the prefix must be zero. */
int proxy_trust_parse(const char *spec, struct proxy_trust *t, char *err, size_t errlen);

/* Is addr (an IPv4-mapped IPv6 address counts as IPv4) in the list? */
bool proxy_trust_match(const struct proxy_trust *t, const struct sockaddr *addr);

#endif
