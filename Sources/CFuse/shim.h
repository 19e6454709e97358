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
