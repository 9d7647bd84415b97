#include "accept_enc.h"

#include <string.h>

#include "http_parse.h"

enum { CODING_STAR = CODING_COUNT }; /* "*": only while parsing */

static const struct {
	const char *name;
	int coding;
} CODING_NAMES[] = {
	{ "identity", CODING_IDENTITY },
	{ "gzip", CODING_GZIP },
	{ "x-gzip", CODING_GZIP }, /* RFC 9110 §18.6: equivalent to gzip */
	{ "br", CODING_BR },
	{ "zstd", CODING_ZSTD },
	{ "*", CODING_STAR },
};

/* Indexed by enum content_coding. */
static const char *const NAMES[CODING_COUNT] = { "identity", "gzip", "br", "zstd" };
static const char *const SUFFIXES[CODING_COUNT] = { "", ".gz", ".br", ".zst" };

/* Tie-break order: the first of equal weights wins. br and zstd compress
 * better than gzip; identity costs the most bytes. */
static const enum content_coding PREFERENCE[] = { CODING_BR, CODING_ZSTD, CODING_GZIP,
						  CODING_IDENTITY };

struct element {
	const char *name;
	size_t name_len;
	int q; /* thousandths */
};

/* The coding a name stands for, CODING_STAR, or -1 when unknown. */
static int coding_lookup(const char *name, size_t n)
{
	if (n > sizeof("identity") - 1) /* the longest name: no slice cast overflows */
		return -1;
	struct http_slice sl = { name, (uint32_t)n };
	for (size_t i = 0; i < sizeof(CODING_NAMES) / sizeof(CODING_NAMES[0]); i++)
		if (http_slice_eq_ci(sl, CODING_NAMES[i].name))
			return CODING_NAMES[i].coding;
	return -1;
}

/* qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), in
 * thousandths; -1 when v[0..n) is not one. */
static int qvalue_parse(const char *v, size_t n)
{
	if (n == 0 || (v[0] != '0' && v[0] != '1'))
		return -1;
	int q = (v[0] - '0') * ACCEPT_ENC_Q_MAX;
	if (n == 1)
		return q;
	if (v[1] != '.' || n > 5)
		return -1;
	int scale = 100;
	for (size_t k = 2; k < n; k++) {
		if (v[k] < '0' || v[k] > '9')
			return -1;
		q += (v[k] - '0') * scale;
		scale /= 10;
	}
	return q > ACCEPT_ENC_Q_MAX ? -1 : q; /* "1.5" */
}

static void skip_ows(const char *s, size_t len, size_t *i)
{
	while (*i < len && http_is_ows(s[*i]))
		(*i)++;
}

static void skip_token(const char *s, size_t len, size_t *i)
{
	while (*i < len && http_is_tchar(s[*i]))
		(*i)++;
}

/* s[*i] is '"': step past the quoted-string. false when it is unterminated
 * (*i is then len). */
static bool skip_quoted(const char *s, size_t len, size_t *i)
{
	for ((*i)++; *i < len; (*i)++) {
		if (s[*i] == '\\') {
			if (++(*i) == len)
				return false;
		} else if (s[*i] == '"') {
			(*i)++;
			return true;
		}
	}
	return false;
}

/* One list element from s[*pos]. Leaves *pos past its ',' (or at len), so
 * a malformed element costs nothing but itself; a ',' inside a quoted
 * parameter value does not end it. true when the element is valid. */
static bool element_parse(const char *s, size_t len, size_t *pos, struct element *e)
{
	size_t i = *pos;
	bool ok = false, q_seen = false;
	skip_ows(s, len, &i);
	size_t start = i;
	skip_token(s, len, &i);
	e->name = s + start;
	e->name_len = i - start;
	e->q = ACCEPT_ENC_Q_MAX;
	if (e->name_len == 0)
		goto skip;
	for (;;) {
		skip_ows(s, len, &i);
		if (i == len || s[i] == ',') {
			ok = true;
			break;
		}
		if (s[i] != ';')
			goto skip;
		i++;
		skip_ows(s, len, &i);
		size_t pn = i;
		skip_token(s, len, &i);
		size_t pn_len = i - pn;
		if (pn_len == 0)
			goto skip;
		skip_ows(s, len, &i);
		if (i == len || s[i] != '=')
			goto skip;
		i++;
		skip_ows(s, len, &i);
		size_t pv = i;
		if (pn_len == 1 && (s[pn] == 'q' || s[pn] == 'Q')) {
			skip_token(s, len, &i); /* digits and '.' are tchars */
			e->q = qvalue_parse(s + pv, i - pv);
			if (e->q < 0 || q_seen) /* a second weight is not a weight */
				goto skip;
			q_seen = true;
		} else if (i < len && s[i] == '"') {
			if (!skip_quoted(s, len, &i))
				goto skip;
		} else {
			skip_token(s, len, &i);
			if (i == pv)
				goto skip;
		}
	}
skip:
	while (i < len && s[i] != ',') {
		if (s[i] == '"')
			(void)skip_quoted(s, len, &i);
		else
			i++;
	}
	if (i < len)
		i++; /* the ',' */
	*pos = i;
	return ok;
}

void accept_enc_parse(const char *s, size_t len, struct accept_enc *out)
{
	memset(out, 0, sizeof(*out));
	if (s == NULL)
		return;
	out->present = true;
	unsigned named = 0; /* bit per coding, CODING_STAR included */
	uint16_t star_q = 0;
	size_t i = 0;
	while (i < len) {
		struct element e;
		if (!element_parse(s, len, &i, &e))
			continue;
		int c = coding_lookup(e.name, e.name_len);
		if (c < 0 || (named & (1u << c)))
			continue; /* unknown, or already named: the first wins */
		named |= 1u << c;
		if (c == CODING_STAR)
			star_q = (uint16_t)e.q;
		else
			out->q[c] = (uint16_t)e.q;
	}
	bool star = named & (1u << CODING_STAR);
	for (int c = 0; c < CODING_COUNT; c++) {
		if (named & (1u << c))
			continue;
		if (c == CODING_IDENTITY)
			out->q[c] = star && star_q == 0 ? 0 : 1;
		else
			out->q[c] = star ? star_q : 0;
	}
}

enum content_coding accept_enc_choose(const struct accept_enc *ae, unsigned available)
{
	if (!ae->present)
		return CODING_IDENTITY;
	available |= 1u << CODING_IDENTITY;
	enum content_coding best = CODING_IDENTITY;
	uint16_t best_q = 0;
	for (size_t i = 0; i < sizeof(PREFERENCE) / sizeof(PREFERENCE[0]); i++) {
		enum content_coding c = PREFERENCE[i];
		if ((available & (1u << c)) && ae->q[c] > best_q) {
			best = c;
			best_q = ae->q[c];
		}
	}
	return best;
}

const char *content_coding_name(enum content_coding c)
{
	return (unsigned)c < CODING_COUNT ? NAMES[c] : NAMES[CODING_IDENTITY];
}

const char *content_coding_suffix(enum content_coding c)
{
	return (unsigned)c < CODING_COUNT ? SUFFIXES[c] : SUFFIXES[CODING_IDENTITY];
}
