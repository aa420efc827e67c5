"""lbrspec against SPIN on the same instances, and how lbrspec scales with symmetry reduction.

    python benchmarks/speed.py                       # both tables, default instances
    python benchmarks/speed.py --spin 2x2 3x2        # lbrspec vs SPIN on these instances
    python benchmarks/speed.py --scaling 2x2 3x3 --budget 300
    python benchmarks/speed.py --json

Table 1 (no reduction on either side, v8, every invariant checked): for each instance,
lbrspec's vector explorer and SPIN (``spin -a``, ``gcc -O2 -DNOREDUCE -DSAFETY``, ``./pan``) in
the same run.  *Time to verdict* includes lbrspec's code generation and SPIN's generation and C
compile.  *Rate* is states per second of exploration proper (``./pan`` alone for SPIN).
*Bytes/state* is lbrspec's visited set (packed states plus hash table) and SPIN's "actual
memory usage for states", each divided by the states stored.  Ratios are lbrspec / SPIN.

Table 2: states and seconds with and without symmetry reduction; a cell that runs out of its
time budget is shown as undetermined with the states reached.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from lbrspec.explicit.instance import Instance
from lbrspec.explicit.vcompile import compile_vector
from lbrspec.explicit.vexplore import explore_vector, rss_bytes
from lbrspec.export.spin import run_spin, spin_available
from lbrspec_models.guest_lbr import build

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import parse


def lbrspec_run(inst: Instance, symmetry: bool, budget: float | None):
    t0 = time.perf_counter()
    vc = compile_vector(inst)
    t1 = time.perf_counter()
    r = explore_vector(inst, compiled=vc, symmetry=symmetry, max_seconds=budget)
    t2 = time.perf_counter()
    return r, t1 - t0, t2 - t0


def spin_table(instances: list[str], as_json: bool) -> None:
    if not spin_available():
        print("SPIN or gcc not installed: apt-get install spin gcc", file=sys.stderr)
        return
    model = build("v8")
    if not as_json:
        print("Table 1: lbrspec (vector explorer) and SPIN, v8, no reduction")
        print(f"{'instance':>9} {'engine':>8} {'states':>11} {'verdict s':>10} {'explore s':>10} {'states/s':>10} {'B/state':>8}")
    for spec in instances:
        inst = Instance(model, parse(spec))
        r, t_gen, t_total = lbrspec_run(inst, symmetry=False, budget=None)
        explore_s = r.seconds
        l_rate = r.states / explore_s
        with tempfile.TemporaryDirectory() as wd:
            s = run_spin(inst, wd, expected_states=r.states, fit=True)  # -m fitted to the depth reached
        spin_bytes = s.states_mb * 2**20 / s.states if s.states_mb else float("nan")
        s_rate = s.states / s.run_seconds
        row = {
            "instance": spec, "states_lbrspec": r.states, "states_spin": s.states,
            "lbrspec_seconds_to_verdict": round(t_total, 3), "lbrspec_explore_seconds": round(explore_s, 3),
            "lbrspec_states_per_second": round(l_rate), "lbrspec_bytes_per_state": round(r.bytes_per_state or 0, 2),
            "spin_seconds_to_verdict": round(s.seconds_to_verdict, 3), "spin_compile_seconds": round(s.generate_seconds + s.compile_seconds, 3),
            "spin_run_seconds": round(s.run_seconds, 3), "spin_states_per_second": round(s_rate),
            "spin_bytes_per_state": round(spin_bytes, 2), "spin_state_vector_bytes": s.state_vector_bytes,
            "ratio_time_to_verdict": round(t_total / s.seconds_to_verdict, 3),
            "ratio_rate": round(l_rate / s_rate, 3), "ratio_bytes_per_state": round((r.bytes_per_state or 0) / spin_bytes, 3),
            "verdicts": [r.verdict, "holds" if s.errors == 0 else "violated"],
        }
        if as_json:
            print(json.dumps(row))
        else:
            print(f"{spec:>9} {'lbrspec':>8} {r.states:>11,} {t_total:>10.2f} {explore_s:>10.2f} {l_rate:>10,.0f} {r.bytes_per_state:>8.1f}")
            print(f"{'':>9} {'SPIN':>8} {s.states:>11,} {s.seconds_to_verdict:>10.2f} {s.run_seconds:>10.2f} {s_rate:>10,.0f} {spin_bytes:>8.1f}")
            print(f"{'':>9} {'ratio':>8} {'':>11} {row['ratio_time_to_verdict']:>10.2f} {'':>10} {row['ratio_rate']:>10.2f} {row['ratio_bytes_per_state']:>8.2f}")
        sys.stdout.flush()


def scaling_table(instances: list[str], budget: float, as_json: bool) -> None:
    model = build("v8")
    if not as_json:
        print(f"Table 2: scaling, v8, time budget {budget:g} s per cell")
        print(f"{'instance':>9} {'symmetry':>9} {'states':>12} {'seconds':>9} {'states/s':>10} {'verdict':>13} {'reduction':>10}")
    for spec in instances:
        inst = Instance(model, parse(spec))
        raw = None
        for sym in (False, True):
            try:
                r, _, total = lbrspec_run(inst, symmetry=sym, budget=budget)
            except ValueError as e:
                print(f"{spec:>9} {str(sym):>9} {'':>12} {'':>9} {'':>10} {'refused':>13}  {e}")
                continue
            red = f"{raw.states / r.states:.1f}x" if sym and raw and raw.complete and r.complete else ""
            row = {"instance": spec, "symmetry": sym, "states": r.states, "seconds": round(total, 2), "verdict": r.verdict,
                   "complete": r.complete, "renamings": r.symmetry_group, "rss_mib": rss_bytes() // 2**20}
            if as_json:
                print(json.dumps(row))
            else:
                rate = r.states / r.seconds if r.seconds else 0
                print(f"{spec:>9} {str(sym):>9} {r.states:>12,} {total:>9.1f} {rate:>10,.0f} {r.verdict:>13} {red:>10}")
            sys.stdout.flush()
            if not sym:
                raw = r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--spin", nargs="*", metavar="VxP", help="instances for table 1 (default 2x2 3x2)")
    ap.add_argument("--scaling", nargs="*", metavar="VxP", help="instances for table 2 (default 2x2 3x2 3x3 4x4)")
    ap.add_argument("--budget", type=float, default=300.0, help="seconds per scaling cell (default 300)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    both = args.spin is None and args.scaling is None
    if args.spin is not None or both:
        spin_table(args.spin or ["2x2", "3x2"], args.json)
    if args.scaling is not None or both:
        if not args.json:
            print()
        scaling_table(args.scaling or ["2x2", "3x2", "3x3", "4x4"], args.budget, args.json)


if __name__ == "__main__":
    main()
