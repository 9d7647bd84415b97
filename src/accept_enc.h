/*
 * accept_enc — Accept-Encoding negotiation (RFC 9110 §12.5.3): which
 * content coding of a representation to send.
 *
 * Pure and bounded: one pass over the field value, no allocation, no state
 * outside the caller's struct accept_enc. Borrows the value only for the
 * duration of accept_enc_parse. Nothing here fails: a malformed element is
 * skipped, and the answer is always some coding (identity at worst).
 *
 * Grammar (RFC 9110 §12.5.3, §12.4.2):
 *   Accept-Encoding = #( codings [ weight ] )
 *   codings = content-coding / "identity" / "*"
 *   weight  = OWS ";" OWS "q=" qvalue
 *   qvalue  = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
 * Coding names and the "q" parameter name are case-insensitive; "x-gzip"
 * is gzip (RFC 9110 §18.6). OWS is accepted around ';' and '='. Parameters
 * other than q (token or quoted-string values) are ignored. An element is
 * skipped whole when its name is not a token, a parameter is malformed, its
 * qvalue is invalid ("q=2", "q=abc", "q=0.1234", "q=1.001") or junk follows
 * it. Empty elements (",,") are skipped. Unknown codings are parsed and
 * dropped. When a coding is named twice (or as gzip and x-gzip), the first
 * valid element wins.
 */
#ifndef LISOD_ACCEPT_ENC_H
#define LISOD_ACCEPT_ENC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The order is the tie-break order of accept_enc_choose, reversed:
 * identity is the least preferred. */
enum content_coding { CODING_IDENTITY = 0, CODING_GZIP, CODING_BR, CODING_ZSTD, CODING_COUNT };

enum { ACCEPT_ENC_Q_MAX = 1000 }; /* q = 1 in thousandths */

/*
 * The parsed preferences, read-only for callers. q[c] is the weight of
 * coding c in thousandths (0..ACCEPT_ENC_Q_MAX), already resolved:
 *   - a coding named in the field: its q (1000 without a weight);
 *   - a coding not named: the q of "*" when "*" is present, else 0;
 *   - identity not named: 0 when "*;q=0" is present, else 1 — acceptable,
 *     at the lowest preference, so any named or "*"-covered coding with
 *     q > 0 is chosen before it.
 * present: the field was in the request (its value may still be empty,
 * which RFC 9110 reads as "identity only").
 */
struct accept_enc {
	uint16_t q[CODING_COUNT];
	bool present;
};

/*
 * Parse a field value. s NULL means the field is absent (len ignored);
 * s non-NULL with len 0 is an empty field. Never fails.
 */
void accept_enc_parse(const char *s, size_t len, struct accept_enc *out);

/*
 * The coding to send among those available: bit (1u << coding) set in
 * available (identity is available whether its bit is set or not).
 * Highest q wins; on equal q the preference is br, zstd, gzip, identity.
 * A coding with q = 0 is never chosen. Field absent → identity.
 * When nothing acceptable is available (e.g. "gzip" asked, only identity
 * on disk, or "identity;q=0" with no other coding available), the answer is
 * CODING_IDENTITY anyway: RFC 9110 §12.5.3 lets a server disregard the
 * field rather than answer 406, and a plain file is the most useful reply.
 * A caller that prefers 406 compares ae->q[result] with 0.
 */
enum content_coding accept_enc_choose(const struct accept_enc *ae, unsigned available);

/* "identity", "gzip", "br", "zstd" (the Content-Encoding token; identity is
 * never sent as one); "identity" for an out-of-range value. */
const char *content_coding_name(enum content_coding c);
/* The suffix of a precompressed sibling file: "", ".gz", ".br", ".zst";
 * "" for an out-of-range value. */
const char *content_coding_suffix(enum content_coding c);

#endif
