#define _GNU_SOURCE
#include "linux_calls.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/fsuid.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <dirent.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

_Static_assert(LINUX_O_PATH == O_PATH, "O_PATH");
_Static_assert(LINUX_O_NOATIME == O_NOATIME, "O_NOATIME");
_Static_assert(LINUX_O_DIRECT == O_DIRECT, "O_DIRECT");
_Static_assert(LINUX_AT_EMPTY_PATH == AT_EMPTY_PATH, "AT_EMPTY_PATH");
_Static_assert(LINUX_AT_SYMLINK_FOLLOW == AT_SYMLINK_FOLLOW, "AT_SYMLINK_FOLLOW");
_Static_assert(LINUX_MAX_HANDLE_SZ == MAX_HANDLE_SZ, "MAX_HANDLE_SZ");
_Static_assert(LINUX_RENAME_NOREPLACE == RENAME_NOREPLACE, "RENAME_NOREPLACE");
_Static_assert(LINUX_RENAME_EXCHANGE == RENAME_EXCHANGE, "RENAME_EXCHANGE");
_Static_assert(LINUX_RENAME_WHITEOUT == RENAME_WHITEOUT, "RENAME_WHITEOUT");
_Static_assert(LINUX_FALLOC_FL_KEEP_SIZE == FALLOC_FL_KEEP_SIZE, "FALLOC_FL_KEEP_SIZE");
_Static_assert(LINUX_FALLOC_FL_PUNCH_HOLE == FALLOC_FL_PUNCH_HOLE, "FALLOC_FL_PUNCH_HOLE");
_Static_assert(LINUX_FALLOC_FL_COLLAPSE_RANGE == FALLOC_FL_COLLAPSE_RANGE, "FALLOC_FL_COLLAPSE_RANGE");
_Static_assert(LINUX_FALLOC_FL_ZERO_RANGE == FALLOC_FL_ZERO_RANGE, "FALLOC_FL_ZERO_RANGE");
_Static_assert(LINUX_FALLOC_FL_INSERT_RANGE == FALLOC_FL_INSERT_RANGE, "FALLOC_FL_INSERT_RANGE");
_Static_assert(LINUX_FALLOC_FL_UNSHARE_RANGE == FALLOC_FL_UNSHARE_RANGE, "FALLOC_FL_UNSHARE_RANGE");
_Static_assert(LINUX_SEEK_DATA == SEEK_DATA, "SEEK_DATA");
_Static_assert(LINUX_SEEK_HOLE == SEEK_HOLE, "SEEK_HOLE");
_Static_assert(LINUX_UTIME_NOW == UTIME_NOW, "UTIME_NOW");
_Static_assert(LINUX_UTIME_OMIT == UTIME_OMIT, "UTIME_OMIT");
_Static_assert(LINUX_XATTR_CREATE == XATTR_CREATE, "XATTR_CREATE");
_Static_assert(LINUX_XATTR_REPLACE == XATTR_REPLACE, "XATTR_REPLACE");
_Static_assert(sizeof(off_t) == sizeof(int64_t), "64-bit file offsets");

int linux_name_to_handle_at(int directory, const char *path, void *handle, int *mount_id, int flags) {
    return name_to_handle_at(directory, path, (struct file_handle *)handle, mount_id, flags);
}

int linux_open_by_handle_at(int mount, void *handle, int flags) {
    return open_by_handle_at(mount, (struct file_handle *)handle, flags);
}

int linux_renameat2(int old_directory, const char *old_path, int new_directory, const char *new_path,
                    unsigned int flags) {
    return renameat2(old_directory, old_path, new_directory, new_path, flags);
}

ssize_t linux_copy_file_range(int source, int64_t *source_offset, int target, int64_t *target_offset,
                              size_t count, unsigned int flags) {
    return copy_file_range(source, (off_t *)source_offset, target, (off_t *)target_offset, count, flags);
}

int linux_fallocate(int fd, int mode, int64_t offset, int64_t length) { return fallocate(fd, mode, offset, length); }

ssize_t linux_getdents64(int fd, void *buffer, size_t size) { return getdents64(fd, buffer, size); }

int linux_setfsuid(uint32_t user) { return setfsuid(user); }
int linux_setfsgid(uint32_t group) { return setfsgid(group); }

int linux_setgroups_thread(size_t count, const uint32_t *groups) {
    return (int)syscall(SYS_setgroups, count, groups);
}

ssize_t linux_fgetxattr(int fd, const char *name, void *value, size_t size) {
    return fgetxattr(fd, name, value, size);
}
int linux_fsetxattr(int fd, const char *name, const void *value, size_t size, int flags) {
    return fsetxattr(fd, name, value, size, flags);
}
ssize_t linux_flistxattr(int fd, char *list, size_t size) { return flistxattr(fd, list, size); }
int linux_fremovexattr(int fd, const char *name) { return fremovexattr(fd, name); }

ssize_t linux_getxattr(const char *path, const char *name, void *value, size_t size) {
    return getxattr(path, name, value, size);
}
int linux_setxattr(const char *path, const char *name, const void *value, size_t size, int flags) {
    return setxattr(path, name, value, size, flags);
}
ssize_t linux_listxattr(const char *path, char *list, size_t size) { return listxattr(path, list, size); }
int linux_removexattr(const char *path, const char *name) { return removexattr(path, name); }

int linux_set_thread_nice(int nice) {
    return setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), nice);
}
