/*
 * Fuzz target for the configuration file (config_file.c over libinih, and
 * the sites config.c resolves from it): the input is the file, read by
 * config_parse as `lisod -c FILE` reads it (from a memfd: no disk).
 * Invariants: the result is OK or a failure (never a usage error: argv is
 * fine), every line printed starts "lisod: "; on OK there is at least one
 * site, exactly one default, every site has a root and at most the limits
 * of hosts and index names, every host is in normal form, and every exact
 * host routes to its own site; config_free releases everything (ASan's leak
 * check sees the rest).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"
#include "fuzz_check.h"
#include "site_route.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_sites(const struct config *cfg)
{
	CHECK(cfg->site_count >= 1 && cfg->site_count <= CONFIG_SITES_MAX);
	CHECK(cfg->default_site < cfg->site_count);
	unsigned defaults = 0;
	for (unsigned i = 0; i < cfg->site_count; i++) {
		const struct site *s = &cfg->sites[i];
		defaults += s->is_default;
		CHECK(s->name && s->root);
		CHECK(s->host_count <= CONFIG_HOSTS_MAX);
		CHECK(s->index_count >= 1 && s->index_count <= CONFIG_INDEX_MAX);
		CHECK((s->key_path == NULL) == (s->cert_path == NULL));
		CHECK(s->host_count > 0 || i == cfg->default_site);
		for (unsigned h = 0; h < s->host_count; h++) {
			char norm[CONFIG_NAME_MAX + 3];
			CHECK(site_pattern_normalize(s->hosts[h], norm, sizeof(norm)) == NULL);
			CHECK(strcmp(norm, s->hosts[h]) == 0);
		}
	}
	CHECK(defaults == 1 && cfg->sites[cfg->default_site].is_default);
	struct site_router *r = site_router_new(cfg);
	CHECK(r != NULL);
	for (unsigned i = 0; i < cfg->site_count; i++)
		for (unsigned h = 0; h < cfg->sites[i].host_count; h++) {
			const char *name = cfg->sites[i].hosts[h];
			if (name[0] != '*')
				CHECK(site_router_find(r, name, strlen(name)) == (int)i);
		}
	site_router_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = memfd_create("lisod-fuzz-config", MFD_CLOEXEC);
	CHECK(fd >= 0);
	CHECK(write(fd, data, size) == (ssize_t)size);
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	char *argv[] = { "lisod", "-c", path, NULL };
	char *out_text = NULL, *err_text = NULL;
	size_t out_len = 0, err_len = 0;
	FILE *out = open_memstream(&out_text, &out_len);
	FILE *err = open_memstream(&err_text, &err_len);
	CHECK(out && err);
	struct config cfg;
	enum config_result rc = config_parse(&cfg, 3, argv, out, err);
	fclose(out);
	fclose(err);
	close(fd);
	CHECK(rc == CONFIG_OK || rc == CONFIG_EXIT_FAIL);
	CHECK(out_len == 0);
	CHECK((rc == CONFIG_OK) == (err_len == 0));
	for (const char *line = err_text; line && *line;) {
		CHECK(strncmp(line, "lisod: ", 7) == 0);
		const char *nl = strchr(line, '\n');
		CHECK(nl != NULL);
		line = nl + 1;
	}
	if (rc == CONFIG_OK)
		check_sites(&cfg);
	config_free(&cfg);
	free(out_text);
	free(err_text);
	return 0;
}
