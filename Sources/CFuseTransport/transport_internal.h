// Shared between fuse_io.c (the custom I/O libfuse calls) and fuse_ring.c (FUSE over io_uring).
#ifndef BERTH_TRANSPORT_INTERNAL_H
#define BERTH_TRANSPORT_INTERNAL_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <linux/fuse.h>

// Linux UAPI values newer than Debian 12's <linux/fuse.h> (protocol 7.36+ and 7.42).
#define BERTH_FUSE_INIT_EXT (1u << 30)
#define BERTH_FUSE_OVER_IO_URING_FLAGS2 (1u << (41 - 32))

/// Parses the request in `buf` for this thread: its opcode and unique, the kill-set-ID flags, INIT's offers.
void berth_transport_note_request(const void *buf, size_t count);

/// Whether the session of `userdata` wants rings.
int berth_ring_wanted(void *userdata);
/// Before an INIT reply that takes FUSE_OVER_IO_URING: makes the rings (0), or -errno (then the reply
/// does not take it).
int berth_ring_setup(void *userdata, uint32_t max_write, uint16_t max_pages);
/// Whether berth_ring_setup made the rings.
int berth_ring_is_set_up(void *userdata);
/// After that INIT reply: starts the ring threads.
void berth_ring_start(void *userdata);
/// A reply (`out` and its payload in `iov`): when it answers a request that came through a ring, it is
/// put into that ring and the bytes a writev would have written are returned; otherwise -1.
ssize_t berth_ring_reply(void *userdata, const struct fuse_out_header *out, const struct iovec *iov, int count);
/// A reply libfuse spliced into a pipe (`len` bytes: the header, then the data): on a ring thread it is
/// read from the pipe into the ring (or written to `fdout` when it answers something else) and the
/// length or -1 returned; elsewhere -2, and the caller splices as usual.
ssize_t berth_ring_reply_from_pipe(void *userdata, int pipe, int fdout, size_t len);
#endif
