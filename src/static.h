/*
 * static — static files beneath a document root: path resolution that the
 * kernel confines, MIME types, validators (ETag, Last-Modified) and the
 * conditional / range logic of a GET or HEAD.
 *
 * Owns the root directory descriptor and the MIME table (built-in entries
 * plus /etc/mime.types when present, loaded once at startup). Opened files
 * belong to the caller (static_file_close).
 *
 * Confinement: a request path is percent-decoded once, must start with '/',
 * is normalised lexically ('.' dropped, '..' pops a segment; popping above
 * the root is a 400), must not contain NUL (%00 → 400). It is then opened
 * relative to the root descriptor with openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_MAGICLINKS), so no symlink or '..' can leave the root: the
 * kernel enforces it. Where openat2 is missing (ENOSYS, kernels < 5.6) the
 * fallback walks the path one component at a time with O_NOFOLLOW, refusing
 * every symlink (documented in docs/security.md).
 */
#ifndef LISOD_STATIC_H
#define LISOD_STATIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "http_parse.h"

/* STATIC_ETAG_MAX: '"' + three 64-bit hex numbers + two '-' + '"' + NUL = 53. */
enum { STATIC_PATH_MAX = 8192, /* a request line's worth: longer lines are 414 */
        STATIC_ETAG_MAX = 64 };

struct static_root;

/* Open the document root (a directory). NULL with errno on failure.
 * Also loads /etc/mime.types (if readable; bounded) and probes once whether
 * openat2 works here (ENOSYS, or EPERM from a seccomp filter → the walk). */
struct static_root *static_root_new(const char *dir);
/* The names a directory's index is looked up by, in order (the first that
 * exists is served); names must outlive the root. count 0: index.html. */
void static_root_set_index(struct static_root *root, const char *const *names, unsigned count);
void static_root_free(struct static_root *root);
/* Use the O_NOFOLLOW component walk even where openat2 works (tests, and
 * a deployment that wants "no symlinks at all"). */
void static_root_force_walk(struct static_root *root);

struct static_file {
	int fd;                 /* -1 when not open */
	off_t size;
	time_t mtime;
	const char *mime;       /* never NULL; static, or owned by the root (valid
				 * while the root lives) */
	dev_t dev;              /* the file's identity: with size and mtime_ns */
	ino_t ino;              /* the key of its compressed form (compress.h) */
	int64_t mtime_ns;
	const char *index_name; /* a directory path: the index file that served
				 * it (owned by the root), else NULL */
	char etag[STATIC_ETAG_MAX]; /* strong validator, quotes included:
				     * "ino-size-mtime_ns", lower-case hex */
};

/*
 * Decode and normalise the raw path slice (as it appears in the request,
 * query already removed) into out (NUL-terminated, always starting with '/').
 * Returns 0, or 400 (bad %-escape, %00, NUL, no leading '/', '..' above the
 * root) or 414 (does not fit in out_cap).
 * Empty segments collapse ("//a" → "/a"); the result ends with '/' when the
 * path did or when its last segment was "." or ".." ("/a/b/.." → "/a/").
 * A decoded "%2f" is a separator like '/'. 414 is returned as soon as the
 * output overflows, even if later ".." segments would have shortened it.
 */
int static_normalize_path(const char *raw, size_t len, char *out, size_t out_cap);

/*
 * Open the file a request path names. raw/len: the request's path slice.
 * Returns 0 (file opened, *f filled), or a status: 301 (a directory named
 * without its trailing slash: *redirect_out receives the normalised path
 * plus '/', re-percent-encoded so it is a valid URI path (never CR/LF,
 * space or '%' raw), NUL-terminated, for Location; 414 if it does not fit
 * redirect_cap), 400, 403 (not readable, or a symlink leaving the root; in
 * the walk fallback every symlink), 404 (missing; a directory without
 * an index file; not a regular file), 414, 500 (other I/O errors).
 * On failure f->fd is -1.
 * A directory named with a trailing slash serves its first index file
 * (static_root_set_index; index.html unless set).
 */
int static_open(const struct static_root *root, const char *raw, size_t len,
		struct static_file *f, char *redirect_out, size_t redirect_cap);
void static_file_close(struct static_file *f);

/* Open the directory a request path names, with its slash ("/a/b/"),
 * confined like static_open (O_RDONLY | O_DIRECTORY), for a listing.
 * 0 with *fd set and the normalised path in norm (cap bytes), or a status:
 * 400, 403, 404 (missing, or not a directory), 414, 500. */
int static_open_dir(const struct static_root *root, const char *raw, size_t len, int *fd,
		    char *norm, size_t cap);

/* The MIME type for a file name (or path) by extension (case-insensitive),
 * from the built-in table only; "application/octet-stream" when unknown. */
const char *static_mime_type(const char *name, size_t len);
/* The same, falling back to the root's /etc/mime.types entries; the
 * built-in table wins. This is what static_open uses. */
const char *static_root_mime_type(const struct static_root *root,
				  const char *name, size_t len);


/*
 * Decide a GET/HEAD response from the request's preconditions, in the order
 * of RFC 9110 §13.2.2:
 *   1. If-Match (a list of ETags or '*'; strong comparison, so a W/ tag
 *      never matches; '*' matches, the file existing) not matching → 412.
 *      A malformed list matches nothing from its first bad element on.
 *   2. Without If-Match: If-Unmodified-Since a valid HTTP-date earlier than
 *      the file's mtime → 412 (an invalid date is ignored).
 *   3. If-None-Match (list or '*', weak comparison) matching → 304;
 *   4. without If-None-Match: If-Modified-Since not earlier than mtime → 304.
 *   5. Range, unless If-Range is present and does not match (If-Range
 *      matches only by strong ETag equality or by a date equal to mtime):
 *      "bytes=" followed by 1 to 16 range-specs ("a-b", "a-", "-n"),
 *      comma-separated (OWS and empty list elements allowed). Specs past
 *      the end of the file (and "-0") are dropped; none left → 416. The
 *      rest are answered as ONE range, from the lowest first byte to the
 *      highest last byte, with 206 (RFC 9110 §14.2 allows coalescing; lisod
 *      never sends multipart/byteranges). So "bytes=0-1,5-9" is 206 for
 *      bytes 0-9, gap included. Ignored (200, whole file), as RFC 9110
 *      allows: more than 16 specs, any element that is not a range-spec
 *      ("5-1", "x", junk after a spec), another unit, no spec at all.
 * Returns 200, 206, 304, 412 or 416. For 200, range = whole file; for 206
 * the coalesced range; for 304, 412 and 416, range = 0/0 (416's
 * Content-Range uses f->size).
 */
int static_evaluate(const struct static_file *f, const struct http_request *req,
		    off_t *range_start, off_t *range_len);

/*
 * Whether a normalised path (static_normalize_path's output) names a hidden
 * file: true when any segment starts with '.' (/.git/config, /a/.env,
 * /.x), except a first segment that is exactly ".well-known" (RFC 8615 URIs
 * such as /.well-known/acme-challenge/...); hidden segments beneath it
 * still count (/.well-known/.x is hidden). Case-sensitive, like the file
 * system. The caller decides what a hidden path gets (e.g. 404).
 */
bool static_path_hidden(const char *normalized_path);

#endif
