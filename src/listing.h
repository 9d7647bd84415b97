/*
 * listing — the generated index of a directory that has no index file: an
 * HTML5 page or a JSON document, and the Accept test that picks between them.
 *
 * Borrows the directory descriptor (the caller opened it O_RDONLY |
 * O_DIRECTORY and keeps it); owns nothing after returning except the output
 * buffer, which belongs to the caller (free()).
 *
 * What is listed:
 *   - every entry whose name does not start with '.' ("." and ".." and
 *     hidden files are never shown), at most LISTING_MAX_ENTRIES of them;
 *     past the cap the output says it is truncated;
 *   - regular files (with their size), directories (shown with a trailing
 *     '/'), and symlinks (type "link", no size): entries are examined with
 *     fstatat(AT_SYMLINK_NOFOLLOW), never through a link, so a link cannot
 *     reveal the size or date of a file outside the document root;
 *   - sockets, fifos and devices are skipped, as is an entry that vanishes
 *     (or cannot be examined) between readdir and fstatat;
 *   - sorted bytewise by name (strcmp), directories not grouped.
 *
 * Encodings (the output is always valid UTF-8, whatever bytes the names hold):
 *   - HTML text (names, the title's path): & < > " ' become &amp; &lt; &gt;
 *     &quot; &#39;; each byte that does not start a valid UTF-8 sequence, and
 *     each C0 control and DEL, is shown as U+FFFD; valid UTF-8 is kept.
 *   - HTML href: the name percent-encoded (%XX, upper-case hex) for every
 *     byte outside ALPHA / DIGIT / "-._~" / "!$()*+,;=@", then '/' for a
 *     directory. ':' is encoded so "a:b" is never read as a scheme, '&' and
 *     '\'' so the href needs no HTML escaping. The href is relative, which
 *     works because url_path ends with '/'.
 *   - JSON strings (RFC 8259): '"' and '\\' backslash-escaped, bytes below
 *     0x20 as \u00XX, each byte that does not start a valid UTF-8 sequence as
 *     \ufffd. Directory names carry no '/' in JSON (the "type" says "dir").
 *
 * Dates are UTC: HTML "2023-11-14 22:13"; JSON "mtime" (Unix seconds) and
 * "modified" (RFC 3339, "2023-11-14T22:13:20Z", null if out of range).
 */
#ifndef LISOD_LISTING_H
#define LISOD_LISTING_H

#include <stdbool.h>
#include <stddef.h>

/* Entries listed at most; also bounds the memory one listing can take
 * (names are at most NAME_MAX bytes each). */
enum { LISTING_MAX_ENTRIES = 10000 };

enum listing_format { LISTING_HTML, LISTING_JSON };

/* Does an Accept field value ask for JSON rather than HTML? accept may be
 * NULL (no Accept field) → false. Media ranges are compared exactly and
 * case-insensitively with "application/json" and "text/html" (a wildcard
 * range, any type or any subtype, counts for neither, so it gets HTML); the
 * first occurrence of each counts. True when application/json has q > 0 and
 * either text/html is absent (or q=0), or JSON's q is higher, or equal and
 * JSON comes first. A range whose q is not a valid qvalue is ignored;
 * anything unparsable is false. Pure, no allocation. */
bool listing_wants_json(const char *accept, size_t len);

/* Render the listing of the directory open at dirfd into a malloc'ed buffer
 * *out of *out_len bytes (NUL-terminated too, not counted; the caller frees).
 * url_path is the decoded, normalised request path, starting and ending
 * with '/'; it is the title, and a "../" link is shown in HTML unless it is
 * "/". The directory is read through its own descriptor (openat of "."),
 * so dirfd is left open and its offset untouched: it can be rendered again.
 * Returns 0, or -1 with errno: EINVAL (NULL argument), ENOMEM, or the error
 * of opening or reading the directory. On failure *out is NULL. */
int listing_render(int dirfd, const char *url_path, enum listing_format fmt,
		   char **out, size_t *out_len);

#endif
