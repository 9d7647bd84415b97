/*
 * priv — resolving the serving user and dropping to it. See priv.h.
 */
#include "priv.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

enum { PRIV_GROUPS_MAX = 65536 };

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

static int parse_id(const char *s, unsigned long *out)
{
	if (!all_digits(s) || strlen(s) > 10)
		return -1;
	unsigned long v = strtoul(s, NULL, 10);
	if (v >= UINT32_MAX) /* (uid_t)-1 means "unchanged" to the set*id calls */
		return -1;
	*out = v;
	return 0;
}

static const struct passwd *find_user(const char *name)
{
	errno = 0;
	const struct passwd *pw = getpwnam(name);
	unsigned long id;
	if (!pw && parse_id(name, &id) == 0)
		pw = getpwuid((uid_t)id);
	return pw;
}

static const struct group *find_group(const char *name)
{
	errno = 0;
	const struct group *gr = getgrnam(name);
	unsigned long id;
	if (!gr && parse_id(name, &id) == 0)
		gr = getgrgid((gid_t)id);
	return gr;
}

/* The groups the database gives name, with gid among them. */
static int load_groups(struct priv_user *u, const char *name, char *err, size_t errlen)
{
	int n = 32;
	for (;;) {
		gid_t *g = realloc(u->groups, sizeof(*g) * (size_t)n);
		if (!g) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		u->groups = g;
		int want = n;
		if (getgrouplist(name, u->gid, g, &want) >= 0) {
			u->group_count = want;
			return 0;
		}
		if (want <= n || want > PRIV_GROUPS_MAX) {
			snprintf(err, errlen, "cannot list the groups of user '%s'", name);
			return -1;
		}
		n = want;
	}
}

int priv_lookup(const char *spec, struct priv_user *u, char *err, size_t errlen)
{
	memset(u, 0, sizeof(*u));
	char user[PRIV_NAME_MAX * 2];
	if (strlen(spec) >= sizeof(user)) {
		snprintf(err, errlen, "user name too long: '%.40s...'", spec);
		return -1;
	}
	memcpy(user, spec, strlen(spec) + 1);
	char *group = strchr(user, ':');
	if (group)
		*group++ = '\0';
	if (!*user || (group && !*group)) {
		snprintf(err, errlen, "invalid user '%s' (expected NAME or NAME:GROUP)", spec);
		return -1;
	}
	const struct passwd *pw = find_user(user);
	if (!pw) {
		if (errno && errno != ENOENT && errno != ESRCH)
			snprintf(err, errlen, "cannot look up user '%s': %s", user, strerror(errno));
		else
			snprintf(err, errlen, "unknown user '%s'", user);
		return -1;
	}
	u->uid = pw->pw_uid;
	u->gid = pw->pw_gid;
	snprintf(u->name, sizeof(u->name), "%s", pw->pw_name);
	/* pw points into static storage the group lookups may reuse: keep
	 * what we need first. */
	char pw_name[PRIV_NAME_MAX];
	snprintf(pw_name, sizeof(pw_name), "%s", pw->pw_name);
	if (group) {
		const struct group *gr = find_group(group);
		if (!gr) {
			if (errno && errno != ENOENT && errno != ESRCH)
				snprintf(err, errlen, "cannot look up group '%s': %s", group,
					 strerror(errno));
			else
				snprintf(err, errlen, "unknown group '%s'", group);
			return -1;
		}
		u->gid = gr->gr_gid;
		snprintf(u->group, sizeof(u->group), "%s", gr->gr_name);
	} else {
		const struct group *gr = getgrgid(u->gid);
		if (gr)
			snprintf(u->group, sizeof(u->group), "%s", gr->gr_name);
		else
			snprintf(u->group, sizeof(u->group), "%lu", (unsigned long)u->gid);
	}
	if (load_groups(u, pw_name, err, errlen) < 0) {
		priv_user_fini(u);
		return -1;
	}
	return 0;
}

void priv_user_fini(struct priv_user *u)
{
	free(u->groups);
	u->groups = NULL;
	u->group_count = 0;
}

uid_t priv_serving_uid(const struct priv_user *u)
{
	return u ? u->uid : geteuid();
}

/* Is every capability gone (effective and permitted)? */
static bool caps_empty(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
	memset(data, 0, sizeof(data));
	if (syscall(SYS_capget, &hdr, data) < 0)
		return false;
	for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; i++)
		if (data[i].effective || data[i].permitted)
			return false;
	return true;
}

static bool has_group(const struct priv_user *u, gid_t g)
{
	for (int i = 0; i < u->group_count; i++)
		if (u->groups[i] == g)
			return true;
	return false;
}

static int verify(const struct priv_user *u, char *err, size_t errlen)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;
	if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0) {
		snprintf(err, errlen, "getresuid: %s", strerror(errno));
		return -1;
	}
	if (ru != u->uid || eu != u->uid || su != u->uid || rg != u->gid || eg != u->gid ||
	    sg != u->gid) {
		snprintf(err, errlen, "the ids did not change (uid %lu/%lu/%lu, gid %lu/%lu/%lu)",
			 (unsigned long)ru, (unsigned long)eu, (unsigned long)su,
			 (unsigned long)rg, (unsigned long)eg, (unsigned long)sg);
		return -1;
	}
	int n = getgroups(0, NULL);
	gid_t *now = n > 0 ? calloc((size_t)n, sizeof(*now)) : NULL;
	if (n < 0 || (n > 0 && (!now || getgroups(n, now) != n))) {
		free(now);
		snprintf(err, errlen, "getgroups: %s", strerror(errno ? errno : ENOMEM));
		return -1;
	}
	bool same = n == u->group_count;
	for (int i = 0; same && i < n; i++)
		same = has_group(u, now[i]);
	free(now);
	if (!same) {
		snprintf(err, errlen, "the supplementary groups did not change");
		return -1;
	}
	if (u->uid == 0)
		return 0; /* --user root: nothing was given up */
	if (setuid(0) == 0 || seteuid(0) == 0) {
		snprintf(err, errlen, "uid 0 could be taken back");
		return -1;
	}
	if (u->gid != 0 && (setgid(0) == 0 || setegid(0) == 0)) {
		snprintf(err, errlen, "gid 0 could be taken back");
		return -1;
	}
	if (!caps_empty()) {
		snprintf(err, errlen, "capabilities are left");
		return -1;
	}
	return 0;
}

int priv_drop(const struct priv_user *u, char *err, size_t errlen)
{
	char why[256];
	if (setgroups((size_t)u->group_count, u->groups) < 0) {
		snprintf(why, sizeof(why), "setgroups: %s", strerror(errno));
		goto fail;
	}
	if (setresgid(u->gid, u->gid, u->gid) < 0) {
		snprintf(why, sizeof(why), "setresgid(%lu): %s", (unsigned long)u->gid,
			 strerror(errno));
		goto fail;
	}
	if (setresuid(u->uid, u->uid, u->uid) < 0) {
		snprintf(why, sizeof(why), "setresuid(%lu): %s", (unsigned long)u->uid,
			 strerror(errno));
		goto fail;
	}
	if (verify(u, why, sizeof(why)) < 0)
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "cannot drop privileges to user %s, group %s: %s", u->name,
		 u->group, why);
	return -1;
}
