"""GnuTLS (``libgnutls.so.30``): record send/recv have SSL_write/SSL_read's
shape and return ``ssize_t``; ``gnutls_deinit`` ends a session."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from heron.capture.probes import Hook

NAME = "gnutls"
CFLAG = "-DWITH_GNUTLS"
FILE_PATTERN = r"libgnutls\.so(\.[0-9.]+)?"
MARKERS = frozenset({"gnutls_record_send", "gnutls_record_recv"})


def hooks() -> list[Hook]:
    """The symbols hooked and their programs (see ``bpf/gnutls.c``)."""
    from heron.capture.probes import Hook

    return [
        Hook("gnutls_record_send", "gnutls_send_enter", "gnutls_return", required=True),
        Hook("gnutls_record_recv", "gnutls_recv_enter", "gnutls_return", required=True),
        Hook("gnutls_deinit", "gnutls_deinit_enter"),
        Hook("gnutls_server_name_set", "gnutls_sni_enter"),
    ]
