#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void launcher_wait(int rfd, pid_t child)
{
	char ok = 0;
	ssize_t n;
	do
		n = read(rfd, &ok, 1);
	while (n < 0 && errno == EINTR);
	/* Reap the intermediate child (it exits right after forking). */
	while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
		;
	_exit(n == 1 && ok == 'R' ? 0 : 1);
}

int daemon_start(void)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0) {
		fprintf(stderr, "lisod: pipe: %s\n", strerror(errno));
		return -1;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		fprintf(stderr, "lisod: fork: %s\n", strerror(errno));
		return -1;
	}
	if (pid > 0) {
		close(p[1]);
		launcher_wait(p[0], pid);
	}
	close(p[0]);
	if (setsid() < 0)
		_exit(1);
	/* Fork again so the daemon is not a session leader and can never
	 * acquire a controlling terminal. */
	pid = fork();
	if (pid < 0)
		_exit(1);
	if (pid > 0)
		_exit(0);
	umask(027);
	return p[1];
}

/* Replace stdin, stdout and stderr by /dev/null. */
static int detach_stdio(void)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null < 0) {
		fprintf(stderr, "lisod: /dev/null: %s\n", strerror(errno));
		return -1;
	}
	int rc = 0;
	for (int fd = STDIN_FILENO; fd <= STDERR_FILENO && rc == 0; fd++)
		if (fd != null && dup2(null, fd) < 0) {
			fprintf(stderr, "lisod: dup2 /dev/null: %s\n", strerror(errno));
			rc = -1;
		}
	if (null > STDERR_FILENO)
		close(null);
	return rc;
}

int daemon_ready(int notify_fd)
{
	/* Let go of the launcher's stdio first: once it has read our byte it
	 * exits, and a shell reading its output must see EOF then. */
	if (detach_stdio() < 0) {
		close(notify_fd);
		return -1;
	}
	ssize_t n;
	do
		n = write(notify_fd, "R", 1);
	while (n < 0 && errno == EINTR);
	close(notify_fd);
	/* A launcher that cannot be told (it was killed) has reported failure:
	 * then nothing may keep running. */
	return n == 1 ? 0 : -1;
}

int lockfile_acquire(const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open lock file %s: %s", path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int saved = errno;
		char pid[32] = "";
		ssize_t n = pread(fd, pid, sizeof(pid) - 1, 0);
		if (n > 0) {
			pid[n] = '\0';
			pid[strcspn(pid, "\r\n")] = '\0';
		}
		if (saved == EWOULDBLOCK)
			snprintf(err, errlen, "already running: lock file %s is held by pid %s",
				 path, n > 0 ? pid : "?");
		else
			snprintf(err, errlen, "cannot lock %s: %s", path, strerror(saved));
		close(fd);
		return -1;
	}
	char line[32];
	int len = snprintf(line, sizeof(line), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, line, (size_t)len, 0) != len) {
		snprintf(err, errlen, "cannot write lock file %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}
