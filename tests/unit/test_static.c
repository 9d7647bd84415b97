/*
 * Unit tests for static.c: path normalisation, confinement beneath the
 * document root (openat2 and the O_NOFOLLOW walk), MIME types and the
 * conditional / range decision (preconditions, 304, ranges) and hidden paths.
 *
 * Every table row carries its __LINE__; a failing row prints it and its name.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/openat2.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "static.h"

#define FAIL_ROW(line, name, ...)                                              \
	do {                                                                   \
		print_error("test_static.c:%d: %s: ", (line), (name));         \
		print_error(__VA_ARGS__);                                      \
		print_error("\n");                                             \
		failures++;                                                    \
	} while (0)

/* ---- static_normalize_path ----------------------------------------------- */

struct norm_case {
	int line;
	const char *name;
	const char *in;
	size_t len;         /* 0: strlen(in) */
	size_t cap;         /* 0: STATIC_PATH_MAX */
	int status;
	const char *out;    /* when status == 0 */
};

static const struct norm_case NORM_CASES[] = {
	{ __LINE__, "root", "/", 0, 0, 0, "/" },
	{ __LINE__, "plain", "/a/b", 0, 0, 0, "/a/b" },
	{ __LINE__, "file ext", "/index.html", 0, 0, 0, "/index.html" },
	{ __LINE__, "dot segment", "/a/./b", 0, 0, 0, "/a/b" },
	{ __LINE__, "dot-dot pops", "/a/../b", 0, 0, 0, "/b" },
	{ __LINE__, "dot-dot above root", "/../x", 0, 0, 400, NULL },
	{ __LINE__, "bare dot-dot", "/..", 0, 0, 400, NULL },
	{ __LINE__, "dot-dot twice above root", "/a/../../x", 0, 0, 400, NULL },
	{ __LINE__, "encoded dot-dot above root", "/%2e%2e/x", 0, 0, 400, NULL },
	{ __LINE__, "encoded upper dot-dot", "/%2E%2E/x", 0, 0, 400, NULL },
	{ __LINE__, "mixed encoded dot-dot", "/.%2e/x", 0, 0, 400, NULL },
	{ __LINE__, "encoded dot-dot pops", "/a/%2e%2e/b", 0, 0, 0, "/b" },
	{ __LINE__, "encoded slash dot-dot", "/..%2fetc", 0, 0, 400, NULL },
	{ __LINE__, "encoded slash separator", "/a%2fb", 0, 0, 0, "/a/b" },
	{ __LINE__, "encoded slash upper", "/a%2Fb", 0, 0, 0, "/a/b" },
	{ __LINE__, "encoded NUL", "/a%00b", 0, 0, 400, NULL },
	{ __LINE__, "only encoded NUL", "%00", 0, 0, 400, NULL },
	{ __LINE__, "raw NUL", "/a\0b", 4, 0, 400, NULL },
	{ __LINE__, "bad hex", "/%zz", 0, 0, 400, NULL },
	{ __LINE__, "bad second hex", "/%4g", 0, 0, 400, NULL },
	{ __LINE__, "truncated escape", "/%4", 0, 0, 400, NULL },
	{ __LINE__, "lone percent", "/%", 0, 0, 400, NULL },
	{ __LINE__, "decoded once only", "/%252e%252e/x", 0, 0, 0, "/%2e%2e/x" },
	{ __LINE__, "percent decoded", "/a%20b", 0, 0, 0, "/a b" },
	{ __LINE__, "high byte decoded", "/%c3%a9", 0, 0, 0, "/\xc3\xa9" },
	{ __LINE__, "no leading slash", "a", 0, 0, 400, NULL },
	{ __LINE__, "empty", "", 0, 0, 400, NULL },
	{ __LINE__, "leading encoded slash", "%2fa", 0, 0, 400, NULL },
	{ __LINE__, "asterisk", "*", 0, 0, 400, NULL },
	{ __LINE__, "double slash collapses", "//a", 0, 0, 0, "/a" },
	{ __LINE__, "inner double slash", "/a//b", 0, 0, 0, "/a/b" },
	{ __LINE__, "trailing slash kept", "/a/b/", 0, 0, 0, "/a/b/" },
	{ __LINE__, "trailing double slash", "/a//", 0, 0, 0, "/a/" },
	{ __LINE__, "dot-dot to root", "/a/..", 0, 0, 0, "/" },
	{ __LINE__, "dot-dot ends dir", "/a/b/..", 0, 0, 0, "/a/" },
	{ __LINE__, "final dot ends dir", "/a/.", 0, 0, 0, "/a/" },
	{ __LINE__, "root dot", "/.", 0, 0, 0, "/" },
	{ __LINE__, "triple dot is a name", "/.../x", 0, 0, 0, "/.../x" },
	{ __LINE__, "dotfile is a name", "/.hidden", 0, 0, 0, "/.hidden" },
	{ __LINE__, "dot-dot-x is a name", "/..x/y", 0, 0, 0, "/..x/y" },
	{ __LINE__, "backslashes literal", "/a\\..\\..\\etc\\passwd", 0, 0, 0,
	  "/a\\..\\..\\etc\\passwd" },
	{ __LINE__, "encoded backslash literal", "/a%5c..%5cb", 0, 0, 0, "/a\\..\\b" },
	{ __LINE__, "deep pop", "/a/b/c/../../d", 0, 0, 0, "/a/d" },
	{ __LINE__, "pop then above", "/a/b/../../..", 0, 0, 400, NULL },
	{ __LINE__, "slashes and dots", "/././/./a", 0, 0, 0, "/a" },
	{ __LINE__, "exact fit", "/abc", 0, 5, 0, "/abc" },
	{ __LINE__, "one byte short", "/abcd", 0, 5, 414, NULL },
	{ __LINE__, "trailing slash overflows", "/abc/", 0, 5, 414, NULL },
	{ __LINE__, "tiny cap", "/", 0, 1, 414, NULL },
	{ __LINE__, "length limits input", "/abc/def", 4, 0, 0, "/abc" },
};

static void test_normalize_table(void **state)
{
	(void)state;
	int failures = 0;
	for (size_t i = 0; i < sizeof(NORM_CASES) / sizeof(NORM_CASES[0]); i++) {
		const struct norm_case *c = &NORM_CASES[i];
		char out[STATIC_PATH_MAX];
		size_t len = c->len ? c->len : strlen(c->in);
		size_t cap = c->cap ? c->cap : sizeof(out);
		memset(out, 'X', sizeof(out));
		int st = static_normalize_path(c->in, len, out, cap);
		if (st != c->status) {
			FAIL_ROW(c->line, c->name, "status %d, want %d", st, c->status);
			continue;
		}
		if (st == 0 && strcmp(out, c->out) != 0)
			FAIL_ROW(c->line, c->name, "out \"%s\", want \"%s\"", out, c->out);
		if (st == 0 && strlen(out) >= cap)
			FAIL_ROW(c->line, c->name, "wrote past cap");
	}
	assert_int_equal(failures, 0);
}

static void test_normalize_long(void **state)
{
	(void)state;
	enum { N = 3 * STATIC_PATH_MAX };
	char *raw = malloc(N);
	char out[STATIC_PATH_MAX];
	assert_non_null(raw);
	raw[0] = '/';
	memset(raw + 1, 'a', N - 1);
	assert_int_equal(static_normalize_path(raw, N, out, sizeof(out)), 414);
	/* Exactly STATIC_PATH_MAX - 1 bytes fit (NUL included). */
	assert_int_equal(static_normalize_path(raw, STATIC_PATH_MAX - 1, out, sizeof(out)), 0);
	assert_int_equal(strlen(out), STATIC_PATH_MAX - 1);
	assert_int_equal(static_normalize_path(raw, STATIC_PATH_MAX, out, sizeof(out)), 414);
	/* Many "/." segments shrink to nothing: fine however long. */
	for (size_t i = 0; i + 2 <= N; i += 2) {
		raw[i] = '/';
		raw[i + 1] = '.';
	}
	assert_int_equal(static_normalize_path(raw, N, out, sizeof(out)), 0);
	assert_string_equal(out, "/");
	free(raw);
}

/* ---- static_open --------------------------------------------------------- */

struct tree {
	char base[64];
	char root[96];
	struct static_root *sr;
};

static void put_file(const char *dir, const char *name, const char *body, mode_t mode)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	size_t n = strlen(body);
	assert_int_equal(write(fd, body, n), (ssize_t)n);
	close(fd);
	assert_int_equal(chmod(p, mode), 0);
}

static void put_dir(const char *dir, const char *name)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	assert_int_equal(mkdir(p, 0755), 0);
}

static void put_link(const char *dir, const char *name, const char *target)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	assert_int_equal(symlink(target, p), 0);
}

static int tree_setup(void **state)
{
	struct tree *t = calloc(1, sizeof(*t));
	assert_non_null(t);
	snprintf(t->base, sizeof(t->base), "/tmp/lisod_static_XXXXXX");
	assert_non_null(mkdtemp(t->base));
	char outside[128];
	snprintf(t->root, sizeof(t->root), "%s/root", t->base);
	snprintf(outside, sizeof(outside), "%s/outside", t->base);
	assert_int_equal(mkdir(t->root, 0755), 0);
	assert_int_equal(mkdir(outside, 0755), 0);
	put_file(outside, "secret.txt", "OUTSIDE", 0644);

	const char *r = t->root;
	put_file(r, "index.html", "root index", 0644);
	put_file(r, "hello.txt", "hello", 0644);
	put_file(r, "empty.txt", "", 0644);
	put_file(r, "noperm.txt", "nope", 0000);
	put_file(r, "back\\slash.txt", "backslash", 0644);
	put_file(r, "%2e%2e", "literal percent name", 0644);
	put_file(r, "a b.css", "space", 0644);
	put_file(r, "UPPER.PNG", "png", 0644);
	put_file(r, "data.deb", "deb", 0644);
	put_dir(r, "sub");
	put_file(r, "sub/index.html", "sub index", 0644);
	put_file(r, "sub/page.js", "js", 0644);
	put_dir(r, "noindex");
	put_file(r, "noindex/other.txt", "other", 0644);
	put_dir(r, "dirindex");
	put_dir(r, "dirindex/index.html");
	put_dir(r, "sp ace");
	put_file(r, "sp ace/index.html", "space dir", 0644);
	put_link(r, "link_in", "hello.txt");
	put_link(r, "link_dir_in", "sub");
	put_link(r, "sub/link_up", "../hello.txt");
	put_link(r, "link_abs_out", "/etc/passwd");
	char abs_secret[256];
	snprintf(abs_secret, sizeof(abs_secret), "%s/secret.txt", outside);
	put_link(r, "link_abs_out2", abs_secret);
	put_link(r, "link_rel_out", "../outside/secret.txt");
	put_link(r, "link_rel_out2", "sub/../../outside/secret.txt");
	put_link(r, "link_dir_out", "../outside");
	put_link(r, "link_root_out", "/");
	put_link(r, "link_proc", "/proc/self/root/etc/passwd");
	put_link(r, "link_dangling", "nothing_here");
	char p[256];
	snprintf(p, sizeof(p), "%s/fifo", r);
	assert_int_equal(mkfifo(p, 0644), 0);
	snprintf(p, sizeof(p), "%s/sub/fifo", r);
	assert_int_equal(mkfifo(p, 0644), 0);

	t->sr = static_root_new(t->root);
	assert_non_null(t->sr);
	*state = t;
	return 0;
}

static int rm_tree(const char *path)
{
	struct stat st;
	if (lstat(path, &st) != 0)
		return -1;
	if (S_ISDIR(st.st_mode)) {
		DIR *d = opendir(path);
		if (!d)
			return -1;
		struct dirent *e;
		while ((e = readdir(d)) != NULL) {
			if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
				continue;
			char p[1024];
			snprintf(p, sizeof(p), "%s/%s", path, e->d_name);
			rm_tree(p);
		}
		closedir(d);
		return rmdir(path);
	}
	return unlink(path);
}

static int tree_teardown(void **state)
{
	struct tree *t = *state;
	static_root_free(t->sr);
	rm_tree(t->base);
	free(t);
	return 0;
}

enum {
	SAME = -1,         /* status_walk: same as status */
	NEEDS_NONROOT = 1, /* permission bits are not enforced for root */
};

struct open_case {
	int line;
	const char *name;
	const char *path;
	int status;         /* with openat2 */
	int status_walk;    /* with the O_NOFOLLOW walk, or SAME */
	const char *expect; /* body (status 0) or Location (301) */
	const char *mime;   /* status 0, or NULL */
	int flags;
};

/* static_open(path) in a child that runs as nobody (uid/gid 65534), for the
 * rows about permission bits when the tests run as root. The child first
 * opens `readable` (which must work, or the tree itself is out of reach and
 * the row proves nothing: -2), then path; it exits with the status. */
static int open_as_nobody(const struct static_root *sr, const char *path, const char *readable)
{
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
		    setresuid(65534, 65534, 65534) < 0)
			_exit(255);
		struct static_file f;
		char loc[STATIC_PATH_MAX + 16];
		if (static_open(sr, readable, strlen(readable), &f, loc, sizeof(loc)) != 0)
			_exit(254);
		static_file_close(&f);
		int st = static_open(sr, path, strlen(path), &f, loc, sizeof(loc));
		_exit(st == 0 ? 0 : st - 300); /* 403 -> 103: an exit status fits */
	}
	int wst;
	while (waitpid(pid, &wst, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (!WIFEXITED(wst))
		return -1;
	int code = WEXITSTATUS(wst);
	if (code == 254)
		return -2;
	return code == 0 ? 0 : code == 255 ? -1 : code + 300;
}

static const struct open_case OPEN_CASES[] = {
	{ __LINE__, "regular file", "/hello.txt", 0, SAME, "hello", "text/plain", 0 },
	{ __LINE__, "empty file", "/empty.txt", 0, SAME, "", "text/plain", 0 },
	{ __LINE__, "root index", "/", 0, SAME, "root index", "text/html", 0 },
	{ __LINE__, "root index explicit", "/index.html", 0, SAME, "root index", "text/html", 0 },
	{ __LINE__, "subdir index", "/sub/", 0, SAME, "sub index", "text/html", 0 },
	{ __LINE__, "subdir file", "/sub/page.js", 0, SAME, "js", "text/javascript", 0 },
	{ __LINE__, "subdir redirect", "/sub", 301, SAME, "/sub/", NULL, 0 },
	{ __LINE__, "subdir via dot-dot", "/noindex/../sub/", 0, SAME, "sub index", "text/html", 0 },
	{ __LINE__, "dir without index", "/noindex/", 404, SAME, NULL, NULL, 0 },
	{ __LINE__, "dir without index, no slash", "/noindex", 301, SAME, "/noindex/", NULL, 0 },
	{ __LINE__, "index.html is a dir", "/dirindex/", 404, SAME, NULL, NULL, 0 },
	{ __LINE__, "redirect re-encoded", "/sp%20ace", 301, SAME, "/sp%20ace/", NULL, 0 },
	{ __LINE__, "space dir index", "/sp%20ace/", 0, SAME, "space dir", "text/html", 0 },
	{ __LINE__, "missing", "/nope.txt", 404, SAME, NULL, NULL, 0 },
	{ __LINE__, "missing dir", "/nope/x.txt", 404, SAME, NULL, NULL, 0 },
	{ __LINE__, "file as dir", "/hello.txt/x", 404, SAME, NULL, NULL, 0 },
	{ __LINE__, "file with slash", "/hello.txt/", 404, SAME, NULL, NULL, 0 },
	{ __LINE__, "no read permission", "/noperm.txt", 403, SAME, NULL, NULL, NEEDS_NONROOT },
	{ __LINE__, "percent-decoded name", "/a%20b.css", 0, SAME, "space", "text/css", 0 },
	{ __LINE__, "double-encoded stays literal", "/%252e%252e", 0, SAME,
	  "literal percent name", "application/octet-stream", 0 },
	{ __LINE__, "backslash is a byte", "/back\\slash.txt", 0, SAME, "backslash", "text/plain", 0 },
	{ __LINE__, "extension case-insensitive", "/UPPER.PNG", 0, SAME, "png", "image/png", 0 },
	{ __LINE__, "mime.types fallback", "/data.deb", 0, SAME, "deb", NULL, 0 },
	{ __LINE__, "symlink inside root", "/link_in", 0, 403, "hello", "application/octet-stream", 0 },
	{ __LINE__, "symlink dir inside root", "/link_dir_in/page.js", 0, 403, "js", "text/javascript", 0 },
	{ __LINE__, "symlink dir index", "/link_dir_in/", 0, 403, "sub index", "text/html", 0 },
	{ __LINE__, "symlink up inside root", "/sub/link_up", 0, 403, "hello", "application/octet-stream", 0 },
	{ __LINE__, "symlink absolute out", "/link_abs_out", 403, SAME, NULL, NULL, 0 },
	{ __LINE__, "symlink absolute out 2", "/link_abs_out2", 403, SAME, NULL, NULL, 0 },
	{ __LINE__, "symlink relative out", "/link_rel_out", 403, SAME, NULL, NULL, 0 },
	{ __LINE__, "symlink relative out via sub", "/link_rel_out2", 403, SAME, NULL, NULL, 0 },
	{ __LINE__, "symlink dir out", "/link_dir_out/secret.txt", 403, SAME, NULL, NULL, 0 },
	{ __LINE__, "symlink dir out, index", "/link_dir_out/", 403, SAME, NULL, NULL, 0 },
	{ __LINE__, "symlink to /", "/link_root_out/etc/passwd", 403, SAME, NULL, NULL, 0 },
	{ __LINE__, "symlink through /proc", "/link_proc", 403, SAME, NULL, NULL, 0 },
	{ __LINE__, "dangling symlink", "/link_dangling", 404, 403, NULL, NULL, 0 },
	{ __LINE__, "fifo", "/fifo", 404, SAME, NULL, NULL, 0 },
	{ __LINE__, "fifo in subdir", "/sub/fifo", 404, SAME, NULL, NULL, 0 },
	{ __LINE__, "fifo as dir", "/fifo/", 404, SAME, NULL, NULL, 0 },
	{ __LINE__, "dot-dot escape", "/../etc/passwd", 400, SAME, NULL, NULL, 0 },
	{ __LINE__, "dot-dot to sibling", "/../outside/secret.txt", 400, SAME, NULL, NULL, 0 },
	{ __LINE__, "encoded dot-dot escape", "/%2e%2e/%2e%2e/etc/passwd", 400, SAME, NULL, NULL, 0 },
	{ __LINE__, "encoded slash escape", "/..%2f..%2fetc/passwd", 400, SAME, NULL, NULL, 0 },
	{ __LINE__, "encoded slash to sibling", "/..%2foutside%2fsecret.txt", 400, SAME, NULL, NULL, 0 },
	{ __LINE__, "backslash escape", "/a\\..\\..\\etc\\passwd", 404, SAME, NULL, NULL, 0 },
	{ __LINE__, "backslash escape 2", "/..\\outside\\secret.txt", 404, SAME, NULL, NULL, 0 },
	{ __LINE__, "encoded backslash escape", "/..%5c..%5cetc%5cpasswd", 404, SAME, NULL, NULL, 0 },
	{ __LINE__, "NUL truncation", "/hello.txt%00.png", 400, SAME, NULL, NULL, 0 },
	{ __LINE__, "bad escape", "/hello%zz", 400, SAME, NULL, NULL, 0 },
	{ __LINE__, "relative target", "hello.txt", 400, SAME, NULL, NULL, 0 },
	{ __LINE__, "dot-dot inside root", "/sub/../hello.txt", 0, SAME, "hello", "text/plain", 0 },
};

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;
	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static int run_open_table(struct static_root *sr, bool walk)
{
	int failures = 0;
	bool root = geteuid() == 0;
	for (size_t i = 0; i < sizeof(OPEN_CASES) / sizeof(OPEN_CASES[0]); i++) {
		const struct open_case *c = &OPEN_CASES[i];
		if ((c->flags & NEEDS_NONROOT) && root) {
			/* Root ignores permission bits: the row runs as nobody. */
			int got = open_as_nobody(sr, c->path, "/hello.txt");
			if (got != c->status)
				FAIL_ROW(c->line, c->name, "as nobody: status %d, want %d "
					 "(-2: a readable file failed too)", got, c->status);
			continue;
		}
		int want = walk && c->status_walk != SAME ? c->status_walk : c->status;
		struct static_file f;
		char loc[STATIC_PATH_MAX + 16];
		memset(&f, 0x5a, sizeof(f));
		int st = static_open(sr, c->path, strlen(c->path), &f, loc, sizeof(loc));
		const char *mode = walk ? "walk" : "openat2";
		if (st != want) {
			FAIL_ROW(c->line, c->name, "[%s] status %d, want %d", mode, st, want);
			if (st == 0) {
				char buf[64] = "";
				ssize_t n = pread(f.fd, buf, sizeof(buf) - 1, 0);
				if (n > 0 && strstr(buf, "OUTSIDE"))
					FAIL_ROW(c->line, c->name, "[%s] opened a file OUTSIDE the root", mode);
				static_file_close(&f);
			}
			continue;
		}
		if (st != 0 && f.fd != -1)
			FAIL_ROW(c->line, c->name, "[%s] fd %d on failure", mode, f.fd);
		if (st == 301 && strcmp(loc, c->expect) != 0)
			FAIL_ROW(c->line, c->name, "[%s] Location \"%s\", want \"%s\"", mode, loc,
				 c->expect);
		if (st != 0)
			continue;
		char buf[256];
		ssize_t n = pread(f.fd, buf, sizeof(buf) - 1, 0);
		buf[n > 0 ? n : 0] = '\0';
		if (strcmp(buf, c->expect) != 0)
			FAIL_ROW(c->line, c->name, "[%s] body \"%s\", want \"%s\"", mode, buf, c->expect);
		if (f.size != (off_t)strlen(c->expect))
			FAIL_ROW(c->line, c->name, "[%s] size %lld", mode, (long long)f.size);
		if (c->mime && strcmp(f.mime, c->mime) != 0)
			FAIL_ROW(c->line, c->name, "[%s] mime %s, want %s", mode, f.mime, c->mime);
		struct stat sb;
		if (fstat(f.fd, &sb) != 0 || sb.st_mtim.tv_sec != f.mtime)
			FAIL_ROW(c->line, c->name, "[%s] mtime mismatch", mode);
		size_t el = strlen(f.etag);
		if (el < 7 || f.etag[0] != '"' || f.etag[el - 1] != '"' ||
		    strchr(f.etag + 1, '"') != f.etag + el - 1)
			FAIL_ROW(c->line, c->name, "[%s] etag %s", mode, f.etag);
		static_file_close(&f);
		if (f.fd != -1)
			FAIL_ROW(c->line, c->name, "[%s] close left fd", mode);
	}
	return failures;
}

/* Does openat2 work here? Not under valgrind < 3.21 or an old kernel;
 * static_root_new then falls back to the walk, and so must our expectations. */
static bool have_openat2(const char *dir)
{
	struct open_how how;
	memset(&how, 0, sizeof(how));
	how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
	how.resolve = RESOLVE_BENEATH;
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(dfd >= 0);
	long fd = syscall(SYS_openat2, dfd, ".", &how, sizeof(how));
	int e = errno;
	close(dfd);
	errno = e;
	if (fd < 0)
		return false;
	close((int)fd);
	return true;
}

static void test_open_openat2(void **state)
{
	struct tree *t = *state;
	bool walk = !have_openat2(t->root);
	if (walk)
		print_message("openat2 unavailable (%s): static_root_new chose the walk, "
			      "expecting its results\n", strerror(errno));
	alarm(10); /* a FIFO opened without O_NONBLOCK would block forever */
	int before = count_fds();
	assert_int_equal(run_open_table(t->sr, walk), 0);
	assert_int_equal(count_fds(), before);
	alarm(0);
}

static void test_open_walk(void **state)
{
	struct tree *t = *state;
	struct static_root *sr = static_root_new(t->root);
	assert_non_null(sr);
	static_root_force_walk(sr);
	alarm(10);
	int before = count_fds();
	assert_int_equal(run_open_table(sr, true), 0);
	assert_int_equal(count_fds(), before);
	alarm(0);
	static_root_free(sr);
}

static void test_open_misc(void **state)
{
	struct tree *t = *state;
	struct static_file f;
	char loc[8];
	/* Location that does not fit → 414, never truncated. */
	assert_int_equal(static_open(t->sr, "/noindex", 8, &f, loc, 8), 414);
	assert_int_equal(static_open(t->sr, "/noindex", 8, &f, loc, 9), 414);
	char loc2[16];
	assert_int_equal(static_open(t->sr, "/noindex", 8, &f, loc2, 11), 301);
	assert_string_equal(loc2, "/noindex/");
	/* Redirect Location never carries raw CR/LF. */
	char p[256];
	snprintf(p, sizeof(p), "%s/x\r\ny", t->root);
	assert_int_equal(mkdir(p, 0755), 0);
	char loc3[64];
	assert_int_equal(static_open(t->sr, "/x%0d%0ay", 9, &f, loc3, sizeof(loc3)), 301);
	assert_string_equal(loc3, "/x%0D%0Ay/");
	rmdir(p);
	/* The ETag changes when the content changes. */
	assert_int_equal(static_open(t->sr, "/hello.txt", 10, &f, loc3, sizeof(loc3)), 0);
	char etag1[STATIC_ETAG_MAX];
	memcpy(etag1, f.etag, sizeof(etag1));
	static_file_close(&f);
	put_file(t->root, "hello.txt", "hello, longer", 0644);
	assert_int_equal(static_open(t->sr, "/hello.txt", 10, &f, loc3, sizeof(loc3)), 0);
	assert_string_not_equal(etag1, f.etag);
	static_file_close(&f);
	put_file(t->root, "hello.txt", "hello", 0644);
	/* A path whose index.html would not fit. */
	enum { N = STATIC_PATH_MAX - 4 };
	char *raw = malloc(N + 1);
	assert_non_null(raw);
	raw[0] = '/';
	memset(raw + 1, 'a', N - 2);
	raw[N - 1] = '/';
	raw[N] = '\0';
	assert_int_equal(static_open(t->sr, raw, N, &f, loc3, sizeof(loc3)), 414);
	assert_int_equal(f.fd, -1);
	/* A name over NAME_MAX: ENAMETOOLONG → 404 (no such file can exist; the
	 * request-line limit is what answers 414). */
	memset(raw + 1, 'a', 300);
	raw[301] = '\0';
	assert_int_equal(static_open(t->sr, raw, 301, &f, loc3, sizeof(loc3)), 404);
	free(raw);
	/* static_file_close twice is harmless. */
	static_file_close(&f);
	static_file_close(&f);
}

static void test_root_new(void **state)
{
	struct tree *t = *state;
	errno = 0;
	assert_null(static_root_new("/nonexistent/lisod/root"));
	assert_int_equal(errno, ENOENT);
	char p[256];
	snprintf(p, sizeof(p), "%s/hello.txt", t->root);
	errno = 0;
	assert_null(static_root_new(p));
	assert_int_equal(errno, ENOTDIR);
	static_root_free(NULL);
}

/* ---- MIME ---------------------------------------------------------------- */

struct mime_case {
	int line;
	const char *name;
	const char *builtin;  /* static_mime_type */
	const char *file;     /* static_root_mime_type with /etc/mime.types, or NULL: same */
};

static const struct mime_case MIME_CASES[] = {
	{ __LINE__, "a.html", "text/html", NULL },
	{ __LINE__, "a.htm", "text/html", NULL },
	{ __LINE__, "INDEX.HTML", "text/html", NULL },
	{ __LINE__, "a.css", "text/css", NULL },
	{ __LINE__, "a.js", "text/javascript", NULL },
	{ __LINE__, "a.mjs", "text/javascript", NULL },
	{ __LINE__, "a.png", "image/png", NULL },
	{ __LINE__, "a.jpg", "image/jpeg", NULL },
	{ __LINE__, "a.JPEG", "image/jpeg", NULL },
	{ __LINE__, "a.gif", "image/gif", NULL },
	{ __LINE__, "a.svg", "image/svg+xml", NULL },
	{ __LINE__, "a.json", "application/json", NULL },
	{ __LINE__, "a.txt", "text/plain", NULL },
	{ __LINE__, "a.pdf", "application/pdf", NULL },
	{ __LINE__, "favicon.ico", "image/x-icon", NULL },
	{ __LINE__, "a.wasm", "application/wasm", NULL },
	{ __LINE__, "a.xml", "application/xml", NULL },
	{ __LINE__, "a.mp4", "video/mp4", NULL },
	{ __LINE__, "a.webp", "image/webp", NULL },
	{ __LINE__, "a.woff2", "font/woff2", NULL },
	{ __LINE__, "a.wav", "audio/wav", NULL },
	{ __LINE__, "a.tar.gz", "application/gzip", NULL },
	{ __LINE__, "/dir/sub/page.html", "text/html", NULL },
	{ __LINE__, "/dir.html/file", "application/octet-stream", NULL },
	{ __LINE__, "noext", "application/octet-stream", NULL },
	{ __LINE__, ".bashrc", "application/octet-stream", NULL },
	{ __LINE__, "/d/.html", "application/octet-stream", NULL },
	{ __LINE__, "trailing.", "application/octet-stream", NULL },
	{ __LINE__, "", "application/octet-stream", NULL },
	{ __LINE__, "a.htmlx", "application/octet-stream", NULL },
	{ __LINE__, "a.verylongextension", "application/octet-stream", NULL },
	{ __LINE__, "a.deb", "application/octet-stream", "application/vnd.debian.binary-package" },
	{ __LINE__, "a.TAR", "application/octet-stream", "application/x-tar" },
	{ __LINE__, "a.md", "text/markdown", NULL },
};

static void test_mime_table(void **state)
{
	struct tree *t = *state;
	int failures = 0;
	bool have_file = access("/etc/mime.types", R_OK) == 0;
	if (!have_file)
		print_message("no /etc/mime.types: its rows check the built-in answer\n");
	for (size_t i = 0; i < sizeof(MIME_CASES) / sizeof(MIME_CASES[0]); i++) {
		const struct mime_case *c = &MIME_CASES[i];
		const char *got = static_mime_type(c->name, strlen(c->name));
		if (strcmp(got, c->builtin) != 0)
			FAIL_ROW(c->line, c->name, "builtin %s, want %s", got, c->builtin);
		const char *want = c->file && have_file ? c->file : c->builtin;
		got = static_root_mime_type(t->sr, c->name, strlen(c->name));
		if (strcmp(got, want) != 0)
			FAIL_ROW(c->line, c->name, "root %s, want %s", got, want);
	}
	/* The length bounds the name. */
	assert_string_equal(static_mime_type("a.html.png", 6), "text/html");
	assert_string_equal(static_root_mime_type(NULL, "a.css", 5), "text/css");
	assert_int_equal(failures, 0);
}

/* ---- static_evaluate ----------------------------------------------------- */

#define ETAG "\"1a2b-3e8-17d0\""
#define MTIME_STR "Sun, 06 Nov 1994 08:49:37 GMT"

struct eval_case {
	int line;
	const char *name;
	off_t size;
	const char *inm, *ims, *range, *if_range; /* NULL: absent */
	int status;
	off_t start, len;
};

static const struct eval_case EVAL_CASES[] = {
	{ __LINE__, "nothing", 1000, NULL, NULL, NULL, NULL, 200, 0, 1000 },
	/* If-None-Match */
	{ __LINE__, "INM match", 1000, ETAG, NULL, NULL, NULL, 304, 0, 0 },
	{ __LINE__, "INM mismatch", 1000, "\"other\"", NULL, NULL, NULL, 200, 0, 1000 },
	{ __LINE__, "INM list match", 1000, "\"x\", " ETAG ", \"y\"", NULL, NULL, NULL, 304, 0, 0 },
	{ __LINE__, "INM list tight", 1000, "\"x\"," ETAG, NULL, NULL, NULL, 304, 0, 0 },
	{ __LINE__, "INM list no match", 1000, "\"x\", \"y\"", NULL, NULL, NULL, 200, 0, 1000 },
	{ __LINE__, "INM star", 1000, "*", NULL, NULL, NULL, 304, 0, 0 },
	{ __LINE__, "INM weak match", 1000, "W/" ETAG, NULL, NULL, NULL, 304, 0, 0 },
	{ __LINE__, "INM weak in list", 1000, "\"a\", W/" ETAG, NULL, NULL, NULL, 304, 0, 0 },
	{ __LINE__, "INM unquoted", 1000, "1a2b-3e8-17d0", NULL, NULL, NULL, 200, 0, 1000 },
	{ __LINE__, "INM prefix only", 1000, "\"1a2b-3e8-17d\"", NULL, NULL, NULL, 200, 0, 1000 },
	{ __LINE__, "INM longer", 1000, "\"1a2b-3e8-17d00\"", NULL, NULL, NULL, 200, 0, 1000 },
	{ __LINE__, "INM comma inside tag", 1000, "\"a,b\", " ETAG, NULL, NULL, NULL, 304, 0, 0 },
	{ __LINE__, "INM unterminated", 1000, "\"1a2b-3e8-17d0", NULL, NULL, NULL, 200, 0, 1000 },
	{ __LINE__, "INM junk after tag", 1000, "\"x\"junk, " ETAG, NULL, NULL, NULL, 200, 0, 1000 },
	{ __LINE__, "INM beats IMS", 1000, "\"other\"", MTIME_STR, NULL, NULL, 200, 0, 1000 },
	{ __LINE__, "INM mismatch keeps range", 1000, "\"other\"", NULL, "bytes=0-9", NULL, 206, 0, 10 },
	{ __LINE__, "INM match beats range", 1000, ETAG, NULL, "bytes=0-9", NULL, 304, 0, 0 },
	/* If-Modified-Since */
	{ __LINE__, "IMS equal", 1000, NULL, MTIME_STR, NULL, NULL, 304, 0, 0 },
	{ __LINE__, "IMS newer", 1000, NULL, "Mon, 07 Nov 1994 08:49:37 GMT", NULL, NULL, 304, 0, 0 },
	{ __LINE__, "IMS older", 1000, NULL, "Sun, 06 Nov 1994 08:49:36 GMT", NULL, NULL, 200, 0, 1000 },
	{ __LINE__, "IMS RFC 850", 1000, NULL, "Sunday, 06-Nov-94 08:49:37 GMT", NULL, NULL, 304, 0, 0 },
	{ __LINE__, "IMS asctime", 1000, NULL, "Sun Nov  6 08:49:37 1994", NULL, NULL, 304, 0, 0 },
	{ __LINE__, "IMS garbage", 1000, NULL, "not a date", NULL, NULL, 200, 0, 1000 },
	{ __LINE__, "IMS older with range", 1000, NULL, "Thu, 01 Jan 1970 00:00:00 GMT",
	  "bytes=0-0", NULL, 206, 0, 1 },
	/* Range */
	{ __LINE__, "range first 500", 1000, NULL, NULL, "bytes=0-499", NULL, 206, 0, 500 },
	{ __LINE__, "range middle", 1000, NULL, NULL, "bytes=500-599", NULL, 206, 500, 100 },
	{ __LINE__, "range open end", 1000, NULL, NULL, "bytes=500-", NULL, 206, 500, 500 },
	{ __LINE__, "range suffix", 1000, NULL, NULL, "bytes=-500", NULL, 206, 500, 500 },
	{ __LINE__, "range suffix 1", 1000, NULL, NULL, "bytes=-1", NULL, 206, 999, 1 },
	{ __LINE__, "range suffix too big", 1000, NULL, NULL, "bytes=-5000", NULL, 206, 0, 1000 },
	{ __LINE__, "range end clamps", 1000, NULL, NULL, "bytes=900-5000", NULL, 206, 900, 100 },
	{ __LINE__, "range end huge", 1000, NULL, NULL, "bytes=0-99999999999999999999999", NULL,
	  206, 0, 1000 },
	{ __LINE__, "range last byte", 1000, NULL, NULL, "bytes=999-999", NULL, 206, 999, 1 },
	{ __LINE__, "range whole", 1000, NULL, NULL, "bytes=0-", NULL, 206, 0, 1000 },
	{ __LINE__, "range unit case", 1000, NULL, NULL, "Bytes=0-1", NULL, 206, 0, 2 },
	{ __LINE__, "range OWS", 1000, NULL, NULL, "bytes= 0-1 ", NULL, 206, 0, 2 },
	{ __LINE__, "range start = size", 1000, NULL, NULL, "bytes=1000-", NULL, 416, 0, 0 },
	{ __LINE__, "range start > size", 1000, NULL, NULL, "bytes=2000-3000", NULL, 416, 0, 0 },
	{ __LINE__, "range start huge", 1000, NULL, NULL, "bytes=99999999999999999999999-", NULL,
	  416, 0, 0 },
	{ __LINE__, "range suffix zero", 1000, NULL, NULL, "bytes=-0", NULL, 416, 0, 0 },
	{ __LINE__, "range empty file", 0, NULL, NULL, "bytes=0-", NULL, 416, 0, 0 },
	{ __LINE__, "range empty file suffix", 0, NULL, NULL, "bytes=-5", NULL, 416, 0, 0 },
	{ __LINE__, "empty file no range", 0, NULL, NULL, NULL, NULL, 200, 0, 0 },
	/* Several ranges: coalesced into one, lowest first byte to highest last */
	{ __LINE__, "ranges two", 1000, NULL, NULL, "bytes=0-1,5-6", NULL, 206, 0, 7 },
	{ __LINE__, "ranges two spaced", 1000, NULL, NULL, "bytes=0-1, 5-6", NULL, 206, 0, 7 },
	{ __LINE__, "ranges descending", 1000, NULL, NULL, "bytes=500-599,10-19", NULL, 206, 10, 590 },
	{ __LINE__, "ranges overlapping", 1000, NULL, NULL, "bytes=0-10,5-20,3-4", NULL, 206, 0, 21 },
	{ __LINE__, "ranges nested", 1000, NULL, NULL, "bytes=100-900,200-300", NULL, 206, 100, 801 },
	{ __LINE__, "ranges open end", 1000, NULL, NULL, "bytes=10-19,990-", NULL, 206, 10, 990 },
	{ __LINE__, "ranges end clamps", 1000, NULL, NULL, "bytes=10-19,900-5000", NULL, 206, 10, 990 },
	{ __LINE__, "ranges suffix mixed", 1000, NULL, NULL, "bytes=-5,0-1", NULL, 206, 0, 1000 },
	{ __LINE__, "ranges suffix second", 1000, NULL, NULL, "bytes=990-991,-5", NULL, 206, 990, 10 },
	{ __LINE__, "ranges two suffixes", 1000, NULL, NULL, "bytes=-5,-10", NULL, 206, 990, 10 },
	{ __LINE__, "ranges one unsatisfiable", 1000, NULL, NULL, "bytes=2000-3000,5-9", NULL,
	  206, 5, 5 },
	{ __LINE__, "ranges suffix zero dropped", 1000, NULL, NULL, "bytes=-0,5-9", NULL, 206, 5, 5 },
	{ __LINE__, "ranges all unsatisfiable", 1000, NULL, NULL, "bytes=1000-,2000-2001,-0", NULL,
	  416, 0, 0 },
	{ __LINE__, "ranges on empty file", 0, NULL, NULL, "bytes=0-1,-5", NULL, 416, 0, 0 },
	{ __LINE__, "ranges empty elements", 1000, NULL, NULL, "bytes=,0-1,, 5-6 ,", NULL, 206, 0, 7 },
	{ __LINE__, "ranges only commas", 1000, NULL, NULL, "bytes=, ,", NULL, 200, 0, 1000 },
	{ __LINE__, "ranges 16", 1000, NULL, NULL,
	  "bytes=0-0,2-2,4-4,6-6,8-8,10-10,12-12,14-14,16-16,18-18,20-20,22-22,24-24,"
	  "26-26,28-28,30-30", NULL, 206, 0, 31 },
	{ __LINE__, "ranges 17 ignored", 1000, NULL, NULL,
	  "bytes=0-0,2-2,4-4,6-6,8-8,10-10,12-12,14-14,16-16,18-18,20-20,22-22,24-24,"
	  "26-26,28-28,30-30,32-32", NULL, 200, 0, 1000 },
	{ __LINE__, "ranges 17 unsatisfiable ignored", 1000, NULL, NULL,
	  "bytes=2000-,2000-,2000-,2000-,2000-,2000-,2000-,2000-,2000-,2000-,2000-,2000-,"
	  "2000-,2000-,2000-,2000-,2000-", NULL, 200, 0, 1000 },
	{ __LINE__, "ranges junk element", 1000, NULL, NULL, "bytes=0-1,junk", NULL, 200, 0, 1000 },
	{ __LINE__, "ranges reversed element", 1000, NULL, NULL, "bytes=0-1,9-5", NULL, 200, 0, 1000 },
	{ __LINE__, "ranges dash element", 1000, NULL, NULL, "bytes=0-1,-", NULL, 200, 0, 1000 },
	{ __LINE__, "ranges junk after spec", 1000, NULL, NULL, "bytes=0-1x,5-6", NULL, 200, 0, 1000 },
	{ __LINE__, "ranges no comma", 1000, NULL, NULL, "bytes=0-1 5-6", NULL, 200, 0, 1000 },
	{ __LINE__, "ranges semicolon", 1000, NULL, NULL, "bytes=0-1;5-6", NULL, 200, 0, 1000 },
	{ __LINE__, "ranges If-Range mismatch", 1000, NULL, NULL, "bytes=0-1,5-6", "\"old\"",
	  200, 0, 1000 },
	{ __LINE__, "ranges If-Range match", 1000, NULL, NULL, "bytes=0-1,5-6", ETAG, 206, 0, 7 },
	{ __LINE__, "range reversed", 1000, NULL, NULL, "bytes=5-1", NULL, 200, 0, 1000 },
	{ __LINE__, "range dash only", 1000, NULL, NULL, "bytes=-", NULL, 200, 0, 1000 },
	{ __LINE__, "range no dash", 1000, NULL, NULL, "bytes=5", NULL, 200, 0, 1000 },
	{ __LINE__, "range other unit", 1000, NULL, NULL, "items=0-1", NULL, 200, 0, 1000 },
	{ __LINE__, "range no equals", 1000, NULL, NULL, "bytes 0-1", NULL, 200, 0, 1000 },
	{ __LINE__, "range unit prefix", 1000, NULL, NULL, "bytesx=0-1", NULL, 200, 0, 1000 },
	{ __LINE__, "range negative", 1000, NULL, NULL, "bytes=-1-5", NULL, 200, 0, 1000 },
	{ __LINE__, "range junk", 1000, NULL, NULL, "bytes=0-1x", NULL, 200, 0, 1000 },
	{ __LINE__, "range plus sign", 1000, NULL, NULL, "bytes=+1-5", NULL, 200, 0, 1000 },
	{ __LINE__, "range hex", 1000, NULL, NULL, "bytes=0x1-5", NULL, 200, 0, 1000 },
	{ __LINE__, "range bare unit", 1000, NULL, NULL, "bytes=", NULL, 200, 0, 1000 },
	/* If-Range */
	{ __LINE__, "If-Range etag match", 1000, NULL, NULL, "bytes=0-9", ETAG, 206, 0, 10 },
	{ __LINE__, "If-Range etag mismatch", 1000, NULL, NULL, "bytes=0-9", "\"old\"", 200, 0, 1000 },
	{ __LINE__, "If-Range weak etag", 1000, NULL, NULL, "bytes=0-9", "W/" ETAG, 200, 0, 1000 },
	{ __LINE__, "If-Range date match", 1000, NULL, NULL, "bytes=0-9", MTIME_STR, 206, 0, 10 },
	{ __LINE__, "If-Range date newer", 1000, NULL, NULL, "bytes=0-9",
	  "Mon, 07 Nov 1994 08:49:37 GMT", 200, 0, 1000 },
	{ __LINE__, "If-Range date older", 1000, NULL, NULL, "bytes=0-9",
	  "Sat, 05 Nov 1994 08:49:37 GMT", 200, 0, 1000 },
	{ __LINE__, "If-Range garbage", 1000, NULL, NULL, "bytes=0-9", "garbage", 200, 0, 1000 },
	{ __LINE__, "If-Range mismatch beats 416", 1000, NULL, NULL, "bytes=5000-", "\"old\"",
	  200, 0, 1000 },
	{ __LINE__, "If-Range without Range", 1000, NULL, NULL, NULL, ETAG, 200, 0, 1000 },
};

static struct http_slice slice(const char *s)
{
	struct http_slice sl = { s, s ? (uint32_t)strlen(s) : 0 };
	return sl;
}

/* Run one static_evaluate row; a mismatch is reported with the row's line. */
static int eval_row(int line, const char *name, off_t size, const struct http_request *req,
		    int status, off_t want_start, off_t want_len)
{
	int failures = 0;
	struct static_file f = { .fd = -1, .size = size, .mtime = 784111777,
				 .mime = "text/plain", .etag = ETAG };
	off_t start = -7, len = -7;
	int st = static_evaluate(&f, req, &start, &len);
	if (st != status || start != want_start || len != want_len)
		FAIL_ROW(line, name, "got %d [%lld +%lld], want %d [%lld +%lld]", st,
			 (long long)start, (long long)len, status, (long long)want_start,
			 (long long)want_len);
	return failures;
}

static void test_evaluate_table(void **state)
{
	(void)state;
	int failures = 0;
	for (size_t i = 0; i < sizeof(EVAL_CASES) / sizeof(EVAL_CASES[0]); i++) {
		const struct eval_case *c = &EVAL_CASES[i];
		struct http_request req;
		memset(&req, 0, sizeof(req));
		req.if_none_match = slice(c->inm);
		req.if_modified_since = slice(c->ims);
		req.range = slice(c->range);
		req.if_range = slice(c->if_range);
		failures += eval_row(c->line, c->name, c->size, &req, c->status, c->start, c->len);
	}
	assert_int_equal(failures, 0);
}

/* If-Match and If-Unmodified-Since (RFC 9110 §13.2.2 steps 1-2), and how
 * they rank against the rest. The file: 1000 bytes, ETAG, mtime MTIME_STR. */
#define BEFORE_STR "Sun, 06 Nov 1994 08:49:36 GMT"
#define AFTER_STR "Mon, 07 Nov 1994 08:49:37 GMT"

struct precond_case {
	int line;
	const char *name;
	const char *im, *ius, *inm, *ims, *range; /* NULL: absent */
	int status;
	off_t start, len;
};

static const struct precond_case PRECOND_CASES[] = {
	/* If-Match */
	{ __LINE__, "IM match", ETAG, NULL, NULL, NULL, NULL, 200, 0, 1000 },
	{ __LINE__, "IM mismatch", "\"other\"", NULL, NULL, NULL, NULL, 412, 0, 0 },
	{ __LINE__, "IM star", "*", NULL, NULL, NULL, NULL, 200, 0, 1000 },
	{ __LINE__, "IM list match", "\"a\", " ETAG ", \"b\"", NULL, NULL, NULL, NULL, 200, 0, 1000 },
	{ __LINE__, "IM list tight", "\"a\"," ETAG, NULL, NULL, NULL, NULL, 200, 0, 1000 },
	{ __LINE__, "IM list mismatch", "\"a\", \"b\"", NULL, NULL, NULL, NULL, 412, 0, 0 },
	{ __LINE__, "IM weak tag never matches", "W/" ETAG, NULL, NULL, NULL, NULL, 412, 0, 0 },
	{ __LINE__, "IM weak then strong", "W/" ETAG ", " ETAG, NULL, NULL, NULL, NULL, 200, 0, 1000 },
	{ __LINE__, "IM unquoted", "1a2b-3e8-17d0", NULL, NULL, NULL, NULL, 412, 0, 0 },
	{ __LINE__, "IM prefix only", "\"1a2b-3e8-17d\"", NULL, NULL, NULL, NULL, 412, 0, 0 },
	{ __LINE__, "IM unterminated", "\"1a2b-3e8-17d0", NULL, NULL, NULL, NULL, 412, 0, 0 },
	{ __LINE__, "IM junk before match", "\"x\"junk, " ETAG, NULL, NULL, NULL, NULL, 412, 0, 0 },
	{ __LINE__, "IM match keeps range", ETAG, NULL, NULL, NULL, "bytes=0-9", 206, 0, 10 },
	{ __LINE__, "IM mismatch beats range", "\"x\"", NULL, NULL, NULL, "bytes=0-9", 412, 0, 0 },
	{ __LINE__, "IM mismatch beats 416", "\"x\"", NULL, NULL, NULL, "bytes=5000-", 412, 0, 0 },
	/* If-Unmodified-Since */
	{ __LINE__, "IUS before mtime", NULL, BEFORE_STR, NULL, NULL, NULL, 412, 0, 0 },
	{ __LINE__, "IUS equal", NULL, MTIME_STR, NULL, NULL, NULL, 200, 0, 1000 },
	{ __LINE__, "IUS after mtime", NULL, AFTER_STR, NULL, NULL, NULL, 200, 0, 1000 },
	{ __LINE__, "IUS epoch", NULL, "Thu, 01 Jan 1970 00:00:00 GMT", NULL, NULL, NULL, 412, 0, 0 },
	{ __LINE__, "IUS RFC 850 before", NULL, "Sunday, 06-Nov-94 08:49:36 GMT", NULL, NULL, NULL,
	  412, 0, 0 },
	{ __LINE__, "IUS invalid ignored", NULL, "not a date", NULL, NULL, NULL, 200, 0, 1000 },
	{ __LINE__, "IUS empty-ish ignored", NULL, " ", NULL, NULL, NULL, 200, 0, 1000 },
	{ __LINE__, "IUS after keeps range", NULL, AFTER_STR, NULL, NULL, "bytes=-1", 206, 999, 1 },
	/* If-Match beats If-Unmodified-Since: the date is not looked at */
	{ __LINE__, "IM match, IUS before", ETAG, BEFORE_STR, NULL, NULL, NULL, 200, 0, 1000 },
	{ __LINE__, "IM star, IUS before", "*", BEFORE_STR, NULL, NULL, NULL, 200, 0, 1000 },
	{ __LINE__, "IM mismatch, IUS after", "\"x\"", AFTER_STR, NULL, NULL, NULL, 412, 0, 0 },
	/* 412 beats 304 */
	{ __LINE__, "IM mismatch beats INM", "\"x\"", NULL, ETAG, NULL, NULL, 412, 0, 0 },
	{ __LINE__, "IM mismatch beats IMS", "\"x\"", NULL, NULL, MTIME_STR, NULL, 412, 0, 0 },
	{ __LINE__, "IUS before beats INM", NULL, BEFORE_STR, "*", NULL, NULL, 412, 0, 0 },
	{ __LINE__, "IUS before beats IMS", NULL, BEFORE_STR, NULL, AFTER_STR, NULL, 412, 0, 0 },
	/* Both hold: If-None-Match / If-Modified-Since decide as before */
	{ __LINE__, "IM match, INM match", ETAG, NULL, ETAG, NULL, NULL, 304, 0, 0 },
	{ __LINE__, "IM star, INM star", "*", NULL, "*", NULL, NULL, 304, 0, 0 },
	{ __LINE__, "IM match, INM mismatch", ETAG, NULL, "\"x\"", NULL, NULL, 200, 0, 1000 },
	{ __LINE__, "IUS equal, IMS equal", NULL, MTIME_STR, NULL, MTIME_STR, NULL, 304, 0, 0 },
	{ __LINE__, "IUS after, IMS before", NULL, AFTER_STR, NULL, BEFORE_STR, "bytes=0-1,4-5",
	  206, 0, 6 },
};

static void test_precondition_table(void **state)
{
	(void)state;
	int failures = 0;
	for (size_t i = 0; i < sizeof(PRECOND_CASES) / sizeof(PRECOND_CASES[0]); i++) {
		const struct precond_case *c = &PRECOND_CASES[i];
		struct http_request req;
		memset(&req, 0, sizeof(req));
		req.if_match = slice(c->im);
		req.if_unmodified_since = slice(c->ius);
		req.if_none_match = slice(c->inm);
		req.if_modified_since = slice(c->ims);
		req.range = slice(c->range);
		failures += eval_row(c->line, c->name, 1000, &req, c->status, c->start, c->len);
	}
	assert_int_equal(failures, 0);
}

/* ---- static_path_hidden -------------------------------------------------- */

static const struct {
	int line;
	const char *path; /* as static_normalize_path leaves it */
	bool hidden;
} HIDDEN_CASES[] = {
	{ __LINE__, "/", false },
	{ __LINE__, "/index.html", false },
	{ __LINE__, "/a.b/c", false },
	{ __LINE__, "/a/b.", false },
	{ __LINE__, "/a/b/", false },
	{ __LINE__, "/.x", true },
	{ __LINE__, "/.", true }, /* cannot come out of normalisation; hidden anyway */
	{ __LINE__, "/..x", true },
	{ __LINE__, "/.git/config", true },
	{ __LINE__, "/.git/", true },
	{ __LINE__, "/a/.env", true },
	{ __LINE__, "/a/b/.htpasswd", true },
	{ __LINE__, "/a/.d/", true },
	{ __LINE__, "/.well-known", false },
	{ __LINE__, "/.well-known/", false },
	{ __LINE__, "/.well-known/acme-challenge/x", false },
	{ __LINE__, "/.well-known/security.txt", false },
	{ __LINE__, "/.well-known/.x", true },
	{ __LINE__, "/.well-known/a/.git/x", true },
	{ __LINE__, "/a/.well-known/x", true }, /* only the top level is public */
	{ __LINE__, "/.well-knownx/y", true },
	{ __LINE__, "/.well-know/y", true },
	{ __LINE__, "/.WELL-KNOWN/y", true },
};

static void test_path_hidden(void **state)
{
	(void)state;
	int failures = 0;
	for (size_t i = 0; i < sizeof(HIDDEN_CASES) / sizeof(HIDDEN_CASES[0]); i++) {
		bool got = static_path_hidden(HIDDEN_CASES[i].path);
		if (got != HIDDEN_CASES[i].hidden)
			FAIL_ROW(HIDDEN_CASES[i].line, HIDDEN_CASES[i].path, "hidden %d, want %d",
				 got, HIDDEN_CASES[i].hidden);
	}
	/* Through the normaliser, which is what the server will feed it. */
	char out[STATIC_PATH_MAX];
	assert_int_equal(static_normalize_path("/a/../%2egit/x", 14, out, sizeof(out)), 0);
	assert_true(static_path_hidden(out));
	assert_int_equal(static_normalize_path("/x/./.well-known/../.well-known/a", 33, out,
					       sizeof(out)), 0);
	assert_string_equal(out, "/x/.well-known/a");
	assert_true(static_path_hidden(out));
	assert_int_equal(failures, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_normalize_table),
		cmocka_unit_test(test_normalize_long),
		cmocka_unit_test(test_evaluate_table),
		cmocka_unit_test(test_precondition_table),
		cmocka_unit_test(test_path_hidden),
		cmocka_unit_test_setup_teardown(test_open_openat2, tree_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(test_open_walk, tree_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(test_open_misc, tree_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(test_root_new, tree_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(test_mime_table, tree_setup, tree_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
