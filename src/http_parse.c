/*
 * http_parse — request-head scanner, request-head parser, chunked decoder.
 * See http_parse.h for the contract. No allocation, no mutable globals.
 */
#include "http_parse.h"

#include <stddef.h>
#include <string.h>

/* Character classes (RFC 9110 §5.6.2, §5.5; RFC 3986 for Host). */
enum {
	CT_TCHAR = 0x01,  /* token character */
	CT_FIELD = 0x02,  /* field-content byte: VCHAR, obs-text, SP, HTAB */
	CT_TARGET = 0x04, /* request-target byte: neither CTL nor SP */
	CT_HOST = 0x08,   /* uri-host [":" port] byte */
};

static const uint8_t http_ctype[256] = {
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x02, 0x0f, 0x06, 0x07, 0x0f, 0x0f, 0x0f, 0x0f, 0x0e, 0x0e, 0x0f, 0x0f, 0x0e, 0x0f, 0x0f, 0x06,
	0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0e, 0x0e, 0x06, 0x0e, 0x06, 0x06,
	0x06, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f,
	0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0e, 0x06, 0x0e, 0x07, 0x0f,
	0x07, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f,
	0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x06, 0x07, 0x06, 0x0f, 0x00,
	0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06,
	0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06,
	0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06,
	0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06,
	0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06,
	0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06,
	0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06,
	0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06,
};

static inline bool ct_is(char c, unsigned cls)
{
	return (http_ctype[(unsigned char)c] & cls) != 0;
}


static inline unsigned char to_lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c | 0x20) : c;
}

static bool mem_eq_ci(const char *a, size_t n, const char *lit)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (lit[i] == '\0' || to_lower((unsigned char)a[i]) !=
					       to_lower((unsigned char)lit[i]))
			return false;
	}
	return lit[i] == '\0';
}

static inline struct http_slice mk_slice(const char *p, const char *end)
{
	return (struct http_slice){ p, (uint32_t)(end - p) };
}

/* ---------------------------------------------------------------- scan */

/* Whether one of the 8 bytes at p is <= '\r' (a byte under 14): the
 * "has less" word trick, exact for that question (bytes >= 0x80 never
 * count, their top bit masks them out). Lets the scan's fast path skip
 * header text a word at a time. */
static inline bool word_has_byte_le_cr(const char *p)
{
	const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
	uint64_t x;

	memcpy(&x, p, sizeof(x));
	return ((x - ones * 14) & ~x & highs) != 0;
}

void http_scan_reset(struct http_scan *s)
{
	s->pos = 0;
	s->line_start = 0;
	s->lines = 0;
}

/*
 * Byte rules, applied in byte order, so the result never depends on how the
 * input was split:
 *   - any byte at offset >= HTTP_HEAD_MAX_BYTES: -431 (head too long);
 *   - LF ends a line (CRLF or bare LF); an empty line ends the head, or is
 *     skipped when no request line has been seen yet;
 *   - NUL: -400;
 *   - the line's byte at relative offset 8192 may only be the CR of CRLF, and
 *     any later one only the LF: otherwise -414 (request line) / -431;
 *   - once HTTP_HEADERS_MAX header lines are complete, a further line that is
 *     not the final empty line: -431;
 *   - a byte other than LF right after a CR: -400 (bare CR). It is judged
 *     with the byte after the CR, after the limits above, so a CR that ends
 *     the input waits for one more byte and the limits still win.
 * The byte after a CR never takes the fast path: it is the LF in the common
 * case, which stops the fast path anyway, so this costs nothing there.
 * On resuming, buf[pos - 1] is still in the buffer: a CR there is one whose
 * next byte has not been seen yet.
 */
int http_head_scan(const char *buf, size_t len, struct http_scan *s)
{
	size_t i = s->pos, ls = s->line_start;
	uint32_t lines = s->lines;
	int rc = 0;

	while (i < len) {
		unsigned char c = (unsigned char)buf[i];
		size_t rel = i - ls;

		if (i >= HTTP_HEAD_MAX_BYTES) {
			rc = -431;
			break;
		}
		if (c == '\n') {
			size_t n = rel;

			if (n > 0 && buf[i - 1] == '\r')
				n--;
			i++;
			if (n == 0 && lines > 0) {
				rc = (int)i;
				break;
			}
			if (n > 0)
				lines++;
			ls = i; /* n == 0 here: an empty line before the request line */
			continue;
		}
		if (c == '\0') {
			rc = -400;
			break;
		}
		if (rel >= HTTP_LINE_MAX_BYTES &&
		    !(rel == HTTP_LINE_MAX_BYTES && c == '\r')) {
			rc = lines > 0 ? -431 : -414;
			break;
		}
		if (lines > HTTP_HEADERS_MAX && !(rel == 0 && c == '\r')) {
			rc = -431;
			break;
		}
		if (i > 0 && buf[i - 1] == '\r') {
			rc = -400; /* bare CR */
			break;
		}
		i++;
		if (c != '\r' && lines <= HTTP_HEADERS_MAX) {
			/* Fast path: bytes above '\r' need none of the checks
			 * above while the line and the head are within limits. */
			size_t stop = len;

			if (stop > HTTP_HEAD_MAX_BYTES)
				stop = HTTP_HEAD_MAX_BYTES;
			if (stop > ls + HTTP_LINE_MAX_BYTES)
				stop = ls + HTTP_LINE_MAX_BYTES;
			while (i + 8 <= stop && !word_has_byte_le_cr(buf + i))
				i += 8;
			while (i < stop && (unsigned char)buf[i] > '\r')
				i++;
		}
	}
	s->pos = (uint32_t)i;
	s->line_start = (uint32_t)ls;
	s->lines = lines;
	return rc;
}

/* --------------------------------------------------------------- parse */

/* Everything http_head_parse() learns before deciding the status. */
struct parse_state {
	bool bad;          /* a 400 (syntax or semantics) */
	bool unknown;      /* framing of this request cannot be trusted */
	bool v505;         /* well-formed version other than 1.0/1.1 */
	bool too_many;     /* a header line too long, or too many of them */
	bool uri_too_long; /* request line over HTTP_LINE_MAX_BYTES */
	bool prev_framing; /* previous header line named CL or TE */
	bool cl_seen, cl_bad;
	bool te_seen, te_empty, te_unsupported;
	bool conn_close, conn_keep_alive;
	uint32_t host_count;
	uint32_t te_count, te_chunked;
	int64_t cl;
};

static void req_init(struct http_request *req)
{
	static const struct http_slice none = { NULL, 0 };

	req->method = HTTP_METHOD_OTHER;
	req->method_name = none;
	req->target = none;
	req->path = none;
	req->query = none;
	req->has_query = false;
	req->absolute_form = false;
	req->version_major = 0;
	req->version_minor = 0;
	req->header_count = 0;
	req->content_length = -1;
	req->chunked = false;
	req->keep_alive = false;
	req->has_host = false;
	req->expect_continue = false;
	req->host = none;
	req->connection = none;
	req->content_type = none;
	req->user_agent = none;
	req->referer = none;
	req->if_none_match = none;
	req->if_modified_since = none;
	req->range = none;
	req->if_range = none;
	req->if_match = none;
	req->if_unmodified_since = none;
	req->status = 0;
	req->framing_known = false;
}

/* A field name against a literal: the length first, so most names are
 * told apart without looking at a byte (this runs for every field). */
#define NAME_IS(p, n, lit) ((n) == sizeof(lit) - 1 && mem_eq_ci((p), (n), (lit)))

static bool is_framing_name(const char *p, size_t n)
{
	return NAME_IS(p, n, "content-length") || NAME_IS(p, n, "transfer-encoding");
}

/* uri-host [":" port] bytes only (so no userinfo '@', no '/'). */
static bool host_valid(struct http_slice v)
{
	uint32_t i;

	for (i = 0; i < v.len; i++) {
		if (!ct_is(v.p[i], CT_HOST))
			return false;
	}
	return true;
}

/* [p, end) = path [ "?" query ] [ "#" fragment ]: the path ends at the first
 * '?' or '#'; the query runs from '?' to '#'. A fragment is not sent by
 * clients (RFC 9112 §3.2) but is tolerated and ignored. */
static void split_path_query(struct http_request *req, const char *p,
			     const char *end)
{
	const char *q = p, *frag;

	while (q < end && *q != '?' && *q != '#')
		q++;
	req->path = mk_slice(p, q);
	if (q < end && *q == '?') {
		req->has_query = true;
		frag = memchr(q + 1, '#', (size_t)(end - (q + 1)));
		req->query = mk_slice(q + 1, frag ? frag : end);
	}
}

/* Length of an "http://" or "https://" prefix of [p, end) (schemes are
 * case-insensitive, RFC 3986 §3.1), or 0. */
static size_t http_scheme_len(const char *p, const char *end)
{
	size_t n = (size_t)(end - p);

	if (n >= 7 && mem_eq_ci(p, 7, "http://"))
		return 7;
	if (n >= 8 && mem_eq_ci(p, 8, "https://"))
		return 8;
	return 0;
}

/* absolute-form (RFC 9112 §3.2.2): scheme "://" authority path-abempty
 * [ "?" query ]. The authority takes the place of Host; an empty path means
 * "/" (RFC 9110 §4.2.3), which then points at a static string. */
static void parse_absolute_form(struct http_request *req, struct parse_state *st,
				const char *t, const char *te)
{
	static const char slash[] = "/";
	const char *a = t + http_scheme_len(t, te), *ae;

	if (a == t) {
		st->bad = true; /* not a scheme we serve, or not a URI at all */
		return;
	}
	ae = a;
	while (ae < te && *ae != '/' && *ae != '?' && *ae != '#')
		ae++;
	if (ae == a || !host_valid(mk_slice(a, ae))) {
		st->bad = true; /* empty authority, userinfo, or not a host */
		return;
	}
	req->absolute_form = true;
	req->host = mk_slice(a, ae);
	split_path_query(req, ae, te);
	if (req->path.len == 0)
		req->path = (struct http_slice){ slash, 1 };
}

/* request-target (RFC 9112 §3.2): origin-form, absolute-form, or "*" for
 * OPTIONS (asterisk-form). authority-form belongs to CONNECT, which we do
 * not implement: like any other target it is 400. */
static void parse_target(struct http_request *req, struct parse_state *st,
			 const char *t, const char *te)
{
	req->target = mk_slice(t, te);
	if (*t == '/') {
		split_path_query(req, t, te);
		return;
	}
	if (te - t == 1 && *t == '*') {
		req->path = req->target;
		if (!(req->method_name.len == 7 &&
		      memcmp(req->method_name.p, "OPTIONS", 7) == 0))
			st->bad = true;
		return;
	}
	parse_absolute_form(req, st, t, te);
}

/* request-line = method SP request-target SP HTTP-version (RFC 9112 §3).
 * [p, end) holds no CR or LF. */
static void parse_request_line(struct http_request *req, struct parse_state *st,
			       const char *p, const char *end)
{
	const char *m = p, *t, *te, *v;

	while (m < end && ct_is(*m, CT_TCHAR))
		m++;
	if (m == p || m == end || *m != ' ') {
		st->bad = true;
		return;
	}
	t = m + 1;
	te = t;
	while (te < end && ct_is(*te, CT_TARGET))
		te++;
	if (te == t || te == end || *te != ' ') {
		st->bad = true;
		return;
	}
	v = te + 1;
	if (end - v != 8 || memcmp(v, "HTTP/", 5) != 0 ||
	    v[5] < '0' || v[5] > '9' || v[6] != '.' || v[7] < '0' || v[7] > '9') {
		st->bad = true;
		return;
	}

	req->method_name = mk_slice(p, m);
	if (m - p == 3 && memcmp(p, "GET", 3) == 0)
		req->method = HTTP_METHOD_GET;
	else if (m - p == 4 && memcmp(p, "HEAD", 4) == 0)
		req->method = HTTP_METHOD_HEAD;
	else if (m - p == 4 && memcmp(p, "POST", 4) == 0)
		req->method = HTTP_METHOD_POST;
	else
		req->method = HTTP_METHOD_OTHER;

	parse_target(req, st, t, te);

	req->version_major = (uint8_t)(v[5] - '0');
	req->version_minor = (uint8_t)(v[7] - '0');
	if (req->version_major != 1 || req->version_minor > 1) {
		st->v505 = true;
		st->unknown = true;
	}
}

/* 1*DIGIT, at most INT64_MAX; -1 when invalid (empty, sign, list, overflow). */
int64_t http_parse_content_length(struct http_slice v)
{
	int64_t n = 0;
	uint32_t i;

	if (v.len == 0)
		return -1;
	for (i = 0; i < v.len; i++) {
		unsigned char c = (unsigned char)v.p[i];

		if (c < '0' || c > '9')
			return -1;
		if (n > (INT64_MAX - (c - '0')) / 10)
			return -1;
		n = n * 10 + (c - '0');
	}
	return n;
}

/* Connection = #connection-option: look for "close" and "keep-alive". */
static void parse_connection(struct parse_state *st, struct http_slice v)
{
	const char *p = v.p, *end = v.p + v.len;

	while (p < end) {
		const char *e = memchr(p, ',', (size_t)(end - p));
		const char *a = p, *b;

		if (e == NULL)
			e = end;
		b = e;
		while (a < b && http_is_ows(*a))
			a++;
		while (b > a && http_is_ows(b[-1]))
			b--;
		if (mem_eq_ci(a, (size_t)(b - a), "close"))
			st->conn_close = true;
		else if (mem_eq_ci(a, (size_t)(b - a), "keep-alive"))
			st->conn_keep_alive = true;
		p = e + 1;
	}
}

/* Fields the server reads as plain slices: the first occurrence wins. */
static const struct {
	const char *name;
	uint8_t len;
	uint16_t offset;
} SLICE_FIELDS[] = {
#define SLICE_FIELD(n, f) { n, sizeof(n) - 1, offsetof(struct http_request, f) }
	SLICE_FIELD("connection", connection),
	SLICE_FIELD("content-type", content_type),
	SLICE_FIELD("if-match", if_match),
	SLICE_FIELD("if-none-match", if_none_match),
	SLICE_FIELD("if-modified-since", if_modified_since),
	SLICE_FIELD("if-range", if_range),
	SLICE_FIELD("if-unmodified-since", if_unmodified_since),
	SLICE_FIELD("range", range),
	SLICE_FIELD("referer", referer),
	SLICE_FIELD("user-agent", user_agent),
#undef SLICE_FIELD
};

/* The fields that decide framing, persistence and validity. */
static void note_control_header(struct http_request *req, struct parse_state *st,
				const struct http_header *h)
{
	const char *n = h->name.p;
	size_t nl = h->name.len;

	if (NAME_IS(n, nl, "content-length")) {
		int64_t v = http_parse_content_length(h->value);

		/* A repeated Content-Length is refused even when the values
		 * agree (spec §3): RFC 9112 §6.3 lets a recipient either use
		 * such a value or reject it, and rejecting is the only choice
		 * no other hop on the path can read differently. */
		if (v < 0 || st->cl_seen)
			st->cl_bad = true;
		st->cl_seen = true;
		st->cl = v;
	} else if (NAME_IS(n, nl, "connection")) {
		parse_connection(st, h->value);
	} else if (NAME_IS(n, nl, "expect")) {
		if (http_slice_eq_ci(h->value, "100-continue"))
			req->expect_continue = true;
	} else if (NAME_IS(n, nl, "host")) {
		/* An absolute-form authority wins over Host (RFC 9112
		 * §3.2.2), but Host is still checked. */
		if (st->host_count++ == 0 && !req->absolute_form)
			req->host = h->value;
		if (!host_valid(h->value))
			st->bad = true;
	} else if (NAME_IS(n, nl, "transfer-encoding")) {
		st->te_seen = true;
		st->te_count++;
		if (h->value.len == 0)
			st->te_empty = true;
		else if (http_slice_eq_ci(h->value, "chunked"))
			st->te_chunked++;
	}
}

static void note_header(struct http_request *req, struct parse_state *st,
			const struct http_header *h)
{
	note_control_header(req, st, h);
	for (size_t i = 0; i < sizeof(SLICE_FIELDS) / sizeof(SLICE_FIELDS[0]); i++) {
		if (SLICE_FIELDS[i].len != h->name.len ||
		    !mem_eq_ci(h->name.p, h->name.len, SLICE_FIELDS[i].name))
			continue;
		struct http_slice *field =
			(struct http_slice *)((char *)req + SLICE_FIELDS[i].offset);
		if (field->p == NULL)
			*field = h->value;
		return;
	}
}

/* field-line = field-name ":" OWS field-value OWS (RFC 9112 §5).
 * [p, end) is one non-empty line without its line ending. */
static void parse_header_line(struct http_request *req, struct parse_state *st,
			      const char *p, const char *end)
{
	const char *n = p, *v, *ve, *q;
	bool framing;
	struct http_header *h;

	if (memchr(p, '\r', (size_t)(end - p)) != NULL) {
		st->bad = true; /* bare CR */
		st->unknown = true;
		st->prev_framing = false;
		return;
	}
	if (http_is_ows(*p)) {
		/* obs-fold: a continuation of the previous field line. */
		st->bad = true;
		if (st->prev_framing)
			st->unknown = true;
		return;
	}
	while (n < end && ct_is(*n, CT_TCHAR))
		n++;
	framing = is_framing_name(p, (size_t)(n - p));
	st->prev_framing = framing;
	if (n == end || *n != ':' || n == p) {
		/* no colon, whitespace or junk before it, or no name */
		st->bad = true;
		if (framing)
			st->unknown = true;
		return;
	}
	v = n + 1;
	ve = end;
	while (v < ve && http_is_ows(*v))
		v++;
	while (ve > v && http_is_ows(ve[-1]))
		ve--;
	for (q = v; q < ve; q++) {
		if (!ct_is(*q, CT_FIELD)) {
			st->bad = true; /* CTL or DEL in the value */
			if (framing)
				st->unknown = true;
			return;
		}
	}
	if (req->header_count >= HTTP_HEADERS_MAX) {
		st->too_many = true;
		st->unknown = true;
		return;
	}
	h = &req->headers[req->header_count++];
	h->name = mk_slice(p, n);
	h->value = mk_slice(v, ve);
	note_header(req, st, h);
}

/* Finds the end of the line starting at p: *content_end excludes CRLF or
 * the bare LF (flagged). Returns the byte after the LF, or NULL if none. */
static const char *line_end(struct parse_state *st, const char *p,
			    const char *end, const char **content_end)
{
	const char *lf = memchr(p, '\n', (size_t)(end - p));

	if (lf == NULL)
		return NULL;
	if (lf > p && lf[-1] == '\r') {
		*content_end = lf - 1;
	} else {
		*content_end = lf;
		st->bad = true; /* bare LF */
		st->unknown = true;
	}
	return lf + 1;
}

int http_head_parse(const char *buf, size_t head_len, unsigned flags,
		    struct http_request *req)
{
	struct parse_state st;
	const char *p = buf, *end = buf + head_len, *ce, *next;
	bool ended = false, body;
	int status;

	memset(&st, 0, sizeof(st));
	req_init(req);
	if (head_len > HTTP_HEAD_MAX_BYTES) {
		req->status = 431;
		return 431;
	}

	/* Empty lines before the request line (RFC 9112 §2.2). */
	for (;;) {
		if (p < end && *p == '\n') {
			st.bad = st.unknown = true;
			p++;
		} else if (end - p >= 2 && p[0] == '\r' && p[1] == '\n') {
			p += 2;
		} else {
			break;
		}
	}

	next = line_end(&st, p, end, &ce);
	if (next == NULL) {
		st.bad = st.unknown = true;
		goto decide;
	}
	if (ce - p > HTTP_LINE_MAX_BYTES) {
		st.uri_too_long = st.unknown = true; /* as http_head_scan */
	} else if (memchr(p, '\r', (size_t)(ce - p)) != NULL) {
		st.bad = st.unknown = true; /* CR inside the request line */
	} else {
		parse_request_line(req, &st, p, ce);
	}
	p = next;

	while (p < end) {
		next = line_end(&st, p, end, &ce);
		if (next == NULL)
			break;
		if (ce == p) {
			ended = true;
			p = next;
			break;
		}
		if (ce - p > HTTP_LINE_MAX_BYTES)
			st.too_many = st.unknown = true; /* as http_head_scan */
		else
			parse_header_line(req, &st, p, ce);
		p = next;
	}
	if (!ended || p != end)
		st.bad = st.unknown = true; /* not one complete head */

	/* Semantics of the fields (RFC 9112 §3.2, §6). */
	if (st.host_count > 1)
		st.bad = true;
	req->has_host = st.host_count > 0 || req->absolute_form;
	if (req->version_major == 1 && req->version_minor == 1 && !req->has_host &&
	    !(flags & HTTP_PARSE_HOST_OPTIONAL))
		st.bad = true;
	if (st.cl_seen && st.te_seen)
		st.bad = st.unknown = true;
	if (st.cl_bad)
		st.bad = st.unknown = true;
	if (st.te_seen) {
		/* Only exactly one "chunked" is supported; anything else makes
		 * the body length unknowable (RFC 9112 §6.3). */
		if (st.te_count != 1 || st.te_chunked != 1 || st.te_empty)
			st.unknown = st.te_unsupported = true;
		if (st.te_empty ||
		    (req->version_major == 1 && req->version_minor == 0))
			st.bad = st.unknown = true;
	}

decide:
	if (st.uri_too_long)
		status = 414;
	else if (st.too_many)
		status = 431;
	else if (st.bad)
		status = 400;
	else if (st.v505)
		status = 505;
	else if (st.te_unsupported)
		status = 501; /* a transfer coding we do not implement */
	else if (req->method == HTTP_METHOD_OTHER)
		status = 501;
	else
		status = 0;

	if (st.cl_seen && !st.cl_bad)
		req->content_length = st.cl;
	req->chunked = st.te_seen && !st.te_unsupported;
	if (req->version_minor == 1 && req->version_major == 1)
		req->keep_alive = !st.conn_close;
	else
		req->keep_alive = st.conn_keep_alive && !st.conn_close;
	if (!(req->version_major == 1 && req->version_minor == 1))
		req->expect_continue = false; /* RFC 9110 §10.1.1: ignore on 1.0 */

	body = st.te_seen || (st.cl_seen && (st.cl_bad || st.cl != 0));
	req->framing_known = status == 0 || (!st.unknown && !body);
	if (!req->framing_known)
		req->keep_alive = false;
	req->status = status;
	return status;
}

bool http_is_tchar(char c)
{
	return ct_is(c, CT_TCHAR);
}

bool http_is_field_value(struct http_slice v)
{
	for (uint32_t i = 0; i < v.len; i++)
		if (!ct_is(v.p[i], CT_FIELD))
			return false;
	return true;
}

bool http_slice_eq_ci(struct http_slice s, const char *lit)
{
	if (s.p == NULL)
		return lit[0] == '\0';
	return mem_eq_ci(s.p, s.len, lit);
}

const struct http_header *http_find_header(const struct http_request *req,
					   const char *name)
{
	uint32_t i;

	for (i = 0; i < req->header_count; i++) {
		if (http_slice_eq_ci(req->headers[i].name, name))
			return &req->headers[i];
	}
	return NULL;
}

/* ------------------------------------------------------------- chunked */

enum {
	CHUNK_SIZE_DIGITS_MAX = 15,       /* significant hex digits: < 2^60 */
	CHUNK_LINE_MAX_BYTES = 4096,      /* size line incl. extensions, CRLF excl. */
	TRAILER_LINE_MAX_BYTES = 8192,    /* one trailer line, CRLF excluded */
	TRAILER_MAX_BYTES = 64 * 1024,    /* whole trailer section incl. CRLFs */
};

enum chunked_state {
	CH_SIZE_START = 0, /* first hex digit of a chunk-size */
	CH_SIZE,           /* more hex digits */
	CH_SIZE_WS,        /* BWS after the size: only ';' may follow */
	CH_EXT,            /* inside chunk-ext: skipped up to CR */
	CH_SIZE_LF,        /* LF of the size line */
	CH_DATA,           /* chunk-data */
	CH_DATA_CR,        /* CR after chunk-data */
	CH_DATA_LF,        /* LF after chunk-data */
	CH_TRAILER_START,  /* start of a trailer line or of the final CRLF */
	CH_TRAILER_NAME,   /* field-name of a trailer line */
	CH_TRAILER_VALUE,  /* rest of a trailer line: skipped up to CR */
	CH_TRAILER_LF,     /* LF of a trailer line */
	CH_FINAL_LF,       /* LF of the final empty line */
	CH_DONE,
	CH_ERROR,
};

enum chunked_error {
	CHERR_NONE = 0,
	CHERR_SIZE_NOT_HEX,
	CHERR_SIZE_TOO_BIG,
	CHERR_SIZE_BAD_CHAR,
	CHERR_SIZE_LINE_TOO_LONG,
	CHERR_EXT_BAD_CHAR,
	CHERR_BARE_LF,
	CHERR_BARE_CR,
	CHERR_DATA_NO_CRLF,
	CHERR_TRAILER_BAD_NAME,
	CHERR_TRAILER_BAD_CHAR,
	CHERR_TRAILER_LINE_TOO_LONG,
	CHERR_TRAILERS_TOO_LONG,
};

static const char *const chunked_error_str[] = {
	[CHERR_NONE] = "no error",
	[CHERR_SIZE_NOT_HEX] = "chunk size does not start with a hex digit",
	[CHERR_SIZE_TOO_BIG] = "chunk size over 15 hex digits",
	[CHERR_SIZE_BAD_CHAR] = "invalid byte after chunk size",
	[CHERR_SIZE_LINE_TOO_LONG] = "chunk size line (extensions) too long",
	[CHERR_EXT_BAD_CHAR] = "control character in chunk extension",
	[CHERR_BARE_LF] = "bare LF in chunked framing",
	[CHERR_BARE_CR] = "CR not followed by LF in chunked framing",
	[CHERR_DATA_NO_CRLF] = "chunk data not followed by CRLF",
	[CHERR_TRAILER_BAD_NAME] = "invalid trailer field name",
	[CHERR_TRAILER_BAD_CHAR] = "control character in trailer field",
	[CHERR_TRAILER_LINE_TOO_LONG] = "trailer line too long",
	[CHERR_TRAILERS_TOO_LONG] = "trailer section too long",
};

void http_chunked_init(struct http_chunked *c)
{
	c->state = CH_SIZE_START;
	c->size_digits = 0;
	c->aux = 0;
	c->chunk_left = 0;
	c->total = 0;
}

const char *http_chunked_error(const struct http_chunked *c)
{
	if (c->state != CH_ERROR || c->aux >= sizeof(chunked_error_str) /
						   sizeof(chunked_error_str[0]))
		return chunked_error_str[CHERR_NONE];
	return chunked_error_str[c->aux];
}

static inline int hex_value(unsigned char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch = to_lower(ch);
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

/* A byte that may appear in an extension or trailer value: no CTL but HTAB. */
static inline bool chunk_text(unsigned char ch)
{
	return http_ctype[ch] & CT_FIELD;
}

/* A failed step: record why. */
static enum chunked_state chunk_fail(enum chunked_error *err, enum chunked_error why)
{
	*err = why;
	return CH_ERROR;
}

/* One byte of a size line (size, BWS, extensions, its CRLF) or of the CRLF
 * after chunk data: the next state, or CH_ERROR with *err. */
static enum chunked_state chunk_size_byte(struct http_chunked *c, enum chunked_state st,
					  unsigned char ch, enum chunked_error *err)
{
	int h;

	switch (st) {
	case CH_SIZE_START:
		h = hex_value(ch);
		if (h < 0)
			return chunk_fail(err, ch == '\n' ? CHERR_BARE_LF : CHERR_SIZE_NOT_HEX);
		c->chunk_left = (uint64_t)h;
		c->size_digits = h ? 1 : 0;
		c->aux = 1;
		return CH_SIZE;
	case CH_SIZE:
		if (ch == '\r')
			return CH_SIZE_LF;
		if (++c->aux > CHUNK_LINE_MAX_BYTES)
			return chunk_fail(err, CHERR_SIZE_LINE_TOO_LONG);
		h = hex_value(ch);
		if (h >= 0) {
			if (c->size_digits == 0 && h == 0)
				return CH_SIZE; /* leading zero */
			if (c->size_digits >= CHUNK_SIZE_DIGITS_MAX)
				return chunk_fail(err, CHERR_SIZE_TOO_BIG);
			c->size_digits++;
			c->chunk_left = (c->chunk_left << 4) | (uint64_t)h;
			return CH_SIZE;
		}
		if (ch == ';')
			return CH_EXT;
		if (ch == ' ' || ch == '\t')
			return CH_SIZE_WS;
		return chunk_fail(err, ch == '\n' ? CHERR_BARE_LF : CHERR_SIZE_BAD_CHAR);
	case CH_SIZE_WS:
		if (++c->aux > CHUNK_LINE_MAX_BYTES)
			return chunk_fail(err, CHERR_SIZE_LINE_TOO_LONG);
		if (ch == ';')
			return CH_EXT;
		if (ch != ' ' && ch != '\t')
			return chunk_fail(err, ch == '\n' ? CHERR_BARE_LF : CHERR_SIZE_BAD_CHAR);
		return CH_SIZE_WS;
	case CH_EXT:
		if (ch == '\r')
			return CH_SIZE_LF;
		if (++c->aux > CHUNK_LINE_MAX_BYTES)
			return chunk_fail(err, CHERR_SIZE_LINE_TOO_LONG);
		if (!chunk_text(ch))
			return chunk_fail(err, ch == '\n' ? CHERR_BARE_LF : CHERR_EXT_BAD_CHAR);
		return CH_EXT;
	case CH_SIZE_LF:
		if (ch != '\n')
			return chunk_fail(err, CHERR_BARE_CR);
		c->aux = 0;
		return c->chunk_left ? CH_DATA : CH_TRAILER_START;
	case CH_DATA_CR:
		return ch == '\r' ? CH_DATA_LF : chunk_fail(err, CHERR_DATA_NO_CRLF);
	case CH_DATA_LF:
		return ch == '\n' ? CH_SIZE_START : chunk_fail(err, CHERR_DATA_NO_CRLF);
	default:
		return chunk_fail(err, CHERR_NONE); /* unreachable: not a size state */
	}
}

/* One byte of the trailer section (its lines, skipped; the final CRLF). */
static enum chunked_state chunk_trailer_byte(struct http_chunked *c, enum chunked_state st,
					     unsigned char ch, enum chunked_error *err)
{
	/* chunk_left counts the trailer section's bytes */
	if (++c->chunk_left > TRAILER_MAX_BYTES)
		return chunk_fail(err, CHERR_TRAILERS_TOO_LONG);
	switch (st) {
	case CH_TRAILER_START:
		if (ch == '\r')
			return CH_FINAL_LF;
		if (!ct_is((char)ch, CT_TCHAR))
			return chunk_fail(err, ch == '\n' ? CHERR_BARE_LF : CHERR_TRAILER_BAD_NAME);
		c->aux = 1;
		return CH_TRAILER_NAME;
	case CH_TRAILER_NAME:
	case CH_TRAILER_VALUE:
		if (ch == '\r') {
			if (st == CH_TRAILER_NAME)
				return chunk_fail(err, CHERR_TRAILER_BAD_NAME); /* no colon */
			return CH_TRAILER_LF;
		}
		if (++c->aux > TRAILER_LINE_MAX_BYTES)
			return chunk_fail(err, CHERR_TRAILER_LINE_TOO_LONG);
		if (st == CH_TRAILER_NAME) {
			if (ch == ':')
				return CH_TRAILER_VALUE;
			if (!ct_is((char)ch, CT_TCHAR))
				return chunk_fail(err, ch == '\n' ? CHERR_BARE_LF
								  : CHERR_TRAILER_BAD_NAME);
			return CH_TRAILER_NAME;
		}
		if (!chunk_text(ch))
			return chunk_fail(err, ch == '\n' ? CHERR_BARE_LF : CHERR_TRAILER_BAD_CHAR);
		return CH_TRAILER_VALUE;
	case CH_TRAILER_LF:
		return ch == '\n' ? CH_TRAILER_START : chunk_fail(err, CHERR_BARE_CR);
	case CH_FINAL_LF:
		return ch == '\n' ? CH_DONE : chunk_fail(err, CHERR_BARE_CR);
	default:
		return chunk_fail(err, CHERR_NONE); /* unreachable: not a trailer state */
	}
}

enum http_chunked_result http_chunked_decode(struct http_chunked *c, char *in,
					     size_t *in_len, size_t *out_len)
{
	size_t n = *in_len, r = 0, w = 0;
	enum chunked_state st = (enum chunked_state)c->state;
	enum chunked_error err = CHERR_NONE;

	if (st == CH_DONE || st == CH_ERROR) {
		*in_len = 0;
		return st == CH_DONE ? HTTP_CHUNKED_DONE : HTTP_CHUNKED_ERROR;
	}
	while (r < n && st != CH_DONE && st != CH_ERROR) {
		if (st == CH_DATA) {
			/* Data bytes move to the front in one copy per chunk. */
			size_t take = n - r;

			if (take > c->chunk_left)
				take = (size_t)c->chunk_left;
			if (w != r)
				memmove(in + w, in + r, take);
			w += take;
			r += take;
			c->chunk_left -= take;
			if (c->chunk_left == 0)
				st = CH_DATA_CR;
			continue;
		}
		unsigned char ch = (unsigned char)in[r];
		st = st >= CH_TRAILER_START ? chunk_trailer_byte(c, st, ch, &err)
					    : chunk_size_byte(c, st, ch, &err);
		if (st != CH_ERROR)
			r++; /* the failing byte is not consumed */
	}
	if (st == CH_ERROR)
		c->aux = err;
	c->state = (uint8_t)st;
	c->total += w;
	*out_len += w;
	*in_len = r;
	if (st == CH_DONE)
		return HTTP_CHUNKED_DONE;
	return st == CH_ERROR ? HTTP_CHUNKED_ERROR : HTTP_CHUNKED_AGAIN;
}
