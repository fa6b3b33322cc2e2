// FUSE over io_uring for a libfuse 3.14 session (https://docs.kernel.org/filesystems/fuse-io-uring.html).
//
// The kernel (6.14+, with the fuse module's `enable_uring` set) offers FUSE_OVER_IO_URING at INIT; once
// the reply takes it, the server registers ring entries per CPU queue with IORING_OP_URING_CMD
// (FUSE_IO_URING_CMD_REGISTER), and from the moment every queue has one, requests arrive in those
// entries instead of through read(2) on /dev/fuse, and each reply goes back with the command that also
// fetches the next request (FUSE_IO_URING_CMD_COMMIT_AND_FETCH): one system call per request where
// read and write are two, and fewer thread switches. FORGET and INTERRUPT still come through
// /dev/fuse, where libfuse's own workers keep reading.
//
// libfuse 3.14 has no ring code (3.18 has, lib/fuse_uring.c, whose layout this follows), but its request
// dispatch takes any buffer that looks like a /dev/fuse read (fuse_session_process_buf), and every reply
// passes through the session's custom I/O (fuse_io.c). So a ring thread lays the entry's header, the
// operation's own header and the payload out as read(2) would have returned them, dispatches it, and the
// reply, recognised by its unique, goes into the entry and back to the kernel.
//
// Each ring thread owns one io_uring and one entry: a request that blocks in the server (a paused
// volume, a freeze) holds one thread, as with libfuse's worker threads, and the kernel hands the next
// request to an entry that is free. Replies made on other threads (lock waits answered later) are
// queued for the entry's thread, which is woken through an eventfd it polls in its ring.
//
// The io_uring calls are the raw system calls (no liburing, so nothing more to install where Berth runs).
#define _GNU_SOURCE
#define FUSE_USE_VERSION 312
#include <fuse3/fuse_lowlevel.h>
#include "berth_fuse_transport.h"
#include "transport_internal.h"
#include <errno.h>
#include <linux/io_uring.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

// The Linux UAPI's ring structures (<linux/fuse.h> 7.42; Debian 12's header predates them).
#define RING_IN_OUT_HEADER_SIZE 128
#define RING_OP_IN_OUT_SIZE 128
struct ring_entry_in_out {
    uint64_t flags;
    uint64_t commit_id;
    uint32_t payload_sz;
    uint32_t padding;
    uint64_t reserved;
};
struct ring_request_header {
    char in_out[RING_IN_OUT_HEADER_SIZE];
    char op_in[RING_OP_IN_OUT_SIZE];
    struct ring_entry_in_out ring_ent_in_out;
};
struct ring_command {
    uint64_t flags;
    uint64_t commit_id;
    uint16_t qid;
    uint8_t padding[6];
};
enum { RING_CMD_REGISTER = 1, RING_CMD_COMMIT_AND_FETCH = 2 };

/// Ring threads in all, shared out over the CPU queues (at least 2 per queue): how many requests may be
/// in the server at once (a request that blocks, in a paused volume or a freeze, holds one).
#define THREADS_PER_RING_POOL 16
/// The user_data of the eventfd poll.
#define EVENT_TAG ((uint64_t)1)
#define PAGE 4096
/// Room before the payload for the request's headers, so that the request is one buffer.
#define PREFIX PAGE

struct uring {
    int fd;
    unsigned *sq_head, *sq_tail, *sq_mask, *sq_array, sq_entries;
    unsigned *cq_head, *cq_tail, *cq_mask;
    struct io_uring_cqe *cqes;
    char *sqes;
    unsigned sqe_tail;
    void *sq_map, *cq_map;
    size_t sq_map_size, cq_map_size, sqes_size;
};

struct ring_pool;
struct ring_thread;

struct ring_entry {
    struct ring_thread *owner;
    struct ring_request_header *header;
    char *buffer;
    char *payload;
    size_t payload_size;
    uint64_t commit_id;
    /// The unique of the request the entry holds until its reply is committed; 0 otherwise.
    _Atomic uint64_t unique;
    uint32_t last_command;
    int dead;
    struct iovec iov[2];
    /// In its thread's list of replies made elsewhere, waiting to be committed.
    struct ring_entry *next_pending;
    /// In the pool's list of every entry (for replies made elsewhere).
    struct ring_entry *next_in_pool;
};

struct ring_thread {
    struct ring_pool *pool;
    int qid;
    pthread_t thread;
    int started;
    int eventfd;
    struct uring ring;
    pthread_mutex_t pending_lock;
    /// Replies made on other threads, waiting for this thread to commit them.
    struct ring_entry *pending;
    _Atomic int stopping;
    /// The entries this thread has registered and not yet seen end (one fetching at any time, plus
    /// one per request it left unanswered: a parked lock wait holds its entry until its reply).
    int live_entries;
};

struct ring_pool {
    struct fuse_session *se;
    void *userdata;
    int fd;
    int want;
    /// 0 prepared, 1 running, 2 stopped.
    _Atomic int state;
    int queues;
    int thread_count;
    struct ring_thread *threads;
    size_t payload_size;
    /// Every entry of every thread, newest first; changed and walked under `entries_lock`.
    pthread_mutex_t entries_lock;
    struct ring_entry *entries;
};

#define MAX_POOLS 16
static struct ring_pool *_Atomic pools[MAX_POOLS];
/// Sessions whose ring threads run: while none does, a reply through /dev/fuse looks for no entry.
static _Atomic int running_pools;

/// The entry whose request this thread is handling, and the ring thread this is, if any.
static __thread struct ring_entry *current_entry;
static __thread struct ring_thread *current_thread;

static struct ring_pool *pool_for(void *userdata) {
    for (int i = 0; i < MAX_POOLS; i++) {
        struct ring_pool *pool = atomic_load(&pools[i]);
        if (pool && pool->userdata == userdata) return pool;
    }
    return NULL;
}

// MARK: - io_uring system calls

static int uring_setup(struct uring *r, unsigned entries) {
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    p.flags = IORING_SETUP_SQE128 | IORING_SETUP_CQSIZE;
    p.cq_entries = entries * 16;
    int fd = (int)syscall(__NR_io_uring_setup, entries, &p);
    if (fd < 0) return -errno;
    memset(r, 0, sizeof *r);
    r->fd = fd;
    r->sq_map_size = p.sq_off.array + p.sq_entries * sizeof(unsigned);
    r->cq_map_size = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
    int single = (p.features & IORING_FEAT_SINGLE_MMAP) != 0;
    if (single) {
        if (r->cq_map_size > r->sq_map_size) r->sq_map_size = r->cq_map_size;
        r->cq_map_size = r->sq_map_size;
    }
    r->sq_map = mmap(NULL, r->sq_map_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQ_RING);
    if (r->sq_map == MAP_FAILED) goto fail;
    if (single) {
        r->cq_map = r->sq_map;
    } else {
        r->cq_map = mmap(NULL, r->cq_map_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_CQ_RING);
        if (r->cq_map == MAP_FAILED) goto fail;
    }
    r->sqes_size = (size_t)p.sq_entries * 128;
    r->sqes = mmap(NULL, r->sqes_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQES);
    if (r->sqes == MAP_FAILED) goto fail;
    char *sq = r->sq_map, *cq = r->cq_map;
    r->sq_head = (unsigned *)(sq + p.sq_off.head);
    r->sq_tail = (unsigned *)(sq + p.sq_off.tail);
    r->sq_mask = (unsigned *)(sq + p.sq_off.ring_mask);
    r->sq_array = (unsigned *)(sq + p.sq_off.array);
    r->sq_entries = p.sq_entries;
    r->cq_head = (unsigned *)(cq + p.cq_off.head);
    r->cq_tail = (unsigned *)(cq + p.cq_off.tail);
    r->cq_mask = (unsigned *)(cq + p.cq_off.ring_mask);
    r->cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
    r->sqe_tail = *r->sq_tail;
    return 0;
fail: {
        int code = -errno;
        if (r->sq_map && r->sq_map != MAP_FAILED) munmap(r->sq_map, r->sq_map_size);
        if (!single && r->cq_map && r->cq_map != MAP_FAILED) munmap(r->cq_map, r->cq_map_size);
        close(fd);
        r->fd = -1;
        return code;
    }
}

static void uring_close(struct uring *r) {
    if (r->fd < 0) return;
    munmap(r->sqes, r->sqes_size);
    if (r->cq_map != r->sq_map) munmap(r->cq_map, r->cq_map_size);
    munmap(r->sq_map, r->sq_map_size);
    close(r->fd);
    r->fd = -1;
}

static struct io_uring_sqe *uring_get_sqe(struct uring *r) {
    unsigned head = __atomic_load_n(r->sq_head, __ATOMIC_ACQUIRE);
    if (r->sqe_tail - head >= r->sq_entries) {
        // Full (many parked replies committed at once): submit what is there without waiting.
        __atomic_store_n(r->sq_tail, r->sqe_tail, __ATOMIC_RELEASE);
        if (syscall(__NR_io_uring_enter, r->fd, r->sqe_tail - head, 0, 0, NULL, 0) < 0) return NULL;
        head = __atomic_load_n(r->sq_head, __ATOMIC_ACQUIRE);
        if (r->sqe_tail - head >= r->sq_entries) return NULL;
    }
    unsigned index = r->sqe_tail & *r->sq_mask;
    struct io_uring_sqe *sqe = (struct io_uring_sqe *)(r->sqes + (size_t)index * 128);
    memset(sqe, 0, 128);
    r->sq_array[index] = index;
    r->sqe_tail++;
    return sqe;
}

/// Submits what was prepared and waits for at least one completion.
static int uring_submit_and_wait(struct uring *r) {
    __atomic_store_n(r->sq_tail, r->sqe_tail, __ATOMIC_RELEASE);
    unsigned pending = r->sqe_tail - __atomic_load_n(r->sq_head, __ATOMIC_ACQUIRE);
    int ret = (int)syscall(__NR_io_uring_enter, r->fd, pending, 1, IORING_ENTER_GETEVENTS, NULL, 0);
    return ret < 0 ? -errno : ret;
}

// MARK: - Entries

static int prepare_command(struct ring_thread *t, struct ring_entry *e, uint32_t command) {
    struct io_uring_sqe *sqe = uring_get_sqe(&t->ring);
    if (!sqe) return -EBUSY;
    sqe->opcode = IORING_OP_URING_CMD;
    sqe->fd = t->pool->fd;
    sqe->cmd_op = command;
    sqe->user_data = (uint64_t)(uintptr_t)e;
    struct ring_command *cmd = (struct ring_command *)sqe->cmd;
    cmd->qid = (uint16_t)t->qid;
    cmd->commit_id = command == RING_CMD_COMMIT_AND_FETCH ? e->commit_id : 0;
    if (command == RING_CMD_REGISTER) {
        sqe->addr = (uint64_t)(uintptr_t)e->iov;
        sqe->len = 2;
    }
    e->last_command = command;
    return 0;
}

static int prepare_event_poll(struct ring_thread *t) {
    struct io_uring_sqe *sqe = uring_get_sqe(&t->ring);
    if (!sqe) return -EBUSY;
    sqe->opcode = IORING_OP_POLL_ADD;
    sqe->fd = t->eventfd;
    sqe->poll32_events = POLLIN;
    sqe->user_data = EVENT_TAG;
    return 0;
}

/// Fills the entry's reply header and hands it to its thread for the commit.
static void commit_reply(struct ring_entry *e, uint64_t unique, int32_t error, size_t payload_length) {
    struct fuse_out_header out = { .len = (uint32_t)(sizeof out + payload_length), .error = error, .unique = unique };
    memcpy(e->header->in_out, &out, sizeof out);
    e->header->ring_ent_in_out.payload_sz = (uint32_t)payload_length;
    atomic_store(&e->unique, 0);
    struct ring_thread *t = e->owner;
    if (current_thread == t) {
        if (prepare_command(t, e, RING_CMD_COMMIT_AND_FETCH) != 0) fprintf(stderr, "berth: io_uring: no room to commit a reply\n");
        return;
    }
    pthread_mutex_lock(&t->pending_lock);
    e->next_pending = t->pending;
    t->pending = e;
    pthread_mutex_unlock(&t->pending_lock);
    uint64_t one = 1;
    if (write(t->eventfd, &one, sizeof one) < 0) fprintf(stderr, "berth: io_uring: cannot wake a ring thread: %s\n", strerror(errno));
}

static struct ring_entry *entry_for(struct ring_pool *pool, uint64_t unique) {
    struct ring_entry *e = current_entry;
    if (e && atomic_load(&e->unique) == unique) return e;
    if (!pool || atomic_load(&pool->state) != 1) return NULL;
    pthread_mutex_lock(&pool->entries_lock);
    for (e = pool->entries; e; e = e->next_in_pool) {
        if (atomic_load(&e->unique) == unique) break;
    }
    pthread_mutex_unlock(&pool->entries_lock);
    return e;
}

ssize_t berth_ring_reply(void *userdata, const struct fuse_out_header *out, const struct iovec *iov, int count) {
    if (!current_entry && atomic_load_explicit(&running_pools, memory_order_relaxed) == 0) return -1;
    struct ring_pool *pool = current_entry ? current_entry->owner->pool : pool_for(userdata);
    struct ring_entry *e = entry_for(pool, out->unique);
    if (!e) return -1;
    size_t length = 0;
    for (int i = 0; i < count; i++) length += iov[i].iov_len;
    int32_t error = out->error;
    if (length > e->payload_size) {
        error = -EIO;
        length = 0;
    } else {
        size_t at = 0;
        for (int i = 0; i < count; i++) {
            if (iov[i].iov_base != e->payload + at) memcpy(e->payload + at, iov[i].iov_base, iov[i].iov_len);
            at += iov[i].iov_len;
        }
    }
    commit_reply(e, out->unique, error, length);
    return (ssize_t)(sizeof *out + length);
}

static int read_fully(int fd, char *into, size_t length) {
    size_t done = 0;
    while (done < length) {
        ssize_t got = read(fd, into + done, length - done);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) return -1;
        done += (size_t)got;
    }
    return 0;
}

ssize_t berth_ring_reply_from_pipe(void *userdata, int pipe, int fdout, size_t len) {
    (void)userdata;
    struct ring_entry *current = current_entry;
    if (!current) return -2;
    struct fuse_out_header out;
    if (len < sizeof out || read_fully(pipe, (char *)&out, sizeof out) != 0) return -1;
    size_t length = len - sizeof out;
    struct ring_entry *e = entry_for(current->owner->pool, out.unique);
    if (e && length <= e->payload_size) {
        if (read_fully(pipe, e->payload, length) != 0) {
            commit_reply(e, out.unique, -EIO, 0);
            return -1;
        }
        commit_reply(e, out.unique, out.error, length);
        return (ssize_t)len;
    }
    // Not a ring request's reply (or too long for its entry): written as it came.
    char *rest = malloc(length ? length : 1);
    if (!rest || read_fully(pipe, rest, length) != 0) {
        free(rest);
        return -1;
    }
    struct iovec parts[2] = { { &out, sizeof out }, { rest, length } };
    ssize_t written = writev(fdout, parts, 2);
    free(rest);
    return written;
}

/// Lays the request out as a read of /dev/fuse would have returned it and hands it to libfuse.
static void dispatch(struct ring_thread *t, struct ring_entry *e) {
    struct fuse_in_header in;
    memcpy(&in, e->header->in_out, sizeof in);
    e->commit_id = e->header->ring_ent_in_out.commit_id;
    size_t payload = e->header->ring_ent_in_out.payload_sz;
    if (in.len < sizeof in + payload || in.len - sizeof in - payload > RING_OP_IN_OUT_SIZE || payload > e->payload_size) {
        fprintf(stderr, "berth: io_uring: malformed request (opcode %u, length %u, payload %zu)\n", in.opcode, in.len, payload);
        atomic_store(&e->unique, in.unique);
        commit_reply(e, in.unique, -EIO, 0);
        return;
    }
    size_t op = in.len - sizeof in - payload;
    char *start = e->payload - sizeof in - op;
    memcpy(start, &in, sizeof in);
    memcpy(start + sizeof in, e->header->op_in, op);
    atomic_store(&e->unique, in.unique);
    berth_transport_note_request(start, in.len);
    current_entry = e;
    struct fuse_buf buf;
    memset(&buf, 0, sizeof buf);
    buf.size = in.len;
    buf.mem = start;
    fuse_session_process_buf(t->pool->se, &buf);
    current_entry = NULL;
}

/// Prepares the commits of the replies other threads gave for `t`'s entries.
static void commit_pending(struct ring_thread *t) {
    pthread_mutex_lock(&t->pending_lock);
    struct ring_entry *pending = t->pending;
    t->pending = NULL;
    pthread_mutex_unlock(&t->pending_lock);
    for (struct ring_entry *next; pending; pending = next) {
        next = pending->next_pending;
        if (prepare_command(t, pending, RING_CMD_COMMIT_AND_FETCH) != 0)
            fprintf(stderr, "berth: io_uring: no room to commit a reply\n");
    }
}

/// A new entry of `t`, in the pool's list, with its buffers; NULL when memory ran out.
static struct ring_entry *new_entry(struct ring_thread *t) {
    struct ring_pool *pool = t->pool;
    struct ring_entry *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    e->owner = t;
    e->payload_size = pool->payload_size;
    e->header = aligned_alloc(PAGE, PAGE);
    e->buffer = aligned_alloc(PAGE, PREFIX + pool->payload_size);
    if (!e->header || !e->buffer) {
        free(e->header);
        free(e->buffer);
        free(e);
        return NULL;
    }
    memset(e->header, 0, PAGE);
    e->payload = e->buffer + PREFIX;
    e->iov[0] = (struct iovec){ e->header, sizeof(struct ring_request_header) };
    e->iov[1] = (struct iovec){ e->payload, e->payload_size };
    pthread_mutex_lock(&pool->entries_lock);
    e->next_in_pool = pool->entries;
    pool->entries = e;
    pthread_mutex_unlock(&pool->entries_lock);
    return e;
}

/// Registers one more entry for `t` to fetch requests with; 0, or -errno.
static int add_fetching_entry(struct ring_thread *t) {
    struct ring_entry *e = new_entry(t);
    if (!e) return -ENOMEM;
    int code = prepare_command(t, e, RING_CMD_REGISTER);
    if (code == 0) t->live_entries++;
    return code;
}

static void *ring_thread_main(void *argument) {
    struct ring_thread *t = argument;
    current_thread = t;
    // Signals are for libfuse's loop threads (stop signals, the lock waits' wake signal).
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    // Not pinned to the queue's CPU, unlike libfuse 3.18: pinned, a thread shares its CPU with the caller
    // it answers, and random 4 KiB reads ran at 24,587 IOPS against 38,016 unpinned (SEMANTICS.md).
    char name[16];
    snprintf(name, sizeof name, "berth-ring-%d", t->qid);
    pthread_setname_np(pthread_self(), name);

    if (add_fetching_entry(t) != 0 || prepare_event_poll(t) != 0) {
        fprintf(stderr, "berth: io_uring: cannot register a ring entry\n");
        return NULL;
    }
    while (!atomic_load(&t->stopping) && t->live_entries > 0) {
        int ret = uring_submit_and_wait(&t->ring);
        if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY) {
            fprintf(stderr, "berth: io_uring: io_uring_enter: %s\n", strerror(-ret));
            break;
        }
        unsigned head = *t->ring.cq_head;
        unsigned tail = __atomic_load_n(t->ring.cq_tail, __ATOMIC_ACQUIRE);
        while (head != tail) {
            struct io_uring_cqe *cqe = &t->ring.cqes[head & *t->ring.cq_mask];
            uint64_t data = cqe->user_data;
            int32_t res = cqe->res;
            head++;
            __atomic_store_n(t->ring.cq_head, head, __ATOMIC_RELEASE);
            if (data == EVENT_TAG) {
                uint64_t value;
                (void)!read(t->eventfd, &value, sizeof value);
                commit_pending(t);
                prepare_event_poll(t);
                continue;
            }
            struct ring_entry *e = (struct ring_entry *)(uintptr_t)data;
            if (res == 0) {
                dispatch(t, e);
                // Left unanswered (a parked lock wait): the kernel keeps the entry until the reply, so
                // another one fetches meanwhile, or this thread would get nothing more.
                if (atomic_load(&e->unique) != 0 && add_fetching_entry(t) != 0)
                    fprintf(stderr, "berth: io_uring: cannot add a ring entry\n");
            } else if (res == -EINTR || res == -EAGAIN) {
                prepare_command(t, e, e->last_command);
            } else {
                // -ENOTCONN (unmounted) or -ECANCELED: the connection is going; anything else is
                // reported (an entry the kernel refused never receives requests).
                if (res != -ENOTCONN && res != -ECANCELED)
                    fprintf(stderr, "berth: io_uring: the kernel refused a ring entry: %s\n", strerror(-res));
                e->dead = 1;
                t->live_entries--;
            }
        }
    }
    // Replies given while stopping (the lock waits answered ENOLCK as the session ends) still go out.
    commit_pending(t);
    __atomic_store_n(t->ring.sq_tail, t->ring.sqe_tail, __ATOMIC_RELEASE);
    unsigned unsent = t->ring.sqe_tail - __atomic_load_n(t->ring.sq_head, __ATOMIC_ACQUIRE);
    if (unsent > 0) (void)syscall(__NR_io_uring_enter, t->ring.fd, unsent, 0, 0, NULL, 0);
    current_thread = NULL;
    return NULL;
}

// MARK: - Pool

int berth_fuse_ring_prepare(struct fuse_session *se, void *userdata, int want) {
    struct ring_pool *pool = calloc(1, sizeof *pool);
    if (!pool) return -ENOMEM;
    pool->se = se;
    pool->userdata = userdata;
    pool->fd = fuse_session_fd(se);
    pool->want = want;
    pthread_mutex_init(&pool->entries_lock, NULL);
    for (int i = 0; i < MAX_POOLS; i++) {
        struct ring_pool *expected = NULL;
        if (atomic_compare_exchange_strong(&pools[i], &expected, pool)) return 0;
    }
    free(pool);
    return -EMFILE;
}

void *berth_fuse_ring_reply_buffer(size_t *capacity) {
    struct ring_entry *e = current_entry;
    if (!e) return NULL;
    *capacity = e->payload_size;
    return e->payload;
}

int berth_ring_wanted(void *userdata) {
    struct ring_pool *pool = pool_for(userdata);
    return pool && pool->want;
}

int berth_fuse_ring_active(void *userdata) {
    struct ring_pool *pool = pool_for(userdata);
    return pool && atomic_load(&pool->state) == 1;
}

/// The CPUs the kernel makes queues for (its possible CPUs): one more than the highest in
/// /sys/devices/system/cpu/possible ("0-1", "0-3,5").
static int possible_cpus(void) {
    FILE *file = fopen("/sys/devices/system/cpu/possible", "re");
    if (!file) return (int)sysconf(_SC_NPROCESSORS_CONF);
    char text[256] = { 0 };
    size_t got = fread(text, 1, sizeof text - 1, file);
    fclose(file);
    int highest = -1, number = -1;
    for (size_t i = 0; i <= got; i++) {
        char c = text[i];
        if (c >= '0' && c <= '9') {
            number = (number < 0 ? 0 : number * 10) + (c - '0');
        } else {
            if (number > highest) highest = number;
            number = -1;
        }
    }
    return highest + 1;
}

static void free_threads(struct ring_pool *pool) {
    for (int i = 0; i < pool->thread_count; i++) {
        struct ring_thread *t = &pool->threads[i];
        uring_close(&t->ring);
        if (t->eventfd >= 0) close(t->eventfd);
        pthread_mutex_destroy(&t->pending_lock);
    }
    for (struct ring_entry *e = pool->entries, *next; e; e = next) {
        next = e->next_in_pool;
        free(e->header);
        free(e->buffer);
        free(e);
    }
    pool->entries = NULL;
    free(pool->threads);
    pool->threads = NULL;
    pool->thread_count = 0;
}

int berth_ring_setup(void *userdata, uint32_t max_write, uint16_t max_pages) {
    struct ring_pool *pool = pool_for(userdata);
    if (!pool || atomic_load(&pool->state) != 0 || pool->threads) return -EINVAL;
    int queues = possible_cpus();
    if (queues < 1 || queues > 4096) return -EINVAL;
    // The kernel refuses an entry whose payload buffer is smaller than the largest request it may send.
    size_t payload = max_write;
    if ((size_t)max_pages * PAGE > payload) payload = (size_t)max_pages * PAGE;
    if (payload < (1u << 20)) payload = 1u << 20;
    payload = (payload + PAGE - 1) / PAGE * PAGE;
    int per_queue = THREADS_PER_RING_POOL / queues;
    if (per_queue < 2) per_queue = 2;
    int count = queues * per_queue;
    pool->threads = calloc((size_t)count, sizeof *pool->threads);
    if (!pool->threads) return -ENOMEM;
    pool->queues = queues;
    pool->thread_count = count;
    pool->payload_size = payload;
    for (int i = 0; i < count; i++) {
        struct ring_thread *t = &pool->threads[i];
        t->pool = pool;
        t->qid = i / per_queue;
        t->ring.fd = -1;
        t->eventfd = -1;
        pthread_mutex_init(&t->pending_lock, NULL);
    }
    for (int i = 0; i < count; i++) {
        struct ring_thread *t = &pool->threads[i];
        t->eventfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        int code = t->eventfd < 0 ? -errno : uring_setup(&t->ring, 64);
        if (code != 0) {
            fprintf(stderr, "berth: io_uring: cannot set up ring %d (%s); serving through /dev/fuse\n", i, strerror(-code));
            free_threads(pool);
            return code;
        }
    }
    return 0;
}

int berth_ring_is_set_up(void *userdata) {
    struct ring_pool *pool = pool_for(userdata);
    return pool && pool->threads != NULL;
}

void berth_ring_start(void *userdata) {
    struct ring_pool *pool = pool_for(userdata);
    if (!pool || atomic_load(&pool->state) != 0 || !pool->threads) return;
    atomic_store(&pool->state, 1);
    atomic_fetch_add(&running_pools, 1);
    for (int i = 0; i < pool->thread_count; i++) {
        struct ring_thread *t = &pool->threads[i];
        if (pthread_create(&t->thread, NULL, ring_thread_main, t) == 0) t->started = 1;
    }
}

void berth_fuse_ring_stop(void *userdata) {
    struct ring_pool *pool = NULL;
    int slot = -1;
    for (int i = 0; i < MAX_POOLS; i++) {
        struct ring_pool *candidate = atomic_load(&pools[i]);
        if (candidate && candidate->userdata == userdata) {
            pool = candidate;
            slot = i;
            break;
        }
    }
    if (!pool) return;
    for (int i = 0; i < pool->thread_count; i++) {
        struct ring_thread *t = &pool->threads[i];
        atomic_store(&t->stopping, 1);
        uint64_t one = 1;
        if (t->eventfd >= 0 && write(t->eventfd, &one, sizeof one) < 0) { /* the thread also ends with the connection */ }
    }
    for (int i = 0; i < pool->thread_count; i++) {
        if (pool->threads[i].started) pthread_join(pool->threads[i].thread, NULL);
    }
    if (atomic_exchange(&pool->state, 2) == 1) atomic_fetch_sub(&running_pools, 1);
    atomic_store(&pools[slot], NULL);
    free_threads(pool);
    pthread_mutex_destroy(&pool->entries_lock);
    free(pool);
}
