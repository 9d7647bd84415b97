/*
 * buf — a bounded byte buffer and the per-worker pool its storage comes from.
 *
 *   data[0 .. rpos)     consumed, reclaimable by buf_compact()
 *   data[rpos .. wpos)  readable bytes
 *   data[wpos .. cap)   free space
 *
 * Storage is lazy: an idle connection keeps a zeroed struct buf (no memory);
 * buf_acquire() takes a block from the pool, buf_release() returns it. A
 * buffer can grow, once the caller asks (buf_grow), up to a caller-given
 * bound; growth is never implicit, so reaching the bound is the caller's
 * cue to answer 413/431, never a realloc loop.
 * Fields are read-only outside buf.c, except that callers may read
 * data[rpos..wpos) and write into data[wpos..cap) before buf_commit().
 */
#ifndef LISOD_BUF_H
#define LISOD_BUF_H

#include <stddef.h>
#include <stdint.h>

enum { BUF_BLOCK_BYTES = 16 * 1024 };

struct buf {
	char *data;
	uint32_t rpos, wpos, cap;
};

/* Free blocks of BUF_BLOCK_BYTES kept for reuse, up to a bound. */
struct buf_pool {
	void **free;
	uint32_t count, max;
};

int buf_pool_init(struct buf_pool *pool, uint32_t max_free);
void buf_pool_reset(struct buf_pool *pool); /* frees everything pooled */

/* Give b storage of BUF_BLOCK_BYTES if it has none. 0, or -1/ENOMEM. */
int buf_acquire(struct buf *b, struct buf_pool *pool);
/* Return b's storage to the pool (or free it) and zero b. */
void buf_release(struct buf *b, struct buf_pool *pool);
/* Grow the capacity to at least `cap` bytes (keeps content). 0 or -1. */
int buf_grow(struct buf *b, uint32_t cap);

static inline uint32_t buf_len(const struct buf *b) { return b->wpos - b->rpos; }
static inline uint32_t buf_space(const struct buf *b) { return b->cap - b->wpos; }
static inline char *buf_rptr(const struct buf *b) { return b->data + b->rpos; }
static inline char *buf_wptr(const struct buf *b) { return b->data + b->wpos; }

/* Mark n bytes written at buf_wptr() / consumed at buf_rptr(). n is checked. */
void buf_commit(struct buf *b, uint32_t n);
void buf_consume(struct buf *b, uint32_t n);
/* Move readable bytes to the front; slices into the buffer become invalid. */
void buf_compact(struct buf *b);
/* Drop bytes written after offset wpos (wpos >= rpos): undo a partial append. */
void buf_unwind(struct buf *b, uint32_t wpos);
/* Append n bytes; -1 (nothing written) if they do not fit. */
int buf_append(struct buf *b, const void *src, uint32_t n);

#endif
