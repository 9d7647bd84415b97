#include "buf.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

int buf_pool_init(struct buf_pool *pool, uint32_t max_free)
{
	pool->count = 0;
	pool->max = max_free;
	pool->free = calloc(max_free ? max_free : 1, sizeof(*pool->free));
	return pool->free ? 0 : -1;
}

void buf_pool_reset(struct buf_pool *pool)
{
	while (pool->count > 0)
		free(pool->free[--pool->count]);
	free(pool->free);
	pool->free = NULL;
	pool->max = 0;
}

int buf_acquire(struct buf *b, struct buf_pool *pool)
{
	if (b->data)
		return 0;
	if (pool && pool->count > 0) {
		b->data = pool->free[--pool->count];
	} else {
		b->data = malloc(BUF_BLOCK_BYTES);
		if (!b->data) {
			errno = ENOMEM;
			return -1;
		}
	}
	b->rpos = b->wpos = 0;
	b->cap = BUF_BLOCK_BYTES;
	return 0;
}

void buf_release(struct buf *b, struct buf_pool *pool)
{
	if (!b->data)
		return;
	/* Only standard blocks are pooled; grown ones go back to malloc. */
	if (pool && b->cap == BUF_BLOCK_BYTES && pool->count < pool->max)
		pool->free[pool->count++] = b->data;
	else
		free(b->data);
	b->data = NULL;
	b->rpos = b->wpos = b->cap = 0;
}

int buf_grow(struct buf *b, uint32_t cap)
{
	if (cap <= b->cap)
		return 0;
	char *p = realloc(b->data, cap);
	if (!p) {
		errno = ENOMEM;
		return -1;
	}
	b->data = p;
	b->cap = cap;
	return 0;
}

void buf_commit(struct buf *b, uint32_t n)
{
	assert(n <= buf_space(b));
	if (n > buf_space(b))
		n = buf_space(b);
	b->wpos += n;
}

void buf_consume(struct buf *b, uint32_t n)
{
	assert(n <= buf_len(b));
	if (n > buf_len(b))
		n = buf_len(b);
	b->rpos += n;
	if (b->rpos == b->wpos)
		b->rpos = b->wpos = 0; /* cheap reset keeps the hot path compaction-free */
}

void buf_compact(struct buf *b)
{
	if (b->rpos == 0)
		return;
	uint32_t n = buf_len(b);
	memmove(b->data, b->data + b->rpos, n);
	b->rpos = 0;
	b->wpos = n;
}

void buf_unwind(struct buf *b, uint32_t wpos)
{
	assert(wpos >= b->rpos && wpos <= b->wpos);
	if (wpos >= b->rpos && wpos <= b->wpos)
		b->wpos = wpos;
}

int buf_append(struct buf *b, const void *src, uint32_t n)
{
	if (n == 0)
		return 0; /* (b may have no storage: no memcpy to NULL) */
	if (n > buf_space(b))
		return -1;
	memcpy(b->data + b->wpos, src, n);
	b->wpos += n;
	return 0;
}
