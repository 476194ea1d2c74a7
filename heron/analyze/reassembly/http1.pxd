# Cython declarations for http1.py (heron.accel compiles the .py with them):
# the parser as an extension type, so that its state is struct fields, not
# an instance dictionary.  Every attribute is a plain Python object: the
# module keeps Python semantics, compiled or not.

cdef class HTTP1Parser:
    cdef public object role, methods, _buf, _pos, _base, _scan, _remaining, _state
    cdef public object _in_message, _upgrade_pending, _chunks, _resynced, _boundaries

    cpdef take_body(self, data, offset)
    cpdef take_head(self, data, offset)
    cpdef take_known_head(self, data, offset, after, cl, parsed)
    cpdef take_chunks(self, data, offset)
    cpdef _head_may_start(self, data, offset)
    cpdef _take_parsed(self, n, after, cl, parsed, chunked=*)
    cpdef _end_message(self)
