"""The bench's RSA peers: the row of `openssl speed` they read, and the all-cores floor doing exactly the work
asked (every call made once, each on its thread's share)."""

from __future__ import annotations

import threading

from bench import rsa_peer

SPEED_30 = """version: 3.0.13
                  sign    verify    sign/s verify/s
rsa 4096 bits 0.006142s 0.000094s    162.8  10638.3
"""
SPEED_32 = """                   sign    verify    encrypt   decrypt   sign/s verify/s  encr./s  decr./s
rsa  4096 bits 0.005ms 0.000082s 0.000085s 0.005834s    171.4  12195.1  11764.7    171.4
"""


def test_openssl_speed_rows_of_both_layouts():
    assert rsa_peer.parse_openssl_speed(SPEED_30) == rsa_peer.OpensslSpeed(162.8, 10638.3)
    assert rsa_peer.parse_openssl_speed(SPEED_32) == rsa_peer.OpensslSpeed(171.4, 12195.1)


def test_threads_make_every_call_once_spread_over_the_threads():
    calls: list[str] = []
    lock = threading.Lock()

    def op() -> None:
        with lock:
            calls.append(threading.current_thread().name)

    timing = rsa_peer.run_ops_threads(op, 11, 3)
    assert len(calls) == 11
    assert sorted(calls.count(name) for name in set(calls)) == [3, 4, 4]
    assert timing.wall >= 0 and timing.cpu >= 0
