"""The model's findings reproduced on the rendering of KVM's code: each counterexample, replayed.

For every finding of ``lbrspec_models.guest_lbr.FINDINGS`` the model gives, for each property the
finding breaks, its own shortest counterexample: the variant that undoes just that fix, explored
with every violated property reported (``explore_vector(..., stop_at_violation=False,
prune_violations=True).violation_of(prop)``), or for a liveness property the lasso of the
liveness check.  :func:`reproduce` performs that trace step by step on a rendering of
:mod:`lbrspec.pbt.examples.kvm_lbr` through :class:`~lbrspec.pbt.examples.kvm_lbr.KvmAdapter`
(the environment answering from the model's states along the trace) and looks in the kernel's
log for the bad outcome the model predicts (:data:`OUTCOMES`): the ``WARN_ON``, the NULL pointer
dereference, the #GP, the pass-through without ownership, the release with DEBUGCTL.LBR set...

Two renderings are driven:

* the code with the finding's fix undone and every other fix in (the switches of the finding's
  variant): it must follow the trace *and conform* (same observations, same broken step
  properties at every step), and show the outcome;
* the code as posted, every fix undone (:class:`~lbrspec.pbt.examples.kvm_lbr.PostedKvm`),
  along the same trace without comparing: another finding may strike first (the posted code
  releases the event earlier than the variant does, say), and the drive stops where the posted
  code cannot take the model's next step.  Whether it still reaches the outcome is reported.

A trace whose outcome KVM's code only shows a few steps later (perf's reset leaving a foreign
``LBR_SELECT`` is seen when the handler reads it) is extended by the model's own next steps of
the handler (:data:`EPILOGUES`); a lasso is unrolled twice, and the rendering must come back to
the same state after each lap.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field
from typing import Callable, Mapping

from lbrspec_models import guest_lbr

from ...errors import InputError
from ...explicit.evaluate import successors
from ...explicit.instance import Instance
from ...explicit.replay import replay
from ...trace import Trace, trace_from_states
from ..conformance import DriveResult, drive, unroll
from .kvm_lbr import (
    DEBUGCTLMSR_LBR,
    LBR_NR,
    MSR_IA32_DEBUGCTLMSR,
    MSR_LBR_INFO_0,
    MSR_LBR_NHM_FROM,
    MSR_LBR_NHM_TO,
    MSR_LBR_SELECT,
    MSR_LBR_TOS,
    POSTED,
    STEP_PROPERTIES,
    Kvm,
    KvmAdapter,
    LogEntry,
    fixes_of,
    foreign,
)

#: Sizes for liveness lassos: the full state graph is needed (no symmetry reduction), so the
#: model's own graph sizes (one vCPU, two pCPUs), as its docs use.
LIVENESS_SIZES = dict(guest_lbr.DOC_GRAPH_SIZES)

#: Steps of the model appended to a counterexample before the outcome is looked for.
EPILOGUES: dict[str, tuple[str, ...]] = {
    # the state breaks lbr_select_restored; KVM hands the foreign LBR_SELECT to the guest when
    # the handler in flight reads it
    "lbr_select_restored": ("kvm_lbr_check", "kvm_lbr_access"),
}


def _is_lbr_or_debugctl(index: str) -> bool:
    i = int(index, 16)
    return (MSR_LBR_NHM_FROM <= i < MSR_LBR_NHM_FROM + LBR_NR or MSR_LBR_NHM_TO <= i < MSR_LBR_NHM_TO + LBR_NR
            or MSR_LBR_INFO_0 <= i < MSR_LBR_INFO_0 + LBR_NR or i in (MSR_LBR_TOS, MSR_LBR_SELECT, MSR_IA32_DEBUGCTLMSR))


def _first(log: list[LogEntry], hit: Callable[[LogEntry], bool]) -> LogEntry | None:
    return next((e for e in log if hit(e)), None)


def _entry(e: LogEntry | None, text: Callable[[LogEntry], str]) -> tuple[int, str] | None:
    return (e.step, text(e)) if e is not None else None


def _untouched_slice_release(kvm: Kvm, run: DriveResult) -> tuple[int, str] | None:
    """A release decided after a slice in which the guest made an intercepted LBR access."""
    for rel in kvm.log:
        if rel.kind != "RELEASE" or rel.detail["why"] not in ("sched-in", "vcpu_enter_guest"):
            continue
        ins = [e.step for e in kvm.log if e.kind == "SCHED_IN" and e.vcpu == rel.vcpu and e.step <= rel.step]
        if not ins:
            continue
        decided = ins[-1]  # the sched-in that found the last slice unused
        began = ins[-2] if len(ins) > 1 else 0
        touched = [e for e in kvm.log if e.kind == "EXIT" and e.vcpu == rel.vcpu and began < e.step < decided
                   and _is_lbr_or_debugctl(str(e.detail["msr"]))]
        if touched:
            return rel.step, (f"{rel.vcpu}'s event released ({rel.detail['why']}) after the slice of steps "
                              f"{began + 1}-{decided - 1}, in which the guest's LBR access at step {touched[0].step} "
                              f"VM-exited")
    return None


def _passthrough_without_event(kvm: Kvm, run: DriveResult) -> tuple[int, str] | None:
    for v in kvm.vcpus.values():
        pmu = v.pmu
        if pmu.lbr_event is None and (not v.lbr_msrs_intercepted or kvm.guest_debugctl(v) & DEBUGCTLMSR_LBR
                                      or v.handler_at in ("WARNED", "ACCESS", "DONE")):
            what = ("the LBR MSRs passed through" if not v.lbr_msrs_intercepted else
                    "DEBUGCTL.LBR set" if kvm.guest_debugctl(v) & DEBUGCTLMSR_LBR else f"a handler at {v.handler_at}")
            return run.done, f"after step {run.done}: {v.name} has no LBR event but {what}"
    return None


def _regained_never(kvm: Kvm, run: DriveResult) -> tuple[int, str] | None:
    """A lasso unrolled twice: each lap refuses the guest's access with no host LBR user, and the
    implementation's state after the second lap is what it was after the first."""
    laps = run.trace.meta.get("laps")
    if not laps or not run.completed:
        return None
    loop, lap = int(run.trace.meta["loop"]), int(run.trace.meta["lap"])  # type: ignore[call-overload]
    refused = [e for e in kvm.log if e.kind == "REFUSED" and e.detail.get("host_lbr_users") == 0 and e.step > loop]
    if len(refused) < 2 or run.observations[loop + lap] != run.observations[loop + 2 * lap] \
            or run.observations[loop] != run.observations[loop + lap]:
        return None
    e = refused[0]
    return e.step, (f"every lap (steps {loop + 1}-{loop + lap}, again {loop + lap + 1}-{loop + 2 * lap}) the guest's "
                    f"LBR access is refused with no host LBR user left (the event stays in error state: "
                    f"{e.detail.get('event_state')}), and the implementation comes back to the same state")


@dataclass(frozen=True)
class Outcome:
    """What the model predicts for a property, as the kernel's log (or state) shows it."""

    what: str
    seen: Callable[[Kvm, DriveResult], tuple[int, str] | None]  # (step, evidence) or None


def _logged(what: str, prop: str, text: Callable[[LogEntry], str]) -> Outcome:
    hit = STEP_PROPERTIES[prop]
    return Outcome(what, lambda kvm, run: _entry(_first(kvm.log, hit), text))


OUTCOMES: dict[str, Outcome] = {
    "host_sees_no_guest_branches": Outcome(
        "VM-entry loads the guest's DEBUGCTL.LBR while a host event holds the LBR",
        lambda kvm, run: _entry(_first(kvm.log, lambda e: e.kind == "VMENTRY" and bool(e.detail["debugctl_lbr"])
                                       and e.detail["lbr_holder"] == "host"),
                                lambda e: f"{e.vcpu} enters on {e.cpu} with DEBUGCTL.LBR loaded while the host's event "
                                          f"holds that LBR: its branches go into the host's records")),
    "host_no_oops": _logged("the handler dereferences a NULL lbr_event", "host_no_oops",
                            lambda e: f"oops in {e.vcpu}'s handler: {e.detail['what']}"),
    "host_no_warn": _logged("WARN_ON(!lbr_event) fires", "host_no_warn",
                            lambda e: f"WARNING in {e.detail['at']} ({e.vcpu})"),
    "no_free_with_debugctl_lbr": _logged(
        "the event is released while the guest's DEBUGCTL.LBR is set", "no_free_with_debugctl_lbr",
        lambda e: f"{e.vcpu}'s event released at {e.detail['why']} on {e.cpu} with its own DEBUGCTL.LBR set"),
    "passthrough_implies_ownership": Outcome(
        "the guest runs with the LBR MSRs passed through and an LBR its event does not own",
        lambda kvm, run: _entry(_first(kvm.log, lambda e: e.kind == "VMENTRY" and bool(e.detail["passthrough"])
                                       and not e.detail["owned"]),
                                lambda e: f"{e.vcpu} enters on {e.cpu} with pass-through; the LBR is held by "
                                          f"{e.detail['lbr_holder']}")),
    "guest_sees_only_its_own": _logged(
        "the guest reads LBR state of the host or another vCPU", "guest_sees_only_its_own",
        lambda e: f"{e.vcpu} reads ({e.detail['via']}) records of {e.detail['rec']}, LBR_SELECT of {e.detail['sel']}"),
    "free_only_after_untouched_slice": Outcome(
        "the event is released after a slice in which the guest touched the LBR", _untouched_slice_release),
    "host_no_sleep_in_atomic": _logged(
        "perf_event_release_kernel is called where the thread may not sleep", "host_no_sleep_in_atomic",
        lambda e: f"BUG: sleeping function called from invalid context ({e.detail['at']} in {e.vcpu}'s sched-in "
                  f"notifier, preempt_count {e.detail['preempt_count']})"),
    "free_policy": Outcome("a vCPU without an event keeps pass-through (or DEBUGCTL.LBR, or a handler past its WARN_ON)",
                           _passthrough_without_event),
    "no_gp_while_owning": _logged("#GP on a valid LBR MSR while the event owns the LBR", "no_gp_while_owning",
                                  lambda e: f"#GP for {e.vcpu}'s access to MSR {e.detail['msr']} while its event owns the LBR"),
    "debugctl_accepted_with_optin": Outcome(
        "#GP on DEBUGCTL for a guest that opted in",
        lambda kvm, run: _entry(_first(kvm.log, lambda e: e.kind == "GP" and e.detail["msr"] == hex(MSR_IA32_DEBUGCTLMSR)
                                       and bool(e.detail["lbr_in_guest"])),
                                lambda e: f"#GP for {e.vcpu}'s DEBUGCTL write (opted in; its event lost the LBR)")),
    "debugctl_no_new_gp_without_optin": _logged(
        "#GP on DEBUGCTL for a guest that did not opt in", "debugctl_no_new_gp_without_optin",
        lambda e: f"#GP for {e.vcpu}'s DEBUGCTL write (the VM did not opt in)"),
    "lbr_select_restored": Outcome(
        "the vCPU's event owns an LBR whose LBR_SELECT is another user's, and KVM hands it to the guest",
        lambda kvm, run: _entry(_first(kvm.log, lambda e: e.kind == "GUEST_READ" and e.detail["via"] == "kvm"
                                       and foreign(e.vcpu, e.detail["sel"])),
                                lambda e: f"{e.vcpu}'s handler reads LBR_SELECT of {e.detail['sel']} for the guest")),
    "lbr_regained_after_host_leaves": Outcome(
        "the guest's LBR accesses are refused forever after the host user has gone", _regained_never),
}


@dataclass
class Counterexample:
    finding: str
    prop: str
    instance: Instance
    trace: Trace  # as the model gives it (a lasso for a liveness property)
    seconds: float
    liveness: bool = False


def counterexamples(finding: guest_lbr.Finding, sizes: Mapping[str, int] | None = None) -> list[Counterexample]:
    """The shortest counterexample of each property ``finding`` names, from its own variant (none
    for a property the variant does not break: the check then counts the finding as missing).
    Explored once per finding and sizes."""
    return list(_counterexamples(finding.key, tuple(sorted(sizes.items())) if sizes else None))


@functools.lru_cache(maxsize=None)
def _counterexamples(key: str, sizes_key: tuple[tuple[str, int], ...] | None) -> tuple[Counterexample, ...]:
    finding = next(f for f in guest_lbr.FINDINGS if f.key == key)
    sizes = dict(sizes_key) if sizes_key else None
    t0 = time.perf_counter()
    model = guest_lbr.build(finding.variant)
    if finding.variant in guest_lbr.LIVENESS_VARIANTS:
        from ...analysis.liveness import check_liveness
        from ...analysis.stategraph import StateGraph
        from ...explicit.explore import explore

        inst = Instance(model, LIVENESS_SIZES)
        graph = StateGraph(explore(inst, keep_graph=True))
        out = []
        for prop in guest_lbr.liveness(model):
            if prop.name in finding.props:
                (res,) = check_liveness(graph, prop, only={"v": "v0"})
                if res.lasso is not None:
                    out.append(Counterexample(finding.key, prop.name, inst, res.lasso, time.perf_counter() - t0, True))
        return tuple(out)
    from ...explicit.vexplore import explore_vector

    inst = Instance(model, sizes)
    r = explore_vector(inst, symmetry=True, stop_at_violation=False, prune_violations=True)
    secs = time.perf_counter() - t0
    return tuple(Counterexample(finding.key, p, inst, r.violation_of(p).trace, secs)  # type: ignore[union-attr]
                 for p in finding.props if r.violation_of(p) is not None)


def prepared(cex: Counterexample) -> Trace:
    """The trace to drive: a lasso unrolled twice, a trace extended by its epilogue."""
    trace = cex.trace
    if trace.loop is not None:
        lap = len(trace) - trace.loop
        out = unroll(trace, 2)
        out.meta.update({"laps": 2, "loop": trace.loop, "lap": lap})
        return out
    epilogue = EPILOGUES.get(cex.prop)
    if not epilogue:
        return trace
    inst = cex.instance
    r = replay(inst, trace)
    if not r.ok:
        raise InputError(f"the counterexample of {cex.prop} does not replay: {r.reason}")
    states, steps = list(r.states), [(inst.model.action(s.action), inst.encode_params(inst.model.action(s.action), s.params))
                                     for s in trace.steps]
    for name in epilogue:
        nxt = next(((a, b, t) for a, b, t in successors(inst, states[-1]) if a.name == name
                    and not inst.decode_params(a, b).get("lbr", False)), None)
        if nxt is None:
            raise InputError(f"the model cannot take {name} after the counterexample of {cex.prop}")
        states.append(nxt[2])
        steps.append((nxt[0], nxt[1]))
    out = trace_from_states(inst, states, steps, violation=trace.violation)
    out.meta["epilogue"] = len(epilogue)
    return out


@dataclass
class Replay:
    """One counterexample driven on one rendering."""

    rendering: str  # "variant" (the finding's own switches) or "posted"
    run: DriveResult
    kvm: Kvm
    outcome: tuple[int, str] | None  # (step, evidence) if the bad outcome was seen

    @property
    def reproduced(self) -> bool:
        return self.outcome is not None


@dataclass
class Reproduction:
    counterexample: Counterexample
    trace: Trace  # what was driven
    replays: list[Replay] = field(default_factory=list)

    def by(self, rendering: str) -> Replay:
        return next(r for r in self.replays if r.rendering == rendering)


def replay_on(cex: Counterexample, trace: Trace, fixes: Mapping[str, bool], compare: bool, rendering: str) -> Replay:
    adapter = KvmAdapter(Kvm, fixes)
    run = drive(cex.instance, trace, adapter, compare=compare)
    kvm = adapter.kvm
    assert kvm is not None
    return Replay(rendering, run, kvm, OUTCOMES[cex.prop].seen(kvm, run))


def reproduce(cex: Counterexample) -> Reproduction:
    """Drive ``cex`` on the rendering with the finding's fix undone (comparing) and on the code as
    posted (not comparing)."""
    trace = prepared(cex)
    out = Reproduction(cex, trace)
    out.replays.append(replay_on(cex, trace, fixes_of(cex.instance.model.variant.switches), True, "variant"))
    out.replays.append(replay_on(cex, trace, POSTED, False, "posted"))
    return out


def reproduce_all(sizes: Mapping[str, int] | None = None, only: list[str] | None = None,
                  progress: Callable[[str], None] | None = None) -> list[Reproduction]:
    """Every finding's counterexamples (at ``sizes``; liveness at :data:`LIVENESS_SIZES`), reproduced."""
    out = []
    for f in guest_lbr.FINDINGS:
        if only and f.key not in only:
            continue
        if progress is not None:
            progress(f.key)
        for cex in counterexamples(f, sizes):
            out.append(reproduce(cex))
    return out
