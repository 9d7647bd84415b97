/*
 * http_date — HTTP dates (RFC 9110 §5.6.7): formatting the IMF-fixdate we
 * send, parsing the three forms a client may send, and the cached
 * "Date: ...\r\n" header line. Pure functions; no allocation.
 */
#ifndef LISOD_HTTP_DATE_H
#define LISOD_HTTP_DATE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Format t as an RFC 1123 date ("Sun, 06 Nov 1994 08:49:37 GMT", 29 chars)
 * into out (cap >= 30). Returns the length; 0 (out "" if cap > 0) when cap
 * is too small or the year is outside 0..9999. */
size_t http_date_format(time_t t, char *out, size_t cap);

/* Parse an HTTP date (RFC 1123; also RFC 850 and asctime forms), exact
 * length, case-sensitive names as RFC 9110 §5.6.7 says. RFC 850 two-digit
 * years: 70-99 → 19xx, 00-69 → 20xx. Years before 1970 are rejected. -1 if
 * bad. */
time_t http_date_parse(const char *s, size_t len);

/* "Date: <RFC 1123>\r\n", rebuilt at most once a second. */
struct http_date_cache {
	time_t sec;
	uint32_t len;
	char line[48];
};

/* Refresh d for the second `now` (nothing to do within the same second). */
void http_date_update(struct http_date_cache *d, time_t now);

#endif
