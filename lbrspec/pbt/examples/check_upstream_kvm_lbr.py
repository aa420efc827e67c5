"""The conformance check of :mod:`lbrspec.pbt.examples.upstream_kvm_lbr` against the merged
design's model (``upstream_lbr``).

``python -m lbrspec.pbt.examples.check_upstream_kvm_lbr`` compares each rendering of KVM's code
with a variant of the model after every step (KVM's state as the model names it, and which of the
model's step properties the step broke), two ways:

* *walks*: Hypothesis random walks of up to 50 steps on the model's instance (1 vCPU, 2 pCPUs, 1
  host LBR user by default), seeded, a difference minimized to a short trace;
* *every edge*: every edge of the reachable graph of a smaller instance (1 vCPU, 1 pCPU, 1 host
  user), each taken from the state the explorer's shortest path to its source leaves the rendering
  in (:func:`lbrspec.pbt.conformance.drive_graph`).  Guest LBR must be configured before the first
  VM-entry (CPUID and PERF_CAPABILITIES) for most of the handler to run at all, which random walks
  seldom do: the inverted creation test of ``before-67b45af946ec`` needs 150 to 4,000 walks.

A rendering agrees with a variant when both ways agree; the first differing step is that of the
shorter trace.  The rows, each with the verdict the design expects:

* the code with every later fix (:class:`~lbrspec.pbt.examples.upstream_kvm_lbr.Kvm`) agrees with
  ``upstream``;
* each pre-fix rendering (:data:`~lbrspec.pbt.examples.upstream_kvm_lbr.PRE_FIX`) differs from
  ``upstream`` and agrees with its ``before-COMMIT`` variant.

``--all-variants`` adds the rendering with the switches of every other ``before-*`` variant and
of ``upstream-creation-never-fails``, against that variant (a variant listed in
:data:`MODEL_GAPS` is expected to differ, with the reason).  ``--traces`` prints the shortest trace of every row that differs.  Exit
status 0 when every row has the expected verdict, 1 otherwise.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import Callable, Mapping

from lbrspec_models import upstream_lbr

from ...explicit.instance import Instance
from ..conformance import GraphResult, drive_graph
from ..failures import Nonconformance
from ..simulate import SimulateResult, simulate
from .upstream_kvm_lbr import PRE_FIX, Kvm, KvmAdapter, fixes_of

MODEL = "upstream_lbr"
#: The instance of the exhaustive check: every edge of its reachable graph (about 39,000 for upstream).
GRAPH_SIZES = {"vCPU": 1, "pCPU": 1, "host_user": 1}

#: Variants whose rendering differs from the model because of the model, and where.
#: Variants whose rendering is expected to differ from the model, with the reason: none since
#: the model follows 6.14's refresh (1647b52757d5), asks for a guest counter overflow only with
#: a vPMU, and stops a VM that KVM_BUG_ON bugged.
MODEL_GAPS: dict[str, str] = {}


def _adapter(kvm_class: type[Kvm], fixes: Mapping[str, bool] | None) -> Callable[[], KvmAdapter]:
    return lambda: KvmAdapter(kvm_class, fixes)


def check(
    kvm_class: type[Kvm] = Kvm,
    sizes: Mapping[str, int] | None = None,
    *,
    variant: str = "upstream",
    fixes: Mapping[str, bool] | None = None,
    runs: int = 300,
    steps: int = 50,
    seed: int = 0,
) -> SimulateResult:
    """Random walks: the conformance check of ``kvm_class`` (with ``fixes``, default its own) against
    the model's ``variant``; ``result.failure`` is the (minimized) non-conformance, if any.  The
    model's invariants are not checked: the merged design is known to break some (I3, I7, I8), and
    the runs go on through those states; only the comparison can fail."""
    inst = Instance(upstream_lbr.build(variant), sizes)
    return simulate(inst, runs=runs, steps=steps, seed=seed, adapter=_adapter(kvm_class, fixes),
                    check_invariants=False)


def check_graph(
    kvm_class: type[Kvm] = Kvm,
    sizes: Mapping[str, int] | None = None,
    *,
    variant: str = "upstream",
    fixes: Mapping[str, bool] | None = None,
) -> GraphResult:
    """Every edge of the reachable graph of ``variant`` at ``sizes`` (default :data:`GRAPH_SIZES`),
    taken by the rendering; ``result.failure`` is the shortest differing run found, if any."""
    inst = Instance(upstream_lbr.build(variant), sizes or GRAPH_SIZES)
    return drive_graph(inst, _adapter(kvm_class, fixes))


@dataclass
class Row:
    """One rendering checked against one variant, and the verdict the design expects."""

    rendering: str
    kvm_class: type[Kvm]
    variant: str
    expect_agree: bool
    fixes: Mapping[str, bool] | None = None
    note: str = ""
    walks: SimulateResult | None = None
    graph: GraphResult | None = None

    @property
    def agrees(self) -> bool:
        return ((self.walks is None or (self.walks.failure is None and self.walks.stop_reason is None))
                and (self.graph is None or self.graph.failure is None))

    @property
    def as_expected(self) -> bool:
        return self.agrees == self.expect_agree

    def differences(self) -> list[tuple[int, str, str]]:
        """``(length, action, reason)`` of each way's differing trace."""
        out = []
        if self.walks is not None and self.walks.failure is not None:
            f = self.walks.failure
            assert isinstance(f, Nonconformance)
            out.append((len(f.steps), f.steps[-1][0].name if f.steps else "-", f.headline()))
        if self.graph is not None and self.graph.failure is not None:
            d = self.graph.failure
            n = d.stopped_at or 0
            out.append((n, d.trace.steps[n - 1].action if n else "-", d.reason()))
        return sorted(out)

    @property
    def first_difference(self) -> str:
        diffs = self.differences()
        if not diffs:
            return "-"
        n, action, _ = diffs[0]
        return f"{n} ({action})" if n else "initial state"


def rows(all_variants: bool = False) -> list[Row]:
    """The table: the fixed code (6.14), each pre-fix rendering both ways; optionally every
    other ``before-*`` variant's switches (and the check variant's) against that variant."""
    out = [Row("Kvm (every later fix)", Kvm, "upstream", True)]
    for variant, cls in PRE_FIX.items():
        out.append(Row(cls.__name__, cls, "upstream", False, note="the fix is visible"))
        out.append(Row(cls.__name__, cls, variant, True))
    if all_variants:
        for variant, v in upstream_lbr.VARIANTS.items():
            if v.kind not in ("fix", "check") or variant in PRE_FIX:
                continue
            out.append(Row("Kvm with the variant's switches", Kvm, variant, variant not in MODEL_GAPS,
                           fixes=fixes_of(v.switches), note=MODEL_GAPS.get(variant, "")))
    return out


def run(table: list[Row], sizes: Mapping[str, int] | None = None, graph_sizes: Mapping[str, int] | None = None,
        runs: int = 300, seed: int = 0, walks: bool = True, graph: bool = True,
        progress: Callable[[Row], None] | None = None) -> list[Row]:
    for row in table:
        if walks:
            row.walks = check(row.kvm_class, sizes, variant=row.variant, fixes=row.fixes, runs=runs, seed=seed)
        if graph:
            row.graph = check_graph(row.kvm_class, graph_sizes, variant=row.variant, fixes=row.fixes)
        if progress is not None:
            progress(row)
    return table


def _walks_cell(r: SimulateResult | None) -> str:
    if r is None:
        return "-"
    head = ("agrees" if r.failure is None and r.stop_reason is None else f"stopped ({r.stop_reason})"
            if r.failure is None else f"differs at {len(r.failure.steps)}")
    return f"{head}: {r.runs:,} walks, {r.steps:,} steps, {r.seconds:.1f} s"


def _graph_cell(g: GraphResult | None) -> str:
    if g is None:
        return "-"
    head = "agrees" if g.failure is None else f"differs at {g.failure.stopped_at}"
    return f"{head}: {g.edges:,} of {g.edges_total:,} edges, {g.steps:,} steps, {g.seconds:.1f} s"


def render_table(table: list[Row], walks_desc: str, graph_desc: str) -> str:
    lines = [f"| rendering | model variant | agrees/differs | first differing step | walks ({walks_desc}) | "
             f"every edge ({graph_desc}) | as expected |",
             "|---|---|---|---|---|---|---|"]
    for r in table:
        expected = ("yes" if r.as_expected else "NO") + (f" ({r.note})" if r.note else "")
        lines.append(f"| {r.rendering} | {r.variant} | {'agrees' if r.agrees else 'differs'} | {r.first_difference} | "
                     f"{_walks_cell(r.walks)} | {_graph_cell(r.graph)} | {expected} |")
    return "\n".join(lines)


def parse_size(text: str) -> dict[str, int]:
    v, p, h = (int(x) for x in text.lower().split("x"))
    return {"vCPU": v, "pCPU": p, "host_user": h}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m lbrspec.pbt.examples.check_upstream_kvm_lbr",
                                 description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--size", type=parse_size, default=None, metavar="VxPxH",
                    help="instance of the walks (default: the model's, 1x2x1)")
    ap.add_argument("--graph-size", type=parse_size, default=None, metavar="VxPxH",
                    help="instance whose every edge is taken (default 1x1x1)")
    ap.add_argument("--runs", type=int, default=300, help="random walks asked per row (up to 50 steps each)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-walks", action="store_true")
    ap.add_argument("--skip-graph", action="store_true")
    ap.add_argument("--all-variants", action="store_true",
                    help="also every other before-* variant's switches, against that variant")
    ap.add_argument("--traces", action="store_true", help="print the shortest trace of every row that differs")
    args = ap.parse_args(argv)

    up = upstream_lbr.build("upstream")
    walks_desc = Instance(up, args.size).describe()
    graph_desc = Instance(up, args.graph_size or GRAPH_SIZES).describe()
    print(f"Conformance of KVM's code of the merged design with the {MODEL} model: Hypothesis walks of up to 50 "
          f"steps on {walks_desc} (seed {args.seed}, {args.runs} asked per row), and every edge of the reachable "
          f"graph on {graph_desc}.")
    table = run(rows(args.all_variants), args.size, args.graph_size, args.runs, args.seed,
                walks=not args.skip_walks, graph=not args.skip_graph,
                progress=lambda r: print(f"  ... {r.rendering} vs {r.variant}", file=sys.stderr, flush=True))
    print()
    print(render_table(table, walks_desc, graph_desc))
    if args.traces:
        for r in table:
            diffs = r.differences()
            if not diffs:
                continue
            print()
            print(f"== {r.rendering} vs {r.variant}")
            if r.graph is not None and r.graph.failure is not None and (r.walks is None or r.walks.failure is None
                                                                        or diffs[0][2] == r.graph.failure.reason()):
                from ...trace.text import render

                d = r.graph.failure
                print(d.reason())
                print(render(d.trace, d.instance.model, title=f"Trace, {len(d.trace)} steps:").rstrip("\n"))
            else:
                assert r.walks is not None and r.walks.failure is not None
                print(r.walks.failure.render())
    ok = all(r.as_expected for r in table)
    print()
    print("OK" if ok else "FAILED: a row does not have the expected verdict")
    return 0 if ok else 1


if __name__ == "__main__":
    from ... import runctl

    sys.exit(runctl.run_script(main, "check_upstream_kvm_lbr"))
