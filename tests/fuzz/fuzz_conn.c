/*
 * Fuzz target for the whole connection (lwan's idea): the input is split
 * into chunks that a client sends one after another, through the fake
 * transport (tests/unit/fake_transport.h), to a connection of a real
 * worker serving a small document root (no CGI: no processes per input).
 *
 * Input: byte 0 picks the socket's window (0: it takes everything; else it
 * takes a few hundred bytes per write edge, so answers back up and the
 * connection must stop reading); then chunks, each a length byte and that
 * many bytes (the last one may be short).
 *
 * Invariants: what the server sent is a well-formed sequence of answers
 * (status line, CRLF-terminated fields, a body framed by Content-Length,
 * none for 1xx/304 and HEAD) with nothing after it; there are never more
 * final answers than request heads the client could have sent (empty
 * lines that end a head, plus one for a head left unfinished); every
 * status is one we produce; no crash, no leak (ASan), and the connection is
 * closed and recycled by the end.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_world.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct fuzz_world world;

static void fuzz_setup(void)
{
	fuzz_world_dir(&world, "lisod-fuzz-conn");
	char path[128];
	snprintf(path, sizeof(path), "%s/sub", world.dir);
	CHECK(mkdir(path, 0755) == 0);
	fuzz_put(&world, "index.html", "<p>index</p>\n");
	fuzz_put(&world, "a.txt", "alpha\n");
	fuzz_put(&world, "sub/index.html", "<p>sub</p>\n");
	/* HTTP/1.1 only: a preface in the input would make it HTTP/2, whose
	 * answers are fuzz_h2's to check. */
	char *argv[] = { "lisod", "--root", world.dir, "--max-body", "4096", "--http2", "no",
			 NULL };
	fuzz_world_start(&world, 7, argv);
}

static bool is_our_status(int s)
{
	static const int ours[] = { 100, 200, 204, 206, 301, 304, 308, 400, 403, 404, 408, 411,
				    412, 413, 414, 416, 431, 500, 501, 503, 505 };
	for (size_t i = 0; i < sizeof(ours) / sizeof(ours[0]); i++)
		if (s == ours[i])
			return true;
	return false;
}

/* Walk the output: every answer well-formed, nothing after the last one.
 * A HEAD answer is told by what follows its head: our files and error
 * pages never start with "HTTP/1.1 ", so if the next answer (or the end)
 * comes where its body would start, it had none. Returns final answers. */
static unsigned check_output(const struct fake_io *io)
{
	size_t pos = 0;
	unsigned finals = 0;
	while (pos < io->out_len) {
		const char *p = io->out + pos;
		size_t left = io->out_len - pos;
		const char *e = memmem(p, left, "\r\n\r\n", 4);
		CHECK(e != NULL);
		size_t hl = (size_t)(e - p) + 4;
		CHECK(hl > 13 && memcmp(p, "HTTP/1.1 ", 9) == 0 && p[12] == ' ');
		int status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
		CHECK(is_our_status(status));
		for (size_t i = 0; i < hl; i++) {
			CHECK(p[i] != '\0');
			if (p[i] == '\n')
				CHECK(i > 0 && p[i - 1] == '\r');
		}
		pos += hl;
		if (status == 100)
			continue;
		finals++;
		size_t vl;
		CHECK(fake_header(p, hl, "Server", &vl) != NULL);
		CHECK(fake_header(p, hl, "Date", &vl) != NULL);
		const char *conn = fake_header(p, hl, "Connection", &vl);
		CHECK(conn != NULL);
		const char *cl = fake_header(p, hl, "Content-Length", &vl);
		if (status == 304)
			continue;
		CHECK(cl != NULL); /* static answers are always framed by length */
		size_t len = strtoul(cl, NULL, 10);
		bool head = io->out_len - pos == 0 ||
			    (io->out_len - pos >= 9 && memcmp(io->out + pos, "HTTP/1.1 ", 9) == 0);
		if (head || len == 0)
			continue;
		CHECK(io->out_len - pos >= len);
		pos += len;
	}
	return finals;
}

/* Heads a client could have sent: each ends with an empty line; one more
 * for a head the server answered before it ended (414, 431, a bare CR...). */
static unsigned heads_bound(const uint8_t *in, size_t n)
{
	unsigned heads = 1;
	for (size_t i = 1; i < n; i++)
		if (in[i] == '\n' && (in[i - 1] == '\n' || (i >= 2 && in[i - 1] == '\r' && in[i - 2] == '\n')))
			heads++;
	return heads;
}

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
	fuzz_chunks(&io, data, size);
	/* the client's bytes, as sent, to bound the answers */
	uint8_t *sent = malloc(size);
	CHECK(sent != NULL);
	size_t sent_len = 0;
	for (unsigned i = 0; i < io.chunks; i++) {
		memcpy(sent + sent_len, io.chunk[i], io.chunk_len[i]);
		sent_len += io.chunk_len[i];
	}
	struct sockaddr_storage peer = { .ss_family = AF_INET };
	struct conn *c = conn_new(&world.w, -1, &peer, sizeof(peer), 80);
	CHECK(c != NULL);
	fuzz_drive(&world, c, &io, window, false);
	unsigned finals = check_output(&io);
	CHECK(finals <= heads_bound(sent, sent_len));
	free(sent);
	free(io.out);
	io.out = NULL;
	return 0;
}
