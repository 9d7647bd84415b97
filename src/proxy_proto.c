/*
 * proxy_proto — PROXY protocol v1/v2 parser and the trusted-network list.
 * See proxy_proto.h. Written here rather than taken from a library: it is
 * a few dozen lines of framing that the connection's first phase owns, and
 * the only available implementations are inside other servers.
 */
#include "proxy_proto.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

static const uint8_t V2_SIG[12] = { '\r', '\n', '\r', '\n', 0, '\r', '\n', 'Q', 'U', 'I', 'T', '\n' };
static const char V1_SIG[] = "PROXY ";

/* Is buf[0..len) the beginning of sig? */
static bool is_prefix(const uint8_t *buf, size_t len, const void *sig, size_t sig_len)
{
	return memcmp(buf, sig, len < sig_len ? len : sig_len) == 0;
}

/* ---- version 1: one text line -------------------------------------------- */

/* A decimal port, 0..65535, without leading zeros. */
static bool v1_port(const char *s, size_t n, uint16_t *port)
{
	if (n == 0 || n > 5 || (n > 1 && s[0] == '0'))
		return false;
	unsigned v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > 65535)
		return false;
	*port = (uint16_t)v;
	return true;
}

/* The next space-separated field of [*p, end); false if there is none. */
static bool v1_field(const char **p, const char *end, const char **f, size_t *n)
{
	const char *s = *p;
	const char *sp = memchr(s, ' ', (size_t)(end - s));
	const char *e = sp ? sp : end;
	if (e == s)
		return false;
	*f = s;
	*n = (size_t)(e - s);
	*p = sp ? sp + 1 : end;
	return true;
}

static bool v1_addr(int family, const char *s, size_t n, void *out)
{
	char tmp[INET6_ADDRSTRLEN + 1];
	if (n >= sizeof(tmp))
		return false;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	return inet_pton(family, tmp, out) == 1;
}

/* "PROXY TCP4 src dst sport dport" (the line without CRLF). */
static int v1_line(const char *line, size_t n, struct proxy_header *h)
{
	const char *p = line + sizeof(V1_SIG) - 1, *end = line + n, *f;
	size_t fl;
	if (!v1_field(&p, end, &f, &fl))
		return -1;
	if (fl == 7 && memcmp(f, "UNKNOWN", 7) == 0) {
		h->has_addr = false; /* the rest of the line means nothing */
		return 0;
	}
	int family;
	if (fl == 4 && memcmp(f, "TCP4", 4) == 0)
		family = AF_INET;
	else if (fl == 4 && memcmp(f, "TCP6", 4) == 0)
		family = AF_INET6;
	else
		return -1;
	const char *src, *dst, *sport, *dport;
	size_t srcl, dstl, sportl, dportl;
	if (!v1_field(&p, end, &src, &srcl) || !v1_field(&p, end, &dst, &dstl) ||
	    !v1_field(&p, end, &sport, &sportl) || !v1_field(&p, end, &dport, &dportl) ||
	    p != end || (p > line && p[-1] == ' '))
		return -1;
	uint16_t sp, dp;
	uint8_t dummy[16];
	if (!v1_port(sport, sportl, &sp) || !v1_port(dport, dportl, &dp) ||
	    !v1_addr(family, dst, dstl, dummy))
		return -1;
	memset(&h->src, 0, sizeof(h->src));
	if (family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&h->src;
		if (!v1_addr(AF_INET, src, srcl, &s4->sin_addr))
			return -1;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(sp);
		h->src_len = sizeof(*s4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&h->src;
		if (!v1_addr(AF_INET6, src, srcl, &s6->sin6_addr))
			return -1;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(sp);
		h->src_len = sizeof(*s6);
	}
	h->has_addr = true;
	return 0;
}

static int parse_v1(const uint8_t *buf, size_t len, struct proxy_header *h)
{
	size_t scan = len < PROXY_V1_MAX_BYTES ? len : PROXY_V1_MAX_BYTES;
	for (size_t i = 0; i < scan; i++) {
		uint8_t c = buf[i];
		if (c == '\r') {
			if (i + 1 == len)
				return 0;
			if (buf[i + 1] != '\n')
				return -1;
			return v1_line((const char *)buf, i, h) < 0 ? -1 : (int)(i + 2);
		}
		if (c < 0x20 || c > 0x7e)
			return -1; /* only printable ASCII on the line */
	}
	return len < PROXY_V1_MAX_BYTES ? 0 : -1;
}

/* ---- version 2: binary ------------------------------------------------------ */

static int parse_v2(const uint8_t *buf, size_t len, struct proxy_header *h)
{
	if (len < 16)
		return 0;
	uint8_t ver_cmd = buf[12], fam = buf[13];
	size_t body = (size_t)buf[14] << 8 | buf[15];
	if ((ver_cmd >> 4) != 2 || (ver_cmd & 0x0f) > 1 || 16 + body > PROXY_MAX_BYTES)
		return -1;
	if (len < 16 + body)
		return 0;
	const uint8_t *a = buf + 16;
	h->has_addr = false;
	if ((ver_cmd & 0x0f) == 0)
		return (int)(16 + body); /* LOCAL: the balancer's own connection */
	memset(&h->src, 0, sizeof(h->src));
	if (fam == 0x11) { /* TCP over IPv4 */
		if (body < 12)
			return -1;
		struct sockaddr_in *s4 = (struct sockaddr_in *)&h->src;
		s4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, a, 4);
		memcpy(&s4->sin_port, a + 8, 2);
		h->src_len = sizeof(*s4);
		h->has_addr = true;
	} else if (fam == 0x21) { /* TCP over IPv6 */
		if (body < 36)
			return -1;
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&h->src;
		s6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, a, 16);
		memcpy(&s6->sin6_port, a + 32, 2);
		h->src_len = sizeof(*s6);
		h->has_addr = true;
	} else if ((fam >> 4) > 3 || (fam & 0x0f) > 2) {
		return -1; /* not a family the specification defines */
	}
	/* UNSPEC, UDP, unix: the connection's own address stands. */
	return (int)(16 + body);
}

int proxy_parse(const uint8_t *buf, size_t len, struct proxy_header *h)
{
	if (len == 0)
		return 0;
	if (buf[0] == 'P') {
		if (!is_prefix(buf, len, V1_SIG, sizeof(V1_SIG) - 1))
			return -1;
		return len < sizeof(V1_SIG) - 1 ? 0 : parse_v1(buf, len, h);
	}
	if (!is_prefix(buf, len, V2_SIG, sizeof(V2_SIG)))
		return -1;
	return parse_v2(buf, len, h);
}

/* ---- trusted networks --------------------------------------------------------- */

static int trust_entry(const char *s, size_t n, struct proxy_net *net)
{
	char tmp[INET6_ADDRSTRLEN + 8];
	if (n == 0 || n >= sizeof(tmp))
		return -1;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	char *slash = strchr(tmp, '/');
	if (slash)
		*slash = '\0';
	memset(net, 0, sizeof(*net));
	if (inet_pton(AF_INET, tmp, net->addr) == 1)
		net->family = AF_INET;
	else if (inet_pton(AF_INET6, tmp, net->addr) == 1)
		net->family = AF_INET6;
	else
		return -1;
	unsigned max = net->family == AF_INET ? 32 : 128, bits = max;
	if (slash) {
		const char *d = slash + 1;
		if (!*d || strlen(d) > 3 || (d[0] == '0' && d[1]))
			return -1;
		bits = 0;
		for (; *d; d++) {
			if (*d < '0' || *d > '9')
				return -1;
			bits = bits * 10 + (unsigned)(*d - '0');
		}
		if (bits > max)
			return -1;
	}
	net->prefix = (uint8_t)bits;
	for (unsigned b = bits; b < max; b++) /* the host part must be zero */
		if (net->addr[b / 8] & (0x80 >> (b % 8)))
			return -1;
	return 0;
}

int proxy_trust_parse(const char *spec, struct proxy_trust *t, char *err, size_t errlen)
{
	memset(t, 0, sizeof(*t));
	const char *p = spec;
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		if (t->count == PROXY_TRUST_MAX) {
			snprintf(err, errlen, "more than %d networks", PROXY_TRUST_MAX);
			return -1;
		}
		if (trust_entry(p, n, &t->net[t->count]) < 0) {
			snprintf(err, errlen, "not a network (ADDRESS[/BITS]): '%.*s'", (int)n, p);
			return -1;
		}
		t->count++;
		if (!comma)
			return 0;
		p = comma + 1;
	}
}

static bool net_match(const struct proxy_net *net, int family, const uint8_t *a)
{
	if (net->family != family)
		return false;
	unsigned full = net->prefix / 8, rest = net->prefix % 8;
	if (memcmp(net->addr, a, full) != 0)
		return false;
	return rest == 0 || ((net->addr[full] ^ a[full]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

bool proxy_trust_match(const struct proxy_trust *t, const struct sockaddr *addr)
{
	int family = addr->sa_family;
	const uint8_t *a;
	if (family == AF_INET) {
		a = (const uint8_t *)&((const struct sockaddr_in *)addr)->sin_addr;
	} else if (family == AF_INET6) {
		const struct in6_addr *a6 = &((const struct sockaddr_in6 *)addr)->sin6_addr;
		a = a6->s6_addr;
		if (IN6_IS_ADDR_V4MAPPED(a6)) {
			family = AF_INET; /* the dual-stack listener's IPv4 clients */
			a += 12;
		}
	} else {
		return false;
	}
	for (unsigned i = 0; i < t->count; i++)
		if (net_match(&t->net[i], family, a))
			return true;
	return false;
}
