#include "http_resp.h"

#include <stdio.h>
#include <string.h>

#include "config.h"

struct status_entry {
	int code;
	const char *reason;
};

static const struct status_entry status_table[] = {
	{ 100, "Continue" },
	{ 200, "OK" },
	{ 201, "Created" },
	{ 204, "No Content" },
	{ 206, "Partial Content" },
	{ 301, "Moved Permanently" },
	{ 302, "Found" },
	{ 303, "See Other" },
	{ 304, "Not Modified" },
	{ 307, "Temporary Redirect" },
	{ 308, "Permanent Redirect" },
	{ 400, "Bad Request" },
	{ 401, "Unauthorized" },
	{ 403, "Forbidden" },
	{ 404, "Not Found" },
	{ 405, "Method Not Allowed" },
	{ 406, "Not Acceptable" },
	{ 408, "Request Timeout" },
	{ 411, "Length Required" },
	{ 412, "Precondition Failed" },
	{ 413, "Content Too Large" },
	{ 414, "URI Too Long" },
	{ 416, "Range Not Satisfiable" },
	{ 421, "Misdirected Request" },
	{ 431, "Request Header Fields Too Large" },
	{ 500, "Internal Server Error" },
	{ 501, "Not Implemented" },
	{ 502, "Bad Gateway" },
	{ 503, "Service Unavailable" },
	{ 504, "Gateway Timeout" },
	{ 505, "HTTP Version Not Supported" },
};

const char *http_reason(int status)
{
	for (size_t i = 0; i < sizeof(status_table) / sizeof(status_table[0]); i++)
		if (status_table[i].code == status)
			return status_table[i].reason;
	return "Unknown";
}

/* Append n bytes at *off if they fit (the head is built with memcpy and one
 * small integer formatter: this runs once per response). */
static int put_mem(char *p, size_t cap, size_t *off, const char *s, size_t n)
{
	if (n > cap - *off)
		return -1;
	memcpy(p + *off, s, n);
	*off += n;
	return 0;
}

#define PUT_LIT(p, cap, off, lit) put_mem((p), (cap), (off), (lit), sizeof(lit) - 1)

static int put_u64(char *p, size_t cap, size_t *off, uint64_t v)
{
	char digits[24];
	size_t i = sizeof(digits);
	do
		digits[--i] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	return put_mem(p, cap, off, digits + i, sizeof(digits) - i);
}

static int put_str(char *p, size_t cap, size_t *off, const char *s)
{
	return put_mem(p, cap, off, s, strlen(s));
}

int http_resp_write_head(struct buf *out, const struct http_resp_head *h,
			 const struct http_date_cache *date)
{
	char *p = buf_wptr(out);
	size_t cap = buf_space(out), off = 0;
	int bad = 0;
	if (h->status == 200 && h->reason.len == 0) {
		bad |= PUT_LIT(p, cap, &off, "HTTP/1.1 200 OK\r\n");
	} else {
		bad |= PUT_LIT(p, cap, &off, "HTTP/1.1 ");
		bad |= put_u64(p, cap, &off, (uint64_t)h->status);
		bad |= PUT_LIT(p, cap, &off, " ");
		if (h->reason.len)
			bad |= put_mem(p, cap, &off, h->reason.p, h->reason.len);
		else
			bad |= put_str(p, cap, &off, http_reason(h->status));
		bad |= PUT_LIT(p, cap, &off, "\r\n");
	}
	bad |= PUT_LIT(p, cap, &off, "Server: " LISOD_SERVER_HEADER "\r\n");
	bad |= put_mem(p, cap, &off, date->line, date->len);
	if (h->fields)
		bad |= put_mem(p, cap, &off, h->fields, h->fields_len);
	if (h->site_fields)
		bad |= put_mem(p, cap, &off, h->site_fields, h->site_fields_len);
	for (uint32_t i = 0; i < h->extra_count; i++) {
		bad |= put_mem(p, cap, &off, h->extra[i].name.p, h->extra[i].name.len);
		bad |= PUT_LIT(p, cap, &off, ": ");
		bad |= put_mem(p, cap, &off, h->extra[i].value.p, h->extra[i].value.len);
		bad |= PUT_LIT(p, cap, &off, "\r\n");
	}
	if (h->content_type.len) {
		bad |= PUT_LIT(p, cap, &off, "Content-Type: ");
		bad |= put_mem(p, cap, &off, h->content_type.p, h->content_type.len);
		bad |= PUT_LIT(p, cap, &off, "\r\n");
	}
	if (h->chunked) {
		bad |= PUT_LIT(p, cap, &off, "Transfer-Encoding: chunked\r\n");
	} else if (h->content_length >= 0) {
		bad |= PUT_LIT(p, cap, &off, "Content-Length: ");
		bad |= put_u64(p, cap, &off, (uint64_t)h->content_length);
		bad |= PUT_LIT(p, cap, &off, "\r\n");
	}
	if (h->status == 206 || h->range_unsatisfied) {
		bad |= PUT_LIT(p, cap, &off, "Content-Range: bytes ");
		if (h->range_unsatisfied) {
			bad |= PUT_LIT(p, cap, &off, "*");
		} else {
			bad |= put_u64(p, cap, &off, (uint64_t)h->range_start);
			bad |= PUT_LIT(p, cap, &off, "-");
			bad |= put_u64(p, cap, &off, (uint64_t)(h->range_start + h->range_len - 1));
		}
		bad |= PUT_LIT(p, cap, &off, "/");
		bad |= put_u64(p, cap, &off, (uint64_t)h->range_total);
		bad |= PUT_LIT(p, cap, &off, "\r\n");
	}
	if (h->location.len) {
		bad |= PUT_LIT(p, cap, &off, "Location: ");
		bad |= put_mem(p, cap, &off, h->location.p, h->location.len);
		bad |= PUT_LIT(p, cap, &off, "\r\n");
	}
	if (h->keep_alive)
		bad |= PUT_LIT(p, cap, &off, "Connection: keep-alive\r\n\r\n");
	else
		bad |= PUT_LIT(p, cap, &off, "Connection: close\r\n\r\n");
	if (bad)
		return -1;
	buf_commit(out, (uint32_t)off);
	return 0;
}

int http_resp_write_page(struct buf *out, struct http_resp_head *h, bool include_body,
			 const struct http_date_cache *date)
{
	char body[256];
	const char *reason = http_reason(h->status);
	int blen = snprintf(body, sizeof(body),
			    "<!DOCTYPE html>\n<html><head><title>%d %s</title></head>"
			    "<body><h1>%d %s</h1></body></html>\n",
			    h->status, reason, h->status, reason);
	if (blen < 0 || (size_t)blen >= sizeof(body))
		return -1;
	h->content_length = blen;
	h->content_type = HTTP_SLICE_STR("text/html");
	uint32_t mark = out->wpos;
	if (http_resp_write_head(out, h, date) < 0)
		return -1;
	if (include_body && buf_append(out, body, (uint32_t)blen) < 0) {
		buf_unwind(out, mark);
		return -1;
	}
	return blen;
}

int http_resp_write_error(struct buf *out, int status, bool keep_alive, bool include_body,
			  const struct http_date_cache *date)
{
	struct http_resp_head h = { .status = status, .keep_alive = keep_alive };
	return http_resp_write_page(out, &h, include_body, date);
}
