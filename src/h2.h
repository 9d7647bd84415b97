/*
 * h2 — HTTP/2 (RFC 9113) on a client connection, through libnghttp2.
 *
 * The frame layer, HPACK, flow control and the protocol's stream rules are
 * libnghttp2's: a protocol engine is not the product, and a hand-written
 * one is where HTTP/2 servers have had their worst bugs. This module is the
 * glue between that engine and our connection core:
 *
 *   - the connection (struct conn) in CONN_H2_IDLE / CONN_H2 feeds what it
 *     reads to the session and writes what the session has to send, with
 *     the same per-wakeup budget as every other phase;
 *   - each request stream is answered by an inner connection: a struct
 *     conn with no socket whose transport is the stream. It reads the
 *     request as an HTTP/1.1 message made from the stream's HEADERS and
 *     DATA, and what it writes (an HTTP/1.1 answer) becomes the stream's
 *     HEADERS and DATA. So a stream gets every responder HTTP/1.1 has —
 *     static files with ranges, conditionals, compression, error pages and
 *     sites, CGI with its limits, the access log — and one set of rules.
 *     (Apache httpd's mod_http2 works the same way, with its "secondary
 *     connections".)
 *
 * Memory per connection is bounded: at most http2-max-streams streams, each
 * holding its request bytes not yet read (at most one stream window, 64 KiB,
 * plus its head), one 16 KiB block of answer not yet sent, and its inner
 * connection's two blocks; docs/design.md has the figures.
 *
 * Built without libnghttp2 (make HTTP2=no, or the library missing), the
 * functions below are stubs: h2_built() is false and no connection ever
 * enters the HTTP/2 states.
 */
#ifndef LISOD_H2_H
#define LISOD_H2_H

#include <stdbool.h>
#include <stddef.h>

struct conn;

/* HTTP/2 was compiled in. */
bool h2_built(void);

/* The client connection preface (RFC 9113 §3.4) at the start of p:
 * 1 all 24 bytes are there, 0 a prefix of it (more may come), -1 not it. */
int h2_preface_match(const char *p, size_t len);

#endif
