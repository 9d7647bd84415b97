/*
 * uri — percent-encoding (RFC 3986 §2.1): the hex digits the path
 * normaliser decodes with, and the encoding of Location headers.
 * Pure functions, no allocation.
 */
#ifndef LISOD_URI_H
#define LISOD_URI_H

#include <stdbool.h>
#include <stddef.h>

/* The value of a hex digit, or -1. */
int uri_hex_digit(char c);

/* Percent-encode a decoded path for a Location header: every byte that is
 * not a pchar or '/' becomes %XX (so CR/LF can never reach a header).
 * 0, or -1 if it does not fit in cap bytes (NUL included). */
int uri_encode_path(const char *path, char *out, size_t cap);

#endif
