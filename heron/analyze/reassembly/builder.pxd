# Cython declarations for builder.py (heron.accel compiles the .py with them):
# the connection and exchange state as extension types, so that their
# attributes are struct fields, not dictionary lookups.  Every attribute is
# a plain Python object: the module keeps Python semantics, compiled or not.
cimport cython

cdef class _Ex:
    cdef public object ex, req_body, req_dec, req_done, req_seen
    cdef public object resp_body, resp_dec, resp_done, resp_seen, upgrade

cdef class _Conn:
    cdef public object any_spans, asm, client_dir, conn, detect, detect_buf, detect_gap
    cdef public object h1_cur_req, h1_cur_resp, h1_held, h1_held_flags, h1_held_sure
    cdef public object h1_lost_ns, h1_orphans, h1_queue, h1_req, h1_resp, h1_skipped
    cdef public object h2, h2_closed, h2_lost, h2_streams, h2c, info, joined, last_ts
    cdef public object open, proto, spans, times

cdef class Reassembler:
    cdef public object _fast, max_body, mask_sensitive, _conns, _next_id, _out, _records
    cdef public object _data_bytes, _dup_bytes, _connections, _exchanges, _opaque, _heads

    @cython.locals(c=_Conn)
    cpdef _data(self, rec)
    cpdef _route(self, _Conn c, d, item)
    cpdef _dispatch(self, _Conn c, d, item)
    cpdef _feed_bytes(self, _Conn c, d, data, ts)
    @cython.locals(x=_Ex)
    cpdef _new(self, _Conn c, version, ts, at)
    cpdef _maybe_finish(self, _Conn c, _Ex x)
    cpdef _finish(self, _Conn c, _Ex x)
    cpdef _h1_decode(self, _Conn c, d, start, end, raw, fields, plain)
    cpdef _body(self, _Conn c, d, _Ex x, data, offset, ts, resp)
    cpdef _hole(self, _Ex x, n, kind, resp)
    @cython.locals(x=_Ex)
    cpdef _h1_fast(self, _Conn c, d, data, offset, ts, pid, tid)
    @cython.locals(x=_Ex)
    cpdef _h1_take_head(self, _Conn c, d, p, data, offset, ts, pid, tid, client)
    cpdef _h1(self, _Conn c, d, evs, ts)
    @cython.locals(x=_Ex)
    cpdef _h1_request_head(self, _Conn c, d, ts, at, start, end, raw, version, method, target, fields, plain=*, decoded=*)
    cpdef _h1_response_head(self, _Conn c, d, _Ex x, ts, at, start, end, raw, version, status, fields, plain=*, decoded=*)
