"""What a kernel developer needs to turn :mod:`lbrspec_models.upstream_lbr`'s counterexamples into
reproducers: for every action of the model, what to do on a real machine (the guest's MSR
accesses, the VMM's ioctls, the host's perf commands, where a preemption or an IPI must land),
the kernel functions the action stands for and the commit that brought them; for every property
the model finds broken, what the developer sees when it breaks.

This module is data only.  ``lbrspec docs`` (:mod:`lbrspec.docgen.reproducers`) renders each
variant's shortest counterexamples with it into ``reproducers.md``; the model names this module
in its ``REPRODUCERS`` attribute, so nothing here is imported unless the docs are generated.
The traces themselves are never written here: they are computed by the explorer.

Format fields in the texts below: every parameter of the step (``{v}``, ``{p}``, ``{h}``,
``{lbr}``, ``{fail}``...) as the trace shows it, and ``{cpu}``, the host CPU number a ``p``
parameter stands for (:data:`CPU_NUMBERS`).

The functions named are those of Linux 5.12 to 6.14 (``arch/x86/kvm/vmx/pmu_intel.c``,
``vmx.c``, ``arch/x86/kvm/x86.c``, ``pmu.c``, ``arch/x86/events/intel/core.c`` and ``lbr.c``,
``kernel/events/core.c``); "merged" stands for the v14 series merged for 5.12 and the perf
changes it builds on.
"""

from __future__ import annotations

from collections.abc import Mapping


class Step:
    """How to reproduce one action of the model: ``who`` acts, ``does`` what (a format string), in
    which kernel ``functions``, brought by ``commit``.  ``when`` restricts the annotation to steps
    whose parameters have these values, ``switches`` to variants whose switches have these values
    (a fix undone, a proposal applied); the first matching annotation of an action is used.
    ``command`` is a host shell command the step runs; ``lands`` says, for a step that is a
    preemption or an IPI, where it must land (both format strings)."""

    def __init__(self, who: str, does: str, functions: str, commit: str, *, when: Mapping[str, object] | None = None,
                 switches: Mapping[str, bool] | None = None, command: str | None = None,
                 lands: str | None = None) -> None:
        self.who = who
        self.does = does
        self.functions = functions
        self.commit = commit
        self.when = dict(when or {})
        self.switches = dict(switches or {})
        self.command = command
        self.lands = lands


class Property:
    """What a broken property looks like on a real machine: ``label`` (I3, I7...), what the
    developer ``observe``s at the last step, and a ``note`` on the kernel code behind it and the
    mailing-list thread that describes it, if any."""

    def __init__(self, label: str, observe: str, note: str = "") -> None:
        self.label = label
        self.observe = observe
        self.note = note


#: The host CPU each pCPU of the model stands for (CPU 0 is left to the rest of the system).
CPU_NUMBERS: dict[str, int] = {"p0": 1, "p1": 2}

#: What the page says before the reproducers: the harness they assume.
INTRO = (
    "Each reproducer below is one of the shortest counterexamples `lbrspec check --model upstream_lbr` finds, "
    "step by step, with what to do on a real machine. The model has one vCPU (`v0`) and two host CPUs; `p0` "
    "and `p1` stand for host CPUs " + ", ".join(f"{n}" for n in CPU_NUMBERS.values()) + ". The natural harness is a "
    "KVM selftest (`tools/testing/selftests/kvm`): the guest code issues the `rdmsr`/`wrmsr` of the guest "
    "steps, the test issues the ioctls of the userspace steps (`vcpu_set_cpuid`, `vcpu_set_msr`, `vcpu_run`) "
    "from the vCPU thread, pins that thread with `sched_setaffinity` (a sched-out and sched-in on another "
    "CPU is a migration), and starts and stops the host perf commands. A userspace step that follows a "
    "guest step assumes `KVM_RUN` returned to the test in between (a `ucall` from the guest); a guest step "
    "that follows a userspace step is the next `KVM_RUN`. Intel host with legacy LBR (Skylake to Ice Lake) "
    "unless the setup says otherwise. A new vCPU's PERF_CAPABILITIES defaults to KVM's supported "
    "value, LBR_FMT included: write it explicitly where the model starts without guest LBR."
)

#: The initial state, by variable: what each value means for the setup.
SETUP: dict[str, dict[object, str]] = {
    "arch_host": {
        False: "a host with legacy LBR (no architectural LBR: CPUID.(EAX=7,ECX=0):EDX[19] clear)",
        True: "a host with architectural LBR (CPUID.(EAX=7,ECX=0):EDX[19] set, Sapphire Rapids or later)",
    },
    "pmu_ok": {False: "the vCPU's CPUID has no vPMU yet (CPUID.0AH.EAX version 0)"},
    "caps_lbr": {False: "the vCPU's PERF_CAPABILITIES has LBR_FMT = 0 (guest LBR off: `vcpu_set_msr` it to 0)"},
}

_CREATE = ("intel_pmu_create_guest_lbr_event -> perf_event_create_kernel_counter (pinned, exclude_host, "
           "INTEL_FIXED_VLBR_EVENT) -> perf_install_in_context -> ctx_resched -> intel_pmu_lbr_add")
_FAIL = ("creating the vLBR event fails: force it with an `intel_bts` event alive on the host at that moment "
         "(`perf record -e intel_bts// -- sleep 30`: LBR and BTS users exclude each other, x86_add_exclusive in "
         "intel_pmu_hw_config returns -EBUSY; stop it before any host LBR command below), or with failslab "
         "fault injection on the vCPU thread")

#: Per action of the model, its annotations (the first whose ``when`` matches the step is used).
ACTIONS: dict[str, list[Step]] = {
    "kvm_set_cpuid": [
        Step("userspace", "`KVM_SET_CPUID2` again, now without a vPMU (CPUID.0AH.EAX version 0): before "
             "1647b52757d5 the refresh keeps the vLBR event that the DEBUGCTL write created, although guest LBR is "
             "now off", "kvm_vcpu_after_set_cpuid -> kvm_pmu_refresh -> intel_pmu_refresh (no kvm_pmu_reset first)",
             "merged; fixed by 1647b52757d5", when={"ok": False}, switches={"refresh_releases_event": False}),
        Step("userspace", "`KVM_SET_CPUID2` again, now without a vPMU (CPUID.0AH.EAX version 0): before "
             "957d0f70e97b intel_pmu_refresh returns early and leaves nr, the LBR record count, as it was",
             "kvm_vcpu_after_set_cpuid -> kvm_pmu_refresh -> intel_pmu_refresh (early return)",
             "merged; fixed by 957d0f70e97b", when={"ok": False}, switches={"refresh_zeroes_nr": False}),
        Step("userspace", "`KVM_SET_CPUID2` with a vPMU (CPUID.0AH.EAX version 2, so that KVM emulates the legacy "
             "LBR freeze) and the host's family/model", "kvm_vcpu_after_set_cpuid -> kvm_pmu_refresh -> kvm_pmu_reset "
             "(releases a vLBR event) -> intel_pmu_refresh (nr from x86_perf_get_lbr)",
             "merged; 957d0f70e97b (nr zeroed first); 1647b52757d5 (reset first)",
             when={"ok": True}),
        Step("userspace", "`KVM_SET_CPUID2` again, now without a vPMU (CPUID.0AH.EAX version 0) or with another "
             "CPU model", "kvm_vcpu_after_set_cpuid -> kvm_pmu_refresh -> kvm_pmu_reset (releases a vLBR event) -> "
             "intel_pmu_refresh", "merged; 957d0f70e97b (nr zeroed first); 1647b52757d5 (reset first)",
             when={"ok": False}),
    ],
    "kvm_set_perf_caps": [
        Step("userspace", "`KVM_SET_MSRS`: MSR_IA32_PERF_CAPABILITIES (0x345) with LBR_FMT equal to the host's: before "
             "098f4c061ea1 KVM advertises and accepts it on a host with architectural LBR too",
             "vmx_set_msr (PERF_CAPABILITIES) -> kvm_pmu_refresh -> intel_pmu_refresh", "merged; fixed by 098f4c061ea1",
             when={"lbr": True}, switches={"no_lbr_fmt_on_arch_host": False}),
        Step("userspace", "`KVM_SET_MSRS`: MSR_IA32_PERF_CAPABILITIES (0x345) with LBR_FMT equal to the host's; before "
             "0094f62c7eaa the write is accepted at any time, after `KVM_RUN` too, and refreshes the PMU",
             "vmx_set_msr (PERF_CAPABILITIES) -> kvm_pmu_refresh -> intel_pmu_refresh", "merged; fixed by 0094f62c7eaa",
             when={"lbr": True}, switches={"caps_frozen_after_run": False}),
        Step("userspace", "`KVM_SET_MSRS`: MSR_IA32_PERF_CAPABILITIES with LBR_FMT = 0; before 0094f62c7eaa the write is "
             "accepted at any time, after `KVM_RUN` too, and refreshes the PMU", "vmx_set_msr (PERF_CAPABILITIES) -> "
             "kvm_pmu_refresh -> intel_pmu_refresh", "merged; fixed by 0094f62c7eaa", when={"lbr": False},
             switches={"caps_frozen_after_run": False}),
        Step("userspace", "`KVM_SET_MSRS`: MSR_IA32_PERF_CAPABILITIES (0x345) with LBR_FMT (bits 5:0) equal to the "
             "host's (read it with `KVM_GET_MSRS` on the feature MSR)", "vmx_set_msr (PERF_CAPABILITIES) -> "
             "kvm_pmu_refresh -> intel_pmu_refresh", "merged (c646236344e9); 0094f62c7eaa (frozen after KVM_RUN)",
             when={"lbr": True}),
        Step("userspace", "`KVM_SET_MSRS`: MSR_IA32_PERF_CAPABILITIES with LBR_FMT = 0", "vmx_set_msr "
             "(PERF_CAPABILITIES) -> kvm_pmu_refresh -> intel_pmu_refresh", "merged; 0094f62c7eaa (frozen after "
             "KVM_RUN)", when={"lbr": False}),
    ],
    "host_set_debugctl": [
        Step("userspace", "`KVM_SET_MSRS` from the vCPU thread: MSR_IA32_DEBUGCTLMSR (0x1d9) = LBR | FREEZE_LBRS_ON_PMI: "
             "before b333b8ebb85d KVM drops the LBR bit (and logs an unimplemented wrmsr) while guest LBR is not "
             "enabled; otherwise as below, the event created if needed", "vmx_set_msr (DEBUGCTL): "
             "vcpu_supported_debugctl (guest CPUID), vmcs_write64(GUEST_IA32_DEBUGCTL); " + _CREATE,
             "merged; fixed by b333b8ebb85d", when={"lbr": True}, switches={"host_debugctl_ignores_cpuid": False}),
        Step("userspace", "`KVM_SET_MSRS` from the vCPU thread: MSR_IA32_DEBUGCTLMSR (0x1d9) = LBR (bit 0) | "
             "FREEZE_LBRS_ON_PMI (bit 11); the value lands in the VMCS, and KVM creates the vLBR event if guest LBR "
             "is enabled and there is none", "vmx_set_msr (DEBUGCTL): vmx_get_supported_debugctl(host_initiated), "
             "vmcs_write64(GUEST_IA32_DEBUGCTL); " + _CREATE, "merged; b333b8ebb85d (host writes ignore guest CPUID)",
             when={"lbr": True}),
        Step("userspace", "`KVM_SET_MSRS` from the vCPU thread: MSR_IA32_DEBUGCTLMSR = 0 (the guest's DEBUGCTL.LBR "
             "cleared in the VMCS)", "vmx_set_msr (DEBUGCTL): vmcs_write64(GUEST_IA32_DEBUGCTL)", "merged",
             when={"lbr": False}),
    ],
    "sched_in": [
        Step("host scheduler", "the vCPU thread runs on host CPU {cpu} (pin it there with `sched_setaffinity`); perf "
             "schedules its vLBR event, if any, and restores its LBR stack but not LBR_SELECT (before 5863702561e6 the "
             "vLBR event lacks PERF_X86_EVENT_LBR_SELECT); KVM's sched-in hook asks for a PMU cleanup",
             "perf_event_task_sched_in -> intel_pmu_lbr_sched_task -> intel_pmu_lbr_restore (cpuc->lbr_select 0); "
             "kvm_arch_sched_in", "merged; fixed by 5863702561e6", switches={"lbr_select_ctxsw": False},
             lands="the vCPU thread is scheduled in on CPU {cpu}"),
        Step("host scheduler", "the vCPU thread runs on host CPU {cpu} (pin it there with `sched_setaffinity`): "
             "vcpu_load snapshots the host DEBUGCTL now, long before VM-entry (before 189ecdb3e112); perf schedules "
             "its vLBR event, if any; KVM's sched-in hook asks for a PMU cleanup", "kvm_sched_in -> vmx_vcpu_load "
             "(host_debugctlmsr = get_debugctlmsr()); perf_event_task_sched_in; kvm_arch_sched_in",
             "merged; fixed by 189ecdb3e112", switches={"debugctl_snapshot_at_entry": False},
             lands="the vCPU thread is scheduled in on CPU {cpu}"),
        Step("host scheduler", "the vCPU thread runs on host CPU {cpu} (pin it there with `sched_setaffinity`); "
             "perf schedules its vLBR event, if any, and restores its LBR stack; KVM's sched-in hook asks for a PMU cleanup "
             "if the vPMU has events", "perf_event_task_sched_in -> intel_pmu_lbr_sched_task (restore); "
             "kvm_sched_in -> kvm_arch_sched_in (KVM_REQ_PMU); vmx_vcpu_load", "merged; 9aa4f622460f (lazy release)",
             lands="the vCPU thread is scheduled in on CPU {cpu}"),
    ],
    "sched_out": [
        Step("host scheduler", "the vCPU thread is switched out of host CPU {cpu} (block it, or let another thread "
             "pinned to CPU {cpu} run; with its affinity changed, a migration): perf saves its LBR stack but not "
             "LBR_SELECT (before 5863702561e6)", "perf_event_task_sched_out -> intel_pmu_lbr_sched_task -> "
             "intel_pmu_lbr_save (cpuc->lbr_select 0); kvm_sched_out", "merged; fixed by 5863702561e6",
             switches={"lbr_select_ctxsw": False}, lands="the vCPU thread is preempted on CPU {cpu}"),
        Step("host scheduler", "the vCPU thread is switched out of host CPU {cpu} (block it, or let another thread "
             "pinned to CPU {cpu} run: a preemption; with its affinity changed, a migration): perf saves its LBR "
             "stack", "perf_event_task_sched_out -> intel_pmu_lbr_sched_task (save; LBR_SELECT too since "
             "5863702561e6); kvm_sched_out", "merged", lands="the vCPU thread is preempted on CPU {cpu}"),
    ],
    "guest_lbr_exit": [
        Step("guest", "the guest reads an LBR MSR (e.g. `rdmsr` MSR_LBR_TOS 0x1c9): intercepted, VM-exit; KVM creates "
             "the vLBR event, and the inverted test (before 67b45af946ec) sends the successful creation down the "
             "dummy path: the guest reads 0", "intel_pmu_handle_lbr_msrs_access (inverted test); " + _CREATE,
             "merged; fixed by 67b45af946ec", when={"fail": False}, switches={"create_test_fixed": False}),
        Step("guest", "the guest reads an LBR MSR (e.g. `rdmsr` MSR_LBR_TOS 0x1c9): intercepted, VM-exit, and "
             + _FAIL + "; the inverted test (before 67b45af946ec) goes on to the interrupts-off check with no event",
             "intel_pmu_handle_lbr_msrs_access (inverted test); intel_pmu_create_guest_lbr_event",
             "merged; fixed by 67b45af946ec", when={"fail": True}, switches={"create_test_fixed": False}),
        Step("guest", "the guest reads an LBR MSR (e.g. `rdmsr` MSR_LBR_TOS 0x1c9, or LBR_FROM_0): intercepted, VM-exit; "
             "KVM creates the vLBR event if there is none, and re-enables one that a pinned host event put in "
             "error state (the proposal, `<20230616113353.45202-4-xiong.y.zhang@intel.com>`)",
             "intel_pmu_handle_lbr_msrs_access -> perf_event_enable (proposal); " + _CREATE,
             "proposal (not merged)", when={"fail": False}, switches={"host_pinned_first": True}),
        Step("guest", "the guest reads an LBR MSR (e.g. `rdmsr` MSR_LBR_TOS 0x1c9, or LBR_FROM_0): intercepted, "
             "VM-exit; KVM creates the vLBR event if there is none", "intel_pmu_get_msr -> "
             "intel_pmu_handle_lbr_msrs_access; " + _CREATE, "merged; 67b45af946ec (test of the creation result)",
             when={"fail": False}),
        Step("guest", "the guest reads an LBR MSR (e.g. `rdmsr` MSR_LBR_TOS 0x1c9): intercepted, VM-exit, and "
             + _FAIL + "; the access is a dummy one (the guest reads 0)", "intel_pmu_get_msr -> "
             "intel_pmu_handle_lbr_msrs_access (dummy path); intel_pmu_create_guest_lbr_event",
             "merged; 67b45af946ec (test of the creation result)", when={"fail": True}),
    ],
    "kvm_lbr_check": [
        Step("KVM", "with interrupts off, KVM checks the vLBR event: ACTIVE, the access goes to the hardware; "
             "otherwise a dummy access (reads 0) and bit 58 cleared in pmc_in_use", "intel_pmu_handle_lbr_msrs_access "
             "(local_irq_disable, event->state)", "merged"),
    ],
    "kvm_lbr_access": [
        Step("KVM", "KVM performs the guest's access on the physical MSR (`rdmsrl`/`wrmsrl`), sets bit 58, "
             "interrupts on: the guest's `rdmsr` returns what the LBR holds", "intel_pmu_handle_lbr_msrs_access",
             "merged"),
    ],
    "guest_lbr_direct": [
        Step("guest", "the guest reads the passed-through LBR MSRs without a VM-exit (`rdmsr` MSR_LBR_SELECT 0x1c8, "
             "MSR_LBR_TOS 0x1c9, the FROM/TO records, 0x680/0x6c0 on Skylake and later), then programs "
             "MSR_LBR_SELECT", "vmx_passthrough_lbr_msrs -> vmx_update_intercept_for_lbr_msrs (at the last "
             "VM-entry)", "merged"),
    ],
    "guest_debugctl": [
        Step("guest", "the guest writes MSR_IA32_DEBUGCTLMSR = LBR | FREEZE_LBRS_ON_PMI (`wrmsr` 0x1d9): "
             "intercepted; KVM writes the VMCS and creates the vLBR event if there is none",
             "vmx_set_msr (DEBUGCTL): vmcs_write64(GUEST_IA32_DEBUGCTL); " + _CREATE, "merged",
             when={"lbr": True, "fail": False}),
        Step("guest", "the guest writes MSR_IA32_DEBUGCTLMSR = LBR | FREEZE_LBRS_ON_PMI (`wrmsr` 0x1d9): "
             "intercepted; KVM writes the VMCS, and " + _FAIL + "; the guest's LBR bit stays set in the VMCS",
             "vmx_set_msr (DEBUGCTL): vmcs_write64(GUEST_IA32_DEBUGCTL); intel_pmu_create_guest_lbr_event "
             "(result ignored)", "merged", when={"lbr": True, "fail": True}),
        Step("guest", "the guest writes MSR_IA32_DEBUGCTLMSR = 0 (`wrmsr` 0x1d9): it stops recording branches",
             "vmx_set_msr (DEBUGCTL): vmcs_write64(GUEST_IA32_DEBUGCTL)", "merged", when={"lbr": False}),
    ],
    "virtual_pmi": [
        Step("guest", "a guest counter overflows (program one with a small period and its PMI enabled): VM-exit, "
             "KVM injects the PMI and, as the guest has FREEZE_LBRS_ON_PMI, clears the guest's DEBUGCTL.LBR in the "
             "VMCS", "kvm_pmu_deliver_pmi -> intel_pmu_deliver_pmi -> intel_pmu_legacy_freezing_lbrs_on_pmi (vPMU "
             "version 2 or 3)", "e6209a3bef79"),
    ],
    "vmenter": [
        Step("KVM", "`KVM_RUN` (re-)enters the guest: the PMU cleanup releases the vLBR event only if the guest's "
             "DEBUGCTL.LBR is clear and the event is not marked in use; a cleanup that finds DEBUGCTL.LBR clear first "
             "only clears the mark, which a DEBUGCTL write with LBR set makes (the proposal, "
             "`<20230921082957.44628-2-xiong.y.zhang@intel.com>`); pass-through set or cancelled, VM-entry loads "
             "the guest's DEBUGCTL", "vcpu_enter_guest -> kvm_pmu_handle_event -> intel_pmu_cleanup (in-use "
             "prediction); vmx_passthrough_lbr_msrs", "proposal (not merged)", switches={"delay_release": True}),
        Step("KVM", "`KVM_RUN` (re-)enters the guest: the PMU cleanup releases the vLBR event only if the guest's "
             "DEBUGCTL.LBR is clear and no virtual PMI's freeze is pending (the proposal, "
             "`<20230921082957.44628-3-xiong.y.zhang@intel.com>`); pass-through set or cancelled, VM-entry loads "
             "the guest's DEBUGCTL", "vcpu_enter_guest -> kvm_pmu_handle_event -> intel_pmu_cleanup (freeze "
             "state); vmx_passthrough_lbr_msrs", "proposal (not merged)", switches={"keep_on_freeze": True}),
        Step("KVM", "`KVM_RUN` (re-)enters the guest without a new host DEBUGCTL snapshot (before 189ecdb3e112 it was "
             "taken at vcpu_load): PMU cleanup, pass-through, VM-entry loads the guest's DEBUGCTL; after the next "
             "VM-exit KVM writes back the old snapshot", "vcpu_enter_guest; vmx_vcpu_run (update_debugctlmsr("
             "vmx->host_debugctlmsr) after VM-exit)", "merged; fixed by 189ecdb3e112",
             switches={"debugctl_snapshot_at_entry": False}),
        Step("KVM", "`KVM_RUN` (re-)enters the guest: vcpu_enter_guest services the PMU request (releases the "
             "vLBR event if the guest's DEBUGCTL.LBR is clear), then, interrupts off, snapshots the host DEBUGCTL, "
             "sets or cancels the LBR pass-through, and VM-entry loads the guest's DEBUGCTL from the VMCS",
             "vcpu_enter_guest -> kvm_pmu_handle_event -> intel_pmu_cleanup -> intel_pmu_release_guest_lbr_event; "
             "vmx_vcpu_run -> vmx_passthrough_lbr_msrs; VM_ENTRY_LOAD_DEBUG_CONTROLS",
             "merged; 9aa4f622460f (lazy release); 189ecdb3e112 (DEBUGCTL snapshot at entry)"),
    ],
    "vcpu_reset": [
        Step("userspace", "the VMM resets the vCPU (RESET/INIT): DEBUGCTL cleared, the vLBR event released",
             "kvm_vcpu_reset -> kvm_pmu_reset -> intel_pmu_reset -> intel_pmu_release_guest_lbr_event", "merged"),
    ],
    "host_ipi": [
        Step("host perf", "the install IPI of host event {h} is handled on CPU {cpu}: with the proposal's constraint order "
             "(shared-register constraint first, `<20230616113353.45202-2-xiong.y.zhang@intel.com>`) a CPU-pinned "
             "host event takes the LBR, and a vLBR event active there goes to perf's error state",
             "__perf_install_in_context -> ctx_resched -> __intel_get_event_constraints (shared regs first) -> "
             "intel_pmu_lbr_add", "proposal (not merged)", switches={"host_pinned_first": True},
             lands="the perf install IPI is handled on CPU {cpu}"),
        Step("host perf", "the install IPI of host event {h} is handled on CPU {cpu} (if the vCPU is in guest mode "
             "there, the IPI forces a VM-exit first): perf schedules the event; the vLBR constraint is tried first, "
             "so an active vLBR event keeps the LBR", "perf_install_in_context -> __perf_install_in_context -> "
             "ctx_resched -> x86_pmu_add (__intel_get_event_constraints: intel_vlbr_constraints first) -> "
             "intel_pmu_lbr_add; intel_pmu_lbr_enable_all (skipped while vlbr_exclude_host)", "merged (perf side)",
             lands="the perf install IPI is handled on CPU {cpu}"),
    ],
    "host_flex_resched": [
        Step("host perf", "perf schedules the waiting CPU-flexible LBR event {h} on CPU {cpu} (rotation, or the "
             "LBR freed)", "perf_rotate_context / ctx_sched_in -> x86_pmu_add -> intel_pmu_lbr_add", "merged (perf "
             "side)", lands="perf reschedules CPU {cpu}"),
    ],
    "host_close": [
        Step("host perf", "the host perf command ends (Ctrl-C): its event is removed from CPU {cpu} by IPI",
             "perf_release -> perf_remove_from_context -> intel_pmu_lbr_del", "merged (perf side)",
             command="kill -INT the perf record of CPU {cpu}", lands="the perf remove IPI is handled on CPU {cpu}"),
    ],
    "host_open_pinned": [
        Step("host perf", "start a CPU-pinned host LBR user on CPU {cpu} (`D` pins the event; `-a` instead of "
             "`-C {cpu}` pins one on every CPU); perf sends the install IPI to CPU {cpu}",
             "perf_event_open (attr.pinned, cpu {cpu}) -> perf_install_in_context", "merged (perf side)",
             command="perf record -b -e instructions:D -C {cpu} -- sleep 30"),
    ],
    "host_open_flex": [
        Step("host perf", "start a CPU-flexible host LBR user on CPU {cpu}; perf sends the install IPI to CPU {cpu}",
             "perf_event_open (cpu {cpu}) -> perf_install_in_context", "merged (perf side)",
             command="perf record -b -e instructions -C {cpu} -- sleep 30"),
    ],
    "host_sample": [
        Step("host perf", "a PMI of host event {h}: perf reads the LBR of the CPU it runs on into the sample (see "
             "it with `perf script -F ip,brstack`)", "intel_pmu_handle_irq -> intel_pmu_lbr_read (skipped while a "
             "vLBR event is active: vlbr_exclude_host)", "merged (perf side)"),
    ],
}

_RESET_NOTE = (
    "perf resets the LBR for a new event only when it is the CPU's first LBR user (intel_pmu_lbr_add: `lbr_users` "
    "was 0 and the event never ran); a CPU-pinned host LBR event stays scheduled while the vLBR event is "
    "installed, so nothing is reset, and LBR_SELECT and the records not yet overwritten are the host event's.")

#: Per property the model may find broken, what breaking it looks like.
PROPERTIES: dict[str, Property] = {
    "guest_reads_own_or_zero": Property(
        "I3", "the guest's `rdmsr` of MSR_LBR_SELECT returns the host event's filter although the guest never "
        "wrote it, and the FROM/TO records its own branches have not yet overwritten hold host addresses "
        "(host kernel addresses included)", _RESET_NOTE),
    "records_kept_across_resched": Property(
        "I7", "after the reschedule the guest's LBR reads return 0 (or perf's reset state), not the records it had "
        "before the vCPU thread was switched out",
        "The event is released by the PMU cleanup of the first VM-entry after the sched-in (the guest's "
        "DEBUGCTL.LBR is clear) and the next access creates a new one. The interleaving is the one of "
        "`<20230921082957.44628-2-xiong.y.zhang@intel.com>` (guest clears DEBUGCTL.LBR, is rescheduled in the middle "
        "of reading its LBR, the new event is reset by perf as the CPU's first LBR user). Where the shortest trace "
        "has the creation fail instead (a dummy read), variant upstream-creation-never-fails takes the perf-reset path. The same CPU "
        "serves as well as another one: the migration is not needed."),
    "records_kept_after_freeze": Property(
        "I7 after a freeze", "the guest's PMI handler, reading the LBR the freeze stopped, gets 0 (or perf's reset "
        "state) once its vCPU thread was rescheduled",
        "The legacy freeze (e6209a3bef79) clears the guest's DEBUGCTL.LBR, so the cleanup of the next VM-entry "
        "after a sched-in releases the event: the case of `<20230921082957.44628-3-xiong.y.zhang@intel.com>`."),
    "host_pinned_wins": Property(
        "I8", "the pinned host `perf record -b` on that CPU is not put in error state, but while the vCPU runs there "
        "its samples carry no fresh branch stack (intel_pmu_lbr_read returns early while the vLBR event holds "
        "counter 58) and perf leaves DEBUGCTL.LBR to the guest",
        "perf tries the vLBR constraint before the shared-register (LBR_SELECT) one in "
        "__intel_get_event_constraints, so a task-pinned vLBR event beats a CPU-pinned host LBR event: case 3 of "
        "`<20230616113353.45202-1-xiong.y.zhang@intel.com>` (case 1, the host event first, is as short). The review "
        "of its first patch said the order is intentional."),
    "host_sees_no_guest_branches": Property(
        "guest branches in host samples", "the host event's samples (`perf script -F ip,brstack`) hold branches "
        "whose addresses are the guest's",
        "VM-entry always loads the guest's DEBUGCTL from the VMCS (VM_ENTRY_LOAD_DEBUG_CONTROLS is a required "
        "entry control), and nothing clears its LBR bit when the vCPU has no active vLBR event: "
        "vmx_passthrough_lbr_msrs only cancels the pass-through and logs \"fail to passthrough LBR\", and perf's "
        "VM-entry MSR list (intel_guest_get_msrs) switches PERF_GLOBAL_CTRL and the PEBS MSRs, not DEBUGCTL. The KVM "
        "maintainer described it in `<ZJnEFTXMpQkXdHRj@google.com>`. For the host PMI to catch them, let the event "
        "count in guest mode too (exclude_guest=0, e.g. `perf kvm --host --guest record ...`); where the perf tool "
        "sets exclude_guest by default (event_attr_init; newer versions not always), only PMIs shortly after a "
        "VM-exit show them."),
    "lbr_select_restored": Property(
        "LBR_SELECT across a context switch", "after the vCPU thread is switched back in, the guest's `rdmsr` of "
        "MSR_LBR_SELECT does not return the filter it programmed",
        "Before 5863702561e6 the PERF_X86_EVENT_LBR_SELECT flag was not propagated to the vLBR event, so "
        "cpuc->lbr_select stayed 0 and intel_pmu_lbr_save/restore skipped LBR_SELECT."),
    "vlbr_event_only_with_lbr_enabled": Property(
        "LBR event without guest LBR", "the vLBR event stays (`perf stat`/`ftrace` on perf_event_release_kernel shows "
        "no release) after guest LBR was turned off, and holds the LBR whenever the vCPU thread runs: a host LBR "
        "user on that CPU gets nothing, and with no vPMU left no PMU cleanup is ever requested to release it",
        "Since 1647b52757d5 kvm_pmu_refresh resets the PMU first, which releases the event."),
    "lbr_enabled_only_when_consistent": Property(
        "I4", "the guest's LBR MSRs are accessible (nr != 0: `rdmsr` MSR_LBR_TOS does not #GP) although the vCPU "
        "has no vPMU, or the host has architectural LBR"),
    "no_refresh_after_run": Property(
        "I6", "`KVM_SET_MSRS` of PERF_CAPABILITIES after `KVM_RUN` succeeds and refreshes the PMU (nr changes "
        "under a running guest); with 3a6de51a437f such a refresh WARNs and bugs the VM",
        "The guest step before it only serves to leave guest mode: any exit to userspace does."),
    "host_no_oops": Property(
        "no NULL dereference", "a host oops: NULL pointer dereference of lbr_desc->event in "
        "intel_pmu_handle_lbr_msrs_access",
        "Before 67b45af946ec the test of intel_pmu_create_guest_lbr_event's result was inverted: a failed creation "
        "went on to the interrupts-off check with no event."),
    "host_debugctl_restored": Property(
        "host DEBUGCTL", "after the next VM-exit KVM writes back a stale host DEBUGCTL (LBR clear): the host "
        "event's LBR stays off until the vCPU thread is rescheduled, its samples have empty branch stacks",
        "Before 189ecdb3e112 the snapshot was taken in vmx_vcpu_load; perf's install IPI changed DEBUGCTL after "
        "it (the case of `<20230616113353.45202-3-xiong.y.zhang@intel.com>`)."),
    "host_debugctl_write_accepted": Property(
        "DEBUGCTL restore", "the LBR bit does not stick: KVM drops it (logging an unimplemented wrmsr) because "
        "guest CPUID and PERF_CAPABILITIES are not set yet, so restoring a vCPU's MSRs before its CPUID loses it",
        "b333b8ebb85d lets host-initiated writes ignore guest CPUID (KVM's ABI: CPUID and MSRs in any order)."),
}

#: Per variant, what a reader should know beside its counterexamples.
VARIANT_NOTES: dict[str, str] = {
    "proposal-delay-release": (
        "The patch (`<20230921082957.44628-2-xiong.y.zhang@intel.com>`) marks the LBR as in use when DEBUGCTL is "
        "written with LBR set, and clears the mark in the PMU cleanup that finds DEBUGCTL.LBR clear: the event goes "
        "only at the second such cleanup, two reschedules later. The release is delayed, not avoided: a guest that "
        "reads its records only after a second reschedule still finds them gone, so I7 breaks in 13 steps instead "
        "of upstream's 10."),
}

#: Which properties the page's summary of the proposals shows, by label.
SUMMARY_KINDS = ("proposal",)
SUMMARY_PROPERTIES = ("records_kept_across_resched", "records_kept_after_freeze", "host_pinned_wins")
