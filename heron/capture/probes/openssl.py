"""OpenSSL 1.1 / 3.x: ``libssl.so*`` and executables exporting ``SSL_*`` (node).

CPython 3.10+ and Node on OpenSSL 3 call the ``_ex`` variants, so all four
data functions are hooked; the BPF side reads the ``_ex`` byte count from
``*arg4`` and only when the call returned 1.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from heron.capture.probes import Hook

NAME = "openssl"
CFLAG = "-DWITH_OPENSSL"
FILE_PATTERN = r"libssl\.so(\.[0-9.]+)?"
MARKERS = frozenset({"SSL_write", "SSL_read"})


def hooks() -> list[Hook]:
    """The symbols hooked and their programs (see ``bpf/openssl.c``)."""
    from heron.capture.probes import Hook

    return [
        Hook("SSL_write", "ossl_write_enter", "ossl_return", required=True),
        Hook("SSL_read", "ossl_read_enter", "ossl_return", required=True),
        Hook("SSL_write_ex", "ossl_write_ex_enter", "ossl_return_ex"),
        Hook("SSL_read_ex", "ossl_read_ex_enter", "ossl_return_ex"),
        Hook("SSL_free", "ossl_free_enter"),
        Hook("SSL_new", None, "ossl_new_return"),
        Hook("SSL_ctrl", "ossl_ctrl_enter"),
    ]
