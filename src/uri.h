/*
 * uri — percent-encoding (RFC 3986 §2.1), shared by static file paths,
 * CGI PATH_INFO and Location headers. Pure functions, no allocation.
 */
#ifndef LISOD_URI_H
#define LISOD_URI_H

#include <stdbool.h>
#include <stddef.h>

/* The value of a hex digit, or -1. */
int uri_hex_digit(char c);

/* Does s[0..len) decode cleanly: every '%' followed by two hex digits, and
 * no NUL, raw or as %00? */
bool uri_pct_valid(const char *s, size_t len);

/* Decode s[0..len) (uri_pct_valid) into out, NUL-terminated. Returns the
 * decoded length, or -1 if it does not fit in cap bytes. */
long uri_pct_decode(const char *s, size_t len, char *out, size_t cap);

/* Percent-encode a decoded path for a Location header: every byte that is
 * not a pchar or '/' becomes %XX (so CR/LF can never reach a header).
 * 0, or -1 if it does not fit in cap bytes (NUL included). */
int uri_encode_path(const char *path, char *out, size_t cap);

#endif
