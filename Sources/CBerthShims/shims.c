#define _GNU_SOURCE
#include "berth_shims.h"
#include <unistd.h>
#include <sys/xattr.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <fcntl.h>
#include <errno.h>
#include <spawn.h>
#include <sys/wait.h>
#include <sys/eventfd.h>

const long berth_UTIME_NOW = UTIME_NOW;
const long berth_UTIME_OMIT = UTIME_OMIT;
const short berth_POSIX_SPAWN_SETSID = POSIX_SPAWN_SETSID;
const short berth_POSIX_SPAWN_SETSIGMASK = POSIX_SPAWN_SETSIGMASK;
const short berth_POSIX_SPAWN_SETSIGDEF = POSIX_SPAWN_SETSIGDEF;
const int berth_SEEK_DATA = SEEK_DATA;
const int berth_SEEK_HOLE = SEEK_HOLE;

int berth_exit_status(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : -1; }

int berth_start_writeback(int fd, long long offset, long long length) {
    return sync_file_range(fd, offset, length, SYNC_FILE_RANGE_WRITE);
}

ssize_t berth_copy_file_range(int fd_in, int fd_out, size_t len) {
    return copy_file_range(fd_in, NULL, fd_out, NULL, len, 0);
}
ssize_t berth_copy_file_range_at(int fd_in, long long off_in, int fd_out, long long off_out, size_t len) {
    loff_t in = off_in, out = off_out;
    return copy_file_range(fd_in, &in, fd_out, &out, len, 0);
}
ssize_t berth_llistxattr(const char *path, char *list, size_t size) { return llistxattr(path, list, size); }
ssize_t berth_lgetxattr(const char *path, const char *name, void *value, size_t size) {
    return lgetxattr(path, name, value, size);
}
int berth_lsetxattr(const char *path, const char *name, const void *value, size_t size, int flags) {
    return lsetxattr(path, name, value, size, flags);
}
ssize_t berth_flistxattr(int fd, char *list, size_t size) { return flistxattr(fd, list, size); }
int berth_name_to_handle(int dirfd, const char *name, unsigned char *handle, int capacity) {
    if (capacity < (int)sizeof(struct file_handle)) { errno = EINVAL; return -1; }
    struct file_handle *fh = (struct file_handle *)handle;
    fh->handle_bytes = (unsigned int)(capacity - (int)sizeof(struct file_handle));
    int mount_id = 0;
    if (name_to_handle_at(dirfd, name, fh, &mount_id, 0) != 0) return -1;
    return (int)(sizeof(struct file_handle) + fh->handle_bytes);
}
int berth_open_by_handle(int mountfd, const unsigned char *handle, int flags) {
    return open_by_handle_at(mountfd, (struct file_handle *)handle, flags);
}
ssize_t berth_fgetxattr(int fd, const char *name, void *value, size_t size) {
    return fgetxattr(fd, name, value, size);
}
int berth_fsetxattr(int fd, const char *name, const void *value, size_t size, int flags) {
    return fsetxattr(fd, name, value, size, flags);
}
int berth_mount_id(int fd, unsigned long long *id) {
#ifdef STATX_MNT_ID
    struct statx st;
    if (statx(fd, "", AT_EMPTY_PATH, STATX_MNT_ID, &st) != 0) return -1;
    if (!(st.stx_mask & STATX_MNT_ID)) {
        errno = ENOSYS;
        return -1;
    }
    *id = st.stx_mnt_id;
    return 0;
#else
    errno = ENOSYS;
    return -1;
#endif
}

#include <stdio.h>
const int berth_O_PATH = O_PATH;
const int berth_AT_EMPTY_PATH = AT_EMPTY_PATH;
const unsigned int berth_RENAME_NOREPLACE = RENAME_NOREPLACE;
const unsigned int berth_RENAME_EXCHANGE = RENAME_EXCHANGE;
int berth_core_renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned int flags) {
    return renameat2(olddirfd, oldpath, newdirfd, newpath, flags);
}
int berth_core_fallocate(int fd, int mode, off_t offset, off_t length) { return fallocate(fd, mode, offset, length); }
int berth_removexattr(const char *path, const char *name) { return removexattr(path, name); }
int berth_setxattr(const char *path, const char *name, const void *value, size_t size, int flags) {
    return setxattr(path, name, value, size, flags);
}
ssize_t berth_getxattr(const char *path, const char *name, void *value, size_t size) { return getxattr(path, name, value, size); }
ssize_t berth_listxattr(const char *path, char *list, size_t size) { return listxattr(path, list, size); }

int berth_spawn_close_from(posix_spawn_file_actions_t *actions, int from) {
    return posix_spawn_file_actions_addclosefrom_np(actions, from);
}

int berth_alarm_eventfd(void) { return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK); }

int berth_statx_identity(int dirfd, const char *path, int flags, unsigned long long *device, unsigned long long *inode) {
    struct statx st;
    if (statx(dirfd, path, flags | AT_STATX_DONT_SYNC, STATX_INO, &st) != 0) return -1;
    *device = makedev(st.stx_dev_major, st.stx_dev_minor);
    *inode = st.stx_ino;
    return 0;
}
