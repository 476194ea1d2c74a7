/* heron.c: tracepoint programs of heron-capture (the TLS library hooks are
 * in openssl.c / gnutls.c, pulled in with -include by the loader).
 *
 *  - process lifecycle: new task (threads told apart by clone flags; extends
 *    the traced-pid set to descendants), exec (with exec-time metadata read
 *    here, so a process that lives 5 ms is still attributed: /proc may be
 *    gone by the time userspace looks), exit (with the exit code, once the
 *    last thread is gone);
 *  - sockets: connect/accept/bind/close, to give TLS connections their
 *    addresses and to pick the plain-HTTP sockets to record (remote or local
 *    port in `plain_ports`);
 *  - read/write/sendto/recvfrom/writev/readv: the nested-syscall trick for
 *    TLS calls (the fd), and the bytes of plain-port sockets.  A plain-port
 *    socket that starts with a TLS record header (0x16 0x03), or whose fd is
 *    seen inside an SSL call, is marked CS_TLS and never recorded again, so
 *    ciphertext is never stored as plaintext.
 */
#include "heron.h"
#include <linux/socket.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <uapi/linux/uio.h>

#define EINPROGRESS_ 115
#define MAX_ARGS 16 /* argv entries copied at exec */
#define ARG_MAX_ 256 /* bytes per argv entry */
#define MAX_IOV 4 /* iovecs recorded per writev/readv (headers + body in practice) */

BPF_RINGBUF_OUTPUT(events, RINGBUF_PAGES);
BPF_PERCPU_ARRAY(lost, u64, N_LOST);
BPF_ARRAY(conn_ids, u64, 1);
BPF_HASH(calls, u32, struct call_t, 16384);
BPF_TABLE("lru_hash", struct tls_key, struct conn_state, tls_conns, MAX_CONNS);
BPF_TABLE("lru_hash", struct sock_key, struct conn_state, socks, MAX_CONNS);
BPF_HASH(traced_pids, u32, u8, 65536);
BPF_HASH(plain_ports, u16, u8, 64);
BPF_PERCPU_ARRAY(scratch_exec, struct exec_ev, 1);

static __always_inline void count_lost(u32 idx, u64 n) {
    u64 *v = lost.lookup(&idx);
    if (v)
        *v += n;
}

static __always_inline u64 new_conn_id(void) {
    u32 z = 0;
    u64 *v = conn_ids.lookup(&z);
    if (!v)
        return 0;
    return __sync_fetch_and_add(v, 1) + 1;
}

/* Is the current task one we record?  Filters combine with AND. */
static __always_inline int is_traced(u32 tgid) {
    if (tgid == SELF_PID)
        return 0;
#ifdef FILTER_PIDS
    if (!traced_pids.lookup(&tgid))
        return 0;
#endif
#ifdef FILTER_UID
    if ((u32)bpf_get_current_uid_gid() != FILTER_UID)
        return 0;
#endif
#ifdef FILTER_CGROUP
    if (bpf_get_current_cgroup_id() != FILTER_CGROUP)
        return 0;
#endif
    return 1;
}

/* bcc forbids map calls inside macros, so each tier has its own reserve. */
static __always_inline struct data_s *reserve_s(void) {
    return events.ringbuf_reserve(sizeof(struct data_s));
}
static __always_inline struct data_m *reserve_m(void) {
    return events.ringbuf_reserve(sizeof(struct data_m));
}
static __always_inline struct data_l *reserve_l(void) {
    return events.ringbuf_reserve(sizeof(struct data_l));
}
static __always_inline void submit(void *e, u64 flags) { events.ringbuf_submit(e, flags); }

static __always_inline u64 wake_flags(int last, u64 total) {
    /* Small events never wake the consumer (it polls every few ms): a wakeup
     * in the traced thread costs more than the copy.  Big calls do. */
    return (last && total >= WAKEUP_BYTES) ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

/* Copy length for a tier of constant `size` (power of two): provably <= size
 * for the verifier. */
static __always_inline u32 clamp_len(u32 n, u32 size) {
    return n >= size ? size : (n & (size - 1));
}

/* The last (< CHUNK_SIZE) piece of a call, in the smallest tier that holds it. */
static __always_inline void emit_tail(struct data_meta *src, u64 buf, u32 nbig, u32 tail,
                                      u32 total, u32 lost_idx) {
    if (tail == 0)
        return;
    u64 at = (u64)nbig * CHUNK_SIZE;
    if (tail <= TIER_S) {
        struct data_s *e = reserve_s();
        if (e) {
            __builtin_memcpy(&e->m, src, sizeof(e->m));
            e->m.chunk_off = at;
            e->m.chunk_len = tail;
            e->m.flags |= DF_LAST;
            bpf_probe_read_user(e->data, clamp_len(tail, TIER_S), (void *)(buf + at));
            submit(e, wake_flags(1, total));
            return;
        }
    } else if (tail <= TIER_M) {
        struct data_m *e = reserve_m();
        if (e) {
            __builtin_memcpy(&e->m, src, sizeof(e->m));
            e->m.chunk_off = at;
            e->m.chunk_len = tail;
            e->m.flags |= DF_LAST;
            bpf_probe_read_user(e->data, clamp_len(tail, TIER_M), (void *)(buf + at));
            submit(e, wake_flags(1, total));
            return;
        }
    } else {
        struct data_l *e = reserve_l();
        if (e) {
            __builtin_memcpy(&e->m, src, sizeof(e->m));
            e->m.chunk_off = at;
            e->m.chunk_len = tail;
            e->m.flags |= DF_LAST;
            bpf_probe_read_user(e->data, clamp_len(tail, CHUNK_SIZE), (void *)(buf + at));
            submit(e, wake_flags(1, total));
            return;
        }
    }
    count_lost(lost_idx, 1);
    count_lost(lost_idx + 1, tail);
}

/* A big call is copied by a chain of tail calls (bcc cannot relocate
 * bpf_loop callbacks, and one long loop defeats the verifier): each link
 * copies up to CHUNKS_PER_PROG full chunks, then calls the next.  The job
 * sits in a per-CPU slot, tagged with the thread, between links. */
struct job {
    struct data_meta m;
    u64 buf;
    u32 nbig;  /* full CHUNK_SIZE chunks */
    u32 next;  /* next chunk index to copy */
    u32 tail;  /* bytes after the full chunks */
    u32 total; /* bytes to copy (<= BODY_CAP) */
    u32 lost_idx;
    u32 tid;
};
BPF_PERCPU_ARRAY(jobs, struct job, 1);
BPF_PROG_ARRAY(copy_kp, 1); /* copy_uprobe: for uprobe (kprobe-type) callers */
BPF_PROG_ARRAY(copy_tp, 1); /* copy_tracepoint: for tracepoint callers */

static __always_inline int run_job(void *ctx, int tp) {
    u32 z = 0;
    struct job *j = jobs.lookup(&z);
    if (!j)
        return 0;
    if (j->tid != (u32)bpf_get_current_pid_tgid())
        return 0; /* slot reused under us: cannot happen without preemption */
    u32 start = j->next;
    u32 nbig = j->nbig;
#pragma clang loop unroll(disable)
    for (u32 k = 0; k < CHUNKS_PER_PROG; k++) {
        u32 i = start + k;
        if (i >= nbig)
            break;
        int last = (i + 1 == nbig) && j->tail == 0;
        struct data_l *e = reserve_l();
        if (!e) {
            count_lost(j->lost_idx, 1);
            count_lost(j->lost_idx + 1, CHUNK_SIZE);
            continue;
        }
        __builtin_memcpy(&e->m, &j->m, sizeof(e->m));
        e->m.chunk_off = i * CHUNK_SIZE;
        e->m.chunk_len = CHUNK_SIZE;
        if (last)
            e->m.flags |= DF_LAST;
        bpf_probe_read_user(e->data, CHUNK_SIZE, (void *)(j->buf + (u64)i * CHUNK_SIZE));
        submit(e, wake_flags(last, j->total));
    }
    u32 next = start + CHUNKS_PER_PROG;
    if (next < nbig) {
        j->next = next;
        if (tp)
            copy_tp.call(ctx, 0);
        else
            copy_kp.call(ctx, 0);
        /* Only reached if the tail call failed (chain too long). */
        count_lost(j->lost_idx, nbig - next + (j->tail ? 1 : 0));
        return 0;
    }
    emit_tail(&j->m, j->buf, nbig, j->tail, j->total, j->lost_idx);
    return 0;
}

int copy_uprobe(struct pt_regs *ctx) { return run_job(ctx, 0); }
int copy_tracepoint(void *ctx) { return run_job(ctx, 1); }

/* Emit `len` bytes at user address `buf` as chunk events of connection `cs`,
 * whose stream offset advances by the full len, captured or not.  A call
 * that fits in one chunk is emitted here; a bigger one becomes a job for the
 * copy chain (this must then be the caller's last action: a tail call does
 * not return; `rest` bytes that the caller would have emitted next become a
 * gap). */
static __always_inline void emit_data(void *ctx, int tp, struct conn_state *cs, u64 ssl, u64 buf,
                                      u64 len, u8 dir, u8 fn, u8 lib, u32 lost_idx,
                                      u64 rest) {
    struct data_meta m = {};
    u64 pid_tgid = bpf_get_current_pid_tgid();
    m.h.type = EV_DATA;
    m.h.pid = pid_tgid >> 32;
    m.h.tid = (u32)pid_tgid;
    m.h.ts = bpf_ktime_get_ns();
    m.conn = cs->id;
    m.ssl = ssl;
    m.call_off = cs->off[dir & 1];
    m.call_len = len;
    m.fd = cs->fd;
    m.dir = dir;
    m.fn = fn;
    m.lib = lib;
    cs->off[dir & 1] += len;
    u32 total = len;
    if (len > BODY_CAP) {
        m.flags = DF_TRUNC;
        total = BODY_CAP;
    }
    u32 nbig = total / CHUNK_SIZE;
    u32 tail = total & (CHUNK_SIZE - 1);
    if (nbig == 0) {
        emit_tail(&m, buf, 0, tail, total, lost_idx);
        return;
    }
    if (rest) {
        /* writev: the iovecs after this one will not be copied (the tail
         * call does not come back): leave a visible gap for them. */
        cs->off[dir & 1] += rest;
        count_lost(lost_idx + 1, rest);
    }
    u32 z = 0;
    struct job *j = jobs.lookup(&z);
    if (!j) {
        count_lost(lost_idx, nbig + (tail ? 1 : 0));
        return;
    }
    __builtin_memcpy(&j->m, &m, sizeof(m));
    j->buf = buf;
    j->nbig = nbig;
    j->next = 0;
    j->tail = tail;
    j->total = total;
    j->lost_idx = lost_idx;
    j->tid = (u32)pid_tgid;
    if (tp)
        copy_tp.call(ctx, 0);
    else
        copy_kp.call(ctx, 0);
    count_lost(lost_idx, nbig + (tail ? 1 : 0));
    count_lost(lost_idx + 1, total);
}

static __always_inline void emit_close(u64 conn, u64 ssl, s32 fd, u32 reason) {
    struct close_ev *e = events.ringbuf_reserve(sizeof(struct close_ev));
    if (!e) {
        count_lost(LOST_CONN_EVENTS, 1);
        return;
    }
    u64 pid_tgid = bpf_get_current_pid_tgid();
    e->h.type = EV_CLOSE;
    e->h.pid = pid_tgid >> 32;
    e->h.tid = (u32)pid_tgid;
    e->h.aux = 0;
    e->h.ts = bpf_ktime_get_ns();
    e->conn = conn;
    e->ssl = ssl;
    e->fd = fd;
    e->reason = reason;
    events.ringbuf_submit(e, BPF_RB_NO_WAKEUP);
}
#define CLOSE_SSL_FREE 1
#define CLOSE_SSL_NEW 2
#define CLOSE_FD 3
#define CLOSE_FD_CHANGED 4

/* ---- TLS library hooks share these two halves ---- */

/* On entry only remember the arguments: the bytes are not final yet (a write
 * may return WANT_WRITE and be retried; a read has not filled the buffer). */
static __always_inline int tls_enter(u64 ssl, u64 buf, u64 lenp, u8 fn, u8 lib, u8 dir) {
    u64 pid_tgid = bpf_get_current_pid_tgid();
    if (!is_traced(pid_tgid >> 32))
        return 0;
    u32 tid = (u32)pid_tgid;
    struct call_t c = {};
    c.buf = buf;
    c.ssl = ssl;
    c.lenp = lenp;
    c.fd = -1;
    c.fn = fn;
    c.lib = lib;
    c.dir = dir;
    if (calls.update(&tid, &c))
        count_lost(LOST_CALL_STASH, 1);
    return 0;
}

/* On return copy exactly the bytes the call moved.  `ret` is signed: -1 must
 * never alias a huge size.  For the _ex variants the count is *lenp, valid
 * only when ret == 1. */
static __always_inline int tls_return(struct pt_regs *ctx, int is_ex) {
    u64 pid_tgid = bpf_get_current_pid_tgid();
    u32 tid = (u32)pid_tgid;
    struct call_t *c = calls.lookup(&tid);
    if (!c)
        return 0;
    struct call_t call = *c;
    calls.delete(&tid);
    long ret = PT_REGS_RC(ctx);
    s64 n;
    if (is_ex) {
        if ((int)ret != 1 || !call.lenp)
            return 0;
        u64 got = 0;
        bpf_probe_read_user(&got, sizeof(got), (void *)call.lenp);
        n = (s64)got;
    } else {
        n = call.lib == LIB_OPENSSL ? (s64)(int)ret : (s64)ret;
    }
    if (n <= 0)
        return 0;
    struct tls_key k = {.tgid = pid_tgid >> 32, .ssl = call.ssl};
    struct conn_state *cs = tls_conns.lookup(&k);
    if (cs && call.fd >= 0 && cs->fd >= 0 && cs->fd != call.fd) {
        /* Same SSL* on another socket: the old session was freed unseen. */
        emit_close(cs->id, call.ssl, cs->fd, CLOSE_FD_CHANGED);
        tls_conns.delete(&k);
        cs = 0;
    }
    if (!cs) {
        struct conn_state fresh = {};
        fresh.id = new_conn_id();
        fresh.fd = call.fd;
        tls_conns.update(&k, &fresh);
        cs = tls_conns.lookup(&k);
        if (!cs) {
            count_lost(LOST_CONN_STATE, 1);
            return 0;
        }
    } else if (cs->fd < 0 && call.fd >= 0) {
        cs->fd = call.fd;
    }
    emit_data(ctx, 0, cs, call.ssl, call.buf, (u64)n, call.dir, call.fn, call.lib, LOST_TLS_CHUNKS, 0);
    return 0;
}

/* The session object is gone: its pointer may come back as a new session. */
static __always_inline int tls_forget(u64 ssl, u32 reason) {
    u64 pid_tgid = bpf_get_current_pid_tgid();
    struct tls_key k = {.tgid = pid_tgid >> 32, .ssl = ssl};
    struct conn_state *cs = tls_conns.lookup(&k);
    if (!cs)
        return 0;
    emit_close(cs->id, ssl, cs->fd, reason);
    tls_conns.delete(&k);
    return 0;
}

static __always_inline int emit_sni(u64 ssl, const void *name) {
    u64 pid_tgid = bpf_get_current_pid_tgid();
    if (!is_traced(pid_tgid >> 32) || !name)
        return 0;
    struct sni_ev *e = events.ringbuf_reserve(sizeof(struct sni_ev));
    if (!e) {
        count_lost(LOST_CONN_EVENTS, 1);
        return 0;
    }
    e->h.type = EV_SNI;
    e->h.pid = pid_tgid >> 32;
    e->h.tid = (u32)pid_tgid;
    e->h.aux = 0;
    e->h.ts = bpf_ktime_get_ns();
    e->ssl = ssl;
    bpf_probe_read_user_str(e->name, sizeof(e->name), name);
    events.ringbuf_submit(e, BPF_RB_NO_WAKEUP);
    return 0;
}

struct sockcall_t {
    u64 addr;
    s32 fd;
    u32 kind; /* 0 connect, 1 accept, 2 bind */
    u16 lport; /* connect: local port, when established before connect() returned */
    u8 laddr[16]; /* ... and local address */
};
BPF_HASH(sockcalls, u32, struct sockcall_t, 16384);
/* (tgid, listening fd) -> bound port, so accepted sockets know their local port */
BPF_TABLE("lru_hash", struct sock_key, u16, bound, 16384);

#ifdef FILTER_COMM
struct comm_key { char c[16]; };
BPF_HASH(comm_filter, struct comm_key, u8, 64);
#endif

static __always_inline void fill_hdr(struct ev_hdr *h, u32 type) {
    u64 pid_tgid = bpf_get_current_pid_tgid();
    h->type = type;
    h->pid = pid_tgid >> 32;
    h->tid = (u32)pid_tgid;
    h->aux = 0;
    h->ts = bpf_ktime_get_ns();
}

/* ---------------- processes ----------------
 * No task_struct field is read anywhere: the kernel headers bcc compiles
 * against may not match the running kernel (here 6.1 headers on 6.18), and
 * wrong offsets would give silent garbage.  Everything comes from tracepoint
 * arguments and helpers:
 *   task_newtask (parent context; clone_flags tells threads apart) -> ppid,
 *   start time and traced-set inheritance;
 *   sys_enter_execve(at) -> argv, read from the caller's memory;
 *   sys_enter_exit_group / signal_deliver -> how the process ends;
 *   sched_process_exit with group_dead -> the process is gone. */

#define CLONE_THREAD_ 0x00010000

struct parent_t { u32 ppid; u32 _pad; u64 start_ns; };
BPF_TABLE("lru_hash", u32, struct parent_t, parents, 65536);
struct argv_t { u32 len; u32 trunc; char buf[ARGV_MAX]; };
BPF_HASH(argvs, u32, struct argv_t, 1024);
BPF_PERCPU_ARRAY(argv_scratch, struct argv_t, 1);
/* how a process is ending: exit_group status, or (sig << 8 | 0x80) for a signal */
BPF_TABLE("lru_hash", u32, u32, endings, 16384);

TRACEPOINT_PROBE(task, task_newtask) {
    if (args->clone_flags & CLONE_THREAD_)
        return 0; /* a thread, not a process */
    u64 pid_tgid = bpf_get_current_pid_tgid();
    u32 ppid = pid_tgid >> 32;
    u32 cpid = args->pid;
    struct parent_t p = {.ppid = ppid, .start_ns = bpf_ktime_get_ns()};
    parents.update(&cpid, &p);
#ifdef FILTER_PIDS
    if (traced_pids.lookup(&ppid)) {
        u8 one = 1;
        traced_pids.update(&cpid, &one);
    }
#endif
    if (!is_traced(ppid))
        return 0;
    struct fork_ev *e = events.ringbuf_reserve(sizeof(struct fork_ev));
    if (!e) {
        count_lost(LOST_PROC_EVENTS, 1);
        return 0;
    }
    fill_hdr(&e->h, EV_FORK);
    e->h.pid = cpid;
    e->ppid = ppid;
    __builtin_memcpy(e->comm, args->comm, sizeof(e->comm));
    events.ringbuf_submit(e, BPF_RB_NO_WAKEUP);
    return 0;
}

/* Copy argv (NUL-separated, at most ARGV_MAX bytes) from the exec caller. */
static __always_inline int stash_argv(const char *const *argv) {
    u64 pid_tgid = bpf_get_current_pid_tgid();
#ifndef FILTER_COMM
    if (!is_traced(pid_tgid >> 32))
        return 0;
#endif
    u32 z = 0;
    struct argv_t *a = argv_scratch.lookup(&z);
    if (!a)
        return 0;
    a->len = 0;
    a->trunc = 0;
    u32 off = 0;
#pragma unroll
    for (int i = 0; i < MAX_ARGS; i++) {
        const char *p = 0;
        if (bpf_probe_read_user(&p, sizeof(p), (void *)&argv[i]) || !p)
            break;
        if (off > ARGV_MAX - ARG_MAX_) {
            a->trunc = 1;
            break;
        }
        long n = bpf_probe_read_user_str(&a->buf[off], ARG_MAX_, p);
        if (n <= 0)
            break;
        if (n == ARG_MAX_)
            a->trunc = 1;
        off += n;
        if (i == MAX_ARGS - 1) {
            const char *more = 0;
            bpf_probe_read_user(&more, sizeof(more), (void *)&argv[i + 1]);
            if (more)
                a->trunc = 1;
        }
    }
    a->len = off;
    u32 tid = (u32)pid_tgid;
    argvs.update(&tid, a);
    return 0;
}

TRACEPOINT_PROBE(syscalls, sys_enter_execve) { return stash_argv(args->argv); }
TRACEPOINT_PROBE(syscalls, sys_enter_execveat) { return stash_argv(args->argv); }

TRACEPOINT_PROBE(sched, sched_process_exec) {
    u64 pid_tgid = bpf_get_current_pid_tgid();
    u32 tgid = pid_tgid >> 32;
    u32 old_tid = args->old_pid; /* exec from a thread: argv was stashed under its tid */
#ifdef FILTER_COMM
    struct comm_key ck = {};
    bpf_get_current_comm(&ck.c, sizeof(ck.c));
    if (comm_filter.lookup(&ck)) {
        u8 one = 1;
        traced_pids.update(&tgid, &one);
    }
#endif
    struct argv_t *a = argvs.lookup(&old_tid);
    if (!is_traced(tgid)) {
        if (a)
            argvs.delete(&old_tid);
        return 0;
    }
    struct exec_ev *e = events.ringbuf_reserve(sizeof(struct exec_ev));
    if (!e) {
        count_lost(LOST_PROC_EVENTS, 1);
        if (a)
            argvs.delete(&old_tid);
        return 0;
    }
    fill_hdr(&e->h, EV_EXEC);
    struct parent_t *p = parents.lookup(&tgid);
    e->ppid = p ? p->ppid : 0;
    e->start_ns = p ? p->start_ns : 0;
    u64 ug = bpf_get_current_uid_gid();
    e->uid = (u32)ug;
    e->gid = ug >> 32;
    e->cgroup = bpf_get_current_cgroup_id();
    bpf_get_current_comm(&e->comm, sizeof(e->comm));
    unsigned short loc = args->data_loc_filename & 0xFFFF;
    bpf_probe_read_kernel_str(e->filename, sizeof(e->filename), (void *)args + loc);
    e->argv_len = 0;
    if (a) {
        e->argv_len = a->len > ARGV_MAX ? ARGV_MAX : a->len;
        e->h.aux = a->trunc;
        __builtin_memcpy(e->argv, a->buf, ARGV_MAX);
        argvs.delete(&old_tid);
    }
    events.ringbuf_submit(e, BPF_RB_NO_WAKEUP);
    return 0;
}

TRACEPOINT_PROBE(syscalls, sys_enter_exit_group) {
    u32 tgid = bpf_get_current_pid_tgid() >> 32;
    if (!is_traced(tgid))
        return 0;
    u32 code = (args->error_code & 0xff) << 8;
    endings.update(&tgid, &code);
    return 0;
}

TRACEPOINT_PROBE(signal, signal_deliver) {
    /* A default-action signal that kills (not ignore/stop/continue). */
    int sig = args->sig;
    if (args->sa_handler != 0 || sig == 17 || sig == 18 || sig == 19 || sig == 20 ||
        sig == 21 || sig == 22 || sig == 23 || sig == 28)
        return 0;
    u32 tgid = bpf_get_current_pid_tgid() >> 32;
    if (!is_traced(tgid))
        return 0;
    u32 code = sig & 0x7f;
    /* insert, never overwrite: exit_group() makes the kernel SIGKILL the
     * other threads, and the first ending seen is the real one. */
    endings.insert(&tgid, &code);
    return 0;
}

TRACEPOINT_PROBE(sched, sched_process_exit) {
    if (!args->group_dead)
        return 0; /* other threads remain: the process is not gone yet */
    u32 tgid = bpf_get_current_pid_tgid() >> 32;
    parents.delete(&tgid);
    u32 *code = endings.lookup(&tgid);
    if (!is_traced(tgid)) {
        if (code)
            endings.delete(&tgid);
        return 0;
    }
    struct exit_ev *e = events.ringbuf_reserve(sizeof(struct exit_ev));
    if (e) {
        fill_hdr(&e->h, EV_EXIT);
        e->exit_code = code ? *code : 0;
        e->h.aux = code ? 1 : 0; /* 0: ended without exit_group or a fatal signal seen */
        bpf_get_current_comm(&e->comm, sizeof(e->comm));
        events.ringbuf_submit(e, BPF_RB_FORCE_WAKEUP);
    } else {
        count_lost(LOST_PROC_EVENTS, 1);
    }
    if (code)
        endings.delete(&tgid);
    traced_pids.delete(&tgid);
    return 0;
}

/* ---------------- sockets ---------------- */

static __always_inline int sock_enter(s32 fd, u64 addr, u32 kind) {
    u64 pid_tgid = bpf_get_current_pid_tgid();
    if (!is_traced(pid_tgid >> 32))
        return 0;
    u32 tid = (u32)pid_tgid;
    struct sockcall_t c = {.addr = addr, .fd = fd, .kind = kind};
    sockcalls.update(&tid, &c);
    return 0;
}

/* Read a sockaddr_in/in6; returns the port (host order) or -1 if not inet. */
static __always_inline int read_sockaddr(u64 addr, struct sock_ev *e) {
    u16 family = 0;
    if (!addr || bpf_probe_read_user(&family, sizeof(family), (void *)addr))
        return -1;
    e->family = family;
    if (family == AF_INET) {
        struct sockaddr_in sa = {};
        bpf_probe_read_user(&sa, sizeof(sa), (void *)addr);
        e->port = ntohs(sa.sin_port);
        __builtin_memcpy(e->addr, &sa.sin_addr, 4);
        return e->port;
    }
    if (family == AF_INET6) {
        struct sockaddr_in6 sa = {};
        bpf_probe_read_user(&sa, sizeof(sa), (void *)addr);
        e->port = ntohs(sa.sin6_port);
        __builtin_memcpy(e->addr, &sa.sin6_addr, 16);
        return e->port;
    }
    return -1;
}

static __always_inline int sock_exit(long ret) {
    u64 pid_tgid = bpf_get_current_pid_tgid();
    u32 tid = (u32)pid_tgid;
    struct sockcall_t *cp = sockcalls.lookup(&tid);
    if (!cp)
        return 0;
    struct sockcall_t c = *cp;
    sockcalls.delete(&tid);
    if (c.kind == 0 && ret != 0 && ret != -EINPROGRESS_)
        return 0;
    if (c.kind != 0 && ret < 0)
        return 0;
    struct sock_ev ev = {};
    int port = read_sockaddr(c.addr, &ev);
    struct sock_key sk = {.tgid = pid_tgid >> 32};
    if (c.kind == 2) { /* bind: remember the local port of a listener */
        if (port > 0) {
            u16 p = port;
            sk.fd = c.fd;
            bound.update(&sk, &p);
        }
        return 0;
    }
    struct sock_ev *e = events.ringbuf_reserve(sizeof(struct sock_ev));
    if (!e) {
        count_lost(LOST_CONN_EVENTS, 1);
        return 0;
    }
    __builtin_memcpy(e, &ev, sizeof(ev));
    fill_hdr(&e->h, c.kind == 0 ? EV_CONNECT : EV_ACCEPT);
    u16 plain_port = 0;
    if (c.kind == 0) {
        e->fd = c.fd;
        if (port > 0)
            plain_port = port;
        if (c.lport) { /* established before connect() returned */
            e->h.aux = c.lport;
            __builtin_memcpy(e->laddr, c.laddr, 16);
        }
    } else {
        e->fd = ret; /* the accepted socket */
        sk.fd = c.fd;
        u16 *lp = bound.lookup(&sk);
        if (lp) {
            e->h.aux = *lp; /* local port */
            plain_port = *lp;
        }
    }
    sk.fd = e->fd;
    e->conn = 0;
    if (plain_port && plain_ports.lookup(&plain_port)) {
        struct conn_state fresh = {};
        fresh.id = new_conn_id();
        fresh.fd = e->fd;
        socks.update(&sk, &fresh); /* replaces any stale state of a reused fd */
        e->conn = fresh.id;
    } else {
        socks.delete(&sk);
    }
    events.ringbuf_submit(e, BPF_RB_NO_WAKEUP);
    return 0;
}

/* The local port of a connect(): the kernel picks it just after the SYN_SENT
 * transition (which runs in the caller, where we know the fd), and it is set
 * at SYN_SENT -> ESTABLISHED (often in softirq, any task).  The socket
 * address links the two; EV_LOCAL then tells userspace the exact local
 * address of (pid, fd), with no racy /proc lookup (fds are reused fast). */
struct sk_owner { u32 tgid; s32 fd; u32 tid; };
BPF_TABLE("lru_hash", u64, struct sk_owner, sk_pending, 16384);

TRACEPOINT_PROBE(sock, inet_sock_set_state) {
    if (args->protocol != IPPROTO_TCP)
        return 0;
    u64 sk = (u64)args->skaddr;
    if (args->newstate == 2 /* TCP_SYN_SENT */) {
        u64 pid_tgid = bpf_get_current_pid_tgid();
        u32 tid = (u32)pid_tgid;
        struct sockcall_t *c = sockcalls.lookup(&tid);
        if (!c || c->kind != 0)
            return 0;
        struct sk_owner o = {.tgid = pid_tgid >> 32, .fd = c->fd, .tid = tid};
        sk_pending.update(&sk, &o);
        return 0;
    }
    if (args->newstate != 1 /* TCP_ESTABLISHED */)
        return 0;
    struct sk_owner *o = sk_pending.lookup(&sk);
    if (!o)
        return 0;
    /* Established while connect() is still running (loopback does that):
     * the connect event itself carries the local address, since this
     * EV_LOCAL then reaches userspace before the connect it belongs to,
     * where an older socket on the same fd (a refused attempt) may still be
     * known. */
    u32 otid = o->tid;
    struct sockcall_t *inflight = sockcalls.lookup(&otid);
    if (inflight && inflight->kind == 0 && inflight->fd == o->fd) {
        inflight->lport = args->sport;
        if (args->family == AF_INET6)
            __builtin_memcpy(inflight->laddr, args->saddr_v6, 16);
        else
            __builtin_memcpy(inflight->laddr, args->saddr, 4);
    }
    struct sock_ev *e = events.ringbuf_reserve(sizeof(struct sock_ev));
    if (e) {
        fill_hdr(&e->h, EV_LOCAL);
        e->h.pid = o->tgid;
        e->h.tid = 0;
        e->fd = o->fd;
        e->family = args->family;
        e->port = args->sport;
        e->conn = 0;
        __builtin_memset(e->addr, 0, 16);
        __builtin_memset(e->laddr, 0, 16);
        if (args->family == AF_INET6)
            __builtin_memcpy(e->addr, args->saddr_v6, 16);
        else
            __builtin_memcpy(e->addr, args->saddr, 4);
        events.ringbuf_submit(e, BPF_RB_NO_WAKEUP);
    } else {
        count_lost(LOST_CONN_EVENTS, 1);
    }
    sk_pending.delete(&sk);
    return 0;
}

TRACEPOINT_PROBE(syscalls, sys_enter_connect) {
    return sock_enter(args->fd, (u64)args->uservaddr, 0);
}
TRACEPOINT_PROBE(syscalls, sys_exit_connect) { return sock_exit(args->ret); }
TRACEPOINT_PROBE(syscalls, sys_enter_accept4) {
    return sock_enter(args->fd, (u64)args->upeer_sockaddr, 1);
}
TRACEPOINT_PROBE(syscalls, sys_exit_accept4) { return sock_exit(args->ret); }
TRACEPOINT_PROBE(syscalls, sys_enter_accept) {
    return sock_enter(args->fd, (u64)args->upeer_sockaddr, 1);
}
TRACEPOINT_PROBE(syscalls, sys_exit_accept) { return sock_exit(args->ret); }
TRACEPOINT_PROBE(syscalls, sys_enter_bind) {
    return sock_enter(args->fd, (u64)args->umyaddr, 2);
}
TRACEPOINT_PROBE(syscalls, sys_exit_bind) { return sock_exit(args->ret); }

TRACEPOINT_PROBE(syscalls, sys_enter_close) {
    u64 pid_tgid = bpf_get_current_pid_tgid();
    struct sock_key sk = {.tgid = pid_tgid >> 32, .fd = args->fd};
    struct conn_state *cs = socks.lookup(&sk);
    if (!cs)
        return 0;
    if (!(cs->flags & CS_TLS))
        emit_close(cs->id, 0, sk.fd, CLOSE_FD);
    socks.delete(&sk);
    return 0;
}

/* ---------------- read/write family ---------------- */

static __always_inline void mark_not_plain(struct conn_state *cs, s32 fd) {
    cs->flags |= CS_TLS;
    struct close_ev *e = events.ringbuf_reserve(sizeof(struct close_ev));
    if (!e) {
        count_lost(LOST_CONN_EVENTS, 1);
        return;
    }
    fill_hdr(&e->h, EV_NOT_PLAIN);
    e->conn = cs->id;
    e->ssl = 0;
    e->fd = fd;
    e->reason = 0;
    events.ringbuf_submit(e, BPF_RB_NO_WAKEUP);
}

static __always_inline int io_enter(s32 fd, u64 buf, u8 fn, u8 dir) {
    u64 pid_tgid = bpf_get_current_pid_tgid();
    u32 tid = (u32)pid_tgid;
    struct sock_key sk = {.tgid = pid_tgid >> 32, .fd = fd};
    struct call_t *c = calls.lookup(&tid);
    if (c && c->lib != LIB_SYSCALL) {
        /* Nested inside a TLS call: this is its socket. */
        if (c->fd < 0)
            c->fd = fd;
        struct conn_state *cs = socks.lookup(&sk);
        if (cs && !(cs->flags & CS_TLS))
            mark_not_plain(cs, fd);
        return 0;
    }
    struct conn_state *cs = socks.lookup(&sk);
    if (!cs || (cs->flags & CS_TLS))
        return 0;
    struct call_t nc = {};
    nc.buf = buf;
    nc.fd = fd;
    nc.fn = fn;
    nc.lib = LIB_SYSCALL;
    nc.dir = dir;
    nc.conn = cs->id;
    if (calls.update(&tid, &nc))
        count_lost(LOST_CALL_STASH, 1);
    return 0;
}

static __always_inline int io_exit(void *ctx, long ret, int iov) {
    u64 pid_tgid = bpf_get_current_pid_tgid();
    u32 tid = (u32)pid_tgid;
    struct call_t *cp = calls.lookup(&tid);
    if (!cp || cp->lib != LIB_SYSCALL)
        return 0; /* nothing stashed, or a TLS call's nested syscall */
    struct call_t c = *cp;
    calls.delete(&tid);
    if (ret <= 0)
        return 0;
    struct sock_key sk = {.tgid = pid_tgid >> 32, .fd = c.fd};
    struct conn_state *cs = socks.lookup(&sk);
    if (!cs || cs->id != c.conn || (cs->flags & CS_TLS))
        return 0;
    u8 dir = c.dir & 1;
    if (iov) {
        /* Walk the iovecs, as many as `ret` bytes cover (bounded). */
        u64 left = ret;
#pragma unroll
        for (int i = 0; i < MAX_IOV; i++) {
            if (left == 0)
                break;
            struct iovec iv = {};
            if (bpf_probe_read_user(&iv, sizeof(iv), (void *)(c.buf + i * sizeof(iv))))
                break;
            u64 n = iv.iov_len < left ? iv.iov_len : left;
            if (n == 0)
                continue;
            if (cs->off[dir] == 0 && n >= 2) {
                u8 b[2] = {};
                bpf_probe_read_user(b, 2, iv.iov_base);
                if (b[0] == 0x16 && b[1] == 0x03) {
                    mark_not_plain(cs, c.fd);
                    return 0;
                }
            }
            emit_data(ctx, 1, cs, 0, (u64)iv.iov_base, n, dir, c.fn, LIB_SYSCALL, LOST_PLAIN_CHUNKS,
                      left - n);
            left -= n;
        }
        if (left)
            cs->off[dir] += left; /* beyond MAX_IOV iovecs: a visible gap */
        return 0;
    }
    if (cs->off[dir] == 0 && ret >= 2) {
        u8 b[2] = {};
        bpf_probe_read_user(b, 2, (void *)c.buf);
        if (b[0] == 0x16 && b[1] == 0x03) {
            mark_not_plain(cs, c.fd);
            return 0;
        }
    }
    emit_data(ctx, 1, cs, 0, c.buf, ret, dir, c.fn, LIB_SYSCALL, LOST_PLAIN_CHUNKS, 0);
    return 0;
}

TRACEPOINT_PROBE(syscalls, sys_enter_write) {
    return io_enter(args->fd, (u64)args->buf, FN_WRITE, 0);
}
TRACEPOINT_PROBE(syscalls, sys_exit_write) { return io_exit(args, args->ret, 0); }
TRACEPOINT_PROBE(syscalls, sys_enter_read) {
    return io_enter(args->fd, (u64)args->buf, FN_READ, 1);
}
TRACEPOINT_PROBE(syscalls, sys_exit_read) { return io_exit(args, args->ret, 0); }
TRACEPOINT_PROBE(syscalls, sys_enter_sendto) {
    return io_enter(args->fd, (u64)args->buff, FN_SENDTO, 0);
}
TRACEPOINT_PROBE(syscalls, sys_exit_sendto) { return io_exit(args, args->ret, 0); }
TRACEPOINT_PROBE(syscalls, sys_enter_recvfrom) {
    return io_enter(args->fd, (u64)args->ubuf, FN_RECVFROM, 1);
}
TRACEPOINT_PROBE(syscalls, sys_exit_recvfrom) { return io_exit(args, args->ret, 0); }
TRACEPOINT_PROBE(syscalls, sys_enter_writev) {
    return io_enter(args->fd, (u64)args->vec, FN_WRITEV, 0);
}
TRACEPOINT_PROBE(syscalls, sys_exit_writev) { return io_exit(args, args->ret, 1); }
TRACEPOINT_PROBE(syscalls, sys_enter_readv) {
    return io_enter(args->fd, (u64)args->vec, FN_READV, 1);
}
TRACEPOINT_PROBE(syscalls, sys_exit_readv) { return io_exit(args, args->ret, 1); }

/* ---------------- TLS libraries ----------------
 * One file per library, attached by heron/capture/probes/<lib>.py, which
 * also passes -DWITH_<LIB>.  They only call tls_enter/tls_return/tls_forget/
 * emit_sni above (no map syntax: bcc would not rewrite it in an include). */
#ifdef WITH_OPENSSL
#include "openssl.c"
#endif
#ifdef WITH_GNUTLS
#include "gnutls.c"
#endif
