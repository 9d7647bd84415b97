/*
 * site_route — which site answers a request: the name in its Host field
 * (or absolute-form authority), or the TLS server name (SNI) of its
 * connection, matched against the hosts of every site (config.h).
 *
 * Names compare case-insensitively, without a port and without a final
 * dot. An exact name wins over wildcards; among wildcards the longest
 * suffix wins. "*.example.org" matches a.example.org and a.b.example.org,
 * not example.org itself (nginx's reading; caddy's "*" is one label).
 *
 * A lookup is one hash probe for the exact name, then one per dot of the
 * name for the wildcards (longest suffix first): no allocation, no loop
 * over sites, so a thousand sites cost what one does. The router is built
 * once per worker and never changes (a reload forks new workers).
 */
#ifndef LISOD_SITE_ROUTE_H
#define LISOD_SITE_ROUTE_H

#include <stddef.h>

#include "config.h"

struct site_router;

/* Index every site's hosts. NULL: out of memory (errno). Two sites
 * claiming the same pattern were refused by the configuration already;
 * here the first keeps it. */
struct site_router *site_router_new(const struct config *cfg);
void site_router_free(struct site_router *r);

/* The site claiming name (as it came: any case, maybe ":port", maybe a
 * final dot), or -1 when none does or it is no host name at all. */
int site_router_find(const struct site_router *r, const char *name, size_t len);

/* name → its normal form in out (lower case, port and final dot dropped,
 * NUL-terminated). Returns the length, or -1 when it is not a host name:
 * empty, longer than CONFIG_NAME_MAX, or with bytes a name cannot have. */
int site_host_normalize(const char *name, size_t len, char *out, size_t cap);

/* A hosts entry of the configuration → its normal form in out ("*." kept
 * for a wildcard). NULL when it is good, else why it is not. */
const char *site_pattern_normalize(const char *pattern, char *out, size_t cap);

#endif
