/*
 * http_resp — response heads: the status table, the one writer of response
 * heads (static files, error pages and CGI answers alike) and the short
 * bodies of error responses.
 *
 * Everything writes into a caller's struct buf and fails (returns -1,
 * writing nothing) when the bytes do not fit, so the caller can flush and
 * retry; nothing here allocates.
 */
#ifndef LISOD_HTTP_RESP_H
#define LISOD_HTTP_RESP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "http_date.h"
#include "http_parse.h"

/* Reason phrase of a status we produce ("Unknown" otherwise). */
const char *http_reason(int status);

struct http_resp_head {
	int status;
	struct http_slice reason;    /* len 0: http_reason(status) */
	bool keep_alive;
	bool chunked;                /* Transfer-Encoding: chunked */
	int64_t content_length;      /* -1: none (e.g. chunked, or 304) */
	const char *fields;          /* pre-formatted "Name: v\r\n" lines, or NULL */
	uint16_t fields_len;
	const char *site_fields;     /* more of them: the site's own (site_fields.h) */
	uint16_t site_fields_len;
	const struct http_header *extra; /* more fields, written "Name: value" */
	uint32_t extra_count;
	struct http_slice content_type;  /* len 0: omitted */
	struct http_slice location;      /* len 0: omitted */
	off_t range_start, range_len, range_total; /* Content-Range when status 206 */
	bool range_unsatisfied;      /* 416: Content-Range: bytes * / total */
};

/* A C string as a slice, for the fields above. */
#define HTTP_SLICE_STR(s) ((struct http_slice){ (s), (uint32_t)strlen(s) })

/* Append the head (status line through the blank line): status, Server,
 * Date, fields, extra, Content-Type, Content-Length or Transfer-Encoding,
 * Content-Range, Location, Connection. -1 (nothing written) if it does not
 * fit; an exact fit succeeds. */
int http_resp_write_head(struct buf *out, const struct http_resp_head *h,
			 const struct http_date_cache *date);

/* Append a complete response whose body is a short HTML page naming the
 * status (errors, 301, 416): h's content length and type are set here, the
 * rest (Location, Content-Range) is taken from h. include_body false (HEAD)
 * keeps the head identical but sends no body. Returns the body length, or
 * -1 if it does not fit (nothing written). */
int http_resp_write_page(struct buf *out, struct http_resp_head *h, bool include_body,
			 const struct http_date_cache *date);
/* http_resp_write_page for a bare status. */
int http_resp_write_error(struct buf *out, int status, bool keep_alive, bool include_body,
			  const struct http_date_cache *date);

/* Bytes a complete error response may need at most (for flushing first). */
enum { HTTP_RESP_ERROR_MAX_BYTES = 512, HTTP_RESP_HEAD_MAX_BYTES = 1024 };

#endif
