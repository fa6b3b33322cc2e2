// Linux calls that Swift's Glibc module does not import (they need _GNU_SOURCE or headers it leaves
// out), wrapped once each.
#ifndef BERTH_SHIMS_H
#define BERTH_SHIMS_H
#include <stddef.h>
#include <sys/types.h>

/// sync_file_range(2) with SYNC_FILE_RANGE_WRITE: starts writing the range out and returns without waiting.
int berth_start_writeback(int fd, long long offset, long long length);

/// copy_file_range(2) without offsets: copies from the current file positions.
ssize_t berth_copy_file_range(int fd_in, int fd_out, size_t len);
/// copy_file_range(2) between explicit offsets (the descriptors' own offsets untouched).
ssize_t berth_copy_file_range_at(int fd_in, long long off_in, int fd_out, long long off_out, size_t len);
ssize_t berth_llistxattr(const char *path, char *list, size_t size);
ssize_t berth_lgetxattr(const char *path, const char *name, void *value, size_t size);
int berth_lsetxattr(const char *path, const char *name, const void *value, size_t size, int flags);
ssize_t berth_flistxattr(int fd, char *list, size_t size);
ssize_t berth_fgetxattr(int fd, const char *name, void *value, size_t size);
int berth_fsetxattr(int fd, const char *name, const void *value, size_t size, int flags);
/// name_to_handle_at(2) of `name` in `dirfd` (not following a symlink) into `handle` (`capacity` bytes,
/// laid out as struct file_handle): its length in bytes, or -1 with errno set.
int berth_name_to_handle(int dirfd, const char *name, unsigned char *handle, int capacity);
/// open_by_handle_at(2) of a handle `berth_name_to_handle` wrote, on the file system of `mountfd`.
int berth_open_by_handle(int mountfd, const unsigned char *handle, int flags);
/// The id of the mount `fd` is on (statx STATX_MNT_ID, Linux 5.8): 0, or -1 with errno set.
int berth_mount_id(int fd, unsigned long long *id);

// Named constants that Swift's Glibc module leaves out (expression macros, or behind _GNU_SOURCE),
// given their values by the C compiler in shims.c rather than spelled as literals in Swift.
/// utimensat(2)'s tv_nsec values: set to now, leave alone.
extern const long berth_UTIME_NOW;
extern const long berth_UTIME_OMIT;
/// posix_spawnattr_setflags(3) flags (POSIX_SPAWN_SETSID needs _GNU_SOURCE).
extern const short berth_POSIX_SPAWN_SETSID;
extern const short berth_POSIX_SPAWN_SETSIGMASK;
extern const short berth_POSIX_SPAWN_SETSIGDEF;
/// lseek(2) whences for sparse files (need _GNU_SOURCE).
extern const int berth_SEEK_DATA;
extern const int berth_SEEK_HOLE;
/// Adds "close every descriptor from `from` on" to a posix_spawn file-action list (glibc 2.34's
/// posix_spawn_file_actions_addclosefrom_np): done in the child at the spawn, so a descriptor another
/// thread opens meanwhile without O_CLOEXEC (Foundation's Process makes such a socket pair) is not inherited.
#include <spawn.h>
int berth_spawn_close_from(posix_spawn_file_actions_t *actions, int from);
/// wait(2)'s status: the exit status when the child exited, else -1.
int berth_exit_status(int status);
/// For the semantics core's backing store (EmulatorCore/Semantics): Linux-only flags and calls.
extern const int berth_O_PATH;
extern const int berth_AT_EMPTY_PATH;
/// statx(2) of `path` relative to `dirfd` (flags: e.g. AT_EMPTY_PATH) with AT_STATX_DONT_SYNC: the
/// device and inode numbers the kernel holds, without asking a FUSE server. 0, or -1 and errno.
int berth_statx_identity(int dirfd, const char *path, int flags, unsigned long long *device, unsigned long long *inode);
/// A non-blocking, close-on-exec eventfd (the descriptor reclaimer's alarm); -1 with errno on failure.
int berth_alarm_eventfd(void);
extern const unsigned int berth_RENAME_NOREPLACE;
extern const unsigned int berth_RENAME_EXCHANGE;
int berth_core_renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned int flags);
int berth_core_fallocate(int fd, int mode, off_t offset, off_t length);
int berth_removexattr(const char *path, const char *name);
int berth_setxattr(const char *path, const char *name, const void *value, size_t size, int flags);
ssize_t berth_getxattr(const char *path, const char *name, void *value, size_t size);
ssize_t berth_listxattr(const char *path, char *list, size_t size);
#endif
