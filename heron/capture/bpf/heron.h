/* heron.h: definitions shared by every BPF source of heron-capture.
 *
 * Only constants and event layouts live here.  Maps and every function that
 * touches a map live in heron.c: bcc rewrites map calls (`m.lookup()`) only
 * in the main source file, never in included ones.
 *
 * Theory of operation (read this before touching any program):
 *
 *  - Everything the kernel side knows leaves through ONE ring buffer,
 *    `events`, so userspace sees events in commit order (perf buffers are per
 *    CPU and reorder).  A reserve that fails is never silent: it is counted in
 *    the per-CPU array `lost`, indexed by LOST_*, and userspace writes the sums
 *    into periodic STATS records.
 *  - Payload bytes are copied on RETURN of the hooked call, with the real byte
 *    count (a write that returns WANT_WRITE is retried with the same buffer;
 *    copying on entry would duplicate it).  A call's bytes are cut into chunks
 *    that each carry the stream offset of the call and their offset inside
 *    it, so a lost chunk is a visible gap, never a silent splice.
 *  - The ring buffer reserve needs a constant size, so a chunk is reserved in
 *    one of three fixed tiers (1 KiB, 4 KiB, CHUNK_SIZE) and the copy length is
 *    clamped to the tier: small calls do not pin a whole big chunk.
 *  - Connection identity: a TLS session is keyed by (tgid, SSL*); the socket
 *    fd is learned with the nested-syscall trick (the thread is marked in
 *    `calls` while inside SSL_*; a read/write syscall on that thread reveals
 *    the fd).  Memory-BIO users (asyncio, Node TLSWrap) never show one and keep
 *    the SSL*-based identity.  Every connection gets a fresh 64-bit id from a
 *    global counter; SSL_free/SSL_new/close and an fd change drop the state, so
 *    a reused pointer or fd always gets a new id.
 */
#ifndef HERON_H
#define HERON_H

#include <uapi/linux/ptrace.h>
#include <linux/sched.h>

#ifndef CHUNK_SIZE
#define CHUNK_SIZE 32768 /* power of two: largest tier */
#endif
#define TIER_S 1024
#define TIER_M 4096
#ifndef BODY_CAP
#define BODY_CAP (8 << 20) /* bytes copied per call at most */
#endif
#define CHUNKS_PER_PROG 32 /* full chunks per link of the copy chain */
/* The kernel allows 33 tail calls: BODY_CAP must stay <= 33 * 32 * CHUNK_SIZE. */
#ifndef RINGBUF_PAGES
#define RINGBUF_PAGES 4096 /* 16 MiB */
#endif
#ifndef SELF_PID
#define SELF_PID 0
#endif
#ifndef MAX_CONNS
#define MAX_CONNS 65536
#endif
#define WAKEUP_BYTES 65536 /* calls this big wake the consumer at once */
#define ARGV_MAX 1024
#define NAME_MAX_ 256

/* Event types (userspace: heron/capture/events.py mirrors these). */
#define EV_DATA 1
#define EV_CLOSE 2
#define EV_EXEC 3
#define EV_FORK 4
#define EV_EXIT 5
#define EV_CONNECT 6
#define EV_ACCEPT 7
#define EV_SNI 8
#define EV_NOT_PLAIN 9
#define EV_LOCAL 10 /* sock_ev: local address of (pid, fd) once connected */

/* Hooked functions (DATA.fn). */
#define FN_SSL_WRITE 0
#define FN_SSL_READ 1
#define FN_SSL_WRITE_EX 2
#define FN_SSL_READ_EX 3
#define FN_GNUTLS_SEND 4
#define FN_GNUTLS_RECV 5
#define FN_WRITE 6
#define FN_READ 7
#define FN_SENDTO 8
#define FN_RECVFROM 9
#define FN_WRITEV 10
#define FN_READV 11

#define LIB_OPENSSL 0
#define LIB_GNUTLS 1
#define LIB_SYSCALL 2

/* Data event flags. */
#define DF_LAST 1   /* last chunk this call will emit */
#define DF_TRUNC 2  /* call was longer than BODY_CAP */

/* Loss counters (index into `lost`). */
#define LOST_TLS_CHUNKS 0
#define LOST_TLS_BYTES 1
#define LOST_PLAIN_CHUNKS 2
#define LOST_PLAIN_BYTES 3
#define LOST_PROC_EVENTS 4
#define LOST_CONN_EVENTS 5
#define LOST_CALL_STASH 6
#define LOST_CONN_STATE 7
#define N_LOST 8

/* A uprobe program defined in an included library file.  bcc only turns
 * functions of the main file into programs (by giving them a section); this
 * does the same for the library files included at the end of heron.c. */
#define HERON_UPROBE(name)                                                     \
    __attribute__((section(".bpf.fn." #name))) int name(struct pt_regs *ctx)

struct ev_hdr {
    u32 type;
    u32 pid;
    u32 tid;
    u32 aux;
    u64 ts;
};

struct data_meta {
    struct ev_hdr h;
    u64 conn;
    u64 ssl;
    u64 call_off;  /* stream offset of the call's first byte */
    u64 call_len;  /* bytes the call really moved */
    u32 chunk_off; /* offset of this chunk inside the call */
    u32 chunk_len;
    s32 fd;
    u8 dir;
    u8 fn;
    u8 lib;
    u8 flags;
};

struct data_s { struct data_meta m; u8 data[TIER_S]; };
struct data_m { struct data_meta m; u8 data[TIER_M]; };
struct data_l { struct data_meta m; u8 data[CHUNK_SIZE]; };

struct close_ev { struct ev_hdr h; u64 conn; u64 ssl; s32 fd; u32 reason; };

struct exec_ev {
    struct ev_hdr h;
    u32 ppid;
    u32 uid;
    u32 gid;
    u32 argv_len;  /* bytes of argv really present */
    u64 start_ns;
    u64 cgroup;
    char comm[16];
    char filename[NAME_MAX_];
    char argv[ARGV_MAX];
};

struct fork_ev { struct ev_hdr h; u32 ppid; u32 _pad; char comm[16]; };
struct exit_ev { struct ev_hdr h; s32 exit_code; u32 _pad; char comm[16]; };

struct sock_ev {
    struct ev_hdr h; /* aux: accept: the listener's bound port; connect: local port if known */
    s32 fd;
    u16 family;
    u16 port; /* peer port, host order */
    u8 addr[16]; /* peer address */
    u64 conn; /* plain-port connection id, 0 when not recorded */
    u8 laddr[16]; /* connect: local address when aux is set, else zero */
};

struct sni_ev { struct ev_hdr h; u64 ssl; char name[NAME_MAX_]; };

/* Per-thread state of an in-flight data call (TLS or syscall). */
struct call_t {
    u64 buf;
    u64 ssl;
    u64 lenp;  /* size_t* for the _ex variants */
    s32 fd;    /* learned by the nested syscall, -1 until then */
    u8 fn;
    u8 lib;
    u8 dir;
    u8 _pad;
    u64 conn;  /* plain sockets: the connection id */
};

struct tls_key { u32 tgid; u32 _pad; u64 ssl; };
struct sock_key { u32 tgid; s32 fd; };

struct conn_state {
    u64 id;
    u64 off[2];
    s32 fd;
    u32 flags; /* CS_* */
};
#define CS_TLS 1 /* plain-port socket turned out to carry TLS: never record */

#endif
