#define _GNU_SOURCE
#include "CSlabSupport.h"

#include <errno.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

_Thread_local void *slab_thread_table = NULL;

int slab_membarrier_register(void) {
    long rc = syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0);
    return rc == 0 ? 0 : -errno;
}

int slab_membarrier(void) {
    long rc = syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0);
    return rc == 0 ? 0 : -errno;
}

int slab_eventfd(void) {
    int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    return fd >= 0 ? fd : -errno;
}

static pthread_key_t exit_key;
static pthread_once_t exit_once = PTHREAD_ONCE_INIT;
static void (*exit_destructor)(void *);
static int exit_key_rc;

static void make_exit_key(void) { exit_key_rc = pthread_key_create(&exit_key, exit_destructor); }

int slab_thread_exit_hook(void (*destructor)(void *)) {
    exit_destructor = destructor;
    pthread_once(&exit_once, make_exit_key);
    return exit_key_rc;
}

int slab_thread_exit_arm(void *table) {
    if (exit_key_rc != 0) return exit_key_rc;
    return pthread_setspecific(exit_key, table);
}
