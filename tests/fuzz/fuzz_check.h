/* CHECK(): abort with the failed invariant, so libFuzzer records a crash. */
#ifndef LISOD_FUZZ_CHECK_H
#define LISOD_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(c)                                                                 \
	do {                                                                     \
		if (!(c)) {                                                      \
			fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, \
				__LINE__, #c);                                   \
			abort();                                                 \
		}                                                                \
	} while (0)

#endif
