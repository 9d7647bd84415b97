/*
 * priv — least privilege: the user that serves (--user NAME[:GROUP]).
 *
 * priv_lookup() resolves the user (and group) once, at startup, while
 * /etc/passwd and /etc/group can still be read: uid, gid and the
 * supplementary groups the group database gives that user (what
 * initgroups(3) would set; the chosen group is always one of them).
 * NAME and GROUP may be numeric ids. Without GROUP the user's primary group
 * is used.
 *
 * priv_drop() gives up every privilege for good, in the only safe order:
 * setgroups, setresgid, setresuid (real, effective and saved ids alike, so
 * nothing can be taken back), and then checks that it took: getresuid and
 * getresgid show the user in all three places, getgroups shows exactly its
 * groups, setuid(0)/setgid(0) now fail, and no capability is left
 * (effective, permitted). Any surprise is an error: the caller must not go
 * on serving.
 *
 * Owns: the group list of a struct priv_user (priv_user_fini frees it).
 * Errors: -1 with a one-line message (no "lisod: " prefix) in err.
 */
#ifndef LISOD_PRIV_H
#define LISOD_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

enum { PRIV_NAME_MAX = 64 };

struct priv_user {
	uid_t uid;
	gid_t gid;
	gid_t *groups;              /* supplementary groups, gid included */
	int group_count;
	char name[PRIV_NAME_MAX];   /* the user's name (for messages) */
	char group[PRIV_NAME_MAX];  /* the group's name, or its number */
};

/* "NAME" or "NAME:GROUP". Unknown user or group: -1, "unknown user 'x'"
 * or "unknown group 'x'". */
int priv_lookup(const char *spec, struct priv_user *u, char *err, size_t errlen);
void priv_user_fini(struct priv_user *u);

/* Become u in this process, irreversibly, and verify it (see above). */
int priv_drop(const struct priv_user *u, char *err, size_t errlen);

/* The uid the server's workers and CGI programs will run as: u's, or
 * ours when u is NULL (no --user). */
uid_t priv_serving_uid(const struct priv_user *u);

#endif
