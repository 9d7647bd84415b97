/*
 * Fuzz target for HTTP/2 connections (src/h2.c): the same harness as
 * fuzz_conn — chunks a client sends through the fake transport to a
 * connection of a real worker serving a small document root — with the
 * client connection preface sent first, so the input is the frames after
 * it. libnghttp2 parses them; what is fuzzed is our glue: the request made
 * from HEADERS and DATA, the inner connections, the answer turned back into
 * frames, flow control and back-pressure, resets and teardown.
 *
 * Input: byte 0 picks the socket's window (0: it takes everything; else a
 * few hundred bytes per write edge, so frames back up); then chunks, each a
 * length byte and that many bytes.
 *
 * Invariants: what the server sent is a sequence of frames (9-byte headers,
 * lengths within the default SETTINGS_MAX_FRAME_SIZE; only the last may be
 * cut short, by a close while the socket was full) starting
 * with SETTINGS; connection frames on stream 0 and stream frames on odd
 * (client) streams; every header block decodes (HPACK) to lower-case
 * names, no connection-specific field, and a :status we produce first; no
 * crash, no leak (ASan), and every connection, inner ones included, is
 * closed and recycled by the end.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_world.h"

#if defined(LISOD_HTTP2)
#include <nghttp2/nghttp2.h>
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct fuzz_world world;

static const char PREFACE[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

static void fuzz_setup(void)
{
	fuzz_world_dir(&world, "lisod-fuzz-h2");
	fuzz_put(&world, "index.html", "<p>index</p>\n");
	fuzz_put(&world, "a.txt", "alpha\n");
	/* Bigger than a DATA frame and an output block: flow control matters. */
	static char big[40000];
	memset(big, 'b', sizeof(big) - 1);
	fuzz_put(&world, "big.txt", big);
	char *argv[] = { "lisod", "--root", world.dir, "--max-body", "4096",
			 "--http2-max-streams", "8", NULL };
	fuzz_world_start(&world, 7, argv);
}

#if defined(LISOD_HTTP2)
static bool is_our_status(const uint8_t *v, size_t len)
{
	static const char *const ours[] = { "200", "204", "206", "301", "304", "308", "400",
					    "403", "404", "408", "411", "412", "413", "414",
					    "416", "421", "431", "500", "501", "503", "505" };
	for (size_t i = 0; i < sizeof(ours) / sizeof(ours[0]); i++)
		if (len == 3 && memcmp(v, ours[i], 3) == 0)
			return true;
	return false;
}

static void check_field(const nghttp2_nv *nv, unsigned index)
{
	static const char *const banned[] = { "connection", "keep-alive", "transfer-encoding",
					      "upgrade", "proxy-connection" };
	if (index == 0) {
		CHECK(nv->namelen == 7 && memcmp(nv->name, ":status", 7) == 0);
		CHECK(is_our_status(nv->value, nv->valuelen));
		return;
	}
	CHECK(nv->namelen > 0 && nv->name[0] != ':');
	for (size_t i = 0; i < nv->namelen; i++)
		CHECK(!(nv->name[i] >= 'A' && nv->name[i] <= 'Z'));
	for (size_t i = 0; i < sizeof(banned) / sizeof(banned[0]); i++)
		CHECK(!(nv->namelen == strlen(banned[i]) &&
			memcmp(nv->name, banned[i], nv->namelen) == 0));
}

/* One header block (HEADERS with END_HEADERS: ours always fit a frame). */
static void check_block(nghttp2_hd_inflater *inf, const uint8_t *p, size_t len)
{
	unsigned index = 0;
	for (;;) {
		nghttp2_nv nv;
		int flags = 0;
		ssize_t used = nghttp2_hd_inflate_hd2(inf, &nv, &flags, p, len, 1);
		CHECK(used >= 0);
		p += used;
		len -= (size_t)used;
		if (flags & NGHTTP2_HD_INFLATE_EMIT)
			check_field(&nv, index++);
		if (flags & NGHTTP2_HD_INFLATE_FINAL) {
			nghttp2_hd_inflate_end_headers(inf);
			break;
		}
		if (used == 0 && len == 0)
			break;
	}
	CHECK(index > 0);
}

static void check_output(const struct fake_io *io)
{
	nghttp2_hd_inflater *inf;
	CHECK(nghttp2_hd_inflate_new(&inf) == 0);
	size_t pos = 0;
	bool first = true;
	while (pos + 9 <= io->out_len) {
		const uint8_t *h = (const uint8_t *)io->out + pos;
		size_t len = (size_t)h[0] << 16 | (size_t)h[1] << 8 | h[2];
		uint8_t type = h[3], flags = h[4];
		uint32_t id = ((uint32_t)h[5] << 24 | (uint32_t)h[6] << 16 | (uint32_t)h[7] << 8 |
			       h[8]) & 0x7fffffffu;
		CHECK(len <= 16384);
		if (pos + 9 + len > io->out_len)
			break; /* cut by the close (the socket was full): the last only */
		if (first)
			CHECK(type == NGHTTP2_SETTINGS && !(flags & NGHTTP2_FLAG_ACK));
		first = false;
		switch (type) {
		case NGHTTP2_SETTINGS:
		case NGHTTP2_PING:
		case NGHTTP2_GOAWAY:
			CHECK(id == 0);
			break;
		case NGHTTP2_HEADERS:
			CHECK(id % 2 == 1);
			CHECK(flags & NGHTTP2_FLAG_END_HEADERS);
			CHECK(!(flags & (NGHTTP2_FLAG_PADDED | NGHTTP2_FLAG_PRIORITY)));
			check_block(inf, h + 9, len);
			break;
		case NGHTTP2_DATA:
		case NGHTTP2_RST_STREAM:
			CHECK(id % 2 == 1);
			break;
		case NGHTTP2_WINDOW_UPDATE:
			CHECK(id == 0 || id % 2 == 1);
			break;
		default:
			CHECK(!"a frame type we never send");
		}
		pos += 9 + len;
	}
	nghttp2_hd_inflate_del(inf);
}
#else
static void check_output(const struct fake_io *io)
{
	(void)io; /* without HTTP/2 the preface is an HTTP/1.1 request line */
}
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!world.ready)
		fuzz_setup();
	if (size < 1 || size > 256 * 1024)
		return 0;
	static struct fake_io io;
	fake_reset(&io);
	size_t window = data[0] ? 64 + (size_t)data[0] * 4 : SIZE_MAX;
	io.window = window;
	fake_add(&io, PREFACE, sizeof(PREFACE) - 1);
	fuzz_chunks(&io, data, size);
	struct sockaddr_storage peer = { .ss_family = AF_INET };
	struct conn *c = conn_new(&world.w, -1, &peer, sizeof(peer), 80);
	CHECK(c != NULL);
	fuzz_drive(&world, c, &io, window, true);
	check_output(&io);
	free(io.out);
	io.out = NULL;
	return 0;
}
