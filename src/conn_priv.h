/*
 * conn_priv — the connection's internal helpers, shared by conn.c (the
 * state machine, HTTP and static files) and conn_cgi.c (the CONN_CGI
 * phase). Not for any other module.
 */
#ifndef LISOD_CONN_PRIV_H
#define LISOD_CONN_PRIV_H

#include "conn.h"

enum flush_result { FLUSH_DONE, FLUSH_AGAIN, FLUSH_ERROR };

void conn_set_state(struct conn *c, enum conn_state s);
void conn_arm_timer(struct conn *c);
enum io_result conn_read(struct conn *c);
bool conn_output_pending(const struct conn *c);
enum flush_result conn_flush(struct conn *c);
void conn_log_access(struct conn *c, const struct http_request *req, int status, uint64_t bytes);
void conn_respond_error(struct conn *c, const struct http_request *req, int status,
			bool keep_alive, bool head_only);
void conn_consume_request(struct conn *c);
void conn_drop_in(struct conn *c, uint32_t off, uint32_t n);
void conn_run_external(struct conn *c); /* conn_run, for events of other fds */
void conn_peer_name(const struct conn *c, char *out, socklen_t cap);

/* conn_cgi.c */
void conn_cgi_start(struct conn *c, const struct http_request *req);
void conn_on_cgi(struct conn *c);
void conn_cgi_timeout(struct conn *c);
void conn_cgi_detach(struct conn *c, bool kill_child);

#endif
