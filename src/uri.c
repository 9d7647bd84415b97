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

/* Would s[0..len) decode cleanly: every '%' followed by two hex digits, no
 * NUL either raw or as %00? */
bool uri_pct_valid(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\0')
			return false;
		if (s[i] != '%')
			continue;
		if (len - i < 3 || uri_hex_digit(s[i + 1]) < 0 || uri_hex_digit(s[i + 2]) < 0)
			return false;
		if (s[i + 1] == '0' && s[i + 2] == '0')
			return false;
		i += 2;
	}
	return true;
}

/* Decode s[0..len) (already pct_valid) into out, NUL-terminated. The decoded
 * length, or -1 if it does not fit in cap bytes. */
long uri_pct_decode(const char *s, size_t len, char *out, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		if (o + 1 >= cap)
			return -1;
		if (s[i] == '%') {
			out[o++] = (char)(uri_hex_digit(s[i + 1]) * 16 + uri_hex_digit(s[i + 2]));
			i += 2;
		} else {
			out[o++] = s[i];
		}
	}
	if (o >= cap)
		return -1;
	out[o] = '\0';
	return (long)o;
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
	out[w] = '\0';
	return 0;
}
