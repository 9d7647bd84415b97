/*
 * config_priv — what config.c and config_file.c share, nothing else sees.
 *
 * Both read settings into the same struct config: config.c from argv,
 * config_file.c from the file given with -c. One table of options and one
 * function that applies an option (config_apply) serve both, so the file
 * and the command line cannot drift apart.
 */
#ifndef LISOD_CONFIG_PRIV_H
#define LISOD_CONFIG_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "config.h"

/* What an option sets that only the end of parsing can resolve. */
struct parse_state {
	int foreground;  /* -1: not said; 0/1: --foreground no/yes */
	int host_choice; /* -1: --require-host not given */
	bool charset_given; /* --charset (or the file's charset) was said */
};

/* An option of the table: its value for config_apply(), whether it takes
 * a value on the command line, and its position (main_at[] index). */
struct option_info {
	int opt;
	bool takes_arg;
	unsigned pos;
	bool file_ok;    /* may appear in a configuration file */
};

/* The option whose long name is name; false when there is none. */
bool config_option_find(const char *name, struct option_info *info);
/* Long name of the option at position pos (the first of its aliases). */
const char *config_option_name_at(unsigned pos);

/* Apply one option (arg NULL for a flag); NULL, or what is wrong. A flag
 * from the file passes on=false to undo it ("daemon = no"). */
const char *config_apply(struct config *cfg, int opt, const char *arg, bool on,
			 struct parse_state *ps);

/* yes/on/true/1 → 1, no/off/false/0 → 0, else -1. */
int config_parse_bool(const char *s);

/* Memory the config owns (strings and lists of the file): freed by
 * config_free(). NULL when out of memory. */
void *config_alloc(struct config *cfg, size_t n);
char *config_strdup(struct config *cfg, const char *s);

/* Split a comma-separated list into out[] (at most max entries, counted
 * from *count on), copies owned by cfg, blanks around entries trimmed.
 * NULL, or what is wrong (an empty entry, too many). */
const char *config_list_append(struct config *cfg, const char *value, const char **out,
			       unsigned *count, unsigned max);
/* Is name a usable index file name (no '/', not "." or "..")? */
bool config_index_name_ok(const char *name);

/* Read the file at cfg->config_path into cfg: its main section applied as
 * options, its [site] sections into cfg->sites. Every problem is printed to
 * err as "lisod: FILE:LINE: what"; returns how many (0: all good). */
unsigned config_file_load(struct config *cfg, struct parse_state *ps, FILE *err);

/* Print "lisod: FILE:LINE: what" (or "lisod: what" without an origin). */
void config_report(FILE *err, const struct config_origin *at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The site key called name ("www" is root's alias); -1 when none. */
int config_site_key(const char *name);

/* The serve settings (config_serve.c): a name's key (-1 when none), a
 * key's name, whether it may be given more than once (each adds an entry). */
int config_serve_key(const char *name);
const char *config_serve_name(int key);
bool config_serve_repeatable(int key);
void config_serve_defaults(struct site_serve *sv);
/* Read value into sv; NULL, or what is wrong. owned: sv's lists are its
 * own already (a repeated key appends; else a list replaces the inherited
 * one). value must live as long as cfg (argv, or a copy cfg owns). */
const char *config_serve_apply(struct config *cfg, struct site_serve *sv, int key,
			       const char *value, bool owned);
/* What a site did not set (site_at[k].file NULL) it takes from main_sv. */
void config_serve_inherit(struct site_serve *site, const struct config_origin *site_at,
			  const struct site_serve *main_sv);

#endif
