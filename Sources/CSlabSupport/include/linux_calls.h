#ifndef CSLABSUPPORT_LINUX_CALLS_H
#define CSLABSUPPORT_LINUX_CALLS_H

// Linux-only calls and constants that Swift's Glibc module leaves out: it is
// built without _GNU_SOURCE, so glibc's headers hide name_to_handle_at,
// renameat2, the xattr calls, O_PATH and the rest from it. linux_calls.c
// is compiled with _GNU_SOURCE and forwards to glibc; each function keeps
// glibc's contract (-1 with errno set on failure). The constants are
// checked against glibc's own definitions there at compile time.

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define LINUX_O_PATH 010000000
#define LINUX_O_NOATIME 01000000
#if defined(__aarch64__)
#define LINUX_O_DIRECT 0200000
#else
#define LINUX_O_DIRECT 040000
#endif
#define LINUX_AT_EMPTY_PATH 0x1000
#define LINUX_AT_SYMLINK_FOLLOW 0x400
#define LINUX_MAX_HANDLE_SZ 128
#define LINUX_RENAME_NOREPLACE 1
#define LINUX_RENAME_EXCHANGE 2
#define LINUX_RENAME_WHITEOUT 4
#define LINUX_FALLOC_FL_KEEP_SIZE 0x01
#define LINUX_FALLOC_FL_PUNCH_HOLE 0x02
#define LINUX_FALLOC_FL_COLLAPSE_RANGE 0x08
#define LINUX_FALLOC_FL_ZERO_RANGE 0x10
#define LINUX_FALLOC_FL_INSERT_RANGE 0x20
#define LINUX_FALLOC_FL_UNSHARE_RANGE 0x40
#define LINUX_SEEK_DATA 3
#define LINUX_SEEK_HOLE 4
#define LINUX_UTIME_NOW 1073741823L // (1 << 30) - 1
#define LINUX_UTIME_OMIT 1073741822L // (1 << 30) - 2
#define LINUX_XATTR_CREATE 1
#define LINUX_XATTR_REPLACE 2

/// `handle` points at a struct file_handle whose handle_bytes says its capacity.
int linux_name_to_handle_at(int directory, const char *path, void *handle, int *mount_id, int flags);
int linux_open_by_handle_at(int mount, void *handle, int flags);
int linux_renameat2(int old_directory, const char *old_path, int new_directory, const char *new_path,
                    unsigned int flags);
ssize_t linux_copy_file_range(int source, int64_t *source_offset, int target, int64_t *target_offset,
                              size_t count, unsigned int flags);
int linux_fallocate(int fd, int mode, int64_t offset, int64_t length);
ssize_t linux_getdents64(int fd, void *buffer, size_t size);
/// setfsuid/setfsgid: return the previous id; an invalid id (-1) only asks.
int linux_setfsuid(uint32_t user);
int linux_setfsgid(uint32_t group);
/// The raw setgroups system call, for the calling thread only: glibc's
/// setgroups changes every thread of the process.
int linux_setgroups_thread(size_t count, const uint32_t *groups);
/// Sets the nice value of the calling thread only (Linux keeps one per
/// thread; setpriority on the process would change the first thread's).
int linux_set_thread_nice(int nice);

ssize_t linux_fgetxattr(int fd, const char *name, void *value, size_t size);
int linux_fsetxattr(int fd, const char *name, const void *value, size_t size, int flags);
ssize_t linux_flistxattr(int fd, char *list, size_t size);
int linux_fremovexattr(int fd, const char *name);
// The path forms follow the last link: they are only ever given a
// /proc/self/fd/N path, where following is what reaches the file.
ssize_t linux_getxattr(const char *path, const char *name, void *value, size_t size);
int linux_setxattr(const char *path, const char *name, const void *value, size_t size, int flags);
ssize_t linux_listxattr(const char *path, char *list, size_t size);
int linux_removexattr(const char *path, const char *name);

#endif
