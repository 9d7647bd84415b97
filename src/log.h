/*
 * log — the error log and the access log (Combined Log Format).
 *
 * Both are buffered in memory and written with one write() when the buffer
 * fills, on log_flush() (the worker calls it once a second and at exit), and
 * at once for messages of level LOG_ERR and worse, which are rare and must
 * not be lost. So a request costs no logging syscall on the hot path.
 * The error and access logs may be the same file (one shared buffer then).
 * log_reopen() reopens the files by path (rotation, SIGHUP/SIGUSR1).
 * A failing write is counted and dropped, never retried in a loop: logging
 * must not stop the server.
 */
#ifndef LISOD_LOG_H
#define LISOD_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

enum log_level { LOG_LVL_ERR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

struct log;

/* error_path/access_path: a file path, "-" for stderr; access_path NULL:
 * access lines go to the error log; "off": no access log. */
struct log *log_new(const char *error_path, const char *access_path,
		    enum log_level level);
void log_free(struct log *log);          /* flushes first */
int log_reopen(struct log *log);         /* 0, or -1 (old files kept) */
void log_flush(struct log *log);
/* The descriptors of the log's files, to hand to another process after
 * log_reopen() (a master to its workers): -1 for a log on stderr, no
 * access log, or access lines going to the error log. Still ours. */
void log_files(const struct log *log, int *error_fd, int *access_fd);
/* Write to these files from now on (what log_files() gave in another
 * process): each is flushed and dup2'd over the old descriptor; -1 leaves
 * that log as it is. The caller closes its fds. 0, or -1 (errno). */
int log_adopt(struct log *log, int error_fd, int access_fd);
/* After fork in a worker: tag lines with this pid. */
void log_set_pid(struct log *log, long pid);

void log_msg(struct log *log, enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void log_vmsg(struct log *log, enum log_level level, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

struct log_access {
	const char *client;        /* textual address */
	time_t when;
	const char *request_line;  /* not NUL-terminated */
	size_t request_line_len;
	int status;
	uint64_t bytes;            /* body bytes sent */
	const char *referer; size_t referer_len;
	const char *user_agent; size_t user_agent_len;
};
void log_access(struct log *log, const struct log_access *a);
bool log_access_enabled(const struct log *log);

#define log_err(l, ...)   log_msg((l), LOG_LVL_ERR, __VA_ARGS__)
#define log_warn(l, ...)  log_msg((l), LOG_LVL_WARN, __VA_ARGS__)
#define log_info(l, ...)  log_msg((l), LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(l, ...) log_msg((l), LOG_LVL_DEBUG, __VA_ARGS__)

#endif
