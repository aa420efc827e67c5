"""A trace as a sequence diagram between the guest, KVM, the perf core, the host LBR user and
the IPI.

Each step of a :class:`~lbrspec.trace.Trace` is drawn from the model's own data:

* the step's **source lane** is the lane of the first part of its action (``Action.parts``:
  the machine transitions it is made of), so ``guest_lbr_exit`` starts where ``kvm.lbr_exit``
  starts;
* its **target lanes** are the lanes whose variables the step changed (``Trace.changes``), each
  reached by one message naming the action's transitions in that lane; when the first part was
  *initiated* from another lane (the guest's instruction that traps into KVM), the first message
  goes to the first part's own lane, which then reaches the others (KVM's handler calls perf);
* the **changes** themselves are notes over the lanes they belong to (``ev[v0]: ABSENT ->
  ACTIVE``); a step that changes nothing is a message from the source lane to itself;
* the loop of a lasso is a ``loop`` block, and a lasso that stops (stutters) ends with a note.

Which lane a machine stands for is a presentation choice, given by a :class:`LaneMap`:
:data:`GUEST_LBR_LANES` for the guest-LBR model.  It maps machines to lanes, names the
transitions *initiated* from another lane (KVM's exit handler is entered from the guest) or
*running in* another context (the host's install runs in the IPI), and the variable whose
changes belong to another lane (``in_guest``: the guest starts or stops executing).  A model without a lane map gets one lane
per machine.

A lane map may also say where a trace shows a race, again as data about the model:

* a :class:`Window` names a control variable and its values *inside* the window between a check
  and the action that relies on it (``pc[v] = ACCESS``: KVM checked ownership and has not yet
  accessed the LBR), and a *shield* term that is true where nothing can interrupt the window
  (``irqs_off(cpu[v])``).  Every stretch of the trace where the variable is inside is drawn as
  a highlighted region: a *race* window (red) where the shield is false, a *guarded* one
  (green) where it holds;
* an :class:`Interrupt` names an action that runs in an interrupt on the pCPU given by one of
  its parameters (``host_ipi``, on ``p``), and the lane whose thread it preempts when that
  thread runs there (``runs_on(v, p)``: KVM's vCPU thread).  Such a step is drawn as an arrow
  into the preempted lane, labelled "interrupts KVM", and the handler's effects go out from
  that lane's activation.

The last note of a counterexample names the violated invariant, prints its formula, and says
why it is false in the last state (:func:`lbrspec.explicit.explain.explain`): the quantifier
bindings, the premises that hold, and the false conjunct.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import InputError
from ..explicit.instance import Instance
from ..lang.pretty import show
from ..lang.spec import Model
from ..trace import Trace
from ..trace.text import fmt_value
from .figure import (Activate, Deactivate, Item, LoopEnd, LoopStart, Message, Note, RegionEnd, RegionStart,
                     SequenceDiagram)


@dataclass(frozen=True)
class Window:
    """The window between a check and the action that relies on it: the states where
    ``var[x]`` holds one of ``inside``, for an element ``x`` of the variable's index sort.

    ``shield`` is a term (the syntax of :mod:`lbrspec.diagrams.projection`, ``{x}`` standing
    for the element) that is true where nothing can interrupt the window; ``race`` and
    ``guarded`` label the region where it is false and true (``{x}`` the element, ``{step}``
    the step that opened the window, ``{until}`` what closes it, ``closes``, with its step, or
    "still to come" when the trace ends inside the window)."""

    var: str
    inside: tuple[str, ...]
    race: str
    guarded: str
    shield: str = ""
    closes: str = "the action that relies on the check"


@dataclass(frozen=True)
class Interrupt:
    """Action ``action`` runs in an interrupt on the pCPU given by its parameter ``param``; it
    preempts lane ``lane`` (called ``who``) when ``runs`` (a term with ``{x}`` and ``{p}``)
    holds before the step for some element ``x`` of sort ``sort``."""

    action: str
    param: str
    lane: str
    who: str
    sort: str
    runs: str


@dataclass(frozen=True)
class LaneMap:
    lanes: tuple[tuple[str, str], ...]  # (id, display name), left to right
    machine_lane: dict[str, str]
    initiator: dict[str, str] = field(default_factory=dict)  # qualname -> lane that starts it (then its own lane goes on)
    context: dict[str, str] = field(default_factory=dict)  # qualname -> lane it runs in throughout
    variable_lane: dict[str, str] = field(default_factory=dict)  # variable -> lane its changes show in
    windows: tuple[Window, ...] = ()
    interrupts: tuple[Interrupt, ...] = ()


GUEST_LBR_LANES = LaneMap(
    lanes=(("G", "guest"), ("K", "KVM"), ("P", "perf core"), ("H", "host LBR user"), ("I", "IPI")),
    machine_lane={
        "guest": "G", "vm": "K", "kvm": "K", "msr": "K", "vmcs": "K",
        "sched": "P", "vcpu_event": "P", "lbr_hw": "P", "lbr_ctxsw": "P",
        "host": "H",
    },
    initiator={
        # a VM-exit is the guest's own instruction trapping into KVM (patches 12, 14)
        "kvm.lbr_exit": "G", "kvm.debugctl_exit": "G",
    },
    context={
        # a passed-through access never leaves the guest (patch 12)
        "kvm.direct_access": "G",
        # perf_install_in_context runs the install in the IPI handler on the target pCPU
        "host.ipi_install": "I",
    },
    variable_lane={"in_guest": "G"},
    windows=(
        # patch 12: the ownership check and the access it guards; interrupts must stay off between them
        Window("pc", ("ACCESS",),
               race="race window: KVM checked {x}'s ownership of the LBR at step {step}; interrupts stay on until {until}",
               guarded="KVM checked {x}'s ownership of the LBR at step {step}; interrupts off until {until}",
               shield="irqs_off(cpu[{x}])", closes="its access"),
    ),
    interrupts=(
        # perf_install_in_context's IPI runs on the target pCPU, on top of whatever thread runs there
        Interrupt("host_ipi", "p", "K", "KVM", "vCPU", "runs_on({x}, {p})"),
    ),
)


def default_lanes(model: Model) -> LaneMap:
    """:data:`GUEST_LBR_LANES` if it covers every machine of ``model``, else one lane per machine."""
    if all(m.name in GUEST_LBR_LANES.machine_lane for m in model.machines):
        return GUEST_LBR_LANES
    lanes = tuple((f"M{i}", m.name) for i, m in enumerate(model.machines))
    return LaneMap(lanes, {m.name: f"M{i}" for i, m in enumerate(model.machines)})


def _var_of(slot: str) -> str:
    return slot.split("[", 1)[0]


def sequence(trace: Trace, model: Model, lanes: LaneMap | None = None, title: str | None = None) -> SequenceDiagram:
    """The sequence diagram of ``trace`` (a trace of ``model``); see the module docstring."""
    lanes = lanes or default_lanes(model)
    order = [lane for lane, _ in lanes.lanes]
    actions = {a.name: a for a in model.actions}
    owner = {v.name: v.machine for v in model.vars}
    sizes = ", ".join(f"{n} {s}" for s, n in trace.sizes.items())
    d = SequenceDiagram(
        title or f"{trace.model} {trace.variant} ({sizes}): {len(trace)} steps"
        + (f", violates {trace.violation}" if trace.violation else ""),
        list(lanes.lanes),
    )
    evaluator = _Evaluator(trace, model)
    interrupts = {x.action: x for x in lanes.interrupts}
    trigger = trace.meta.get("trigger_state")
    spans: list[tuple[int, int]] = []  # per step: its first item and one past its last
    for i, step in enumerate(trace.steps):
        if trigger == i and trace.violation:
            d.items.append(Note((order[0], order[-1]), f"the trigger of {trace.violation} holds here, "
                                                       "and its goal never again"))
        if trace.loop is not None and i == trace.loop and trace.loop < len(trace.steps):
            d.items.append(LoopStart(f"steps {trace.loop + 1} to {len(trace.steps)} repeat forever"))
        first = len(d.items)
        act = actions.get(step.action)
        if step.action and act is None:
            raise InputError(f"step {i + 1}: model {model.name} has no action {step.action!r}")
        part_lane: dict[str, list[str]] = {}
        src = relay = None
        if act is not None:
            for part in act.parts:
                t = part.transition
                home = lanes.context.get(t.qualname) or lanes.machine_lane.get(t.machine.name, order[0])
                if src is None:
                    src = lanes.initiator.get(t.qualname) or home
                    relay = home
                part_lane.setdefault(lanes.machine_lane.get(t.machine.name, order[0]), []).append(t.qualname)
        changes = trace.changes(i)
        by_lane: dict[str, list[str]] = {}
        for slot, (a, b) in changes.items():
            var = _var_of(slot)
            lane = lanes.variable_lane.get(var) or lanes.machine_lane.get(owner.get(var, ""), order[0])
            by_lane.setdefault(lane, []).append(f"{slot}: {fmt_value(a)} → {fmt_value(b)}")
        if src is None:  # a step without an action name: start where the first change is
            src = next((lane for lane in order if lane in by_lane), order[0])
        label = f"{i + 1}. {step.label()}"
        targets = [lane for lane in order if lane in by_lane and lane != src]
        if relay is not None and relay != src and targets and relay not in targets:
            targets.insert(0, relay)  # the initiator reaches the first part's lane first
        elif relay in targets:
            targets.remove(relay)
            targets.insert(0, relay)

        def parts_in(lane: str) -> str:
            return ", ".join(q.split(".", 1)[1] for q in part_lane.get(lane, []))

        hit = interrupts.get(step.action)
        victim = evaluator.preempted(hit, i, step.params) if hit is not None and hit.lane in order else None
        if victim is not None:
            # the interrupt arrives at the lane whose thread it preempts; the handler's work goes out from there
            own = parts_in(hit.lane)
            d.items.append(Message(src, hit.lane, f"{label}: interrupts {hit.who} ({victim})" + (f": {own}" if own else ""),
                                   style="interrupt"))
            d.items.append(Activate(hit.lane))
            for lane in [x for x in order if x in by_lane or x in part_lane]:
                if lane in (hit.lane, src) and lane not in by_lane:
                    continue
                parts = parts_in(lane)
                if lane != hit.lane and (parts or lane in by_lane):
                    d.items.append(Message(hit.lane, lane, parts or "(same step)"))
        else:
            if not targets:
                d.items.append(Message(src, src, label + ("" if by_lane else " (no change)")))
            for k, lane in enumerate(targets):
                parts = parts_in(lane)
                if k == 0:
                    d.items.append(Message(src, lane, f"{label}: {parts}" if parts else label))
                else:
                    frm = relay if (relay is not None and relay != src and targets[0] == relay) else src
                    d.items.append(Message(frm, lane, parts or "(same step)"))
        for lane in order:
            if lane in by_lane:
                d.items.append(Note((lane,), "\n".join(by_lane[lane])))
        if victim is not None:
            d.items.append(Deactivate(hit.lane))
        spans.append((first, len(d.items)))
    if trace.loop is not None:
        if trace.loop < len(trace.steps):
            d.items.append(LoopEnd())
        else:
            d.items.append(Note((order[0], order[-1]), f"from state {trace.loop} on nothing happens any more"))
    _mark_windows(d, trace, lanes, evaluator, spans, (order[0], order[-1]))
    if trace.violation:
        where = "along the loop" if trace.loop is not None else "in the last state"
        d.items.append(Note((order[0], order[-1]), f"violated {where}: {trace.violation}"
                            + evaluator.why_violated(trace.violation, last=trace.loop is None)))
    return d


class _Evaluator:
    """Model terms evaluated in the states of a trace (encoded once, lazily)."""

    def __init__(self, trace: Trace, model: Model) -> None:
        self.trace = trace
        self.model = model
        self._inst: Instance | None = None
        self._states: dict[int, tuple[int, ...]] = {}

    @property
    def inst(self) -> Instance:
        if self._inst is None:
            self._inst = Instance(self.model, self.trace.sizes)
        return self._inst

    def state(self, i: int):
        if i not in self._states:
            self._states[i] = self.inst.encode(self.trace.states[i])
        return self._states[i]

    def holds(self, term: str, i: int) -> bool:
        from ..explicit.evaluate import evaluate
        from .projection import parse_term

        t = parse_term(self.inst, term)
        return bool(evaluate(t.expr, self.inst, self.state(i), t.env))

    def elements(self, sort: str) -> list[str]:
        for s in self.model.sorts:
            if s.name == sort:
                return [s.element(k) for k in range(self.inst.sizes[s])]
        return []

    def preempted(self, hit: Interrupt, i: int, params: dict) -> str | None:
        """Which thread of ``hit.sort`` the interrupt of step ``i`` preempts, as "v0 runs on
        p0"; ``None`` if none runs on its pCPU."""
        p = params.get(hit.param)
        if p is None:
            return None
        for x in self.elements(hit.sort):
            if self.holds(hit.runs.format(x=x, p=p), i):
                return f"{x} runs on {p}"
        return None

    def why_violated(self, name: str, last: bool) -> str:
        """The violated invariant's formula and, in the last state, why it is false."""
        inv = next((x for x in self.model.invariants if x.name == name), None)
        if inv is None:
            return ""
        text = f"\n{show(inv.body)}"
        if not last:
            return text
        from ..explicit.explain import explain

        try:
            ex = explain(inv.body, self.inst, self.state(len(self.trace.states) - 1))
        except InputError:  # pragma: no cover - a replayed trace always encodes
            return text
        if ex.value:
            return text
        if ex.bindings:
            text += "\nfalse for " + ", ".join(f"{k} = {v}" for k, v in ex.bindings)
        if ex.premises:
            text += "\nholds: " + " and ".join(ex.premises)
        conclusion = next((b.text for a, b in zip(ex.steps, ex.steps[1:]) if b.why.startswith("the premise")), None)
        if conclusion is not None and conclusion != ex.conjunct:
            text += f"\nfalse: {conclusion}"
        return text + f"\nfalse conjunct: {ex.conjunct}"


def _window_spans(trace: Trace, w: Window) -> list[tuple[str, int, int | None]]:
    """(element, first step, last step or ``None`` if the trace ends inside) of each stretch
    where ``w.var[element]`` is inside the window; a step is in it when it starts or ends inside."""
    out = []
    for slot in trace.states[0]:
        if _var_of(slot) != w.var or "[" not in slot:
            continue
        x = slot[len(w.var) + 1: -1]
        inside = [fmt_value(st.get(slot)) in w.inside for st in trace.states]
        k = 0
        n = len(trace.steps)
        while k <= n:
            if inside[k]:
                start = k
                while k <= n and inside[k]:
                    k += 1
                if start == 0 and k > n:
                    break  # inside all along: no check in the trace
                first = max(start - 1, 0)  # the step that entered the window
                out.append((x, first, k - 1 if k <= n else None))
            k += 1
    return sorted(out, key=lambda t: (t[1], t[0]))


def _mark_windows(d: SequenceDiagram, trace: Trace, lanes: LaneMap, ev: _Evaluator,
                  spans: list[tuple[int, int]], across: tuple[str, str]) -> None:
    """Wrap each window's steps in a region (see :class:`Window`), where it nests with the
    loop block and the regions before it; a window that would cross them gets a note instead."""
    if not spans:
        return
    def nests(lo: int, hi: int, i: int, j: int) -> bool:  # half-open [lo, hi) and [i, j)
        return hi <= i or j <= lo or (i <= lo and hi <= j) or (lo <= i and j <= hi)

    starts = [i for i, x in enumerate(d.items) if isinstance(x, LoopStart)]
    ends = [j for j, x in enumerate(d.items) if isinstance(x, LoopEnd)]
    blocks: list[tuple[int, int]] = [(i, j + 1) for i, j in zip(starts, ends)]
    before: dict[int, list[Item]] = {}  # original index -> items to insert before it
    for w in lanes.windows:
        for x, a, b in _window_spans(trace, w):
            guarded = bool(w.shield) and ev.holds(w.shield.format(x=x), a + 1)
            until = (f"{w.closes} (step {b + 1}, {trace.steps[b].action})" if b is not None
                     else f"{w.closes}, still to come when the trace ends")
            text = (w.guarded if guarded else w.race).format(x=x, step=a + 1, until=until)
            lo = spans[a][0]
            hi = spans[b][1] if b is not None else len(d.items)
            if not all(nests(lo, hi, i, j) for i, j in blocks):
                before.setdefault(lo, []).append(Note(across, text))
                continue
            blocks.append((lo, hi))
            before.setdefault(hi, []).insert(0, RegionEnd())  # inner regions end first
            before.setdefault(lo, []).append(RegionStart(text, "guarded" if guarded else "race", across))
    if not before:
        return
    items: list[Item] = []
    for k in range(len(d.items) + 1):
        items.extend(before.get(k, []))
        if k < len(d.items):
            items.append(d.items[k])
    d.items = items
