/*
 * core/ratelimit.c - fixed-window counters in a fixed-size table
 * (core/ratelimit.h).
 */
#include "core/ratelimit.h"

#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#define SETS (RATELIMIT_SLOTS / RATELIMIT_WAYS)

struct entry {
	char key[RATELIMIT_KEY_MAX]; /* "" = free */
	int64_t start;
	unsigned count;
};

struct ratelimit {
	int window_s;
	uint64_t seed;
	struct entry e[RATELIMIT_SLOTS];
};

/* FNV-1a over the seed and the key: the seed is random so that a client
 * cannot pick keys that all fall into one set. */
static size_t set_of(const struct ratelimit *rl, const char *key)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ rl->seed;

	/* over the part of the key that is stored */
	for (size_t i = 0; i < RATELIMIT_KEY_MAX - 1 && key[i]; i++)
		h = (h ^ (unsigned char)key[i]) * 0x100000001b3ULL;
	h ^= h >> 29;
	return (size_t)(h % SETS) * RATELIMIT_WAYS;
}

static bool over(const struct ratelimit *rl, const struct entry *e, int64_t now)
{
	return now - e->start >= rl->window_s || now < e->start;
}

/* The entry of key (truncated like stored keys), or NULL. */
static struct entry *find(const struct ratelimit *rl, const char *key)
{
	struct entry *set = (struct entry *)&rl->e[set_of(rl, key)];

	for (int i = 0; i < RATELIMIT_WAYS; i++)
		if (set[i].key[0] && strncmp(set[i].key, key, RATELIMIT_KEY_MAX - 1) == 0)
			return &set[i];
	return NULL;
}

struct ratelimit *ratelimit_new(int window_s)
{
	struct ratelimit *rl;

	if (window_s < 1 || !(rl = calloc(1, sizeof(*rl))))
		return NULL;
	rl->window_s = window_s;
	if (RAND_bytes((unsigned char *)&rl->seed, sizeof(rl->seed)) != 1) {
		free(rl);
		return NULL;
	}
	return rl;
}

void ratelimit_free(struct ratelimit *rl)
{
	free(rl);
}

unsigned ratelimit_count(const struct ratelimit *rl, const char *key, int64_t now)
{
	const struct entry *e = key && key[0] ? find(rl, key) : NULL;

	return e && !over(rl, e, now) ? e->count : 0;
}

unsigned ratelimit_hit(struct ratelimit *rl, const char *key, int64_t now, unsigned *ended)
{
	struct entry *e, *set, *victim = NULL;
	size_t n;

	if (ended)
		*ended = 0;
	if (!key || !key[0])
		return 0;
	if ((e = find(rl, key)) != NULL) {
		if (over(rl, e, now)) {
			if (ended)
				*ended = e->count;
			e->start = now;
			e->count = 0;
		}
		if (e->count < UINT_MAX)
			e->count++;
		return e->count;
	}
	/* A free entry, else one whose window is over, else the oldest. */
	set = &rl->e[set_of(rl, key)];
	for (int i = 0; i < RATELIMIT_WAYS && !victim; i++)
		if (!set[i].key[0])
			victim = &set[i];
	for (int i = 0; i < RATELIMIT_WAYS && !victim; i++)
		if (over(rl, &set[i], now))
			victim = &set[i];
	if (!victim) {
		victim = &set[0];
		for (int i = 1; i < RATELIMIT_WAYS; i++)
			if (set[i].start < victim->start)
				victim = &set[i];
	}
	n = strnlen(key, RATELIMIT_KEY_MAX - 1);
	memcpy(victim->key, key, n);
	victim->key[n] = '\0';
	victim->start = now;
	victim->count = 1;
	return 1;
}

void ratelimit_expire(struct ratelimit *rl, int64_t now, ratelimit_ended_cb cb, void *arg)
{
	for (size_t i = 0; i < RATELIMIT_SLOTS; i++) {
		struct entry *e = &rl->e[i];
		if (!e->key[0] || !over(rl, e, now))
			continue;
		if (cb)
			cb(arg, e->key, e->count);
		e->key[0] = '\0';
		e->count = 0;
	}
}

unsigned ratelimit_size(const struct ratelimit *rl)
{
	unsigned n = 0;

	for (size_t i = 0; i < RATELIMIT_SLOTS; i++)
		n += rl->e[i].key[0] != '\0';
	return n;
}
