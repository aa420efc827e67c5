"""Every variant of a model through ``lbrspec check --json``: what it is expected to do, what it does.

    python benchmarks/variants.py                          # upstream_lbr on its default instance
    python benchmarks/variants.py --model guest_lbr --size vCPU=1
    python benchmarks/variants.py --markdown               # the table as Markdown

For each variant the table gives its kind, the property it is expected to break (or "holds"),
every property the check finds violated with the length of its shortest counterexample, the
states explored and the seconds, and whether the outcome is the expected one (the expected
property is among those violated, or nothing is violated for a variant expected to hold).  The
figures come from the command users run, one process per variant.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys


def run(model: str, variant: str, sizes: list[str]) -> dict:
    cmd = [sys.executable, "-c", "from lbrspec.cli import main; main()", "check", "--model", model, "--variant", variant, "--json", "--quiet"]
    for s in sizes:
        cmd += ["--size", s]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode not in (0, 1):
        raise SystemExit(f"lbrspec check --variant {variant} exited {p.returncode}: {p.stderr.strip()}")
    return json.loads(p.stdout)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="upstream_lbr")
    ap.add_argument("--size", action="append", default=[], metavar="SORT=N")
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    from lbrspec.modelref import load_model

    src = load_model(args.model)
    rows = []
    for name, v in src.all_variants().items():
        d = run(args.model, name, args.size)
        got = {c["property"]: c["trace_length"] for c in d["counterexamples"]}
        expected = v.expected or "holds"
        ok = (expected in got) if v.expected else (d["verdict"] == "holds" and not got)
        rows.append((name, v.kind, expected, ", ".join(f"{p} ({n})" for p, n in got.items()) or d["verdict"],
                     f"{d['states']:,}", f"{d['seconds']:.2f}", "yes" if ok else "NO"))
    head = ("variant", "kind", "expected", "got (shortest trace length)", "states", "seconds", "as expected")
    if args.markdown:
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
        for r in rows:
            print("| " + " | ".join(r) + " |")
    else:
        widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
        for r in (head, *rows):
            print("  ".join(str(x).ljust(w) for x, w in zip(r, widths)).rstrip())
    return 0 if all(r[-1] == "yes" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
