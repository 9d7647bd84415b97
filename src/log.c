#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { LOG_BUF_BYTES = 64 * 1024, LOG_LINE_MAX = 4096 };

struct log_sink {
	char *path;       /* NULL: stderr */
	int fd;
	uint32_t len;
	uint64_t dropped; /* bytes lost to failed writes */
	char buf[LOG_BUF_BYTES];
};

struct log {
	struct log_sink error;
	struct log_sink access_own;
	struct log_sink *access; /* &error or &access_own */
	enum log_level level;
	long pid;
	time_t stamp_sec;        /* cached timestamps, rebuilt once a second */
	char err_stamp[64];
	char clf_stamp[64];
};

static const char *const level_names[] = { "error", "warn", "info", "debug" };
static const char *const month_names[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

static int sink_open(struct log_sink *s)
{
	if (!s->path)
		return STDERR_FILENO;
	return open(s->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

static int sink_init(struct log_sink *s, const char *path)
{
	s->len = 0;
	s->dropped = 0;
	s->path = NULL;
	if (path && strcmp(path, "-") != 0) {
		s->path = strdup(path);
		if (!s->path)
			return -1;
	}
	s->fd = sink_open(s);
	if (s->fd >= 0)
		return 0;
	int saved = errno;
	free(s->path); /* a failed sink owns nothing */
	s->path = NULL;
	errno = saved;
	return -1;
}

static void sink_flush(struct log_sink *s)
{
	uint32_t off = 0;
	while (off < s->len) {
		ssize_t n = write(s->fd, s->buf + off, s->len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			s->dropped += s->len - off;
			break;
		}
		off += (uint32_t)n;
	}
	s->len = 0;
}

static void sink_close(struct log_sink *s)
{
	sink_flush(s);
	if (s->path && s->fd >= 0)
		close(s->fd);
	free(s->path);
	s->path = NULL;
	s->fd = -1;
}

static void sink_put(struct log_sink *s, const char *p, size_t n)
{
	if (s->len + n > sizeof(s->buf))
		sink_flush(s);
	if (n > sizeof(s->buf))
		n = sizeof(s->buf);
	memcpy(s->buf + s->len, p, n);
	s->len += (uint32_t)n;
}

struct log *log_new(const char *error_path, const char *access_path, enum log_level level)
{
	struct log *log = calloc(1, sizeof(*log));
	if (!log)
		return NULL;
	log->error.fd = log->access_own.fd = -1;
	log->level = level;
	log->pid = (long)getpid();
	log->stamp_sec = -1;
	if (sink_init(&log->error, error_path) < 0)
		goto fail;
	log->access = &log->error;
	if (access_path && strcmp(access_path, "off") == 0) {
		log->access = NULL; /* access logging disabled */
	} else if (access_path && !(error_path && strcmp(access_path, error_path) == 0)) {
		if (sink_init(&log->access_own, access_path) < 0)
			goto fail;
		log->access = &log->access_own;
	}
	return log;
fail:;
	int saved = errno;
	log_free(log);
	errno = saved;
	return NULL;
}

void log_free(struct log *log)
{
	if (!log)
		return;
	if (log->access == &log->access_own)
		sink_close(&log->access_own);
	sink_close(&log->error);
	free(log);
}

static int sink_reopen(struct log_sink *s)
{
	if (!s->path)
		return 0;
	sink_flush(s);
	int fd = sink_open(s);
	if (fd < 0)
		return -1;
	/* dup2 keeps the descriptor number, which CGI children may hold. */
	if (dup2(fd, s->fd) < 0) {
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

int log_reopen(struct log *log)
{
	int rc = sink_reopen(&log->error);
	if (log->access == &log->access_own && sink_reopen(&log->access_own) < 0)
		rc = -1;
	return rc;
}

void log_files(const struct log *log, int *error_fd, int *access_fd)
{
	*error_fd = log->error.path ? log->error.fd : -1;
	*access_fd = log->access == &log->access_own && log->access_own.path
			     ? log->access_own.fd : -1;
}

static int sink_adopt(struct log_sink *s, int fd)
{
	if (fd < 0 || !s->path)
		return 0;
	sink_flush(s);
	/* dup2 keeps the descriptor number, as sink_reopen does. */
	return dup2(fd, s->fd) < 0 ? -1 : 0;
}

int log_adopt(struct log *log, int error_fd, int access_fd)
{
	int rc = sink_adopt(&log->error, error_fd);
	if (log->access == &log->access_own && sink_adopt(&log->access_own, access_fd) < 0)
		rc = -1;
	return rc;
}

void log_flush(struct log *log)
{
	sink_flush(&log->error);
	if (log->access == &log->access_own)
		sink_flush(&log->access_own);
}

void log_set_pid(struct log *log, long pid) { log->pid = pid; }

static void log_update_stamps(struct log *log, time_t now)
{
	if (now == log->stamp_sec)
		return;
	struct tm tm;
	if (!gmtime_r(&now, &tm))
		return;
	log->stamp_sec = now;
	snprintf(log->err_stamp, sizeof(log->err_stamp), "%04d-%02d-%02dT%02d:%02d:%02dZ",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	snprintf(log->clf_stamp, sizeof(log->clf_stamp), "%02d/%s/%04d:%02d:%02d:%02d +0000",
		 tm.tm_mday, month_names[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
		 tm.tm_sec);
}

void log_vmsg(struct log *log, enum log_level level, const char *fmt, va_list ap)
{
	if (!log || level > log->level)
		return;
	log_update_stamps(log, time(NULL));
	char line[LOG_LINE_MAX];
	int head = snprintf(line, sizeof(line), "%s [%s] lisod[%ld]: ", log->err_stamp,
			    level_names[level], log->pid);
	if (head < 0)
		return;
	int body = vsnprintf(line + head, sizeof(line) - (size_t)head - 1, fmt, ap);
	if (body < 0)
		return;
	size_t n = (size_t)head + (size_t)body;
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	sink_put(&log->error, line, n);
	if (level <= LOG_LVL_ERR || !log->error.path)
		sink_flush(&log->error);
}

void log_msg(struct log *log, enum log_level level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(log, level, fmt, ap);
	va_end(ap);
}

/* Quote a field for CLF: '"' and '\' escaped, control bytes as \xHH, so a
 * client cannot forge log lines. Returns bytes written (< cap). */
static size_t clf_quote(char *out, size_t cap, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	if (!s || n == 0) {
		if (cap > 1)
			out[o++] = '-';
		return o;
	}
	for (size_t i = 0; i < n && o + 4 < cap; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch == '"' || ch == '\\') {
			out[o++] = '\\';
			out[o++] = (char)ch;
		} else if (ch < 0x20 || ch >= 0x7f) {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[ch >> 4];
			out[o++] = hex[ch & 15];
		} else {
			out[o++] = (char)ch;
		}
	}
	return o;
}

bool log_access_enabled(const struct log *log)
{
	return log && log->access;
}

void log_access(struct log *log, const struct log_access *a)
{
	if (!log || !log->access)
		return;
	log_update_stamps(log, a->when);
	char line[LOG_LINE_MAX];
	size_t cap = sizeof(line) - 1;
	int head = snprintf(line, cap, "%s - - [%s] \"", a->client, log->clf_stamp);
	if (head < 0)
		return;
	size_t n = (size_t)head;
	n += clf_quote(line + n, cap - n - 300, a->request_line, a->request_line_len);
	int mid = snprintf(line + n, cap - n, "\" %d %llu \"", a->status,
			   (unsigned long long)a->bytes);
	if (mid < 0)
		return;
	n += (size_t)mid;
	n += clf_quote(line + n, (cap - n) / 2, a->referer, a->referer_len);
	n += (size_t)snprintf(line + n, cap - n, "\" \"");
	n += clf_quote(line + n, cap - n - 2, a->user_agent, a->user_agent_len);
	line[n++] = '"';
	line[n++] = '\n';
	sink_put(log->access, line, n);
}
