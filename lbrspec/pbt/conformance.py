"""Conformance testing: driving an implementation beside the model, step by step.

An implementation under test is connected to a rule machine (:func:`lbrspec.pbt.machine.rule_machine`
with ``adapter=``) by a small :class:`Adapter`:

* ``start(model)``: begin in the model's initial state (read through a :class:`ModelView`);
* ``perform(action, params, model)``: do what the model's action does, e.g. call the
  implementation's VM-exit handler for ``guest_lbr_exit(v=v0, p=p0)``; ``model`` is the state
  *before* the step, from which the implementation may read whatever environment it does not
  implement itself (the scheduler, host perf, the hardware).  An implementation that cannot take
  the step raises :class:`Refused`; any other exception it raises is a failure too;
* ``observe()``: the implementation's state as model values, keyed by slot name (``pc[v0]``)
  or by a definition of the model applied to elements (``irqs_off(p0)``, ``absent(v1)``): a
  definition is how an implementation that keeps its state differently (a pointer to a perf
  event, an interrupt flag) reports what the model means by it;
* optionally, ``judged`` (names of the model's *step invariants*) and ``broken()``: which of
  them the step just performed broke in the implementation (a ``WARN_ON`` fired, a NULL pointer
  was dereferenced, the guest got #GP...).  The check compares that with the model's own verdict
  on the same step, so a step property is compared like any observation: what went wrong, and
  at which step.

After the initial state and after every step the machine compares each observation with the
model's value in the same state and fails with :class:`~lbrspec.pbt.failures.Nonconformance`
on the first difference, so Hypothesis shrinks to a short run that shows it.  The model chooses
every step, so the check finds what the implementation does differently on the model's runs;
an implementation that could take steps the model cannot (an IPI while the model has interrupts
disabled) is caught by observing the condition (``irqs_off``) that forbids them.

A model that is *expected* to violate its properties (the code as posted, with its bugs) is
checked for conformance with ``rule_machine(..., check_invariants=False)``: the runs go on
through the states that break an invariant, and only the comparison can fail.

:func:`drive` takes one given trace of the model (a counterexample from the explorer, say) and
performs it on an adapter step by step, with or without comparing: that is how a model's
counterexample is reproduced on the implementation.

:func:`drive_graph` is the exhaustive counterpart of the random walks on a small instance: every
edge of the model's reachable graph is taken by the implementation, each from the state the
explorer's shortest path to the edge's source leaves it in (edge coverage; the implementation's
state may depend on more of the history than the model's does, which the walks explore).  An
adapter is cloned at each state (by its ``clone()`` if it has one, else :func:`copy.deepcopy`); where
it cannot be copied (a Python generator in flight, say: ``TypeError``) it is re-driven from the
nearest state on the path where it could.
"""

from __future__ import annotations

import copy
import re
import time
from dataclasses import dataclass, field
from typing import Callable, Collection, Mapping, NoReturn, Protocol

from ..errors import InputError, LbrspecError
from ..explicit.evaluate import evaluate
from ..explicit.instance import Instance, State
from ..lang.domains import BoolDomain, Value
from ..lang.spec import Action, Model
from ..trace import Trace

_APPLICATION = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\((.*)\)$")


class Refused(Exception):
    """Raised by :meth:`Adapter.perform` when the implementation cannot take the model's step."""


class ModelView:
    """The model's state as an adapter sees it: slot values and definitions, read-only."""

    def __init__(self, inst: Instance, state: State) -> None:
        self._inst = inst
        self._state = state

    def __getitem__(self, slot: str) -> Value:
        try:
            i = self._inst.slot_index[slot]
        except KeyError:
            raise KeyError(f"the model has no slot {slot!r}") from None
        return self._inst.decode_slot(i, self._state[i])

    def value(self, definition: str, *args: Value) -> Value:
        """The value of ``definition(*args)`` here, e.g. ``view.value("owns", "v0", "p1")``."""
        return definition_value(self._inst, self._state, definition, args)

    def elements(self, sort: str) -> list[str]:
        """The elements of an index sort of the instance (``["v0", "v1"]``)."""
        return list(self._inst.elements(self._inst.model.sort(sort)))

    @property
    def model(self) -> Model:
        """The model (its variables, domains and actions: how it cuts the system into steps)."""
        return self._inst.model

    def has(self, slot: str) -> bool:
        """Whether the model has slot ``slot`` (a variable may exist only in some variants)."""
        return slot in self._inst.slot_index


class Adapter(Protocol):
    """What the conformance check needs from an implementation under test.

    An adapter may also have ``judged`` (step invariant names) and ``broken()`` (those the last
    step broke), see the module docstring; and ``clone()``, an independent copy of itself for
    :func:`drive_graph` (``TypeError`` where it cannot be copied), if :func:`copy.deepcopy` is not
    the right or the quick way.
    """

    def start(self, model: ModelView) -> None: ...

    def perform(self, action: str, params: Mapping[str, Value], model: ModelView) -> None: ...

    def observe(self) -> Mapping[str, Value]: ...


class StepJudge:
    """The model's verdict on the step invariants an adapter judges, for any step of the model."""

    def __init__(self, inst: Instance, judged: Collection[str]) -> None:
        from ..lang.expr import expand, substitute

        self.inst = inst
        names = set(judged)
        # per action: (invariant name, its step body over the action's parameters), inlined once
        self.bodies: dict[str, list[tuple[str, object]]] = {}
        for action in inst.model.actions:
            out = []
            for inv in inst.model.invariants:
                if inv.on is None or inv.name not in names:
                    continue
                for part in action.parts:
                    if part.transition is inv.on:
                        out.append((inv.name, expand(substitute(inv.step_body, dict(zip(inv.on.params, part.args))))))
                        break
            self.bodies[action.name] = out
        self.names = sorted(n for n in names if any(i.name == n and i.on is not None for i in inst.model.invariants))

    def broken(self, action: Action, params: tuple[int, ...], pre: State) -> set[str]:
        env = dict(zip(action.params, params))
        return {n for n, body in self.bodies[action.name] if not evaluate(body, self.inst, pre, env)}  # type: ignore[arg-type]

    def differences(self, action: Action, params: tuple[int, ...], pre: State,
                    adapter: Adapter) -> list[tuple[str, Value, Value]]:
        want = self.broken(action, params, pre)
        got = set(adapter.broken()) & set(self.names)  # type: ignore[attr-defined]
        return [(f"step breaks {n}", n in want, n in got) for n in self.names if (n in want) != (n in got)]


_JUDGES: dict[tuple[int, frozenset[str]], StepJudge] = {}


def step_judge(inst: Instance, adapter: Adapter) -> StepJudge | None:
    """The judge of ``adapter``'s step properties on ``inst`` (made once per instance), if it has any."""
    judged = getattr(adapter, "judged", None)
    if not judged:
        return None
    key = (id(inst), frozenset(judged))
    judge = _JUDGES.get(key)
    if judge is None or judge.inst is not inst:
        judge = _JUDGES[key] = StepJudge(inst, judged)
    return judge


def _bound_definition(inst: Instance, name: str, args: tuple[Value, ...] | list[Value]):
    """The model's definition ``name`` and its parameters bound to display-valued arguments."""
    defn = next((d for d in inst.model.definitions if d.name == name), None)
    if defn is None:
        raise InputError(f"the model has no definition {name!r}")
    if len(args) != len(defn.params):
        raise InputError(f"{name} takes {len(defn.params)} argument(s), got {len(args)}")
    env = {}
    for p, a in zip(defn.params, args):
        if isinstance(p.dom, BoolDomain) and isinstance(a, str) and a in ("true", "false"):
            a = a == "true"
        try:
            env[p] = p.dom.encode(a, inst.sizes)
        except ValueError as e:
            raise InputError(f"{name}: {e}") from None
    return defn, env


def _evaluate_bound(inst: Instance, state: State, defn, env) -> Value:
    code = evaluate(defn.body, inst, state, env)
    if isinstance(defn.body.dom, BoolDomain):
        return bool(code)
    return defn.body.dom.decode(int(code), inst.sizes)


def definition_value(inst: Instance, state: State, name: str, args: tuple[Value, ...] | list[Value]) -> Value:
    """Evaluate the model's definition ``name`` on display-valued arguments."""
    defn, env = _bound_definition(inst, name, args)
    return _evaluate_bound(inst, state, defn, env)


#: Per instance, each observation key read: a slot index, or a definition with its arguments bound.
_KEYS: dict[int, tuple[Instance, dict[str, object]]] = {}


def model_value(inst: Instance, state: State, key: str) -> Value:
    """The model's value of observation ``key`` (a slot, or a definition applied to elements)."""
    cached = _KEYS.get(id(inst))
    if cached is None or cached[0] is not inst:
        if len(_KEYS) >= 64:  # it keeps its instances alive: a bounded few
            _KEYS.clear()
        cached = _KEYS[id(inst)] = (inst, {})
    keys = cached[1]
    how = keys.get(key)
    if how is None:
        i = inst.slot_index.get(key)
        if i is not None:
            how = i
        else:
            m = _APPLICATION.match(key)
            if m is None:
                raise InputError(f"observation {key!r} is neither a slot of the model nor a definition applied to "
                                 "elements")
            args = [a.strip() for a in m.group(2).split(",")] if m.group(2).strip() else []
            how = _bound_definition(inst, m.group(1), args)
        keys[key] = how
    if isinstance(how, int):
        return inst.decode_slot(how, state[how])
    return _evaluate_bound(inst, state, *how)  # type: ignore[misc]


def differences(inst: Instance, state: State, observed: Mapping[str, Value]) -> list[tuple[str, Value, Value]]:
    """``(observation, model value, implementation value)`` for every observation that differs."""
    out: list[tuple[str, Value, Value]] = []
    for key, got in observed.items():
        want = model_value(inst, state, key)
        if got != want or type(got) is not type(want):
            out.append((key, want, got))
    return out


class Conformer:
    """One run's comparison of an adapter with the model (used by the rule machine)."""

    def __init__(
        self,
        inst: Instance,
        adapter: Adapter,
        fail: Callable[[list[tuple[str, object, object]], str | None], NoReturn],
    ) -> None:
        self.inst = inst
        self.adapter = adapter
        self.fail = fail
        self.judge = step_judge(inst, adapter)

    def start(self, state: State) -> None:
        self.adapter.start(ModelView(self.inst, state))
        self.compare(state)

    def step(self, action: Action, params: tuple[int, ...], pre: State, post: State) -> None:
        decoded = self.inst.decode_params(action, params)
        try:
            self.adapter.perform(action.name, decoded, ModelView(self.inst, pre))
        except Refused as e:
            self.fail([], str(e) or type(e).__name__)
        except LbrspecError:
            raise
        except Exception as e:  # the implementation crashed on a step of the model: a finding
            self.fail([], f"it raised {type(e).__name__}: {e}")
        judged = self.judge.differences(action, params, pre, self.adapter) if self.judge is not None else []
        self.compare(post, judged)

    def compare(self, state: State, judged: list[tuple[str, Value, Value]] | None = None) -> None:
        diffs = differences(self.inst, state, self.adapter.observe()) + (judged or [])
        if diffs:
            self.fail(diffs, None)

    def model_value(self, key: str, state: State) -> Value:
        return model_value(self.inst, state, key)

    def close(self) -> None:
        close = getattr(self.adapter, "close", None)
        if callable(close):
            close()


@dataclass
class DriveResult:
    """What :func:`drive` saw: how far the implementation followed the trace, and why it stopped.

    ``done``: the steps the implementation performed (all of them when ``completed``);
    ``stopped_at``: the 1-based step where it stopped (refused, raised, or differed after it);
    ``observations``: what the adapter reported in the initial state and after each step done.
    """

    instance: Instance
    trace: Trace
    done: int = 0
    stopped_at: int | None = None
    refused: str | None = None
    raised: BaseException | None = None
    differences: list[tuple[str, Value, Value]] = field(default_factory=list)
    observations: list[dict[str, Value]] = field(default_factory=list)

    @property
    def completed(self) -> bool:
        return self.stopped_at is None

    @property
    def conforms(self) -> bool:
        return self.completed and not self.differences

    def reason(self) -> str:
        """Why the implementation stopped following the trace, in one line ('' if it did not)."""
        if self.stopped_at is None:
            return ""
        from ..trace.text import fmt_value

        n = self.stopped_at
        where = f"step {n}, {self.trace.steps[n - 1].label()}" if n else "the initial state"
        if self.refused is not None:
            return f"at {where} it refuses the step: {self.refused}"
        if self.raised is not None:
            return f"at {where} it raises {type(self.raised).__name__}: {self.raised}"
        diffs = "; ".join(f"{k} is {fmt_value(m)} in the model but {fmt_value(i)} in the implementation"  # type: ignore[arg-type]
                          for k, m, i in self.differences)
        return f"{'in' if not n else 'after'} {where}: {diffs}"


def drive(inst: Instance, trace: Trace, adapter: Adapter, *, compare: bool = True) -> DriveResult:
    """Perform ``trace`` (a run of ``inst``'s model) on ``adapter``, step by step.

    The trace is first replayed by the reference semantics (:class:`InputError` if it is not a
    run of this instance); the adapter gets the model's state before each step, as in a rule
    machine.  With ``compare`` the observations are compared after the initial state and after
    every step, and the drive stops at the first difference; without it, only a refused step
    or an exception stops it (for an implementation that is known to differ from this model and
    is driven along the model's run anyway).
    """
    from ..explicit.replay import replay

    r = replay(inst, trace)
    if not r.ok:
        raise InputError(f"the trace is not a run of {inst.model.name} (variant {inst.model.variant.name}): {r.reason}")
    out = DriveResult(inst, trace)
    try:
        _drive(inst, trace, r.states, adapter, compare, out)
    finally:
        close = getattr(adapter, "close", None)
        if callable(close):
            close()
    return out


def _drive(inst: Instance, trace: Trace, states: list[State], adapter: Adapter, compare: bool, out: DriveResult) -> None:
    actions = {a.name: a for a in inst.model.actions}
    adapter.start(ModelView(inst, states[0]))
    judge = step_judge(inst, adapter) if compare else None
    seen = dict(adapter.observe())
    out.observations.append(seen)
    if compare:
        out.differences = differences(inst, states[0], seen)
        if out.differences:
            out.stopped_at = 0
            return
    for i, st in enumerate(trace.steps):
        try:
            adapter.perform(st.action, st.params, ModelView(inst, states[i]))
        except Refused as e:
            out.stopped_at, out.refused = i + 1, str(e) or type(e).__name__
            return
        except LbrspecError:
            raise
        except Exception as e:  # the implementation crashed on a step of the model
            out.stopped_at, out.raised = i + 1, e
            return
        out.done = i + 1
        seen = dict(adapter.observe())
        out.observations.append(seen)
        if compare:
            out.differences = differences(inst, states[i + 1], seen)
            if judge is not None:
                act = actions[st.action]
                out.differences += judge.differences(act, inst.encode_params(act, st.params), states[i], adapter)
            if out.differences:
                out.stopped_at = i + 1
                return


def unroll(trace: Trace, laps: int = 2) -> Trace:
    """A lasso ``trace`` (``loop`` set) with its loop taken ``laps`` times, as a plain trace."""
    if trace.loop is None or laps <= 1:
        return trace
    states, steps = list(trace.states), list(trace.steps)
    for _ in range(laps - 1):
        states += trace.states[trace.loop + 1:]
        steps += trace.steps[trace.loop:]
    return Trace(trace.model, trace.variant, dict(trace.sizes), states, steps, trace.violation, None, dict(trace.meta))


@dataclass
class GraphResult:
    """What :func:`drive_graph` saw: the graph, the work, and the shortest differing run found.

    ``edges``: the edges the implementation took and was compared after (all of them when it
    conforms); ``steps``: the adapter steps performed, re-driving included; ``failure``: the
    shortest run found whose last step differs (a path of the explorer's, then the edge), driven
    again from the initial state by :func:`drive`, or ``None``.
    """

    instance: Instance
    states: int
    edges_total: int
    edges: int = 0
    steps: int = 0
    seconds: float = 0.0
    failure: DriveResult | None = None

    @property
    def conforms(self) -> bool:
        return self.failure is None


def drive_graph(
    inst: Instance,
    adapter: Callable[[], Adapter],
    *,
    max_states: int | None = 200_000,
    progress: Callable[[int, int], None] | None = None,
) -> GraphResult:
    """Take every edge of ``inst``'s reachable graph on a fresh copy of the implementation at the
    edge's source, reached along the explorer's shortest path, and compare after it (state and
    judged step properties, as the rule machine does).  The search returns the shortest differing
    run found, looking no deeper than it once one is found.  ``progress(edges, steps)`` is called
    every thousand edges.  The graph must be complete within ``max_states``."""
    from ..explicit.explore import explore
    from ..trace import trace_from_states

    t0 = time.perf_counter()
    r = explore(inst, keep_graph=True, stop_at_violation=False, check_deadlock=False, max_states=max_states)
    if not r.complete or r.edges is None or r.compiled is None:
        raise InputError(f"drive_graph needs the whole reachable graph of {inst.describe()}; exploring it stopped: "
                         f"{r.stop_reason}")
    states, parent, actions = r._states, r._parent, r.compiled.actions
    out: dict[int, list[tuple[int, int]]] = {}
    for s, t, aid in r.edges:
        out.setdefault(s, []).append((t, aid))
    res = GraphResult(inst, len(states), len(r.edges))
    first = adapter()
    judge = step_judge(inst, first)
    best: list[int] | None = None  # the path (states) of the shortest differing run found

    def step(ad: Adapter, s: int, aid: int, t: int) -> bool:
        """Perform edge (s, aid, t) on ``ad``: whether it conforms."""
        ai = actions[aid]
        res.steps += 1
        try:
            ad.perform(ai.action.name, inst.decode_params(ai.action, ai.params), ModelView(inst, states[s]))
        except LbrspecError:
            raise
        except Exception:  # refused, or raised: a difference (drive() says which, on the final run)
            return False
        if differences(inst, states[t], ad.observe()):
            return False
        return not (judge is not None and judge.differences(ai.action, ai.params, states[s], ad))

    def clone(ad: Adapter) -> Adapter | None:
        own = getattr(ad, "clone", None)
        try:
            return own() if callable(own) else copy.deepcopy(ad)
        except (TypeError, copy.Error):
            return None

    def redrive(base: Adapter, aids: list[int], path: list[int], frm: int) -> Adapter:
        """A copy of ``base`` (the adapter at ``path[frm]``) driven on to the end of ``path``."""
        ad = clone(base)
        assert ad is not None
        for i in range(frm, len(aids)):
            ai = actions[aids[i]]
            res.steps += 1
            ad.perform(ai.action.name, inst.decode_params(ai.action, ai.params), ModelView(inst, states[path[i]]))
        return ad

    # Depth-first over the explorer's tree.  A frame: the state, the path of states to it and its
    # edges, the adapter at it (never stepped: each edge gets a copy), and the nearest state on the
    # path where the adapter could be copied, with that adapter (to re-drive from when it cannot).
    roots = [sid for sid in range(len(states)) if parent[sid][0] < 0]
    tree_edge = {t: (p, a) for t, (p, a) in enumerate(parent) if p >= 0}
    Frame = tuple[int, list[int], list[int], Adapter, Adapter | None, int]
    stack: list[Frame] = []
    best_aids: list[int] = []
    for root in reversed(roots):
        ad = adapter()
        ad.start(ModelView(inst, states[root]))
        if differences(inst, states[root], ad.observe()):
            best = [root]
            break
        stack.append((root, [root], [], ad, None, 0))
    while stack and (best is None or len(best) > 1):
        s, path, aids, ad_s, base, base_at = stack.pop()
        if best is not None and len(path) + 1 >= len(best):
            continue
        copyable = True
        children: list[Frame] = []
        for t, aid in out.get(s, ()):
            b = clone(ad_s) if copyable else None
            if b is None:
                copyable = False
                if base is None:
                    raise InputError("drive_graph: the adapter cannot be copied in an initial state")
                b = redrive(base, aids, path, base_at)
            res.edges += 1
            if progress is not None and res.edges % 1000 == 0:
                progress(res.edges, res.steps)
            if not step(b, s, aid, t):
                if best is None or len(path) + 1 < len(best):
                    best, best_aids = path + [t], aids + [aid]
                continue
            if tree_edge.get(t) == (s, aid):
                children.append((t, path + [t], aids + [aid], b, None, 0))
        # the children re-drive from here if this adapter could be copied, else from this state's base
        nb, nat = (ad_s, len(path) - 1) if copyable else (base, base_at)
        stack.extend((t, pth, a, b, nb, nat) for t, pth, a, b, _, _ in reversed(children))
    res.seconds = time.perf_counter() - t0
    if best is not None:
        steps_ = [(actions[a].action, actions[a].params) for a in best_aids]
        trace = trace_from_states(inst, [states[x] for x in best], steps_)
        res.failure = drive(inst, trace, adapter())
    return res
