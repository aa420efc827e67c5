"""A trace as a sequence diagram between the guest, KVM, the perf core, the host LBR user and
the IPI.

Each step of a :class:`~lbrspec.trace.Trace` is drawn from the model's own data:

* the step's **source lane** is the lane of the first part of its action (``Action.parts``:
  the machine transitions it is made of), so ``guest_lbr_exit`` starts where ``kvm.lbr_exit``
  starts;
* its **target lanes** are the lanes whose variables the step changed (``Trace.changes``), each
  reached by one message naming the action's transitions in that lane;
* the **changes** themselves are notes over the lanes they belong to (``ev[v0]: ABSENT ->
  ACTIVE``); a step that changes nothing is a message from the source lane to itself;
* the loop of a lasso is a ``loop`` block, and a lasso that stops (stutters) ends with a note.

Which lane a machine stands for is a presentation choice, given by a :class:`LaneMap`:
:data:`GUEST_LBR_LANES` for the guest-LBR model.  It maps machines to lanes, and overrides the
lane of a few transitions that run in another context than their machine (KVM's exit handler
is *entered from the guest*; the host's install runs in the *IPI*) and of a variable that says
where the vCPU executes (``in_guest``: guest mode).  A model without a lane map gets one lane
per machine.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import InputError
from ..lang.spec import Model
from ..trace import Trace
from ..trace.text import fmt_value
from .figure import LoopEnd, LoopStart, Message, Note, SequenceDiagram


@dataclass(frozen=True)
class LaneMap:
    lanes: tuple[tuple[str, str], ...]  # (id, display name), left to right
    machine_lane: dict[str, str]
    transition_lane: dict[str, str] = field(default_factory=dict)  # qualname -> lane it starts in
    variable_lane: dict[str, str] = field(default_factory=dict)  # variable -> lane its changes show in


GUEST_LBR_LANES = LaneMap(
    lanes=(("G", "guest"), ("K", "KVM"), ("P", "perf core"), ("H", "host LBR user"), ("I", "IPI")),
    machine_lane={
        "guest": "G", "vm": "K", "kvm": "K", "msr": "K",
        "sched": "P", "vcpu_event": "P", "lbr_hw": "P", "lbr_ctxsw": "P",
        "host": "H",
    },
    transition_lane={
        # a VM-exit or a direct LBR access is the guest's own instruction (patch 12)
        "kvm.lbr_exit": "G", "kvm.debugctl_exit": "G", "kvm.direct_access": "G",
        # perf_install_in_context runs the install in the IPI handler on the target pCPU
        "host.ipi_install": "I",
    },
    variable_lane={"in_guest": "G"},
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
    trigger = trace.meta.get("trigger_state")
    for i, step in enumerate(trace.steps):
        if trigger == i and trace.violation:
            d.items.append(Note((order[0], order[-1]), f"the trigger of {trace.violation} holds here, "
                                                       "and its goal never again"))
        if trace.loop is not None and i == trace.loop and trace.loop < len(trace.steps):
            d.items.append(LoopStart(f"steps {trace.loop + 1} to {len(trace.steps)} repeat forever"))
        act = actions.get(step.action)
        if step.action and act is None:
            raise InputError(f"step {i + 1}: model {model.name} has no action {step.action!r}")
        part_lane: dict[str, list[str]] = {}
        src = None
        if act is not None:
            for part in act.parts:
                t = part.transition
                lane = lanes.transition_lane.get(t.qualname) or lanes.machine_lane.get(t.machine.name, order[0])
                if src is None:
                    src = lane
                home = lanes.machine_lane.get(t.machine.name, order[0])
                part_lane.setdefault(home, []).append(t.qualname)
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
        if not targets:
            d.items.append(Message(src, src, label + ("" if by_lane else " (no change)")))
        for k, lane in enumerate(targets):
            parts = ", ".join(q.split(".", 1)[1] for q in part_lane.get(lane, []))
            if k == 0:
                text = f"{label}: {parts}" if parts else label
            else:
                text = parts or "(same step)"
            d.items.append(Message(src, lane, text))
        for lane in order:
            if lane in by_lane:
                d.items.append(Note((lane,), "\n".join(by_lane[lane])))
    if trace.loop is not None:
        if trace.loop < len(trace.steps):
            d.items.append(LoopEnd())
        else:
            d.items.append(Note((order[0], order[-1]), f"from state {trace.loop} on nothing happens any more"))
    if trace.violation:
        where = "along the loop" if trace.loop is not None else "in the last state"
        d.items.append(Note((order[0], order[-1]), f"violated {where}: {trace.violation}"))
    return d
