#include "uri.h"

#include <string.h>

int uri_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-encode path for a Location header: every byte that is not a
 * pchar or '/' becomes %XX. -1 when it does not fit in cap (incl. NUL). */
int uri_encode_path(const char *path, char *out, size_t cap)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t w = 0;
	for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
		unsigned char c = *p;
		bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			    (c >= '0' && c <= '9') ||
			    (c != 0 && strchr("-._~!$&'()*+,;=:@/", c));
		size_t need = keep ? 1 : 3;
		if (w + need >= cap)
			return -1;
		if (keep) {
			out[w++] = (char)c;
		} else {
			out[w++] = '%';
			out[w++] = hex[c >> 4];
			out[w++] = hex[c & 15];
		}
	}
	if (w >= cap)
		return -1; /* no room for the NUL (an empty path into nothing) */
	out[w] = '\0';
	return 0;
}
