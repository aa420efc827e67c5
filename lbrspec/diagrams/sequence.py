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
    initiator: dict[str, str] = field(default_factory=dict)  # qualname -> lane that starts it (then its own lane goes on)
    context: dict[str, str] = field(default_factory=dict)  # qualname -> lane it runs in throughout
    variable_lane: dict[str, str] = field(default_factory=dict)  # variable -> lane its changes show in


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
    if trace.loop is not None:
        if trace.loop < len(trace.steps):
            d.items.append(LoopEnd())
        else:
            d.items.append(Note((order[0], order[-1]), f"from state {trace.loop} on nothing happens any more"))
    if trace.violation:
        where = "along the loop" if trace.loop is not None else "in the last state"
        d.items.append(Note((order[0], order[-1]), f"violated {where}: {trace.violation}"))
    return d
