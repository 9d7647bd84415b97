/*
 * fcache — the per-worker open-file cache: no open/fstat/read/close per
 * request for a file that is asked for again.
 *
 * An entry keeps the file open, its metadata, its content when small, and
 * the response header fields that depend only on the file, pre-formatted.
 * An inotify watch on the cached inode drops the entry as soon as the file
 * is written, truncated, deleted or replaced (renaming over it changes its
 * link count: IN_ATTRIB), at no cost per request. As a backstop for what a
 * watch on the file cannot see (a parent directory renamed, a symlink on
 * the path swapped) the entry is revalidated at most once a second: the
 * path is opened again through static_open() (so the kernel's root
 * confinement applies every time) and compared by ETag (inode, size, mtime
 * in ns). So stale bytes are served for at most a second, and in the common
 * cases not at all (once the kernel has delivered the event).
 *
 * Entries are counted references: a connection that sends a file holds its
 * entry until the body is out, so an entry can be replaced or evicted while
 * in use and is freed when its last user lets go. Paths up to
 * FCACHE_KEY_MAX bytes are cached; longer ones are served uncached.
 */
#ifndef LISOD_FCACHE_H
#define LISOD_FCACHE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "static.h"

enum {
	FCACHE_VARIANTS = 3,             /* sidecars: .gz, .br, .zst (CODING_GZIP..ZSTD) */
	FCACHE_KEY_MAX = 256,
	FCACHE_CONTENT_MAX = 8 * 1024,   /* files up to this size are kept in memory */
	FCACHE_FIELDS_MAX = 256,
};

struct fcache_entry {
	struct static_file file;        /* fd open while the entry lives */
	const char *content;            /* the whole file if small, else NULL */
	char fields[FCACHE_FIELDS_MAX]; /* "Content-Type: ..\r\nLast-Modified: ..\r\nETag: ..\r\nAccept-Ranges: bytes\r\n" */
	uint16_t fields_len;
	bool compressible;              /* its type is worth gzip (compress_type_ok), decided once */
	bool hidden;                    /* its path has a dot segment (static_path_hidden) */
	/* private */
	struct fcache_entry *variant[FCACHE_VARIANTS]; /* held sidecars, or NULL */
	time_t variants_checked;        /* when they were looked for; 0: never */
	struct fcache_entry *hash_next, *lru_prev, *lru_next;
	uint32_t users;
	uint32_t hash;
	time_t checked;
	int wd;                         /* inotify watch, -1 if none */
	uint16_t key_len;
	char stale;                     /* unlinked; freed by the last release */
	char key[];
};

struct fcache;

struct fcache *fcache_new(const struct static_root *root, unsigned max_entries);
void fcache_free(struct fcache *fc);
/* Text types get "; charset=NAME" in their Content-Type (NULL: none; the
 * default). Set before the first fcache_get; name must outlive fc. */
void fcache_set_charset(struct fcache *fc, const char *name);

/*
 * The file for a request path (raw, as in static_open). Returns 0 and a
 * held entry in *out (release it with fcache_release), or a status as
 * static_open() does (301 with redirect_out filled, 400, 403, 404, ...).
 */
int fcache_get(struct fcache *fc, const char *raw, size_t len, time_t now,
	       struct fcache_entry **out, char *redirect_out, size_t redirect_cap);
void fcache_release(struct fcache *fc, struct fcache_entry *e);

/*
 * Precompressed sidecars of a file X: X.gz, X.br, X.zst beside it (for a
 * directory path, beside its index file), each a regular file no older
 * than X, opened through the same confinement. Looked for at most once a
 * second per entry (a sidecar made, or removed, is seen within a second;
 * one that changes is dropped at once by its own watch). Returns the set
 * as bits (1u << coding) of accept_enc.h's enum content_coding.
 */
unsigned fcache_variants(struct fcache *fc, struct fcache_entry *e, time_t now);
/* The sidecar of e for coding (from fcache_variants' set), held: release
 * it like any entry. NULL when there is none. */
struct fcache_entry *fcache_variant_get(struct fcache_entry *e, unsigned coding);

/* The inotify descriptor to watch for readability (-1 if unavailable), and
 * what to call when it is readable: drops the entries whose files changed. */
int fcache_notify_fd(const struct fcache *fc);
void fcache_on_notify(struct fcache *fc);

#endif
