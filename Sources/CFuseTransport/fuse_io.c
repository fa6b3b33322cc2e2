// The mount server's reads of requests and writes of replies on /dev/fuse (libfuse's custom I/O,
// fuse_session_custom_io), unchanged but for what libfuse 3.14 cannot do itself:
// - it reads the kill-set-ID flags the kernel puts in WRITE (FUSE_WRITE_KILL_SUIDGID) and OPEN
//   (FUSE_OPEN_KILL_SUIDGID) requests, which libfuse drops, and keeps them for the request's handler,
//   which runs on the same thread as the read (libfuse's fuse_do_work, or a ring thread);
// - when the server grants it (berth_fuse_grant_killpriv_v2, from the init callback), it adds
//   FUSE_HANDLE_KILLPRIV_V2 to the INIT reply, a flag libfuse 3.14 has no capability bit for;
// - when the kernel offers FUSE over io_uring and the server wants it (fuse_ring.c), it adds
//   FUSE_OVER_IO_URING to the INIT reply and starts the rings once the reply is written, and the
//   replies to requests that came through a ring go back into that ring.
// The flags are the Linux UAPI's (<linux/fuse.h>, protocol 7.33+; FUSE_OVER_IO_URING 7.42).
#define _GNU_SOURCE
#include "berth_fuse_transport.h"
#include "transport_internal.h"
#include <fcntl.h>
#include <linux/fuse.h>
#include <stdint.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

static __thread uint32_t request_opcode;
static __thread uint64_t request_unique;
static __thread int request_kills_suidgid;
static __thread int init_offers_killpriv_v2;
static __thread int init_grants_killpriv_v2;
static __thread int init_offers_uring;

void berth_transport_note_request(const void *buf, size_t count) {
    request_opcode = 0;
    request_kills_suidgid = 0;
    if (count < sizeof(struct fuse_in_header)) return;
    struct fuse_in_header header;
    memcpy(&header, buf, sizeof header);
    request_opcode = header.opcode;
    request_unique = header.unique;
    const char *argument = (const char *)buf + sizeof header;
    size_t argumentLength = count - sizeof header;
    switch (header.opcode) {
    case FUSE_WRITE: {
        struct fuse_write_in in;
        if (argumentLength < sizeof in) break;
        memcpy(&in, argument, sizeof in);
        request_kills_suidgid = (in.write_flags & FUSE_WRITE_KILL_SUIDGID) != 0;
        break;
    }
    case FUSE_OPEN: {
        struct fuse_open_in in;
        if (argumentLength < sizeof in) break;
        memcpy(&in, argument, sizeof in);
        request_kills_suidgid = (in.open_flags & FUSE_OPEN_KILL_SUIDGID) != 0;
        break;
    }
    case FUSE_INIT: {
        // major, minor, max_readahead, flags, and with FUSE_INIT_EXT flags2: the first five words of
        // fuse_init_in since protocol 7.36.
        uint32_t words[5] = { 0 };
        init_grants_killpriv_v2 = 0;
        init_offers_killpriv_v2 = 0;
        init_offers_uring = 0;
        if (argumentLength < 16) break;
        memcpy(words, argument, argumentLength >= sizeof words ? sizeof words : 16);
        init_offers_killpriv_v2 = words[0] == 7 && (words[3] & FUSE_HANDLE_KILLPRIV_V2) != 0;
        init_offers_uring = words[0] == 7 && (words[3] & BERTH_FUSE_INIT_EXT) != 0 && argumentLength >= sizeof words
            && (words[4] & BERTH_FUSE_OVER_IO_URING_FLAGS2) != 0;
        break;
    }
    default:
        break;
    }
}

ssize_t berth_fuse_read(int fd, void *buf, size_t len, void *userdata) {
    (void)userdata;
    ssize_t count = read(fd, buf, len);
    if (count < 0) {
        request_opcode = 0;
        request_kills_suidgid = 0;
        return count;
    }
    berth_transport_note_request(buf, (size_t)count);
    return count;
}

/// The INIT reply, with the flags libfuse 3.14 cannot set added; starts the rings once it is written.
static ssize_t write_init_reply(int fd, struct iovec *iov, void *userdata) {
    int grant_uring = init_offers_uring && berth_ring_wanted(userdata);
    // fuse_init_out: major, minor, max_readahead, flags (offset 12), max_background, congestion_threshold,
    // max_write (20), time_gran, max_pages (28, 16 bits), map_alignment, flags2 (32).
    unsigned char reply[256];
    size_t length = iov[1].iov_len;
    memcpy(reply, iov[1].iov_base, length);
    uint32_t flags;
    memcpy(&flags, reply + 12, sizeof flags);
    if (init_grants_killpriv_v2) flags |= FUSE_HANDLE_KILLPRIV_V2;
    // The rings were made in the init callback (berth_fuse_ring_setup_at_init), before the mount
    // announced itself ready.
    grant_uring = grant_uring && length >= 36 && (flags & BERTH_FUSE_INIT_EXT) != 0 && berth_ring_is_set_up(userdata);
    if (grant_uring) {
        uint32_t flags2;
        memcpy(&flags2, reply + 32, sizeof flags2);
        flags2 |= BERTH_FUSE_OVER_IO_URING_FLAGS2;
        memcpy(reply + 32, &flags2, sizeof flags2);
    }
    memcpy(reply + 12, &flags, sizeof flags);
    struct iovec patched[2] = { iov[0], { reply, length } };
    request_opcode = 0;
    ssize_t written = writev(fd, patched, 2);
    if (grant_uring && written > 0) berth_ring_start(userdata);
    return written;
}

ssize_t berth_fuse_writev(int fd, struct iovec *iov, int count, void *userdata) {
    if (count >= 1 && iov[0].iov_len == sizeof(struct fuse_out_header)) {
        struct fuse_out_header out;
        memcpy(&out, iov[0].iov_base, sizeof out);
        if (request_opcode == FUSE_INIT && count == 2 && out.unique == request_unique && out.error == 0 &&
            iov[1].iov_len >= 16 && iov[1].iov_len <= 256) {
            return write_init_reply(fd, iov, userdata);
        }
        if (out.unique != 0) {
            ssize_t taken = berth_ring_reply(userdata, &out, iov + 1, count - 1);
            if (taken >= 0) return taken;
        }
    }
    return writev(fd, iov, count);
}

ssize_t berth_fuse_splice_send(int fdin, off_t *offin, int fdout, off_t *offout, size_t len,
                               unsigned int flags, void *userdata) {
    ssize_t taken = berth_ring_reply_from_pipe(userdata, fdin, fdout, len);
    if (taken != -2) return taken;
    return splice(fdin, offin, fdout, offout, len, flags);
}

int berth_fuse_ring_setup_at_init(void *userdata, unsigned max_write) {
    if (!init_offers_uring || !berth_ring_wanted(userdata)) return 0;
    // libfuse 3.14 answers max_pages = (max_write - 1) / page size + 1.
    unsigned pages = (max_write + 4095) / 4096;
    return berth_ring_setup(userdata, max_write, (uint16_t)(pages > 65535 ? 65535 : pages)) == 0;
}

int berth_fuse_request_kills_suidgid(void) { return request_kills_suidgid; }
int berth_fuse_init_offers_killpriv_v2(void) { return init_offers_killpriv_v2; }
void berth_fuse_grant_killpriv_v2(void) { init_grants_killpriv_v2 = init_offers_killpriv_v2; }
