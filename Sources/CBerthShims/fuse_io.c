// The mount server's reads of requests and writes of replies on /dev/fuse (libfuse's custom I/O,
// fuse_session_custom_io), unchanged but for two things libfuse 3.14 cannot do itself:
// - it reads the kill-set-ID flags the kernel puts in WRITE (FUSE_WRITE_KILL_SUIDGID) and OPEN
//   (FUSE_OPEN_KILL_SUIDGID) requests, which libfuse drops, and keeps them for the request's handler,
//   which runs on the same worker thread as the read (libfuse's fuse_do_work);
// - when the server grants it (berth_fuse_grant_killpriv_v2, from the init callback), it adds
//   FUSE_HANDLE_KILLPRIV_V2 to the INIT reply, a flag libfuse 3.14 has no capability bit for.
// Both flags are the Linux UAPI's (<linux/fuse.h>, protocol 7.33+).
#define _GNU_SOURCE
#include "berth_shims.h"
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

ssize_t berth_fuse_read(int fd, void *buf, size_t len, void *userdata) {
    (void)userdata;
    ssize_t count = read(fd, buf, len);
    request_opcode = 0;
    request_kills_suidgid = 0;
    if (count < (ssize_t)sizeof(struct fuse_in_header)) return count;
    struct fuse_in_header header;
    memcpy(&header, buf, sizeof header);
    request_opcode = header.opcode;
    request_unique = header.unique;
    const char *argument = (const char *)buf + sizeof header;
    size_t argumentLength = (size_t)count - sizeof header;
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
        // major, minor, max_readahead, flags: the first four words of every version's fuse_init_in.
        uint32_t words[4];
        init_grants_killpriv_v2 = 0;
        init_offers_killpriv_v2 = 0;
        if (argumentLength < sizeof words) break;
        memcpy(words, argument, sizeof words);
        init_offers_killpriv_v2 = words[0] == 7 && (words[3] & FUSE_HANDLE_KILLPRIV_V2) != 0;
        break;
    }
    default:
        break;
    }
    return count;
}

ssize_t berth_fuse_writev(int fd, struct iovec *iov, int count, void *userdata) {
    (void)userdata;
    if (request_opcode == FUSE_INIT && init_grants_killpriv_v2 && count == 2 &&
        iov[0].iov_len == sizeof(struct fuse_out_header) && iov[1].iov_len >= 16 && iov[1].iov_len <= 256) {
        struct fuse_out_header out;
        memcpy(&out, iov[0].iov_base, sizeof out);
        if (out.unique == request_unique && out.error == 0) {
            // fuse_init_out: major, minor, max_readahead, flags (the fourth word).
            unsigned char reply[256];
            uint32_t flags;
            memcpy(reply, iov[1].iov_base, iov[1].iov_len);
            memcpy(&flags, reply + 12, sizeof flags);
            flags |= FUSE_HANDLE_KILLPRIV_V2;
            memcpy(reply + 12, &flags, sizeof flags);
            struct iovec patched[2] = { iov[0], { reply, iov[1].iov_len } };
            request_opcode = 0;
            return writev(fd, patched, 2);
        }
    }
    return writev(fd, iov, count);
}

ssize_t berth_fuse_splice_send(int fdin, off_t *offin, int fdout, off_t *offout, size_t len,
                               unsigned int flags, void *userdata) {
    (void)userdata;
    return splice(fdin, offin, fdout, offout, len, flags);
}

int berth_fuse_request_kills_suidgid(void) { return request_kills_suidgid; }
int berth_fuse_init_offers_killpriv_v2(void) { return init_offers_killpriv_v2; }
void berth_fuse_grant_killpriv_v2(void) { init_grants_killpriv_v2 = init_offers_killpriv_v2; }
