/*
 * config_file — the configuration file (-c FILE): `key = value` lines, the
 * main section's keys being the long option names, then [site NAME]
 * sections. lisod.conf(5) is the user's description; this is how.
 *
 * Splitting a line into key and value, trimming and comments are Debian's
 * libinih (small, well kept, what the issue asked for). What inih does not
 * do, our reader function does before inih sees a line: it counts lines
 * (inih's handler gets none in Debian's build), refuses a line longer than
 * inih's 200-byte buffer (inih would silently split it into two), a NUL
 * byte, and an indented line (inih would take it as a continuation of the
 * previous value); and it reads the [site NAME] headers itself, so that a
 * bad header stops its keys from landing in the wrong site. A content line
 * for which inih called no handler had no '=': we report it. Every problem
 * is reported, with its line, not only the first, and the file is read
 * whole either way.
 */
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "config_priv.h"
#include "site_route.h"

enum { SITE_NAME_MAX = 64 };

struct file_state {
	struct config *cfg;
	struct parse_state *ps;
	FILE *in, *err;
	const char *path;
	unsigned line;
	unsigned problems;
	unsigned site_cap;
	int site;            /* the section being read: -1 main, else cfg->sites index */
	bool skip_section;   /* its header was bad: its keys are not read */
	bool content;        /* the line handed to inih should call the handler */
	unsigned calls, calls_at_line;
	bool out_of_memory;
};

void config_report(FILE *err, const struct config_origin *at, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (at && at->file)
		fprintf(err, "lisod: %s:%u: ", at->file, at->line);
	else
		fputs("lisod: ", err);
	vfprintf(err, fmt, ap);
	fputc('\n', err);
	va_end(ap);
}

static void problem(struct file_state *st, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void problem(struct file_state *st, const char *fmt, ...)
{
	char text[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	struct config_origin at = { st->path, st->line };
	config_report(st->err, &at, "%s", text);
	st->problems++;
}

static const char *const SITE_KEY_NAMES[SITE_KEY_COUNT] = {
	[SITE_KEY_SECTION] = "site", [SITE_KEY_HOSTS] = "hosts", [SITE_KEY_DEFAULT] = "default",
	[SITE_KEY_ROOT] = "root", [SITE_KEY_CGI] = "cgi", [SITE_KEY_INDEX] = "index",
	[SITE_KEY_KEY] = "key", [SITE_KEY_CERT] = "cert", [SITE_KEY_ACCESS_LOG] = "access-log",
};

int config_site_key(const char *name)
{
	if (strcmp(name, "www") == 0)
		return SITE_KEY_ROOT;
	for (int k = SITE_KEY_HOSTS; k < SITE_KEY_COUNT; k++)
		if (strcmp(name, SITE_KEY_NAMES[k]) == 0)
			return k;
	return -1;
}

/* ---- Lines --------------------------------------------------------------- */

static bool site_name_ok(const char *s, size_t n)
{
	if (n == 0 || n > SITE_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("._-", s[i]))
			return false;
	return true;
}

static struct site *site_add(struct file_state *st, const char *name, size_t n)
{
	struct config *cfg = st->cfg;
	if (cfg->site_count == CONFIG_SITES_MAX) {
		problem(st, "too many sites (at most %d)", CONFIG_SITES_MAX);
		return NULL;
	}
	if (cfg->site_count == st->site_cap) {
		unsigned cap = st->site_cap ? st->site_cap * 2 : 8;
		struct site *grown = realloc(cfg->sites, sizeof(*grown) * cap);
		if (!grown) {
			st->out_of_memory = true;
			return NULL;
		}
		cfg->sites = grown;
		st->site_cap = cap;
	}
	char *copy = config_alloc(cfg, n + 1);
	if (!copy) {
		st->out_of_memory = true;
		return NULL;
	}
	memcpy(copy, name, n);
	copy[n] = '\0';
	struct site *s = &cfg->sites[cfg->site_count++];
	memset(s, 0, sizeof(*s));
	s->name = copy;
	s->at[SITE_KEY_SECTION] = (struct config_origin){ st->path, st->line };
	return s;
}

/* A header line (it starts with '['): "[site NAME]", blanks allowed. */
static void section_header(struct file_state *st, char *line)
{
	st->site = -1;
	st->skip_section = true; /* until it proves good */
	char *end = strchr(line, ']');
	char *rest = end ? end + 1 : NULL;
	while (rest && (*rest == ' ' || *rest == '\t'))
		rest++;
	if (!end || (*rest && *rest != '#' && *rest != ';')) {
		problem(st, "expected [site NAME]");
		return;
	}
	char *p = line + 1;
	while (*p == ' ' || *p == '\t')
		p++;
	char *q = end;
	while (q > p && (q[-1] == ' ' || q[-1] == '\t'))
		q--;
	if (q - p < 5 || memcmp(p, "site", 4) != 0 || (p[4] != ' ' && p[4] != '\t')) {
		problem(st, "expected [site NAME], got [%.*s]", (int)(q - p), p);
		return;
	}
	p += 4;
	while (*p == ' ' || *p == '\t')
		p++;
	size_t n = (size_t)(q - p);
	if (!site_name_ok(p, n)) {
		problem(st, "bad site name '%.*s': 1 to %d letters, digits, '.', '_' or '-'",
			(int)n, p, SITE_NAME_MAX);
		return;
	}
	for (unsigned i = 0; i < st->cfg->site_count; i++) {
		const struct site *o = &st->cfg->sites[i];
		if (strlen(o->name) == n && memcmp(o->name, p, n) == 0) {
			problem(st, "site '%s' is defined twice (first on line %u)", o->name,
				o->at[SITE_KEY_SECTION].line);
			return;
		}
	}
	if (!site_add(st, p, n))
		return;
	st->site = (int)st->cfg->site_count - 1;
	st->skip_section = false;
}

/* The line inih had last should have called the handler: if it did not,
 * it had no '=' (inih's only other complaint, a bad section, cannot
 * happen: headers never reach it). */
static void judge_previous(struct file_state *st)
{
	if (st->content && st->calls == st->calls_at_line)
		problem(st, "expected 'key = value'");
	st->content = false;
}

/* The reader inih calls for each line (fgets-like: at most num - 1 bytes
 * and the NUL). Returns a line for inih, or NULL at the end; a line we
 * dealt with ourselves (header, refused) is handed over blank. */
static char *read_line(char *str, int num, void *stream)
{
	struct file_state *st = stream;
	judge_previous(st);
	size_t cap = (size_t)num - 1, n = 0;
	bool too_long = false, nul = false;
	int ch;
	while ((ch = getc(st->in)) != EOF && ch != '\n') {
		if (ch == '\0')
			nul = true;
		if (n < cap)
			str[n++] = (char)ch;
		else
			too_long = true;
	}
	if (ch == EOF && n == 0 && !too_long)
		return NULL;
	st->line++;
	if (n > 0 && str[n - 1] == '\r')
		n--; /* a file written on Windows */
	str[n] = '\0';
	if (st->line == 1 && n >= 3 && memcmp(str, "\xef\xbb\xbf", 3) == 0)
		memmove(str, str + 3, n - 2); /* a UTF-8 byte order mark */
	if (too_long || nul) {
		if (too_long)
			problem(st, "line longer than %d characters", num - 1);
		else
			problem(st, "NUL byte in line");
		str[0] = '\0';
		return str;
	}
	const char *p = str;
	while (*p == ' ' || *p == '\t')
		p++;
	if (!*p || *p == '#' || *p == ';')
		return str; /* blank or comment: inih skips it */
	if (p != str) {
		problem(st, "indented line: a value cannot continue on the next line");
		str[0] = '\0';
		return str;
	}
	if (*p == '[') {
		section_header(st, str);
		str[0] = '\0';
		return str;
	}
	st->content = true;
	st->calls_at_line = st->calls;
	return str;
}

/* ---- Keys ---------------------------------------------------------------- */

/* inih strips ';' comments; '#' after a blank is ours too (at the start
 * of the value it followed the blanks inih trimmed after '='). */
static void strip_comment(char *v)
{
	for (char *p = v; *p; p++)
		if (*p == '#' && (p == v || p[-1] == ' ' || p[-1] == '\t')) {
			*p = '\0';
			break;
		}
	size_t n = strlen(v);
	while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		v[--n] = '\0';
}

static void main_key(struct file_state *st, const char *name, const char *value)
{
	struct config *cfg = st->cfg;
	struct option_info o;
	if (!config_option_find(name, &o)) {
		if (config_site_key(name) >= 0)
			problem(st, "'%s' belongs in a [site] section", name);
		else
			problem(st, "unknown key '%s'", name);
		return;
	}
	if (!o.file_ok) {
		problem(st, "'%s' cannot be set in a configuration file", name);
		return;
	}
	struct config_origin *at = &cfg->main_at[o.pos];
	int sk = config_serve_key(name);
	bool repeatable = strcmp(name, "index") == 0 || (sk >= 0 && config_serve_repeatable(sk));
	if (at->file && !repeatable) {
		problem(st, "'%s' is set twice (first on line %u)", name, at->line);
		return;
	}
	const char *why;
	if (!o.takes_arg) {
		int on = strcmp(value, "yes") == 0 ? 1 : strcmp(value, "no") == 0 ? 0 : -1;
		why = on < 0 ? "expected yes or no" : config_apply(cfg, o.opt, NULL, on, st->ps);
	} else {
		char *copy = config_strdup(cfg, value);
		if (!copy) {
			st->out_of_memory = true;
			return;
		}
		why = config_apply(cfg, o.opt, copy, true, st->ps);
	}
	if (why) {
		problem(st, "%s for '%s': '%s'", why, name, value);
		return;
	}
	*at = (struct config_origin){ st->path, st->line };
}

static const char *site_list(struct file_state *st, struct site *s, int key, const char *value)
{
	struct config *cfg = st->cfg;
	bool hosts = key == SITE_KEY_HOSTS;
	const char ***list = hosts ? (const char ***)&s->hosts : (const char ***)&s->index;
	unsigned *count = hosts ? &s->host_count : &s->index_count;
	unsigned max = hosts ? CONFIG_HOSTS_MAX : CONFIG_INDEX_MAX;
	if (!*list) {
		*list = config_alloc(cfg, sizeof(char *) * max);
		if (!*list)
			return "out of memory";
	}
	unsigned first = *count;
	const char *why = config_list_append(cfg, value, *list, count, max);
	if (why)
		return why;
	for (unsigned i = first; i < *count; i++) {
		if (!hosts) {
			if (!config_index_name_ok((*list)[i]))
				return "an index name is a file name (no '/', not . or ..)";
			continue;
		}
		char norm[CONFIG_NAME_MAX + 3];
		why = site_pattern_normalize((*list)[i], norm, sizeof(norm));
		if (why)
			return why;
		char *copy = config_strdup(cfg, norm);
		if (!copy)
			return "out of memory";
		(*list)[i] = copy;
	}
	return NULL;
}

/* A serve setting in a [site] section (config_serve.c reads the value). */
static void serve_key(struct file_state *st, struct site *s, int key, const char *name,
		      const char *value)
{
	struct config_origin *at = &s->serve_at[key];
	if (at->file && !config_serve_repeatable(key)) {
		problem(st, "'%s' is set twice in site '%s' (first on line %u)", name, s->name,
			at->line);
		return;
	}
	char *copy = config_strdup(st->cfg, value);
	if (!copy) {
		st->out_of_memory = true;
		return;
	}
	const char *why = config_serve_apply(st->cfg, &s->serve, key, copy, at->file != NULL);
	if (why) {
		problem(st, "%s for '%s': '%s'", why, name, value);
		return;
	}
	if (!at->file)
		*at = (struct config_origin){ st->path, st->line };
}

static void site_key(struct file_state *st, const char *name, const char *value)
{
	struct site *s = &st->cfg->sites[st->site];
	int key = config_site_key(name);
	int sk = config_serve_key(name);
	if (key < 0 && sk >= 0) {
		serve_key(st, s, sk, name, value);
		return;
	}
	if (key < 0) {
		struct option_info o;
		if (config_option_find(name, &o))
			problem(st, "'%s' is a main setting: put it before the first [site]", name);
		else
			problem(st, "unknown key '%s' in site '%s'", name, s->name);
		return;
	}
	struct config_origin *at = &s->at[key];
	bool list = key == SITE_KEY_HOSTS || key == SITE_KEY_INDEX;
	if (at->file && !list) {
		problem(st, "'%s' is set twice in site '%s' (first on line %u)", name, s->name,
			at->line);
		return;
	}
	const char *why = NULL;
	if (list) {
		why = site_list(st, s, key, value);
	} else if (key == SITE_KEY_DEFAULT) {
		int on = strcmp(value, "yes") == 0 ? 1 : strcmp(value, "no") == 0 ? 0 : -1;
		if (on < 0)
			why = "expected yes or no";
		s->is_default = on == 1;
	} else {
		char *copy = config_strdup(st->cfg, value);
		if (!copy)
			why = "out of memory";
		const char **field = key == SITE_KEY_ROOT ? &s->root
				   : key == SITE_KEY_CGI ? &s->cgi_path
				   : key == SITE_KEY_KEY ? &s->key_path
				   : key == SITE_KEY_CERT ? &s->cert_path
							  : &s->access_log_path;
		*field = copy;
	}
	if (why) {
		problem(st, "%s for '%s': '%s'", why, name, value);
		return;
	}
	if (!at->file)
		*at = (struct config_origin){ st->path, st->line };
}

static int on_key(void *user, const char *section, const char *name, const char *value)
{
	(void)section; /* headers never reach inih: st->site is the section */
	struct file_state *st = user;
	st->calls++;
	if (st->skip_section)
		return 1;
	char v[256];
	snprintf(v, sizeof(v), "%s", value);
	strip_comment(v);
	if (!v[0]) {
		problem(st, "'%s' has no value", name);
		return 1;
	}
	if (st->site < 0)
		main_key(st, name, v);
	else
		site_key(st, name, v);
	return 1;
}

unsigned config_file_load(struct config *cfg, struct parse_state *ps, FILE *err)
{
	struct file_state st = { .cfg = cfg, .ps = ps, .err = err, .path = cfg->config_path,
				 .site = -1 };
	st.in = fopen(cfg->config_path, "re");
	if (!st.in) {
		config_report(err, NULL, "cannot read configuration file %s: %s",
			      cfg->config_path, strerror(errno));
		return 1;
	}
	int rc = ini_parse_stream(read_line, &st, on_key, &st);
	judge_previous(&st);
	if (ferror(st.in)) {
		config_report(err, NULL, "reading %s: %s", cfg->config_path, strerror(errno));
		st.problems++;
	}
	fclose(st.in);
	if (rc == -2 || st.out_of_memory) {
		config_report(err, NULL, "reading %s: out of memory", cfg->config_path);
		st.problems++;
	}
	return st.problems;
}
