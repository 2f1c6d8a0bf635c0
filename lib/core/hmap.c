/* hmap: see hmap.h.  Linear probing, power-of-two capacity, load <= 1/2. */
#include "hmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

struct hmap_slot {
	const char *key;
	size_t value;
	uint64_t hash;
};

struct hmap {
	struct hmap_slot *slots;
	size_t cap;
	size_t count;
};

static uint64_t
hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

struct hmap *
hmap_new(size_t expected)
{
	struct hmap *m = xcalloc(1, sizeof(*m));

	m->cap = 16;
	while (m->cap < expected * 2)
		m->cap *= 2;
	m->slots = xcalloc(m->cap, sizeof(*m->slots));
	return m;
}

void
hmap_free(struct hmap *m)
{
	if (m == NULL)
		return;
	free(m->slots);
	free(m);
}

static void
hmap_grow(struct hmap *m)
{
	struct hmap_slot *old = m->slots;
	size_t oldcap = m->cap;

	m->cap *= 2;
	m->slots = xcalloc(m->cap, sizeof(*m->slots));
	for (size_t i = 0; i < oldcap; i++) {
		size_t j;

		if (old[i].key == NULL)
			continue;
		j = old[i].hash & (m->cap - 1);
		while (m->slots[j].key)
			j = (j + 1) & (m->cap - 1);
		m->slots[j] = old[i];
	}
	free(old);
}

int
hmap_put(struct hmap *m, const char *key, size_t value)
{
	uint64_t h = hash_str(key);
	size_t j;

	if ((m->count + 1) * 2 > m->cap)
		hmap_grow(m);
	j = h & (m->cap - 1);
	while (m->slots[j].key) {
		if (m->slots[j].hash == h && strcmp(m->slots[j].key, key) == 0)
			return 1;
		j = (j + 1) & (m->cap - 1);
	}
	m->slots[j].key = key;
	m->slots[j].value = value;
	m->slots[j].hash = h;
	m->count++;
	return 0;
}

int
hmap_get(const struct hmap *m, const char *key, size_t *value)
{
	uint64_t h = hash_str(key);
	size_t j = h & (m->cap - 1);

	while (m->slots[j].key) {
		if (m->slots[j].hash == h &&
		    strcmp(m->slots[j].key, key) == 0) {
			*value = m->slots[j].value;
			return 0;
		}
		j = (j + 1) & (m->cap - 1);
	}
	return -1;
}

size_t
hmap_count(const struct hmap *m)
{
	return m->count;
}
