"""What the web explorer shows and does, without any HTTP: one :class:`Session` per server.

A session holds a *path*: a list of concrete states of one instance (the model and sizes are
fixed when the server starts; the variant may change), the steps between them, and a *cursor*
(the state being looked at).  Every operation of the page is a method here, so the tests drive
the explorer without a browser, and the HTTP layer (:mod:`lbrspec.serve.http`) only decodes
requests and encodes :meth:`Session.view`.

Everything the page shows is computed from the model's one definition: the enabled steps from
the compiled successor function (the same one the reference explorer uses), invariant values
and their explanations from the reference semantics (:mod:`lbrspec.explicit.explain`),
counterexamples from the vector explorer, lassos from the liveness checker, path queries by a
breadth-first search from the current state, and the path's sequence diagram from
:mod:`lbrspec.diagrams.sequence`.
"""

from __future__ import annotations

import dataclasses
import random
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from ..errors import InputError
from ..explicit.compile import Compiled, compile_instance
from ..explicit.evaluate import holds
from ..explicit.explain import explain
from ..explicit.instance import Instance, State
from ..lang.pretty import show
from ..lang.spec import Model
from ..modelref import ModelModule
from ..trace import Trace, trace_from_states
from ..trace.itf import from_itf, to_itf
from ..trace.text import fmt_value
from .control import control_views

#: Budgets of the searches a page can start (a page must not be able to hang the server).
QUERY_MAX_STATES = 400_000
QUERY_MAX_SECONDS = 20.0
COUNTEREXAMPLE_MAX_SECONDS = 120.0
RANDOM_MAX_STEPS = 10_000
#: The longest path a session keeps.
MAX_PATH = 100_000


@dataclass
class Design:
    """One variant of the model at the session's sizes, compiled once."""

    variant: str
    model: Model
    inst: Instance
    comp: Compiled
    counterexamples: dict[str, Trace] | None = None  # property -> shortest counterexample
    undetermined: str | None = None  # why the counterexample search did not finish


@dataclass
class Path:
    states: list[State]
    steps: list[tuple[int, tuple[int, ...]]]  # (action index in model.actions, parameter codes)
    loop: int | None = None  # a lasso: the last state is states[loop] again
    source: str = "initial state"
    violation: str | None = None  # the property a loaded trace was about
    cursor: int = 0


class Session:
    """The explorer's state; thread-safe (one lock: requests are short, searches are bounded)."""

    def __init__(self, source: ModelModule, variant: str | None, sizes: dict[str, int]) -> None:
        self.source = source
        self.sizes = dict(sizes)
        self.lock = threading.RLock()
        self._designs: dict[str, Design] = {}
        self.design = self._design(variant or source.default_variant)
        self.path = self._fresh_path()
        self.rng = random.Random(0)
        self.message = ""

    # -- designs ---------------------------------------------------------------------------------
    def _design(self, variant: str) -> Design:
        if variant not in self._designs:
            names = list(self.source.all_variants())
            if variant not in names:
                raise InputError(f"model {self.source.name} has no variant {variant!r} "
                                 f"(variants: {', '.join(names)})")
            model = self.source.build(variant)
            inst = Instance(model, {**self.source.default_sizes(model), **self.sizes})
            self._designs[variant] = Design(variant, model, inst, compile_instance(inst))
        return self._designs[variant]

    def _fresh_path(self, initial: int = 0) -> Path:
        inst = self.design.inst
        n = inst.initial_count()
        return Path([inst.initial_state(min(initial, n - 1))], [], source="initial state")

    # -- the view ----------------------------------------------------------------------------------
    @property
    def state(self) -> State:
        return self.path.states[self.path.cursor]

    def enabled(self) -> list[tuple[int, State]]:
        """(action instance index of the compiled design, successor) for every enabled step."""
        return list(self.design.comp.successors(self.state))

    def _initial_index(self) -> int | None:
        """The position of the path's first state among the initial states (None: not initial)."""
        first = self.path.states[0]
        inst = self.design.inst
        if not inst.is_initial(first):
            return None
        n = inst.initial_count()
        if n <= 4096:
            return next((i for i in range(n) if inst.initial_state(i) == first), None)
        return None

    def _step_text(self, aid: int) -> tuple[str, dict[str, str]]:
        ai = self.design.comp.actions[aid]
        params = self.design.inst.decode_params(ai.action, ai.params)
        return ai.action.name, {k: fmt_value(v) for k, v in params.items()}

    def view(self) -> dict[str, Any]:
        """Everything the page shows, as JSON-ready data."""
        with self.lock:
            d = self.design
            inst, model = d.inst, d.model
            p = self.path
            cur = self.state
            prev = p.states[p.cursor - 1] if p.cursor > 0 else None
            machines: dict[str, list[dict[str, Any]]] = {m.name: [] for m in model.machines}
            for i, sl in enumerate(inst.slots):
                machines.setdefault(sl.var.machine, []).append({
                    "slot": sl.name, "var": sl.var.name,
                    "value": fmt_value(inst.decode_slot(i, cur[i])),
                    "before": None if prev is None or prev[i] == cur[i] else fmt_value(inst.decode_slot(i, prev[i])),
                    "ghost": bool(getattr(sl.var, "ghost", False)),
                })
            enabled = []
            for aid, nxt in self.enabled():
                name, params = self._step_text(aid)
                changes = [f"{inst.slots[i].name}: {fmt_value(inst.decode_slot(i, a))} → {fmt_value(inst.decode_slot(i, b))}"
                           for i, (a, b) in enumerate(zip(cur, nxt)) if a != b]
                enabled.append({"id": aid, "action": name, "params": params,
                                "label": f"{name}({', '.join(f'{k}={v}' for k, v in params.items())})",
                                "changes": changes})
            invariants = []
            for inv in model.invariants:
                ok = holds(inv.body, inst, cur)
                entry: dict[str, Any] = {"name": inv.name, "summary": inv.summary, "formula": show(inv.body),
                                         "value": ok, "step": inv.on is not None}
                if not ok:
                    entry["explanation"] = explain(inv.body, inst, cur).as_dict()
                invariants.append(entry)
            steps = []
            for k, (aid, params) in enumerate(p.steps):
                act = model.actions[aid]
                pd = inst.decode_params(act, params)
                steps.append(f"{act.name}({', '.join(f'{n}={fmt_value(v)}' for n, v in pd.items())})")
            return {
                "model": model.name, "variant": d.variant, "variants": list(self.source.all_variants()),
                "sizes": inst.sizes_by_name(), "describe": inst.describe(),
                "source": p.source, "violation": p.violation, "loop": p.loop,
                "cursor": p.cursor, "length": len(p.states) - 1, "steps": steps,
                "initial": {"count": inst.initial_count(), "index": self._initial_index()},
                "machines": [{"name": m, "vars": vs} for m, vs in machines.items() if vs],
                "enabled": enabled, "invariants": invariants,
                "control": control_views(model, inst, cur, prev),
                "sequence": self._sequence(),
                "counterexamples": sorted(d.counterexamples) if d.counterexamples else [],
                "message": self.message,
            }

    def _sequence(self) -> dict[str, Any]:
        from ..diagrams.sequence import sequence

        tr = self.trace(upto=None)
        fig = sequence(tr, self.design.model)
        items = []
        for it in fig.items:
            row = dataclasses.asdict(it) if dataclasses.is_dataclass(it) else {}
            row = {k: (list(v) if isinstance(v, tuple) else v) for k, v in row.items()}
            row["kind"] = type(it).__name__
            items.append(row)
        return {"title": fig.title, "lanes": [list(x) for x in fig.lanes], "items": items}

    # -- moving along the path -----------------------------------------------------------------------
    def take(self, aid: int) -> None:
        """Take enabled step ``aid`` (an id from :meth:`view`): the path after the cursor is dropped."""
        with self.lock:
            for a, nxt in self.enabled():
                if a == aid:
                    self._append(a, nxt, keep_source=False)
                    self.message = ""
                    return
            raise InputError(f"step {aid} is not enabled in the current state")

    def _append(self, aid: int, nxt: State, keep_source: bool) -> None:
        p = self.path
        if len(p.states) >= MAX_PATH:
            raise InputError(f"the path is {MAX_PATH:,} steps long, the most the explorer keeps")
        ai = self.design.comp.actions[aid]
        del p.states[p.cursor + 1:]
        del p.steps[p.cursor:]
        p.loop = None  # the path no longer ends where a lasso closes
        if not keep_source and "by hand" not in p.source:
            p.source = f"{p.source}, then by hand"
        p.states.append(nxt)
        p.steps.append((self.design.model.actions.index(ai.action), ai.params))
        p.cursor += 1

    def goto(self, cursor: int) -> None:
        with self.lock:
            n = len(self.path.states)
            if not 0 <= cursor < n:
                raise InputError(f"state {cursor} is not on the path (0 to {n - 1})")
            self.path.cursor = cursor

    def back(self) -> None:
        with self.lock:
            self.path.cursor = max(0, self.path.cursor - 1)

    def forward(self) -> None:
        with self.lock:
            p = self.path
            if p.cursor + 1 < len(p.states):
                p.cursor += 1
            elif p.loop is not None:
                p.cursor = p.loop  # around the lasso's loop

    def reset(self, initial: int = 0) -> None:
        with self.lock:
            n = self.design.inst.initial_count()
            if not 0 <= initial < n:
                raise InputError(f"initial state {initial} does not exist (0 to {n - 1})")
            self.path = self._fresh_path(initial)
            self.message = ""

    def random_walk(self, steps: int, seed: int | None = None, stop_at_violation: bool = True) -> None:
        """Take up to ``steps`` random enabled steps from the cursor."""
        with self.lock:
            if not 1 <= steps <= RANDOM_MAX_STEPS:
                raise InputError(f"a random walk takes 1 to {RANDOM_MAX_STEPS:,} steps, got {steps}")
            rng = random.Random(seed) if seed is not None else self.rng
            model = self.design.model
            taken = 0
            why = f"{steps} steps taken"
            for _ in range(steps):
                succ = self.enabled()
                if not succ:
                    why = "no step is enabled (deadlock)"
                    break
                aid, nxt = succ[rng.randrange(len(succ))]
                self._append(aid, nxt, keep_source=False)
                taken += 1
                if stop_at_violation:
                    bad = [i.name for i in model.invariants if not holds(i.body, self.design.inst, nxt)]
                    if bad:
                        why = f"stopped: {bad[0]} is false"
                        break
            self.message = f"random walk: {taken} steps ({why})"

    # -- loading -----------------------------------------------------------------------------------------
    def set_variant(self, variant: str) -> None:
        with self.lock:
            self.design = self._design(variant)
            self.path = self._fresh_path()
            self.message = f"variant {variant}"

    def find_counterexamples(self, max_seconds: float = COUNTEREXAMPLE_MAX_SECONDS) -> Design:
        """Every violated property's shortest counterexample in the current variant (cached)."""
        from ..explicit.vexplore import explore_vector

        d = self.design
        if d.counterexamples is None:
            res = explore_vector(d.inst, symmetry=True, stop_at_violation=False, prune_violations=True,
                                 max_seconds=max_seconds)
            d.counterexamples = {v.prop: v.trace for v in res.violations}
            d.undetermined = res.stop_reason if res.verdict == "undetermined" else None
        return d

    def load_counterexample(self, variant: str, prop: str | None = None) -> None:
        """The shortest counterexample of ``prop`` (default: the first violated) in ``variant``."""
        with self.lock:
            self.design = self._design(variant)
            d = self.find_counterexamples()
            if not d.counterexamples:
                self.path = self._fresh_path()
                if d.undetermined:
                    raise InputError(f"variant {variant}: no counterexample found before the search stopped "
                                     f"({d.undetermined}); nothing is claimed")
                raise InputError(f"variant {variant}: every invariant holds on {d.inst.describe()}; "
                                 "there is no counterexample to load")
            name = prop or next(iter(d.counterexamples))
            if name not in d.counterexamples:
                raise InputError(f"variant {variant}: {name} is not violated here "
                                 f"(violated: {', '.join(d.counterexamples)})")
            self._load_trace(d.counterexamples[name], f"shortest counterexample of {name} in {variant}", name)

    def load_lasso(self, variant: str, prop: str | None = None) -> None:
        """A lasso that breaks a liveness property of ``variant`` under its fairness assumptions."""
        from ..analysis.report import graph_report

        with self.lock:
            self.design = self._design(variant)
            d = self.design
            props = self.source.liveness(d.model)
            if not props:
                raise InputError(f"model {self.source.name} declares no liveness properties")
            rep = graph_report(d.inst, analysis=False, liveness=props, max_states=None,
                               max_seconds=COUNTEREXAMPLE_MAX_SECONDS)
            if not rep.complete:
                raise InputError(f"variant {variant}: the liveness check stopped ({rep.stop_reason}); no lasso is "
                                 "claimed (undetermined): start the explorer with smaller sizes")
            bad = [r for r in rep.liveness if r.lasso is not None and (prop is None or r.label.startswith(prop))]
            if not bad:
                raise InputError(f"variant {variant}: no liveness property is violated"
                                 + (f" by the name {prop}" if prop else "") + " on this instance")
            r = bad[0]
            self._load_trace(r.lasso, f"lasso breaking {r.label} in {variant}", r.label)

    def load_itf(self, obj: Any, name: str = "uploaded file") -> None:
        """An ITF trace (already parsed JSON) of this model at these sizes."""
        from ..explicit.replay import replay

        with self.lock:
            tr = from_itf(obj, name)
            if tr.model and tr.model != self.design.model.name:
                raise InputError(f"{name}: a trace of model {tr.model!r}, and the explorer runs {self.design.model.name!r} "
                                 "(the model is chosen when the server starts)")
            if tr.sizes and tr.sizes != self.design.inst.sizes_by_name():
                want = ", ".join(f"{k}={v}" for k, v in tr.sizes.items())
                raise InputError(f"{name}: the trace is of {want}, and the explorer runs "
                                 f"{self.design.inst.describe()} (sizes are chosen when the server starts)")
            variant = tr.variant if tr.variant in self.source.all_variants() else self.design.variant
            design = self._design(variant)
            res = replay(design.inst, tr)
            if not res.ok:
                raise InputError(f"{name}: not a behaviour of {design.model.name} ({variant}): {res.reason}")
            self.design = design
            self._load_trace(tr, f"{name}", tr.violation)

    def _load_trace(self, tr: Trace, source: str, violation: str | None) -> None:
        d = self.design
        inst, model = d.inst, d.model
        states = [inst.encode(s) for s in tr.states]
        steps = []
        for i, st in enumerate(tr.steps):
            if st.action:
                act = model.action(st.action)
                steps.append((model.actions.index(act), inst.encode_params(act, st.params)))
            else:  # a step without an action name: the first action that leads there
                aid = next(a for a, nxt in d.comp.successors(states[i]) if nxt == states[i + 1])
                ai = d.comp.actions[aid]
                steps.append((model.actions.index(ai.action), ai.params))
        self.path = Path(states, steps, loop=tr.loop, source=source, violation=violation, cursor=0)
        self.message = f"loaded: {source} ({len(steps)} steps)"

    # -- queries ------------------------------------------------------------------------------------------
    def query(self, text: str, max_states: int = QUERY_MAX_STATES, max_seconds: float = QUERY_MAX_SECONDS) -> None:
        """Extend the path from the cursor by a shortest path to a state where ``text`` holds."""
        from ..lang.parse import parse_expr

        with self.lock:
            d = self.design
            expr = parse_expr(text, d.model, sizes=d.inst.sizes_by_name(), max_length=4000)
            said = " ".join(text.split())  # the user's own words (parsing names v0 first(vCPU))
            start = self.state
            t0 = time.perf_counter()
            if holds(expr, d.inst, start):
                self.message = f"query: {said} already holds here"
                return
            parent: dict[State, tuple[State, int] | None] = {start: None}
            todo = deque([start])
            found: State | None = None
            stopped = None
            while todo and found is None:
                s = todo.popleft()
                for aid, nxt in d.comp.successors(s):
                    if nxt in parent:
                        continue
                    parent[nxt] = (s, aid)
                    if holds(expr, d.inst, nxt):
                        found = nxt
                        break
                    todo.append(nxt)
                if len(parent) >= max_states:
                    stopped = f"{len(parent):,} states searched, the most a query may"
                    break
                if time.perf_counter() - t0 > max_seconds:
                    stopped = f"{max_seconds:g} s spent, the most a query may"
                    break
            if found is None:
                if stopped:
                    raise InputError(f"query {said}: undetermined: no such state found before the search "
                                     f"stopped ({stopped})")
                raise InputError(f"query {said}: no state reachable from here satisfies it "
                                 f"({len(parent):,} states searched, all of them)")
            chain: list[tuple[int, State]] = []
            s = found
            while parent[s] is not None:
                pre, aid = parent[s]  # type: ignore[misc]
                chain.append((aid, s))
                s = pre
            chain.reverse()
            for aid, nxt in chain:
                self._append(aid, nxt, keep_source=True)
            p = self.path
            p.source = f"{p.source}, then a query" if "query" not in p.source else p.source
            self.message = (f"query: {said} holds after {len(chain)} more steps "
                            f"(shortest; {len(parent):,} states searched)")

    # -- export ---------------------------------------------------------------------------------------------
    def trace(self, upto: int | None = None) -> Trace:
        """The path (to ``upto``, default: all of it) as a :class:`Trace`."""
        d = self.design
        p = self.path
        n = len(p.states) - 1 if upto is None else upto
        steps = [(d.model.actions[a], params) for a, params in p.steps[:n]]
        violation = None
        last = p.states[n]
        bad = [i.name for i in d.model.invariants if not holds(i.body, d.inst, last)]
        if p.violation and (p.violation in bad or p.loop is not None):
            violation = p.violation
        elif bad:
            violation = bad[0]
        loop = p.loop if (p.loop is not None and n == len(p.states) - 1) else None
        return trace_from_states(d.inst, p.states[:n + 1], steps, violation=violation, loop=loop)

    def export_itf(self) -> dict[str, Any]:
        with self.lock:
            return to_itf(self.trace(), description=f"lbrspec serve: {self.path.source}")


