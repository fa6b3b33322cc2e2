#define _GNU_SOURCE
#include "berth_shims.h"
#include <unistd.h>
#include <sys/xattr.h>

ssize_t berth_copy_file_range(int fd_in, int fd_out, size_t len) {
    return copy_file_range(fd_in, NULL, fd_out, NULL, len, 0);
}
ssize_t berth_llistxattr(const char *path, char *list, size_t size) { return llistxattr(path, list, size); }
ssize_t berth_lgetxattr(const char *path, const char *name, void *value, size_t size) {
    return lgetxattr(path, name, value, size);
}
int berth_lsetxattr(const char *path, const char *name, const void *value, size_t size, int flags) {
    return lsetxattr(path, name, value, size, flags);
}
