/* TEMPORARY weak stand-ins until src/cgi.c lands (removed then). */
#include "cgi.h"
#include <errno.h>
__attribute__((weak)) bool cgi_is_cgi_path(const char *path, size_t len) { (void)path; (void)len; return false; }
__attribute__((weak)) int cgi_resolve(const char *a, bool b, const char *c, size_t d, char *e, size_t f, char *g, size_t h) { (void)a;(void)b;(void)c;(void)d;(void)e;(void)f;(void)g;(void)h; return 404; }
__attribute__((weak)) char **cgi_env_build(const struct cgi_env_input *in) { (void)in; errno = ENOSYS; return 0; }
__attribute__((weak)) int cgi_spawn(const char *p, char *const e[], struct cgi_child *c) { (void)p;(void)e;(void)c; errno = ENOSYS; return -1; }
__attribute__((weak)) long cgi_head_scan(const char *b, size_t l) { (void)b;(void)l; return -1; }
__attribute__((weak)) int cgi_head_parse(const char *b, size_t l, struct cgi_head *h) { (void)b;(void)l;(void)h; return -1; }
__attribute__((weak)) int cgi_head_write(struct buf *o, const struct cgi_head *h, bool k, bool c, const struct http_date_cache *d) { (void)o;(void)h;(void)k;(void)c;(void)d; return -1; }
