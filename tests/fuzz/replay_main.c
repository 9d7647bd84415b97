/*
 * Replays fuzz inputs without libFuzzer: each argument is a file or a
 * directory of files, each fed once to LLVMFuzzerTestOneInput. Missing
 * paths are skipped. Prints how many inputs ran; a failed invariant aborts.
 */
#include <dirent.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *data = NULL;
	size_t len = 0, cap = 0;

	if (f == NULL) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	for (;;) {
		size_t n;

		if (len == cap) {
			uint8_t *p;

			cap = cap ? cap * 2 : 4096;
			p = realloc(data, cap);
			if (p == NULL) {
				free(data);
				fclose(f);
				return -1;
			}
			data = p;
		}
		n = fread(data + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	fclose(f);
	LLVMFuzzerTestOneInput(data, len);
	free(data);
	return 0;
}

int main(int argc, char **argv)
{
	int i, count = 0, errors = 0;

	for (i = 1; i < argc; i++) {
		struct stat st;
		DIR *d;
		struct dirent *e;

		if (stat(argv[i], &st) != 0)
			continue; /* a missing corpus is fine */
		if (!S_ISDIR(st.st_mode)) {
			if (replay_file(argv[i]) == 0)
				count++;
			else
				errors++;
			continue;
		}
		d = opendir(argv[i]);
		if (d == NULL)
			continue;
		while ((e = readdir(d)) != NULL) {
			char path[4096];
			struct stat fst;

			if (e->d_name[0] == '.')
				continue; /* ., .., .gitkeep */
			if (snprintf(path, sizeof(path), "%s/%s", argv[i],
				     e->d_name) >= (int)sizeof(path))
				continue;
			if (stat(path, &fst) != 0 || !S_ISREG(fst.st_mode))
				continue;
			if (replay_file(path) == 0)
				count++;
			else
				errors++;
		}
		closedir(d);
	}
	printf("%s: %d inputs replayed\n", argv[0], count);
	return errors ? 1 : 0;
}
