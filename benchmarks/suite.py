"""Wall time and peak memory of the test tiers, measured on the command a developer types.

    python benchmarks/suite.py                 # the quick tier: python -m pytest -m quick
    python benchmarks/suite.py --tier full     # the full suite: python -m pytest (what CI runs)
    python benchmarks/suite.py --tier quick --tier full

Each tier runs in its own process tree; every 0.2 s the script adds up the resident memory of
every process in the tree (pytest and its xdist workers), and prints the wall time, the CPU
time of the tree, the peak of that sum, the largest single process, and pytest's last line
(the counts).  Set LBRSPEC_REQUIRE_TOOLS=1 to measure exactly what CI measures.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time

TIERS = {
    "quick": [sys.executable, "-m", "pytest", "-q", "-m", "quick"],
    "full": [sys.executable, "-m", "pytest", "-q"],
}

_PAGE = os.sysconf("SC_PAGE_SIZE")


def _tree(root: int) -> list[int]:
    """``root`` and its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(name))
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return out


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * _PAGE
    except OSError:
        return 0


def measure(tier: str) -> dict:
    cmd = TIERS[tier]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    peak_sum = peak_one = 0
    lines: list[str] = []
    import threading

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    while proc.poll() is None:
        sizes = [_rss(p) for p in _tree(proc.pid)]
        peak_sum = max(peak_sum, sum(sizes))
        peak_one = max(peak_one, max(sizes, default=0))
        time.sleep(0.2)
    reader.join()
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    summary = next((x for x in reversed(lines) if " in " in x and ("passed" in x or "failed" in x)), lines[-1:] or [""])
    return {"tier": tier, "command": " ".join(["python"] + cmd[1:]), "exit": proc.returncode, "wall_s": wall,
            "cpu_s": cpu, "peak_tree_mib": peak_sum / 2**20, "peak_process_mib": peak_one / 2**20,
            "pytest": summary if isinstance(summary, str) else summary[0]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tier", action="append", choices=sorted(TIERS), help="quick (default) and/or full")
    args = ap.parse_args()
    rows = [measure(t) for t in (args.tier or ["quick"])]
    print("| tier | command | exit | wall | CPU | peak memory (all processes) | largest process | pytest |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['tier']} | `{r['command']}` | {r['exit']} | {r['wall_s']:.1f} s | {r['cpu_s']:.1f} s | "
              f"{r['peak_tree_mib']:,.0f} MiB | {r['peak_process_mib']:,.0f} MiB | {r['pytest']} |")
    if len(rows) == 2:
        q, f = rows
        print(f"\nquick / full: wall {q['wall_s'] / f['wall_s']:.3f}, peak memory {q['peak_tree_mib'] / f['peak_tree_mib']:.3f}")
    return 0 if all(r["exit"] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
