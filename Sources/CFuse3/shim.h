// FUSE_USE_VERSION must be set before the include, and Swift cannot set it any other way
// (see shared notes, fuse-from-swift.md). 312 = FUSE_MAKE_VERSION(3, 12).
#ifndef BERTH_CFUSE3_SHIM_H
#define BERTH_CFUSE3_SHIM_H
#define FUSE_USE_VERSION 312
#include <fuse3/fuse_lowlevel.h>
#include <fuse3/fuse.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/xattr.h>
#include <unistd.h>

// Linux calls and flags that Swift's Glibc module leaves out because they need _GNU_SOURCE, which a
// Clang module header cannot turn on for the already-built Glibc module. Values are the Linux UAPI's
// (identical on x86_64 and aarch64); calls go through syscall(2), which glibc declares by default.
#define BERTH_O_PATH 010000000
#define BERTH_AT_EMPTY_PATH 0x1000
#define BERTH_RENAME_NOREPLACE (1 << 0)
#define BERTH_RENAME_EXCHANGE (1 << 1)
// O_DIRECT is the one open flag whose value differs between the two (asm-generic vs x86).
#if defined(__aarch64__) || defined(__arm__)
#define BERTH_O_DIRECT 0200000
#else
#define BERTH_O_DIRECT 040000
#endif

static inline int berth_renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath,
                                  unsigned int flags) {
    return (int)syscall(SYS_renameat2, olddirfd, oldpath, newdirfd, newpath, flags);
}
static inline int berth_fallocate(int fd, int mode, off_t offset, off_t length) {
    return (int)syscall(SYS_fallocate, fd, mode, offset, length);
}
/// Per-thread filesystem uid/gid (the raw syscall acts on the calling thread only, which is what a
/// multithreaded server creating files on behalf of its callers needs). Returns the previous value.
static inline int berth_setfsuid(uid_t uid) { return (int)syscall(SYS_setfsuid, uid); }
static inline int berth_setfsgid(gid_t gid) { return (int)syscall(SYS_setfsgid, gid); }
/// Per-thread supplementary groups (raw syscalls: glibc's setgroups changes every thread). Used for an
/// access point's secondary gids while the server creates as its POSIX user.
static inline int berth_thread_setgroups(size_t count, const gid_t *list) { return (int)syscall(SYS_setgroups, count, list); }
static inline int berth_thread_getgroups(int count, gid_t *list) { return (int)syscall(SYS_getgroups, count, list); }

// struct fuse_file_info has bitfields, which Swift imports as computed properties; these read and set
// the ones the bridge needs without relying on the importer's bitfield support.
static inline void berth_fi_set_keep_cache(struct fuse_file_info *fi, int on) { fi->keep_cache = on ? 1 : 0; }

/// FUSE_NOTIFY_INC_EPOCH (notify code 8, FUSE protocol 7.44, Linux 6.16): every dentry the kernel
/// cached for the mount before it is looked up again at its next use. libfuse 3.14 has no call for it,
/// so the notification (a bare `struct fuse_out_header`: len 16, error = the notify code, unique 0) is
/// written to the session's device descriptor, as libfuse writes its own. Takes no lock in the kernel
/// (an atomic increment), so a request may send it before replying. 0, or -errno: EINVAL or ENOSYS from
/// a kernel that does not know it.
static inline int berth_notify_inc_epoch(struct fuse_session *se) {
    struct { uint32_t len; int32_t error; uint64_t unique; } out = { 16, 8, 0 };
    ssize_t n = write(fuse_session_fd(se), &out, sizeof out);
    return n < 0 ? -errno : 0;
}

/// FUSE_BUFVEC_INIT is a macro Swift cannot import: one buffer that names a file descriptor and an
/// explicit offset (FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK), as passthrough_hp builds for splice I/O.
static inline struct fuse_bufvec berth_fd_bufvec(size_t size, int fd, off_t pos) {
    struct fuse_bufvec v;
    memset(&v, 0, sizeof v);
    v.count = 1;
    v.buf[0].size = size;
    v.buf[0].flags = (enum fuse_buf_flags)(FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK);
    v.buf[0].fd = fd;
    v.buf[0].pos = pos;
    return v;
}

/// `/proc/self/fd/N` into a caller buffer of at least 32 bytes, without allocating: reopening an
/// O_PATH descriptor goes through this magic link.
static inline void berth_proc_fd_path(char *buffer, int fd) {
    static const char prefix[] = "/proc/self/fd/";
    memcpy(buffer, prefix, sizeof prefix - 1);
    char digits[16];
    int n = 0;
    unsigned int v = (unsigned int)fd;
    do { digits[n++] = (char)('0' + v % 10); v /= 10; } while (v && n < 16);
    char *p = buffer + sizeof prefix - 1;
    while (n) *p++ = digits[--n];
    *p = 0;
}
#endif
