"""The v8 "Guest LBR Enabling" series (Wei Wang, Aug 2019) as composed state machines: the code
as posted, and the same code with a fix for every place where it breaks the design's promises.

KVM lets a guest use the pCPU's Last Branch Record facility.  The guest's first LBR MSR access
in each time slice VM-exits; KVM's handler creates a task-pinned, counter-less *vCPU LBR perf
event* for the vCPU thread, performs the access with interrupts disabled only if that event
owns the LBR on this pCPU, and passes the LBR MSRs through.  Host perf schedules the event by
its priority rules, context-switches the LBR stack (and, for the vCPU event, ``LBR_SELECT``)
with the thread, and may reclaim the LBR for a host CPU-pinned event by IPI at any moment;
before every VM-entry KVM re-checks ownership and cancels pass-through if it was lost.  An
event the guest left untouched for a whole slice is released.

The cover letter states that intent; the patch mails hold the code, and the two differ.  This
model follows the code (patches 9, 11, 12, 13, 14 and the perf behaviour they rely on), with
one *design switch* per place where the code breaks a promise of the design.  Variant
``v8-posted`` is the code as posted, every switch off; ``v8`` (the default) is the same code
with every fix on; each ``v8-posted-*`` variant undoes one fix, so each finding is shown on its
own.  ``FINDINGS`` lists them: what the posted code does, the property it breaks, and the fix.

Machines (each owns its variables; see ``docs/architecture.md`` for the composition):

========== ================================================================================
vm         the VM's ``KVM_CAP_X86_GUEST_LBR`` opt-in (patch 3)
sched      the host scheduler: which pCPU each vCPU thread is on, whether it runs
kvm        the vCPU as KVM runs it: guest/host mode, the LBR MSR exit handler step by step
           (creation, the ``WARN_ON``, the interrupts-off check and access, the pass-through;
           patch 12), the guest's ``DEBUGCTL.LBR`` kept in the VMCS (patch 14), the
           used-this-slice flag, the release request, and what went wrong in the host
vmcs       which vCPU's VMCS is current on each pCPU (read by the posted sched-in hook)
msr        the MSR intercept bitmap for the LBR MSRs: intercepted or passed through
vcpu_event the vCPU LBR perf event: absent, active (owns the LBR), inactive (descheduled with
           its thread), in perf's error state, freed; its counter index (patches 7, 8, 9)
host       host LBR users: CPU-pinned (``perf_event_open`` with ``attr.pinned``), CPU-flexible
           (``perf record -b -C``), or a task event on a vCPU thread (patches 7, 10)
lbr_hw     each pCPU's physical LBR: whose records and whose ``LBR_SELECT`` it holds
lbr_ctxsw  perf's LBR context switch: the ``LBR_SELECT`` saved with each vCPU thread (patch 11)
guest      what each guest has observed: foreign LBR state, #GP on valid MSRs
========== ================================================================================

Modelling assumptions that remain (each is a choice a reviewer may question; the docs list
them, and ``ASSUMPTIONS`` says what became of the earlier ones):

A2. A host LBR user that takes the LBR starts writing host records and its own ``LBR_SELECT``
    at once (it programs the LBR when perf schedules it).  (A new *vCPU* event finds what
    perf's reset leaves: the records cleared, ``LBR_SELECT`` untouched unless perf's reset
    clears it: no longer assumed, modelled.)
A3. A host task event is scheduled at its thread's next sched-in; at most one host task event
    per vCPU thread (the sharing case of patch 10 needs one).
A4. A vCPU thread can be preempted wherever interrupts are enabled, including at every step of
    KVM's exit handler; it is never preempted inside an interrupts-off window.  A CPU-flexible
    host user that waits for the LBR gets it some time after it is free (perf's next
    reschedule or rotation), as a step of its own.
A7. Perf saves and restores the thread's LBR *stack* on every switch (that predates the series);
    the model does not track the saved records, only who owns the LBR while it records.  A
    regained LBR is modelled as holding no foreign records (isolation requires that an owned
    LBR holds only its owner's, so what perf saved, and restores, is the guest's own).
A8. One access stands for every kind of guest access to an LBR MSR: the guest reads the records
    and ``LBR_SELECT``, then programs ``LBR_SELECT``.  A DEBUGCTL read takes the same path as a
    DEBUGCTL write of the value it holds, so only writes are modelled.
A9. vcpu_enter_guest services the release request, re-checks the LBR and enters the guest as
    one step: a preemption between them is a sched-out and sched-in, which the model has.
A10. Where the release is deferred (v8), the handler's creation of the event and its WARN_ON are
    one step, and so are the steps of a DEBUGCTL write (which is never refused there): nothing
    else can release the event, or see what the DEBUGCTL write changes, in between.  Variant
    ``v8-unfused`` keeps the steps apart and is expected to hold, which checks that this is so.
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
    UnionDomain,
    Variant,
    conj,
    exists,
    forall,
    implies,
    ite,
)
from lbrspec.lang.liveness import STRONG, WEAK, Liveness, leads_to

from . import lbr_common as common
from .lbr_common import H, Hu, P, Tag, Target, V

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

#: The posted mails, by patch number: Message-IDs on the kvm list (patch N is mail N + 1).
MESSAGE_IDS = {n: f"1565075774-26671-{n + 1}-git-send-email-wei.w.wang@intel.com" for n in PATCHES}


def patch(n: int) -> str:
    return f"patch {n}/14 '{PATCHES[n]}'"


# -- design switches ---------------------------------------------------------------------------
#: The design switches of the v7 -> v8 changelog and of the mutants that show
#: each property can fail.  True is v8's choice.
DESIGN_SWITCHES: dict[str, bool] = {
    "irq_off_access": True,  # patch 12: check ownership and access with interrupts disabled
    "vmentry_check": True,  # patch 13: re-check ownership before VM-entry
    "perf_scheduled": True,  # patch 7: the no-counter event goes through the perf scheduler
    "bit62": True,  # patch 10: reserved bit 62 in the config, so the LBR is never shared
    "lbr_select_ctxsw": True,  # patch 11: LBR_SELECT saved/restored with the vCPU thread
    "owner_before_init": True,  # patch 8: event->owner set before event_init
    "host_preempts": True,  # perf priority: a CPU-pinned host event preempts the vCPU event
    "free_checks_debugctl": True,  # patch 12: never release while the guest's DEBUGCTL.LBR is set
    "sched_in_intercept": True,  # patch 12 / cover letter: intercept all LBR MSRs at sched-in
    "cap_check": True,  # patch 3: no LBR emulation without KVM_CAP_X86_GUEST_LBR
    "free_unused": True,  # patch 12: an event left unused for a whole slice is released
}

#: The fixes: one switch per finding of the posted code (True: fixed, as in ``v8``; False: as
#: posted).  ``FINDINGS`` describes each.
FIX_SWITCHES: dict[str, bool] = {
    "entry_debugctl_owned": True,  # F1
    "lazy_release": True,  # F2, F7
    "release_reads_own_vmcs": True,  # F3
    "entry_check_owned": True,  # F4
    "entry_check_author": False,  # F4: the author's fix (== -1, nothing done without an event) instead of v8's
    "refusal_marks_used": True,  # F5
    "info_msrs_recognised": True,  # F6
    "reset_intercepts": True,  # F8
    "error_event_recovered": True,  # F9
    "recover_by_reenable": False,  # F9: how (False: release and recreate; True: the 2023 proposal)
    "debugctl_common_without_optin": True,  # F10
    "debugctl_not_refused": True,  # F11
    "perf_resets_lbr_select": True,  # F12
}

#: Modelling choices that are not design choices: each is checked by a variant expected to hold.
MODEL_SWITCHES: dict[str, bool] = {
    "fuse_handler_steps": True,  # A10: steps nothing can tell apart are one step where that is sound
}

V8_SWITCHES: dict[str, bool] = {**DESIGN_SWITCHES, **FIX_SWITCHES, **MODEL_SWITCHES}


def _variant(name: str, description: str, kind: str, expected: str | None, patch_no: int | None,
             holds: str | None = None, base: dict[str, bool] | None = None, **changes: bool) -> Variant:
    sw = dict(base or V8_SWITCHES)
    for k, v in changes.items():
        if k not in sw:
            raise KeyError(k)
        sw[k] = v
    return Variant(name, description, kind=kind, expected=expected, patch=patch(patch_no) if patch_no else "", switches=sw,
                   changed=tuple(k for k, v in changes.items() if V8_SWITCHES[k] != v), holds=holds)


#: The code as posted: every fix off.
POSTED: dict[str, bool] = {**DESIGN_SWITCHES, **{k: False for k in FIX_SWITCHES}, **MODEL_SWITCHES}


class Finding:
    """A place where the posted code breaks a promise of the design (see the module docstring)."""

    def __init__(self, key: str, title: str, code: str, prop: str | tuple[str, ...], switch: str, variant: str, fix: str,
                 fix_source: str, patch_no: int, raised: str, function: str) -> None:
        self.key = key
        self.title = title
        self.code = code  # what the posted code does, in words
        self.props = (prop,) if isinstance(prop, str) else tuple(prop)  # the properties it breaks
        self.prop = self.props[0]
        self.switch = switch
        self.variant = variant  # the variant that undoes just this fix
        self.fix = fix  # the fix v8 applies, in one sentence
        self.fix_source = fix_source  # where the fix comes from (upstream commit, proposal, KVM-side)
        self.patch = patch(patch_no)
        self.raised = raised  # whether it was raised on the list at the time
        self.function = function  # the kernel function it is in


FINDINGS: tuple[Finding, ...] = (
    Finding(
        "F1", "guest branches recorded into a host event's LBR",
        "The guest's DEBUGCTL lives in the VMCS and is loaded at every VM-entry, whoever owns the LBR at that "
        "moment; nothing clears the guest's LBR bit when its event loses the LBR, so the guest's branches are "
        "recorded into the LBR of the host event that reclaimed it.",
        "host_sees_no_guest_branches", "entry_debugctl_owned", "v8-posted-debugctl-loaded-unowned",
        "Before VM-entry, with interrupts off, KVM loads the guest's DEBUGCTL.LBR into the VMCS only while the "
        "vCPU's event owns the LBR, and keeps the guest's value in software otherwise.",
        "KVM-side change (smallest)", 12,
        "yes: raised by the perf maintainer in review of the series", "intel_pmu_set_lbr_msr / vcpu_enter_guest"),
    Finding(
        "F2", "the event released under a preempted handler",
        "The MSR handler can be preempted between creating the event, the WARN_ON, the interrupts-off check and "
        "the pass-through; the sched-in hook of the next slice then releases the event, and the handler goes on "
        "with a NULL event: the WARN_ON fires, or the check dereferences NULL.",
        ("host_no_oops", "host_no_warn"), "lazy_release", "v8-posted-release-at-sched-in",
        "The release is deferred: sched-in only requests it, and vcpu_enter_guest services the request with "
        "the vCPU's VMCS loaded, when no handler is in flight.",
        "upstream 9aa4f622460f (lazy release of the guest LBR event)", 12,
        "not found in the review threads of the series read for this model", "intel_pmu_sched_in / intel_pmu_access_lbr_msr"),
    Finding(
        "F3", "the release decided from another vCPU's VMCS",
        "kvm_arch_sched_in runs before kvm_arch_vcpu_load, so the sched-in hook's vmcs_read64 of the guest "
        "DEBUGCTL reads whatever VMCS is current on that pCPU: another vCPU's, or none after a migration.",
        "no_free_with_debugctl_lbr", "release_reads_own_vmcs", "v8-posted-release-reads-current-vmcs",
        "The same deferred release: the request is serviced in vcpu_enter_guest, where the vCPU's own VMCS is "
        "loaded.",
        "upstream 9aa4f622460f (lazy release of the guest LBR event)", 12,
        "not found in the review threads of the series read for this model", "intel_pmu_sched_in"),
    Finding(
        "F4", "the VM-entry check inverted",
        "intel_pmu_lbr_confirm cancels pass-through when lbr_event->oncpu != -1, i.e. while the event still owns "
        "the LBR, and keeps it when the LBR was reclaimed.",
        ("passthrough_implies_ownership", "guest_sees_only_its_own"), "entry_check_owned", "v8-posted-entry-check-inverted",
        "Pass-through is cancelled before every VM-entry unless the event exists and owns the LBR (pass-through "
        "decided at VM-entry from the event's state, as upstream does; the author's one-character fix, == -1, is "
        "the same for an existing event).",
        "upstream (pass-through decided at every VM-entry), and the author's reply of 7 Aug 2019 "
        "(Message-ID 5D4A697D.3030604@intel.com)", 13,
        "yes: the author replied the next day that the test should be == -1", "intel_pmu_lbr_confirm"),
    Finding(
        "F5", "a refused access does not count as use",
        "A refused access (the event lost the LBR) returns false before lbr_used is set, so a slice whose only "
        "LBR accesses were refused counts as unused and the event is released at the next sched-in although "
        "the guest is using LBR.",
        "free_only_after_untouched_slice", "refusal_marks_used", "v8-posted-refusal-not-used",
        "Every intercepted LBR access marks the slice as used, refused or not (used-this-slice kept apart from "
        "the pass-through).",
        "KVM-side change (smallest)", 12, "not found in the review threads of the series read for this model", "intel_pmu_access_lbr_msr"),
    Finding(
        "F6", "the INFO MSRs are not recognised",
        "is_lbr_msr tests the LBR_INFO range as index >= info && index < info, which is never true: an "
        "intercepted LBR_INFO access gets #GP, while the INFO MSRs are passed through with the others.",
        "no_gp_while_owning", "info_msrs_recognised", "v8-posted-info-unrecognised",
        "is_lbr_msr tests index < info + nr, as it does for FROM and TO.",
        "KVM-side change (smallest)", 12, "not found in the review threads of the series read for this model", "is_lbr_msr"),
    Finding(
        "F7", "the release sleeps in atomic context",
        "The release at sched-in runs in KVM's preempt notifier, with preemption disabled, and "
        "perf_event_release_kernel takes mutexes: a sleep in atomic context.",
        "host_no_sleep_in_atomic", "lazy_release", "v8-posted-release-at-sched-in",
        "The deferred release of F2 runs in vcpu_enter_guest, which may sleep.",
        "upstream 9aa4f622460f (lazy release of the guest LBR event)", 12,
        "not found in the review threads of the series read for this model", "intel_pmu_sched_in / intel_pmu_free_lbr_event"),
    Finding(
        "F8", "vCPU reset keeps the pass-through",
        "intel_pmu_reset releases the event and clears the pointer, but neither intercepts the LBR MSRs again nor "
        "clears lbr_used, and the VM-entry check returns at once when there is no event: the guest keeps direct "
        "access to an LBR nobody gave it.",
        "free_policy", "reset_intercepts", "v8-posted-reset-keeps-passthrough",
        "Reset intercepts the LBR MSRs again and clears lbr_used (and the VM-entry check of F4 cancels "
        "pass-through without an event anyway).",
        "KVM-side change (smallest)", 12, "not found in the review threads of the series read for this model", "intel_pmu_reset"),
    Finding(
        "F9", "the event never comes back from perf's error state",
        "The vCPU event is pinned: when it cannot have the LBR (a CPU-pinned host event holds it) perf puts it in "
        "error state, where it stays until it is released or re-enabled; with the guest's DEBUGCTL.LBR set it is "
        "never released, so the guest never has the LBR again, even after the host event is gone.",
        "lbr_regained_after_host_leaves", "error_event_recovered", "v8-posted-error-state-sticky",
        "On the next intercepted access, the handler releases an event it finds in error state and creates a new "
        "one (a new event has never run, so perf resets the LBR for it).",
        "KVM-side change; the 2023 proposal (Message-ID 20230616113353.45202-1-xiong.y.zhang@intel.com) "
        "re-enables the event instead, which variant v8-error-reenable shows leaking the host's records", 12,
        "not at the time; proposed for the merged design in 2023", "intel_pmu_create_lbr_event"),
    Finding(
        "F10", "DEBUGCTL #GP for guests that did not opt in",
        "Patch 14 removes the common handling of DEBUGCTL, which read 0 and accepted writes of LBR and BTF; the "
        "vPMU handles it only for a VM that opted in, so every other guest now gets #GP on any DEBUGCTL access.",
        "debugctl_no_new_gp_without_optin", "debugctl_common_without_optin", "v8-posted-debugctl-gp-without-optin",
        "DEBUGCTL accesses of a guest that did not opt in keep their common handling.",
        "KVM-side change (smallest)", 14, "not found in the review threads of the series read for this model", "kvm_set_msr_common / intel_pmu_set_msr"),
    Finding(
        "F11", "DEBUGCTL refused while the event lost the LBR",
        "A DEBUGCTL access goes through the same ownership check as the LBR MSRs, although it only touches the "
        "VMCS: while the event has lost the LBR the guest gets #GP even for clearing DEBUGCTL.LBR.",
        "debugctl_accepted_with_optin", "debugctl_not_refused", "v8-posted-debugctl-refused",
        "A DEBUGCTL access is never refused: it writes the VMCS field whoever owns the LBR (as upstream does).",
        "upstream (DEBUGCTL written to the VMCS on every intercepted write)", 12,
        "not found in the review threads of the series read for this model", "intel_pmu_set_lbr_msr / intel_pmu_get_lbr_msr"),
    Finding(
        "F12", "a new event inherits the previous LBR_SELECT",
        "When the new vCPU event takes the LBR, perf's reset clears the FROM/TO/INFO records but not LBR_SELECT: "
        "the guest reads (and records with) the filter of the LBR's previous user.",
        "lbr_select_restored", "perf_resets_lbr_select", "v8-posted-lbr-select-inherited",
        "Perf's LBR reset clears LBR_SELECT too.",
        "upstream perf 0fe39a3929ac (perf/x86/lbr: Reset LBR_SELECT during vlbr reset, Message-ID "
        "1636096851-36623-1-git-send-email-wanpengli@tencent.com); perf-side", 11,
        "not at the time; fixed in perf in 2021", "intel_pmu_lbr_reset"),
)

#: What became of each modelling assumption of the first model of the cover letter's design.
ASSUMPTIONS: dict[str, str] = {
    "A1": "gone: guest branches are recorded into whatever LBR the VM-entry finds, as the code does (F1)",
    "A2": "split: a new vCPU event's reset is modelled as perf does it, LBR_SELECT included (F12); a host "
          "user that takes the LBR writing its own state at once is kept, with the reason",
    "A3": "kept: one host task event per vCPU thread is all the sharing case of patch 10 needs",
    "A4": "kept, and now used at every step of the handler",
    "A5": "gone: the guest's LBR_SELECT is its own only once it has programmed it; a reset value is nobody's (F12)",
    "A6": "gone: the handler is preemptible and the posted sched-in hook releases the event under it (F2); the "
          "deferred release of v8 makes it impossible",
    "A7": "kept: the saved stack is not tracked; isolation already requires an owned LBR to hold only its "
          "owner's records",
    "refusal": "gone: a refused access does not mark the slice as used, as the code does (F5)",
}


def _posted(name: str, finding: str, description: str, expected: str | None, patch_no: int, **changes: bool) -> Variant:
    return _variant(name, description, "finding", expected, patch_no, **changes)


#: The variants: the code as posted, v8 with its fixes, each fix undone on its own, the
#: alternatives the v8 changelog fixed and mutants that check that each remaining
#: property can fail at all.
VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in [
        _variant("v8", "The posted v8 code with a fix for every finding (see FINDINGS).", "design", None, None),
        _variant("v8-posted", "The v8 code as posted, every finding present.", "design", "host_sees_no_guest_branches",
                 12, base=POSTED),
        _posted("v8-posted-debugctl-loaded-unowned", "F1",
                "F1 undone: the guest's DEBUGCTL.LBR is loaded at VM-entry whoever owns the LBR.",
                "host_sees_no_guest_branches", 12, entry_debugctl_owned=False),
        _posted("v8-posted-release-at-sched-in", "F2",
                "F2 and F7 undone: the sched-in hook releases the event itself (reading the vCPU's own DEBUGCTL), "
                "under a handler it may have preempted.",
                "host_no_oops", 12, lazy_release=False),
        _posted("v8-posted-release-reads-current-vmcs", "F3",
                "F2, F3 and F7 undone: the sched-in hook releases the event, deciding from the VMCS current on the "
                "pCPU (the posted hook).",
                "no_free_with_debugctl_lbr", 12, lazy_release=False, release_reads_own_vmcs=False),
        _posted("v8-posted-entry-check-inverted", "F4",
                "F4 undone: the check before VM-entry cancels pass-through while the event owns the LBR.",
                "passthrough_implies_ownership", 13, entry_check_owned=False),
        _posted("v8-posted-refusal-not-used", "F5",
                "F5 undone: a refused access does not mark the slice as used.",
                "free_only_after_untouched_slice", 12, refusal_marks_used=False),
        _posted("v8-posted-info-unrecognised", "F6",
                "F6 undone: is_lbr_msr does not recognise the LBR_INFO MSRs.",
                "no_gp_while_owning", 12, info_msrs_recognised=False),
        _posted("v8-posted-reset-keeps-passthrough", "F8",
                "F8 undone: vCPU reset releases the event without intercepting the LBR MSRs again (the guest still "
                "cannot run with them: the VM-entry check of F4's fix cancels the pass-through of a vCPU without an "
                "event).",
                "free_policy", 12, reset_intercepts=False),
        _variant("v8-author-entry-fix",
                 "Proposal: fix the VM-entry check as its author proposed on the list (cancel when lbr_event->oncpu == "
                 "-1), which returns at once when there is no event.",
                 "proposal", None, 13,
                 holds="an event is released only with pass-through off (F2/F3/F7 and F8's fixes), so a check that skips "
                       "a vCPU without an event misses nothing; the author's one-character fix equals v8's rule",
                 entry_check_author=True),
        _posted("v8-posted-debugctl-gp-without-optin", "F10",
                "F10 undone: a guest that did not opt in gets #GP on every DEBUGCTL access.",
                "debugctl_no_new_gp_without_optin", 14, debugctl_common_without_optin=False),
        _posted("v8-posted-debugctl-refused", "F11",
                "F11 undone: a DEBUGCTL access is refused while the event does not own the LBR.",
                "debugctl_accepted_with_optin", 12, debugctl_not_refused=False),
        _posted("v8-posted-lbr-select-inherited", "F12",
                "F12 undone: perf's reset leaves LBR_SELECT as the previous user wrote it.",
                "lbr_select_restored", 11, perf_resets_lbr_select=False),
        _variant("v8-error-reenable",
                 "Proposal: recover an event from error state by re-enabling it (the 2023 proposal) instead of "
                 "releasing and recreating it.",
                 "proposal", "isolation", 12, recover_by_reenable=True),
        _variant("v8-unfused",
                 "v8 with the handler steps that assumption A10 makes one step kept apart: the creation and the "
                 "WARN_ON, and the steps of a DEBUGCTL write.",
                 "check", None, 12, holds="A10 is sound: with the deferred release nothing can release the event "
                                          "between its creation and the WARN_ON, and a DEBUGCTL write is never refused",
                 fuse_handler_steps=False),
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
            "Mutant: the event is released after an untouched slice even with the guest's DEBUGCTL.LBR set.",
            "mutant", "free_policy", 12, free_checks_debugctl=False,
        ),
        _variant(
            "no-sched-in-intercept",
            "Mutant: sched-in does not intercept the LBR MSRs again, so pass-through outlives its slice.",
            "mutant", "intercept_at_sched_in", 12, sched_in_intercept=False,
        ),
        _variant(
            "no-cap-check",
            "Mutant: the LBR MSR handler emulates LBR without KVM_CAP_X86_GUEST_LBR.",
            "mutant", "capability_gating", 3, cap_check=False,
        ),
    ]
}

#: Variants that break a liveness property and no safety invariant, kept apart from
#: :data:`VARIANTS` (each of which breaks a named safety property or holds); :func:`build` takes
#: both.
LIVENESS_VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in [
        _variant(
            "never-free",
            "Mutant: the vCPU LBR event is never released, however long the guest leaves the LBR unused.",
            "mutant", "unused_event_is_freed", 12, free_unused=False,
        ),
        _posted("v8-posted-error-state-sticky", "F9",
                "F9 undone: an event in perf's error state stays there until it is released.",
                "lbr_regained_after_host_leaves", 12, error_event_recovered=False),
    ]
}

DEFAULT_VARIANT = "v8"

#: Each design alternative the v8 changelog fixed, and the property it breaks.
DOMAIN_TABLE: dict[str, str] = {
    "v7-write-path": "no_kvm_access_after_reclaim",
    "no-vmentry-check": "passthrough_implies_ownership",
    "v7-scheduler-bypass": "single_owner",
    "no-bit-62": "isolation",
    "no-lbr-select-restore": "lbr_select_restored",
    "owner-after-event-init": "no_counter",
}

# -- sorts and domains (V, P, H, Tag, Target, Hu: shared with the merged design, lbr_common) ----
Loaded = UnionDomain("vmcs_loaded", consts=("none",), ctors=(("vcpu", V),),
                     doc="whose VMCS is current on a pCPU: nobody's, or a vCPU's")
def pc_domain(warn_step: bool) -> EnumDomain:
    """Progress of KVM's LBR MSR exit handler (patch 12).  ``CREATED`` (the event made, the
    WARN_ON next) exists only where something can release the event before the WARN_ON: with
    the deferred release of v8 nothing can, so creation and the WARN_ON are one step there
    (assumption A10)."""
    return EnumDomain.variant(
        "kvm_pc", ["IDLE", ("CREATED", warn_step), "WARNED", "ACCESS", "DONE"],
        doc="progress of KVM's LBR MSR exit handler (patch 12): event created; WARN_ON passed (the check next); "
            "inside the interrupts-off access; access done, pass-through next",
    )
Acc = EnumDomain("access_kind", ["MSR", "DBG"],
                 doc="what the exit handler is doing: an LBR MSR access, or a DEBUGCTL write (whose LBR bit is chosen "
                     "when the handler writes it: nothing before depends on it)")
Ev = EnumDomain("ev_state", ["ABSENT", "ACTIVE", "INACTIVE", "ERROR", "FREED"],
                doc="the vCPU LBR event's lifecycle; ERROR is perf's error state of a pinned event that could not "
                    "be scheduled")
Counter = EnumDomain("counter_idx", ["NA", "ASSIGNED"], doc="the event's counter: X86_PMC_IDX_NA or a real counter")
DEFAULT_SIZES = {"vCPU": 2, "pCPU": 2, "host_user": 1}

#: ``lbrspec compare``: the shared catalogue, the designs of this model in the default table,
#: and why an observation is not applicable.
OBSERVATIONS = common.OBSERVATIONS
COMPARE_DESIGNS = ("v8", "v8-posted")
OBSERVATION_GAPS = {
    "host_never_warns": "the handler's WARN_ON(!lbr_event) is part of the exit step that creates the event in this "
                        "variant (assumption A10, checked by v8-unfused), so it is not a step that could fire",
    "guest_records_survive_resched": "the model does not track the records perf saves and restores across a "
                                     "switch (assumption A7): it checks only that a regained LBR holds no foreign "
                                     "records, so it cannot say whether the guest gets its own back",
}


def build(variant: str = DEFAULT_VARIANT, observe=()) -> Model:
    """Build the product model for ``variant`` (see :data:`VARIANTS`), with the ghosts and
    properties of the comparison of designs named in ``observe`` (:data:`lbr_common.OBSERVATIONS`;
    ``lbrspec compare`` selects them, every other command builds none)."""
    if variant not in VARIANTS and variant not in LIVENESS_VARIANTS:
        raise InputError(f"unknown variant {variant!r}; known: {', '.join([*VARIANTS, *LIVENESS_VARIANTS])}")
    var = VARIANTS.get(variant) or LIVENESS_VARIANTS[variant]
    spec = Spec("guest_lbr", sorts=[V, P, H], doc=__doc__ or "", default_sizes=DEFAULT_SIZES, variant=var)
    sw = spec.switches
    obs = common.Observer(spec, observe)
    lazy = sw["lazy_release"]
    reads_vmcs = not lazy and not sw["release_reads_own_vmcs"]
    counts_refusals = sw["refusal_marks_used"]
    fused = sw["fuse_handler_steps"]
    # DEBUGCTL goes through the LBR MSR handler's steps: as posted, or unfused (A10 checked)
    dbg_in_handler = not sw["debugctl_not_refused"] or not fused
    # the WARN_ON is a step of its own: where something can release the event before it, or unfused
    warn_step = not lazy or not fused
    Pc = pc_domain(warn_step)
    first = Pc.CREATED if warn_step else Pc.WARNED  # where the handler is once the event is created

    # -- variables ---------------------------------------------------------------------------
    vm = spec.machine("vm", doc="The VM's opt-in to guest LBR.", patch=patch(3))
    cap = vm.var("cap", BOOL, init=[False, True], doc="userspace enabled KVM_CAP_X86_GUEST_LBR for this VM (patch 3)")

    sched = common.add_scheduler_vars(spec)
    running, cpu = sched.running, sched.cpu

    kvm = spec.machine(
        "kvm",
        doc="The vCPU as KVM runs it: guest mode, the LBR MSR exit handler, the guest's DEBUGCTL.LBR, what the host "
            "suffered.",
        reads=["vm", "sched", "msr", "vcpu_event", "vmcs"],
        patch=patch(12),
    )
    in_guest = kvm.var("in_guest", BOOL, index=[V], init=False, doc="the vCPU executes in guest mode (VMX non-root)")
    pc = kvm.var("pc", Pc, index=[V], init="IDLE", doc="where KVM's LBR MSR exit handler is (patch 12)")
    acc = kvm.var("acc", Acc, index=[V], init="MSR", when=dbg_in_handler,
                  why="only where DEBUGCTL accesses go through the LBR MSR handler",
                  doc="what the handler in flight is doing (MSR when idle)")
    dbg = kvm.var("dbg", BOOL, index=[V], init=False,
                  doc="the guest's DEBUGCTL.LBR as KVM keeps it: the VMCS guest DEBUGCTL field (patch 14)")
    used = kvm.var("used", BOOL, index=[V], init=False, doc="lbr_used: the LBR was used in this time slice (patch 12)")
    Req = EnumDomain.variant(
        "release_req", ["NONE", "CLEAN", ("AFTER_TOUCH", not counts_refusals)],
        doc="a pending release request: none, made after a slice the guest left untouched, or (where refused accesses "
            "do not count as use) after a slice whose only accesses were refused",
    )
    req = kvm.var("release_req", Req, index=[V], init="NONE", when=lazy,
                  why="only where the release is deferred to vcpu_enter_guest",
                  doc="sched-in found the last slice unused: release the event at the next vcpu_enter_guest")
    touched = kvm.var("touched", BOOL, index=[V], init=False, ghost=True,
                      doc="ghost: the guest made an intercepted LBR access in this slice, refused or not")
    obs.declare(kvm, "host_never_oopses")
    if warn_step:
        obs.declare(kvm, "host_never_warns")

    vmcs = spec.machine("vmcs", doc="Which VMCS is current on each pCPU (vcpu_load makes a vCPU's current).",
                        reads=["sched"])
    loaded = vmcs.var("loaded", Loaded, index=[P], init="none", when=reads_vmcs,
                      why="only the posted sched-in hook reads the current VMCS",
                      doc="whose VMCS is current on the pCPU: the last vCPU loaded there, or none")

    msr = spec.machine("msr", doc="The MSR intercept bitmap for the LBR MSRs.", reads=["sched", "vcpu_event", "kvm", "vm"],
                       patch=patch(12))
    passthru = msr.var("passthru", BOOL, index=[V], init=False, doc="the LBR MSRs are passed through to the guest (patch 12)")

    vcpu_event = spec.machine(
        "vcpu_event",
        doc="The vCPU LBR perf event: task-pinned to the vCPU thread, exclude_host, no counter.",
        reads=["vm", "sched", "kvm", "host", "msr", "vmcs"],
        patch=patch(9),
    )
    ev = vcpu_event.var("ev", Ev, index=[V], init="ABSENT",
                        doc="the event's state: owns the LBR when ACTIVE (patches 7, 9, 12)")
    ev_counter = vcpu_event.var(
        "ev_counter", Counter, index=[V], init="NA",
        doc="the event's counter index: X86_PMC_IDX_NA unless perf took it for an ordinary event (patches 7, 8)",
    )
    obs.declare(vcpu_event, "no_release_while_guest_uses_lbr")
    obs.declare(vcpu_event, "host_never_sleeps_in_atomic")

    host, hu, target = common.add_host_users(spec, ["vm", "sched", "kvm", "vcpu_event", "lbr_hw", "msr", "vmcs"],
                                             patch=patch(7))
    obs.declare(host, "host_never_samples_guest")

    lbr_hw, rec, sel = common.add_lbr_hw(spec, ["vm", "sched", "kvm", "vcpu_event", "host", "lbr_ctxsw", "msr", "vmcs"])

    ctxsw = spec.machine(
        "lbr_ctxsw",
        doc="Perf's LBR context switch: state saved with each vCPU thread (intel_pmu_lbr_sched_task).",
        reads=["sched", "kvm", "vcpu_event", "lbr_hw", "msr", "vm", "vmcs"],
        patch=patch(11),
    )
    saved_sel = ctxsw.var(
        "saved_sel", Tag, index=[V], init=lambda v: Tag("vcpu", v),
        doc="the LBR_SELECT saved with the thread (patch 11): whose value it is; a value the guest programmed and "
            "the reset value perf restores when nothing was saved are both the guest's own to get back (vcpu(v))",
    )

    guest = spec.machine("guest", doc="Ghost state: what each guest has observed.", reads=["lbr_hw", "vm", "sched",
                                                                                          "vcpu_event", "kvm"])
    obs.declare(guest, "guest_never_reads_foreign")

    # -- definitions ---------------------------------------------------------------------------
    runs_on = spec.define("runs_on", {"v": V, "p": P}, lambda v, p: running[v] & (cpu[v] == p),
                          doc="vCPU thread v is running on pCPU p")
    owns = spec.define("owns", {"v": V, "p": P}, lambda v, p: (ev[v] == Ev.ACTIVE) & (cpu[v] == p),
                       doc="v's LBR event is scheduled on p and holds the LBR (event->oncpu == p): what KVM checks "
                           "(patches 12, 13)")
    absent = spec.define("absent", {"v": V}, lambda v: ev[v].in_(Ev.ABSENT, Ev.FREED), doc="v has no LBR event")
    irqoff_pcs = [Pc.ACCESS] if sw["irq_off_access"] else []
    irqs_off = spec.define(
        "irqs_off", {"p": P},
        lambda p: exists(V, lambda w: runs_on(w, p) & pc[w].in_(*irqoff_pcs)) if irqoff_pcs else FALSE,
        doc="p has interrupts disabled: a vCPU thread on p is inside KVM's interrupts-off window (patch 12)",
    )
    pinned_on = spec.define("pinned_on", {"h": H, "p": P},
                            lambda h, p: (hu[h] == Hu.ACTIVE) & (target[h] == Target("pinned", p)),
                            doc="h is a CPU-pinned host LBR event active on p")
    pinned_holds = spec.define("pinned_holds", {"p": P}, lambda p: exists(H, lambda h: pinned_on(h, p)),
                               doc="a host CPU-pinned LBR event holds p's LBR")
    may_take = spec.define(
        "may_take", {"p": P},
        lambda p: ~pinned_holds(p) if sw["perf_scheduled"] else TRUE,
        doc="perf's scheduler lets a task-pinned vCPU event take p's LBR (CPU-pinned > task-pinned; patch 7)",
    )
    cap_ok = cap() if sw["cap_check"] else TRUE
    is_msr = spec.define(
        "is_msr_access", {"v": V}, (lambda v: acc[v] == Acc.MSR) if dbg_in_handler else (lambda v: TRUE),
        doc="the handler in flight is accessing an LBR MSR (not DEBUGCTL)",
    )
    # perf's LBR reset when the new event is the first LBR user: records cleared; LBR_SELECT too only
    # with the perf fix of F12
    reset_sel = Tag.none
    recovers = sw["error_event_recovered"]
    by_reenable = recovers and sw["recover_by_reenable"]
    new_event = spec.define(
        "new_event", {"v": V},
        lambda v: absent(v) | ((ev[v] == Ev.ERROR) & (TRUE if recovers and not by_reenable else FALSE)),
        doc="the handler creates a new event for v: it has none" + (", or it is in perf's error state and is "
                                                                   "released and made again (F9)"
                                                                   if recovers and not by_reenable else ""),
    )
    creates_and_takes = spec.define(
        "creates_and_takes", {"v": V, "p": P}, lambda v, p: cap_ok & new_event(v) & may_take(p),
        doc="KVM creates v's event now and perf schedules it on p at once",
    )
    reenables = spec.define(
        "reenables", {"v": V, "p": P},
        lambda v, p: cap_ok & (ev[v] == Ev.ERROR) & may_take(p) if by_reenable else FALSE,
        doc="the handler re-enables v's event from error state and perf schedules it on p (the 2023 proposal)",
    )
    dbg_seen_at_sched_in = spec.define(
        "dbg_seen_at_sched_in", {"v": V, "p": P},
        (lambda v, p: exists(V, lambda w: (loaded[p] == Loaded("vcpu", w)) & dbg[w])) if reads_vmcs else (lambda v, p: dbg[v]),
        doc=("the DEBUGCTL.LBR the sched-in hook reads: the guest DEBUGCTL of the VMCS current on p, which vcpu_load "
             "has not made v's yet (another vCPU's, or none: read as 0)") if reads_vmcs
        else "the DEBUGCTL.LBR the release decision reads: v's own",
    )
    releases_at_sched_in = spec.define(
        "releases_at_sched_in", {"v": V, "p": P},
        (lambda v, p: ~absent(v) & ~used[v] & (~dbg_seen_at_sched_in(v, p) if sw["free_checks_debugctl"] else TRUE))
        if sw["free_unused"] and not lazy else (lambda v, p: FALSE),
        doc="the sched-in hook releases the event: the last slice left the LBR unused and DEBUGCTL.LBR reads clear "
            "(patch 12, as posted)",
    )
    releases_at_entry = spec.define(
        "releases_at_entry", {"v": V},
        (lambda v: (req[v] != Req.NONE) & ~absent(v) & ~used[v] & (~dbg[v] if sw["free_checks_debugctl"] else TRUE))
        if sw["free_unused"] and lazy else (lambda v: FALSE),
        doc="vcpu_enter_guest services the release request: the event is released if the slice is still unused "
            "and DEBUGCTL.LBR is clear (the deferred release of F2/F3/F7)",
    )
    regains = spec.define(
        "regains", {"v": V, "p": P},
        lambda v, p: (ev[v] == Ev.INACTIVE) & ~releases_at_sched_in(v, p) & may_take(p),
        doc="at this sched-in v's existing event is scheduled onto p and takes the LBR",
    )
    owns_after_entry = spec.define(
        "owns_after_entry", {"v": V, "p": P}, lambda v, p: owns(v, p) & ~releases_at_entry(v),
        doc="v's event still owns p's LBR once vcpu_enter_guest has serviced the release request",
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
        & ((target[h] == Target("pinned", p)) | (target[h] == Target("flex", p))
           | exists(V, lambda w: host_task_of(h, w) & runs_on(w, p))),
        doc="h's event is scheduled on p (alone or sharing)",
    )
    host_wins = spec.define(
        "host_wins", {"h": H, "p": P},
        lambda h, p: ~exists(H, lambda h2: (h2 != h) & pinned_on(h2, p))
        & (TRUE if sw["host_preempts"] else ~exists(V, lambda w: owns(w, p))),
        doc="h's install IPI gives its CPU-pinned event p's LBR (no other CPU-pinned LBR event there)",
    )
    lbr_free = spec.define(
        "lbr_free_for_flex", {"p": P},
        lambda p: ~exists(V, lambda w: owns(w, p)) & ~exists(H, lambda h2: host_on(h2, p)),
        doc="nobody holds p's LBR, so a CPU-flexible host event may have it",
    )
    host_takes = spec.define(
        "host_takes", {"h": H, "p": P},
        lambda h, p: ((target[h] == Target("pinned", p)) & host_wins(h, p)) | ((target[h] == Target("flex", p)) & lbr_free(p)),
        doc="h's install IPI gives its event p's LBR",
    )
    foreign = spec.define("foreign", {"v": V, "t": Tag}, lambda v, t: (t != Tag.none) & (t != Tag("vcpu", v)),
                          doc="LBR state t was written by the host or by another vCPU")

    # -- sched ----------------------------------------------------------------------------------
    common.schedule(sched)
    switch_in, switch_out = sched.switch_in, sched.switch_out

    # -- vmcs -------------------------------------------------------------------------------------
    vmcs_load = vmcs.transition(
        "vcpu_load", {"v": V, "p": P},
        updates=lambda v, p: [loaded.becomes_all(lambda q: ite(q == p, Loaded("vcpu", v),
                                                               ite(loaded[q] == Loaded("vcpu", v), Loaded.none, loaded[q])))]
        if reads_vmcs else [],
        doc="kvm_arch_vcpu_load: v's VMCS becomes current on p (and is cleared from the pCPU it was current on)",
    )

    # -- kvm ----------------------------------------------------------------------------------
    k_sched_in = kvm.transition(
        "sched_in_hook", {"v": V, "p": P},
        updates=lambda v, p: [
            used[v].becomes(FALSE),
            *([req[v].becomes(ite(~used[v] & ~absent(v),
                                  ite(touched[v], Req.AFTER_TOUCH, Req.CLEAN) if not counts_refusals else Req.CLEAN,
                                  Req.NONE))] if lazy else []),
            touched[v].becomes(False),
        ],
        doc=spec.text("lazy_release",
                      "kvm_arch_sched_in: a new slice starts with the LBR unused; if the last one left it unused, request "
                      "the event's release at the next VM-entry",
                      "kvm_arch_sched_in (before vcpu_load): if the last slice used the LBR, clear lbr_used and intercept "
                      "again; else release the event if the guest DEBUGCTL read there has LBR clear (patch 12)"),
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
        updates=lambda v, p: [
            in_guest[v].becomes(False),
            pc[v].becomes(ite(cap_ok, first, Pc.IDLE)),
            *([acc[v].becomes(Acc.MSR)] if dbg_in_handler else []),
            touched[v].becomes(touched[v] | cap_ok),
            *([used[v].becomes(used[v] | cap_ok)] if counts_refusals else []),
            *([req[v].becomes(ite(cap_ok, Req.NONE, req[v]))] if lazy and counts_refusals else []),
        ],
        doc="VM-exit on an intercepted LBR MSR access; the handler creates the vCPU LBR event if it has none "
            "(patches 9, 12); #GP without the capability (patch 3)" + spec.text(
                "refusal_marks_used", "; the slice counts as used from this access on, whatever its outcome (F5's fix)",
                ""),
    )
    if dbg_in_handler:
        k_debugctl = kvm.transition(
            "debugctl_exit", {"v": V, "p": P},
            guard=lambda v, p: runs_on(v, p) & in_guest[v],
            updates=lambda v, p: [
                in_guest[v].becomes(False),
                pc[v].becomes(ite(cap_ok, first, Pc.IDLE)),
                acc[v].becomes(ite(cap_ok, Acc.DBG, Acc.MSR)),
                touched[v].becomes(touched[v] | cap_ok),
                *([used[v].becomes(used[v] | cap_ok)] if counts_refusals else []),
                *([req[v].becomes(ite(cap_ok, Req.NONE, req[v]))] if lazy and counts_refusals else []),
            ],
            doc="VM-exit on a DEBUGCTL write (never passed through): the same handler as the LBR MSRs creates the "
                "event if absent and checks ownership (patches 12, 14); the LBR bit written is chosen at the access",
        )
    else:
        k_debugctl = kvm.transition(
            "debugctl_exit", {"v": V, "p": P, "lbr": BOOL},
            guard=lambda v, p, lbr: runs_on(v, p) & in_guest[v],
            updates=lambda v, p, lbr: [
                in_guest[v].becomes(False),
                dbg[v].becomes(cap_ok & lbr),
                used[v].becomes(used[v] | cap_ok),
                *([req[v].becomes(ite(cap_ok, Req.NONE, req[v]))] if lazy else []),
                touched[v].becomes(touched[v] | cap_ok),
            ],
            doc="VM-exit on a DEBUGCTL write (never passed through): KVM creates the event if absent, writes the LBR "
                "bit to the VMCS field whoever owns the LBR (F11's fix), counts the slice as used and passes the LBR "
                "MSRs through (A10: one step)",
        )
    k_warn = None
    if warn_step:
        k_warn = kvm.transition(
            "kvm_warn_check", {"v": V, "p": P},
            guard=lambda v, p: runs_on(v, p) & (pc[v] == Pc.CREATED),
            updates=lambda v, p: [
                pc[v].becomes(ite(absent(v), Pc.IDLE, Pc.WARNED)),
                *([acc[v].becomes(ite(absent(v), Acc.MSR, acc[v]))] if dbg_in_handler else []),
                *obs.mark("host_never_warns", absent(v)),
            ],
            doc="WARN_ON(!lbr_event): the event should exist; if it does not, warn and fail the access (patch 12)",
            patch=patch(12),
        )
    dbg_never_refused = TRUE if sw["debugctl_not_refused"] else FALSE
    proceeds = spec.define(
        "proceeds", {"v": V, "p": P}, lambda v, p: owns(v, p) | (~is_msr(v) & dbg_never_refused),
        doc="the handler goes on to the access: the event owns the LBR (lbr_event->oncpu != -1)"
            + (", or the access is to DEBUGCTL, which only touches the VMCS (F11's fix)" if sw["debugctl_not_refused"]
               else ""),
    )
    k_check = kvm.transition(
        "lbr_check", {"v": V, "p": P},
        guard=lambda v, p: runs_on(v, p) & (pc[v] == Pc.WARNED),
        updates=lambda v, p: [
            pc[v].becomes(ite(~absent(v) & proceeds(v, p), Pc.ACCESS, Pc.IDLE)),
            *([acc[v].becomes(ite(~absent(v) & proceeds(v, p), acc[v], Acc.MSR))] if dbg_in_handler else []),
            *obs.mark("host_never_oopses", absent(v)),
        ],
        doc=spec.text("irq_off_access",
                      "local_irq_disable(); if lbr_event->oncpu == -1 (the LBR was reclaimed) refuse the access: #GP "
                      "(patch 12)",
                      "check that the event owns the LBR with interrupts still enabled; refuse the access if not (v7)"),
        patch=patch(12),
    )
    k_access = kvm.transition(
        "handle_access", {"v": V, "p": P, "lbr": BOOL},
        guard=lambda v, p, lbr: runs_on(v, p) & (pc[v] == Pc.ACCESS) & (~is_msr(v) | ~lbr),
        updates=lambda v, p, lbr: [
            pc[v].becomes(Pc.DONE),
            dbg[v].becomes(ite(is_msr(v), dbg[v], lbr)),
        ],
        doc=("rdmsr/wrmsr on the physical LBR MSR, or the DEBUGCTL write to the VMCS field (only the LBR and "
             "FREEZE_LBRS_ON_PMI bits kept), then " + spec.text("irq_off_access", "local_irq_enable() (patch 12)",
                                                                 "with interrupts on all along (v7)")),
    )
    k_done = kvm.transition(
        "pass_through_after_access", {"v": V, "p": P},
        guard=lambda v, p: runs_on(v, p) & (pc[v] == Pc.DONE),
        updates=lambda v, p: [pc[v].becomes(Pc.IDLE), *([acc[v].becomes(Acc.MSR)] if dbg_in_handler else []),
                              used[v].becomes(True), touched[v].becomes(True),
                              *([req[v].becomes(Req.NONE)] if lazy else [])],
        doc="back with interrupts on, the access succeeded: set lbr_used and pass the LBR MSRs through (patch 12)",
    )
    info_gp = not sw["info_msrs_recognised"]  # an LBR_INFO access is then a step of its own, ending in #GP
    k_info = kvm.transition(
        "info_gp", {"v": V, "p": P},
        guard=lambda v, p: runs_on(v, p) & in_guest[v] & ~passthru[v] & cap(),
        updates=lambda v, p: [in_guest[v].becomes(False)],
        doc="VM-exit on an intercepted LBR_INFO MSR that is_lbr_msr does not recognise: #GP (F6)",
    ) if info_gp else None
    k_reset = kvm.transition(
        "reset", {"v": V, "p": P},
        guard=lambda v, p: runs_on(v, p) & ~in_guest[v] & (pc[v] == Pc.IDLE),
        updates=lambda v, p: [
            dbg[v].becomes(False),
            touched[v].becomes(False),
            *([used[v].becomes(False)] if sw["reset_intercepts"] else []),
            *([req[v].becomes(Req.NONE)] if lazy else []),
        ],
        doc="vCPU reset (INIT or a reset ioctl): the guest's DEBUGCTL returns to 0 and intel_pmu_reset releases the "
            "event" + spec.text("reset_intercepts", ", intercepting the LBR MSRs again (F8)",
                                " (as posted: neither intercepting again nor clearing lbr_used)"),
    )
    k_vmenter = kvm.transition(
        "vmenter", {"v": V, "p": P},
        guard=lambda v, p: runs_on(v, p) & ~in_guest[v] & (pc[v] == Pc.IDLE),
        updates=lambda v, p: [
            in_guest[v].becomes(True),
            *([req[v].becomes(Req.NONE)] if lazy else []),
            *([used[v].becomes(used[v] & ~(~absent(v) & owns(v, p)))]
              if sw["vmentry_check"] and not sw["entry_check_owned"] else
              [used[v].becomes(used[v] & ~(~absent(v) & ~owns_after_entry(v, p)))]
              if sw["vmentry_check"] and sw["entry_check_author"] else []),
        ],
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
        "intercept_all", {"v": V, "p": P},
        updates=lambda v, p: [passthru[v].becomes(ite(used[v], FALSE, passthru[v]))]
        if sw["sched_in_intercept"] else [],
        doc="sched-in: if the last slice used the LBR, every LBR MSR is intercepted again, so the slice's first "
            "access VM-exits (patch 12)",
    )
    m_pass = msr.transition("pass_through", {"v": V}, updates=lambda v: [passthru[v].becomes(True)],
                            doc="the handler passes the LBR MSRs through (patch 12)")
    if not dbg_in_handler:
        m_pass_if = msr.transition("pass_through_if_opted_in", {"v": V},
                                   updates=lambda v: [passthru[v].becomes(passthru[v] | cap_ok)],
                                   doc="the DEBUGCTL write of an opted-in guest passes the LBR MSRs through (patch 12)")
    m_entry = msr.transition(
        "entry_check", {"v": V, "p": P},
        updates=lambda v, p: (
            [passthru[v].becomes(passthru[v] & (absent(v) | owns_after_entry(v, p)))]
            if sw["entry_check_owned"] and sw["entry_check_author"] else
            [passthru[v].becomes(passthru[v] & owns_after_entry(v, p))] if sw["entry_check_owned"]
            else [passthru[v].becomes(passthru[v] & ~(~absent(v) & used[v] & owns(v, p)))]
        ) if sw["vmentry_check"] else [],
        doc=(spec.text("entry_check_owned",
                       "with interrupts off before VM-entry: cancel pass-through unless the event exists and owns the "
                       "LBR (patch 13, fixed: F4)",
                       "with interrupts off before VM-entry: if there is an event and lbr_used, cancel pass-through when "
                       "lbr_event->oncpu != -1, i.e. while it owns the LBR (patch 13 as posted)")
             if sw["vmentry_check"] else "no re-check before VM-entry (patch 13 absent)"),
    )
    m_reset = msr.transition(
        "reset_intercept", {"v": V},
        updates=lambda v: [passthru[v].becomes(False)] if sw["reset_intercepts"] else [],
        doc=spec.text("reset_intercepts", "reset intercepts the LBR MSRs again (F8)", "reset leaves the MSR bitmap alone"),
    )

    # -- vcpu_event -----------------------------------------------------------------------------
    unrecognised = not sw["owner_before_init"]
    e_create = vcpu_event.transition(
        "create_if_absent", {"v": V, "p": P},
        updates=lambda v, p: [
            ev[v].becomes(ite(cap_ok & new_event(v), ite(may_take(p), Ev.ACTIVE, Ev.ERROR),
                              ite(cap_ok & reenables(v, p), Ev.ACTIVE, ev[v]))),
            ev_counter[v].becomes(ite(cap_ok & creates_and_takes(v, p), Counter.ASSIGNED, ev_counter[v])
                                  if unrecognised else ev_counter[v]),
        ],
        doc="perf_event_create_kernel_counter for the vCPU thread, pinned: perf schedules it at once if the LBR is "
            "free to it, and puts it in error state if not" + (
                "; an event in error state is released and made again (F9)" if recovers and not by_reenable else
                "; an event in error state is re-enabled (the 2023 proposal)" if by_reenable else ""),
    )
    e_sched_in = vcpu_event.transition(
        "sched_in", {"v": V, "p": P},
        updates=lambda v, p: [
            ev[v].becomes(ite(releases_at_sched_in(v, p), Ev.FREED,
                              ite(regains(v, p), Ev.ACTIVE,
                                  ite((ev[v] == Ev.INACTIVE) & ~may_take(p), Ev.ERROR, ev[v])))),
            ev_counter[v].becomes(ite(regains(v, p), Counter.ASSIGNED, ev_counter[v]) if unrecognised else ev_counter[v]),
            *obs.mark("no_release_while_guest_uses_lbr", releases_at_sched_in(v, p) & dbg[v]),
            *obs.mark("host_never_sleeps_in_atomic", releases_at_sched_in(v, p)),
        ],
        doc="perf schedules the thread's pinned event in (error state if the LBR is not free to it); then KVM's "
            "sched-in hook" + ("" if lazy else " may release it (patch 12)"),
    )
    e_sched_out = vcpu_event.transition(
        "sched_out", {"v": V},
        updates=lambda v: [
            ev[v].becomes(ite(ev[v] == Ev.ACTIVE, Ev.INACTIVE, ev[v])),
            ev_counter[v].becomes(Counter.NA),
        ],
        doc="perf schedules the thread's event out with the thread",
    )
    e_entry = vcpu_event.transition(
        "release_at_entry", {"v": V},
        updates=lambda v: [ev[v].becomes(ite(releases_at_entry(v), Ev.FREED, ev[v])),
                           *obs.mark("no_release_while_guest_uses_lbr", releases_at_entry(v) & dbg[v])] if lazy else [],
        doc="vcpu_enter_guest services the release request with the vCPU's VMCS loaded (F2, F3, F7)",
    )
    e_reset = vcpu_event.transition(
        "release_at_reset", {"v": V},
        updates=lambda v: [ev[v].becomes(ite(absent(v), ev[v], Ev.FREED)), ev_counter[v].becomes(Counter.NA)],
        doc="intel_pmu_reset releases the event (patch 12)",
    )
    e_preempt = vcpu_event.transition(
        "preempt_on", {"h": H, "p": P},
        updates=lambda h, p: [
            ev.becomes_all(lambda w: ite(owns(w, p) & (target[h] == Target("pinned", p)) & host_wins(h, p), Ev.ERROR, ev[w])),
            ev_counter.becomes_all(lambda w: ite(owns(w, p) & (target[h] == Target("pinned", p)) & host_wins(h, p),
                                                 Counter.NA, ev_counter[w])),
        ] if sw["perf_scheduled"] else [],
        doc=("ctx_resched for the new CPU-pinned event: the task-pinned vCPU event cannot be scheduled and goes to "
             "perf's error state (patch 7)"
             if sw["perf_scheduled"] else "the vCPU event bypasses the perf scheduler and is not rescheduled (v7)"),
    )

    # -- host -----------------------------------------------------------------------------------
    common.host_open_pinned(host, hu, target)
    common.host_open_flex(host, hu, target)
    h_ipi = host.transition(
        "ipi_install", {"h": H, "p": P},
        guard=lambda h, p: (hu[h] == Hu.IPI) & ((target[h] == Target("pinned", p)) | (target[h] == Target("flex", p)))
        & ~irqs_off(p),
        updates=lambda h, p: [
            hu.becomes_all(lambda h2: ite(
                h2 == h,
                ite(target[h] == Target("flex", p), ite(lbr_free(p), Hu.ACTIVE, Hu.INACTIVE),
                    ite(exists(H, lambda h3: (h3 != h) & pinned_on(h3, p)), Hu.FAILED,
                        ite(host_wins(h, p), Hu.ACTIVE, Hu.INACTIVE))),
                ite(hu[h2].in_(Hu.ACTIVE, Hu.SHARED) & (target[h] == Target("pinned", p)) & host_wins(h, p)
                    & ((target[h2] == Target("flex", p)) | exists(V, lambda w: host_task_of(h2, w) & runs_on(w, p))),
                    Hu.INACTIVE, hu[h2]),
            )),
        ],
        doc="the IPI is handled on p (interrupts enabled): a CPU-pinned event takes the LBR by priority, a "
            "CPU-flexible one only if nobody holds it",
    )
    h_flex_in = host.transition(
        "flex_resched", {"h": H, "p": P},
        guard=lambda h, p: (hu[h] == Hu.INACTIVE) & (target[h] == Target("flex", p)) & lbr_free(p),
        updates=lambda h, p: [hu[h].becomes(Hu.ACTIVE)],
        doc="perf schedules a waiting CPU-flexible event onto p's free LBR (its next reschedule or rotation; A4)",
    )
    common.host_open_task(host, hu, target, host_task_of)
    takes = spec.define(
        "vcpu_takes", {"v": V, "p": P},
        lambda v, p: creates_and_takes(v, p) | reenables(v, p),
        doc="v's event takes p's LBR now, at creation or re-enabling",
    )
    h_task_in = host.transition(
        "task_sched_in", {"v": V, "p": P},
        updates=lambda v, p: [
            hu.becomes_all(lambda h: ite(
                (hu[h] == Hu.INACTIVE) & host_task_of(h, v) & ~pinned_holds(p),
                ite(regains(v, p), Hu.SHARED if not sw["bit62"] else Hu.INACTIVE, Hu.ACTIVE),
                ite((hu[h] == Hu.ACTIVE) & (target[h] == Target("flex", p)) & (regains(v, p) | host_task_gets(v, p)),
                    Hu.INACTIVE, hu[h]),
            )),
        ],
        doc="perf schedules v's task events after its pinned ones, before CPU-flexible ones: the host task event "
            "gets the LBR if it is free" + ("" if sw["bit62"] else ", or shares it with an equal config")
            + "; a CPU-flexible event on p loses it to v's events",
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
                (hu[h] == Hu.ACTIVE) & host_task_of(h, v) & cap_ok & takes(v, p),
                Hu.SHARED if not sw["bit62"] else Hu.INACTIVE,
                ite((hu[h] == Hu.ACTIVE) & (target[h] == Target("flex", p)) & cap_ok & takes(v, p), Hu.INACTIVE, hu[h]),
            )),
        ],
        doc=("the new task-pinned vCPU event outranks a flexible host task event on the same thread and a CPU-flexible "
             "event on p" + ("; bit 62 makes their configs differ, so they never share (patch 10)" if sw["bit62"]
                             else "; with equal configs perf lets them share the LBR")),
    )
    h_sample = common.host_sample(
        host, hu, obs=obs,
        sees_guest=lambda h: exists(P, lambda p: host_on(h, p) & (rec[p].is_("vcpu") | sel[p].is_("vcpu"))))
    common.host_close(host, hu, target)

    # -- lbr_hw ---------------------------------------------------------------------------------
    l_sched_out = lbr_hw.transition(
        "forget_stack", {"v": V, "p": P},
        updates=lambda v, p: [rec[p].becomes(ite(owns(v, p), Tag.none, rec[p]))],
        doc="sched-out: perf saves the stack; what stays in the hardware is wiped at the context switch before the "
            "next LBR user reads it, so the model forgets it (A7)",
    )
    records_at_entry = spec.define(
        "records_at_entry", {"v": V, "p": P},
        lambda v, p: dbg[v] & (owns_after_entry(v, p) if sw["entry_debugctl_owned"] else TRUE),
        doc="VM-entry loads DEBUGCTL.LBR set for v on p, so the guest's branches are recorded in p's LBR"
            + ("" if sw["entry_debugctl_owned"] else ", whoever owns it (F1)"),
    )
    l_entry = lbr_hw.transition(
        "record_guest", {"v": V, "p": P},
        updates=lambda v, p: [rec[p].becomes(ite(records_at_entry(v, p), Tag("vcpu", v), rec[p]))],
        doc=spec.text("entry_debugctl_owned",
                      "in guest mode with DEBUGCTL.LBR set, guest branches are recorded in the LBR its event owns (F1's fix)",
                      "the VMCS loads the guest's DEBUGCTL at VM-entry: with LBR set, guest branches are recorded in p's "
                      "LBR whoever owns it"),
    )
    l_create = lbr_hw.transition(
        "reset_on_create", {"v": V, "p": P},
        updates=lambda v, p: [
            rec[p].becomes(ite(cap_ok & creates_and_takes(v, p), Tag.none, rec[p])),
            sel[p].becomes(ite(cap_ok & creates_and_takes(v, p), reset_sel, sel[p]) if sw["perf_resets_lbr_select"]
                           else sel[p]),
        ],
        doc="a new event is the LBR's first user and has never run: perf resets the records"
            + spec.text("perf_resets_lbr_select", " and LBR_SELECT (F12's fix)", " but not LBR_SELECT (F12)"),
    )
    l_install = lbr_hw.transition(
        "install_host", {"h": H, "p": P},
        updates=lambda h, p: [
            rec[p].becomes(ite(host_takes(h, p), Tag.host, rec[p])),
            sel[p].becomes(ite(host_takes(h, p), Tag.host, sel[p])),
        ],
        doc="a host event that takes the LBR programs it and starts recording host branches (A2)",
    )
    l_flex = lbr_hw.transition(
        "flex_programs", {"h": H, "p": P},
        updates=lambda h, p: [rec[p].becomes(Tag.host), sel[p].becomes(Tag.host)],
        doc="the CPU-flexible host event programs the LBR it now has (A2)",
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
    l_access = lbr_hw.transition(
        "guest_programs", {"v": V, "p": P},
        updates=lambda v, p: [sel[p].becomes(ite(is_msr(v), Tag("vcpu", v), sel[p]))],
        doc="the guest's access programs LBR_SELECT with its own filter (A8)",
    )
    l_direct = lbr_hw.transition(
        "guest_programs_direct", {"v": V, "p": P},
        updates=lambda v, p: [sel[p].becomes(Tag("vcpu", v))],
        doc="the guest programs LBR_SELECT directly (A8)",
    )

    # -- lbr_ctxsw ------------------------------------------------------------------------------
    c_save = ctxsw.transition(
        "save", {"v": V, "p": P},
        updates=lambda v, p: [
            saved_sel[v].becomes(ite(owns(v, p), ite(sel[p] == Tag.none, Tag("vcpu", v), sel[p]), saved_sel[v])
                                 if sw["lbr_select_ctxsw"] else saved_sel[v]),
        ],
        doc=("sched-out: perf saves the vCPU event's LBR stack and LBR_SELECT (patch 11)" if sw["lbr_select_ctxsw"]
             else "sched-out: perf saves the LBR stack only (patch 11 absent)"),
    )
    c_discard = ctxsw.transition(
        "discard", {"v": V, "p": P},
        updates=lambda v, p: [saved_sel[v].becomes(ite(releases_at_sched_in(v, p), Tag("vcpu", v), saved_sel[v]))],
        doc="a released event's saved LBR state goes with it",
    )
    c_discard_v = ctxsw.transition(
        "discard_on_release", {"v": V},
        updates=lambda v: [saved_sel[v].becomes(ite(releases_at_entry(v), Tag("vcpu", v), saved_sel[v]))] if lazy else [],
        doc="a released event's saved LBR state goes with it",
    )
    c_reset = ctxsw.transition("discard_on_reset", {"v": V}, updates=lambda v: [saved_sel[v].becomes(Tag("vcpu", v))],
                               doc="reset releases the event and its saved LBR state")
    c_create = ctxsw.transition(
        "discard_on_create", {"v": V, "p": P},
        updates=lambda v, p: [saved_sel[v].becomes(ite(cap_ok & new_event(v), Tag("vcpu", v), saved_sel[v]))],
        doc="a new event starts with nothing saved",
    )

    # -- guest ----------------------------------------------------------------------------------
    g_observe = guest.transition(
        "observe", {"v": V, "p": P},
        updates=lambda v, p: obs.mark("guest_never_reads_foreign", is_msr(v) & (foreign(v, rec[p]) | foreign(v, sel[p]))),
        doc="the guest reads p's LBR records and LBR_SELECT (A8)",
    )
    g_dbg = guest.transition(
        "debugctl_outcome", {"v": V, "p": P},
        doc=spec.text("debugctl_common_without_optin",
                      "a DEBUGCTL access of a guest that did not opt in keeps its common handling: no #GP (F10's fix)",
                      "a DEBUGCTL access of a guest that did not opt in gets #GP: only the vPMU handles DEBUGCTL (patch 14)"),
    )

    # -- synchronised steps -------------------------------------------------------------------
    spec.sync(
        "sched_in", {"v": V, "p": P},
        lambda v, p: [switch_in(v, p), k_sched_in(v, p), m_intercept(v, p), e_sched_in(v, p), h_task_in(v, p),
                      l_sched_in(v, p), c_discard(v, p), vmcs_load(v, p)],
        doc="vCPU thread v is scheduled in on p: perf's sched-in and LBR restore, then KVM's sched-in hook, then "
            "vcpu_load",
    )
    spec.sync(
        "sched_out", {"v": V, "p": P},
        lambda v, p: [switch_out(v), k_preempted(v), e_sched_out(v), h_task_out(v), c_save(v, p), l_sched_out(v, p)],
        guard=lambda v, p: cpu[v] == p,
        doc="vCPU thread v is scheduled out of p: perf saves its LBR state",
    )
    spec.sync(
        "guest_lbr_direct", {"v": V, "p": P},
        lambda v, p: [k_direct(v, p), g_observe(v, p), l_direct(v, p)],
        doc="the guest accesses a passed-through LBR MSR directly (no VM-exit)",
    )
    spec.sync(
        "guest_lbr_exit", {"v": V, "p": P},
        lambda v, p: [k_exit(v, p), e_create(v, p), h_task_preempt(v, p), l_create(v, p), c_create(v, p)],
        doc="the guest touches an intercepted LBR MSR: VM-exit; KVM's handler creates the vCPU LBR event if absent "
            "and perf schedules it on p (patches 9, 12); #GP without the capability (patch 3)",
        patch=patch(12),
    )
    if dbg_in_handler:
        spec.sync(
            "guest_debugctl", {"v": V, "p": P},
            lambda v, p: [k_debugctl(v, p), e_create(v, p), h_task_preempt(v, p), l_create(v, p), c_create(v, p),
                          g_dbg(v, p)],
            doc="the guest writes DEBUGCTL: VM-exit; the LBR MSR handler creates the event if absent and, if it owns "
                "the LBR, writes the VMCS field (patches 12, 14)",
            patch=patch(14),
        )
    else:
        spec.sync(
            "guest_debugctl", {"v": V, "p": P, "lbr": BOOL},
            lambda v, p, lbr: [k_debugctl(v, p, lbr), e_create(v, p), h_task_preempt(v, p), l_create(v, p),
                               c_create(v, p), g_dbg(v, p), m_pass_if(v)],
            doc="the guest writes DEBUGCTL.LBR: VM-exit; KVM creates the event if absent and writes the VMCS field, "
                "whoever owns the LBR (patches 12, 14; F11's fix)",
            patch=patch(14),
        )
    spec.sync(
        "kvm_lbr_check", {"v": V, "p": P},
        lambda v, p: [k_check(v, p)],
        doc=spec.text("irq_off_access",
                      "local_irq_disable(); if lbr_event->oncpu == -1 (the LBR was reclaimed) refuse the access: #GP "
                      "(patch 12)",
                      "check that the event owns the LBR with interrupts still enabled; refuse the access if not (v7)"),
        patch=patch(12),
    )
    spec.sync(
        "kvm_lbr_access", {"v": V, "p": P, "lbr": BOOL},
        lambda v, p, lbr: [k_access(v, p, lbr), g_observe(v, p), l_access(v, p)],
        doc="KVM performs the guest's access: the physical LBR MSR, or DEBUGCTL in the VMCS (patch 12)",
        patch=patch(12),
    )
    spec.sync(
        "kvm_pass_through", {"v": V, "p": P},
        lambda v, p: [k_done(v, p), m_pass(v)],
        doc="interrupts back on after a successful access: lbr_used set and the LBR MSRs passed through (patch 12)",
        patch=patch(12),
    )
    if info_gp:
        spec.sync(
            "guest_info_exit", {"v": V, "p": P},
            lambda v, p: [k_info(v, p)],
            doc="the guest touches an intercepted LBR_INFO MSR, which is_lbr_msr does not recognise: #GP (F6)",
            patch=patch(12),
        )
    spec.sync(
        "vmenter", {"v": V, "p": P},
        lambda v, p: [k_vmenter(v, p), m_entry(v, p), l_entry(v, p), e_entry(v), c_discard_v(v)],
        doc=("vcpu_enter_guest: " + ("service the release request, then " if lazy else "")
             + (spec.text("entry_check_owned", "with interrupts off re-check LBR ownership (patch 13, fixed)",
                          "with interrupts off run the posted LBR check (patch 13)") if sw["vmentry_check"]
                else "no LBR re-check (patch 13 absent)") + "; VM-entry loads the guest's DEBUGCTL"),
        patch=patch(13),
    )
    spec.sync(
        "vcpu_reset", {"v": V, "p": P},
        lambda v, p: [k_reset(v, p), m_reset(v), e_reset(v), c_reset(v)],
        doc="the vCPU is reset: intel_pmu_reset releases the LBR event (patch 12)",
        patch=patch(12),
    )
    spec.sync(
        "host_ipi", {"h": H, "p": P},
        lambda h, p: [h_ipi(h, p), e_preempt(h, p), k_ipi_exit(p), l_install(h, p)],
        doc="the install IPI of a CPU-wide host LBR event is handled on p: a pinned one reclaims the LBR "
            "(patch 7 priorities)",
    )
    spec.sync(
        "host_flex_resched", {"h": H, "p": P},
        lambda h, p: [h_flex_in(h, p), l_flex(h, p)],
        doc="perf gives a waiting CPU-flexible host event p's free LBR",
    )

    # -- safety properties ----------------------------------------------------------------------
    spec.invariant(
        "no_kvm_access_after_reclaim",
        forall(V, lambda v: forall(P, lambda p: implies(runs_on(v, p) & (pc[v] == Pc.ACCESS) & is_msr(v),
                                                        owns(v, p)))),
        doc="KVM reads or writes a physical LBR MSR only while the vCPU's event owns the LBR on that pCPU.\n"
            "The handler's access (pc = ACCESS, an LBR MSR) comes after the ownership check inside one interrupts-off "
            "window, so no reclaim IPI can come between them.",
        patch=patch(12),
    )
    spec.invariant(
        "passthrough_implies_ownership",
        forall(V, lambda v: forall(P, lambda p: implies(runs_on(v, p) & in_guest[v] & passthru[v], owns(v, p)))),
        doc="A vCPU in guest mode with the LBR MSRs passed through has a live event that owns the LBR on that pCPU.\n"
            "A reclaim IPI forces a VM-exit; the check before VM-entry cancels pass-through unless the event owns "
            "the LBR.",
        patch=patch(13),
    )
    host_excl = lambda h, p: (hu[h] == Hu.ACTIVE) & (  # noqa: E731
        (target[h] == Target("pinned", p)) | (target[h] == Target("flex", p))
        | exists(V, lambda w: host_task_of(h, w) & runs_on(w, p)))
    spec.invariant(
        "single_owner",
        forall(P, lambda p: conj([
            forall(V, lambda v: forall(H, lambda h: ~(owns(v, p) & host_excl(h, p)))),
            forall(H, lambda h1: forall(H, lambda h2: implies(h1 != h2, ~(host_excl(h1, p) & host_excl(h2, p))))),
            forall(V, lambda v1: forall(V, lambda v2: implies(v1 != v2, ~(owns(v1, p) & owns(v2, p))))),
        ])),
        doc="At most one LBR user holds each pCPU's LBR exclusively.\n"
            "The perf scheduler sees the vCPU event (patch 7) and detects the conflict in get_event_constraints, so "
            "the lower-priority user does not get the LBR.  (Sharing by equal config is checked under isolation.)",
        patch=patch(7),
    )
    spec.invariant(
        "isolation",
        forall(V, lambda v: forall(P, lambda p: implies(owns(v, p), ~foreign(v, rec[p]))))
        & forall(H, lambda h: hu[h] != Hu.SHARED),
        doc="The vCPU event never shares the LBR, and an LBR a vCPU's event owns holds no records of the host or "
            "another vCPU.\n"
            "Bit 62 in the vCPU event's config keeps perf from sharing the LBR (patch 10); perf context-switches the "
            "stack with the thread (patch 11).",
        patch=patch(10),
    )
    spec.step_invariant(
        "guest_sees_only_its_own", g_observe,
        lambda v, p: ~(is_msr(v) & (foreign(v, rec[p]) | foreign(v, sel[p]))),
        doc="No guest reads LBR records or an LBR_SELECT written by the host or another vCPU.\n"
            "The guest reads the LBR only through KVM's checked access or a pass-through its event owns, and what "
            "its event finds there was reset or restored for it (patches 11, 12, 13).",
        patch=patch(12),
    )
    spec.step_invariant(
        "host_sees_no_guest_branches", h_sample,
        lambda h: ~exists(P, lambda p: host_on(h, p) & (rec[p].is_("vcpu") | sel[p].is_("vcpu"))),
        doc="No host LBR user samples guest branch records or a guest LBR_SELECT.\n"
            "The guest records only into an LBR its event owns, and loses it before a host event takes it "
            "(patches 7, 12).",
        patch=patch(12),
    )
    spec.invariant(
        "host_priority",
        forall(H, lambda h: forall(P, lambda p: implies(
            hu[h].in_(Hu.ACTIVE, Hu.INACTIVE) & (target[h] == Target("pinned", p)),
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
        forall(V, lambda v: forall(P, lambda p: implies(owns(v, p) & (saved_sel[v] == Tag("vcpu", v)),
                                                        sel[p].in_(Tag.none, Tag("vcpu", v))))),
        doc="When the vCPU event owns the LBR after its thread saved the guest's LBR_SELECT, LBR_SELECT holds the "
            "guest's value (or the reset value), never another user's.\n"
            "Perf saves and restores LBR_SELECT for the vCPU event on thread switches (patch 11).",
        patch=patch(11),
    )
    spec.invariant(
        "free_policy",
        forall(V, lambda v: implies(absent(v), ~passthru[v] & ~dbg[v] & ~pc[v].in_(Pc.WARNED, Pc.ACCESS, Pc.DONE))),
        doc="Without an event there is no pass-through, no DEBUGCTL.LBR and no handler past its WARN_ON.\n"
            "The event is released only after an untouched slice with DEBUGCTL.LBR clear, never while pass-through "
            "is on or a handler uses it (patch 12).",
        patch=patch(12),
    )
    spec.invariant(
        "intercept_at_sched_in",
        forall(V, lambda v: implies(passthru[v], used[v])),
        doc="The first guest LBR access of each slice VM-exits.\n"
            "Pass-through is granted only by an intercepted access in the current slice: sched-in intercepts every "
            "LBR MSR again when it clears lbr_used.",
        patch=patch(12),
    )
    spec.invariant(
        "capability_gating",
        implies(~cap(), forall(V, lambda v: (ev[v] == Ev.ABSENT) & ~passthru[v] & ~dbg[v] & (pc[v] == Pc.IDLE))),
        doc="Without KVM_CAP_X86_GUEST_LBR, guest LBR MSR accesses get #GP.\n"
            "No event, no pass-through, no DEBUGCTL.LBR and no handler unless userspace opted in.",
        patch=patch(3),
    )
    if warn_step:
        spec.step_invariant(
            "host_no_warn", k_warn, lambda v, p: ~absent(v),
            doc="Nothing a guest does makes the host WARN.\n"
                "The handler's WARN_ON(!lbr_event) never fires: nothing releases the event while a handler uses it.",
            patch=patch(12),
        )
    else:
        spec.step_invariant(
            "host_no_warn", k_exit, lambda v, p: TRUE,
            doc="Nothing a guest does makes the host WARN.\n"
                "Here the WARN_ON(!lbr_event) is part of the exit step that creates the event (A10), so it cannot fire; "
                "variant v8-unfused keeps it a step of its own and checks it.",
            patch=patch(12),
        )
    spec.step_invariant(
        "host_no_oops", k_check, lambda v, p: ~absent(v),
        doc="Nothing a guest does makes the host dereference a freed or NULL event.\n"
            "The handler's check of lbr_event->oncpu always finds an event.",
        patch=patch(12),
    )
    spec.step_invariant(
        "host_no_sleep_in_atomic", k_sched_in, lambda v, p: ~releases_at_sched_in(v, p),
        doc="Nothing a guest does makes the host sleep in atomic context.\n"
            "The event is released (perf_event_release_kernel takes mutexes) only where the vCPU thread may sleep, "
            "never from the preempt notifier at sched-in.",
        patch=patch(12),
    )
    spec.step_invariant(
        "no_gp_while_owning", k_info if info_gp else k_check,
        (lambda v, p: ~owns(v, p)) if info_gp else (lambda v, p: implies(~absent(v) & ~proceeds(v, p), ~owns(v, p))),
        doc="A guest whose event owns the LBR gets no #GP from a valid LBR MSR.\n"
            "Every LBR MSR the guest may access (FROM, TO, INFO, TOS, LBR_SELECT) is handled; a refused access is one "
            "whose event does not own the LBR.",
        patch=patch(12),
    )
    spec.step_invariant(
        "debugctl_accepted_with_optin", k_check, lambda v, p: is_msr(v) | absent(v) | proceeds(v, p),
        doc="A guest that opted in gets no #GP from DEBUGCTL.\n"
            "DEBUGCTL lives in the VMCS; writing it needs no LBR (patches 12, 14).",
        patch=patch(14),
    )
    spec.step_invariant(
        "debugctl_no_new_gp_without_optin", g_dbg,
        lambda v, p: cap() | (TRUE if sw["debugctl_common_without_optin"] else FALSE),
        doc="A guest that never opted in gets no new #GP from DEBUGCTL.\n"
            "Before patch 14, common code read 0 and accepted the LBR and BTF bits; a guest without the capability "
            "keeps that.",
        patch=patch(14),
    )
    if lazy:
        spec.step_invariant(
            "no_free_with_debugctl_lbr", k_vmenter, lambda v, p: ~(releases_at_entry(v) & dbg[v]),
            doc="An event is never released while its guest has DEBUGCTL.LBR set.\n"
                "The release decision reads the vCPU's own DEBUGCTL (patch 12).",
            patch=patch(12),
        )
        spec.step_invariant(
            "free_only_after_untouched_slice", k_vmenter,
            lambda v, p: ~(releases_at_entry(v) & (req[v] == Req.AFTER_TOUCH)) if not counts_refusals else TRUE,
            doc="An event is released only after a time slice in which the guest touched no LBR MSR.\n"
                "Every intercepted LBR access marks the slice as used (patch 12).",
            patch=patch(12),
        )
    else:
        spec.step_invariant(
            "no_free_with_debugctl_lbr", k_sched_in, lambda v, p: ~(releases_at_sched_in(v, p) & dbg[v]),
            doc="An event is never released while its guest has DEBUGCTL.LBR set.\n"
                "The release decision reads the vCPU's own DEBUGCTL (patch 12).",
            patch=patch(12),
        )
        spec.step_invariant(
            "free_only_after_untouched_slice", k_sched_in, lambda v, p: ~(releases_at_sched_in(v, p) & touched[v]),
            doc="An event is released only after a time slice in which the guest touched no LBR MSR.\n"
                "Every intercepted LBR access marks the slice as used (patch 12).",
            patch=patch(12),
        )

    # -- the comparison of designs (lbrspec compare) ------------------------------------------------
    obs.state("kvm_never_touches_unowned_lbr",
              obs.unowned(runs_on, owns, lambda v: (pc[v] == Pc.ACCESS) & is_msr(v)))
    obs.state("passthrough_only_when_owned", obs.unowned(runs_on, owns, lambda v: in_guest[v] & passthru[v]))
    obs.state("host_pinned_keeps_lbr", obs.host_pinned_loses(hu, target, lambda p: exists(V, lambda w: owns(w, p))))

    # -- reachability goals ---------------------------------------------------------------------
    spec.goal(
        "reclaim_during_passthrough",
        exists(V, lambda v: exists(P, lambda p: passthru[v] & runs_on(v, p) & pinned_holds(p))),
        doc="A host CPU-pinned event reclaims the LBR of a pCPU whose vCPU has pass-through on.",
        patch=patch(13),
    )
    spec.goal(
        "ipi_in_irqoff_window",
        exists(H, lambda h: exists(P, lambda p: irqs_off(p) & (hu[h] == Hu.IPI) & (target[h] == Target("pinned", p)))),
        doc="An install IPI arrives while KVM is inside its interrupts-off window, and waits.",
        patch=patch(12),
    )
    spec.goal(
        "event_freed_and_recreated",
        lambda v, p: (ev[v] == Ev.FREED) & cap_ok,
        on=e_create,
        doc="A vCPU's released event is recreated by a later access.",
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
    spec.goal(
        "event_in_error_state",
        exists(V, lambda v: ev[v] == Ev.ERROR),
        doc="A vCPU event cannot be scheduled and is in perf's error state (the pinned event lost to a CPU-pinned "
            "host event).",
        patch=patch(7),
    )
    spec.goal(
        "flexible_host_user_has_lbr",
        exists(H, lambda h: exists(P, lambda p: (hu[h] == Hu.ACTIVE) & (target[h] == Target("flex", p)))),
        doc="A CPU-flexible host LBR user has the LBR of its pCPU.",
        patch=patch(7),
    )
    spec.goal(
        "handler_preempted_with_event",
        lambda v: ~running[v] & pc[v].in_(*([Pc.CREATED] if warn_step else []), Pc.WARNED, Pc.DONE) & ~absent(v),
        params={"v": V},
        doc="Every vCPU thread is preempted inside KVM's LBR handler while it holds an event.",
        patch=patch(12),
    )
    spec.goal(
        "reset_with_live_event",
        lambda v, p: ~absent(v),
        on=k_reset,
        doc="A vCPU is reset while it has an LBR event.",
        patch=patch(12),
    )
    spec.goal(
        "access_refused",
        lambda v, p: ~absent(v) & ~proceeds(v, p),
        on=k_check,
        doc="The handler refuses an access because the event does not own the LBR.",
        patch=patch(12),
    )
    return spec.build()


# -- liveness ---------------------------------------------------------------------------------
def liveness(model: Model) -> tuple[Liveness, ...]:
    """The liveness properties of the design for ``model`` (any variant), each with the
    fairness it assumes.

    IPI delivery is weakly fair (a pending IPI is eventually handled).  Time slices ending is strongly fair: the
    handler's interrupts-off windows disable the preemption step now and then, and a weakly fair
    scheduler could let one vCPU thread keep a pCPU forever because of them.  Scheduling a
    thread in is strongly fair: with more vCPU threads than pCPUs a pCPU is idle only now and
    then, and a weakly fair scheduler could starve a thread forever (CFS does not).  The vCPU
    thread's own progress (KVM's handler steps and VM-entry) and a guest that "keeps using LBR"
    are strongly fair too: a thread may be preempted anywhere its interrupts are on (A4), so with
    weak fairness alone the scheduler could preempt it at the same point of the handler forever,
    and no design could promise pass-through.  For the same reason the two pass-through
    properties assume that a thread holding pass-through re-enters its guest sooner or later.
    Expressions use the model's own variables and definitions, so each variant's definitions are
    the ones checked.
    """
    var = model.var
    defs = {d.name: d for d in model.definitions}
    cap, running, in_guest, dbg, passthru, ev, hu = (
        var(n) for n in ("cap", "running", "in_guest", "dbg", "passthru", "ev", "hu"))
    absent = defs["absent"]
    no_host_user = forall(H, lambda h: hu[h] == Hu.OFF)

    def passthrough(v):
        return running[v] & in_guest[v] & passthru[v]

    names = {a.name for a in model.actions}

    def platform(v):
        return [f for f in _platform(v) if f[0] in names]

    def _platform(v):
        return [
            ("sched_in", STRONG, ("v",), {},
             "scheduler: a runnable vCPU thread that finds a pCPU idle again and again is put on one (no starvation)"),
            ("sched_out", STRONG, ("v",), {},
             "scheduler: every time slice ends, at the latest when the thread next has interrupts enabled (a thread "
             "that keeps entering short interrupts-off windows is not excused)"),
            ("host_ipi", WEAK, ("h",), {}, "IPI delivery: an install IPI is handled once its pCPU keeps interrupts enabled"),
            ("vmenter", STRONG, ("v",), {}, "KVM progress: a thread that runs infinitely often re-enters its guest"),
            ("kvm_warn_check", STRONG, ("v",), {}, "KVM progress: the LBR MSR handler goes on when its thread runs"),
            ("kvm_lbr_check", STRONG, ("v",), {}, "KVM progress: the LBR MSR handler goes on when its thread runs"),
            ("kvm_lbr_access", STRONG, ("v",), {}, "KVM progress: the access finishes"),
            ("kvm_pass_through", STRONG, ("v",), {}, "KVM progress: the handler finishes"),
        ]

    def keeps_using(v):
        return [
            ("guest_lbr_exit", STRONG, (), {"v": v},
             "the guest keeps using LBR: running with the LBR MSRs intercepted, it touches one sooner or later"),
            ("vmenter", STRONG, (), {"v": v},
             "slices are not always cut between KVM's access and the VM-entry: a thread holding pass-through "
             "re-enters its guest sooner or later", passthru[v]),
        ]

    host_stays_away = [("host_open_pinned", {}), ("host_open_flex", {}), ("host_open_task", {})]
    return (
        leads_to(
            "passthrough_without_host_user", {"v": V},
            lambda v: cap() & no_host_user & absent(v),
            passthrough,
            doc="With no host LBR user, a guest that keeps using LBR eventually runs with pass-through.\n"
                "From a vCPU without an LBR event: KVM creates one at the first intercepted access, perf gives it "
                "the LBR, and the handler passes the MSRs through.",
            patch=patch(12),
            quiet=lambda v: host_stays_away + [("vcpu_reset", {"v": v})],
            fairness=lambda v: platform(v) + keeps_using(v),
        ),
        leads_to(
            "unused_event_is_freed", {"v": V},
            lambda v: ~absent(v) & ~dbg[v],
            absent,
            doc="A guest that stops using LBR eventually has its event released.\n"
                "Once DEBUGCTL.LBR is clear and the guest touches no LBR MSR any more, a whole untouched slice "
                "passes and the event is released.",
            patch=patch(12),
            quiet=lambda v: [q for q in [("guest_lbr_exit", {"v": v}), ("guest_lbr_direct", {"v": v}),
                                         ("guest_info_exit", {"v": v}), ("guest_debugctl", {"v": v})] if q[0] in names],
            fairness=platform,
        ),
        leads_to(
            "lbr_regained_after_host_leaves", {"v": V},
            lambda v: cap() & no_host_user & ev[v].in_(Ev.INACTIVE, Ev.ERROR),
            passthrough,
            doc="After the host event goes away, the guest regains the LBR.\n"
                "A vCPU event that lost the LBR is scheduled back by perf (or, from perf's error state, made again by "
                "KVM) once no host LBR user is left, and a guest that keeps using LBR runs with pass-through again.",
            patch=patch(7),
            quiet=lambda v: host_stays_away + [("vcpu_reset", {"v": v})],
            fairness=lambda v: platform(v) + keeps_using(v),
        ),
    )


# -- the model-module protocol (lbrspec.modelref): what the commands read besides build() -------
#: ``lbrspec prove`` strengthens the invariants with the lemmas of ``proofs/``, imported only then.
LEMMAS = "lbrspec_proofs"

SORT_PLURALS = {"host_user": "host LBR users"}

#: The docs' graph pages (analysis, liveness, machine diagrams, projections) are drawn on one vCPU
#: and two pCPUs: the default instance has about four million states, too many for a graph in
#: memory, and one vCPU migrating between two pCPUs already shows every machine's behaviour.
DOC_GRAPH_SIZES = {"vCPU": 1, "pCPU": 2, "host_user": 1}

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
    "variants": "v8 (the posted code with every fix), the code as posted, one variant per finding that undoes its fix, "
                "proposals, the design alternatives the v8 changelog fixed, and mutants; each breaks the property "
                "named, or holds.",
    "docstring": "The model's docstring, with the modelling assumptions that remain:",
    "citations_heading": "Patches it reflects",
    "no_citations": "No patch of the series is cited by this machine, its transitions, or the properties that "
                    "read its variables.",
    "lanes": "between the guest, KVM, the perf core, the host LBR user and the IPI",
    "fairness_intro": "IPI delivery is weakly fair; time slices ending, scheduling a thread in, KVM's progress and "
                      "the guest's use of LBR are strongly fair (the liveness function's docstring says why). With weaker "
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
