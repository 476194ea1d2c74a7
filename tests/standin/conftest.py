"""One stand-in server (a subprocess) shared by the stand-in tests."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from heron.standin import StandIn

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StandIn]:
    d = tmp_path_factory.mktemp("standin")
    with StandIn(log_path=d / "log.jsonl", cert_dir=d / "certs") as s:
        yield s


@pytest.fixture(scope="session")
def client_ctx(standin: StandIn) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=standin.ca_file)
