"""KVM's guest LBR code of the merged design (Linux 5.12, with its later fixes up to 6.14), written
imperatively in the shape of the kernel.

This is an *implementation under test* for :mod:`lbrspec.pbt.conformance`, as
:mod:`lbrspec.pbt.examples.kvm_lbr` is for the v8 series: the conformance check drives it with the
runs of the merged design's model (:mod:`lbrspec_models.upstream_lbr`) and compares it with the
model after every step (``python -m lbrspec.pbt.examples.check_upstream_kvm_lbr``).  It renders
the KVM side of the design function by function, after ``arch/x86/kvm/vmx/pmu_intel.c``,
``pmu.c``, ``vmx.c`` and ``x86.c`` (the behaviour, in our own code):

* ``intel_pmu_handle_lbr_msrs_access``, the LBR MSR exit handler (reached from ``handle_rdmsr``
  through ``kvm_pmu_get_msr`` and ``intel_pmu_get_msr``): not an LBR MSR of this vCPU, #GP; no
  vLBR event, create one (``intel_pmu_create_guest_lbr_event``) and on failure a *dummy* access;
  then interrupts off, and if the event is ``PERF_EVENT_STATE_ACTIVE`` the real ``rdmsr`` (bit 58
  of ``pmc_in_use`` set), else bit 58 cleared and a dummy access (reads 0, writes dropped);
* ``vcpu_enter_guest``: the ``KVM_REQ_PMU`` request serviced first (``kvm_pmu_handle_event`` ->
  ``kvm_pmu_cleanup`` -> ``intel_pmu_cleanup``, which releases the event if the guest's
  ``DEBUGCTL.LBR`` in the VMCS is clear), then with interrupts off the host ``DEBUGCTL``
  snapshot (since 189ecdb3e112) and ``vmx_vcpu_run`` -> ``vmx_passthrough_lbr_msrs``: pass the LBR
  MSRs through iff the event exists and is active, else intercept them and log (rate-limited);
* the ``DEBUGCTL`` write path of ``vmx_set_msr`` (``vmx_get_supported_debugctl``: a guest write
  may set LBR only with guest LBR enabled, a host write whenever the host supports it since
  b333b8ebb85d; an unsupported LBR bit is dropped, and ``FREEZE_LBRS_ON_PMI`` with it makes the
  write fail) which creates the event if guest LBR is enabled, there is none and LBR is set;
* the virtual PMI (``kvm_pmu_deliver_pmi`` -> ``intel_pmu_deliver_pmi`` -> the legacy freeze of
  e6209a3bef79: for vPMU versions 2 and 3 with ``FREEZE_LBRS_ON_PMI``, clear the guest's
  ``DEBUGCTL.LBR``);
* vCPU reset (``vmx_vcpu_reset`` clears ``DEBUGCTL``; ``kvm_pmu_reset`` -> ``intel_pmu_reset``
  releases the event);
* the PMU refresh (``kvm_pmu_refresh`` -> ``intel_pmu_refresh``: ``records.nr`` non-zero only with a
  vPMU, a consistent CPU model and ``LBR_FMT`` in ``PERF_CAPABILITIES``), reached from
  ``KVM_SET_CPUID2`` and from a host write of ``PERF_CAPABILITIES`` (validated in ``vmx_set_msr``
  and ``kvm_set_msr_common``; immutable after the first ``KVM_RUN`` since 0094f62c7eaa);
* the sched-in hook (``kvm_arch_vcpu_load`` after a preemption; ``kvm_arch_sched_in`` in older
  kernels): if the vPMU has events, ``need_cleanup`` and ``KVM_REQ_PMU``; ``vmx_vcpu_load``, which
  took the host ``DEBUGCTL`` snapshot before 189ecdb3e112.

Every later fix the model knows has a *fix switch*, named as in the model
(``upstream_lbr.FIXES``), written where the fix goes: with every switch on (:data:`UPSTREAM`,
class :class:`Kvm`) this is the code the model's ``upstream`` variant describes; with the switches
of a ``before-COMMIT`` variant, the code with that one fix undone (:data:`PRE_FIX` has classes for
three of them).  ``lbr_select_ctxsw`` (5863702561e6) is perf's context switch, not KVM's code: the
switch is accepted and does nothing here.  None of the 2023 proposals is rendered.

``kvm_pmu_refresh`` first resets the PMU (``kvm_pmu_reset``, since 1647b52757d5), which releases
the vLBR event; the switch ``refresh_releases_event`` undoes that (:class:`Before1647b52757d5Kvm`):
an event a host-initiated ``DEBUGCTL`` write created then outlives a refresh that turns guest LBR
off.  The sched-in hook asks for a cleanup only with a vPMU (``pmu->version``), and
``vmx_passthrough_lbr_msrs`` runs only while guest LBR is enabled, as in the kernel (and in the
model).  A ``KVM_BUG_ON`` bugs the VM: every later vCPU ioctl fails (the model's ``bugged``).

The handler is a generator: each ``yield`` is a point where the vCPU thread stops between two of
the model's steps, named as the model's ``pc`` names it: ``CHECK`` (the event exists or was just
made; interrupts are still on, the thread may be preempted) and ``ACCESS`` (interrupts off, the
event was active, the access next).  A NULL pointer dereference is a real one (Python raises on
``None``): logged as an oops (or raised as :class:`~lbrspec.pbt.examples.kvm_lbr.KernelOops` with
``panic_on_oops``), the thread goes on as the model does.

The environment is not re-implemented: the scheduler, host perf with its LBR users and the LBR
hardware are the model's.  KVM asks :class:`Perf` (``event->state``, creating and releasing the
event, the host's ``DEBUGCTL``) and :class:`LbrHardware` (what ``rdmsr`` returns), which answer from
the model's state before each step and from what perf did earlier in the same step (an event made,
scheduled in or released); whether a creation fails is the model's step parameter ``fail``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Generator, Mapping

from ...errors import InputError
from ...lang.domains import Value
from ..conformance import ModelView, Refused
from .kvm_lbr import Env, LogEntry, foreign, run_handler

# -- architectural constants (Intel SDM) -------------------------------------------------------
MSR_IA32_DEBUGCTLMSR = 0x1D9
MSR_IA32_PERF_CAPABILITIES = 0x345
MSR_LBR_SELECT = 0x1C8
MSR_LBR_TOS = 0x1C9
MSR_LBR_NHM_FROM = 0x680
MSR_LBR_NHM_TO = 0x6C0
MSR_LBR_INFO_0 = 0xDC0
DEBUGCTLMSR_LBR = 1 << 0
DEBUGCTLMSR_BTF = 1 << 1
DEBUGCTLMSR_FREEZE_LBRS_ON_PMI = 1 << 11
PMU_CAP_LBR_FMT = 0x3F
INTEL_PMC_IDX_FIXED_VLBR = 58
#: The LBR format the host's perf reports (any non-zero value serves), and its depth.
HOST_LBR_FMT = 0x05
HOST_LBR_NR = 32
ENOENT, ENOMEM, EINVAL, EBUSY = 2, 12, 22, 16

#: ``enum perf_event_state`` (the values perf gives them).
PERF_EVENT_STATE_DEAD = -4
PERF_EVENT_STATE_ERROR = -2
PERF_EVENT_STATE_INACTIVE = 0
PERF_EVENT_STATE_ACTIVE = 1
_STATE_OF = {"ACTIVE": PERF_EVENT_STATE_ACTIVE, "INACTIVE": PERF_EVENT_STATE_INACTIVE, "ERROR": PERF_EVENT_STATE_ERROR}
_NAME_OF = {v: k for k, v in _STATE_OF.items()}

#: Where a vCPU's LBR MSR handler is suspended (the model's ``pc``).
IDLE, CHECK, ACCESS = "IDLE", "CHECK", "ACCESS"

#: The fix switches, as the model names them (``upstream_lbr.FIXES``), each with where it goes.
FIXES: dict[str, str] = {
    "create_test_fixed": "67b45af946ec: the handler takes the dummy path when creating the event fails",
    "lbr_select_ctxsw": "5863702561e6: perf saves and restores LBR_SELECT for the vLBR event (perf's code: "
                        "nothing to do in KVM)",
    "refresh_zeroes_nr": "957d0f70e97b: intel_pmu_refresh zeroes the LBR records first, and bugs the VM if the LBR "
                         "MSRs are passed through",
    "refresh_after_run_bugs_vm": "3a6de51a437f: kvm_pmu_refresh after the first KVM_RUN WARNs, bugs the VM and "
                                 "returns",
    "caps_frozen_after_run": "0094f62c7eaa: PERF_CAPABILITIES is immutable after the first KVM_RUN",
    "no_lbr_fmt_on_arch_host": "098f4c061ea1: KVM does not advertise LBR_FMT on a host with architectural LBR",
    "host_debugctl_ignores_cpuid": "b333b8ebb85d: a host-initiated DEBUGCTL write may set LBR whatever the guest "
                                   "CPUID",
    "debugctl_snapshot_at_entry": "189ecdb3e112: the host DEBUGCTL snapshot is taken with interrupts off just before "
                                  "VM-entry, not at vcpu_load",
    "refresh_releases_event": "1647b52757d5: kvm_pmu_refresh resets the PMU first, which releases the vLBR event",
}
#: The code as the model's ``upstream`` describes it: every fix on.
UPSTREAM: dict[str, bool] = {k: True for k in FIXES}
#: The model's switches that are not KVM code: the 2023 proposals (not rendered) and modelling choices.
PROPOSALS = ("delay_release", "keep_on_freeze", "host_pinned_first")


def fixes_of(switches: Mapping[str, bool]) -> dict[str, bool]:
    """The fix switches of a model variant (``variant.switches``); a proposal is refused."""
    on = [k for k in PROPOSALS if switches.get(k)]
    if on:
        raise InputError(f"the rendering of the merged design has none of the 2023 proposals ({', '.join(on)})")
    return {k: bool(switches[k]) for k in FIXES}


Handler = Generator[str, None, int]


# -- the environment: host perf and the LBR hardware, answered from the model ----------------------
class VlbrEvent:
    """``struct perf_event`` of a vLBR event: its ``state`` is perf's (the model's)."""

    def __init__(self, perf: "Perf", vcpu: str) -> None:
        self._perf = perf
        self.vcpu = vcpu
        self.released = False

    @property
    def state(self) -> int:
        return self._perf.state(self)

    def __repr__(self) -> str:
        return f"<perf_event vLBR vcpu={self.vcpu}{' released' if self.released else ''}>"


class Perf:
    """Host perf as KVM calls it, answering from the model's state before the step, and from what
    it did earlier in the same step: an event made (scheduled at once on the pCPU where the vCPU
    thread runs if perf lets a vLBR event have the LBR there, the model's ``vlbr_may_take``; in
    error state if not), the thread's events scheduled in or out, an event released."""

    def __init__(self, env: Env) -> None:
        self.env = env
        self._now: dict[str, tuple[int | None, str | None]] = {}  # vcpu -> (state or None if gone, pCPU)
        self._made: list[tuple[VlbrEvent, int]] = []
        self.create_fails = False

    def new_step(self, create_fails: bool = False) -> None:
        """A step begins; ``create_fails``: a creation in this step fails (the model's ``fail``).
        An event KVM made in the last step must be the model's, in the state perf gave it."""
        m = self.env()
        for event, state in self._made:
            got = str(m[f"ev[{event.vcpu}]"])
            if not event.released and got != _NAME_OF[state]:
                raise Refused(f"perf made {event.vcpu}'s vLBR event {_NAME_OF[state]} in the last step, but the model's "
                              f"event of {event.vcpu} is {got}: the model's KVM did not make it")
        self._made.clear()
        self._now.clear()
        self.create_fails = create_fails

    def _may_take(self, cpu: str) -> bool:
        return bool(self.env().value("vlbr_may_take", cpu))

    def _state_cpu(self, vcpu: str) -> tuple[int | None, str | None]:
        if vcpu in self._now:
            return self._now[vcpu]
        m = self.env()
        return _STATE_OF.get(str(m[f"ev[{vcpu}]"])), str(m[f"cpu[{vcpu}]"])

    def perf_event_create_kernel_counter(self, vcpu: str, cpu: str) -> VlbrEvent | int:
        """A task-pinned, ``exclude_host`` event on the fake fixed counter 58: the event, or -errno."""
        if self.create_fails:
            return -ENOMEM
        event = VlbrEvent(self, vcpu)
        state = PERF_EVENT_STATE_ACTIVE if self._may_take(cpu) else PERF_EVENT_STATE_ERROR
        self._now[vcpu] = (state, cpu)
        self._made.append((event, state))
        return event

    def perf_event_release_kernel(self, event: VlbrEvent) -> None:
        if event.released:
            raise RuntimeError(f"double free: {event!r}")
        event.released = True
        self._now[event.vcpu] = (None, None)

    def perf_event_task_sched_in(self, vcpu: str, cpu: str) -> None:
        """The thread is switched in on ``cpu``: its inactive pinned event is scheduled (or fails)."""
        state, _ = self._state_cpu(vcpu)
        if state == PERF_EVENT_STATE_INACTIVE:
            self._now[vcpu] = (PERF_EVENT_STATE_ACTIVE if self._may_take(cpu) else PERF_EVENT_STATE_ERROR, cpu)

    def perf_event_task_sched_out(self, vcpu: str) -> None:
        state, _ = self._state_cpu(vcpu)
        if state == PERF_EVENT_STATE_ACTIVE:
            self._now[vcpu] = (PERF_EVENT_STATE_INACTIVE, None)

    def state(self, event: VlbrEvent) -> int:
        if event.released:
            raise RuntimeError(f"use after free: {event!r}")
        state, _ = self._state_cpu(event.vcpu)
        return PERF_EVENT_STATE_DEAD if state is None else state  # DEAD: the model has no event

    def vlbr_active_on(self, cpu: str) -> bool:
        return any(self._state_cpu(w) == (PERF_EVENT_STATE_ACTIVE, cpu) for w in self.env().elements("vCPU"))

    def host_debugctl(self, cpu: str) -> int:
        """The pCPU's DEBUGCTL in host mode, as perf leaves it: LBR set while a host LBR event is
        scheduled there and no vLBR event is active (perf then leaves the LBR to the guest)."""
        wants = bool(self.env().value("host_any_on", cpu)) and not self.vlbr_active_on(cpu)
        return DEBUGCTLMSR_LBR | DEBUGCTLMSR_FREEZE_LBRS_ON_PMI if wants else 0


class LbrHardware:
    """A pCPU's LBR as ``rdmsr`` finds it: whose records and whose ``LBR_SELECT`` (the model's)."""

    def __init__(self, env: Env) -> None:
        self.env = env

    def read(self, cpu: str) -> tuple[Value, Value]:
        m = self.env()
        return m[f"rec[{cpu}]"], m[f"sel[{cpu}]"]


# -- kernel and KVM state ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Cpuid:
    """What ``KVM_SET_CPUID2`` gave the vCPU, of what matters here: leaf 0xA's PMU version, PDCM,
    and whether family and model are the host's (``cpuid_model_is_consistent``)."""

    pmu_version: int = 0
    pdcm: bool = False
    model_consistent: bool = True


@dataclass
class X86PmuLbr:
    """``struct x86_pmu_lbr``: the LBR records' MSRs and depth (``nr`` 0: guest LBR disabled)."""

    nr: int = 0
    from_: int = 0
    to: int = 0
    info: int = 0


@dataclass
class LbrDesc:
    records: X86PmuLbr = field(default_factory=X86PmuLbr)
    event: VlbrEvent | None = None
    msr_passthrough: bool = False


@dataclass
class KvmPmu:
    version: int = 0
    event_count: int = 0
    need_cleanup: bool = False
    pmc_in_use: set[int] = field(default_factory=set)


@dataclass
class Vmcs:
    """A vCPU's VMCS: only the guest DEBUGCTL field matters here."""

    guest_debugctl: int = 0


@dataclass
class Cpu:
    """Per-pCPU kernel state: the interrupt flag, the preemption count, IPIs waiting for interrupts."""

    name: str
    irqs_disabled: bool = False
    preempt_count: int = 0
    pending_ipis: int = 0


@dataclass
class MsrData:
    """``struct msr_data``."""

    index: int
    data: int = 0
    host_initiated: bool = False


@dataclass
class KvmVcpu:
    name: str
    vmcs: Vmcs = field(default_factory=Vmcs)
    pmu: KvmPmu = field(default_factory=KvmPmu)
    lbr_desc: LbrDesc = field(default_factory=LbrDesc)
    cpuid: Cpuid = field(default_factory=Cpuid)
    perf_capabilities: int = 0
    host_debugctl: int = 0  # vcpu->arch.host_debugctl (vmx->host_debugctlmsr before 189ecdb3e112)
    last_vmentry_cpu: str | None = None  # kvm_vcpu_has_run(): not None
    requests: set[str] = field(default_factory=set)
    cpu: str | None = None  # the pCPU the thread was last scheduled in on
    scheduled_in: bool = False
    scheduled_out: bool = False  # vcpu->scheduled_out: preempted since it last ran
    in_guest_mode: bool = False
    handler: Handler | None = None  # an MSR exit being handled
    handler_at: str = IDLE


class Kvm:
    """KVM for one VM, with the fixes named in ``fixes`` (default: every one, :data:`UPSTREAM`).

    ``arch_host``: the host has architectural LBR (the model's ``arch_host``)."""

    DEFAULT_FIXES: Mapping[str, bool] = UPSTREAM

    def __init__(self, arch_host: bool, vcpus: list[str], pcpus: list[str], fixes: Mapping[str, bool] | None = None,
                 *, env: Env | None = None, panic_on_oops: bool = False) -> None:
        chosen = dict(self.DEFAULT_FIXES if fixes is None else fixes)
        if set(chosen) != set(FIXES):
            unknown, missing = set(chosen) - set(FIXES), set(FIXES) - set(chosen)
            raise ValueError(f"fix switches: unknown {sorted(unknown)}, missing {sorted(missing)}")
        self.fixes = chosen
        self.env = env or Env()
        self.perf = Perf(self.env)
        self.lbr = LbrHardware(self.env)
        self.arch_host = arch_host
        self.vcpus = {v: KvmVcpu(v) for v in vcpus}
        self.cpus = {p: Cpu(p) for p in pcpus}
        self.panic_on_oops = panic_on_oops
        self.vm_bugged = False
        self.log: list[LogEntry] = []
        self.step = 0  # set by the adapter: the step of the run being performed
        # kvm_init_pmu_capability / vmx_get_perf_capabilities: the PERF_CAPABILITIES bits KVM supports
        advertise = not (arch_host and self.fix("no_lbr_fmt_on_arch_host"))
        self.supported_perf_cap = HOST_LBR_FMT if advertise else 0
        for vcpu in self.vcpus.values():
            self.kvm_pmu_refresh(vcpu)  # kvm_pmu_init, at vCPU creation

    def fix(self, name: str) -> bool:
        return self.fixes[name]

    # -- kernel primitives -----------------------------------------------------------------------
    def printk(self, kind: str, vcpu: KvmVcpu, cpu: str | None, **detail: object) -> None:
        self.log.append(LogEntry(self.step, kind, vcpu.name, cpu or "-", dict(detail)))

    def KVM_BUG_ON(self, cond: bool, vcpu: KvmVcpu, what: str) -> bool:
        """WARN and mark the VM bugged: every later vCPU ioctl fails."""
        if cond:
            self.printk("WARN", vcpu, vcpu.cpu, at=what)
            self.vm_bugged = True
        return cond

    def smp_processor_id(self, vcpu: KvmVcpu) -> str:
        assert vcpu.cpu is not None and vcpu.scheduled_in, f"{vcpu.name} is not running"
        return vcpu.cpu

    def local_irq_disable(self, cpu: str) -> None:
        self.cpus[cpu].irqs_disabled = True

    def local_irq_enable(self, cpu: str) -> None:
        c = self.cpus[cpu]
        c.irqs_disabled = False
        c.pending_ipis = 0  # a waiting function-call IPI runs now (perf removing a host event)

    def get_debugctlmsr(self, cpu: str) -> int:
        return self.perf.host_debugctl(cpu)

    def kvm_make_request(self, req: str, vcpu: KvmVcpu) -> None:
        vcpu.requests.add(req)

    def kvm_check_request(self, req: str, vcpu: KvmVcpu) -> bool:
        if req in vcpu.requests:
            vcpu.requests.discard(req)
            return True
        return False

    @staticmethod
    def kvm_vcpu_has_run(vcpu: KvmVcpu) -> bool:
        return vcpu.last_vmentry_cpu is not None

    # -- pmu_intel.c: the vLBR event -----------------------------------------------------------------
    def intel_pmu_lbr_is_enabled(self, vcpu: KvmVcpu) -> bool:
        return vcpu.lbr_desc.records.nr != 0

    def intel_pmu_is_valid_lbr_msr(self, vcpu: KvmVcpu, index: int) -> bool:
        if not self.intel_pmu_lbr_is_enabled(vcpu):
            return False
        r = vcpu.lbr_desc.records
        return (index in (MSR_LBR_SELECT, MSR_LBR_TOS) or r.from_ <= index < r.from_ + r.nr
                or r.to <= index < r.to + r.nr or (r.info != 0 and r.info <= index < r.info + r.nr))

    def intel_pmu_create_guest_lbr_event(self, vcpu: KvmVcpu) -> int:
        """0, or -errno.  Perf schedules a new task-pinned event at once (it may sleep)."""
        desc, pmu = vcpu.lbr_desc, vcpu.pmu
        if desc.event is not None:
            pmu.pmc_in_use.add(INTEL_PMC_IDX_FIXED_VLBR)
            return 0
        event = self.perf.perf_event_create_kernel_counter(vcpu.name, self.smp_processor_id(vcpu))
        if isinstance(event, int):
            self.printk("CREATE_FAILED", vcpu, vcpu.cpu, err=event)  # pr_debug_ratelimited
            return event
        desc.event = event
        pmu.event_count += 1
        pmu.pmc_in_use.add(INTEL_PMC_IDX_FIXED_VLBR)
        return 0

    def intel_pmu_release_guest_lbr_event(self, vcpu: KvmVcpu, why: str) -> None:
        desc = vcpu.lbr_desc
        if desc.event is None:
            return
        self.printk("RELEASE", vcpu, vcpu.cpu, why=why,
                    guest_debugctl_lbr=bool(vcpu.vmcs.guest_debugctl & DEBUGCTLMSR_LBR))
        self.perf.perf_event_release_kernel(desc.event)
        desc.event = None
        vcpu.pmu.event_count -= 1

    # -- pmu_intel.c: the LBR MSR exit handler -------------------------------------------------------
    def _dummy_access(self, vcpu: KvmVcpu, msr: MsrData, read: bool) -> bool:
        """Reads return 0, writes are dropped; the access succeeds (no #GP)."""
        if read:
            msr.data = 0
            self.printk("GUEST_READ", vcpu, vcpu.cpu, via="dummy")
        return True

    def intel_pmu_handle_lbr_msrs_access(self, vcpu: KvmVcpu, msr: MsrData, read: bool) -> Generator[str, None, bool]:
        """True if the MSR is one of this vCPU's LBR MSRs (the access done, for real or dummy)."""
        desc = vcpu.lbr_desc
        if not self.intel_pmu_is_valid_lbr_msr(vcpu, msr.index):
            return False
        if self.fix("create_test_fixed"):
            if desc.event is None and self.intel_pmu_create_guest_lbr_event(vcpu) < 0:
                return self._dummy_access(vcpu, msr, read)
        else:
            # As merged for 5.12-rc1: the creation's result tested the wrong way round.  A created
            # event (0) goes to the dummy path; a failed creation (-errno) goes on without one.
            if desc.event is None and not self.intel_pmu_create_guest_lbr_event(vcpu):
                return self._dummy_access(vcpu, msr, read)
        # Interrupts are still on: the thread may be preempted (and migrated) here.
        yield CHECK
        cpu = self.smp_processor_id(vcpu)
        # Interrupts off: the IPI that would schedule a host event cannot come between the check of
        # the event's state and the access, so a guest read never returns the host's LBR.
        self.local_irq_disable(cpu)
        if desc.event.state == PERF_EVENT_STATE_ACTIVE:  # type: ignore[union-attr]  # NULL before 67b45af946ec
            yield ACCESS
            if read:
                rec, sel = self.lbr.read(cpu)  # rdmsrl: the records and LBR_SELECT (the model's U2)
                self.printk("GUEST_READ", vcpu, cpu, via="kvm", rec=str(rec), sel=str(sel))
            vcpu.pmu.pmc_in_use.add(INTEL_PMC_IDX_FIXED_VLBR)
            self.local_irq_enable(cpu)
            return True
        vcpu.pmu.pmc_in_use.discard(INTEL_PMC_IDX_FIXED_VLBR)
        self.local_irq_enable(cpu)
        return self._dummy_access(vcpu, msr, read)

    def intel_pmu_get_msr(self, vcpu: KvmVcpu, msr: MsrData) -> Generator[str, None, int]:
        """The vPMU's MSR read (only the LBR MSRs are rendered): 0 done, 1 #GP."""
        return 0 if (yield from self.intel_pmu_handle_lbr_msrs_access(vcpu, msr, True)) else 1

    def intel_pmu_set_msr(self, vcpu: KvmVcpu, msr: MsrData) -> Generator[str, None, int]:
        return 0 if (yield from self.intel_pmu_handle_lbr_msrs_access(vcpu, msr, False)) else 1

    # -- pmu_intel.c: refresh, reset, PMI, pass-through, cleanup --------------------------------------
    @staticmethod
    def cpuid_model_is_consistent(vcpu: KvmVcpu) -> bool:
        return vcpu.cpuid.model_consistent

    def vcpu_get_perf_capabilities(self, vcpu: KvmVcpu) -> int:
        return vcpu.perf_capabilities if vcpu.cpuid.pdcm else 0

    def x86_perf_get_lbr(self, records: X86PmuLbr) -> None:
        """Perf's description of the host's LBR."""
        records.nr, records.from_, records.to, records.info = HOST_LBR_NR, MSR_LBR_NHM_FROM, MSR_LBR_NHM_TO, MSR_LBR_INFO_0

    def intel_pmu_refresh(self, vcpu: KvmVcpu) -> None:
        pmu, desc = vcpu.pmu, vcpu.lbr_desc
        if self.fix("refresh_zeroes_nr"):
            # 957d0f70e97b: the records go first, so that no early return below leaves them set.
            desc.records = X86PmuLbr()
            if self.KVM_BUG_ON(desc.msr_passthrough, vcpu, "intel_pmu_refresh: LBR MSRs passed through"):
                return
        pmu.version = vcpu.cpuid.pmu_version
        if not pmu.version:
            return  # no vPMU (before 957d0f70e97b, nr keeps whatever it was)
        if self.cpuid_model_is_consistent(vcpu) and self.vcpu_get_perf_capabilities(vcpu) & PMU_CAP_LBR_FMT:
            self.x86_perf_get_lbr(desc.records)
        else:
            desc.records.nr = 0

    def intel_pmu_reset(self, vcpu: KvmVcpu) -> None:
        self.intel_pmu_release_guest_lbr_event(vcpu, "reset")

    def intel_pmu_legacy_freezing_lbrs_on_pmi(self, vcpu: KvmVcpu) -> None:
        data = vcpu.vmcs.guest_debugctl
        if data & DEBUGCTLMSR_FREEZE_LBRS_ON_PMI:
            vcpu.vmcs.guest_debugctl = data & ~DEBUGCTLMSR_LBR

    def intel_pmu_deliver_pmi(self, vcpu: KvmVcpu) -> None:
        if not self.intel_pmu_lbr_is_enabled(vcpu):
            return
        if 1 < vcpu.pmu.version < 4:
            self.intel_pmu_legacy_freezing_lbrs_on_pmi(vcpu)

    def vmx_update_intercept_for_lbr_msrs(self, vcpu: KvmVcpu, intercept: bool) -> None:
        """The MSR bitmap bits of every LBR MSR (FROM, TO, INFO, LBR_SELECT, TOS)."""
        vcpu.lbr_desc.msr_passthrough = not intercept

    def vmx_disable_lbr_msrs_passthrough(self, vcpu: KvmVcpu) -> None:
        if vcpu.lbr_desc.msr_passthrough:
            self.vmx_update_intercept_for_lbr_msrs(vcpu, True)

    def vmx_enable_lbr_msrs_passthrough(self, vcpu: KvmVcpu) -> None:
        if not vcpu.lbr_desc.msr_passthrough:
            self.vmx_update_intercept_for_lbr_msrs(vcpu, False)

    def vmx_passthrough_lbr_msrs(self, vcpu: KvmVcpu) -> None:
        """Interrupts are off: whatever takes the LBR from the event on this pCPU comes by IPI and
        finds the vCPU in guest mode, which it forces out.  Pass through iff the event is active."""
        desc, pmu = vcpu.lbr_desc, vcpu.pmu
        if desc.event is None:
            self.vmx_disable_lbr_msrs_passthrough(vcpu)
            if vcpu.vmcs.guest_debugctl & DEBUGCTLMSR_LBR or INTEL_PMC_IDX_FIXED_VLBR in pmu.pmc_in_use:
                self.printk("PASSTHROUGH_FAILED", vcpu, vcpu.cpu, event="none")  # pr_warn_ratelimited
            return
        if desc.event.state < PERF_EVENT_STATE_ACTIVE:
            self.vmx_disable_lbr_msrs_passthrough(vcpu)
            pmu.pmc_in_use.discard(INTEL_PMC_IDX_FIXED_VLBR)
            self.printk("PASSTHROUGH_FAILED", vcpu, vcpu.cpu, event=desc.event.state)
            return
        self.vmx_enable_lbr_msrs_passthrough(vcpu)

    def intel_pmu_cleanup(self, vcpu: KvmVcpu) -> None:
        """The vCPU's VMCS is loaded (vcpu_enter_guest), and the thread may sleep."""
        if not vcpu.vmcs.guest_debugctl & DEBUGCTLMSR_LBR:
            self.intel_pmu_release_guest_lbr_event(vcpu, "cleanup")

    # -- pmu.c -----------------------------------------------------------------------------------
    def kvm_pmu_reset(self, vcpu: KvmVcpu) -> None:
        vcpu.pmu.need_cleanup = False
        self.intel_pmu_reset(vcpu)

    def kvm_pmu_refresh(self, vcpu: KvmVcpu) -> None:
        pmu, desc = vcpu.pmu, vcpu.lbr_desc
        self.printk("REFRESH", vcpu, vcpu.cpu, has_run=self.kvm_vcpu_has_run(vcpu), passthrough=desc.msr_passthrough)
        if self.fix("refresh_after_run_bugs_vm") and self.KVM_BUG_ON(self.kvm_vcpu_has_run(vcpu), vcpu,
                                                                      "kvm_pmu_refresh after KVM_RUN"):
            return
        if self.fix("refresh_releases_event"):
            self.kvm_pmu_reset(vcpu)  # stop and release every event before the new vPMU model
        pmu.version = 0
        self.intel_pmu_refresh(vcpu)

    def kvm_pmu_cleanup(self, vcpu: KvmVcpu) -> None:
        """Release what the last slice did not use.  No counter is rendered; bit 58 has no counter
        and does not gate the vLBR event's release (the vendor cleanup decides)."""
        pmu = vcpu.pmu
        pmu.need_cleanup = False
        self.intel_pmu_cleanup(vcpu)
        pmu.pmc_in_use.clear()

    def kvm_pmu_handle_event(self, vcpu: KvmVcpu) -> None:
        if vcpu.pmu.need_cleanup:
            self.kvm_pmu_cleanup(vcpu)

    def kvm_pmu_deliver_pmi(self, vcpu: KvmVcpu) -> None:
        self.intel_pmu_deliver_pmi(vcpu)  # then the LVTPC interrupt is injected

    # -- vmx.c ------------------------------------------------------------------------------------
    def vmx_get_supported_debugctl(self, vcpu: KvmVcpu, host_initiated: bool) -> int:
        debugctl = 0
        lbr_ok = self.intel_pmu_lbr_is_enabled(vcpu)
        if self.fix("host_debugctl_ignores_cpuid"):
            lbr_ok = host_initiated or lbr_ok  # b333b8ebb85d: userspace may restore LBR in any order
        if self.supported_perf_cap & PMU_CAP_LBR_FMT and lbr_ok:
            debugctl |= DEBUGCTLMSR_LBR | DEBUGCTLMSR_FREEZE_LBRS_ON_PMI
        return debugctl

    def vmx_set_debugctl(self, vcpu: KvmVcpu, msr: MsrData) -> int:
        """``vmx_set_msr``'s DEBUGCTL case: 0 done, 1 refused (#GP for the guest)."""
        data = msr.data
        invalid = data & ~self.vmx_get_supported_debugctl(vcpu, msr.host_initiated)
        if invalid & (DEBUGCTLMSR_BTF | DEBUGCTLMSR_LBR):
            # an old rule: BTF and LBR that cannot be honoured are dropped, not refused
            data &= ~(DEBUGCTLMSR_BTF | DEBUGCTLMSR_LBR)
            invalid &= ~(DEBUGCTLMSR_BTF | DEBUGCTLMSR_LBR)
        if invalid:
            self.printk("DEBUGCTL_REFUSED", vcpu, vcpu.cpu, data=hex(msr.data), host_initiated=msr.host_initiated,
                        host_supports_lbr=bool(self.supported_perf_cap & PMU_CAP_LBR_FMT))
            return 1
        vcpu.vmcs.guest_debugctl = data  # vmcs_write64(GUEST_IA32_DEBUGCTL, data)
        if self.intel_pmu_lbr_is_enabled(vcpu) and vcpu.lbr_desc.event is None and data & DEBUGCTLMSR_LBR:
            self.intel_pmu_create_guest_lbr_event(vcpu)  # a failure is ignored: the next access tries again
        return 0

    def vmx_set_msr(self, vcpu: KvmVcpu, msr: MsrData) -> Generator[str, None, int]:
        if msr.index == MSR_IA32_DEBUGCTLMSR:
            return self.vmx_set_debugctl(vcpu, msr)
        if msr.index == MSR_IA32_PERF_CAPABILITIES:
            if msr.data & PMU_CAP_LBR_FMT:
                if msr.data & PMU_CAP_LBR_FMT != self.supported_perf_cap & PMU_CAP_LBR_FMT:
                    return 1
                if not self.cpuid_model_is_consistent(vcpu):
                    return 1
            return self.kvm_set_msr_common(vcpu, msr)
        return (yield from self.intel_pmu_set_msr(vcpu, msr))

    def vmx_vcpu_load(self, vcpu: KvmVcpu, cpu: str) -> None:
        if not self.fix("debugctl_snapshot_at_entry"):
            # Before 189ecdb3e112: long before VM-entry, while perf may still change the pCPU's
            # DEBUGCTL by IPI (a host LBR event installed or removed).
            vcpu.host_debugctl = self.get_debugctlmsr(cpu)

    def vmx_vcpu_reset(self, vcpu: KvmVcpu) -> None:
        vcpu.vmcs.guest_debugctl = 0

    def vmx_vcpu_run(self, vcpu: KvmVcpu, cpu: str) -> None:
        """Interrupts are off.  The pass-through decision, then VM-entry."""
        if self.intel_pmu_lbr_is_enabled(vcpu):
            self.vmx_passthrough_lbr_msrs(vcpu)
        vcpu.in_guest_mode = True  # VM-entry loads the VMCS guest DEBUGCTL
        vcpu.last_vmentry_cpu = cpu

    def vmx_vm_exit(self, vcpu: KvmVcpu) -> None:
        """Leave guest mode: the hardware clears DEBUGCTL, KVM writes back its host snapshot."""
        vcpu.in_guest_mode = False

    # -- x86.c: MSRs and ioctls --------------------------------------------------------------------
    def kvm_set_msr_common(self, vcpu: KvmVcpu, msr: MsrData) -> int:
        if msr.index == MSR_IA32_PERF_CAPABILITIES:
            if not msr.host_initiated:
                return 1
            if not vcpu.cpuid.pdcm and msr.data:
                return 1
            if msr.data & ~self.supported_perf_cap:
                return 1
            if vcpu.perf_capabilities == msr.data:
                return 0  # not only quicker: a refresh after the first KVM_RUN bugs the VM
            vcpu.perf_capabilities = msr.data
            self.kvm_pmu_refresh(vcpu)
            return 0
        return 1

    def kvm_set_msr(self, vcpu: KvmVcpu, msr: MsrData) -> Generator[str, None, int]:
        """``__kvm_set_msr``: 0 done, 1 refused."""
        if (msr.host_initiated and msr.index == MSR_IA32_PERF_CAPABILITIES and self.fix("caps_frozen_after_run")
                and self.kvm_vcpu_has_run(vcpu)):
            # 0094f62c7eaa: a feature MSR may be written after KVM_RUN only with the value it has.
            return 0 if msr.data == vcpu.perf_capabilities else 1
        return (yield from self.vmx_set_msr(vcpu, msr))

    def kvm_get_msr(self, vcpu: KvmVcpu, msr: MsrData) -> Generator[str, None, int]:
        return (yield from self.intel_pmu_get_msr(vcpu, msr))

    def handle_rdmsr(self, vcpu: KvmVcpu, msr: MsrData) -> Handler:
        if (yield from self.kvm_get_msr(vcpu, msr)):
            self.printk("GP", vcpu, vcpu.cpu, msr=hex(msr.index))
            return 1
        return 0

    def handle_wrmsr(self, vcpu: KvmVcpu, msr: MsrData) -> Handler:
        if (yield from self.kvm_set_msr(vcpu, msr)):
            self.printk("GP", vcpu, vcpu.cpu, msr=hex(msr.index))
            return 1
        return 0

    def _in_host(self, vcpu: KvmVcpu, cpu: str, what: str) -> None:
        """A vCPU ioctl (or VM-entry) runs on the vCPU thread, in host mode, between exits."""
        if self.vm_bugged:
            raise Refused(f"{what}: the VM is bugged (KVM_BUG_ON), every vCPU ioctl fails")
        if not vcpu.scheduled_in or vcpu.cpu != cpu:
            raise Refused(f"{what}: {vcpu.name} is not running on {cpu}")
        if vcpu.in_guest_mode or vcpu.handler is not None:
            raise Refused(f"{what}: {vcpu.name} is in guest mode or handling an exit ({vcpu.handler_at})")

    def kvm_vcpu_ioctl_set_msr(self, vcpu: KvmVcpu, cpu: str, index: int, data: int) -> int:
        """KVM_SET_MSRS, one MSR: 0 done, 1 refused."""
        self._in_host(vcpu, cpu, "KVM_SET_MSRS")
        gen = self.kvm_set_msr(vcpu, MsrData(index, data, host_initiated=True))
        try:
            next(gen)
        except StopIteration as done:
            return int(done.value)
        raise AssertionError("a host-initiated write of a non-LBR MSR does not stop")

    def kvm_vcpu_ioctl_set_cpuid(self, vcpu: KvmVcpu, cpu: str, cpuid: Cpuid) -> int:
        """KVM_SET_CPUID2: 0, or -EBUSY after the first KVM_RUN (unless unchanged)."""
        self._in_host(vcpu, cpu, "KVM_SET_CPUID2")
        if self.kvm_vcpu_has_run(vcpu):
            return 0 if cpuid == vcpu.cpuid else -EBUSY
        vcpu.cpuid = cpuid
        self.kvm_pmu_refresh(vcpu)  # kvm_vcpu_after_set_cpuid
        return 0

    # -- x86.c: running the vCPU -------------------------------------------------------------------
    def run_vcpu_thread(self, vcpu: KvmVcpu, stops: frozenset[str] | set[str]) -> None:
        """Run the handler in flight until it stops at one of ``stops`` or returns (the harness
        both renderings share: :func:`~lbrspec.pbt.examples.kvm_lbr.run_handler`)."""
        run_handler(self, vcpu, stops)

    @staticmethod
    def _handler_done(vcpu: KvmVcpu) -> None:
        vcpu.handler, vcpu.handler_at = None, IDLE

    def resume_handler(self, vcpu: KvmVcpu, at: str, stops: frozenset[str] | set[str]) -> None:
        if vcpu.handler is None or vcpu.handler_at != at:
            raise Refused(f"{vcpu.name}'s MSR handler is at {vcpu.handler_at}, not {at}")
        if not vcpu.scheduled_in:
            raise Refused(f"{vcpu.name} is not running")
        self.run_vcpu_thread(vcpu, stops)

    def guest_msr_access(self, vcpu: KvmVcpu, msr: MsrData, write: bool, stops: frozenset[str] | set[str]) -> bool:
        """The guest reads or writes MSR ``msr.index``; whether it VM-exited (else the hardware had it)."""
        if not vcpu.in_guest_mode:
            raise Refused(f"{vcpu.name} is not in guest mode")
        lbr_family = (MSR_LBR_NHM_FROM <= msr.index < MSR_LBR_NHM_FROM + HOST_LBR_NR
                      or MSR_LBR_NHM_TO <= msr.index < MSR_LBR_NHM_TO + HOST_LBR_NR
                      or MSR_LBR_INFO_0 <= msr.index < MSR_LBR_INFO_0 + HOST_LBR_NR
                      or msr.index in (MSR_LBR_TOS, MSR_LBR_SELECT))
        if lbr_family and vcpu.lbr_desc.msr_passthrough:
            cpu = self.smp_processor_id(vcpu)
            rec, sel = self.lbr.read(cpu)
            self.printk("GUEST_READ", vcpu, cpu, via="direct", rec=str(rec), sel=str(sel))
            return False
        self.vmx_vm_exit(vcpu)
        self.printk("EXIT", vcpu, vcpu.cpu, msr=hex(msr.index), write=write)
        vcpu.handler = self.handle_wrmsr(vcpu, msr) if write else self.handle_rdmsr(vcpu, msr)
        self.run_vcpu_thread(vcpu, stops)
        return True

    def guest_counter_overflow(self, vcpu: KvmVcpu) -> None:
        """A guest counter overflows in guest mode: the host PMI exits, and the virtual PMI is
        delivered before the guest runs again (the model's step makes it one)."""
        if not vcpu.in_guest_mode:
            raise Refused(f"{vcpu.name} is not in guest mode")
        if not vcpu.pmu.version:
            raise Refused(f"{vcpu.name} has no vPMU: no guest counter can overflow")
        self.vmx_vm_exit(vcpu)
        self.kvm_pmu_deliver_pmi(vcpu)

    def handle_ipi(self, cpu: str, *, may_wait: bool = False) -> None:
        """An IPI (perf installing or removing a host event) is delivered to ``cpu``.  With
        interrupts disabled there it waits (``may_wait``: perf removing an event, whose effect on
        KVM is nil), or cannot be taken now."""
        c = self.cpus[cpu]
        if c.irqs_disabled:
            if not may_wait:
                raise Refused(f"the IPI cannot be delivered: interrupts are disabled on {cpu}")
            c.pending_ipis += 1
            return
        for vcpu in self.vcpus.values():
            if vcpu.scheduled_in and vcpu.cpu == cpu and vcpu.in_guest_mode:
                self.vmx_vm_exit(vcpu)  # the external interrupt forces a VM-exit

    def kvm_arch_vcpu_load(self, vcpu: KvmVcpu, cpu: str) -> None:
        """After a preemption (``kvm_arch_sched_in`` in older kernels): if the vPMU has events, ask
        vcpu_enter_guest for a cleanup."""
        pmu = vcpu.pmu
        has_events = pmu.version != 0 and pmu.event_count != 0
        if vcpu.scheduled_out and has_events:
            pmu.need_cleanup = True
            self.kvm_make_request("KVM_REQ_PMU", vcpu)
        self.vmx_vcpu_load(vcpu, cpu)

    def kvm_sched_in(self, vcpu: KvmVcpu, cpu: str) -> None:
        """The preempt notifier's sched-in, after perf scheduled the thread's events in."""
        if vcpu.scheduled_in:
            raise Refused(f"{vcpu.name} is already running")
        vcpu.scheduled_in = True
        vcpu.cpu = cpu
        self.cpus[cpu].preempt_count += 1
        try:
            self.kvm_arch_vcpu_load(vcpu, cpu)
        finally:
            self.cpus[cpu].preempt_count -= 1
        vcpu.scheduled_out = False

    def kvm_sched_out(self, vcpu: KvmVcpu, cpu: str) -> None:
        """The vCPU thread is preempted (leaving guest mode first), never with interrupts off."""
        if not vcpu.scheduled_in or vcpu.cpu != cpu:
            raise Refused(f"{vcpu.name} is not running on {cpu}")
        if self.cpus[cpu].irqs_disabled:
            raise Refused(f"{vcpu.name} cannot be preempted on {cpu}: interrupts are disabled there")
        if vcpu.in_guest_mode:
            self.vmx_vm_exit(vcpu)
        vcpu.scheduled_in = False
        vcpu.scheduled_out = True

    def vcpu_enter_guest(self, vcpu: KvmVcpu, cpu: str) -> None:
        self._in_host(vcpu, cpu, "VM-entry")
        if self.kvm_check_request("KVM_REQ_PMU", vcpu):
            self.kvm_pmu_handle_event(vcpu)  # the lazy release (9aa4f622460f): here the thread may sleep
        self.cpus[cpu].preempt_count += 1
        self.local_irq_disable(cpu)
        if self.fix("debugctl_snapshot_at_entry"):
            vcpu.host_debugctl = self.get_debugctlmsr(cpu)  # 189ecdb3e112: nothing can change it until VM-exit
        self.vmx_vcpu_run(vcpu, cpu)
        self.printk("VMENTRY", vcpu, cpu, passthrough=vcpu.lbr_desc.msr_passthrough,
                    debugctl_lbr=bool(vcpu.vmcs.guest_debugctl & DEBUGCTLMSR_LBR))
        self.local_irq_enable(cpu)  # in guest mode, a host interrupt now VM-exits
        self.cpus[cpu].preempt_count -= 1

    def kvm_vcpu_reset(self, vcpu: KvmVcpu, cpu: str) -> None:
        """A full reset (not INIT), from the vCPU thread in host mode."""
        self._in_host(vcpu, cpu, "vCPU reset")
        self.vmx_vcpu_reset(vcpu)
        self.kvm_pmu_reset(vcpu)


#: The code of Linux 6.14 exactly: since the model follows 6.14's refresh, this is :class:`Kvm`.
Linux614Kvm = Kvm


def _pre_fix(switch: str) -> dict[str, bool]:
    return {**UPSTREAM, switch: False}


class Before67b45af946ecKvm(Kvm):
    """The handler as merged for 5.12-rc1: the test of the creation's result inverted."""

    DEFAULT_FIXES = _pre_fix("create_test_fixed")


class Before189ecdb3e112Kvm(Kvm):
    """Before 6.14: the host DEBUGCTL snapshot taken at vcpu_load (the sched-in)."""

    DEFAULT_FIXES = _pre_fix("debugctl_snapshot_at_entry")


class BeforeB333b8ebb85dKvm(Kvm):
    """Before 6.14: a host-initiated DEBUGCTL write may set LBR only once guest LBR is enabled
    (guest CPUID and PERF_CAPABILITIES), so userspace must restore MSRs in that order."""

    DEFAULT_FIXES = _pre_fix("host_debugctl_ignores_cpuid")


#: Renderings of the code with one later fix undone, by the model variant each must conform to
#: (one in the exit handler, one at VM-entry, one in the DEBUGCTL write path).
class Before1647b52757d5Kvm(Kvm):
    """The refresh as before 6.8: it keeps the vLBR event."""

    DEFAULT_FIXES = _pre_fix("refresh_releases_event")


PRE_FIX: dict[str, type[Kvm]] = {
    "before-1647b52757d5": Before1647b52757d5Kvm,
    "before-67b45af946ec": Before67b45af946ecKvm,
    "before-189ecdb3e112": Before189ecdb3e112Kvm,
    "before-b333b8ebb85d": BeforeB333b8ebb85dKvm,
}

def _copy_kvm(kvm: Kvm) -> Kvm:
    """A copy of ``kvm`` sharing nothing mutable with it: every mutable field of the rendering is
    named here (a field added to the rendering must be added here too; the exhaustive conformance
    check of the rendering against the model would show one forgotten)."""
    if any(v.handler is not None for v in kvm.vcpus.values()):
        raise TypeError("a vCPU's MSR handler (a generator) is in flight: it cannot be copied")
    env = Env()
    new = _dup(kvm)
    new.env = env
    new.perf = perf = _dup(kvm.perf)
    perf.env = env
    new.lbr = LbrHardware(env)
    new.log = list(kvm.log)
    new.cpus = {p: _dup(c) for p, c in kvm.cpus.items()}
    events: dict[int, VlbrEvent] = {}

    def event(e: VlbrEvent | None) -> VlbrEvent | None:
        if e is None:
            return None
        if id(e) not in events:
            events[id(e)] = ne = VlbrEvent(perf, e.vcpu)
            ne.released = e.released
        return events[id(e)]

    new.vcpus = {}
    for name, v in kvm.vcpus.items():
        nv = new.vcpus[name] = _dup(v)  # cpuid is replaced whole, never changed in place: shared
        nv.vmcs = _dup(v.vmcs)
        nv.pmu = _dup(v.pmu)
        nv.pmu.pmc_in_use = set(v.pmu.pmc_in_use)
        nv.lbr_desc = _dup(v.lbr_desc)
        nv.lbr_desc.records = _dup(v.lbr_desc.records)
        nv.lbr_desc.event = event(v.lbr_desc.event)
        nv.requests = set(v.requests)
    perf._now = dict(kvm.perf._now)
    perf._made = [(event(e), st) for e, st in kvm.perf._made]  # type: ignore[misc]
    return new


def _dup(obj):
    """A shallow copy of a plain object (its attribute dict copied)."""
    new = object.__new__(type(obj))
    new.__dict__.update(obj.__dict__)
    return new


#: The model's actions that KVM takes no part in (host perf users, their samples).
ENVIRONMENT_ONLY = frozenset({"host_open_pinned", "host_open_flex", "host_sample"})


#: What each step property of the model means in the kernel's log: the entries of one step that
#: break it.  (``records_kept_*``, ``lbr_select_restored``, ``host_pinned_wins`` and
#: ``host_sees_no_guest_branches`` are about perf, the hardware and the model's ghosts: not KVM's to tell.)
STEP_PROPERTIES = {
    "host_no_oops": lambda e: e.kind == "OOPS",
    "guest_reads_own_or_zero":
        lambda e: e.kind == "GUEST_READ" and e.detail["via"] != "dummy"
        and (foreign(e.vcpu, e.detail["rec"]) or foreign(e.vcpu, e.detail["sel"])),
    "release_only_with_debugctl_lbr_clear":
        lambda e: e.kind == "RELEASE" and e.detail["why"] == "cleanup" and bool(e.detail["guest_debugctl_lbr"]),
    "no_refresh_after_run": lambda e: e.kind == "REFRESH" and bool(e.detail["has_run"] or e.detail["passthrough"]),
    "host_debugctl_write_accepted":
        lambda e: e.kind == "DEBUGCTL_REFUSED" and bool(e.detail["host_initiated"] and e.detail["host_supports_lbr"]),
}


class KvmAdapter:
    """Connects a :class:`Kvm` (or a subclass) to the merged design's model, for any variant
    without a proposal.  The userspace VMM, the scheduler and the guest are the adapter's: it
    turns each of the model's steps into the ioctl, the notifier or the guest access it stands
    for, and reports the state as the model names it and the step properties the step broke."""

    judged = frozenset(STEP_PROPERTIES)

    def __init__(self, kvm_class: type[Kvm] = Kvm, fixes: Mapping[str, bool] | None = None, *,
                 panic_on_oops: bool = False) -> None:
        self.kvm_class = kvm_class
        self.fixes = fixes
        self.panic_on_oops = panic_on_oops
        self.kvm: Kvm | None = None
        self.steps = 0

    def start(self, model: ModelView) -> None:
        fixes_of(model.model.variant.switches)  # refuses a proposal
        self.env = Env()
        self.env.view = model
        try:
            self.kvm = self.kvm_class(bool(model["arch_host"]), model.elements("vCPU"), model.elements("pCPU"),
                                      self.fixes, env=self.env, panic_on_oops=self.panic_on_oops)
        finally:
            self.env.view = None
        self.stops = frozenset({CHECK, ACCESS})
        self.steps = 0

    def perform(self, action: str, params: Mapping[str, Value], model: ModelView) -> None:
        kvm = self.kvm
        assert kvm is not None
        self.steps += 1
        kvm.step = self.steps
        self.env.view = model
        try:
            kvm.perf.new_step(create_fails=bool(params.get("fail", False)))
            self._perform(kvm, action, params)
        finally:
            self.env.view = None

    @staticmethod
    def _cpuid(ok: bool) -> Cpuid:
        """The model's one bit of CPUID: a version-2 vPMU with PDCM and the host's family and model,
        or no vPMU at all (its other reading, a vPMU with another CPU model, is not rendered)."""
        return Cpuid(pmu_version=2, pdcm=True, model_consistent=True) if ok else Cpuid()

    def _perform(self, kvm: Kvm, action: str, params: Mapping[str, Value]) -> None:
        vcpu = kvm.vcpus[str(params["v"])] if "v" in params else None
        cpu = str(params["p"]) if "p" in params else ""
        if action == "sched_in":
            assert vcpu is not None
            kvm.perf.perf_event_task_sched_in(vcpu.name, cpu)
            kvm.kvm_sched_in(vcpu, cpu)
        elif action == "sched_out":
            assert vcpu is not None
            kvm.kvm_sched_out(vcpu, cpu)
            kvm.perf.perf_event_task_sched_out(vcpu.name)
        elif action == "kvm_set_cpuid":
            kvm.kvm_vcpu_ioctl_set_cpuid(vcpu, cpu, self._cpuid(bool(params["ok"])))  # type: ignore[arg-type]
        elif action == "kvm_set_perf_caps":
            kvm.kvm_vcpu_ioctl_set_msr(vcpu, cpu, MSR_IA32_PERF_CAPABILITIES,  # type: ignore[arg-type]
                                       HOST_LBR_FMT if params["lbr"] else 0)
        elif action == "host_set_debugctl":
            value = DEBUGCTLMSR_LBR | DEBUGCTLMSR_FREEZE_LBRS_ON_PMI if params["lbr"] else 0
            kvm.kvm_vcpu_ioctl_set_msr(vcpu, cpu, MSR_IA32_DEBUGCTLMSR, value)  # type: ignore[arg-type]
        elif action == "vmenter":
            kvm.vcpu_enter_guest(vcpu, cpu)  # type: ignore[arg-type]
        elif action == "vcpu_reset":
            kvm.kvm_vcpu_reset(vcpu, cpu)  # type: ignore[arg-type]
        elif action in ("guest_lbr_exit", "guest_lbr_direct"):
            assert vcpu is not None
            self._on(kvm, vcpu, cpu)
            # One access stands for every access to an LBR MSR (the model's U2): a read of a record.
            exited = kvm.guest_msr_access(vcpu, MsrData(MSR_LBR_NHM_FROM + self.steps % HOST_LBR_NR), False, self.stops)
            if exited != (action == "guest_lbr_exit"):
                raise Refused(f"the guest's LBR MSR access {'VM-exits' if exited else 'goes straight to the hardware'} "
                              f"in the implementation, but the model takes {action}")
        elif action == "guest_debugctl":
            assert vcpu is not None
            self._on(kvm, vcpu, cpu)
            # U7: a guest that enables LBR freezes it on PMI (Linux guests do)
            value = DEBUGCTLMSR_LBR | DEBUGCTLMSR_FREEZE_LBRS_ON_PMI if params["lbr"] else 0
            kvm.guest_msr_access(vcpu, MsrData(MSR_IA32_DEBUGCTLMSR, value), True, frozenset())
        elif action == "kvm_lbr_check":
            assert vcpu is not None
            self._on(kvm, vcpu, cpu)
            kvm.resume_handler(vcpu, CHECK, self.stops)
        elif action == "kvm_lbr_access":
            assert vcpu is not None
            self._on(kvm, vcpu, cpu)
            kvm.resume_handler(vcpu, ACCESS, self.stops)
        elif action == "virtual_pmi":
            assert vcpu is not None
            self._on(kvm, vcpu, cpu)
            kvm.guest_counter_overflow(vcpu)
        elif action in ("host_ipi", "host_flex_resched"):
            kvm.handle_ipi(cpu)
        elif action == "host_close":
            kvm.handle_ipi(cpu, may_wait=True)
        elif action not in ENVIRONMENT_ONLY:
            raise Refused(f"the adapter does not know the action {action!r}")

    @staticmethod
    def _on(kvm: Kvm, vcpu: KvmVcpu, cpu: str) -> None:
        if not vcpu.scheduled_in or vcpu.cpu != cpu:
            raise Refused(f"{vcpu.name} is not running on {cpu}")

    def clone(self) -> "KvmAdapter":
        """An independent copy for :func:`~lbrspec.pbt.conformance.drive_graph` (``TypeError`` while a
        handler is in flight: a generator cannot be copied).  Written out field by field, because
        :func:`copy.deepcopy` costs fifty times as much; the log's entries are shared (never changed)."""
        new = copy.copy(self)
        if self.kvm is not None:
            new.kvm = _copy_kvm(self.kvm)
            new.env = new.kvm.env
        return new

    def broken(self) -> set[str]:
        """The step properties the last step broke, by the log entries it made."""
        kvm = self.kvm
        assert kvm is not None
        entries = []
        for e in reversed(kvm.log):
            if e.step != kvm.step:
                break
            entries.append(e)
        return {name for name, hit in STEP_PROPERTIES.items() if any(hit(e) for e in entries)}

    def observe(self) -> dict[str, Value]:
        kvm = self.kvm
        assert kvm is not None
        out: dict[str, Value] = {}
        for v, vcpu in kvm.vcpus.items():
            c = vcpu.cpuid
            out[f"pmu_ok[{v}]"] = c.pmu_version > 0 and c.pdcm and c.model_consistent
            out[f"caps_lbr[{v}]"] = bool(vcpu.perf_capabilities & PMU_CAP_LBR_FMT)
            out[f"ran[{v}]"] = kvm.kvm_vcpu_has_run(vcpu)
            out[f"in_guest[{v}]"] = vcpu.in_guest_mode
            out[f"pc[{v}]"] = vcpu.handler_at
            out[f"dbg[{v}]"] = bool(vcpu.vmcs.guest_debugctl & DEBUGCTLMSR_LBR)
            out[f"nr[{v}]"] = kvm.intel_pmu_lbr_is_enabled(vcpu)
            out[f"req[{v}]"] = vcpu.pmu.need_cleanup
            out[f"passthru[{v}]"] = vcpu.lbr_desc.msr_passthrough
            out[f"snap[{v}]"] = bool(vcpu.host_debugctl & DEBUGCTLMSR_LBR)
            out[f"absent({v})"] = vcpu.lbr_desc.event is None
        return out
