"""heron.analyze.duplicates: the matching rules, case by case (the real recording is
tests/fixtures/proxied.heron, checked in test_fixtures.test_proxied)."""

from __future__ import annotations

from heron.analyze.duplicates import SERVER_SIDE, UPSTREAM, CallView, ConnView, find_duplicates

LO = "127.0.0.1"


def call(i: int, pid: int, conn: int, start: int, end: int, size: int = 10, digest: bytes | None = b"d") -> CallView:  # fmt: skip
    return CallView(i, pid=pid, conn=conn, start=start, end=end, request_bytes=size, digest=digest)


def client(conn: int, lport: int, rport: int, opened: int = 0, raddr: str = LO) -> ConnView:
    return ConnView(conn, "client", (LO, lport), (raddr, rport), opened)


def server(conn: int, lport: int, rport: int, opened: int = 0) -> ConnView:
    return ConnView(conn, "server", (None, lport), (LO, rport), opened)  # local addr unknown


def test_agent_gateway_provider_is_one_call_seen_three_times() -> None:
    conns = {1: client(1, 5000, 4000), 2: server(2, 4000, 5000), 3: client(3, 6000, 443)}
    calls = [call(0, 10, 1, 0, 100), call(1, 20, 2, 1, 99), call(2, 20, 3, 5, 90, size=12)]
    assert find_duplicates(calls, conns) == {1: (0, SERVER_SIDE), 2: (0, UPSTREAM)}


def test_only_clients_nothing_is_a_duplicate() -> None:
    # two identical agents calling the provider at once are two calls, not one
    conns = {1: client(1, 5000, 443), 2: client(2, 5001, 443)}
    calls = [call(0, 10, 1, 0, 100), call(1, 11, 2, 1, 99)]
    assert find_duplicates(calls, conns) == {}


def test_server_side_without_the_client_is_the_call_and_owns_its_upstream() -> None:
    # the gateway traced, the agent not: the server side is the only view of the call
    conns = {2: server(2, 4000, 5000), 3: client(3, 6000, 443)}
    calls = [call(0, 20, 2, 0, 100), call(1, 20, 3, 5, 90)]
    assert find_duplicates(calls, conns) == {1: (0, UPSTREAM)}


def test_keep_alive_calls_pair_in_order_and_stop_when_out_of_step() -> None:
    conns = {1: client(1, 5000, 4000), 2: server(2, 4000, 5000)}
    calls = [
        call(0, 10, 1, 0, 10, size=5),
        call(1, 20, 2, 1, 9, size=5),
        call(2, 10, 1, 20, 30, size=7),
        call(3, 20, 2, 21, 29, size=8),  # a loss on one side: sizes disagree
        call(4, 10, 1, 40, 50, size=9),
        call(5, 20, 2, 41, 49, size=9),
    ]
    assert find_duplicates(calls, conns) == {1: (0, SERVER_SIDE)}


def test_a_reused_port_pairs_with_the_client_opened_nearest_in_time() -> None:
    conns = {
        1: client(1, 5000, 4000, opened=0),
        3: client(3, 5000, 4000, opened=1_000_000),  # the same ephemeral port, later
        2: server(2, 4000, 5000, opened=1_000_050),
    }
    calls = [call(0, 10, 1, 0, 10), call(1, 10, 3, 1_000_100, 1_000_200), call(2, 20, 2, 1_000_101, 1_000_199)]  # fmt: skip
    assert find_duplicates(calls, conns) == {2: (1, SERVER_SIDE)}


def test_upstream_needs_the_same_content_and_to_lie_inside_the_served_call() -> None:
    conns = {2: server(2, 4000, 5000), 3: client(3, 6000, 443)}
    calls = [
        call(0, 20, 2, 100, 200, digest=b"a"),
        call(1, 20, 3, 110, 190, digest=b"b"),  # other content: the gateway's own business
        call(2, 20, 3, 150, 250, digest=b"a"),  # ends after the served call ended
        call(3, 20, 3, 50, 150, digest=b"a"),  # started before it
    ]
    assert find_duplicates(calls, conns) == {}


def test_retries_and_fallbacks_are_all_upstream_of_the_one_call() -> None:
    conns = {2: server(2, 4000, 5000), 3: client(3, 6000, 443), 4: client(4, 6001, 443)}
    calls = [
        call(0, 20, 2, 0, 1000),
        call(1, 20, 3, 10, 20),  # 429
        call(2, 20, 3, 30, 40),  # 429
        call(3, 20, 4, 50, 900),  # fallback provider
    ]
    assert find_duplicates(calls, conns) == {1: (0, UPSTREAM), 2: (0, UPSTREAM), 3: (0, UPSTREAM)}


def test_concurrent_identical_requests_through_one_gateway_each_link_once() -> None:
    conns = {2: server(2, 4000, 5000), 5: server(5, 4000, 5001), 3: client(3, 6000, 443)}
    calls = [call(0, 20, 2, 0, 100), call(1, 20, 5, 10, 110), call(2, 20, 3, 20, 90)]
    # inside both: held by the latest-started one, never by two
    assert find_duplicates(calls, conns) == {2: (1, UPSTREAM)}


def test_calls_without_history_link_only_when_unambiguous() -> None:
    conns = {2: server(2, 4000, 5000), 5: server(5, 4000, 5001), 3: client(3, 6000, 443)}
    one = [call(0, 20, 2, 0, 100, digest=None), call(1, 20, 3, 20, 90, digest=None)]
    assert find_duplicates(one, conns) == {1: (0, UPSTREAM)}
    two = [*one, call(2, 20, 5, 10, 110, digest=None)]
    assert find_duplicates(two, conns) == {}


def test_a_chain_of_gateways_resolves_to_the_agents_call() -> None:
    conns = {
        1: client(1, 5000, 4000),  # agent -> gateway A
        2: server(2, 4000, 5000),
        3: client(3, 6000, 4100),  # gateway A -> gateway B
        4: server(4, 4100, 6000),
        5: client(5, 7000, 443),  # gateway B -> provider
    }
    calls = [
        call(0, 10, 1, 0, 100),
        call(1, 20, 2, 1, 99),
        call(2, 20, 3, 2, 98, size=11),
        call(3, 30, 4, 3, 97, size=11),
        call(4, 30, 5, 4, 96, size=12),
    ]
    assert find_duplicates(calls, conns) == {
        1: (0, SERVER_SIDE),
        2: (0, UPSTREAM),
        3: (0, SERVER_SIDE),
        4: (0, UPSTREAM),
    }


def test_ipv4_mapped_ipv6_and_unknown_times_or_addresses() -> None:
    conns = {
        1: ConnView(1, "client", ("::ffff:127.0.0.1", 5000), (LO, 4000), 0),
        2: ConnView(2, "server", (None, 4000), ("127.0.0.1", 5000), 0),
        3: ConnView(3, None, (None, None), (None, None), None),  # nothing known
    }
    calls = [call(0, 10, 1, 0, 100), call(1, 20, 2, 1, 99), CallView(2, 20, 3, None, None, None, b"d")]  # fmt: skip
    assert find_duplicates(calls, conns) == {1: (0, SERVER_SIDE)}
