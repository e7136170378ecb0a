/*
 * test/unit/core/test_ratelimit.c - core/ratelimit: counting within a
 * window, roll-over reporting the ended window, expiry, truncated keys,
 * and a table that never grows past RATELIMIT_SLOTS whatever the keys.
 */
#include <stdio.h>
#include <string.h>

#include "core/ratelimit.h"
#include "test/unit/tap.h"

static unsigned sum_ended;
static unsigned n_ended;

static void on_ended(void *arg, const char *key, unsigned count)
{
	(void)arg;
	(void)key;
	sum_ended += count;
	n_ended++;
}

static void test_window(void)
{
	struct ratelimit *rl = ratelimit_new(60);
	unsigned ended = 99, c = 0;

	ok(rl != NULL, "new");
	ok(ratelimit_new(0) == NULL, "window 0 refused");
	is_int(ratelimit_count(rl, "10.0.0.1", 1000), 0, "unknown key counts 0");
	for (int i = 0; i < 11; i++)
		c = ratelimit_hit(rl, "10.0.0.1", 1000 + i, &ended);
	is_int(c, 11, "11 events in the window");
	is_int(ended, 0, "no window ended yet");
	is_int(ratelimit_count(rl, "10.0.0.1", 1059), 11, "still counted at 59 s");
	is_int(ratelimit_count(rl, "10.0.0.2", 1059), 0, "other key separate");
	is_int(ratelimit_count(rl, "10.0.0.1", 1060), 0, "window over at 60 s");
	c = ratelimit_hit(rl, "10.0.0.1", 1061, &ended);
	is_int(c, 1, "new window starts at 1");
	is_int(ended, 11, "ended window reported with its count");
	is_int(ratelimit_count(rl, "10.0.0.1", 900), 0, "clock going back ends the window");
	ok(ratelimit_hit(rl, "", 1, NULL) == 0 && ratelimit_hit(rl, NULL, 1, NULL) == 0,
	   "empty key not counted");
	ratelimit_free(rl);
	ratelimit_free(NULL);
}

static void test_expire(void)
{
	struct ratelimit *rl = ratelimit_new(60);

	ratelimit_hit(rl, "a", 0, NULL);
	ratelimit_hit(rl, "a", 1, NULL);
	ratelimit_hit(rl, "b", 30, NULL);
	sum_ended = n_ended = 0;
	ratelimit_expire(rl, 59, on_ended, NULL);
	is_int(n_ended, 0, "nothing expires before 60 s");
	ratelimit_expire(rl, 60, on_ended, NULL);
	is_int(n_ended, 1, "one window over at 60 s");
	is_int(sum_ended, 2, "its count reported");
	is_int(ratelimit_size(rl), 1, "its entry freed");
	is_int(ratelimit_count(rl, "b", 60), 1, "the other kept");
	ratelimit_free(rl);
}

static void test_truncated(void)
{
	struct ratelimit *rl = ratelimit_new(60);
	char k1[200], k2[200];

	memset(k1, 'x', sizeof(k1) - 1);
	k1[sizeof(k1) - 1] = '\0';
	memcpy(k2, k1, sizeof(k2));
	k2[150] = 'y'; /* differs past RATELIMIT_KEY_MAX: same entry */
	ratelimit_hit(rl, k1, 0, NULL);
	is_int(ratelimit_hit(rl, k2, 1, NULL), 2, "long keys share their truncated entry");
	ratelimit_free(rl);
}

static void test_bounded(void)
{
	struct ratelimit *rl = ratelimit_new(60);
	char key[32];
	unsigned kept;

	for (int i = 0; i < 100000; i++) {
		snprintf(key, sizeof(key), "192.0.%d.%d", i / 256, i % 256);
		ratelimit_hit(rl, key, i / 1000, NULL);
	}
	ok(ratelimit_size(rl) <= RATELIMIT_SLOTS, "100,000 keys: at most RATELIMIT_SLOTS entries");
	/* the most recent keys survive eviction of the oldest */
	kept = 0;
	for (int i = 100000 - 100; i < 100000; i++) {
		snprintf(key, sizeof(key), "192.0.%d.%d", i / 256, i % 256);
		kept += ratelimit_count(rl, key, 99) == 1;
	}
	is_int(kept, 100, "the 100 newest keys are all counted");
	ratelimit_free(rl);
}

int main(void)
{
	test_window();
	test_expire();
	test_truncated();
	test_bounded();
	return tap_done();
}
