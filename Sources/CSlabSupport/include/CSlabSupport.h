#ifndef CSLABSUPPORT_H
#define CSLABSUPPORT_H

#include <stddef.h>
#include <stdint.h>

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

/// Registers the process for MEMBARRIER_CMD_PRIVATE_EXPEDITED.
/// Returns 0 on success, -errno otherwise.
int slab_membarrier_register(void);

/// Runs a full memory barrier on every CPU currently running a thread of
/// this process. Returns 0 on success, -errno otherwise.
int slab_membarrier(void);

/// Registers a destructor that runs when a thread that set its table exits.
int slab_thread_exit_hook(void (*destructor)(void *));
/// Arms the exit hook for the calling thread with its table.
int slab_thread_exit_arm(void *table);

#endif
