/*
 * http_parse — the HTTP/1.x request-head parser and the chunked-body decoder.
 *
 * Owns nothing and allocates nothing. Every slice in struct http_request points
 * into the caller's buffer and is valid until the caller moves or reuses those
 * bytes (buf_compact()); the one exception is req->path of an absolute-form
 * target without a path, a static "/".
 *
 * Two stages, as picohttpparser does:
 *   1. http_head_scan() finds the end of the head incrementally. It remembers
 *      where it stopped in struct http_scan, so feeding a head one byte at a
 *      time costs O(n) in total, not O(n^2). It enforces the size limits.
 *   2. http_head_parse() parses a complete head in one pure pass and derives
 *      the body framing (Content-Length / chunked), keep-alive and Host.
 *
 * Errors are HTTP status codes (400, 414, 431, 501, 505). req->framing_known
 * says whether the end of the bad request is certain: if it is false the
 * caller must answer with "Connection: close" and close, never guess.
 */
#ifndef LISOD_HTTP_PARSE_H
#define LISOD_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	HTTP_LINE_MAX_BYTES = 8192,         /* one line, CRLF excluded; more: 414/431 */
	HTTP_HEAD_MAX_BYTES = 64 * 1024,    /* whole head incl. CRLFs; more: 431 */
	HTTP_HEADERS_MAX = 100,             /* header fields; more: 431 */
};

struct http_slice {
	const char *p;
	uint32_t len;
};

enum http_method {
	HTTP_METHOD_GET,
	HTTP_METHOD_HEAD,
	HTTP_METHOD_POST,
	HTTP_METHOD_OTHER, /* syntactically valid token we do not implement: 501 */
};

struct http_header {
	struct http_slice name;  /* as sent; compare case-insensitively */
	struct http_slice value; /* leading/trailing OWS stripped */
};

/* Resumable state of http_head_scan(). Zero it (http_scan_reset) before
 * the first byte of each request head. */
struct http_scan {
	uint32_t pos;        /* bytes of the buffer already examined */
	uint32_t line_start; /* offset of the line being scanned */
	uint32_t lines;      /* complete lines seen so far */
};

struct http_request {
	enum http_method method;
	struct http_slice method_name;
	struct http_slice target;   /* raw request-target, not decoded */
	struct http_slice path;     /* origin-form: target up to '?' or '#' (raw);
				       absolute-form: the part after the
				       authority, or a static "/" (not in the
				       buffer) when that is empty */
	struct http_slice query;    /* after '?', excluding '#...'; len 0 if none */
	bool has_query;             /* a '?' was present (query may be empty) */
	bool absolute_form;         /* target is http(s)://authority[path][?query] */
	uint8_t version_major, version_minor;

	struct http_header headers[HTTP_HEADERS_MAX];
	uint32_t header_count;

	/* Derived from the header fields. */
	int64_t content_length;     /* -1 when absent */
	bool chunked;               /* Transfer-Encoding: chunked (final coding) */
	bool keep_alive;            /* after this request, keep the connection */
	bool has_host;              /* a Host field or an absolute-form authority */
	bool expect_continue;       /* Expect: 100-continue */
	struct http_slice host;     /* the absolute-form authority, else the
				       first Host field's value */
	struct http_slice connection, content_type, user_agent, referer;
	struct http_slice if_none_match, if_modified_since, range, if_range;
	struct http_slice if_match, if_unmodified_since;

	/* Error reporting (http_head_parse result != 0). */
	int status;                 /* 0, or the 4xx/5xx chosen */
	bool framing_known;         /* end of this request is certain: may continue */
};

void http_scan_reset(struct http_scan *s);

/*
 * Scan buf[0..len) for the end of a request head (the empty line).
 * Returns  >0: the head's length in bytes, terminator included;
 *           0: need more bytes (state saved in *s; call again with the same
 *              buffer start and a larger len);
 *          <0: -status, a limit was broken: -414 (request line too long),
 *              -431 (header line or head too long), -400 (NUL, or a CR
 *              followed by anything but LF). The caller closes after
 *              answering, the end of the request being unknown.
 * A CR is judged as soon as the next byte is available: CR followed by a
 * byte other than LF is -400 at once, wherever it is (request line, header
 * line, before the request line, at the end of the head), so a client that
 * ends its lines with a bare CR gets its 400 without waiting for a line end
 * that will not come. A CR that is the last byte of buf[0..len) needs more.
 * When the byte after the CR is also over a line or head limit, the limit
 * wins (-414/-431), as it would in http_head_parse.
 * A bare LF counts as a line end for finding the head's end (so the parser
 * can answer 400 at once rather than waiting for a timeout).
 * Leading empty lines (CRLF) before the request line are skipped, as RFC 9112
 * §2.2 allows; they are part of the returned length.
 * Errors are reported at the first byte that proves them, in byte order, so
 * the result never depends on how the input was split: e.g. the 8193rd byte
 * of a request line that is not the CR of its CRLF gives -414 at once.
 * After a nonzero result call http_scan_reset() before the next head.
 */
int http_head_scan(const char *buf, size_t len, struct http_scan *s);

/* Flags of http_head_parse(), or-ed together. */
enum {
	/* HTTP/1.1 without a Host field is not an error: the Liso graders send
	 * such requests and expect them served (spec §3). A Host that is
	 * present must still be valid, and a repeated one is still 400. */
	HTTP_PARSE_HOST_OPTIONAL = 1u << 0,
};

/*
 * Parse a complete head of head_len bytes (as returned by http_head_scan).
 * flags: HTTP_PARSE_* above, 0 for RFC 9112 strictness.
 * Fills *req. Returns 0 on success or the error status (also in req->status).
 * The parser is self-contained (it is also fuzzed on raw input): it repeats
 * the scanner's limits (414, 431) and answers 400 to anything that is not
 * exactly one complete head.
 * Checks:
 *   - request line syntax: 400;
 *   - request-target form (RFC 9112 §3.2): 400 unless origin-form "/...",
 *     absolute-form "http://" or "https://" (scheme in any case), then an
 *     authority (uri-host[:port] as for Host: not empty, no userinfo '@'),
 *     then an optional path and query; or "*" with OPTIONS;
 *   - version: 505 for any version but 1.0/1.1;
 *   - header syntax: 400 (no colon, space before colon, obs-fold, bare CR or
 *     LF, control characters, empty name);
 *   - Host: 400 when repeated or with bytes outside uri-host[:port], and on
 *     HTTP/1.1 when missing, unless HTTP_PARSE_HOST_OPTIONAL or the target
 *     is in absolute-form. An absolute-form authority takes the place of
 *     Host (RFC 9112 §3.2.2); a Host field sent with it is checked all the
 *     same;
 *   - Content-Length: 400 with framing unknown when not 1*DIGIT after OWS
 *     (so negative, list form "5, 5" and overflow are 400), when repeated
 *     (even with equal values), or with Transfer-Encoding;
 *   - Transfer-Encoding: 400 when empty or on HTTP/1.0; 501 for anything but
 *     exactly one "chunked";
 *   - method: 501 for valid tokens other than GET/HEAD/POST (methods are
 *     case-sensitive, so "get" is 501).
 * When several apply the status is: 414/431, else any 400, else 505, else
 * 501.
 * framing_known: always true when the result is 0. On an error it is true
 * only if the head ended cleanly (no bare CR/LF anywhere), no framing header
 * is broken, the version is 1.0/1.1 and no body was declared (no
 * Transfer-Encoding, Content-Length absent or 0): the next request then
 * starts right at head_len. When it is false, keep_alive is false too.
 * Expect: 100-continue is only honoured on HTTP/1.1 (RFC 9110 §10.1.1).
 * Does not check POST-without-length (411): that is the caller's policy.
 */
int http_head_parse(const char *buf, size_t head_len, unsigned flags,
		    struct http_request *req);

/* The character classes of RFC 9110 §5.6.2 and §5.5, shared by every
 * parser of header fields (requests here, CGI output in cgi.c). */
static inline bool http_is_ows(char c) { return c == ' ' || c == '\t'; }
bool http_is_tchar(char c);
/* A field value: VCHAR, obs-text, SP and HTAB only (no CR, LF, NUL, CTL). */
bool http_is_field_value(struct http_slice v);
/* Content-Length = 1*DIGIT (RFC 9110 §8.6): the value, or -1 if it is not
 * that or does not fit an int64_t. */
int64_t http_parse_content_length(struct http_slice v);

/* Case-insensitive ASCII comparison of a slice against a C string. */
bool http_slice_eq_ci(struct http_slice s, const char *lit);

/* Find a header by name (case-insensitive); NULL if absent. */
const struct http_header *http_find_header(const struct http_request *req,
					   const char *name);

/*
 * Chunked transfer-coding decoder (RFC 9112 §7.1), resumable at any byte.
 * Chunk extensions are skipped (bounded); trailers are skipped (bounded).
 */
enum http_chunked_result {
	HTTP_CHUNKED_AGAIN, /* consumed all input, need more */
	HTTP_CHUNKED_DONE,  /* body complete (after the trailer section) */
	HTTP_CHUNKED_ERROR, /* malformed: answer 400 and close */
};

struct http_chunked {
	uint8_t state;           /* private */
	uint8_t size_digits;     /* private */
	uint32_t aux;            /* private: bytes of the current size/trailer
				    line; the error code after ERROR */
	uint64_t chunk_left;     /* private: data bytes left in this chunk;
				    trailer bytes seen, in the trailer section */
	uint64_t total;          /* decoded body bytes so far */
};

void http_chunked_init(struct http_chunked *c);

/*
 * Limits: chunk-size at most 15 significant hex digits (leading zeros are
 * free); a size line (size + BWS + extensions, CRLF excluded) at most 4096
 * bytes; a trailer line at most 8192 bytes, the trailer section (CRLFs
 * included) at most 64 KiB. CRLF is required after the size line, after the
 * data and after each trailer line; a bare LF or CR is an error. Extensions
 * and trailer fields are skipped (trailer names must be tokens followed by
 * ':'; control characters other than HTAB are errors).
 *
 * Decode in[0..*in_len). Data bytes are compacted to the front of `in`
 * (in place; decoded data never outruns the input), their count added to
 * *out_len (which the caller sets to 0 before the call). On return *in_len
 * is the number of input bytes consumed (all of them unless DONE or ERROR).
 * Maximal chunk size 2^60; more is an error.
 */
enum http_chunked_result http_chunked_decode(struct http_chunked *c, char *in,
					     size_t *in_len, size_t *out_len);

/* After HTTP_CHUNKED_ERROR: a static string naming the violation, for the
 * error log ("no error" otherwise). */
const char *http_chunked_error(const struct http_chunked *c);

#endif
