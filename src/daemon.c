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

int daemon_detach(void)
{
	int err_fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
	if (err_fd < 0) {
		fprintf(stderr, "lisod: dup: %s\n", strerror(errno));
		return -1;
	}
	/* Let go of the launcher's stdio first: once it has read our byte it
	 * exits, and a shell reading its output must see EOF then. */
	if (detach_stdio() < 0) {
		close(err_fd);
		return -1;
	}
	return err_fd;
}

int daemon_notify(int notify_fd, int err_fd)
{
	ssize_t n;
	do
		n = write(notify_fd, "R", 1);
	while (n < 0 && errno == EINTR);
	close(notify_fd);
	if (err_fd >= 0)
		close(err_fd);
	/* A launcher that cannot be told (it was killed) has reported failure:
	 * then nothing may keep running. */
	return n == 1 ? 0 : -1;
}

int daemon_ready(int notify_fd)
{
	int err_fd = daemon_detach();
	if (err_fd < 0) {
		close(notify_fd);
		return -1;
	}
	return daemon_notify(notify_fd, err_fd);
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

int lockfile_probe(const char *path, char *holder, size_t holder_len, char *err, size_t errlen)
{
	holder[0] = '\0';
	int fd = open(path, O_RDWR | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 && errno == ENOENT) {
		/* lockfile_acquire would create it: can it? */
		char dir[4096];
		snprintf(dir, sizeof(dir), "%s", path);
		char *slash = strrchr(dir, '/');
		if (!slash)
			snprintf(dir, sizeof(dir), ".");
		else if (slash == dir)
			dir[1] = '\0';
		else
			*slash = '\0';
		if (access(dir, W_OK | X_OK) == 0)
			return 0;
		snprintf(err, errlen, "cannot create lock file %s: %s: %s", path, dir,
			 strerror(errno));
		return -1;
	}
	if (fd < 0) {
		snprintf(err, errlen, "cannot open lock file %s: %s", path, strerror(errno));
		return -1;
	}
	int rc = 0;
	if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
		flock(fd, LOCK_UN); /* free: let go at once, write nothing */
	} else if (errno == EWOULDBLOCK) {
		ssize_t n = pread(fd, holder, holder_len - 1, 0);
		holder[n > 0 ? n : 0] = '\0';
		holder[strcspn(holder, "\r\n")] = '\0';
		if (!holder[0])
			snprintf(holder, holder_len, "?");
		rc = 1;
	} else {
		snprintf(err, errlen, "cannot lock %s: %s", path, strerror(errno));
		rc = -1;
	}
	close(fd);
	return rc;
}
