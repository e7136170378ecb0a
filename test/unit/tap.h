/*
 * test/unit/tap.h - minimal TAP producer for unit tests run by meson test
 * (protocol: 'tap'). Header-only; one test program per module.
 */
#ifndef CMPGW_TEST_TAP_H
#define CMPGW_TEST_TAP_H

#include <stdio.h>
#include <string.h>

static int tap_n, tap_failed;

#define ok(cond, ...)                                                                              \
	do {                                                                                       \
		int ok_c_ = !!(cond);                                                              \
		tap_n++;                                                                           \
		if (!ok_c_)                                                                        \
			tap_failed++;                                                              \
		printf("%sok %d - ", ok_c_ ? "" : "not ", tap_n);                                  \
		printf(__VA_ARGS__);                                                               \
		printf("\n");                                                                      \
		if (!ok_c_)                                                                        \
			printf("#   failed at %s:%d: %s\n", __FILE__, __LINE__, #cond);            \
	} while (0)

#define is_int(got, want, ...)                                                                     \
	do {                                                                                       \
		long g_ = (long)(got), w_ = (long)(want);                                          \
		ok(g_ == w_, __VA_ARGS__);                                                         \
		if (g_ != w_)                                                                      \
			printf("#   got %ld, want %ld\n", g_, w_);                                 \
	} while (0)

static inline int tap_done(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}

#endif
