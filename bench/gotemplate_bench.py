"""sealer's Go template engine against Go's own text/template + sprig 3.2.3, on the same cases in the same run.

The cases are the differential test's (tests/gotemplate/cases.py: every supported function, pipelines, control
flow, trimming) plus Bitnami's config-template example repeated. Go runs them in one process (its reference
program, parse + execute per case, process start and JSON included); sealer renders them in this process with
its parse cache cleared every round, so both parse every template once per round. CPU time, median of rounds.

    python -m bench.gotemplate_bench [--rounds 5] [--repeat 20]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import subprocess
import time

from bench.common import fmt_ms, log, markdown_table, median


def _child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=20, help="copies of the case list per round")
    args = parser.parse_args(argv)

    from sealer import gotemplate
    from sealer.errors import InputError
    from sealer.gotemplate.values import StrMap
    from tests.gotemplate import reference
    from tests.gotemplate.cases import CASES

    why = reference.missing()
    if why:
        print(f"| Go template engine vs Go | not measured: {why} | | |")
        return 0
    cases = [c for c in CASES if not isinstance(c[1], tuple)] * args.repeat  # Bitnami's shape: a map of strings
    payload = json.dumps([{"t": t, "d": d} for t, d in cases]).encode()
    binary = reference.binary()
    log(f"gotemplate: {len(cases)} renders per round, {args.rounds} rounds")
    go, ours = [], []
    for _ in range(args.rounds):
        before = _child_cpu()
        subprocess.run([binary], input=payload, capture_output=True, check=True, timeout=600)
        go.append(_child_cpu() - before)
        gotemplate._parse.cache_clear()
        started = time.process_time()
        for template, data in cases:
            with contextlib.suppress(InputError):  # refusals are part of the workload, as in Go
                gotemplate.render(template, StrMap(data))
        ours.append(time.process_time() - started)
    n = len(cases)
    print(markdown_table([
        (f"render {n} templates (the differential cases x {args.repeat}), CPU, median of {args.rounds}",
         f"{fmt_ms(median(ours))} = {median(ours) / n * 1e6:.0f} µs per template",
         f"{fmt_ms(median(go))} (Go 1.19 text/template + sprig 3.2.3, one process: parse with sprig's FuncMap "
         "per template, as Bitnami's controller does per item)",
         f"{median(ours) / median(go):.2f}", "≤ 3", "pass" if median(ours) <= 3 * median(go) else "fail"),
    ]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
