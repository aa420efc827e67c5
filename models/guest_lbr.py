"""The v8 "Guest LBR Enabling" design (Wei Wang, Aug 2019) as composed state machines.

KVM lets a guest use the pCPU's Last Branch Record facility.  The guest's first LBR MSR access
in each time slice VM-exits; KVM's handler creates a task-pinned, counter-less *vCPU LBR perf
event* for the vCPU thread, performs the access with interrupts disabled only if that event
owns the LBR on this pCPU, and passes the LBR MSRs through.  Host perf schedules the event by
its priority rules, context-switches the LBR stack (and, for the vCPU event, ``LBR_SELECT``)
with the thread, and may reclaim the LBR for a host CPU-pinned event by IPI at any moment;
before every VM-entry KVM re-checks ownership and cancels pass-through if it was lost.  An
event the guest left untouched for a whole slice is freed at the next sched-in.

Machines (each owns its variables; see ``docs/architecture.md`` for the composition):

========== ================================================================================
vm         the VM's ``KVM_CAP_X86_GUEST_LBR`` opt-in (patch 3)
sched      the host scheduler: which pCPU each vCPU thread is on, whether it runs
kvm        the vCPU as KVM runs it: guest/host mode, the LBR MSR exit handler's progress
           with its interrupts-off window (patch 12), the vPMU's ``DEBUGCTL.LBR`` (patch 14)
           and the used-this-slice flag
msr        the MSR intercept bitmap for the LBR MSRs: intercepted or passed through
vcpu_event the vCPU LBR perf event: absent, active (owns the LBR), inactive (preempted or
           descheduled), freed; and its counter index (patches 7, 8, 9)
host       host LBR users: a CPU-pinned event installed by IPI (``perf record -b -C``) or a
           task event on a vCPU thread (``perf record -b -t``) (patches 7, 10)
lbr_hw     each pCPU's physical LBR: whose records and whose ``LBR_SELECT`` it holds
lbr_ctxsw  perf's LBR context switch: the stack and ``LBR_SELECT`` saved with each vCPU
           thread (patch 11)
guest      a ghost: whether a guest has ever observed LBR state that is not its own
========== ================================================================================

Modelling assumptions (each is a choice a reviewer may question; the docs list them):

A1. Guest branches are recorded into a pCPU's LBR only while that vCPU's event owns it, from the
    VM-entry with ``DEBUGCTL.LBR`` set on.
A2. When an LBR user without saved state (a newly created vCPU event) takes the LBR, perf
    resets the stack and ``LBR_SELECT``; a host user that takes the LBR starts writing host
    records and its own ``LBR_SELECT`` at once.
A3. A host task event is scheduled at its thread's next sched-in; at most one host task event
    per vCPU thread (the sharing case needs one).
A4. A vCPU thread can be preempted wherever interrupts are enabled, including inside KVM's exit
    handler; it is never preempted inside an interrupts-off window.
A5. A guest LBR MSR access reads the records and ``LBR_SELECT``.  The guest's ``LBR_SELECT``,
    programmed or still at the value perf reset it to when the event was created, is tagged as the
    guest's own (the reset value is what a fresh guest expects, so it is no leak); ``none`` is the
    power-on value of a pCPU whose LBR nobody has used yet.
A6. Sched-in frees an untouched event only when KVM's LBR handler is not in flight (the thread
    was not preempted between creating the event and finishing the access); otherwise the slice
    counts as used.  Without this the handler would go on to check a freed event: the mutant
    ``free-under-handler`` shows the trace.
A7. Perf saves and restores the thread's LBR *stack* on every switch (that predates the series);
    the model does not track the saved records, only who owns the LBR while it records.  A
    regained LBR is modelled as reset: the isolation invariant already requires that an owned LBR
    holds only its owner's records, so what perf saved, and restores, is the guest's own.
"""

from __future__ import annotations

from lbrspec.errors import InputError
from lbrspec.lang import (
    ANY,
    BOOL,
    FALSE,
    TRUE,
    EnumDomain,
    Model,
    Sort,
    Spec,
    UnionDomain,
    Variant,
    conj,
    exists,
    forall,
    implies,
    ite,
)
from lbrspec.lang.liveness import STRONG, WEAK, Liveness, leads_to

#: The v8 series, by patch number (cover letter, v7->v8 changelog).
PATCHES = {
    3: "KVM/x86: KVM_CAP_X86_GUEST_LBR",
    6: "KVM/x86: expose MSR_IA32_PERF_CAPABILITIES to the guest",
    7: "perf/x86: support to create a perf event without counter allocation",
    8: "perf/core: set the event->owner before event_init",
    9: "KVM/x86/vPMU: APIs to create/free lbr perf event for a vcpu thread",
    10: "perf/x86/lbr: don't share lbr for the vcpu usage case",
    11: "perf/x86: save/restore LBR_SELECT on vcpu switching",
    12: "KVM/x86/lbr: lbr emulation",
    13: "KVM/x86/vPMU: check the lbr feature before entering guest",
    14: "KVM/x86: remove the common handling of the debugctl msr",
}


def patch(n: int) -> str:
    return f"patch {n}/14 '{PATCHES[n]}'"


# -- design switches ---------------------------------------------------------------------------
#: Every switch, and its value in the v8 design.
V8_SWITCHES: dict[str, bool] = {
    "irq_off_access": True,  # patch 12: check ownership and access with interrupts disabled
    "vmentry_check": True,  # patch 13: re-check ownership before VM-entry
    "perf_scheduled": True,  # patch 7: the no-counter event goes through the perf scheduler
    "bit62": True,  # patch 10: reserved bit 62 in the config, so the LBR is never shared
    "lbr_select_ctxsw": True,  # patch 11: LBR_SELECT saved/restored with the vCPU thread
    "owner_before_init": True,  # patch 8: event->owner set before event_init
    "host_preempts": True,  # perf priority: a CPU-pinned host event preempts the vCPU event
    "free_checks_debugctl": True,  # patch 12: never free while guest DEBUGCTL.LBR is set
    "sched_in_intercept": True,  # patch 12 / cover letter: intercept all LBR MSRs at sched-in
    "cap_check": True,  # patch 3: no LBR emulation without KVM_CAP_X86_GUEST_LBR
    "free_when_handler_idle": True,  # assumption A6: never free the event under an in-flight handler
    "free_unused": True,  # patch 12: an event left unused for a whole slice is freed at sched-in
}


def _variant(name: str, description: str, kind: str, expected: str | None, patch_no: int | None, **changes: bool) -> Variant:
    sw = dict(V8_SWITCHES)
    for k, v in changes.items():
        if k not in sw:
            raise KeyError(k)
        sw[k] = v
    return Variant(name, description, kind=kind, expected=expected, patch=patch(patch_no) if patch_no else "", switches=sw,
                   changed=tuple(changes))


#: The variants: the v8 design, the alternatives its changelog fixed (DOMAIN.md §3), and
#: mutants that check that each remaining property can fail at all.
VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in [
        _variant("v8", "The v8 design as posted.", "design", None, None),
        _variant(
            "v7-write-path",
            "KVM checks ownership, then accesses the LBR MSR with interrupts on (v7 patch 12).",
            "alternative", "no_kvm_access_after_reclaim", 12, irq_off_access=False,
        ),
        _variant(
            "no-vmentry-check",
            "No ownership re-check before VM-entry (patch 13 absent).",
            "alternative", "passthrough_implies_ownership", 13, vmentry_check=False,
        ),
        _variant(
            "v7-scheduler-bypass",
            "The no-counter vCPU event skips perf scheduling and its constraints (v7 patch 7).",
            "alternative", "single_owner", 7, perf_scheduled=False,
        ),
        _variant(
            "no-bit-62",
            "The vCPU event's config can equal a host event's, so perf lets them share the LBR (patch 10 absent).",
            "alternative", "isolation", 10, bit62=False,
        ),
        _variant(
            "no-lbr-select-restore",
            "LBR_SELECT is not saved/restored with the vCPU thread (patch 11 absent).",
            "alternative", "lbr_select_restored", 11, lbr_select_ctxsw=False,
        ),
        _variant(
            "owner-after-event-init",
            "event->owner is set after event_init, so perf does not recognise the vCPU event (patch 8 absent).",
            "alternative", "no_counter", 8, owner_before_init=False,
        ),
        _variant(
            "guest-first-come",
            "Mutant: the vCPU event keeps the LBR and a host CPU-pinned event fails (first come, first served).",
            "mutant", "host_priority", 12, host_preempts=False,
        ),
        _variant(
            "free-ignores-debugctl",
            "Mutant: the event is freed after an untouched slice even with guest DEBUGCTL.LBR set.",
            "mutant", "free_policy", 12, free_checks_debugctl=False,
        ),
        _variant(
            "no-sched-in-intercept",
            "Mutant: sched-in does not intercept the LBR MSRs again, so pass-through outlives its slice.",
            "mutant", "intercept_at_sched_in", 12, sched_in_intercept=False,
        ),
        _variant(
            "free-under-handler",
            "Mutant: sched-in frees an unused event even while KVM's handler, preempted between event creation "
            "and the ownership check, still holds it.",
            "mutant", "free_policy", 12, free_when_handler_idle=False,
        ),
        _variant(
            "no-cap-check",
            "Mutant: the LBR MSR handler emulates LBR without KVM_CAP_X86_GUEST_LBR.",
            "mutant", "capability_gating", 3, cap_check=False,
        ),
    ]
}

#: Variants that break a liveness property (DOMAIN.md §4) and no safety invariant, kept apart
#: from :data:`VARIANTS` (each of which breaks a named safety property); :func:`build` takes both.
LIVENESS_VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in [
        _variant(
            "never-free",
            "Mutant: the vCPU LBR event is never freed, however long the guest leaves the LBR unused.",
            "mutant", "unused_event_is_freed", 12, free_unused=False,
        ),
    ]
}

DEFAULT_VARIANT = "v8"

#: DOMAIN.md §3: each design alternative the v8 changelog fixed, and the property it breaks.
DOMAIN_TABLE: dict[str, str] = {
    "v7-write-path": "no_kvm_access_after_reclaim",
    "no-vmentry-check": "passthrough_implies_ownership",
    "v7-scheduler-bypass": "single_owner",
    "no-bit-62": "isolation",
    "no-lbr-select-restore": "lbr_select_restored",
    "owner-after-event-init": "no_counter",
}

# -- sorts and domains ---------------------------------------------------------------------------
V = Sort("vCPU", "v", doc="a vCPU and the host thread that runs it")
P = Sort("pCPU", "p", doc="a physical CPU, with its own LBR")
H = Sort("host_user", "h", doc="a host perf LBR user: a CPU-pinned event or a task event")

Tag = UnionDomain(
    "lbr_tag",
    consts=("none", "host"),
    ctors=(("vcpu", V),),
    doc="whose values a piece of LBR state holds: reset/never written, a host user's, a guest's",
)
Target = UnionDomain(
    "host_target",
    consts=("none",),
    ctors=(("cpu", P), ("task", V)),
    doc="what a host LBR user profiles: nothing (closed), one pCPU, or one vCPU thread",
)
Pc = EnumDomain(
    "kvm_pc",
    ["IDLE", "LBR_CHECK", "ACCESS"],
    doc="progress of KVM's LBR MSR exit handler (patch 12)",
)
Ev = EnumDomain("ev_state", ["ABSENT", "ACTIVE", "INACTIVE", "FREED"], doc="the vCPU LBR event's lifecycle")
Counter = EnumDomain("counter_idx", ["NA", "ASSIGNED"], doc="the event's counter: X86_PMC_IDX_NA or a real counter")
Hu = EnumDomain(
    "host_state",
    ["OFF", "IPI", "ACTIVE", "INACTIVE", "SHARED", "FAILED"],
    doc="a host LBR user's event: closed, install IPI pending, owns the LBR, waiting for it, sharing it with the "
        "vCPU event, or failed (a CPU-pinned event that lost to another CPU-pinned one: perf's error state)",
)

DEFAULT_SIZES = {"vCPU": 2, "pCPU": 2, "host_user": 1}


def build(variant: str = DEFAULT_VARIANT) -> Model:
    """Build the product model for ``variant`` (see :data:`VARIANTS`)."""
    if variant not in VARIANTS and variant not in LIVENESS_VARIANTS:
        raise InputError(f"unknown variant {variant!r}; known: {', '.join([*VARIANTS, *LIVENESS_VARIANTS])}")
    var = VARIANTS.get(variant) or LIVENESS_VARIANTS[variant]
    spec = Spec("guest_lbr", sorts=[V, P, H], doc=__doc__ or "", default_sizes=DEFAULT_SIZES, variant=var)
    sw = spec.switches

    # -- variables ---------------------------------------------------------------------------
    vm = spec.machine("vm", doc="The VM's opt-in to guest LBR.", patch=patch(3))
    cap = vm.var("cap", BOOL, init=[False, True], doc="userspace enabled KVM_CAP_X86_GUEST_LBR for this VM (patch 3)")

    sched = spec.machine("sched", doc="The host scheduler's view of the vCPU threads.")
    running = sched.var("running", BOOL, index=[V], init=False, doc="the vCPU thread is on a pCPU")
    cpu = sched.var("cpu", P, index=[V], init=ANY, doc="the pCPU the thread runs on, or last ran on")

    kvm = spec.machine(
        "kvm",
        doc="The vCPU as KVM runs it: guest mode, the LBR MSR exit handler, the vPMU's DEBUGCTL.LBR.",
        reads=["vm", "sched", "msr", "vcpu_event"],
        patch=patch(12),
    )
    in_guest = kvm.var("in_guest", BOOL, index=[V], init=False, doc="the vCPU executes in guest mode (VMX non-root)")
    pc = kvm.var("pc", Pc, index=[V], init="IDLE", doc="where KVM's LBR MSR exit handler is (patch 12)")
    dbg = kvm.var("dbg", BOOL, index=[V], init=False, doc="guest DEBUGCTL.LBR as kept by the vPMU (patch 14)")
    used = kvm.var("used", BOOL, index=[V], init=False, doc="the guest touched an LBR MSR in this time slice (patch 12)")

    msr = spec.machine("msr", doc="The MSR intercept bitmap for the LBR MSRs.", reads=["sched", "vcpu_event"], patch=patch(12))
    passthru = msr.var("passthru", BOOL, index=[V], init=False, doc="the LBR MSRs are passed through to the guest (patch 12)")

    vcpu_event = spec.machine(
        "vcpu_event",
        doc="The vCPU LBR perf event: task-pinned to the vCPU thread, exclude_host, no counter.",
        reads=["vm", "sched", "kvm", "host"],
        patch=patch(9),
    )
    ev = vcpu_event.var("ev", Ev, index=[V], init="ABSENT", doc="the event's state: owns the LBR when ACTIVE (patches 7, 9, 12)")
    ev_counter = vcpu_event.var(
        "ev_counter", Counter, index=[V], init="NA", doc="the event's counter index: X86_PMC_IDX_NA unless perf took it for an ordinary event (patches 7, 8)"
    )

    host = spec.machine(
        "host",
        doc="Host LBR users and the perf core's scheduling of them.",
        reads=["vm", "sched", "kvm", "vcpu_event", "lbr_hw"],
        patch=patch(7),
    )
    hu = host.var("hu", Hu, index=[H], init="OFF", doc="the host user's LBR event state")
    target = host.var("target", Target, index=[H], init="none", doc="what the host user profiles: a pCPU (CPU-pinned) or a vCPU thread (task event)")
    host_saw_guest = host.var(
        "host_saw_guest", BOOL, index=[H], init=False, ghost=True, doc="ghost: the host user has sampled guest records or a guest LBR_SELECT"
    )

    lbr_hw = spec.machine(
        "lbr_hw",
        doc="Each pCPU's physical LBR: whose records and whose LBR_SELECT it holds.",
        reads=["vm", "sched", "kvm", "vcpu_event", "host", "lbr_ctxsw"],
    )
    rec = lbr_hw.var("rec", Tag, index=[P], init="none", doc="whose branch records the LBR stack holds")
    sel = lbr_hw.var("sel", Tag, index=[P], init="none", doc="whose filter LBR_SELECT holds")

    ctxsw = spec.machine(
        "lbr_ctxsw",
        doc="Perf's LBR context switch: state saved with each vCPU thread (intel_pmu_lbr_sched_task).",
        reads=["sched", "kvm", "vcpu_event", "lbr_hw"],
        patch=patch(11),
    )
    saved_sel = ctxsw.var(
        "saved_sel", Tag, index=[V], init=lambda v: Tag("vcpu", v),
        doc="the LBR_SELECT saved with the thread (patch 11); initially the reset value, which is the guest's own (A5)",
    )

    guest = spec.machine("guest", doc="Ghost state: what each guest has observed.", reads=["lbr_hw"])
    guest_saw_foreign = guest.var(
        "guest_saw_foreign", BOOL, index=[V], init=False, ghost=True,
        doc="ghost: the guest has read LBR records or an LBR_SELECT written by the host or another vCPU",
    )

    # -- definitions ---------------------------------------------------------------------------
    runs_on = spec.define("runs_on", {"v": V, "p": P}, lambda v, p: running[v] & (cpu[v] == p),
                          doc="vCPU thread v is running on pCPU p")
    owns = spec.define("owns", {"v": V, "p": P}, lambda v, p: (ev[v] == Ev.ACTIVE) & (cpu[v] == p),
                       doc="v's LBR event is scheduled on p and holds the LBR (event->oncpu == p): what KVM checks (patches 12, 13)")
    absent = spec.define("absent", {"v": V}, lambda v: ev[v].in_(Ev.ABSENT, Ev.FREED), doc="v has no LBR event")
    irqoff_pcs = [Pc.ACCESS] if sw["irq_off_access"] else []
    irqs_off = spec.define(
        "irqs_off", {"p": P},
        lambda p: exists(V, lambda w: runs_on(w, p) & pc[w].in_(*irqoff_pcs)) if irqoff_pcs else FALSE,
        doc="p has interrupts disabled: a vCPU thread on p is inside KVM's interrupts-off window (patch 12)",
    )
    pinned_on = spec.define("pinned_on", {"h": H, "p": P}, lambda h, p: (hu[h] == Hu.ACTIVE) & (target[h] == Target("cpu", p)),
                            doc="h is a CPU-pinned host LBR event active on p")
    pinned_holds = spec.define("pinned_holds", {"p": P}, lambda p: exists(H, lambda h: pinned_on(h, p)),
                               doc="a host CPU-pinned LBR event holds p's LBR")
    may_take = spec.define(
        "may_take", {"p": P},
        lambda p: ~pinned_holds(p) if sw["perf_scheduled"] else TRUE,
        doc="perf's scheduler lets a task-pinned vCPU event take p's LBR (CPU-pinned > task-pinned; patch 7)",
    )
    cap_ok = cap() if sw["cap_check"] else TRUE
    creates_and_takes = spec.define(
        "creates_and_takes", {"v": V, "p": P}, lambda v, p: cap_ok & absent(v) & may_take(p),
        doc="KVM creates v's event now and perf schedules it on p at once",
    )
    frees_at_sched_in = spec.define(
        "frees_at_sched_in", {"v": V},
        (lambda v: ~absent(v) & ~used[v] & (~dbg[v] if sw["free_checks_debugctl"] else TRUE)
         & ((pc[v] == Pc.IDLE) if sw["free_when_handler_idle"] else TRUE)) if sw["free_unused"] else (lambda v: FALSE),
        doc="the last slice left the LBR untouched (and DEBUGCTL.LBR clear): the event is freed (patch 12)",
    )
    regains = spec.define(
        "regains", {"v": V, "p": P}, lambda v, p: (ev[v] == Ev.INACTIVE) & ~frees_at_sched_in(v) & may_take(p),
        doc="at this sched-in v's existing event is scheduled onto p and takes the LBR",
    )
    host_task_of = spec.define("host_task_of", {"h": H, "v": V}, lambda h, v: target[h] == Target("task", v),
                               doc="h is a task event on vCPU thread v")
    host_task_gets = spec.define(
        "host_task_gets", {"v": V, "p": P},
        lambda v, p: exists(H, lambda h: (hu[h] == Hu.INACTIVE) & host_task_of(h, v)) & ~pinned_holds(p) & ~regains(v, p),
        doc="at this sched-in a host task event on v takes the LBR (nothing of higher priority wants it)",
    )
    host_on = spec.define(
        "host_on", {"h": H, "p": P},
        lambda h, p: hu[h].in_(Hu.ACTIVE, Hu.SHARED)
        & ((target[h] == Target("cpu", p)) | exists(V, lambda w: host_task_of(h, w) & runs_on(w, p))),
        doc="h's event is scheduled on p (alone or sharing)",
    )
    host_wins = spec.define(
        "host_wins", {"h": H, "p": P},
        lambda h, p: ~exists(H, lambda h2: (h2 != h) & pinned_on(h2, p))
        & (TRUE if sw["host_preempts"] else ~exists(V, lambda w: owns(w, p))),
        doc="h's install IPI gives it p's LBR (no other CPU-pinned LBR event there)",
    )
    foreign = spec.define("foreign", {"v": V, "t": Tag}, lambda v, t: (t != Tag.none) & (t != Tag("vcpu", v)),
                          doc="LBR state t was written by the host or by another vCPU")

    # -- sched --------------------------------------------------------------------------------
    switch_in = sched.transition(
        "switch_in", {"v": V, "p": P},
        guard=lambda v, p: ~running[v] & forall(V, lambda w: ~(running[w] & (cpu[w] == p))),
        updates=lambda v, p: [running[v].becomes(True), cpu[v].becomes(p)],
        doc="the scheduler puts thread v on idle pCPU p (a migration if p differs from the last one)",
    )
    switch_out = sched.transition(
        "switch_out", {"v": V}, guard=lambda v: running[v], updates=lambda v: [running[v].becomes(False)],
        doc="the scheduler takes thread v off its pCPU",
    )

    # -- kvm ----------------------------------------------------------------------------------
    k_sched_in = kvm.transition(
        "sched_in_hook", {"v": V}, updates=lambda v: [used[v].becomes(False)],
        doc="kvm_sched_in: a new slice starts with the LBR unused (patch 12)",
    )
    k_preempted = kvm.transition(
        "preempted", {"v": V},
        guard=lambda v: ~pc[v].in_(*irqoff_pcs) if irqoff_pcs else TRUE,
        updates=lambda v: [in_guest[v].becomes(False)],
        doc="the thread is preempted (leaving guest mode first); never inside an interrupts-off window",
    )
    k_exit = kvm.transition(
        "lbr_exit", {"v": V, "p": P},
        guard=lambda v, p: runs_on(v, p) & in_guest[v] & ~passthru[v],
        updates=lambda v, p: [in_guest[v].becomes(False), pc[v].becomes(ite(cap_ok, Pc.LBR_CHECK, Pc.IDLE))],
        doc="VM-exit on an intercepted LBR MSR; the handler creates the vCPU LBR event if it has none, "
            "or injects #GP without the capability (patches 3, 12)",
    )
    kvm.transition(
        "kvm_lbr_check", {"v": V, "p": P},
        guard=lambda v, p: runs_on(v, p) & (pc[v] == Pc.LBR_CHECK),
        updates=lambda v, p: [
            pc[v].becomes(ite(owns(v, p), Pc.ACCESS, Pc.IDLE)),
            used[v].becomes(used[v] | ~owns(v, p)),
        ],
        doc=("local_irq_disable(); if the event owns the LBR go on to the access, else drop it: nothing reaches "
             "the hardware (patch 12)" if sw["irq_off_access"]
             else "check that the event owns the LBR with interrupts still enabled; drop the access if not (v7)"),
        patch=patch(12),
    )
    k_access = kvm.transition(
        "handle_access", {"v": V, "p": P},
        guard=lambda v, p: runs_on(v, p) & (pc[v] == Pc.ACCESS),
        updates=lambda v, p: [pc[v].becomes(Pc.IDLE), used[v].becomes(True)],
        doc="rdmsr/wrmsr on the physical LBR MSR, mark LBR used, pass the MSRs through"
            + (", local_irq_enable() (patch 12)" if sw["irq_off_access"] else " (v7)"),
    )
    k_debugctl = kvm.transition(
        "debugctl_exit", {"v": V, "p": P, "lbr": BOOL},
        guard=lambda v, p, lbr: runs_on(v, p) & in_guest[v],
        updates=lambda v, p, lbr: [in_guest[v].becomes(False), dbg[v].becomes(cap_ok & lbr)],
        doc="the guest writes DEBUGCTL (never passed through): the vPMU keeps the LBR bit (patch 14)",
    )
    k_vmenter = kvm.transition(
        "vmenter", {"v": V, "p": P},
        guard=lambda v, p: runs_on(v, p) & ~in_guest[v] & (pc[v] == Pc.IDLE),
        updates=lambda v, p: [in_guest[v].becomes(True)],
        doc="VM-entry into the guest",
    )
    k_direct = kvm.transition(
        "direct_access", {"v": V, "p": P},
        guard=lambda v, p: runs_on(v, p) & in_guest[v] & passthru[v],
        doc="the guest touches a passed-through LBR MSR: no VM-exit, straight to the hardware",
    )
    k_ipi_exit = kvm.transition(
        "ipi_exit", {"p": P},
        updates=lambda p: [in_guest.becomes_all(lambda w: in_guest[w] & ~runs_on(w, p))],
        doc="an IPI to p forces the vCPU running there out of guest mode",
    )

    # -- msr ----------------------------------------------------------------------------------
    m_intercept = msr.transition(
        "intercept_all", {"v": V},
        updates=lambda v: [passthru[v].becomes(False)] if sw["sched_in_intercept"] else [],
        doc="sched-in: every LBR MSR is intercepted again, so the slice's first access VM-exits (patch 12)",
    )
    m_pass = msr.transition("pass_through", {"v": V}, updates=lambda v: [passthru[v].becomes(True)],
                            doc="the handler passes the LBR MSRs through (patch 12)")
    m_entry = msr.transition(
        "entry_check", {"v": V, "p": P},
        updates=lambda v, p: [passthru[v].becomes(passthru[v] & owns(v, p))] if sw["vmentry_check"] else [],
        doc=("with interrupts off before VM-entry: cancel pass-through unless the event still owns the LBR (patch 13)"
             if sw["vmentry_check"] else "no re-check before VM-entry (patch 13 absent)"),
    )

    # -- vcpu_event -----------------------------------------------------------------------------
    unrecognised = not sw["owner_before_init"]
    e_create = vcpu_event.transition(
        "create_if_absent", {"v": V, "p": P},
        updates=lambda v, p: [
            ev[v].becomes(ite(cap_ok & absent(v), ite(may_take(p), Ev.ACTIVE, Ev.INACTIVE), ev[v])),
            ev_counter[v].becomes(ite(creates_and_takes(v, p), Counter.ASSIGNED, ev_counter[v]) if unrecognised else ev_counter[v]),
        ],
        doc="perf_event_create_kernel_counter for the vCPU thread; perf schedules it at once if the LBR is free to it",
    )
    e_sched_in = vcpu_event.transition(
        "sched_in", {"v": V, "p": P},
        updates=lambda v, p: [
            ev[v].becomes(ite(frees_at_sched_in(v), Ev.FREED, ite(regains(v, p), Ev.ACTIVE, ev[v]))),
            ev_counter[v].becomes(ite(regains(v, p), Counter.ASSIGNED, ev_counter[v]) if unrecognised else ev_counter[v]),
        ],
        doc="perf schedules the thread's event in; KVM frees it after an untouched slice (patch 12)",
    )
    e_sched_out = vcpu_event.transition(
        "sched_out", {"v": V},
        updates=lambda v: [
            ev[v].becomes(ite(ev[v] == Ev.ACTIVE, Ev.INACTIVE, ev[v])),
            ev_counter[v].becomes(Counter.NA),
        ],
        doc="perf schedules the thread's event out with the thread",
    )
    e_preempt = vcpu_event.transition(
        "preempt_on", {"h": H, "p": P},
        updates=lambda h, p: [
            ev.becomes_all(lambda w: ite(owns(w, p) & host_wins(h, p), Ev.INACTIVE, ev[w])),
            ev_counter.becomes_all(lambda w: ite(owns(w, p) & host_wins(h, p), Counter.NA, ev_counter[w])),
        ] if sw["perf_scheduled"] else [],
        doc=("ctx_resched for the new CPU-pinned event: the task-pinned vCPU event loses the LBR (patch 7)"
             if sw["perf_scheduled"] else "the vCPU event bypasses the perf scheduler and is not rescheduled (v7)"),
    )

    # -- host -----------------------------------------------------------------------------------
    host.transition(
        "host_open_cpu", {"h": H, "p": P},
        guard=lambda h, p: hu[h] == Hu.OFF,
        updates=lambda h, p: [hu[h].becomes(Hu.IPI), target[h].becomes(Target("cpu", p))],
        doc="perf record -b -C p: a CPU-pinned LBR event; perf_install_in_context sends an IPI to p",
    )
    h_ipi = host.transition(
        "ipi_install", {"h": H, "p": P},
        guard=lambda h, p: (hu[h] == Hu.IPI) & (target[h] == Target("cpu", p)) & ~irqs_off(p),
        updates=lambda h, p: [
            hu.becomes_all(lambda h2: ite(
                h2 == h,
                ite(exists(H, lambda h3: (h3 != h) & pinned_on(h3, p)), Hu.FAILED,
                    ite(host_wins(h, p), Hu.ACTIVE, Hu.INACTIVE)),
                ite(hu[h2].in_(Hu.ACTIVE, Hu.SHARED) & exists(V, lambda w: host_task_of(h2, w) & runs_on(w, p)) & host_wins(h, p),
                    Hu.INACTIVE, hu[h2]),
            )),
        ],
        doc="the IPI is handled on p (interrupts enabled): the CPU-pinned event takes the LBR by priority",
    )
    host.transition(
        "host_open_task", {"h": H, "v": V},
        guard=lambda h, v: (hu[h] == Hu.OFF) & forall(H, lambda h2: ~host_task_of(h2, v)),
        updates=lambda h, v: [hu[h].becomes(Hu.INACTIVE), target[h].becomes(Target("task", v))],
        doc="perf record -b -t: a task LBR event on vCPU thread v, scheduled at its next sched-in (assumption A3)",
    )
    h_task_in = host.transition(
        "task_sched_in", {"v": V, "p": P},
        updates=lambda v, p: [
            hu.becomes_all(lambda h: ite(
                (hu[h] == Hu.INACTIVE) & host_task_of(h, v) & ~pinned_holds(p),
                ite(regains(v, p), Hu.SHARED if not sw["bit62"] else Hu.INACTIVE, Hu.ACTIVE),
                hu[h],
            )),
        ],
        doc="perf schedules v's task events after its pinned ones: the host task event gets the LBR if it is free"
        + ("" if sw["bit62"] else ", or shares it with an equal config"),
    )
    h_task_out = host.transition(
        "task_sched_out", {"v": V},
        updates=lambda v: [hu.becomes_all(lambda h: ite(hu[h].in_(Hu.ACTIVE, Hu.SHARED) & host_task_of(h, v), Hu.INACTIVE, hu[h]))],
        doc="perf schedules v's host task events out with the thread",
    )
    h_task_preempt = host.transition(
        "task_preempt", {"v": V, "p": P},
        updates=lambda v, p: [
            hu.becomes_all(lambda h: ite(
                (hu[h] == Hu.ACTIVE) & host_task_of(h, v) & creates_and_takes(v, p),
                Hu.SHARED if not sw["bit62"] else Hu.INACTIVE,
                hu[h],
            )),
        ],
        doc=("the new task-pinned vCPU event outranks a flexible host task event on the same thread"
             + ("; bit 62 makes their configs differ, so they never share (patch 10)" if sw["bit62"]
                else "; with equal configs perf lets them share the LBR")),
    )
    host.transition(
        "host_sample", {"h": H},
        guard=lambda h: hu[h].in_(Hu.ACTIVE, Hu.SHARED),
        updates=lambda h: [host_saw_guest[h].becomes(
            host_saw_guest[h] | exists(P, lambda p: host_on(h, p) & (rec[p].is_("vcpu") | sel[p].is_("vcpu"))))],
        doc="a PMI: the host user reads the LBR records of the pCPU it runs on",
    )
    host.transition(
        "host_close", {"h": H},
        guard=lambda h: hu[h].in_(Hu.ACTIVE, Hu.INACTIVE, Hu.SHARED, Hu.FAILED),
        updates=lambda h: [hu[h].becomes(Hu.OFF), target[h].becomes(Target.none)],
        doc="the host user exits: its event is removed and the LBR released",
    )

    # -- lbr_hw ---------------------------------------------------------------------------------
    l_sched_out = lbr_hw.transition(
        "forget_stack", {"v": V, "p": P},
        updates=lambda v, p: [rec[p].becomes(ite(owns(v, p), Tag.none, rec[p]))],
        doc="sched-out: perf saves the stack; what stays in the hardware is never read before the next LBR user "
            "resets or overwrites it, so the model forgets it (A7)",
    )
    l_entry = lbr_hw.transition(
        "record_guest", {"v": V, "p": P},
        updates=lambda v, p: [rec[p].becomes(ite(dbg[v] & owns(v, p), Tag("vcpu", v), rec[p]))],
        doc="in guest mode with DEBUGCTL.LBR set, guest branches are recorded in the LBR the event owns (A1)",
    )
    l_create = lbr_hw.transition(
        "reset_on_create", {"v": V, "p": P},
        updates=lambda v, p: [
            rec[p].becomes(ite(creates_and_takes(v, p), Tag.none, rec[p])),
            sel[p].becomes(ite(creates_and_takes(v, p), Tag("vcpu", v), sel[p])),
        ],
        doc="a new event takes the LBR with nothing saved: perf resets the stack and LBR_SELECT, whose reset "
            "value is the guest's own initial value (A2, A5)",
    )
    l_install = lbr_hw.transition(
        "install_host", {"h": H, "p": P},
        updates=lambda h, p: [
            rec[p].becomes(ite(host_wins(h, p), Tag.host, rec[p])),
            sel[p].becomes(ite(host_wins(h, p), Tag.host, sel[p])),
        ],
        doc="the CPU-pinned host event programs the LBR and starts recording host branches",
    )
    l_sched_in = lbr_hw.transition(
        "restore", {"v": V, "p": P},
        updates=lambda v, p: [
            rec[p].becomes(ite(regains(v, p), Tag.none, ite(host_task_gets(v, p), Tag.host, rec[p]))),
            sel[p].becomes(ite(regains(v, p),
                               saved_sel[v] if sw["lbr_select_ctxsw"] else sel[p],
                               ite(host_task_gets(v, p), Tag.host, sel[p]))),
        ],
        doc=("sched-in: perf restores the thread's LBR stack (A7) and, for the vCPU event, LBR_SELECT (patch 11)"
             if sw["lbr_select_ctxsw"] else "sched-in: perf restores the LBR stack (A7) but not LBR_SELECT (patch 11 absent)"),
    )

    # -- lbr_ctxsw ------------------------------------------------------------------------------
    c_save = ctxsw.transition(
        "save", {"v": V, "p": P},
        updates=lambda v, p: [
            saved_sel[v].becomes(ite(owns(v, p), sel[p], saved_sel[v]) if sw["lbr_select_ctxsw"] else saved_sel[v]),
        ],
        doc=("sched-out: perf saves the vCPU event's LBR stack and LBR_SELECT (patch 11)" if sw["lbr_select_ctxsw"]
             else "sched-out: perf saves the LBR stack only (patch 11 absent)"),
    )
    c_discard = ctxsw.transition(
        "discard", {"v": V},
        updates=lambda v: [
            saved_sel[v].becomes(ite(frees_at_sched_in(v), Tag("vcpu", v), saved_sel[v])),
        ],
        doc="a freed event's saved LBR state goes with it; a new event starts from the reset value",
    )

    # -- guest ----------------------------------------------------------------------------------
    g_observe = guest.transition(
        "observe", {"v": V, "p": P},
        updates=lambda v, p: [guest_saw_foreign[v].becomes(guest_saw_foreign[v] | foreign(v, rec[p]) | foreign(v, sel[p]))],
        doc="the guest reads p's LBR records and LBR_SELECT (assumption A5)",
    )

    # -- synchronised steps -------------------------------------------------------------------
    spec.sync(
        "sched_in", {"v": V, "p": P},
        lambda v, p: [switch_in(v, p), k_sched_in(v), m_intercept(v), e_sched_in(v, p), h_task_in(v, p),
                      l_sched_in(v, p), c_discard(v)],
        doc="vCPU thread v is scheduled in on p: perf's sched-in and LBR restore, then KVM's sched-in hook",
    )
    spec.sync(
        "sched_out", {"v": V, "p": P},
        lambda v, p: [switch_out(v), k_preempted(v), e_sched_out(v), h_task_out(v), c_save(v, p), l_sched_out(v, p)],
        guard=lambda v, p: cpu[v] == p,
        doc="vCPU thread v is scheduled out of p: perf saves its LBR state",
    )
    spec.sync(
        "guest_lbr_direct", {"v": V, "p": P},
        lambda v, p: [k_direct(v, p), g_observe(v, p)],
        doc="the guest accesses a passed-through LBR MSR directly (no VM-exit)",
    )
    spec.sync(
        "guest_debugctl", {"v": V, "p": P, "lbr": BOOL},
        lambda v, p, lbr: [k_debugctl(v, p, lbr), e_create(v, p), h_task_preempt(v, p), l_create(v, p)],
        doc="the guest writes DEBUGCTL.LBR: VM-exit; the vPMU keeps the bit and creates the event if absent (patches 12, 14)",
        patch=patch(14),
    )
    spec.sync(
        "guest_lbr_exit", {"v": V, "p": P},
        lambda v, p: [k_exit(v, p), e_create(v, p), h_task_preempt(v, p), l_create(v, p)],
        doc="the guest touches an intercepted LBR MSR: VM-exit; KVM's handler creates the vCPU LBR event if absent "
            "and perf schedules it on p (patches 9, 12); #GP without the capability (patch 3)",
        patch=patch(12),
    )
    spec.sync(
        "kvm_lbr_access", {"v": V, "p": P},
        lambda v, p: [k_access(v, p), m_pass(v), g_observe(v, p)],
        doc="KVM performs the guest's access on the physical LBR MSR and passes the MSRs through (patch 12)",
        patch=patch(12),
    )
    spec.sync(
        "vmenter", {"v": V, "p": P},
        lambda v, p: [k_vmenter(v, p), m_entry(v, p), l_entry(v, p)],
        doc=("VM-entry, after KVM re-checks LBR ownership with interrupts off (patch 13)" if sw["vmentry_check"]
             else "VM-entry without an ownership re-check (patch 13 absent)"),
        patch=patch(13),
    )
    spec.sync(
        "host_ipi", {"h": H, "p": P},
        lambda h, p: [h_ipi(h, p), e_preempt(h, p), k_ipi_exit(p), l_install(h, p)],
        doc="the install IPI of a CPU-pinned host LBR event is handled on p: reclaim (patch 7 priorities)",
    )

    # -- safety properties (DOMAIN.md §4) -------------------------------------------------------
    spec.invariant(
        "no_kvm_access_after_reclaim",
        forall(V, lambda v: forall(P, lambda p: implies(runs_on(v, p) & (pc[v] == Pc.ACCESS), owns(v, p)))),
        doc="KVM reads or writes a physical LBR MSR only while the vCPU's event owns the LBR on that pCPU.\n"
            "pc = ACCESS is the instant of KVM's rdmsr/wrmsr; the v8 handler reaches it only with interrupts "
            "disabled after the ownership check, so no reclaim IPI can intervene.",
        patch=patch(12),
    )
    spec.invariant(
        "passthrough_implies_ownership",
        forall(V, lambda v: forall(P, lambda p: implies(runs_on(v, p) & in_guest[v] & passthru[v], owns(v, p)))),
        doc="A vCPU in guest mode with the LBR MSRs passed through has an event that owns the LBR on that pCPU.\n"
            "A reclaim IPI forces a VM-exit; the re-check before VM-entry cancels pass-through if ownership was lost.",
        patch=patch(13),
    )
    host_excl = lambda h, p: (hu[h] == Hu.ACTIVE) & (  # noqa: E731
        (target[h] == Target("cpu", p)) | exists(V, lambda w: host_task_of(h, w) & runs_on(w, p)))
    spec.invariant(
        "single_owner",
        forall(P, lambda p: conj([
            forall(V, lambda v: forall(H, lambda h: ~(owns(v, p) & host_excl(h, p)))),
            forall(H, lambda h1: forall(H, lambda h2: implies(h1 != h2, ~(host_excl(h1, p) & host_excl(h2, p))))),
            forall(V, lambda v1: forall(V, lambda v2: implies(v1 != v2, ~(owns(v1, p) & owns(v2, p))))),
        ])),
        doc="At most one LBR user holds each pCPU's LBR exclusively.\n"
            "The perf scheduler sees the vCPU event (patch 7) and detects the conflict in get_event_constraints, so "
            "the lower-priority user fails.  (Sharing by equal config is checked under isolation.)",
        patch=patch(7),
    )
    spec.invariant(
        "isolation",
        forall(V, lambda v: ~guest_saw_foreign[v] & forall(P, lambda p: implies(owns(v, p), ~foreign(v, rec[p]))))
        & forall(H, lambda h: ~host_saw_guest[h] & (hu[h] != Hu.SHARED)),
        doc="The vCPU event never shares the LBR; no guest observes LBR records or LBR_SELECT written by the host or "
            "another vCPU (nor owns an LBR holding them), and no host user observes guest-written ones.\n"
            "Bit 62 in the vCPU event's config keeps perf from sharing the LBR (patch 10); perf context-switches the "
            "stack and LBR_SELECT with the thread (patch 11).",
        patch=patch(10),
    )
    spec.invariant(
        "host_priority",
        forall(H, lambda h: forall(P, lambda p: implies(
            hu[h].in_(Hu.ACTIVE, Hu.INACTIVE) & (target[h] == Target("cpu", p)),
            (hu[h] == Hu.ACTIVE) & forall(V, lambda v: ~owns(v, p)),
        ))),
        doc="Once a host CPU-pinned LBR event's IPI has been handled on a pCPU, that event owns the LBR there.\n"
            "CPU-pinned outranks task-pinned, so the vCPU event loses the LBR at once.  (A CPU-pinned event that "
            "finds another CPU-pinned LBR event there fails, perf's error state, and is not counted.)",
        patch=patch(7),
    )
    spec.invariant(
        "no_counter",
        forall(V, lambda v: ev_counter[v] == Counter.NA),
        doc="The vCPU event never holds a hardware counter, so host perf never enables or reads the LBR for it.\n"
            "event->owner is set before event_init (patch 8), so perf recognises the exclude_host kernel event as "
            "a vCPU LBR event (patch 9) and gives it X86_PMC_IDX_NA (patch 7).",
        patch=patch(8),
    )
    spec.invariant(
        "lbr_select_restored",
        forall(V, lambda v: forall(P, lambda p: implies(owns(v, p), sel[p].in_(Tag.none, Tag("vcpu", v))))),
        doc="When the vCPU event owns the LBR, LBR_SELECT holds the guest's value, never another user's.\n"
            "(none is the power-on value of a pCPU whose LBR nobody has used.)  "
            "Perf saves and restores LBR_SELECT for the vCPU event on thread switches (patch 11).",
        patch=patch(11),
    )
    spec.invariant(
        "free_policy",
        forall(V, lambda v: implies(absent(v), ~passthru[v] & ~used[v] & ~dbg[v] & ~pc[v].in_(Pc.LBR_CHECK, Pc.ACCESS))),
        doc="The event is freed only after an untouched slice with DEBUGCTL.LBR clear, never while pass-through is on; "
            "nothing uses a freed event.\n"
            "While the event is absent or freed there is no pass-through, no LBR use this slice, no DEBUGCTL.LBR and "
            "no handler past event creation.",
        patch=patch(12),
    )
    spec.invariant(
        "intercept_at_sched_in",
        forall(V, lambda v: implies(passthru[v], used[v])),
        doc="The first guest LBR access of each slice VM-exits.\n"
            "Pass-through is granted only by an intercepted access in the current slice: sched-in intercepts every "
            "LBR MSR again and clears the used flag.",
        patch=patch(12),
    )
    spec.invariant(
        "capability_gating",
        implies(~cap(), forall(V, lambda v: (ev[v] == Ev.ABSENT) & ~passthru[v] & ~dbg[v]
                               & ~pc[v].in_(Pc.LBR_CHECK, Pc.ACCESS))),
        doc="Without KVM_CAP_X86_GUEST_LBR, guest LBR MSR accesses get #GP.\n"
            "No event, no pass-through, no DEBUGCTL.LBR and no handler past the exit unless userspace opted in.",
        patch=patch(3),
    )

    # -- reachability goals ---------------------------------------------------------------------
    spec.goal(
        "reclaim_during_passthrough",
        exists(V, lambda v: exists(P, lambda p: passthru[v] & runs_on(v, p) & pinned_holds(p))),
        doc="A host CPU-pinned event reclaims the LBR of a pCPU whose vCPU has pass-through on.",
        patch=patch(13),
    )
    spec.goal(
        "ipi_in_irqoff_window",
        exists(H, lambda h: exists(P, lambda p: irqs_off(p) & (hu[h] == Hu.IPI) & (target[h] == Target("cpu", p)))),
        doc="An install IPI arrives while KVM is inside its interrupts-off window, and waits.",
        patch=patch(12),
    )
    spec.goal(
        "event_freed_and_recreated",
        lambda v, p: (ev[v] == Ev.FREED) & cap_ok,
        on=e_create,
        doc="A vCPU's freed event is recreated by a later access.",
        patch=patch(12),
    )
    spec.goal(
        "migration_with_live_event",
        lambda v, p: (cpu[v] != p) & ev[v].in_(Ev.ACTIVE, Ev.INACTIVE),
        on=switch_in,
        doc="A vCPU thread with a live LBR event migrates to another pCPU.",
        patch=patch(11),
    )
    spec.goal(
        "passthrough_on_every_pcpu",
        lambda p: exists(V, lambda v: runs_on(v, p) & in_guest[v] & passthru[v]),
        params={"p": P},
        doc="On every pCPU, some guest runs with the LBR MSRs passed through.",
        patch=patch(12),
    )
    spec.goal(
        "host_task_event_on_vcpu_thread",
        exists(H, lambda h: exists(V, lambda v: (hu[h] == Hu.ACTIVE) & host_task_of(h, v) & running[v])),
        doc="A host task LBR event holds the LBR on a running vCPU thread (the sharing scenario of patch 10).",
        patch=patch(10),
    )
    spec.goal(
        "guest_reads_own_records",
        exists(V, lambda v: exists(P, lambda p: runs_on(v, p) & in_guest[v] & passthru[v] & (rec[p] == Tag("vcpu", v)))),
        doc="A guest with pass-through has its own branch records in the LBR (isolation is not vacuous).",
        patch=patch(11),
    )
    return spec.build()


# -- liveness (DOMAIN.md §4) ---------------------------------------------------------------------
def liveness(model: Model) -> tuple[Liveness, ...]:
    """The liveness properties of DOMAIN.md §4 for ``model`` (any variant), each with the
    fairness it assumes.

    Time slices ending and IPI delivery are weakly fair, as DOMAIN.md §4 says.  Scheduling a
    thread in is strongly fair: with more vCPU threads than pCPUs a pCPU is idle only now and
    then, and a weakly fair scheduler could starve a thread forever (CFS does not).  The vCPU
    thread's own progress (KVM's handler steps and VM-entry) and a guest that "keeps using LBR"
    are strongly fair too: a thread may be preempted anywhere its interrupts are on (A4), so with weak fairness
    alone the scheduler could preempt it at the same point of the handler forever, and no
    design could promise pass-through.  For the same reason the two pass-through properties
    assume that a thread holding pass-through re-enters its guest sooner or later: sched-in
    intercepts the LBR MSRs again (patch 12), so a scheduler that always preempts between KVM's
    access and the VM-entry would keep the guest from ever running with pass-through.  Expressions use the model's own variables and
    definitions, so each variant's definitions (``frees_at_sched_in``...) are the ones checked.
    """
    var = model.var
    defs = {d.name: d for d in model.definitions}
    cap, running, in_guest, dbg, passthru, ev, hu = (
        var(n) for n in ("cap", "running", "in_guest", "dbg", "passthru", "ev", "hu"))
    absent = defs["absent"]
    no_host_user = forall(H, lambda h: hu[h] == Hu.OFF)

    def passthrough(v):
        return running[v] & in_guest[v] & passthru[v]

    def platform(v):
        return [
            ("sched_in", STRONG, ("v",), {},
             "scheduler: a runnable vCPU thread that finds a pCPU idle again and again is put on one (no starvation)"),
            ("sched_out", WEAK, ("v",), {}, "scheduler: every time slice ends"),
            ("host_ipi", WEAK, ("h",), {}, "IPI delivery: an install IPI is handled once its pCPU keeps interrupts enabled"),
            ("vmenter", STRONG, ("v",), {}, "KVM progress: a thread that runs infinitely often re-enters its guest"),
            ("kvm_lbr_check", STRONG, ("v",), {}, "KVM progress: the LBR MSR handler goes on when its thread runs"),
            ("kvm_lbr_access", STRONG, ("v",), {}, "KVM progress: the access finishes (interrupts are off, so it is never preempted)"),
        ]

    def keeps_using(v):
        return [
            ("guest_lbr_exit", STRONG, (), {"v": v},
             "the guest keeps using LBR: running with the LBR MSRs intercepted, it touches one sooner or later"),
            ("vmenter", STRONG, (), {"v": v},
             "slices are not always cut between KVM's access and the VM-entry: a thread holding pass-through "
             "re-enters its guest sooner or later", passthru[v]),
        ]

    host_stays_away = [("host_open_cpu", {}), ("host_open_task", {})]
    return (
        leads_to(
            "passthrough_without_host_user", {"v": V},
            lambda v: cap() & no_host_user & absent(v),
            passthrough,
            doc="With no host LBR user, a guest that keeps using LBR eventually runs with pass-through.\n"
                "From a vCPU without an LBR event: KVM creates one at the first intercepted access, perf gives it "
                "the LBR, and the handler passes the MSRs through.",
            patch=patch(12),
            quiet=lambda v: host_stays_away,
            fairness=lambda v: platform(v) + keeps_using(v),
        ),
        leads_to(
            "unused_event_is_freed", {"v": V},
            lambda v: ~absent(v) & ~dbg[v],
            absent,
            doc="A guest that stops using LBR eventually has its event freed.\n"
                "Once DEBUGCTL.LBR is clear and the guest touches no LBR MSR any more, a whole untouched slice "
                "passes and the next sched-in frees the event.",
            patch=patch(12),
            quiet=lambda v: [("guest_lbr_exit", {"v": v}), ("guest_lbr_direct", {"v": v}),
                             ("guest_debugctl", {"v": v, "lbr": True})],
            fairness=platform,
        ),
        leads_to(
            "lbr_regained_after_host_leaves", {"v": V},
            lambda v: cap() & no_host_user & (ev[v] == Ev.INACTIVE),
            passthrough,
            doc="After the host event goes away, the guest can regain the LBR.\n"
                "A vCPU event that lost the LBR is scheduled back by perf once no host LBR user is left, and a guest "
                "that keeps using LBR runs with pass-through again.",
            patch=patch(7),
            quiet=lambda v: host_stays_away,
            fairness=lambda v: platform(v) + keeps_using(v),
        ),
    )


# -- the model-module protocol (lbrspec.modelref): what the commands read besides build() -------
#: ``lbrspec prove`` strengthens the invariants with the lemmas of ``proofs/``, imported only then.
LEMMAS = "lbrspec_proofs"

SORT_PLURALS = {"host_user": "host LBR users"}

#: Projections drawn in the generated docs' analysis page: (file stem, title, terms).
DOC_PROJECTIONS = (
    ("event-passthrough-owner", "One vCPU's event, its pass-through, and who holds the LBR of its pCPU",
     ["ev[v0]", "passthru[v0]", "owns(v0, cpu[v0])", "pinned_holds(cpu[v0])"]),
    ("handler-ownership", "KVM's LBR handler against ownership",
     ["pc[v0]", "in_guest[v0]", "passthru[v0]", "owns(v0, cpu[v0])"]),
    ("host-user-and-ownership", "A host LBR user against whether one vCPU's event holds its pCPU's LBR",
     ["hu[h0]", "owns(v0, cpu[v0])"]),
)

DOC_TEXT = {
    "cites": "the patch of the v8 series",
    "variants": "The v8 design, the design alternatives its changelog fixed, and mutants; each breaks the "
                "property named.",
    "docstring": "The model's docstring, with the modelling assumptions A1 to A7:",
    "citations_heading": "Patches it reflects",
    "no_citations": "No patch of the series is cited by this machine, its transitions, or the properties that "
                    "read its variables.",
    "lanes": "between the guest, KVM, the perf core, the host LBR user and the IPI",
    "fairness_intro": "Time slices ending and IPI delivery are weakly fair, as DOMAIN.md §4 says; scheduling a "
                      "thread in, KVM's progress and the guest's use of LBR are strongly fair. With weaker "
                      "assumptions v8 fails the first pass-through property, with these lassos:",
    "fairness_column": "lasso on v8 (v0)",
    "liveness_rows": "One line per property and vCPU",
    "alternative": "design alternative fixed by the v8 changelog",
}


def doc_fairness_demos(props: tuple[Liveness, ...]) -> list[tuple]:
    """What the strong-fairness assumptions buy, for the generated docs: the first pass-through
    property checked for v0 with weaker assumptions, which v8 then fails.  Each item is (file
    stem, title, explanation, property, sizes or None for the default instance, binding)."""
    import dataclasses

    prop = props[0]
    weak_sched = dataclasses.replace(prop, fairness=tuple(
        dataclasses.replace(f, kind=WEAK) if f.action == "sched_in" else f for f in prop.fairness))
    weak_only = dataclasses.replace(
        prop, fairness=tuple(dataclasses.replace(f, kind=WEAK) for f in prop.fairness))
    no_reentry = dataclasses.replace(prop, fairness=tuple(f for f in prop.fairness if f.when is None))
    v0 = {"v": "v0"}
    return [
        # with more vCPU threads than pCPUs a pCPU is idle only now and then: a weakly fair
        # scheduler may starve a thread
        ("fairness-weak-scheduler", f"{prop.name} with a weakly fair scheduler, 2 vCPUs on 1 pCPU",
         "Scheduling a thread in only weakly fair, on 2 vCPUs and 1 pCPU: the pCPU is idle only between one "
         "thread's sched-out and the next sched-in, so a weakly fair scheduler may always pick the other "
         "thread and starve this one.", weak_sched, {"vCPU": 2, "pCPU": 1, "host_user": 1}, v0),
        ("fairness-weak-only", f"{prop.name} with weak fairness only",
         "Every fairness condition weakened to weak fairness: the scheduler may preempt the vCPU thread at "
         "the same point of KVM's handler forever, since the handler's next step is enabled only while the "
         "thread runs.", weak_only, None, v0),
        ("fairness-no-reentry", f"{prop.name} without the re-entry assumption",
         "Strong fairness for KVM's progress, but no assumption that a thread holding pass-through re-enters "
         "its guest: the scheduler preempts it every time between KVM's access and the VM-entry, and sched-in "
         "intercepts the LBR MSRs again (patch 12).", no_reentry, None, v0),
    ]
