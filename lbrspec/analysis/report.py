"""Graph analysis and liveness for one instance, as text lines and JSON (what ``lbrspec check
--analysis --liveness`` adds to its output).

:func:`graph_report` explores the instance again with the reference explorer, keeping every
edge and never reducing, so that both analyses see the full reachable graph whatever reduction
the safety check used.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Sequence

from .. import runctl
from ..explicit.explore import explore
from ..explicit.instance import Instance
from ..lang.liveness import Liveness
from ..trace import Trace
from .liveness import LivenessResult, check_all, refuse_reductions
from .stategraph import StateGraph
from .summary import GraphSummary, summarise, summary_json, summary_lines


@dataclass
class GraphReport:
    summary: GraphSummary | None
    liveness: list[LivenessResult]
    complete: bool
    stop_reason: str | None
    explore_seconds: float
    analysis_seconds: float
    liveness_seconds: float
    lines: list[str] = field(default_factory=list)

    @property
    def liveness_violated(self) -> list[LivenessResult]:
        return [r for r in self.liveness if r.verdict == "violated"]

    @property
    def liveness_vacuous(self) -> list[LivenessResult]:
        return [r for r in self.liveness if r.verdict == "holds" and r.vacuous]

    @property
    def first_lasso(self) -> Trace | None:
        bad = self.liveness_violated
        return bad[0].lasso if bad else None


def graph_report(
    inst: Instance,
    *,
    analysis: bool,
    liveness: Sequence[Liveness] | None,
    max_states: int | None = None,
    max_seconds: float | None = None,
    reduction: str | None = None,
) -> GraphReport:
    """Explore ``inst`` with its graph kept, then summarise it and/or check ``liveness``."""
    if liveness:
        refuse_reductions(None, reduction)
    t0 = time.perf_counter()
    with runctl.phase("exploring again, keeping every edge"):
        r = explore(inst, keep_graph=True, stop_at_violation=False, check_deadlock=False,
                    max_states=max_states, max_seconds=max_seconds)
    t1 = time.perf_counter()
    rep = GraphReport(None, [], r.complete, r.stop_reason, t1 - t0, 0.0, 0.0)
    if not r.complete:
        return rep
    # networkx and the fair-cycle search do not poll the run's stop request: they are
    # interrupted (lbrspec.runctl), and the report says it stopped early
    try:
        with runctl.phase("building the state graph"):
            graph = StateGraph(r)
        if analysis:
            with runctl.phase("analysing the state graph"):
                rep.summary = summarise(graph)
        t2 = time.perf_counter()
        rep.analysis_seconds = t2 - t1
        if liveness:
            with runctl.phase("checking liveness"):
                rep.liveness = check_all(graph, list(liveness), reduction=reduction)
        rep.liveness_seconds = time.perf_counter() - t2
    except KeyboardInterrupt:
        rep.summary = None
        rep.liveness = []
        rep.complete = False
        rep.stop_reason = runctl.reason()
    return rep


def report_lines(rep: GraphReport, props: Sequence[Liveness] | None, timings: bool = True) -> list[str]:
    out: list[str] = []
    if not rep.complete:
        out.append(f"graph analysis and liveness: not done, the full exploration stopped early ({rep.stop_reason})")
        return out
    if rep.summary is not None:
        out.append("graph analysis (full reachable graph, networkx):")
        out += [f"  {x}" for x in summary_lines(rep.summary)]
    if props:
        t = f" ({rep.liveness_seconds:.2f} s)" if timings else ""
        out.append(f"liveness (full reachable graph, fair-cycle search over strongly connected components){t}:")
        width = max(len(r.label) for r in rep.liveness) if rep.liveness else 0
        for r in rep.liveness:
            if r.verdict == "holds":
                what = "HOLDS VACUOUSLY: no fair behaviour waits for the goal" if r.vacuous else "holds"
            else:
                stop = " then stops" if r.lasso is not None and r.lasso.meta.get("stutter") else ""
                what = f"VIOLATED  lasso: {r.prefix_length} steps to the loop, a loop of {r.loop_length} steps{stop}"
            out.append(f"  {r.label.ljust(width)}  {what}")
        seen = set()
        for p in props:
            if p.name in seen:
                continue
            seen.add(p.name)
            out.append(f"  {p.name}: {p.summary}")
            out.append(f"    fairness: {', '.join(f.describe() for f in p.fairness)}")
            if p.quiet:
                out.append(f"    from the trigger on, never: {', '.join(q.describe() for q in p.quiet)}")
    return out


def report_json(rep: GraphReport) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if rep.summary is not None:
        out["analysis"] = summary_json(rep.summary)
    out["liveness"] = [
        {
            "name": r.name,
            "binding": {k: str(v) for k, v in r.binding.items()},
            "verdict": r.verdict,
            "vacuous": r.vacuous,
            "prefix_length": r.prefix_length,
            "loop_length": r.loop_length,
            "trigger_states": r.trigger_states,
            "seconds": round(r.seconds, 3),
        }
        for r in rep.liveness
    ]
    out["graph_complete"] = rep.complete
    return out
