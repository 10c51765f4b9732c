"""sealer.duration against Go's `time.ParseDuration` (what Bitnami's flags and ESO's refreshInterval use): a table
recorded from Go 1.19.8, and, where a Go toolchain is installed, random strings fed to both. Then the callers,
which refuse a negative duration Go's syntax allows."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.config import parse_duration
from controller.vault import fields as vfields
from sealer import duration

# input -> Go's time.ParseDuration result in nanoseconds, None where Go returns an error. Recorded with GO_PROGRAM.
GO_TABLE: list[tuple[str, int | None]] = [
    ("0", 0), ("-0", 0), ("+0", 0), ("0h", 0), ("00", None), ("", None), ("-", None), ("+", None), (".", None),
    (".s", None), ("1", None), ("s", None), ("h1", None),
    ("1h", 3600000000000), ("+1h", 3600000000000), ("-1h", -3600000000000), ("1h30m", 5400000000000),
    ("720h30m", 2593800000000000), ("1h0m0s", 3600000000000), ("1h1h", 7200000000000), ("5s4m3h", 11045000000000),
    ("1.5h", 5400000000000), (".5h", 1800000000000), ("1.h", 3600000000000), ("-.5h", -1800000000000),
    ("0.5m", 30000000000), ("1m.5s", 60500000000), ("2h45m0.5s", 9900500000000),
    ("90s", 90000000000), ("250ms", 250000000), ("300us", 300000), ("300\u00b5s", 300000), ("300\u03bcs", 300000),
    ("1ns", 1), ("1.5ns", 1), ("0.9ns", 0), ("1.0000000001s", 1000000000), ("1.9999999999s", 1999999999),
    ("3.000000001h", 10800000003600), ("0.1234567890123456789012345h", 444444440444),
    ("1.00000000000000000000000000000000001h", 3600000000000), ("00000000000000000000001s", 1000000000),
    ("1d", None), ("1w", None), ("1H", None), ("1S", None), ("1hr", None), ("1sec", None), ("1 h", None),
    (" 1h", None), ("1h ", None), ("1e3s", None), ("1_000s", None), ("0x10s", None), ("--1s", None),
    ("+-1s", None), ("1h-1m", None), ("1.2.3s", None), ("1..2s", None),
    # the int64 bounds, and Go's uint64 sum wrapping to zero
    ("9223372036854775807ns", 9223372036854775807), ("9223372036854775808ns", None),
    ("-9223372036854775808ns", -9223372036854775808), ("-9223372036854775809ns", None),
    ("2562047h47m16.854775807s", 9223372036854775807), ("2562047h47m16.854775808s", None),
    ("-2562047h47m16.854775808s", -9223372036854775808), ("2562048h", None),
    ("9223372036854775808ns9223372036854775808ns", 0),
]

GO_PROGRAM = """package main

import (
\t"encoding/json"
\t"os"
\t"time"
)

// a JSON list of strings in, a list of nanoseconds (null: an error) out
func main() {
\tvar in []string
\tif err := json.NewDecoder(os.Stdin).Decode(&in); err != nil {
\t\tpanic(err)
\t}
\tout := make([]*int64, len(in))
\tfor i, s := range in {
\t\tif d, err := time.ParseDuration(s); err == nil {
\t\t\tn := int64(d)
\t\t\tout[i] = &n
\t\t}
\t}
\tjson.NewEncoder(os.Stdout).Encode(out)
}
"""


@pytest.mark.parametrize(("text", "ns"), GO_TABLE)
def test_same_as_go(text: str, ns: int | None) -> None:
    assert duration.nanoseconds(text) == ns
    assert duration.seconds(text) == (None if ns is None else ns / 1e9)


@pytest.mark.parametrize(("text", "ns"), [
    ("30d", 30 * 86400 * 10**9), ("1d12h", 36 * 3600 * 10**9), (".5d", 43200 * 10**9), ("-1d", -86400 * 10**9),
    ("106751d", 106751 * 86400 * 10**9), ("106752d", None), ("1dd", None)])
def test_days_only_where_the_caller_takes_them(text: str, ns: int | None) -> None:
    assert duration.nanoseconds(text, days=True) == ns
    assert duration.nanoseconds(text) is None


@pytest.mark.parametrize(("text", "seconds"), [("-0", 0), (".5h", 1800), ("300us", 0.0003), ("1h30m", 5400),
                                               ("30d", 2592000)])
def test_flags_take_go_durations(text: str, seconds: float) -> None:
    assert parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["-1s", "-.5h", "-1d", "1h ", "9223372036854775808ns"])
def test_flags_refuse_negatives_and_non_durations(text: str) -> None:
    with pytest.raises(ValueError, match=r"^invalid duration .* \(use e\.g\. 30d, 12h, 720h30m, 15m, 90s\)$"):
        parse_duration(text)


@pytest.mark.parametrize(("text", "seconds"), [("+0", 0), (".5h", 1800), ("500us", 0.0005), ("2h45m0.5s", 9900.5)])
def test_refresh_interval_takes_go_durations(text: str, seconds: float) -> None:
    assert vfields.parse_go_duration(text, "spec.refreshInterval") == seconds


@pytest.mark.parametrize("text", ["-1m", "-.5h", "1d"])
def test_refresh_interval_refuses_negatives(text: str) -> None:
    with pytest.raises(vfields.SpecError, match=r"^spec\.refreshInterval: invalid duration .* \(use e\.g\. 1h, 15m"):
        vfields.parse_go_duration(text, "spec.refreshInterval")


# --- against Go itself, when a toolchain is installed ------------------------------------------------------------

GO = shutil.which("go")


@pytest.fixture(scope="module")
def go_parse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("goduration")
    (tmp / "main.go").write_text(GO_PROGRAM)
    env = dict(os.environ, GO111MODULE="off", GOPATH=str(tmp / "gopath"), GOCACHE=str(tmp / "cache"), GOFLAGS="",
               CGO_ENABLED="0")
    subprocess.run([GO or "go", "build", "-o", str(tmp / "parse"), "main.go"], cwd=tmp, env=env, check=True,
                   capture_output=True, timeout=300)
    return tmp / "parse"


def go_results(binary: Path, texts: list[str]) -> list[int | None]:
    proc = subprocess.run([str(binary)], input=json.dumps(texts).encode(), capture_output=True, check=True, timeout=60)
    return json.loads(proc.stdout)


@pytest.mark.skipif(GO is None, reason="the Go toolchain is not installed (apt-get install golang-go)")
def test_the_table_is_gos(go_parse: Path) -> None:
    assert go_results(go_parse, [t for t, _ in GO_TABLE]) == [ns for _, ns in GO_TABLE]


_DIGITS = st.text("0123456789", max_size=21)
_TERM = st.tuples(_DIGITS, st.one_of(st.just(""), _DIGITS.map(lambda d: "." + d)),
                  st.sampled_from(["ns", "us", "\u00b5s", "\u03bcs", "ms", "s", "m", "h", "d", "", "H", "x"]))
_DURATION = st.tuples(st.sampled_from(["", "", "-", "+"]), st.lists(_TERM.map("".join), min_size=0, max_size=4)
                      ).map(lambda p: p[0] + "".join(p[1]))


@pytest.mark.skipif(GO is None, reason="the Go toolchain is not installed (apt-get install golang-go)")
@settings(max_examples=20, deadline=None)
@given(st.lists(st.one_of(_DURATION, st.text("0123456789.-+hmsunµμ d", max_size=8)), min_size=50, max_size=200))
def test_random_strings_match_go(go_parse: Path, texts: list[str]) -> None:
    assert [duration.nanoseconds(t) for t in texts] == go_results(go_parse, texts)
