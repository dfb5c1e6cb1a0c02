// Runs the kernels that share local memory between work-items on the host: the OpenCL C
// source compiled as C, one POSIX thread per work-item, a work-group at a time, under
// ThreadSanitizer (local_memory_races.rs builds and runs this).
//
// Why: PoCL and llvmpipe run a work-group's items one after another between barriers, so a
// missing barrier is invisible there whenever the reader happens to run after the writer;
// on a GPU the items run at once and such a kernel computes wrong results only sometimes.
// ThreadSanitizer does not depend on the order the items happen to run in: two accesses to
// one word by different items, at least one a write, with no barrier between them, are a
// race whatever the timing. The barrier below also reports what OpenCL leaves undefined
// and a GPU may hang on: items of one group waiting at different barriers, or passing
// different numbers of them.
//
// The source is included as OpenCL C with its builtins defined here: __local arrays become
// `static`, shared by the group's threads as local memory is by its items.
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef uint32_t uint;
typedef uint64_t ulong;
#define __kernel
#define __global
#define __local static
#define CLK_LOCAL_MEM_FENCE 0
#ifdef HOST_NO_BARRIERS
// The control build: without its barriers every local-memory kernel races, and the test
// checks that ThreadSanitizer says so.
#define barrier(flags) ((void)0)
#else
#define barrier(flags) group_barrier(__LINE__)
#endif
#define get_local_id(dim) ((size_t)item_id)
#define get_global_id(dim) ((size_t)group_id * GROUP + item_id)
#define atomic_add(p, v) __atomic_fetch_add((p), (v), __ATOMIC_RELAXED)

static _Thread_local uint32_t item_id;
// Set by the main thread before it starts a group's threads.
static uint32_t group_id;
static void group_barrier(int line);

#include "kernels.cl"

// The barrier of one work-group: every live item must arrive at the same source line.
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t released = PTHREAD_COND_INITIALIZER;
static uint32_t live, arrived, generation;
static int waiting_line;
static unsigned long barriers_passed;
static int failures;

static void release_all(void) {
    arrived = 0;
    generation++;
    barriers_passed++;
    pthread_cond_broadcast(&released);
}

static void group_barrier(int line) {
    pthread_mutex_lock(&lock);
    if (arrived == 0) {
        waiting_line = line;
    } else if (line != waiting_line) {
        fprintf(stderr, "group %u: items wait at barriers on lines %d and %d\n", group_id,
                waiting_line, line);
        failures++;
    }
    uint32_t mine = generation;
    if (++arrived == live) {
        release_all();
    } else {
        while (mine == generation) pthread_cond_wait(&released, &lock);
    }
    pthread_mutex_unlock(&lock);
}

// An item returned: the others must not be waiting for it.
static void item_done(void) {
    pthread_mutex_lock(&lock);
    live--;
    if (arrived > 0) {
        fprintf(stderr, "group %u: an item returned while %u wait at the barrier on line %d\n",
                group_id, arrived, waiting_line);
        failures++;
        if (arrived == live) release_all();
    }
    pthread_mutex_unlock(&lock);
}

// One launch: a kernel call with its arguments, run by every item of the groups chosen.
typedef struct {
    const char *kernel;
    Fr *src, *dst;
    const Fr *twiddles, *pairs;
    uint *in, *out, *sums;
    uint log_n, s, k, n, count;
} Launch;

static void call_kernel(const Launch *a) {
    const char *name = a->kernel;
    if (!strcmp(name, "Fr_ntt_first")) {
        Fr_ntt_first(a->src, a->dst, a->twiddles, a->log_n, a->count);
    } else if (!strcmp(name, "Fr_ntt_first_shoup")) {
        Fr_ntt_first_shoup(a->src, a->dst, a->pairs, a->log_n, a->count);
    } else if (!strcmp(name, "Fr_ntt_sets_shoup")) {
        Fr_ntt_sets_shoup(a->src, a->dst, a->twiddles, a->pairs, a->log_n, a->s, a->k, a->count);
    } else if (!strcmp(name, "Fr_ntt_strided")) {
        Fr_ntt_strided(a->src, a->dst, a->twiddles, a->log_n, a->s, a->k, a->count);
    } else if (!strcmp(name, "Fr_ntt_first_radix4")) {
        Fr_ntt_first_radix4(a->src, a->dst, a->pairs, a->log_n, a->count);
    } else if (!strcmp(name, "Fr_ntt_sets_radix4")) {
        Fr_ntt_sets_radix4(a->src, a->dst, a->twiddles, a->pairs, a->log_n, a->s, a->k, a->count);
    } else if (!strcmp(name, "scan_blocks")) {
        scan_blocks(a->in, a->out, a->sums, a->n, a->count);
    } else {
        fprintf(stderr, "no kernel %s in the harness\n", name);
        exit(2);
    }
}

typedef struct {
    const Launch *launch;
    uint32_t id;
} Item;

static void *run_item(void *arg) {
    const Item *item = arg;
    item_id = item->id;
    call_kernel(item->launch);
    item_done();
    return NULL;
}

// The kernel to run alone (argv[1]), or NULL for all.
static const char *only;

// Runs groups 0, 1 and the last of a launch of `threads` items (the index arithmetic
// differs at the ends; every group runs the same code between them).
static void run(const Launch *launch, uint32_t threads) {
    if (only && strcmp(launch->kernel, only) != 0) return;
    uint32_t groups = threads / GROUP;
    uint32_t chosen[3] = {0, 1, groups - 1};
    unsigned long before = barriers_passed;
    for (int c = 0; c < 3; c++) {
        if (chosen[c] >= groups || (c > 0 && chosen[c] <= chosen[c - 1])) continue;
        group_id = chosen[c];
        live = GROUP;
        static pthread_t threads_of[GROUP];
        static Item items[GROUP];
        for (uint32_t i = 0; i < GROUP; i++) {
            items[i] = (Item){launch, i};
            if (pthread_create(&threads_of[i], NULL, run_item, &items[i]) != 0) {
                fprintf(stderr, "pthread_create failed\n");
                exit(2);
            }
        }
        for (uint32_t i = 0; i < GROUP; i++) pthread_join(threads_of[i], NULL);
    }
    printf("%s log_n=%u s=%u k=%u: %lu barriers\n", launch->kernel, launch->log_n, launch->s,
           launch->k, barriers_passed - before);
}

static void fill(uint32_t *words, size_t count, uint64_t *state) {
    for (size_t i = 0; i < count; i++) {
        *state = *state * 6364136223846793005ull + 1442695040888963407ull;
        words[i] = (uint32_t)(*state >> 32);
    }
}

int main(int argc, char **argv) {
    if (argc > 1 && argv[1][0]) only = argv[1];
    const uint log_group = LOG_2GROUP;
    // Sets passes of every k at s = LOG_2GROUP over two groups of sets (log_n = s + k + 1).
    const uint max_log_n = 2 * log_group;
    const size_t n_max = (size_t)1 << max_log_n;
    Fr *data = malloc(n_max * sizeof(Fr)), *out = malloc(n_max * sizeof(Fr));
    Fr *twiddles = malloc(n_max / 2 * sizeof(Fr)), *pairs = malloc(2 * GROUP * sizeof(Fr));
    uint *words = malloc(4 * GROUP * SCAN_ITEMS * sizeof(uint)), *sums = malloc(4 * sizeof(uint));
    if (!data || !out || !twiddles || !pairs || !words || !sums) return 2;
    uint64_t state = 1;
    fill((uint32_t *)data, n_max * LIMBS, &state);
    fill((uint32_t *)twiddles, n_max / 2 * LIMBS, &state);
    fill((uint32_t *)pairs, 2 * GROUP * LIMBS, &state);
    fill(words, 4 * GROUP * SCAN_ITEMS, &state);
    // First passes: n = 2 GROUP (one group, in place, as the host runs it) up to 2^3 GROUP.
    for (uint log_n = log_group; log_n <= log_group + 2; log_n++) {
        uint n = 1u << log_n;
        Fr *dst = log_n == log_group ? data : out;
        Launch a = {.src = data, .dst = dst, .twiddles = twiddles, .pairs = pairs, .log_n = log_n};
        a.count = n / 2;
        a.kernel = "Fr_ntt_first";
        run(&a, n / 2);
        a.kernel = "Fr_ntt_first_shoup";
        run(&a, n / 2);
        if (n >= 4 * GROUP) {
            a.kernel = "Fr_ntt_first_radix4";
            a.count = n / 4;
            run(&a, n / 4);
        }
    }
    // Later passes, in place as the host runs all but the last.
    for (uint k = 1; k < log_group; k++) {
        uint s = log_group, log_n = s + k + 1, n = 1u << log_n;
        Launch a = {.src = data, .dst = data, .twiddles = twiddles, .pairs = pairs, .log_n = log_n,
                    .s = s, .k = k, .count = n / 2};
        a.kernel = "Fr_ntt_strided";
        run(&a, n / 2);
        a.kernel = "Fr_ntt_sets_shoup";
        run(&a, n / 2);
        if (k >= 4) {
            a.kernel = "Fr_ntt_sets_radix4";
            a.count = n / 4;
            run(&a, n / 4);
        }
    }
    // Prefix sums: two full blocks and a part, in place as the host's second level runs.
    {
        uint n = 2 * GROUP * SCAN_ITEMS + 5;
        Launch a = {.kernel = "scan_blocks", .in = words, .out = words, .sums = sums, .n = n};
        a.count = 3 * GROUP;
        run(&a, 3 * GROUP);
    }
    printf("%lu barriers in all, %d failures\n", barriers_passed, failures);
    return failures ? 1 : 0;
}
