"""What the reachable graph says about a model, computed with networkx.

* **never enabled**: actions (and action instances: an action with its parameters) that fire
  nowhere in the reachable graph, and machine transitions that are part of no action that
  fires.  In a checked design these are dead code or a sign that a guard is too strong.
* **sink strongly connected components**: the components no edge leaves.  Every infinite
  behaviour ends in one; a sink of one state without successors is a deadlock.  Each sink is
  described by the slots that are constant in it but vary elsewhere (``cap=false``: the VM
  that never opted in).
* **diameter**: the longest shortest path from an initial state (TLC's "depth"): the number of
  steps a bounded model checker needs to reach every state.
* **goals unreached**, from the exploration.

:func:`summarise` returns a :class:`GraphSummary`; :func:`summary_lines` and
:func:`summary_json` render it deterministically.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from ..lang.domains import Value
from ..trace.text import fmt_value
from .stategraph import StateGraph


@dataclass
class SinkComponent:
    """One sink strongly connected component."""

    size: int
    first_state: int  # its smallest state number (the first discovered)
    distinguishing: dict[str, Value]  # slots constant here but not over the whole graph
    deadlock: bool  # one state without any successor

    def describe(self, limit: int = 3) -> str:
        fixed = [f"{k}={fmt_value(v)}" for k, v in self.distinguishing.items()]
        what = ", ".join(fixed[:limit]) + (f" and {len(fixed) - limit} more fixed" if len(fixed) > limit else "")
        what = what or "no slot fixed"
        return f"{self.size:,} state{'s' if self.size != 1 else ''} ({what})" + (" DEADLOCK" if self.deadlock else "")


@dataclass
class GraphSummary:
    """See the module docstring."""

    states: int
    transitions: int
    distinct_edges: int
    components: int
    actions_never_enabled: list[str]
    instances_never_enabled: list[str]
    instances_total: int
    transitions_never_enabled: list[str]
    sink_components: list[SinkComponent]
    diameter: int
    diameter_state: int
    goals_unreached: list[str] = field(default_factory=list)


def to_networkx(graph: StateGraph) -> nx.DiGraph:
    """The reachable graph as a plain ``networkx.DiGraph`` on state numbers (no edge labels;
    :meth:`ExploreResult.graph` gives the labelled one)."""
    g = nx.DiGraph()
    g.add_nodes_from(range(graph.n))
    g.add_edges_from((s, t) for s, out in enumerate(graph.succ) for t, _ in out)
    return g


def summarise(graph: StateGraph) -> GraphSummary:
    inst = graph.instance
    model = inst.model
    fired = bytearray(len(graph.actions))
    transitions = 0
    for out in graph.succ:
        transitions += len(out)
        for _, aid in out:
            fired[aid] = 1
    by_action: dict[str, list[int]] = {}
    for ai in graph.actions:
        by_action.setdefault(ai.action.name, []).append(ai.index)
    actions_never = [a.name for a in model.actions if not any(fired[i] for i in by_action.get(a.name, []))]
    instances_never = [
        _label(inst, ai) for ai in graph.actions if not fired[ai.index] and ai.action.name not in actions_never
    ]
    live_actions = {a for a in by_action if a not in actions_never}
    transitions_never = []
    for m in model.machines:
        for t in m.transitions:
            if not any(p.transition is t for a in model.actions if a.name in live_actions for p in a.parts):
                transitions_never.append(t.qualname)

    g = to_networkx(graph)
    sccs = [sorted(c) for c in nx.strongly_connected_components(g)]
    cond = nx.condensation(g, sccs)
    sinks = sorted((sccs[c] for c in cond.nodes if cond.out_degree(c) == 0), key=lambda c: c[0])
    varying = _varying_slots(graph)
    sink_info = []
    for comp in sinks:
        dist = _constant_slots(graph, comp, varying)
        dead = len(comp) == 1 and not graph.succ[comp[0]]
        sink_info.append(SinkComponent(len(comp), comp[0], dist, dead))
    sink_info.sort(key=lambda c: (-c.size, c.first_state))

    source = "initial"
    g.add_edges_from((source, s) for s in graph.initial)
    dist = nx.single_source_shortest_path_length(g, source)
    far = max((d, -s) for s, d in dist.items() if s != source)
    g.remove_node(source)
    goals = [x.name for x in graph.result.goals if not x.reached]
    return GraphSummary(
        states=graph.n,
        transitions=transitions,
        distinct_edges=g.number_of_edges(),
        components=len(sccs),
        actions_never_enabled=actions_never,
        instances_never_enabled=instances_never,
        instances_total=len(graph.actions),
        transitions_never_enabled=transitions_never,
        sink_components=sink_info,
        diameter=far[0] - 1,
        diameter_state=-far[1],
        goals_unreached=goals,
    )


def _label(inst, ai) -> str:
    vals = inst.decode_params(ai.action, ai.params)
    return f"{ai.action.name}({', '.join(f'{k}={fmt_value(v)}' for k, v in vals.items())})"


def _varying_slots(graph: StateGraph) -> list[int]:
    first = graph.state(0)
    varying = set()
    for sid in range(1, graph.n):
        s = graph.state(sid)
        if s != first:
            for i, (a, b) in enumerate(zip(first, s)):
                if a != b:
                    varying.add(i)
    return sorted(varying)


def _constant_slots(graph: StateGraph, comp: list[int], varying: list[int]) -> dict[str, Value]:
    first = graph.state(comp[0])
    const = [i for i in varying]
    for sid in comp[1:]:
        s = graph.state(sid)
        const = [i for i in const if s[i] == first[i]]
        if not const:
            break
    inst = graph.instance
    return {inst.slots[i].name: inst.decode_slot(i, first[i]) for i in const}


def _names(items: list[str], limit: int = 8) -> str:
    if not items:
        return "none"
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def summary_lines(s: GraphSummary) -> list[str]:
    """The summary as text lines (no timings: the same graph gives the same lines)."""
    sinks = "; ".join(c.describe() for c in s.sink_components)
    return [
        f"{s.states:,} states, {s.transitions:,} transitions ({s.distinct_edges:,} distinct edges), "
        f"{s.components:,} strongly connected components",
        f"actions never enabled: {_names(s.actions_never_enabled)}",
        f"action instances never enabled: {len(s.instances_never_enabled)} of {s.instances_total}"
        + (f" ({_names(s.instances_never_enabled, 4)})" if s.instances_never_enabled else ""),
        f"machine transitions never enabled: {_names(s.transitions_never_enabled)}",
        f"sink strongly connected components: {len(s.sink_components)}: {sinks}",
        f"diameter: {s.diameter} (longest shortest path from an initial state: a bounded check needs {s.diameter} "
        f"steps to reach every state)",
        f"goals unreached: {_names(s.goals_unreached)}",
    ]


def summary_json(s: GraphSummary) -> dict[str, Any]:
    return {
        "states": s.states,
        "transitions": s.transitions,
        "distinct_edges": s.distinct_edges,
        "strongly_connected_components": s.components,
        "actions_never_enabled": s.actions_never_enabled,
        "action_instances_never_enabled": s.instances_never_enabled,
        "action_instances": s.instances_total,
        "transitions_never_enabled": s.transitions_never_enabled,
        "sink_components": [
            {"states": c.size, "first_state": c.first_state, "deadlock": c.deadlock,
             "distinguishing": {k: fmt_value(v) for k, v in c.distinguishing.items()}}
            for c in s.sink_components
        ],
        "diameter": s.diameter,
        "goals_unreached": s.goals_unreached,
    }
