"""A throw-away CA and a server certificate for 127.0.0.1 / localhost / ::1.

Files written to the certificate directory:

* ``ca.pem``: the CA certificate; point clients at it (``SSL_CERT_FILE``,
  ``NODE_EXTRA_CA_CERTS``, ``curl --cacert``, ``ssl.create_default_context(cafile=...)``);
* ``server.pem``: the leaf certificate followed by the CA (the chain);
* ``server.key``: the leaf's private key (mode 0600).

Existing files are reused, so a long-lived directory keeps one CA across
server restarts.

Examples
--------
>>> import tempfile
>>> paths = ensure_certs(tempfile.mkdtemp())
>>> sorted(p.name for p in (paths.ca, paths.chain, paths.key))
['ca.pem', 'server.key', 'server.pem']
"""

from __future__ import annotations

import fcntl
import os
import ssl
from dataclasses import dataclass
from pathlib import Path

HOSTS = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True, slots=True)
class CertPaths:
    """Where the CA, the server chain and the server key live."""

    ca: Path
    chain: Path
    key: Path


def ensure_certs(cert_dir: str | Path) -> CertPaths:
    """Create the CA and server certificate in ``cert_dir`` unless present.

    Examples
    --------
    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> ensure_certs(d).ca.read_bytes() == ensure_certs(d).ca.read_bytes()
    True
    """
    d = Path(cert_dir)
    d.mkdir(parents=True, exist_ok=True)
    paths = CertPaths(d / "ca.pem", d / "server.pem", d / "server.key")
    # Servers started at once on one directory must agree on one CA: the
    # first makes it under an exclusive lock, the others wait and reuse it.
    with open(d / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (paths.ca.exists() and paths.chain.exists() and paths.key.exists()):
            _make(d)
    return paths


def _make(d: Path) -> None:
    import trustme

    ca = trustme.CA(organization_name="Heron stand-in CA")
    leaf = ca.issue_cert(*HOSTS)
    tmp = d / f".tmp-{os.getpid()}"
    tmp.mkdir(exist_ok=True)
    ca.cert_pem.write_to_path(str(tmp / "ca.pem"))
    leaf.private_key_pem.write_to_path(str(tmp / "server.key"))
    os.chmod(tmp / "server.key", 0o600)
    with open(tmp / "server.pem", "wb") as f:
        for blob in leaf.cert_chain_pems:
            f.write(blob.bytes())
    # Rename into place so a concurrent reader never sees half a set.
    for name in ("server.key", "server.pem", "ca.pem"):
        os.replace(tmp / name, d / name)
    tmp.rmdir()


def server_context(paths: CertPaths) -> ssl.SSLContext:
    """A server TLS context offering ALPN ``h2`` and ``http/1.1``.

    Examples
    --------
    >>> import tempfile
    >>> server_context(ensure_certs(tempfile.mkdtemp())).verify_mode == ssl.CERT_NONE
    True
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(str(paths.chain), str(paths.key))
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    # RFC 7540 9.2.2: HTTP/2 over TLS 1.2 forbids some ciphers; the defaults
    # of OpenSSL 3 already prefer AEAD suites, and TLS 1.3 is negotiated here.
    return ctx


def client_context(ca_file: str | Path) -> ssl.SSLContext:
    """A client TLS context that trusts the stand-in CA.

    Examples
    --------
    >>> import tempfile
    >>> client_context(ensure_certs(tempfile.mkdtemp()).ca).check_hostname
    True
    """
    return ssl.create_default_context(cafile=str(ca_file))
