/*
 * compress — gzip content coding (RFC 9110 §8.4.1.3) for answers: which
 * media types are worth compressing, a streaming encoder with a small fixed
 * memory footprint (CGI output), and a bounded per-worker cache of whole
 * compressed files (static answers).
 *
 * Owns: the zlib state of each gz_stream (between init and end), the cache
 * and its items. Borrows: the caller's input and output buffers, and the
 * descriptor given to zcache_get_or_make (read with pread, never closed).
 * Nothing here logs or touches the event loop; every call does bounded
 * work (one deflate() call per gz_stream call; one file of at most
 * ZCACHE_FILE_MAX_BYTES per cache miss).
 *
 * Memory, from zlib's own formula (zconf.h):
 *   deflate state = (1 << (windowBits + 2)) + (1 << (memLevel + 9)) bytes,
 *   plus zlib's fixed state struct (about 6 KiB).
 * A gz_stream uses windowBits 12, memLevel 6: (1 << 14) + (1 << 15) = 48 KiB
 * (GZ_STREAM_MEM_BYTES), about 54 KiB with the struct, so COMPRESS_STREAMS_MAX
 * streams cost at most about 3.4 MiB a worker. The small window costs a few
 * percent of ratio on text; it is the price of many concurrent streams.
 * A cache miss compresses with zlib's defaults (windowBits 15, memLevel 8:
 * 128 KiB + 128 KiB = 256 KiB) for the time of the call only, since the
 * result is kept and served many times.
 */
#ifndef LISOD_COMPRESS_H
#define LISOD_COMPRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <zlib.h>

/* ---- media types -------------------------------------------------------- */

/*
 * Is an answer of this Content-Type worth gzip? Any text/ type, the JSON, XML and
 * JavaScript types, any "+json" or "+xml" subtype, image/svg+xml,
 * application/wasm, font/ttf, font/otf and image/x-icon. Not: other
 * images, audio, video, archives, already-compressed fonts (woff, woff2),
 * application/octet-stream, or anything unparsable. Parameters
 * (";charset=...") and surrounding whitespace are ignored; the comparison
 * is case-insensitive. content_type need not be NUL-terminated.
 */
bool compress_type_ok(const char *content_type, size_t len);

/* ---- streaming encoder ---------------------------------------------------- */

enum {
	COMPRESS_STREAMS_MAX = 64,   /* default cap on concurrent gz_streams per worker
	                              * (enforced by the caller; over it: identity) */
	GZ_STREAM_LEVEL = 5,
	GZ_STREAM_WINDOW_BITS = 12,  /* 4 KiB window */
	GZ_STREAM_MEM_LEVEL = 6,
	GZ_STREAM_MEM_BYTES = (1 << (GZ_STREAM_WINDOW_BITS + 2)) + (1 << (GZ_STREAM_MEM_LEVEL + 9)),
};

/*
 * One gzip member produced incrementally. Embedded in its owner, and it
 * must not move between gz_stream_init and gz_stream_end (zlib keeps a
 * pointer to it). The fields are private; read them with the functions.
 */
struct gz_stream {
	z_stream zs;
	size_t mem_bytes;      /* what zlib holds now (its allocations, counted) */
	bool unflushed;        /* input consumed since the last completed flush */
	bool syncing;          /* a sync flush needs more output room */
	bool finishing, done, failed;
};

/* 0, or -1 with errno ENOMEM (nothing held). */
int gz_stream_init(struct gz_stream *gz);

/*
 * One step: compress from in[0..in_len) into out[0..out_cap). Returns the
 * input bytes consumed (the rest is the caller's to offer again) and sets
 * *out_len to the bytes written. With finish, in is the last of the input:
 * once finish was given, every later call finishes (in is then ignored)
 * until gz_stream_done(); an unfinished sync flush (gz_stream_flush) is
 * completed first, consuming nothing. No room (out_cap 0), nothing to do
 * (zlib's Z_BUF_ERROR) and a done or failed stream give 0 and *out_len 0.
 */
size_t gz_stream_write(struct gz_stream *gz, const void *in, size_t in_len, void *out,
		       size_t out_cap, size_t *out_len, bool finish);

/*
 * Push what was consumed so far out to the decoder (Z_SYNC_FLUSH: a
 * streaming program's output reaches the client without waiting for
 * more). Writes into out[0..out_cap), *out_len bytes. true: the flush is
 * complete (or there was nothing to flush); false: call it again with
 * more room before writing more.
 */
bool gz_stream_flush(struct gz_stream *gz, void *out, size_t out_cap, size_t *out_len);

/* The gzip trailer has been written out in full. */
bool gz_stream_done(const struct gz_stream *gz);
/* zlib reported an error (only on misuse or corrupt state): produce no
 * more, end the answer abnormally. */
bool gz_stream_failed(const struct gz_stream *gz);
/* Bytes zlib holds for this stream now. */
size_t gz_stream_mem(const struct gz_stream *gz);
/* Free zlib's state; safe on a stream whose init failed, and twice. */
void gz_stream_end(struct gz_stream *gz);

/* ---- cache of compressed files --------------------------------------------- */

enum {
	ZCACHE_FILE_MAX_BYTES = 512 * 1024,        /* bigger files: NULL, identity */
	ZCACHE_MAX_BYTES_DEFAULT = 8 * 1024 * 1024, /* per worker */
	ZCACHE_LEVEL = 6,
};

enum zcache_coding { ZCACHE_GZIP = 1 };

/* What a compressed form is of: a file version, and the coding. Any
 * change to the file (size, mtime, or a new inode) is another key. */
struct zcache_key {
	dev_t dev;
	ino_t ino;
	off_t size;
	int64_t mtime_ns;
	enum zcache_coding coding;
};

/* A compressed file; data and len are read-only, valid until released. */
struct zcache_item {
	const char *data;
	size_t len;
	/* private */
	struct zcache_key key;
	struct zcache_item *hash_next, *lru_prev, *lru_next;
	struct zcache *cache;  /* NULL once the cache is gone (freed at its release) */
	size_t cost;           /* bytes counted against the cache's bound */
	uint32_t refs;
	bool cached;           /* in the table and the LRU list */
	bool negative;         /* compressing did not make it smaller */
};

struct zcache_stats {
	size_t bytes;          /* held by cached items (negative ones included) */
	size_t items;          /* cached, negative ones included */
	uint64_t hits, made, not_smaller, evicted;
};

struct zcache;

/* A cache holding at most max_bytes (items' data and records, cached or
 * held); 0: ZCACHE_MAX_BYTES_DEFAULT. NULL with errno ENOMEM. */
struct zcache *zcache_new(size_t max_bytes);
/* Items still held survive until their zcache_release. NULL: nothing. */
void zcache_free(struct zcache *zc);

/*
 * The compressed form of the file version `key` (read from fd with pread,
 * size bytes from offset 0; size must equal key->size), compressed on the
 * first call and then shared. Returns a held item (zcache_release it), or
 * NULL: send the file as it is. NULL when the file is over
 * ZCACHE_FILE_MAX_BYTES, when compressing does not make it smaller (that is
 * remembered: the next call answers NULL without reading the file), when
 * the item cannot fit under the cache's bound beside the held items, and
 * on failure (errno: the read's, EIO for a file shorter than size, ENOMEM,
 * EINVAL for a bad key; nothing is remembered then).
 *
 * The bound is strict (items' data and records, held or not, never exceed
 * max_bytes): the least recently used items that nobody holds are evicted
 * to make room. A held item is never evicted (it is in use, and evicting it
 * would free nothing); it outlives zcache_free until its release.
 */
const struct zcache_item *zcache_get_or_make(struct zcache *zc, const struct zcache_key *key,
					     int fd, off_t size);
/* NULL: nothing. */
void zcache_release(const struct zcache_item *item);
void zcache_stats(const struct zcache *zc, struct zcache_stats *out);

#endif
