"""The guest LBR design merged for Linux 5.12 (Like Xu's "Guest Last Branch Recording Enabling",
v14) with its later fixes, as composed state machines: the code as of Linux 6.14, each fix
undone on its own, and the 2023 proposals applied.

Userspace enables guest LBR for a vCPU by writing ``MSR_IA32_PERF_CAPABILITIES`` with the host's
LBR format; a PMU refresh then gives the vCPU a non-zero LBR record count ``nr`` if its CPUID has
a vPMU and a consistent CPU model.  The guest's first LBR MSR access VM-exits; KVM creates a
*vLBR* perf event (task-pinned to the vCPU thread, ``exclude_host``, on the fake fixed counter
58), and with interrupts off performs the access on the hardware if the event is active, or a
*dummy* access (reads 0, writes dropped) if not.  Pass-through of the LBR MSRs is decided at
every VM-entry from the event's state.  At sched-in KVM requests a PMU cleanup; the request is
serviced in ``vcpu_enter_guest`` and releases the event if the guest's ``DEBUGCTL.LBR`` is clear.
Perf schedules the vLBR event *before* the LBR_SELECT shared-register constraints, so it never
conflicts with host LBR events: while it is active, perf leaves the pCPU's LBR to the guest and
host LBR users get nothing.

The v8 model (:mod:`lbrspec_models.guest_lbr`) shares the sorts, the scheduler, the host users'
lifecycle and the LBR hardware with this one (:mod:`lbrspec_models.lbr_common`); the machines
below are this design's own where the designs differ.

========== ================================================================================
userspace  the VMM's view of each vCPU: CPUID (a vPMU with a consistent CPU model or not),
           PERF_CAPABILITIES.LBR_FMT, whether the vCPU has run (first KVM_RUN); the host's LBR
           kind (legacy or architectural)
sched      the host scheduler (shared)
kvm        the vCPU as KVM runs it: guest mode, the LBR MSR exit handler (check, interrupts-off
           access), the guest DEBUGCTL.LBR in the VMCS, ``nr``, the PMU request, the MSR
           pass-through, the host DEBUGCTL snapshot restored after VM-exit
vlbr_event the vLBR perf event: absent, active, inactive (its thread is out), error, released
host       host LBR users: CPU-pinned and CPU-flexible events on one pCPU (shared lifecycle;
           perf's ranking against the vLBR event is this design's)
lbr_hw     each pCPU's LBR: whose records and ``LBR_SELECT`` it holds (shared)
lbr_ctxsw  perf's LBR context switch of the vCPU thread (call-stack mode): the saved records
           and ``LBR_SELECT``
guest      what the guest reads, and the ghost that remembers whether its records were in the LBR
           when its thread was last switched out
========== ================================================================================

Modelling assumptions (each a choice a reviewer may question):

U1. A host LBR user that gets the LBR enabled programs it at once: its records and its
    ``LBR_SELECT`` replace what was there (guest_lbr's A2).  Host task LBR events are not
    modelled (the merged design treats them like any host LBR user); host users are CPU-wide.
U2. One access stands for every kind of guest access to an LBR MSR: the guest reads the records
    and ``LBR_SELECT``, then programs ``LBR_SELECT`` (guest_lbr's A8).  A dummy access reads
    zeros and programs nothing.
U3. Perf's LBR context switch saves and restores the vLBR event's stack exactly (the event is in
    call-stack mode): the saved stack is tracked as whose records it holds.
U4. ``vcpu_enter_guest`` services the PMU request, takes the host DEBUGCTL snapshot (since
    189ecdb3e112), decides pass-through and enters the guest as one step, with interrupts off.
U5. A DEBUGCTL write (guest or host) is one step: the VMCS field is written and, if needed, the
    event created; nothing can tell the parts apart.  The guest writes DEBUGCTL and accesses LBR
    MSRs only once ``nr`` is non-zero (before, both #GP, which changes nothing here).
U6. Creating the vLBR event may fail (perf_event_create_kernel_counter returns an error): a
    parameter of each creation.  KVM_SET_CPUID after the first KVM_RUN is refused (a rule older
    than the fixes modelled here).  CPUID without a vPMU and CPUID with an inconsistent CPU model
    are one value ("no vPMU"): in both, ``nr`` must be 0.
U8. Perf resets the LBR for a new vLBR event only when it is the pCPU's first LBR user
    (``intel_pmu_lbr_add``): a host CPU-pinned LBR event scheduled on that pCPU stays scheduled
    while the vLBR event is installed and counts as one; a CPU-flexible one is scheduled out
    before the task-pinned vLBR event is added (``ctx_resched``), so it does not.
U7. A virtual PMI comes from a guest counter overflowing while the guest has DEBUGCTL.LBR set;
    the guest is assumed to set FREEZE_LBRS_ON_PMI with LBR (Linux guests do), and the vPMU is
    version 2 or 3, so KVM clears the guest's DEBUGCTL.LBR.
"""

from __future__ import annotations

from lbrspec.errors import InputError
from lbrspec.lang import (
    BOOL,
    FALSE,
    TRUE,
    EnumDomain,
    Model,
    Spec,
    Variant,
    exists,
    forall,
    implies,
    ite,
)
from lbrspec.lang.liveness import STRONG, WEAK, Liveness, leads_to

from . import lbr_common as common
from .lbr_common import H, Hu, P, Tag, Target, V

#: Upstream commits and mails the model cites (ids only; behaviour described in our own words).
SOURCES = {
    "merged": "v14 series, Linux 5.12 (Like Xu)",
    "67b45af946ec": "the creation test before the dummy path (<20210223013958.1280444-1-like.xu@linux.intel.com>)",
    "5863702561e6": "LBR_SELECT saved and restored for the vLBR event (5.16, stable)",
    "957d0f70e97b": "PMU refresh zeroes nr first; refresh while passed through bugs the VM",
    "3a6de51a437f": "a PMU refresh after KVM_RUN WARNs and bugs the VM (<20230210003148.2646712-8-seanjc@google.com>)",
    "0094f62c7eaa": "feature MSRs (PERF_CAPABILITIES) immutable after the first KVM_RUN",
    "098f4c061ea1": "LBR_FMT not advertised on hosts with architectural LBR (<20230128001427.2548858-1-seanjc@google.com>)",
    "b333b8ebb85d": "a host-initiated DEBUGCTL write ignores guest CPUID",
    "189ecdb3e112": "host DEBUGCTL snapshot taken with interrupts off before VM-entry (<20250224181315.2376869-4-seanjc@google.com>)",
    "1647b52757d5": "kvm_pmu_refresh resets the PMU first, which releases the vLBR event (6.8)",
    "9aa4f622460f": "the lazy release of the vLBR event through the PMU request",
    "e6209a3bef79": "the virtual PMI's legacy freeze clears the guest's DEBUGCTL.LBR",
    "xiong-release": "proposal 2023: delay the release one slice, keep the event while a freeze is pending "
                     "(<20230921082957.44628-2-xiong.y.zhang@intel.com> and the next patch)",
    "xiong-constraint": "proposal 2023: shared-register constraint before the vLBR one, re-enable an event in "
                        "error state (<20230616113353.45202-1-xiong.y.zhang@intel.com> and its series)",
}


def cite(key: str) -> str:
    return f"{key}: {SOURCES[key]}" if key in SOURCES else key


#: One switch per later fix (True: applied, as in Linux 6.14) and per 2023 proposal (False: not
#: applied).
FIXES: dict[str, str] = {
    "create_test_fixed": "67b45af946ec",
    "lbr_select_ctxsw": "5863702561e6",
    "refresh_zeroes_nr": "957d0f70e97b",
    "refresh_after_run_bugs_vm": "3a6de51a437f",
    "caps_frozen_after_run": "0094f62c7eaa",
    "no_lbr_fmt_on_arch_host": "098f4c061ea1",
    "host_debugctl_ignores_cpuid": "b333b8ebb85d",
    "debugctl_snapshot_at_entry": "189ecdb3e112",
    "refresh_releases_event": "1647b52757d5",
}
PROPOSALS: dict[str, str] = {
    "delay_release": "xiong-release",
    "keep_on_freeze": "xiong-release",
    "host_pinned_first": "xiong-constraint",
}
#: Modelling choices that are not design choices, each checked by a variant of kind "check".
MODEL_SWITCHES: dict[str, bool] = {
    "creation_may_fail": True,  # U6: perf_event_create_kernel_counter may fail
}
UPSTREAM_SWITCHES: dict[str, bool] = {**{k: True for k in FIXES}, **{k: False for k in PROPOSALS}, **MODEL_SWITCHES}


def _variant(name: str, description: str, kind: str, expected: str | None = None, holds: str | None = None,
             source: str = "merged", **changes: bool) -> Variant:
    sw = dict(UPSTREAM_SWITCHES)
    for k, v in changes.items():
        if k not in sw:
            raise KeyError(k)
        sw[k] = v
    return Variant(name, description, kind=kind, expected=expected, holds=holds, patch=cite(source), switches=sw,
                   changed=tuple(k for k, v in changes.items() if UPSTREAM_SWITCHES[k] != v))


VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in [
        _variant("upstream", "The merged design as of Linux 6.14, with every later fix.", "design",
                 expected="records_kept_across_resched"),
        _variant("before-67b45af946ec", "Fix undone: the handler's test of the event-creation result is inverted "
                 "(a created event takes the dummy path, a failed creation goes on to the check).", "fix",
                 expected="host_no_oops", source="67b45af946ec", create_test_fixed=False),
        _variant("before-5863702561e6", "Fix undone: LBR_SELECT is not saved and restored for the vLBR event.", "fix",
                 expected="lbr_select_restored", source="5863702561e6", lbr_select_ctxsw=False),
        _variant("before-957d0f70e97b", "Fix undone: a PMU refresh that finds no vPMU returns early and leaves nr "
                 "as it was.", "fix", expected="lbr_enabled_only_when_consistent", source="957d0f70e97b",
                 refresh_zeroes_nr=False),
        _variant("before-3a6de51a437f", "Fix undone: a PMU refresh after KVM_RUN neither WARNs nor bugs the VM.  It "
                 "breaks only what the merged design breaks: PERF_CAPABILITIES and CPUID are frozen after the first "
                 "KVM_RUN (0094f62c7eaa), so no refresh after KVM_RUN is reachable and the WARN is a second line of "
                 "defence.", "fix", expected="records_kept_across_resched",
                 source="3a6de51a437f", refresh_after_run_bugs_vm=False),
        _variant("before-0094f62c7eaa", "Fix undone: userspace may change PERF_CAPABILITIES after the first KVM_RUN.",
                 "fix", expected="no_refresh_after_run", source="0094f62c7eaa", caps_frozen_after_run=False),
        _variant("before-098f4c061ea1", "Fix undone: LBR_FMT is advertised on hosts with architectural LBR.", "fix",
                 expected="lbr_enabled_only_when_consistent", source="098f4c061ea1", no_lbr_fmt_on_arch_host=False),
        _variant("before-b333b8ebb85d", "Fix undone: a host-initiated DEBUGCTL write with LBR set is refused while "
                 "guest LBR is not enabled.", "fix", expected="host_debugctl_write_accepted", source="b333b8ebb85d",
                 host_debugctl_ignores_cpuid=False),
        _variant("before-189ecdb3e112", "Fix undone: the host DEBUGCTL snapshot is taken at vcpu_load, long before "
                 "VM-entry.", "fix", expected="host_debugctl_restored", source="189ecdb3e112",
                 debugctl_snapshot_at_entry=False),
        _variant("before-1647b52757d5", "Fix undone: a PMU refresh keeps the vLBR event, so an event that a host "
                 "DEBUGCTL write created outlives a refresh that turns guest LBR off: it keeps the LBR from host "
                 "events for a guest that cannot use it, and, the vPMU gone, no cleanup is ever requested for it (I1 "
                 "breaks too, checked alone: VM-entry no longer decides pass-through for the active event).",
                 "fix", expected="vlbr_event_only_with_lbr_enabled",
                 source="1647b52757d5", refresh_releases_event=False),
        _variant("proposal-delay-release", "Proposal applied: a DEBUGCTL write with LBR set marks the event in use, "
                 "and a cleanup that finds DEBUGCTL.LBR clear first clears the mark and keeps the event, so the event "
                 "is released only at the second cleanup after the guest stopped recording.", "proposal",
                 expected="records_kept_across_resched", source="xiong-release", delay_release=True),
        _variant("proposal-keep-on-freeze", "Proposal applied: the cleanup does not release the event while the "
                 "DEBUGCTL.LBR clear of a virtual PMI's freeze is pending.  It keeps the records a freeze stopped "
                 "(records_kept_after_freeze holds) but not those of a guest that clears DEBUGCTL.LBR itself.",
                 "proposal",
                 expected="records_kept_across_resched", source="xiong-release", keep_on_freeze=True),
        _variant("proposal-host-pinned-first", "Proposal applied: perf takes the shared-register (LBR_SELECT) "
                 "constraint before the vLBR one, so a host CPU-pinned LBR event wins, and KVM re-enables an event in "
                 "error state at the next intercepted access.", "proposal",
                 expected="guest_reads_own_or_zero", source="xiong-constraint", host_pinned_first=True),
        _variant("upstream-creation-never-fails", "The merged design where creating the vLBR event never fails: I7 "
                 "still breaks, through the release at an unused slice and perf's reset of the new event's LBR.",
                 "check", expected="records_kept_across_resched", creation_may_fail=False),
    ]
}
DEFAULT_VARIANT = "upstream"

#: The properties the merged design is known not to give (raised on the list: I7, I8, and I7 for the
#: records a freeze stopped), and two this model finds it does not give either: I3 (perf resets
#: the LBR for a new event only if it is the pCPU's first LBR user, so with a host LBR event
#: scheduled there the guest finds the host's records and LBR_SELECT), and
#: host_sees_no_guest_branches (a guest DEBUGCTL.LBR loaded at VM-entry without an active vLBR
#: event records guest branches into a host event's LBR).
MERGED_DESIGN_BREAKS = ("guest_reads_own_or_zero", "records_kept_across_resched", "records_kept_after_freeze",
                        "host_pinned_wins", "host_sees_no_guest_branches")

#: The properties of ``lbrspec compare`` (:data:`lbr_common.OBSERVATIONS`) this model does not
#: declare, and why.
OBSERVATION_GAPS = {
    "host_never_sleeps_in_atomic": "the merged design releases the event only from the PMU request serviced in "
                                   "vcpu_enter_guest (9aa4f622460f), where the vCPU thread may sleep; no step of it "
                                   "releases from atomic context",
}

Ev = EnumDomain("vlbr_state", ["ABSENT", "ACTIVE", "INACTIVE", "ERROR", "FREED"],
                doc="the vLBR event: none yet, scheduled (owns counter 58, the guest has the LBR), its thread is "
                    "out, perf's error state, released")
Pc = EnumDomain("vlbr_pc", ["IDLE", "CHECK", "ACCESS"],
                doc="KVM's LBR MSR handler: idle; exited with an event, interrupts-off check next; inside the "
                    "interrupts-off access (the event was active)")
Read = EnumDomain("lbr_read", ["NONE", "REAL", "ZERO"],
                  doc="what a step lets the guest read: nothing, the hardware LBR, or a dummy access's zeros")
DEFAULT_SIZES = {"vCPU": 1, "pCPU": 2, "host_user": 1}
LEMMAS = "lbrspec_proofs.upstream_lbr"  # the strengthening lemmas of `lbrspec prove` (proofs/upstream_lbr.py)

#: ``lbrspec compare``: the shared catalogue, and the designs of this model in the default table.
OBSERVATIONS = common.OBSERVATIONS
COMPARE_DESIGNS = ("upstream", "proposal-delay-release", "proposal-keep-on-freeze", "proposal-host-pinned-first")


def build(variant: str = DEFAULT_VARIANT, observe=()) -> Model:
    """Build the product model for ``variant`` (see :data:`VARIANTS`), with the ghosts and
    properties of the comparison of designs named in ``observe`` (:data:`lbr_common.OBSERVATIONS`;
    ``lbrspec compare`` selects them, every other command builds none)."""
    if variant not in VARIANTS:
        raise InputError(f"unknown variant {variant!r}; known: {', '.join(VARIANTS)}")
    spec = Spec("upstream_lbr", sorts=[V, P, H], doc=__doc__ or "", default_sizes=DEFAULT_SIZES,
                variant=VARIANTS[variant])
    sw = spec.switches
    obs = common.Observer(spec, observe)
    pinned_first = sw["host_pinned_first"]
    delay = sw["delay_release"]
    freeze_kept = sw["keep_on_freeze"]
    snap_at_entry = sw["debugctl_snapshot_at_entry"]
    may_fail = sw["creation_may_fail"]

    # -- variables ---------------------------------------------------------------------------
    uapi = spec.machine("userspace", doc="What the VMM configured: CPUID, PERF_CAPABILITIES, the first KVM_RUN.",
                        reads=["sched", "kvm"])
    arch_host = uapi.var("arch_host", BOOL, init=[False, True],
                         doc="the host has architectural LBR (no legacy LBR to give the guest)")
    pmu_ok = uapi.var("pmu_ok", BOOL, index=[V], init=False,
                      doc="KVM_SET_CPUID gave the vCPU a vPMU (version > 0) and the host's CPU model")
    caps = uapi.var("caps_lbr", BOOL, index=[V], init=False,
                    doc="PERF_CAPABILITIES.LBR_FMT holds the host's LBR format (guest LBR asked for)")
    ran = uapi.var("ran", BOOL, index=[V], init=False, doc="the vCPU has entered the guest (the first KVM_RUN)")

    sched = common.add_scheduler(spec)
    running, cpu = sched.running, sched.cpu

    kvm = spec.machine("kvm", doc="The vCPU as KVM runs it.", reads=["userspace", "sched", "vlbr_event", "host",
                                                                      "lbr_hw", "lbr_ctxsw"],
                       patch=cite("merged"))
    in_guest = kvm.var("in_guest", BOOL, index=[V], init=False, doc="the vCPU executes in guest mode")
    pc = kvm.var("pc", Pc, index=[V], init="IDLE", doc="where KVM's LBR MSR handler is")
    dbg = kvm.var("dbg", BOOL, index=[V], init=False, doc="the guest DEBUGCTL.LBR in the VMCS")
    nr = kvm.var("nr", BOOL, index=[V], init=False, doc="the vCPU's LBR record count is non-zero: guest LBR enabled")
    req = kvm.var("req", BOOL, index=[V], init=False, doc="a PMU cleanup request (KVM_REQ_PMU) is pending")
    passthru = kvm.var("passthru", BOOL, index=[V], init=False, doc="the LBR MSRs are passed through")
    bugged = kvm.var("bugged", BOOL, init=False,
                     doc="KVM_BUG_ON fired: the VM is bugged and every later vCPU ioctl, KVM_RUN included, fails")
    snap = kvm.var("snap", BOOL, index=[V], init=False,
                   doc="KVM's snapshot of the host DEBUGCTL.LBR, written back after every VM-exit")
    used = kvm.var("used", BOOL, index=[V], init=False, when=delay, why="only the delayed release predicts use",
                   doc="the proposal's in-use mark: set by a DEBUGCTL write with LBR set, cleared by a cleanup that "
                       "finds DEBUGCTL.LBR clear (which then keeps the event one more time)")
    frozen = kvm.var("frozen", BOOL, index=[V], init=False, when=freeze_kept,
                     why="only the proposal remembers a pending freeze",
                     doc="a virtual PMI's freeze cleared DEBUGCTL.LBR and the guest has not written DEBUGCTL since")
    obs.declare(kvm, "host_never_oopses")
    if sw["refresh_after_run_bugs_vm"]:
        obs.declare(kvm, "host_never_warns")

    vlbr = spec.machine("vlbr_event", doc="The vLBR perf event (fake fixed counter 58), task-pinned to the vCPU "
                                          "thread.", reads=["userspace", "sched", "kvm", "host"])
    ev = vlbr.var("ev", Ev, index=[V], init="ABSENT", doc="the vLBR event's state")
    obs.declare(vlbr, "no_release_while_guest_uses_lbr")

    host, hu, target = common.add_host_users(
        spec, ["sched", "kvm", "vlbr_event", *(["lbr_hw"] if "host_never_samples_guest" in obs else [])])
    obs.declare(host, "host_never_samples_guest")
    lbr_hw, rec, sel = common.add_lbr_hw(spec, ["userspace", "sched", "kvm", "vlbr_event", "host", "lbr_ctxsw"])

    ctxsw = spec.machine("lbr_ctxsw", doc="Perf's LBR context switch of the vCPU thread (call-stack mode).",
                         reads=["sched", "kvm", "vlbr_event", "lbr_hw", "host", "userspace"], patch=cite("5863702561e6"))
    saved_rec = ctxsw.var("saved_rec", Tag, index=[V], init="none", doc="whose records the saved LBR stack holds")
    saved_sel = ctxsw.var("saved_sel", Tag, index=[V], init="none", when=sw["lbr_select_ctxsw"],
                          why="LBR_SELECT is saved only since 5863702561e6", doc="whose LBR_SELECT was saved")

    guest = spec.machine("guest", doc="What the guest reads; its records across a reschedule.",
                         reads=["sched", "kvm", "vlbr_event", "lbr_hw"])
    kept = guest.var("kept", BOOL, index=[V], init=False, ghost=True,
                     doc="ghost: at its last sched-out the vCPU's LBR held its own records (I7)")
    kept_sel = guest.var("kept_sel", BOOL, index=[V], init=False, ghost=True,
                         doc="ghost: at its last sched-out the vCPU's LBR_SELECT held the guest's own filter")
    froze = guest.var("froze", BOOL, index=[V], init=False, ghost=True,
                      doc="ghost: a virtual PMI's freeze stopped the LBR with the guest's own records in it, and "
                          "DEBUGCTL was not written since (the guest's PMI handler is about to read them)")
    obs.declare(guest, "guest_never_reads_foreign")
    obs.declare(guest, "guest_records_survive_resched")

    # -- definitions ---------------------------------------------------------------------------
    runs_on = spec.define("runs_on", {"v": V, "p": P}, lambda v, p: running[v] & (cpu[v] == p),
                          doc="vCPU thread v is running on pCPU p")
    in_host = spec.define("in_host", {"v": V, "p": P},
                          lambda v, p: runs_on(v, p) & ~in_guest[v] & (pc[v] == Pc.IDLE) & ~bugged(),
                          doc="v's thread runs on p in host mode, between exits (where ioctls and VM-entry run)")
    owns = spec.define("owns", {"v": V, "p": P}, lambda v, p: (ev[v] == Ev.ACTIVE) & (cpu[v] == p),
                       doc="v's vLBR event is active on p: the guest has p's LBR")
    vlbr_on = spec.define("vlbr_on", {"p": P}, lambda p: exists(V, lambda w: owns(w, p)),
                          doc="a vLBR event is active on p (perf's guest mask has bit 58)")
    absent = spec.define("absent", {"v": V}, lambda v: ev[v].in_(Ev.ABSENT, Ev.FREED), doc="v has no vLBR event")
    host_on = spec.define("host_on", {"h": H, "p": P},
                          lambda h, p: (hu[h] == Hu.ACTIVE) & ((target[h] == Target("pinned", p))
                                                               | (target[h] == Target("flex", p))),
                          doc="h's event is scheduled on p")
    host_any = spec.define("host_any_on", {"p": P}, lambda p: exists(H, lambda h: host_on(h, p)),
                           doc="some host LBR event is scheduled on p")
    pinned_holds = spec.define("pinned_holds", {"p": P},
                               lambda p: exists(H, lambda h: host_on(h, p) & (target[h] == Target("pinned", p))),
                               doc="a host CPU-pinned LBR event is scheduled on p")
    perf_lbr = spec.define("perf_lbr", {"p": P}, lambda p: host_any(p) & ~vlbr_on(p),
                           doc="perf wants host DEBUGCTL.LBR set on p: a host LBR event is scheduled and no vLBR event "
                               "is active there")
    may_take = spec.define("vlbr_may_take", {"p": P}, (lambda p: ~pinned_holds(p)) if pinned_first else (lambda p: TRUE),
                           doc="perf schedules a vLBR event on p" + (
                               " unless a host CPU-pinned LBR event holds it (proposal)" if pinned_first
                               else ": always, its constraint (counter 58) is tried first"))
    regains = spec.define("regains", {"v": V, "p": P}, lambda v, p: (ev[v] == Ev.INACTIVE) & may_take(p),
                          doc="at this sched-in v's existing event is scheduled on p")
    creates = spec.define("creates", {"v": V}, lambda v: nr[v] & absent(v),
                          doc="KVM creates v's event at this access: guest LBR enabled and no event")
    reenables = spec.define("reenables", {"v": V, "p": P},
                            (lambda v, p: ev[v] == Ev.ERROR) if pinned_first else (lambda v, p: FALSE),
                            doc="the handler re-enables v's event from error state (proposal)")
    release_ok = spec.define(
        "release_ok", {"v": V},
        lambda v: ~dbg[v] & (~used[v] if delay else TRUE) & (~frozen[v] if freeze_kept else TRUE),
        doc="the cleanup releases the event: the guest DEBUGCTL.LBR is clear"
            + (" and the event is not marked in use (proposal: the first such cleanup clears the mark)" if delay else "")
            + (" and no freeze is pending (proposal)" if freeze_kept else ""),
    )
    releases = spec.define("releases_at_entry", {"v": V}, lambda v: req[v] & ~absent(v) & release_ok(v),
                           doc="vcpu_enter_guest services the PMU request and releases v's event")
    owns_after = spec.define("owns_after_entry", {"v": V, "p": P}, lambda v, p: owns(v, p) & ~releases(v),
                             doc="v's event is still active on p once the PMU request is serviced")
    foreign = spec.define("foreign", {"v": V, "t": Tag}, lambda v, t: (t != Tag.none) & (t != Tag("vcpu", v)),
                          doc="LBR state t was written by the host or by another vCPU")
    # the handler's outcome at the exit: go on to the check, or a dummy access at once
    if sw["create_test_fixed"]:
        exit_to_check = lambda v, fail: ~absent(v) | ~fail
    else:  # the inverted test: a created event takes the dummy path, a failed creation goes on
        exit_to_check = lambda v, fail: ~absent(v) | fail
    new_state = lambda v, p, fail: ite(absent(v) & ~fail, ite(may_take(p), Ev.ACTIVE, Ev.ERROR),
                                       ite(reenables(v, p), ite(may_take(p), Ev.ACTIVE, Ev.ERROR), ev[v]))
    takes_now = spec.define("takes_at_access", {"v": V, "p": P, "fail": BOOL},
                            lambda v, p, fail: ((absent(v) & ~fail) | reenables(v, p)) & may_take(p),
                            doc="v's event becomes active on p at this access (created, or re-enabled)")
    # intel_pmu_lbr_add resets the LBR only for the first LBR user of the pCPU; a host CPU-pinned
    # LBR event scheduled there is one, a CPU-flexible one is scheduled out first (U8)
    fresh = spec.define("fresh_event", {"v": V, "p": P, "fail": BOOL},
                        lambda v, p, fail: absent(v) & ~fail & may_take(p) & (TRUE if pinned_first else ~pinned_holds(p)),
                        doc="a new event, never run, is the LBR's first user on p: perf resets the LBR"
                            + ("" if pinned_first else " (not when a host CPU-pinned LBR event is scheduled there)"))

    # -- sched and userspace -------------------------------------------------------------------
    u_cpuid = uapi.transition(
        "set_cpuid", {"v": V, "p": P, "ok": BOOL}, guard=lambda v, p, ok: in_host(v, p) & ~ran[v],
        updates=lambda v, p, ok: [pmu_ok[v].becomes(ok)],
        doc="KVM_SET_CPUID: a vPMU with the host's CPU model, or not (refused after the first KVM_RUN)")
    caps_accepted = spec.define(
        "caps_accepted", {"v": V, "lbr": BOOL},
        lambda v, lbr: implies(lbr, pmu_ok[v] & (~arch_host() if sw["no_lbr_fmt_on_arch_host"] else TRUE))
        & ((~ran[v] | (caps[v] == lbr)) if sw["caps_frozen_after_run"] else TRUE),
        doc="a PERF_CAPABILITIES write is accepted: LBR_FMT must equal the format KVM advertises, with a vPMU and the "
            "host's CPU model" + (", and the value is frozen after the first KVM_RUN" if sw["caps_frozen_after_run"]
                                 else ""),
    )
    u_caps = uapi.transition(
        "set_perf_caps", {"v": V, "p": P, "lbr": BOOL}, guard=lambda v, p, lbr: in_host(v, p),
        updates=lambda v, p, lbr: [caps[v].becomes(ite(caps_accepted(v, lbr), lbr, caps[v]))],
        doc="userspace writes PERF_CAPABILITIES with LBR_FMT equal to the host's (lbr) or 0")
    caps_refresh = spec.define("caps_refresh", {"v": V, "lbr": BOOL},
                               lambda v, lbr: caps_accepted(v, lbr) & (caps[v] != lbr),
                               doc="a PERF_CAPABILITIES write is accepted and changes the value: KVM refreshes the PMU")
    u_run = uapi.transition("first_run", {"v": V}, updates=lambda v: [ran[v].becomes(True)],
                            doc="KVM_RUN enters the guest")

    # -- kvm ----------------------------------------------------------------------------------
    refresh_bug_run = spec.define(
        "refresh_bugs_vm_after_run", {"v": V},
        (lambda v: ran[v]) if sw["refresh_after_run_bugs_vm"] else (lambda v: FALSE),
        doc="a PMU refresh now hits KVM_BUG_ON: the vCPU has run (3a6de51a437f), so the refresh returns at once")
    refresh_bug_passthru = spec.define(
        "refresh_bugs_vm_passed_through", {"v": V},
        (lambda v: passthru[v] & ~refresh_bug_run(v)) if sw["refresh_zeroes_nr"] else (lambda v: FALSE),
        doc="a PMU refresh now hits KVM_BUG_ON: the LBR MSRs are passed through (957d0f70e97b); nr is already 0")
    refresh_releases = spec.define(
        "refresh_releases", {"v": V, "go": BOOL},
        (lambda v, go: go & ~refresh_bug_run(v) & ~absent(v)) if sw["refresh_releases_event"]
        else (lambda v, go: FALSE),
        doc="the refresh resets the PMU first, releasing v's event (1647b52757d5)")
    k_refresh = kvm.transition(
        "pmu_refresh", {"v": V, "go": BOOL, "pmu": BOOL, "lbr": BOOL},
        updates=lambda v, go, pmu, lbr: [
            nr[v].becomes(ite(go & ~refresh_bug_run(v), ite(refresh_bug_passthru(v), FALSE, pmu & lbr)
                              if sw["refresh_zeroes_nr"] else ite(pmu, lbr, nr[v]), nr[v])),
            bugged().becomes(bugged() | (go & (refresh_bug_run(v) | refresh_bug_passthru(v)))),
            # kvm_pmu_reset, first thing in a refresh since 1647b52757d5, drops a pending cleanup
            *([req[v].becomes(req[v] & ~(go & ~refresh_bug_run(v)))] if sw["refresh_releases_event"] else []),
            *obs.mark("host_never_warns", go & (refresh_bug_run(v) | refresh_bug_passthru(v)))],
        doc="kvm_pmu_refresh: nr is non-zero iff a vPMU, the host's CPU model and LBR_FMT"
            + spec.text("refresh_zeroes_nr", " (zeroed first)", " (without a vPMU it returns early, nr unchanged)")
            + spec.text("refresh_after_run_bugs_vm", "; after KVM_RUN it WARNs and bugs the VM", ""),
    )
    host_dbg_supported = spec.define(
        "host_debugctl_supported", {"v": V, "lbr": BOOL},
        lambda v, lbr: implies(lbr, ~arch_host() if sw["no_lbr_fmt_on_arch_host"] else TRUE),
        doc="the DEBUGCTL value is one the host supports: the LBR bit only where KVM supports legacy LBR")
    host_dbg_accepted = spec.define(
        "host_debugctl_accepted", {"v": V, "lbr": BOOL},
        lambda v, lbr: host_dbg_supported(v, lbr) & (implies(lbr, nr[v]) if not sw["host_debugctl_ignores_cpuid"]
                                                     else TRUE),
        doc="a host-initiated DEBUGCTL write is accepted" + spec.text(
            "host_debugctl_ignores_cpuid", ": any value the host supports",
            ": the LBR bit only if guest LBR is enabled (guest CPUID and PERF_CAPABILITIES)"))
    k_host_dbg = kvm.transition(
        "host_set_debugctl", {"v": V, "p": P, "lbr": BOOL},
        guard=lambda v, p, lbr: in_host(v, p),
        updates=lambda v, p, lbr: [dbg[v].becomes(ite(host_dbg_accepted(v, lbr), lbr, dbg[v])),
                                   *([used[v].becomes(used[v] | (lbr & host_dbg_accepted(v, lbr) & nr[v]))]
                                     if delay else [])],
        doc="KVM_SET_MSRS writes DEBUGCTL: stored in the VMCS"
            + spec.text("host_debugctl_ignores_cpuid", " (the LBR bit accepted whatever the guest CPUID)",
                        " (the LBR bit refused unless guest LBR is enabled)") + "; the event is created if needed",
    )
    k_sched_in = kvm.transition(
        "sched_in_hook", {"v": V, "p": P},
        updates=lambda v, p: [
            req[v].becomes((~absent(v) & pmu_ok[v]) | req[v]),
            *([] if snap_at_entry else [snap[v].becomes(host_any(p) & ~regains(v, p))]),
        ],
        doc="kvm_arch_sched_in: a vPMU (version non-zero) with events: request a PMU cleanup" + (
            "" if snap_at_entry else "; vcpu_load snapshots the host DEBUGCTL"),
    )
    k_out = kvm.transition("preempted", {"v": V}, guard=lambda v: pc[v] != Pc.ACCESS,
                           updates=lambda v: [in_guest[v].becomes(False)],
                           doc="the thread is preempted (leaving guest mode first), never with interrupts off")
    k_exit = kvm.transition(
        "lbr_exit", {"v": V, "p": P, "fail": BOOL},
        guard=lambda v, p, fail: runs_on(v, p) & in_guest[v] & ~passthru[v] & nr[v] & (absent(v) | ~fail)
        & (TRUE if may_fail else ~fail),
        updates=lambda v, p, fail: [
            in_guest[v].becomes(False),
            pc[v].becomes(ite(exit_to_check(v, fail), Pc.CHECK, Pc.IDLE)),
        ],
        doc="VM-exit on an intercepted LBR MSR access; with no event KVM creates one (fail: creation fails)"
            + spec.text("create_test_fixed", ", a failed creation is a dummy access",
                        "; the inverted test sends a created event to the dummy path and a failed creation on"),
    )
    k_check = kvm.transition(
        "lbr_check", {"v": V, "p": P}, guard=lambda v, p: runs_on(v, p) & (pc[v] == Pc.CHECK),
        updates=lambda v, p: [pc[v].becomes(ite(owns(v, p), Pc.ACCESS, Pc.IDLE)),
                              *obs.mark("host_never_oopses", absent(v))],
        doc="interrupts off; the event is active: the access goes to the hardware; else a dummy access, interrupts on",
    )
    k_access = kvm.transition(
        "lbr_access", {"v": V, "p": P}, guard=lambda v, p: runs_on(v, p) & (pc[v] == Pc.ACCESS),
        updates=lambda v, p: [pc[v].becomes(Pc.IDLE)],
        doc="rdmsr/wrmsr on the physical LBR MSR (bit 58 in use), then interrupts on")
    k_dbg = kvm.transition(
        "debugctl_exit", {"v": V, "p": P, "lbr": BOOL, "fail": BOOL},
        guard=lambda v, p, lbr, fail: runs_on(v, p) & in_guest[v] & nr[v] & (lbr & absent(v) | ~fail)
        & (TRUE if may_fail else ~fail),
        updates=lambda v, p, lbr, fail: [
            in_guest[v].becomes(False), dbg[v].becomes(lbr),
            *([frozen[v].becomes(False)] if freeze_kept else []),
            *([used[v].becomes(used[v] | lbr)] if delay else []),
        ],
        doc="VM-exit on a guest DEBUGCTL write: the VMCS field written; with LBR set and no event, the event is "
            "created (a failure is ignored)",
    )
    k_vpmi = kvm.transition(
        "virtual_pmi", {"v": V, "p": P}, guard=lambda v, p: runs_on(v, p) & in_guest[v] & dbg[v] & nr[v] & pmu_ok[v],
        updates=lambda v, p: [in_guest[v].becomes(False), dbg[v].becomes(False),
                              *([frozen[v].becomes(True)] if freeze_kept else [])],
        doc="a guest counter overflows: VM-exit for the host PMI, KVM injects a virtual PMI and, the guest having "
            "FREEZE_LBRS_ON_PMI, clears its DEBUGCTL.LBR (e6209a3bef79)",
    )
    k_vmenter = kvm.transition(
        "vmenter", {"v": V, "p": P}, guard=lambda v, p: in_host(v, p),
        updates=lambda v, p: [
            in_guest[v].becomes(True), req[v].becomes(False),
            passthru[v].becomes(ite(nr[v], owns_after(v, p), passthru[v])),
            *([snap[v].becomes(host_any(p) & ~owns_after(v, p))] if snap_at_entry else []),
            *([used[v].becomes(used[v] & ~(req[v] & ~absent(v) & ~dbg[v]))] if delay else []),
        ],
        doc="vcpu_enter_guest: service the PMU request (release the event if DEBUGCTL.LBR is clear), "
            + spec.text("debugctl_snapshot_at_entry", "snapshot the host DEBUGCTL with interrupts off, ", "")
            + "if guest LBR is enabled, pass the LBR MSRs through iff the event exists and is active, enter the guest",
    )
    k_direct = kvm.transition(
        "direct_access", {"v": V, "p": P}, guard=lambda v, p: runs_on(v, p) & in_guest[v] & passthru[v],
        doc="the guest touches a passed-through LBR MSR: no VM-exit")
    k_reset = kvm.transition(
        "reset", {"v": V, "p": P}, guard=lambda v, p: in_host(v, p),
        updates=lambda v, p: [dbg[v].becomes(False), req[v].becomes(False),
                              *([used[v].becomes(False)] if delay else []),
                              *([frozen[v].becomes(False)] if freeze_kept else [])],
        doc="vCPU reset: DEBUGCTL is 0 again and intel_pmu_reset releases the event")
    k_ipi_exit = kvm.transition("ipi_exit", {"p": P},
                                updates=lambda p: [in_guest.becomes_all(lambda w: in_guest[w] & ~runs_on(w, p))],
                                doc="an IPI to p forces the vCPU running there out of guest mode")

    # -- vlbr_event -----------------------------------------------------------------------------
    e_create = vlbr.transition(
        "create_at_access", {"v": V, "p": P, "fail": BOOL},
        updates=lambda v, p, fail: [ev[v].becomes(ite(creates(v) | reenables(v, p), new_state(v, p, fail), ev[v]))],
        doc="perf_event_create_kernel_counter, pinned to the vCPU thread: scheduled on p at once"
            + (", unless a host CPU-pinned LBR event holds it (error state); an event in error state is re-enabled"
               if pinned_first else ""),
    )
    e_create_dbg = vlbr.transition(
        "create_at_debugctl", {"v": V, "p": P, "go": BOOL, "fail": BOOL},
        updates=lambda v, p, go, fail: [ev[v].becomes(ite(go & creates(v) & ~fail,
                                                          ite(may_take(p), Ev.ACTIVE, Ev.ERROR), ev[v]))],
        doc="a DEBUGCTL write with LBR set creates the event if guest LBR is enabled and there is none")
    e_sched_in = vlbr.transition(
        "sched_in", {"v": V, "p": P},
        updates=lambda v, p: [ev[v].becomes(ite(ev[v] == Ev.INACTIVE, ite(may_take(p), Ev.ACTIVE, Ev.ERROR), ev[v]))],
        doc="perf schedules the thread's pinned vLBR event in")
    e_sched_out = vlbr.transition("sched_out", {"v": V},
                                  updates=lambda v: [ev[v].becomes(ite(ev[v] == Ev.ACTIVE, Ev.INACTIVE, ev[v]))],
                                  doc="perf schedules the event out with its thread")
    e_release = vlbr.transition("release_at_entry", {"v": V},
                                updates=lambda v: [ev[v].becomes(ite(releases(v), Ev.FREED, ev[v])),
                                                   *obs.mark("no_release_while_guest_uses_lbr", releases(v) & dbg[v])],
                                doc="the PMU cleanup releases the event (DEBUGCTL.LBR clear)")
    e_refresh = vlbr.transition("release_at_refresh", {"v": V, "go": BOOL},
                                updates=lambda v, go: [ev[v].becomes(ite(refresh_releases(v, go), Ev.FREED, ev[v]))],
                                doc="kvm_pmu_refresh resets the PMU first: intel_pmu_reset releases the event "
                                    "(1647b52757d5)")
    e_reset = vlbr.transition("release_at_reset", {"v": V},
                              updates=lambda v: [ev[v].becomes(ite(absent(v), ev[v], Ev.FREED))],
                              doc="intel_pmu_reset releases the event")
    e_preempt = vlbr.transition(
        "preempt_on", {"h": H, "p": P},
        updates=lambda h, p: [ev.becomes_all(lambda w: ite(owns(w, p) & (target[h] == Target("pinned", p)), Ev.ERROR,
                                                           ev[w]))] if pinned_first else [],
        doc="the install of a host CPU-pinned LBR event " + (
            "preempts the vLBR event on p: error state (proposal)" if pinned_first
            else "leaves the vLBR event alone: counter 58 does not conflict"))

    # -- host -----------------------------------------------------------------------------------
    common.host_open_pinned(host, hu, target)
    common.host_open_flex(host, hu, target, outranked_by="host CPU-pinned events")
    flex_may = spec.define("flex_may_take", {"h": H, "p": P},
                           lambda h, p: ~exists(H, lambda h2: (h2 != h) & host_on(h2, p))
                           & (~vlbr_on(p) if pinned_first else TRUE),
                           doc="a CPU-flexible event gets p's LBR: no other host LBR event there"
                               + (" and no vLBR event (proposal)" if pinned_first else ""))
    h_ipi = host.transition(
        "ipi_install", {"h": H, "p": P},
        guard=lambda h, p: (hu[h] == Hu.IPI) & ((target[h] == Target("pinned", p)) | (target[h] == Target("flex", p)))
        & ~exists(V, lambda w: runs_on(w, p) & (pc[w] == Pc.ACCESS)),
        updates=lambda h, p: [hu.becomes_all(lambda h2: ite(
            h2 == h,
            ite(target[h] == Target("flex", p), ite(flex_may(h, p), Hu.ACTIVE, Hu.INACTIVE),
                ite(pinned_holds(p), Hu.FAILED, Hu.ACTIVE)),
            ite(host_on(h2, p) & (target[h2] == Target("flex", p)) & (target[h] == Target("pinned", p))
                & ~pinned_holds(p), Hu.INACTIVE, hu[h2])))],
        doc="the install IPI is handled on p (interrupts enabled): a CPU-pinned event is scheduled (a flexible one "
            "there loses the LBR), a CPU-flexible one if the LBR is free to it")
    h_flex = host.transition(
        "flex_resched", {"h": H, "p": P},
        guard=lambda h, p: (hu[h] == Hu.INACTIVE) & (target[h] == Target("flex", p)) & flex_may(h, p)
        & ~exists(V, lambda w: runs_on(w, p) & (pc[w] == Pc.ACCESS)),
        updates=lambda h, p: [hu[h].becomes(Hu.ACTIVE)],
        doc="perf schedules a waiting CPU-flexible event onto p's LBR")
    h_vlbr_takes = host.transition(
        "vlbr_outranks_flex", {"v": V, "p": P, "now": BOOL},
        updates=lambda v, p, now: [hu.becomes_all(lambda h: ite(
            now & host_on(h, p) & (target[h] == Target("flex", p)), Hu.INACTIVE, hu[h]))] if pinned_first else [],
        doc="the task-pinned vLBR event taking p's LBR " + (
            "deschedules a CPU-flexible host event there (proposal)" if pinned_first
            else "leaves host events scheduled: perf only stops enabling the LBR for them"))
    h_rank = host.transition(
        "perf_ranks", {"p": P, "vlbr_takes": BOOL, "pinned_takes": BOOL},
        doc="perf's ranking on p at this step: a vLBR event is scheduled there (vlbr_takes), or a host CPU-pinned "
            "LBR event is (pinned_takes); observed by I8, changes nothing")
    h_sample = common.host_sample(
        host, hu, states=(Hu.ACTIVE,), obs=obs,
        sees_guest=lambda h: exists(P, lambda p: host_on(h, p) & ~vlbr_on(p) & (rec[p].is_("vcpu") | sel[p].is_("vcpu"))))
    h_close = common.host_close(host, hu, target)

    # -- lbr_hw ---------------------------------------------------------------------------------
    def host_resumes(v, p):  # a VM-exit writes the snapshot back: with LBR set, the host records again
        return runs_on(v, p) & in_guest[v] & snap[v]

    def host_gets(h, p):  # h's install gives it the LBR, enabled for host recording
        return (hu[h] == Hu.IPI) & (
            ((target[h] == Target("pinned", p)) & ~pinned_holds(p) & (TRUE if pinned_first else ~vlbr_on(p)))
            | ((target[h] == Target("flex", p)) & flex_may(h, p) & ~vlbr_on(p)))

    l_exit = lbr_hw.transition(
        "exit_restores_host", {"v": V, "p": P},
        updates=lambda v, p: [rec[p].becomes(ite(host_resumes(v, p), Tag.host, rec[p]))],
        doc="VM-exit clears DEBUGCTL and KVM writes back its snapshot: with LBR set the LBR records host branches")
    l_access = lbr_hw.transition(
        "reset_at_access", {"v": V, "p": P, "fail": BOOL, "prog": BOOL},
        updates=lambda v, p, fail, prog: [
            rec[p].becomes(ite(fresh(v, p, fail), Tag.none, ite(host_resumes(v, p), Tag.host, rec[p]))),
            sel[p].becomes(ite(fresh(v, p, fail), Tag.none, ite(prog, Tag("vcpu", v), sel[p]))),
        ],
        doc="VM-exit (the snapshot written back); a new event that is the LBR's first user and never ran: perf resets "
            "the records and LBR_SELECT; the guest programs LBR_SELECT (prog)")
    l_prog = lbr_hw.transition("guest_programs", {"v": V, "p": P},
                               updates=lambda v, p: [sel[p].becomes(Tag("vcpu", v))],
                               doc="the guest's access programs LBR_SELECT with its own filter (U2)")
    l_entry = lbr_hw.transition(
        "record_at_entry", {"v": V, "p": P},
        updates=lambda v, p: [
            rec[p].becomes(ite(dbg[v], Tag("vcpu", v), ite(releases(v) & (ev[v] == Ev.ACTIVE) & host_any(p), Tag.host,
                                                              rec[p]))),
            sel[p].becomes(ite(releases(v) & (ev[v] == Ev.ACTIVE) & host_any(p), Tag.host, sel[p])),
        ],
        doc="VM-entry loads the guest DEBUGCTL: with LBR set, guest branches are recorded in p's LBR whoever has it; "
            "a released event gives the LBR back to a host event there")
    l_sched_in = lbr_hw.transition(
        "restore", {"v": V, "p": P},
        updates=lambda v, p: [
            rec[p].becomes(ite(regains(v, p), saved_rec[v], rec[p])),
            sel[p].becomes(ite(regains(v, p), saved_sel[v], sel[p]) if sw["lbr_select_ctxsw"] else sel[p]),
        ],
        doc="sched-in: perf restores the vLBR event's LBR stack" + spec.text(
            "lbr_select_ctxsw", " and LBR_SELECT (5863702561e6)", " but not LBR_SELECT"))
    l_sched_out = lbr_hw.transition(
        "host_resumes_at_out", {"v": V, "p": P},
        updates=lambda v, p: [rec[p].becomes(ite(owns(v, p) & host_any(p), Tag.host, ite(host_resumes(v, p), Tag.host,
                                                                                         rec[p]))),
                              sel[p].becomes(ite(owns(v, p) & host_any(p), Tag.host, sel[p]))],
        doc="sched-out: a host LBR event on p gets the LBR enabled again and programs it (U1)")
    l_install = lbr_hw.transition(
        "install_host", {"h": H, "p": P},
        updates=lambda h, p: [
            rec[p].becomes(ite(host_gets(h, p), Tag.host,
                               ite(exists(V, lambda w: host_resumes(w, p)), Tag.host, rec[p]))),
            sel[p].becomes(ite(host_gets(h, p), Tag.host, sel[p])),
        ],
        doc="a host event that gets the LBR enabled programs it (U1)")
    l_flex = lbr_hw.transition(
        "flex_programs", {"h": H, "p": P},
        updates=lambda h, p: [rec[p].becomes(ite(vlbr_on(p), rec[p], Tag.host)),
                              sel[p].becomes(ite(vlbr_on(p), sel[p], Tag.host))],
        doc="a CPU-flexible host event that gets the LBR enabled programs it (U1)")
    l_refresh = lbr_hw.transition(
        "host_resumes_at_refresh", {"v": V, "p": P, "go": BOOL},
        updates=lambda v, p, go: [rec[p].becomes(ite(refresh_releases(v, go) & owns(v, p) & host_any(p), Tag.host, rec[p])),
                                  sel[p].becomes(ite(refresh_releases(v, go) & owns(v, p) & host_any(p), Tag.host, sel[p]))],
        doc="an event the refresh released gives the LBR back to a host event on p")
    l_reset = lbr_hw.transition(
        "host_resumes_at_reset", {"v": V, "p": P},
        updates=lambda v, p: [rec[p].becomes(ite(owns(v, p) & host_any(p), Tag.host, rec[p])),
                              sel[p].becomes(ite(owns(v, p) & host_any(p), Tag.host, sel[p]))],
        doc="a released event gives the LBR back to a host event on p")

    # -- lbr_ctxsw and guest --------------------------------------------------------------------
    c_save = ctxsw.transition(
        "save", {"v": V, "p": P},
        updates=lambda v, p: [saved_rec[v].becomes(ite(owns(v, p), rec[p], saved_rec[v])),
                              *([saved_sel[v].becomes(ite(owns(v, p), sel[p], saved_sel[v]))]
                                if sw["lbr_select_ctxsw"] else [])],
        doc="sched-out: perf saves the vLBR event's LBR stack" + spec.text("lbr_select_ctxsw", " and LBR_SELECT", ""))
    c_drop_entry = ctxsw.transition(
        "drop_at_release", {"v": V},
        updates=lambda v: [saved_rec[v].becomes(ite(releases(v), Tag.none, saved_rec[v])),
                           *([saved_sel[v].becomes(ite(releases(v), Tag.none, saved_sel[v]))]
                             if sw["lbr_select_ctxsw"] else [])],
        doc="a released event's saved LBR state goes with it")
    c_drop_refresh = ctxsw.transition(
        "drop_at_refresh", {"v": V, "go": BOOL},
        updates=lambda v, go: [saved_rec[v].becomes(ite(refresh_releases(v, go), Tag.none, saved_rec[v])),
                               *([saved_sel[v].becomes(ite(refresh_releases(v, go), Tag.none, saved_sel[v]))]
                                 if sw["lbr_select_ctxsw"] else [])],
        doc="an event the refresh released takes its saved LBR state with it")
    c_drop = ctxsw.transition(
        "drop", {"v": V}, updates=lambda v: [saved_rec[v].becomes(Tag.none),
                                             *([saved_sel[v].becomes(Tag.none)] if sw["lbr_select_ctxsw"] else [])],
        doc="reset releases the event and its saved state")
    c_new = ctxsw.transition(
        "new_event", {"v": V, "go": BOOL},
        updates=lambda v, go: [saved_rec[v].becomes(ite(go, Tag.none, saved_rec[v])),
                               *([saved_sel[v].becomes(ite(go, Tag.none, saved_sel[v]))]
                                 if sw["lbr_select_ctxsw"] else [])],
        doc="a new event starts with nothing saved")
    g_read = guest.transition("read", {"v": V, "p": P, "r": Read},
                              updates=lambda v, p, r: [
                                  *obs.mark("guest_never_reads_foreign",
                                            (r == Read.REAL) & (foreign(v, rec[p]) | foreign(v, sel[p]))),
                                  *obs.mark("guest_records_survive_resched",
                                            kept[v] & (r != Read.NONE) & ~((r == Read.REAL) & (rec[p] == Tag("vcpu", v))))],
                              doc="the guest reads the LBR records and LBR_SELECT: the hardware's, or a dummy access's 0")
    g_out = guest.transition("remember", {"v": V, "p": P},
                             updates=lambda v, p: [kept[v].becomes(owns(v, p) & (rec[p] == Tag("vcpu", v))),
                                                   kept_sel[v].becomes(owns(v, p) & (sel[p] == Tag("vcpu", v)))],
                             doc="ghost: at sched-out, remember whether the LBR held the guest's own records")
    g_reset = guest.transition("forget", {"v": V}, updates=lambda v: [kept[v].becomes(False), froze[v].becomes(False),
                                                                       kept_sel[v].becomes(False)],
                               doc="ghost: a reset loses the records legitimately")
    g_froze = guest.transition("frozen", {"v": V, "now": BOOL}, updates=lambda v, now: [froze[v].becomes(now)],
                               doc="ghost: a freeze kept the guest's own records (now), or a DEBUGCTL write ends it")

    # -- synchronised steps -------------------------------------------------------------------
    spec.sync("kvm_set_cpuid", {"v": V, "p": P, "ok": BOOL},
              lambda v, p, ok: [u_cpuid(v, p, ok), k_refresh(v, TRUE, ok, caps[v]), e_refresh(v, TRUE),
                                l_refresh(v, p, TRUE), c_drop_refresh(v, TRUE)],
              doc="userspace sets the vCPU's CPUID (before the first KVM_RUN); KVM refreshes the PMU")
    spec.sync("kvm_set_perf_caps", {"v": V, "p": P, "lbr": BOOL},
              lambda v, p, lbr: [u_caps(v, p, lbr), k_refresh(v, caps_refresh(v, lbr), pmu_ok[v], lbr),
                                 e_refresh(v, caps_refresh(v, lbr)), l_refresh(v, p, caps_refresh(v, lbr)),
                                 c_drop_refresh(v, caps_refresh(v, lbr))],
              doc="userspace writes PERF_CAPABILITIES; if accepted and changed, KVM refreshes the PMU")
    spec.sync("host_set_debugctl", {"v": V, "p": P, "lbr": BOOL},
              lambda v, p, lbr: [k_host_dbg(v, p, lbr), e_create_dbg(v, p, lbr & host_dbg_accepted(v, lbr), FALSE),
                                 h_vlbr_takes(v, p, lbr & host_dbg_accepted(v, lbr) & creates(v) & may_take(p)),
                                 h_rank(p, lbr & host_dbg_accepted(v, lbr) & creates(v) & may_take(p), FALSE),
                                 l_access(v, p, ~(lbr & host_dbg_accepted(v, lbr)) | ~creates(v), FALSE),
                                 c_new(v, lbr & host_dbg_accepted(v, lbr) & creates(v)),
                                 g_froze(v, froze[v] & ~host_dbg_accepted(v, lbr))],
              doc="userspace writes DEBUGCTL (KVM_SET_MSRS, from the vCPU thread)")
    spec.sync("sched_in", {"v": V, "p": P},
              lambda v, p: [sched.switch_in(v, p), e_sched_in(v, p), h_vlbr_takes(v, p, regains(v, p)),
                            h_rank(p, regains(v, p), FALSE),
                            l_sched_in(v, p), k_sched_in(v, p)],
              doc="vCPU thread v is scheduled in on p: perf schedules its vLBR event and restores its LBR state; "
                  "KVM's sched-in hook")
    spec.sync("sched_out", {"v": V, "p": P},
              lambda v, p: [sched.switch_out(v), k_out(v), e_sched_out(v), c_save(v, p), l_sched_out(v, p),
                            g_out(v, p)],
              guard=lambda v, p: cpu[v] == p,
              doc="vCPU thread v is scheduled out of p: perf saves its LBR state; a host LBR event there gets the LBR")
    spec.sync("guest_lbr_exit", {"v": V, "p": P, "fail": BOOL},
              lambda v, p, fail: [k_exit(v, p, fail), e_create(v, p, fail),
                                  h_vlbr_takes(v, p, takes_now(v, p, fail)), h_rank(p, takes_now(v, p, fail), FALSE),
                                  l_access(v, p, fail, FALSE), c_new(v, creates(v) & ~fail),
                                  g_read(v, p, ite(exit_to_check(v, fail), Read.NONE, Read.ZERO))],
              doc="the guest touches an intercepted LBR MSR: VM-exit; KVM creates the vLBR event if absent")
    spec.sync("kvm_lbr_check", {"v": V, "p": P},
              lambda v, p: [k_check(v, p), g_read(v, p, ite(owns(v, p), Read.NONE, Read.ZERO))],
              doc="interrupts off: the event active, the access goes on; else a dummy access (0, dropped)")
    spec.sync("kvm_lbr_access", {"v": V, "p": P},
              lambda v, p: [k_access(v, p), g_read(v, p, Read.REAL), l_prog(v, p)],
              doc="KVM performs the guest's access on the physical LBR MSRs, interrupts off")
    spec.sync("guest_lbr_direct", {"v": V, "p": P},
              lambda v, p: [k_direct(v, p), g_read(v, p, Read.REAL), l_prog(v, p)],
              doc="the guest accesses passed-through LBR MSRs directly")
    spec.sync("guest_debugctl", {"v": V, "p": P, "lbr": BOOL, "fail": BOOL},
              lambda v, p, lbr, fail: [k_dbg(v, p, lbr, fail), e_create_dbg(v, p, lbr, fail),
                                       h_vlbr_takes(v, p, lbr & creates(v) & ~fail & may_take(p)),
                                       h_rank(p, lbr & creates(v) & ~fail & may_take(p), FALSE),
                                       l_access(v, p, ~lbr | ~creates(v) | fail, FALSE),
                                       c_new(v, lbr & creates(v) & ~fail), g_froze(v, FALSE)],
              doc="the guest writes DEBUGCTL: VM-exit; KVM writes the VMCS field and creates the event if needed")
    spec.sync("virtual_pmi", {"v": V, "p": P}, lambda v, p: [k_vpmi(v, p), l_exit(v, p),
                                                                g_froze(v, owns(v, p) & (rec[p] == Tag("vcpu", v)))],
              doc="a guest counter overflows: virtual PMI, the freeze clears the guest's DEBUGCTL.LBR")
    spec.sync("vmenter", {"v": V, "p": P},
              lambda v, p: [k_vmenter(v, p), u_run(v), e_release(v), l_entry(v, p), c_drop_entry(v)],
              doc="vcpu_enter_guest: the PMU request, the pass-through decision, VM-entry")
    spec.sync("vcpu_reset", {"v": V, "p": P},
              lambda v, p: [k_reset(v, p), e_reset(v), l_reset(v, p), c_drop(v), g_reset(v)],
              doc="the vCPU is reset: DEBUGCTL cleared, the vLBR event released")
    spec.sync("host_ipi", {"h": H, "p": P},
              lambda h, p: [h_ipi(h, p), e_preempt(h, p), k_ipi_exit(p), l_install(h, p),
                            h_rank(p, FALSE, (hu[h] == Hu.IPI) & (target[h] == Target("pinned", p)) & ~pinned_holds(p))],
              doc="the install IPI of a host CPU-wide LBR event is handled on p")
    spec.sync("host_flex_resched", {"h": H, "p": P}, lambda h, p: [h_flex(h, p), k_ipi_exit(p), l_flex(h, p)],
              doc="perf gives a waiting CPU-flexible host event p's LBR")
    spec.sync("host_close", {"h": H, "p": P}, lambda h, p: [h_close(h), k_ipi_exit(p)],
              guard=lambda h, p: (target[h] == Target("pinned", p)) | (target[h] == Target("flex", p)),
              doc="the host user exits: perf removes its event on p by IPI")

    # -- properties ------------------------------------------------------------------------------
    spec.invariant(
        "passthrough_iff_active",
        forall(V, lambda v: forall(P, lambda p: implies(runs_on(v, p) & in_guest[v], passthru[v] == owns(v, p)))),
        doc="I1: in guest mode, the LBR MSRs are passed through iff the vLBR event exists and is active.\n"
            "Pass-through is decided at every VM-entry with interrupts off; whatever changes the event's state on "
            "that pCPU comes by IPI and forces a VM-exit first.")
    spec.invariant(
        "kvm_touches_lbr_only_when_active",
        forall(V, lambda v: forall(P, lambda p: implies(runs_on(v, p) & (pc[v] == Pc.ACCESS), owns(v, p)))),
        doc="I2: KVM touches a physical LBR MSR only inside an interrupts-off region that saw the event active.")
    spec.step_invariant(
        "guest_reads_own_or_zero", g_read,
        lambda v, p, r: implies(r == Read.REAL, ~foreign(v, rec[p]) & ~foreign(v, sel[p])),
        doc="I3: a guest read returns the guest's own LBR data or 0, never the host's or another vCPU's.")
    spec.invariant(
        "vlbr_event_only_with_lbr_enabled",
        forall(V, lambda v: implies(~absent(v), nr[v])),
        doc="A vLBR event exists only while guest LBR is enabled (nr non-zero): a refresh that turns it off "
            "releases the event (1647b52757d5), which would otherwise keep the LBR from host events for a guest that "
            "cannot use it.")
    spec.invariant(
        "lbr_enabled_only_when_consistent",
        forall(V, lambda v: implies(nr[v] & ~bugged(), caps[v] & pmu_ok[v] & ~arch_host())),
        doc="I4: nr > 0 only with a matching LBR_FMT, a vPMU with a consistent CPU model, and legacy LBR (in a VM "
            "that can still run: a refresh that bugs the VM returns before it updates nr).")
    spec.step_invariant(
        "release_only_with_debugctl_lbr_clear", e_release, lambda v: implies(releases(v), ~dbg[v]),
        doc="I5: the cleanup releases the event only with the guest's DEBUGCTL.LBR clear (reset releases it too).")
    spec.step_invariant(
        "no_refresh_after_run", k_refresh, lambda v, go, pmu, lbr: implies(go, ~ran[v] & ~passthru[v]),
        doc="I6: no PMU refresh while the LBR MSRs are passed through or after the first KVM_RUN.")
    spec.step_invariant(
        "records_kept_across_resched", g_read,
        lambda v, p, r: implies(kept[v] & (r != Read.NONE), (r == Read.REAL) & (rec[p] == Tag("vcpu", v))),
        doc="I7 (desired, not guaranteed): the LBR records the guest had when its vCPU was switched out are the "
            "ones it reads afterwards.")
    spec.step_invariant(
        "host_pinned_wins", h_rank,
        lambda p, vlbr_takes, pinned_takes: ~(vlbr_takes & pinned_holds(p))
        & ~(pinned_takes & vlbr_on(p) & (FALSE if pinned_first else TRUE)),
        doc="I8 (desired, not guaranteed; perf's own rule): a host CPU-pinned LBR event wins over the guest's: no "
            "vLBR event is scheduled on a pCPU where one holds the LBR, and installing one there takes the LBR from "
            "the vLBR event.\n"
            "A step invariant, so that the states where both are scheduled are explored further.")
    spec.step_invariant(
        "lbr_select_restored", l_sched_in,
        lambda v, p: implies(regains(v, p) & kept_sel[v],
                             (saved_sel[v] if sw["lbr_select_ctxsw"] else sel[p]) == Tag("vcpu", v)),
        doc="When the vLBR event gets the LBR back at sched-in, LBR_SELECT holds the filter the guest had programmed "
            "(5863702561e6).")
    spec.step_invariant(
        "records_kept_after_freeze", g_read,
        lambda v, p, r: implies(froze[v] & (r != Read.NONE), (r == Read.REAL) & (rec[p] == Tag("vcpu", v))),
        doc="I7 where it matters most: after a virtual PMI's freeze, the guest's PMI handler reads the records the "
            "freeze kept, even across a reschedule of its vCPU (what the keep-on-freeze proposal is for).")
    spec.invariant(
        "one_vlbr_per_pcpu",
        forall(P, lambda p: forall(V, lambda v: forall(V, lambda w: implies(owns(v, p) & owns(w, p), v == w)))),
        doc="At most one vLBR event is active per pCPU (the fake fixed counter 58).")
    spec.step_invariant(
        "host_no_oops", k_check, lambda v, p: ~absent(v),
        doc="The handler's interrupts-off check always finds an event (no NULL dereference).")
    spec.invariant(
        "host_debugctl_restored",
        forall(V, lambda v: forall(P, lambda p: implies(runs_on(v, p) & in_guest[v], snap[v] == perf_lbr(p)))),
        doc="The host DEBUGCTL.LBR that KVM will write back at the next VM-exit is what perf wants on that pCPU.")
    spec.step_invariant(
        "host_debugctl_write_accepted", k_host_dbg,
        lambda v, p, lbr: implies(host_dbg_supported(v, lbr), host_dbg_accepted(v, lbr)),
        doc="Userspace can restore any DEBUGCTL value the host supports, in any order with CPUID and "
            "PERF_CAPABILITIES.")
    spec.step_invariant(
        "host_sees_no_guest_branches", h_sample,
        lambda h: ~exists(P, lambda p: host_on(h, p) & ~vlbr_on(p) & (rec[p].is_("vcpu") | sel[p].is_("vcpu"))),
        doc="No host LBR user samples guest branch records or a guest LBR_SELECT.")

    # -- the comparison of designs (lbrspec compare) ------------------------------------------------
    obs.state("kvm_never_touches_unowned_lbr", obs.unowned(runs_on, owns, lambda v: pc[v] == Pc.ACCESS))
    obs.state("passthrough_only_when_owned", obs.unowned(runs_on, owns, lambda v: in_guest[v] & passthru[v]))
    obs.state("host_pinned_keeps_lbr", obs.host_pinned_loses(hu, target, vlbr_on))

    # -- goals ---------------------------------------------------------------------------------
    spec.goal("passthrough_reached", exists(V, lambda v: exists(P, lambda p: runs_on(v, p) & in_guest[v]
                                                                 & passthru[v] & (rec[p] == Tag("vcpu", v)))),
              doc="A guest runs with its LBR MSRs passed through and its own records in the LBR.")
    spec.goal("ipi_in_irqoff_window",
              exists(H, lambda h: exists(P, lambda p: (hu[h] == Hu.IPI) & exists(
                  V, lambda v: runs_on(v, p) & (pc[v] == Pc.ACCESS) & ((target[h] == Target("pinned", p))
                                                                        | (target[h] == Target("flex", p)))))),
              doc="A host install IPI waits while KVM is inside its interrupts-off access.")
    spec.goal("event_released_and_recreated", lambda v, p, fail: (ev[v] == Ev.FREED) & nr[v] & ~fail, on=e_create,
              doc="A released vLBR event is created again by a later access.")
    spec.goal("migration_with_live_event", lambda v, p: (cpu[v] != p) & ev[v].in_(Ev.ACTIVE, Ev.INACTIVE),
              on=sched.switch_in, doc="A vCPU thread with a live vLBR event moves to another pCPU.")
    if may_fail:
        spec.goal("dummy_access", lambda v, p, fail: nr[v] & absent(v) & fail, on=k_exit,
                  doc="An intercepted LBR access is a dummy access (reads 0): creating the event failed.")
    spec.goal("freeze_clears_lbr", lambda v, p: ~absent(v), on=k_vpmi,
              doc="A virtual PMI's freeze clears the DEBUGCTL.LBR of a guest with a vLBR event.")
    spec.goal("freeze_with_own_records", lambda v, p: owns(v, p) & (rec[p] == Tag("vcpu", v)), on=k_vpmi,
              doc="A virtual PMI's freeze stops the LBR with the guest's own records in it (the after-freeze "
                  "property is not vacuous).")
    spec.goal("caps_refused_after_run", lambda v, p, lbr: ran[v] & (caps[v] != lbr) & ~caps_accepted(v, lbr),
              on=u_caps, doc="A PERF_CAPABILITIES change after the first KVM_RUN is refused.")
    spec.goal("guest_lbr_on_arch_host_refused", lambda v, p, lbr: arch_host() & pmu_ok[v] & lbr & ~caps_accepted(v, lbr),
              on=u_caps, doc="LBR_FMT is refused on a host with architectural LBR.")
    spec.goal("reset_with_live_event", lambda v, p: ~absent(v), on=k_reset,
              doc="A vCPU is reset while it has a vLBR event.")
    spec.goal("host_user_has_lbr", exists(H, lambda h: exists(P, lambda p: host_on(h, p) & ~vlbr_on(p)
                                                                 & (rec[p] == Tag.host))),
              doc="A host LBR user has the LBR enabled and its records in it.")
    spec.goal("records_restored_after_resched", lambda v, p: kept[v] & (rec[p] == Tag("vcpu", v)),
              on=k_direct, doc="A guest reads its own records after its vCPU was switched out and in (I7 not vacuous).")
    return spec.build()


# -- liveness ----------------------------------------------------------------------------------
def liveness(model: Model) -> tuple[Liveness, ...]:
    """Liveness with its fairness: the scheduler and the vCPU thread's progress are strongly
    fair (as in guest_lbr: a thread may be preempted anywhere its interrupts are on), IPI
    delivery weakly fair; a guest that keeps using LBR touches an intercepted LBR MSR sooner or
    later with a creation that succeeds."""
    var = model.var
    defs = {d.name: d for d in model.definitions}
    running, in_guest, passthru, dbg, nr, hu, ev = (
        var(n) for n in ("running", "in_guest", "passthru", "dbg", "nr", "hu", "ev"))
    absent = defs["absent"]
    no_host_user = forall(H, lambda h: hu[h] == Hu.OFF)
    names = {a.name for a in model.actions}

    def platform(v):
        return [f for f in [
            ("sched_in", STRONG, ("v",), {}, "scheduler: a runnable thread gets a pCPU again and again"),
            ("sched_out", STRONG, ("v",), {}, "scheduler: every time slice ends"),
            ("host_ipi", WEAK, ("h",), {}, "IPI delivery"),
            ("vmenter", STRONG, ("v",), {}, "KVM progress: a running thread re-enters its guest"),
            ("kvm_lbr_check", STRONG, ("v",), {}, "KVM progress: the handler goes on"),
            ("kvm_lbr_access", STRONG, ("v",), {}, "KVM progress: the access finishes"),
        ] if f[0] in names]

    def keeps_using(v):
        return [("guest_lbr_exit", STRONG, (), {"v": v, "fail": False},
                 "the guest keeps using LBR, and creating the event does not fail for ever"),
]

    host_away = [("host_open_pinned", {}), ("host_open_flex", {}), ("kvm_set_cpuid", {}), ("kvm_set_perf_caps", {})]
    guest_quiet = lambda v: [("guest_lbr_exit", {"v": v}), ("guest_lbr_direct", {"v": v}),
                             ("guest_debugctl", {"v": v}), ("host_set_debugctl", {"v": v})]
    props = (
        leads_to(
            "passthrough_when_lbr_on", {"v": V},
            lambda v: nr[v] & no_host_user & dbg[v],
            lambda v: running[v] & in_guest[v] & passthru[v],
            doc="With guest LBR enabled, DEBUGCTL.LBR set and no host LBR user, a guest that keeps using LBR runs "
                "with pass-through.\n"
                "DEBUGCTL.LBR set keeps the cleanup from releasing the event; without it, a guest whose accesses "
                "always straddle a sched-in has its event released at every VM-entry and never gets pass-through.",
            quiet=lambda v: host_away + [("vcpu_reset", {"v": v}), ("host_set_debugctl", {"v": v}),
                                         ("guest_debugctl", {"v": v, "lbr": False}), ("virtual_pmi", {"v": v})],
            fairness=lambda v: platform(v) + keeps_using(v)),
        leads_to(
            "lbr_regained_after_host_leaves", {"v": V},
            lambda v: nr[v] & no_host_user & (ev[v] == Ev.ERROR) & dbg[v],
            lambda v: running[v] & in_guest[v] & passthru[v],
            doc="A vLBR event that a host CPU-pinned event put in error state (only where that event outranks it: "
                "the proposal) comes back once no host LBR user is left, and a guest with DEBUGCTL.LBR set runs with "
                "pass-through.",
            quiet=lambda v: host_away + [("vcpu_reset", {"v": v}), ("host_set_debugctl", {"v": v}),
                                         ("guest_debugctl", {"v": v, "lbr": False}), ("virtual_pmi", {"v": v})],
            fairness=lambda v: platform(v) + keeps_using(v)),
        leads_to(
            "unused_event_is_released", {"v": V},
            lambda v: ~absent(v) & ~dbg[v], absent,
            doc="A guest that stops using LBR (DEBUGCTL.LBR clear, no access) has its event released.",
            quiet=guest_quiet, fairness=platform),
    )
    # an event reaches perf's error state only where a host CPU-pinned event outranks it
    pinned_first = model.variant.switches.get("host_pinned_first", False)
    return tuple(p for p in props if pinned_first or p.name != "lbr_regained_after_host_leaves")


SORT_PLURALS = {"host_user": "host LBR users"}
REPRODUCERS = "lbrspec_models.upstream_repro"  # reproducer data for `lbrspec docs` (models/upstream_repro.py)
