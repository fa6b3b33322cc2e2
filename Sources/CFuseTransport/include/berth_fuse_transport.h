#ifndef BERTH_FUSE_TRANSPORT_H
#define BERTH_FUSE_TRANSPORT_H
#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

struct fuse_session;

/// The mount server's custom I/O on /dev/fuse (fuse_io.c): reads and writes as libfuse's own, which also
/// keep the kill-set-ID flag of the request being handled on this thread, can grant
/// FUSE_HANDLE_KILLPRIV_V2 in the INIT reply, and hand the replies of requests that came through
/// io_uring back to their ring (fuse_ring.c).
ssize_t berth_fuse_read(int fd, void *buf, size_t len, void *userdata);
ssize_t berth_fuse_writev(int fd, struct iovec *iov, int count, void *userdata);
ssize_t berth_fuse_splice_send(int fdin, off_t *offin, int fdout, off_t *offout, size_t len,
                               unsigned int flags, void *userdata);
/// 1 when the WRITE or OPEN this thread is handling asks the server to clear set-user-ID and
/// set-group-ID (the caller lacks CAP_FSETID), else 0.
int berth_fuse_request_kills_suidgid(void);
/// In the init callback: 1 when the kernel offered FUSE_HANDLE_KILLPRIV_V2.
int berth_fuse_init_offers_killpriv_v2(void);
/// In the init callback: adds FUSE_HANDLE_KILLPRIV_V2 to the INIT reply if the kernel offered it.
void berth_fuse_grant_killpriv_v2(void);

/// FUSE over io_uring (Linux 6.14+, https://docs.kernel.org/filesystems/fuse-io-uring.html), which
/// libfuse 3.14 cannot serve: requests and replies go through one ring per server thread instead of
/// read(2) and write(2) on /dev/fuse, each request one system call instead of two. Before the session's
/// loop starts: when the kernel offers it at INIT (the fuse module's `enable_uring` parameter is set)
/// and `want` is 1, the INIT reply takes it and ring threads start serving; otherwise nothing changes.
/// `userdata` is the session's userdata (what the custom I/O calls get). 0, or -errno.
int berth_fuse_ring_prepare(struct fuse_session *se, void *userdata, int want);
/// In the init callback, once max_write is known: when the kernel offered FUSE over io_uring and the
/// session wants it, makes the rings, so that the INIT reply can take it. 1 when it did, else 0.
int berth_fuse_ring_setup_at_init(void *userdata, unsigned max_write);
/// After the session's loop returned, before the session is unmounted: stops the ring threads.
void berth_fuse_ring_stop(void *userdata);
/// On a ring thread handling a request: the ring entry's payload buffer, where the reply's data can be
/// put directly (a reply whose data lies there is not copied again), and its size; NULL elsewhere.
void *berth_fuse_ring_reply_buffer(size_t *capacity);
/// Whether ring threads serve the session (the INIT reply took the rings).
int berth_fuse_ring_active(void *userdata);

#endif
