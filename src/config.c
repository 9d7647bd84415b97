#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

enum {
	OPT_ECHO = 256, OPT_HTTP_PORT, OPT_HTTPS_PORT, OPT_LISTEN, OPT_LOG, OPT_ACCESS_LOG,
	OPT_LOCK, OPT_ROOT, OPT_CGI, OPT_KEY, OPT_CERT, OPT_WORKERS, OPT_MAX_CONNS,
	OPT_MAX_CGI, OPT_MAX_BODY, OPT_HEADER_TIMEOUT, OPT_BODY_TIMEOUT, OPT_IDLE_TIMEOUT,
	OPT_TLS_TIMEOUT, OPT_CGI_TIMEOUT, OPT_WRITE_TIMEOUT, OPT_SHUTDOWN_TIMEOUT,
	OPT_LOG_LEVEL, OPT_DAEMON, OPT_CGI_MAX_TIME, OPT_MIN_BODY_RATE, OPT_MIN_SEND_RATE,
	OPT_REQUIRE_HOST, OPT_PROXY_PROTOCOL, OPT_HEALTH_PATH, OPT_STATUS_PATH, OPT_STATUS_ALLOW,
	OPT_DRAIN_DELAY, OPT_USER, OPT_CGI_AS_ROOT,
};

static const struct option long_options[] = {
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ "foreground", no_argument, NULL, 'f' },
	{ "daemon", no_argument, NULL, OPT_DAEMON },
	{ "echo", required_argument, NULL, OPT_ECHO },
	{ "http-port", required_argument, NULL, OPT_HTTP_PORT },
	{ "https-port", required_argument, NULL, OPT_HTTPS_PORT },
	{ "listen", required_argument, NULL, OPT_LISTEN },
	{ "log", required_argument, NULL, OPT_LOG },
	{ "access-log", required_argument, NULL, OPT_ACCESS_LOG },
	{ "lock", required_argument, NULL, OPT_LOCK },
	{ "root", required_argument, NULL, OPT_ROOT },
	{ "www", required_argument, NULL, OPT_ROOT },
	{ "cgi", required_argument, NULL, OPT_CGI },
	{ "key", required_argument, NULL, OPT_KEY },
	{ "cert", required_argument, NULL, OPT_CERT },
	{ "workers", required_argument, NULL, OPT_WORKERS },
	{ "max-conns", required_argument, NULL, OPT_MAX_CONNS },
	{ "max-cgi", required_argument, NULL, OPT_MAX_CGI },
	{ "max-body", required_argument, NULL, OPT_MAX_BODY },
	{ "header-timeout", required_argument, NULL, OPT_HEADER_TIMEOUT },
	{ "body-timeout", required_argument, NULL, OPT_BODY_TIMEOUT },
	{ "idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT },
	{ "tls-timeout", required_argument, NULL, OPT_TLS_TIMEOUT },
	{ "cgi-timeout", required_argument, NULL, OPT_CGI_TIMEOUT },
	{ "write-timeout", required_argument, NULL, OPT_WRITE_TIMEOUT },
	{ "shutdown-timeout", required_argument, NULL, OPT_SHUTDOWN_TIMEOUT },
	{ "cgi-max-time", required_argument, NULL, OPT_CGI_MAX_TIME },
	{ "min-body-rate", required_argument, NULL, OPT_MIN_BODY_RATE },
	{ "min-send-rate", required_argument, NULL, OPT_MIN_SEND_RATE },
	{ "require-host", required_argument, NULL, OPT_REQUIRE_HOST },
	{ "proxy-protocol", required_argument, NULL, OPT_PROXY_PROTOCOL },
	{ "health-path", required_argument, NULL, OPT_HEALTH_PATH },
	{ "status-path", required_argument, NULL, OPT_STATUS_PATH },
	{ "status-allow", required_argument, NULL, OPT_STATUS_ALLOW },
	{ "drain-delay", required_argument, NULL, OPT_DRAIN_DELAY },
	{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
	{ "user", required_argument, NULL, OPT_USER },
	{ "cgi-as-root", no_argument, NULL, OPT_CGI_AS_ROOT },
	{ "test-config", no_argument, NULL, 't' },
	{ NULL, 0, NULL, 0 },
};

void config_usage(FILE *f)
{
	fputs("Usage: lisod [OPTIONS]\n"
	      "       lisod [-f] <HTTP port> <HTTPS port> <log file> <lock file> <www folder>\n"
	      "             <CGI script path> <private key file> <certificate file>\n"
	      "       lisod --echo PORT\n"
	      "\n"
	      "Without arguments lisod serves the bundled www/ on HTTP port 8080 (and HTTPS\n"
	      "port 8443) in the foreground. The 8-argument Liso form runs as a daemon.\n"
	      "\n"
	      "Options:\n"
	      "  -h, --help               show this help and exit\n"
	      "  -V, --version            show the version and exit\n"
	      "  -f, --foreground         stay in the foreground (8-argument form)\n"
	      "      --daemon             run as a daemon (options form; needs --lock)\n"
	      "      --echo PORT          echo server: every byte is sent back\n"
	      "      --http-port PORT     HTTP port (default 8080; 0 disables)\n"
	      "      --https-port PORT    HTTPS port (default 8443; 0 disables)\n"
	      "      --listen ADDRESS     listen on this address only (default: all, IPv4+IPv6)\n"
	      "      --log FILE           error log (default: standard error)\n"
	      "      --access-log FILE    access log (default: the error log; 'off': none)\n"
	      "      --lock FILE          lock file holding the server's pid\n"
	      "      --root DIR, --www DIR  document root (default: the bundled www/)\n"
	      "      --cgi PATH           CGI program, or directory of programs, for /cgi/\n"
	      "      --key FILE           TLS private key (default: self-signed, in memory)\n"
	      "      --cert FILE          TLS certificate\n"
	      "      --workers N          worker processes (default: one per CPU)\n"
	      "      --max-conns N        connections per worker (default 10000)\n"
	      "      --max-cgi N          concurrent CGI programs per worker (default 64)\n"
	      "      --max-body BYTES     largest request body (default 64 MiB)\n"
	      "      --require-host yes|no  HTTP/1.1 without Host is 400 (default yes; no in\n"
	      "                           the 8-argument form, as the course's graders expect)\n"
	      "      --header-timeout T   time to receive a request head (default 20s)\n"
	      "      --body-timeout T     time between body bytes (default 20s)\n"
	      "      --min-body-rate B    a request body must arrive at B bytes/s, judged\n"
	      "                           over each body-timeout window (default 500; 0: off)\n"
	      "      --idle-timeout T     keep-alive idle time (default 60s)\n"
	      "      --tls-timeout T      TLS handshake time (default 10s)\n"
	      "      --cgi-timeout T      time a CGI program may make no progress (default 30s)\n"
	      "      --cgi-max-time T     total time a CGI program may run (default 600s)\n"
	      "      --write-timeout T    time a client may stall reading (default 60s)\n"
	      "      --min-send-rate B    a client must read answers at B bytes/s, judged\n"
	      "                           over each write-timeout window (default 500; 0: off)\n"
	      "      --shutdown-timeout T graceful stop deadline (default 10s)\n"
	      "      --drain-delay T      on SIGTERM, keep serving this long first, answering\n"
	      "                           the health path 503 (default 0: stop accepting at once)\n"
	      "      --proxy-protocol NETS  connections from NETS (CIDR list, e.g.\n"
	      "                           10.0.0.0/8,::1) start with a PROXY v1/v2 header whose\n"
	      "                           address is the client's; others are closed\n"
	      "      --health-path PATH   answer PATH with 200 (503 while stopping), unlogged\n"
	      "      --status-path PATH   connections, requests, bytes, CGI per worker (text;\n"
	      "                           JSON for Accept: application/json)\n"
	      "      --status-allow NETS  who may read the status (default 127.0.0.0/8,::1)\n"
	      "      --log-level LEVEL    error, warn, info (default) or debug\n"
	      "      --user NAME[:GROUP]  after binding the ports and opening the key, logs and\n"
	      "                           lock, serve as this user (workers and CGI programs;\n"
	      "                           with --workers > 1 the master keeps root)\n"
	      "      --cgi-as-root        allow CGI programs to run as root (refused otherwise)\n"
	      "  -t, --test-config        check the configuration (files, key, ports, user, lock,\n"
	      "                           logs), print every problem, exit 0 or 1\n"
	      "Times are seconds, or milliseconds with an 'ms' suffix.\n",
	      f);
}

static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	if (!s || *s < '0' || *s > '9')
		return -1; /* digits only: no sign, no white space (strtoull takes both) */
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || v > max)
		return -1;
	*out = v;
	return 0;
}

static int parse_port(const char *s, uint16_t *port)
{
	uint64_t v;
	if (parse_u64(s, 65535, &v) < 0)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

static int parse_duration_ms(const char *s, unsigned *ms)
{
	size_t n = strlen(s);
	uint64_t v;
	char tmp[32];
	if (n >= sizeof(tmp) || n == 0)
		return -1;
	memcpy(tmp, s, n + 1);
	uint64_t scale = 1000;
	if (n > 2 && strcmp(tmp + n - 2, "ms") == 0) {
		tmp[n - 2] = '\0';
		scale = 1;
	} else if (n > 1 && tmp[n - 1] == 's') {
		tmp[n - 1] = '\0';
	}
	if (parse_u64(tmp, UINT32_MAX / 1000, &v) < 0 || v * scale == 0)
		return -1;
	*ms = (unsigned)(v * scale);
	return 0;
}

static void config_defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->mode = CONFIG_MODE_HTTP;
	cfg->http_port = 8080;
	cfg->https_port = 8443;
	cfg->root = NULL; /* resolved by the caller: the bundled www/ */
	cfg->workers = 0; /* one per online CPU */
	cfg->max_conns = 10000;
	cfg->max_cgi = 64;
	cfg->max_body_bytes = 64ull << 20;
	cfg->header_timeout_ms = 20000;
	cfg->body_timeout_ms = 20000;
	cfg->idle_timeout_ms = 60000;
	cfg->tls_handshake_timeout_ms = 10000;
	cfg->cgi_timeout_ms = 30000;
	cfg->write_timeout_ms = 60000;
	cfg->shutdown_timeout_ms = 10000;
	cfg->cgi_max_time_ms = 600000;
	cfg->min_body_rate = 500;
	cfg->min_send_rate = 500;
	cfg->log_level = LOG_LVL_INFO;
	cfg->require_host = true;
	char err[64];
	(void)proxy_trust_parse("127.0.0.0/8,::1", &cfg->status_allow, err, sizeof(err));
}

/* The long name of an option (the first one listed for it). */
static const char *option_name(int opt)
{
	for (const struct option *o = long_options; o->name; o++)
		if (o->val == opt)
			return o->name;
	return "option";
}

/* One line naming the problem and a pointer to --help, as GNU tools do: a
 * page of usage would push the one line that matters off the screen. */
static enum config_result usage_error(FILE *err, const char *what, const char *arg)
{
	fprintf(err, "lisod: %s%s%s%s\n", what, arg ? " '" : "", arg ? arg : "", arg ? "'" : "");
	fputs("Try 'lisod --help' for more information.\n", err);
	return CONFIG_EXIT_USAGE;
}

static int parse_bool(const char *s)
{
	static const char *const yes[] = { "yes", "on", "true", "1" };
	static const char *const no[] = { "no", "off", "false", "0" };
	for (int i = 0; i < 4; i++) {
		if (strcmp(s, yes[i]) == 0)
			return 1;
		if (strcmp(s, no[i]) == 0)
			return 0;
	}
	return -1;
}

static int parse_level(const char *s)
{
	static const char *const names[] = { "error", "warn", "info", "debug" };
	for (int i = 0; i < 4; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -1;
}

/* Apply one option; returns a message naming the problem, or NULL. */
static const char *config_apply(struct config *cfg, int opt, const char *arg, bool *foreground,
				int *host_choice)
{
	uint64_t v;
	switch (opt) {
	case 'f': *foreground = true; return NULL;
	case OPT_DAEMON: cfg->daemonize = true; return NULL;
	case 't': cfg->test_config = true; return NULL;
	case OPT_USER:
		cfg->user = arg;
		return *arg ? NULL : "empty user";
	case OPT_CGI_AS_ROOT: cfg->cgi_as_root = true; return NULL;
	case OPT_ECHO:
		cfg->mode = CONFIG_MODE_ECHO;
		return parse_port(arg, &cfg->echo_port) < 0 || cfg->echo_port == 0
			       ? "invalid echo port" : NULL;
	case OPT_HTTP_PORT: return parse_port(arg, &cfg->http_port) < 0 ? "invalid HTTP port" : NULL;
	case OPT_HTTPS_PORT: return parse_port(arg, &cfg->https_port) < 0 ? "invalid HTTPS port" : NULL;
	case OPT_LISTEN: cfg->listen_addr = arg; return NULL;
	case OPT_LOG: cfg->log_path = arg; return NULL;
	case OPT_ACCESS_LOG: cfg->access_log_path = arg; return NULL;
	case OPT_LOCK: cfg->lock_path = arg; return NULL;
	case OPT_ROOT: cfg->root = arg; return NULL;
	case OPT_CGI: cfg->cgi_path = arg; return NULL;
	case OPT_KEY: cfg->key_path = arg; return NULL;
	case OPT_CERT: cfg->cert_path = arg; return NULL;
	case OPT_WORKERS:
		if (parse_u64(arg, 256, &v) < 0)
			return "invalid worker count";
		cfg->workers = (unsigned)v;
		return NULL;
	case OPT_MAX_CONNS:
		if (parse_u64(arg, 1000000, &v) < 0 || v == 0)
			return "invalid connection limit";
		cfg->max_conns = (unsigned)v;
		return NULL;
	case OPT_MAX_CGI:
		if (parse_u64(arg, 100000, &v) < 0)
			return "invalid CGI limit";
		cfg->max_cgi = (unsigned)v;
		return NULL;
	case OPT_MAX_BODY:
		return parse_u64(arg, INT64_MAX, &cfg->max_body_bytes) < 0 ? "invalid body limit" : NULL;
	case OPT_HEADER_TIMEOUT: return parse_duration_ms(arg, &cfg->header_timeout_ms) ? "invalid time" : NULL;
	case OPT_BODY_TIMEOUT: return parse_duration_ms(arg, &cfg->body_timeout_ms) ? "invalid time" : NULL;
	case OPT_IDLE_TIMEOUT: return parse_duration_ms(arg, &cfg->idle_timeout_ms) ? "invalid time" : NULL;
	case OPT_TLS_TIMEOUT: return parse_duration_ms(arg, &cfg->tls_handshake_timeout_ms) ? "invalid time" : NULL;
	case OPT_CGI_TIMEOUT: return parse_duration_ms(arg, &cfg->cgi_timeout_ms) ? "invalid time" : NULL;
	case OPT_WRITE_TIMEOUT: return parse_duration_ms(arg, &cfg->write_timeout_ms) ? "invalid time" : NULL;
	case OPT_SHUTDOWN_TIMEOUT: return parse_duration_ms(arg, &cfg->shutdown_timeout_ms) ? "invalid time" : NULL;
	case OPT_CGI_MAX_TIME: return parse_duration_ms(arg, &cfg->cgi_max_time_ms) ? "invalid time" : NULL;
	case OPT_MIN_BODY_RATE:
		if (parse_u64(arg, UINT32_MAX, &v) < 0)
			return "invalid rate";
		cfg->min_body_rate = (unsigned)v;
		return NULL;
	case OPT_MIN_SEND_RATE:
		if (parse_u64(arg, UINT32_MAX, &v) < 0)
			return "invalid rate";
		cfg->min_send_rate = (unsigned)v;
		return NULL;
	case OPT_REQUIRE_HOST: {
		int b = parse_bool(arg);
		if (b < 0)
			return "expected yes or no";
		*host_choice = b;
		return NULL;
	}
	case OPT_PROXY_PROTOCOL:
	case OPT_STATUS_ALLOW: {
		char why[96];
		cfg->proxy_protocol |= opt == OPT_PROXY_PROTOCOL;
		struct proxy_trust *t = opt == OPT_PROXY_PROTOCOL ? &cfg->proxy_trust
								 : &cfg->status_allow;
		return proxy_trust_parse(arg, t, why, sizeof(why)) < 0
			       ? "expected networks ADDRESS[/BITS],... (at most 16)" : NULL;
	}
	case OPT_HEALTH_PATH:
	case OPT_STATUS_PATH:
		if (arg[0] != '/' || strpbrk(arg, "?# "))
			return "expected a path like /healthz";
		*(opt == OPT_HEALTH_PATH ? &cfg->health_path : &cfg->status_path) = arg;
		return NULL;
	case OPT_DRAIN_DELAY:
		return parse_duration_ms(arg, &cfg->drain_delay_ms) ? "invalid time" : NULL;
	case OPT_LOG_LEVEL:
		cfg->log_level = parse_level(arg);
		return cfg->log_level < 0 ? "invalid log level" : NULL;
	default: return "unknown option";
	}
}

static enum config_result config_positional(struct config *cfg, char **args, FILE *err)
{
	if (parse_port(args[0], &cfg->http_port) < 0)
		return usage_error(err, "invalid HTTP port", args[0]);
	if (parse_port(args[1], &cfg->https_port) < 0)
		return usage_error(err, "invalid HTTPS port", args[1]);
	cfg->log_path = args[2];
	cfg->lock_path = args[3];
	cfg->root = args[4];
	cfg->cgi_path = args[5];
	cfg->key_path = args[6];
	cfg->cert_path = args[7];
	for (int i = 2; i < 8; i++)
		if (!*args[i])
			return usage_error(err, "empty argument", NULL);
	return CONFIG_OK;
}

enum config_result config_parse(struct config *cfg, int argc, char **argv, FILE *out, FILE *err)
{
	config_defaults(cfg);
	bool foreground = false;
	int host_choice = -1; /* --require-host not given */
	opterr = 0;
	optind = 0; /* glibc's full reset: 1 would resume inside an old "-ab" cluster */
	int opt;
	while ((opt = getopt_long(argc, argv, "+:hVft", long_options, NULL)) != -1) {
		if (opt == 'h') {
			config_usage(out);
			return CONFIG_EXIT_OK;
		}
		if (opt == 'V') {
			fprintf(out, "%s %s (%s)\n", LISOD_NAME, LISOD_VERSION, LISOD_SERVER_HEADER);
			return CONFIG_EXIT_OK;
		}
		if (opt == '?') {
			/* An unknown short option inside a cluster ("-xf") is not
			 * argv[optind - 1]: getopt names it in optopt. For a long
			 * option optopt is 0 or the option's own value. */
			bool unknown_short = optopt > 0 && optopt < 256 && !strchr("hVft", optopt);
			char shortopt[3] = { '-', (char)optopt, '\0' };
			return usage_error(err, "unknown option",
					   unknown_short ? shortopt : argv[optind - 1]);
		}
		if (opt == ':')
			return usage_error(err, "missing value for", argv[optind - 1]);
		const char *problem = config_apply(cfg, opt, optarg, &foreground, &host_choice);
		if (problem) {
			char what[128];
			snprintf(what, sizeof(what), "%s for --%s:", problem, option_name(opt));
			return usage_error(err, what, optarg ? optarg : argv[optind - 1]);
		}
	}
	int rest = argc - optind;
	if (rest == 8) {
		if (cfg->mode == CONFIG_MODE_ECHO)
			return usage_error(err, "--echo takes no positional arguments", NULL);
		enum config_result r = config_positional(cfg, argv + optind, err);
		if (r != CONFIG_OK)
			return r;
		cfg->daemonize = true;
		/* The course's graders send HTTP/1.1 without Host (spec §3). */
		cfg->require_host = false;
	} else if (rest != 0) {
		return usage_error(err, "expected 0 or 8 positional arguments, got", argv[optind]);
	}
	if (host_choice >= 0)
		cfg->require_host = host_choice;
	if (foreground)
		cfg->daemonize = false;
	if (cfg->daemonize && !cfg->lock_path)
		return usage_error(err, "--daemon needs --lock", NULL);
	if ((cfg->key_path == NULL) != (cfg->cert_path == NULL))
		return usage_error(err, "--key and --cert go together", NULL);
	return CONFIG_OK;
}
