"""How `lbrspec check` scales with the instance, symmetry reduction and workers; and lbrspec
against SPIN, with SPIN's depth-first stack sized to need, on one exported instance.

    nice python benchmarks/scale.py                              # everything (hours: 300 s a cell)
    nice python benchmarks/scale.py --quick                      # a few minutes
    nice python benchmarks/scale.py --models guest_lbr --sizes 2x2,3x2 --symmetry on --budget 120
    nice python benchmarks/scale.py --no-spin --json-out scale.json
    nice python benchmarks/scale.py --only-spin --spin-instance guest_lbr:2x2

Scaling table: one cell per model (its default variant), instance (vCPUs x pCPUs, 1 host user
unless VxPxH), symmetry on or off and number of workers.  Each cell is one command,
``lbrspec check --json --quiet --model M --vcpus V --pcpus P --hosts H [--no-symmetry]
[--workers N] --max-seconds BUDGET``, run in its own session: *seconds* and *states/s* are the
check's own figures (its JSON), *wall* the whole command (start-up and code generation
included), *B/state* the visited set per state, *peak MiB* the peak memory of the command's
process tree (proportional set size summed over the processes, sampled every 0.1 s; see
``benchlib.py``).  A cell that reaches its budget prints "undetermined" with the states and the
depth it got to.  When `lbrspec check` has no ``--workers`` option, the cells with more than one
worker print "n/a (no --workers)" and the others run without the option.

SPIN section: the same instance through `lbrspec check` (no symmetry: SPIN has none here) and
through SPIN (``lbrspec.export.spin.run_spin``: ``spin -o2 -a``, ``gcc -O2 -DNOREDUCE -DSAFETY``
with and without ``-DCOLLAPSE``, ``./pan``), SPIN's depth limit ``-m`` grown after a truncated
search and then fitted to the depth reached (every attempt is listed).  *depth* is lbrspec's
breadth-first depth and the depth SPIN's depth-first search reached.  *verdict s* is time to
verdict (SPIN's generation and compile included), *search s* the exploration alone (the final
``./pan`` run), *B/state* the visited set, hash table included (SPIN: its memory for states plus
its hash table), *peak MiB* lbrspec's process tree and the final ``./pan``'s peak resident
memory.  Ratios are lbrspec / SPIN.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import parse, run_measured

LBRSPEC = [sys.executable, "-m", "lbrspec"]
SIZES = "2x2,3x2,3x3,4x3,4x4"


def has_workers_option() -> bool:
    out = subprocess.run([*LBRSPEC, "check", "--help"], check=False, capture_output=True, text=True, timeout=120).stdout
    return "--workers" in out


def fmt_int(n) -> str:
    return f"{n:,}" if isinstance(n, int) else "-"


def fmt_num(x, spec: str) -> str:
    return format(x, spec) if isinstance(x, (int, float)) else "-"


# -- one `lbrspec check` -----------------------------------------------------------------------------------------


def check_cell(model: str, spec: str, symmetry: bool, workers: int, budget: float, workers_option: bool) -> dict:
    sizes = parse(spec)
    row = {"model": model, "instance": spec, "symmetry": symmetry, "workers": workers, "budget_seconds": budget}
    if workers > 1 and not workers_option:
        return {**row, "verdict": "n/a (no --workers)"}
    cmd = [*LBRSPEC, "check", "--json", "--quiet", "--model", model, "--vcpus", str(sizes["vCPU"]),
           "--pcpus", str(sizes["pCPU"]), "--hosts", str(sizes["host_user"]), "--max-seconds", f"{budget:g}"]
    cmd += [] if symmetry else ["--no-symmetry"]
    cmd += ["--workers", str(workers)] if workers_option else []
    m = run_measured(cmd, timeout=1.5 * budget + 120)
    row.update(command=" ".join(cmd[2:]), exit_code=m.returncode, wall_seconds=round(m.wall_seconds, 2),
               peak_mib=round(m.peak_mib, 1))
    if m.returncode is None:
        return {**row, "verdict": f"killed at {1.5 * budget + 120:g} s (the budget did not stop it)"}
    try:
        j = json.loads(m.stdout)
    except ValueError:
        err = (m.stderr.strip().splitlines() or ["no output"])[-1]
        return {**row, "verdict": f"error (exit {m.returncode}): {err}"}
    for k in ("verdict", "complete", "stop_reason", "states", "transitions", "depth", "seconds", "states_per_second",
              "bytes_per_state", "violated", "deadlocks", "goals_unreached"):
        row[k] = j.get(k)
    return row


def verdict_text(r: dict) -> str:
    v = r.get("verdict", "?")
    if v == "violated" and not r.get("violated") and not r.get("deadlocks") and r.get("goals_unreached"):
        v = f"invariants hold, goal unreached ({', '.join(r['goals_unreached'])})"
    if r.get("complete", True) or "states" not in r:
        return v
    got = f"got to {r['states']:,} states, depth {r['depth']}"
    if v == "undetermined":
        return f"undetermined ({r.get('stop_reason')}): {got}"
    return f"{v}, search unfinished ({r.get('stop_reason')}): {got}"


HEAD = (f"{'instance':>8} {'sym':>4} {'workers':>7} {'states':>12} {'depth':>5} {'seconds':>8} {'wall s':>7} "
        f"{'states/s':>9} {'B/state':>7} {'peak MiB':>8}  verdict")


def print_cell(r: dict, note: str = "") -> None:
    print(f"{r['instance']:>8} {'on' if r['symmetry'] else 'off':>4} {r['workers']:>7} {fmt_int(r.get('states')):>12} "
          f"{fmt_num(r.get('depth'), 'd'):>5} {fmt_num(r.get('seconds'), '.1f'):>8} {fmt_num(r.get('wall_seconds'), '.1f'):>7} "
          f"{fmt_int(r.get('states_per_second')):>9} {fmt_num(r.get('bytes_per_state'), '.1f'):>7} "
          f"{fmt_num(r.get('peak_mib'), ',.0f'):>8}  {verdict_text(r)}{note}")
    sys.stdout.flush()


def note_for(r: dict, done: list[dict]) -> str:
    """The reduction against the same cell without symmetry, the speed-up against 1 worker."""
    notes = []
    if not r.get("complete"):
        return ""
    for o in done:
        if o["model"] != r["model"] or o["instance"] != r["instance"] or not o.get("complete"):
            continue
        if r["symmetry"] and not o["symmetry"] and o["workers"] == r["workers"]:
            notes.append(f"{o['states'] / r['states']:.1f}x fewer states than without symmetry")
        if r["workers"] > 1 and o["workers"] == 1 and o["symmetry"] == r["symmetry"] and r["seconds"]:
            notes.append(f"{o['seconds'] / r['seconds']:.2f}x the speed of 1 worker")
    return f"  [{'; '.join(notes)}]" if notes else ""


def scaling(models: list[str], sizes: list[str], symmetry: list[bool], workers: list[int], budget: float,
            workers_option: bool) -> list[dict]:
    rows: list[dict] = []
    for model in models:
        print(f"\nScaling: {model} (its default variant), budget {budget:g} s per cell")
        print(HEAD)
        for spec in sizes:
            for sym in symmetry:
                for n in workers:
                    r = check_cell(model, spec, sym, n, budget, workers_option)
                    print_cell(r, note_for(r, rows))
                    rows.append(r)
    return rows


# -- lbrspec against SPIN ----------------------------------------------------------------------------------------


def spin_section(model: str, spec: str, workers: list[int], budget: float, workers_option: bool,
                 old_sizing: bool) -> dict:
    from lbrspec.explicit.instance import Instance
    from lbrspec.export.spin import run_spin, spin_available
    from lbrspec.modelref import load_model

    print(f"\nlbrspec and SPIN on {model} {spec} (its default variant), no symmetry reduction, no partial-order reduction")
    out: dict = {"model": model, "instance": spec, "lbrspec": [], "spin": []}
    print(f"{'engine':>26} {'states':>11} {'depth':>9} {'verdict s':>9} {'search s':>8} {'states/s':>9} "
          f"{'B/state':>7} {'peak MiB':>8}  notes")
    for n in workers:
        r = check_cell(model, spec, False, n, budget, workers_option)
        out["lbrspec"].append(r)
        name = f"lbrspec check, {n} worker{'s' if n > 1 else ''}"
        if "states" not in r:
            print(f"{name:>26}  {r['verdict']}")
            continue
        print(f"{name:>26} {r['states']:>11,} {r['depth']:>9} {r['wall_seconds']:>9.2f} {r['seconds']:>8.2f} "
              f"{r['states_per_second']:>9,} {r['bytes_per_state']:>7.1f} {r['peak_mib']:>8,.0f}  "
              f"{verdict_text(r)}")
        sys.stdout.flush()
    if not spin_available():
        print("SPIN or gcc is not installed (apt-get install spin gcc): no SPIN rows")
        return out
    base = next((r for r in out["lbrspec"] if r.get("complete")), None)
    expected = base["states"] if base else None
    inst = Instance(load_model(model).build(None), parse(spec))
    configs = [("SPIN, -m fitted", {"fit": True}), ("SPIN -DCOLLAPSE, -m fitted", {"fit": True, "collapse": True})]
    if old_sizing and expected:
        configs.append(("SPIN, -m 4x states (old)", {"depth": 4 * expected}))
    for name, kw in configs:
        with tempfile.TemporaryDirectory(prefix="lbrspec-spin-") as wd:
            s = run_spin(inst, wd, expected_states=expected, timeout=max(1800.0, 4 * budget), **kw)
        visited = (s.states_mb + s.hash_table_mb) * 2**20 / s.states
        row = {"engine": name, "collapse": s.collapse, "states": s.states, "errors": s.errors, "depth": s.depth,
               "depth_limit": s.depth_limit, "seconds_to_verdict": round(s.seconds_to_verdict, 2),
               "generate_and_compile_seconds": round(s.generate_seconds + s.compile_seconds, 2),
               "search_seconds": round(s.run_seconds, 2), "all_searches_seconds": round(s.search_seconds, 2),
               "states_per_second": round(s.states / s.run_seconds), "bytes_per_state": round(visited, 1),
               "states_mb": s.states_mb, "hash_table_mb": s.hash_table_mb, "stack_mb": s.stack_mb,
               "pan_memory_mb": s.memory_mb, "peak_mib": round(s.peak_rss_mb, 1),
               "attempts": [vars(a) for a in s.attempts]}
        out["spin"].append(row)
        runs = ", ".join(f"-m{a.depth_limit:,}{' truncated' if a.truncated else ''}" for a in s.attempts)
        print(f"{name:>26} {s.states:>11,} {s.depth:>9,} {s.seconds_to_verdict:>9.2f} {s.run_seconds:>8.2f} "
              f"{row['states_per_second']:>9,} {visited:>7.1f} {s.peak_rss_mb:>8,.0f}  "
              f"{'holds' if s.errors == 0 else 'violated'}; stack {s.stack_mb:,.0f} MB; runs: {runs}")
        sys.stdout.flush()
    if base:
        print(f"ratios lbrspec / SPIN {'':>26} {'verdict s':>9} {'states/s':>9} {'B/state':>8} {'peak MiB':>8}")
        for r in out["lbrspec"]:
            if not r.get("complete"):
                continue
            for s in out["spin"]:
                ratio = {"time_to_verdict": r["wall_seconds"] / s["seconds_to_verdict"],
                         "rate": r["states_per_second"] / s["states_per_second"],
                         "bytes_per_state": r["bytes_per_state"] / s["bytes_per_state"],
                         "peak_memory": r["peak_mib"] / s["peak_mib"]}
                out.setdefault("ratios", []).append({"lbrspec_workers": r["workers"], "spin": s["engine"],
                                                     **{k: round(v, 3) for k, v in ratio.items()}})
                who = f"{r['workers']} worker{'s' if r['workers'] > 1 else ''} / {s['engine']}"
                print(f"  {who:<45} {ratio['time_to_verdict']:>9.2f} {ratio['rate']:>9.2f} "
                      f"{ratio['bytes_per_state']:>8.2f} {ratio['peak_memory']:>8.2f}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="guest_lbr,upstream_lbr", help="comma-separated (default guest_lbr,upstream_lbr)")
    ap.add_argument("--sizes", default=SIZES, help=f"comma-separated VxP or VxPxH (default {SIZES})")
    ap.add_argument("--symmetry", default="on,off", help="on, off or on,off (default)")
    ap.add_argument("--workers", default="1,2", help="comma-separated worker counts (default 1,2)")
    ap.add_argument("--budget", type=float, default=300.0, help="seconds per cell (default 300)")
    ap.add_argument("--spin-instance", default="guest_lbr:2x2", metavar="MODEL:VxP",
                    help="the instance of the SPIN section (default guest_lbr:2x2, 4.1 million states)")
    ap.add_argument("--spin-budget", type=float, default=600.0, help="seconds for lbrspec in the SPIN section (default 600)")
    ap.add_argument("--spin-old-sizing", action="store_true", help="also run SPIN with -m four times the states (the old sizing)")
    ap.add_argument("--no-spin", action="store_true", help="leave out the SPIN section")
    ap.add_argument("--only-spin", action="store_true", help="only the SPIN section")
    ap.add_argument("--quick", action="store_true",
                    help="guest_lbr 2x2 with symmetry, budget 60 s; SPIN on guest_lbr 2x1 (tens of thousands of states)")
    ap.add_argument("--json-out", metavar="FILE", help="also write every figure as JSON to FILE")
    a = ap.parse_args()
    if a.quick:
        a.models, a.sizes, a.symmetry, a.budget, a.spin_instance = "guest_lbr", "2x2", "on", 60.0, "guest_lbr:2x1"
        a.spin_budget = 60.0
    models = [m for m in a.models.split(",") if m]
    sizes = [s for s in a.sizes.split(",") if s]
    for s in sizes:
        parse(s)
    sym_words = {"on": True, "off": False}
    if any(w not in sym_words for w in a.symmetry.split(",")):
        raise SystemExit(f"bad --symmetry {a.symmetry!r}: on, off or on,off")
    symmetry = [sym_words[w] for w in a.symmetry.split(",")]
    symmetry.sort()  # off first: the row with symmetry names its reduction
    try:
        workers = [int(w) for w in a.workers.split(",")]
    except ValueError:
        raise SystemExit(f"bad --workers {a.workers!r}: comma-separated counts, e.g. 1,2") from None
    spin_model, _, spin_spec = a.spin_instance.partition(":")
    if not spin_spec:
        raise SystemExit(f"bad --spin-instance {a.spin_instance!r}: MODEL:VxP, e.g. guest_lbr:2x2")
    parse(spin_spec)

    workers_option = has_workers_option()
    spin_v = subprocess.run(["spin", "-V"], check=False, capture_output=True, text=True).stdout.strip() if not a.no_spin else ""
    print(f"lbrspec scale benchmark, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {platform.machine()}, "
          f"Python {platform.python_version()}, {os.cpu_count()} CPUs; "
          f"--workers {'available' if workers_option else 'not available'}" + (f"; {spin_v}" if spin_v else ""))
    result: dict = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "workers_option": workers_option}
    if not a.only_spin:
        result["scaling"] = scaling(models, sizes, symmetry, workers, a.budget, workers_option)
    if not a.no_spin:
        result["spin"] = spin_section(spin_model, spin_spec, workers, a.spin_budget, workers_option, a.spin_old_sizing)
    if a.json_out:
        Path(a.json_out).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
