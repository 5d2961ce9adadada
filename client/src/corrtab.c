/*
 * The correlation table: a small chained hash table from correlation id to
 * the pending request, sized for thousands of requests in flight (it doubles
 * when the load passes 3/4), and the "recent" memory of finished ids that
 * lets the client tell a late or duplicate response from one for an id it
 * never sent. Both are used under the client's lock only.
 */
#include "client_int.h"

#include <stdlib.h>
#include <string.h>

typedef struct corrtab_node {
    struct corrtab_node *next;
    void *val;
    uint32_t hash;
    char key[];
} corrtab_node_t;

struct corrtab {
    corrtab_node_t **buckets;
    size_t n_buckets; /* a power of two */
    size_t count;
};

/* FNV-1a: short keys, no adversary (ids come from this client or the adapter). */
static uint32_t corrtab_hash(const char *key)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
        h ^= *p;
        h *= 16777619u;
    }
    return h;
}

corrtab_t *corrtab_new(size_t initial)
{
    corrtab_t *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->n_buckets = 16;
    while (t->n_buckets < initial)
        t->n_buckets *= 2;
    t->buckets = calloc(t->n_buckets, sizeof(*t->buckets));
    if (!t->buckets) {
        free(t);
        return NULL;
    }
    return t;
}

void corrtab_destroy(corrtab_t *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n_buckets; i++) {
        corrtab_node_t *n = t->buckets[i];
        while (n) {
            corrtab_node_t *next = n->next;
            free(n);
            n = next;
        }
    }
    free(t->buckets);
    free(t);
}

static void corrtab_grow(corrtab_t *t)
{
    size_t n = t->n_buckets * 2;
    corrtab_node_t **b = calloc(n, sizeof(*b));
    if (!b)
        return; /* keep working with longer chains */
    for (size_t i = 0; i < t->n_buckets; i++) {
        corrtab_node_t *node = t->buckets[i];
        while (node) {
            corrtab_node_t *next = node->next;
            node->next = b[node->hash & (n - 1)];
            b[node->hash & (n - 1)] = node;
            node = next;
        }
    }
    free(t->buckets);
    t->buckets = b;
    t->n_buckets = n;
}

static corrtab_node_t **corrtab_slot(const corrtab_t *t, const char *key, uint32_t h)
{
    corrtab_node_t **pp = &t->buckets[h & (t->n_buckets - 1)];
    while (*pp && ((*pp)->hash != h || strcmp((*pp)->key, key) != 0))
        pp = &(*pp)->next;
    return pp;
}

int corrtab_put(corrtab_t *t, const char *key, void *val)
{
    uint32_t h = corrtab_hash(key);
    if (*corrtab_slot(t, key, h))
        return -1;
    size_t len = strlen(key);
    corrtab_node_t *node = malloc(sizeof(*node) + len + 1);
    if (!node)
        return -1;
    node->val = val;
    node->hash = h;
    memcpy(node->key, key, len + 1);
    if (t->count + 1 > t->n_buckets / 4 * 3)
        corrtab_grow(t);
    corrtab_node_t **head = &t->buckets[h & (t->n_buckets - 1)];
    node->next = *head;
    *head = node;
    t->count++;
    return 0;
}

void *corrtab_get(const corrtab_t *t, const char *key)
{
    corrtab_node_t *node = *corrtab_slot(t, key, corrtab_hash(key));
    return node ? node->val : NULL;
}

void *corrtab_del(corrtab_t *t, const char *key)
{
    corrtab_node_t **pp = corrtab_slot(t, key, corrtab_hash(key));
    corrtab_node_t *node = *pp;
    if (!node)
        return NULL;
    *pp = node->next;
    void *val = node->val;
    free(node);
    t->count--;
    return val;
}

size_t corrtab_count(const corrtab_t *t)
{
    return t->count;
}

void corrtab_foreach(const corrtab_t *t, void (*fn)(const char *key, void *val, void *arg),
                     void *arg)
{
    for (size_t i = 0; i < t->n_buckets; i++)
        for (corrtab_node_t *n = t->buckets[i]; n; n = n->next)
            fn(n->key, n->val, arg);
}

/*
 * recent: a ring of the last `capacity` finished ids plus a corrtab from id
 * to (sequence << 2 | kind). The sequence tells whether the ring slot being
 * overwritten still owns the table entry (an id may finish twice when a
 * caller reuses it).
 */
struct recent {
    corrtab_t *tab;
    char **ring;
    uint64_t *ring_seq;
    size_t capacity;
    uint64_t seq;
};

recent_t *recent_new(size_t capacity)
{
    recent_t *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->capacity = capacity ? capacity : 1;
    r->tab = corrtab_new(r->capacity);
    r->ring = calloc(r->capacity, sizeof(*r->ring));
    r->ring_seq = calloc(r->capacity, sizeof(*r->ring_seq));
    if (!r->tab || !r->ring || !r->ring_seq) {
        recent_destroy(r);
        return NULL;
    }
    return r;
}

void recent_destroy(recent_t *r)
{
    if (!r)
        return;
    if (r->ring)
        for (size_t i = 0; i < r->capacity; i++)
            free(r->ring[i]);
    free(r->ring);
    free(r->ring_seq);
    corrtab_destroy(r->tab);
    free(r);
}

void recent_add(recent_t *r, const char *corr, recent_kind_t kind)
{
    uint64_t seq = ++r->seq;
    size_t slot = (size_t)(seq % r->capacity);
    if (r->ring[slot]) {
        uintptr_t v = (uintptr_t)corrtab_get(r->tab, r->ring[slot]);
        if (v && (v >> 2) == r->ring_seq[slot])
            corrtab_del(r->tab, r->ring[slot]);
        free(r->ring[slot]);
        r->ring[slot] = NULL;
    }
    corrtab_del(r->tab, corr);
    char *copy = strdup(corr);
    if (!copy)
        return;
    if (corrtab_put(r->tab, corr, (void *)(uintptr_t)((seq << 2) | (uint64_t)kind)) < 0) {
        free(copy);
        return;
    }
    r->ring[slot] = copy;
    r->ring_seq[slot] = seq;
}

recent_kind_t recent_get(const recent_t *r, const char *corr)
{
    uintptr_t v = (uintptr_t)corrtab_get(r->tab, corr);
    return v ? (recent_kind_t)(v & 3) : RECENT_NONE;
}

void recent_forget(recent_t *r, const char *corr)
{
    corrtab_del(r->tab, corr);
}
