// 312, not 35: libfuse 3.14 switched version schemes and 35 < 312, which
// turns fuse_session_loop_mt into a macro Swift cannot call.
#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>
// fstatfs(2) and its f_type, which Glibc's module does not export: the
// backing filesystem's type decides whether FLUSH is passed on.
#include <sys/vfs.h>
// fanotify(7): the backing filesystem's change events (the event watcher),
// which Glibc's module does not export either.
#include <sys/fanotify.h>

// Replies and ioctls of the kernel's FUSE passthrough (Linux 6.9, protocol
// 7.40), which libfuse 3.14 cannot send: its fuse_reply_open has no backing
// id. They are written with the kernel's own structures (linux/fuse.h), so
// that no offset is spelled by hand. Debian 12's kernel headers (6.1)
// predate passthrough: what it added is declared here as the kernel has it.
#include <linux/fuse.h>
#include <string.h>
#include <sys/ioctl.h>

#if FUSE_KERNEL_MINOR_VERSION < 40
struct fuse_backing_map {
    int32_t fd;
    uint32_t flags;
    uint64_t padding;
};
#define FUSE_DEV_IOC_MAGIC 229
#define FUSE_DEV_IOC_BACKING_OPEN _IOW(FUSE_DEV_IOC_MAGIC, 1, struct fuse_backing_map)
#define FUSE_DEV_IOC_BACKING_CLOSE _IOW(FUSE_DEV_IOC_MAGIC, 2, uint32_t)
#define FOPEN_PASSTHROUGH (1 << 7)
#define SLABFS_SET_BACKING_ID(out, id) ((out).padding = (uint32_t)(id))
#else
#define SLABFS_SET_BACKING_ID(out, id) ((out).backing_id = (id))
#endif

/// FUSE_DEV_IOC_BACKING_OPEN: registers `backing` with the connection;
/// returns the backing id, or -1 with errno set.
static inline int slabfs_backing_open(int fuse_device, int backing) {
    struct fuse_backing_map map = {.fd = backing};
    return ioctl(fuse_device, FUSE_DEV_IOC_BACKING_OPEN, &map);
}

/// FUSE_DEV_IOC_BACKING_CLOSE.
static inline int slabfs_backing_close(int fuse_device, int32_t backing_id) {
    uint32_t id = (uint32_t)backing_id;
    return ioctl(fuse_device, FUSE_DEV_IOC_BACKING_CLOSE, &id);
}

static inline struct fuse_open_out slabfs_open_out(uint64_t handle, int32_t backing_id) {
    struct fuse_open_out out = {.fh = handle, .open_flags = FOPEN_PASSTHROUGH};
    SLABFS_SET_BACKING_ID(out, backing_id);
    return out;
}

static inline uint64_t slabfs_timeout_seconds(double t) {
    return t <= 0 ? 0 : t >= 18446744073709551615.0 ? UINT64_MAX : (uint64_t)t;
}

static inline uint32_t slabfs_timeout_nanoseconds(double t) {
    double fraction = t - (double)slabfs_timeout_seconds(t);
    return fraction <= 0 ? 0 : fraction >= 0.999999999 ? 999999999 : (uint32_t)(fraction * 1e9);
}

/// fuse_entry_out as libfuse's fill_entry writes it.
static inline struct fuse_entry_out slabfs_entry_out(const struct fuse_entry_param *e) {
    const struct stat *s = &e->attr;
    struct fuse_entry_out out = {
        .nodeid = e->ino,
        .generation = e->generation,
        .entry_valid = slabfs_timeout_seconds(e->entry_timeout),
        .attr_valid = slabfs_timeout_seconds(e->attr_timeout),
        .entry_valid_nsec = slabfs_timeout_nanoseconds(e->entry_timeout),
        .attr_valid_nsec = slabfs_timeout_nanoseconds(e->attr_timeout),
        .attr = {
            .ino = s->st_ino, .size = s->st_size, .blocks = s->st_blocks,
            .atime = s->st_atim.tv_sec, .mtime = s->st_mtim.tv_sec, .ctime = s->st_ctim.tv_sec,
            .atimensec = s->st_atim.tv_nsec, .mtimensec = s->st_mtim.tv_nsec, .ctimensec = s->st_ctim.tv_nsec,
            .mode = s->st_mode, .nlink = s->st_nlink, .uid = s->st_uid, .gid = s->st_gid,
            .rdev = s->st_rdev, .blksize = s->st_blksize,
        },
    };
    return out;
}

/// Replies to OPEN with a backing id; 0, or -errno if it was not delivered.
static inline int slabfs_reply_open_passthrough(fuse_req_t request, uint64_t handle, int32_t backing_id) {
    struct fuse_open_out out = slabfs_open_out(handle, backing_id);
    return fuse_reply_buf(request, (const char *)&out, sizeof out);
}

/// Replies to CREATE with a backing id; 0, or -errno if it was not delivered.
static inline int slabfs_reply_create_passthrough(fuse_req_t request, const struct fuse_entry_param *entry,
                                                  uint64_t handle, int32_t backing_id) {
    struct {
        struct fuse_entry_out entry;
        struct fuse_open_out open;
    } out = {slabfs_entry_out(entry), slabfs_open_out(handle, backing_id)};
    return fuse_reply_buf(request, (const char *)&out, sizeof out);
}
