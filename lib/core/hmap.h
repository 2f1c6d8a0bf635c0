/*
 * hmap: an open-addressing hash map from borrowed C strings to size_t.
 *
 * Keys are not copied: they must outlive the map (they are normally task
 * ids owned by a struct workflow).  Used to resolve dependsOn names in
 * O(1) so that a 100,000-task workflow validates in well under a second.
 */
#ifndef LOOM_HMAP_H
#define LOOM_HMAP_H

#include <stddef.h>

struct hmap;

struct hmap *hmap_new(size_t expected);
void hmap_free(struct hmap *m);
/* Returns 0 when inserted, 1 when the key was already present (unchanged). */
int hmap_put(struct hmap *m, const char *key, size_t value);
/* Returns 0 and sets *value when found, -1 when not. */
int hmap_get(const struct hmap *m, const char *key, size_t *value);
size_t hmap_count(const struct hmap *m);

#endif
