#ifndef CSLABSUPPORT_H
#define CSLABSUPPORT_H

#include <malloc.h>
#include <stddef.h>
#include <stdint.h>

#include "linux_calls.h"

/// mallopt(M_ARENA_MAX, n): Swift's Glibc module does not export mallopt.
static inline int slab_set_malloc_arena_max(int n) { return mallopt(M_ARENA_MAX, n); }

/// The calling thread's table of per-thread object caches (owned by Slab).
extern _Thread_local void *slab_thread_table;

static inline void *slab_thread_table_get(void) { return slab_thread_table; }
static inline void slab_thread_table_set(void *table) { slab_thread_table = table; }

/// Orders the compiler only: no instruction is emitted. Paired with
/// slab_membarrier() on the other side, this makes a store-then-load on the
/// fast path as strong as a full fence without paying for one.
static inline void slab_compiler_barrier(void) {
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
}

// Atomics on raw addresses. In C rather than Swift's Atomic because TSan
// sees these as atomics; Swift's `UnsafeMutablePointer<Atomic<T>>.pointee`
// projection shows up to TSan as a plain access and floods it with false
// races. Same cost: each compiles to one instruction.
static inline uint32_t slab_load_u32(const void *p, int order) {
    return __atomic_load_n((const uint32_t *)p, order);
}
static inline void slab_store_u32(void *p, uint32_t v, int order) { __atomic_store_n((uint32_t *)p, v, order); }
static inline uint32_t slab_fetch_add_u32(void *p, uint32_t v) {
    return __atomic_fetch_add((uint32_t *)p, v, __ATOMIC_ACQ_REL);
}
static inline uint32_t slab_fetch_sub_u32(void *p, uint32_t v) {
    return __atomic_fetch_sub((uint32_t *)p, v, __ATOMIC_ACQ_REL);
}
/// Strong CAS; on failure *expected holds the current value.
static inline _Bool slab_cas_u32(void *p, uint32_t *expected, uint32_t desired) {
    return __atomic_compare_exchange_n((uint32_t *)p, expected, desired, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}
static inline uint64_t slab_load_u64(const void *p, int order) {
    return __atomic_load_n((const uint64_t *)p, order);
}
static inline void slab_store_u64(void *p, uint64_t v, int order) { __atomic_store_n((uint64_t *)p, v, order); }

static inline uint32_t slab_fetch_or_u32(void *p, uint32_t v) {
    return __atomic_fetch_or((uint32_t *)p, v, __ATOMIC_ACQ_REL);
}
static inline uint32_t slab_fetch_and_u32(void *p, uint32_t v) {
    return __atomic_fetch_and((uint32_t *)p, v, __ATOMIC_ACQ_REL);
}
static inline uint64_t slab_fetch_add_u64(void *p, uint64_t v) {
    return __atomic_fetch_add((uint64_t *)p, v, __ATOMIC_RELAXED);
}

enum {
    SLAB_RELAXED = __ATOMIC_RELAXED,
    SLAB_ACQUIRE = __ATOMIC_ACQUIRE,
    SLAB_RELEASE = __ATOMIC_RELEASE,
};

/// Registers the process for MEMBARRIER_CMD_PRIVATE_EXPEDITED.
/// Returns 0 on success, -errno otherwise.
int slab_membarrier_register(void);

/// Runs a full memory barrier on every CPU currently running a thread of
/// this process. Returns 0 on success, -errno otherwise.
int slab_membarrier(void);

/// A non-blocking, close-on-exec eventfd (the memory cgroup's pressure
/// notifications; Glibc's module does not export eventfd).
/// Returns the descriptor, or -errno.
int slab_eventfd(void);

/// Registers a destructor that runs when a thread that set its table exits.
int slab_thread_exit_hook(void (*destructor)(void *));
/// Arms the exit hook for the calling thread with its table.
int slab_thread_exit_arm(void *table);

#endif
