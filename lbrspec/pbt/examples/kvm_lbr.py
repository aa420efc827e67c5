"""KVM's guest LBR code of the v8 series as posted, written imperatively in the shape of the kernel.

This is an *implementation under test* for :mod:`lbrspec.pbt.conformance`: the conformance check
drives it with the guest-LBR model's runs and compares it with the model after every step, and
replays the model's counterexamples on it (``python -m lbrspec.pbt.examples.check_kvm_lbr``).
It renders the KVM side of patches 12, 13 and 14 as the mails post it, function by function:

* ``is_lbr_msr``: which MSR indices the vPMU treats as LBR MSRs (FROM, TO, INFO, TOS,
  LBR_SELECT), with the INFO range test as posted (F6);
* the MSR exit path: ``handle_rdmsr`` / ``handle_wrmsr`` -> ``kvm_get_msr_common`` /
  ``kvm_set_msr_common`` (which no longer handles DEBUGCTL after patch 14: F10) ->
  ``intel_pmu_get_msr`` / ``intel_pmu_set_msr`` -> ``intel_pmu_get_lbr_msr`` /
  ``intel_pmu_set_lbr_msr`` -> ``intel_pmu_access_lbr_msr``, the handler of patch 12: create the
  vCPU LBR event if there is none (``intel_pmu_create_lbr_event``), ``WARN_ON`` that it exists,
  disable interrupts, refuse the access if ``lbr_event->oncpu == -1``, perform it, enable
  interrupts, then set ``lbr_used`` and pass the LBR MSRs through.  DEBUGCTL takes the same
  path (patch 14), its access being the write of the VMCS guest DEBUGCTL field;
* ``intel_pmu_sched_in`` (called from ``kvm_arch_sched_in``, before ``kvm_arch_vcpu_load``):
  after a slice that used the LBR, intercept the LBR MSRs again; after an unused slice, release
  the event if ``vmcs_read64(GUEST_IA32_DEBUGCTL)`` has LBR clear, reading the VMCS that is
  current on the pCPU (F3), from the preempt notifier (F7), under a handler it may have
  preempted (F2);
* ``intel_pmu_free_lbr_event`` (``perf_event_release_kernel``, which may sleep) and
  ``intel_pmu_reset`` (patch 12: release the event on vCPU reset, nothing else; F8);
* ``intel_pmu_lbr_confirm``, called from ``vcpu_enter_guest`` with interrupts disabled (patch 13
  as posted: it cancels the pass-through while the event *owns* the LBR; F4);
* ``vcpu_enter_guest`` (VM-entry loads the guest DEBUGCTL of the VMCS, whoever owns the LBR:
  F1), ``kvm_vcpu_reset`` (``vmx_vcpu_reset`` clears DEBUGCTL, ``kvm_pmu_reset``), the sched-in
  and sched-out notifiers, ``kvm_arch_vcpu_load`` (which makes the vCPU's VMCS current), and the
  VM-exits a guest access or an IPI causes.

Every place where the posted code breaks a promise of the design has a *fix switch*, named as in
the model (``lbrspec_models.guest_lbr.FIX_SWITCHES``) and described in its ``FINDINGS``: with
every fix off (:data:`POSTED`, class :class:`PostedKvm`) this is the code as posted, which the
check compares with the model's variant ``v8-posted``; with every fix on (:data:`FIXED`, class
:class:`Kvm`) it is the code the model's ``v8`` describes; with the switches of any
``v8-posted-*`` variant it is the code with that one finding left in.  The fixes are written
where the fix goes (the lazy release of F2, F3 and F7 in ``intel_pmu_sched_in`` and
``intel_pmu_cleanup``; F1 in ``vcpu_enter_guest``; F4 in ``intel_pmu_lbr_confirm``...).
``perf_resets_lbr_select`` (F12) is perf's LBR reset, not KVM's code: the switch is accepted and
does nothing here, perf being the model's.

The handler is a generator: each ``yield`` is a point where the vCPU thread may be preempted (or,
inside the interrupts-off window, where other pCPUs run on), and the value yielded names that
point as the model's ``pc`` does: ``CREATED`` (the event made, the ``WARN_ON`` next),
``WARNED`` (the interrupts-off check next), ``ACCESS`` (the check passed, interrupts are off,
the access next), ``DONE`` (the access done, ``lbr_used`` and the pass-through next).  Where the
model makes several of these one step (its assumption A10), the adapter runs the thread through
them without preemption.

A NULL pointer dereference is a real one: the code reads ``pmu.lbr_event.oncpu`` and Python
raises on ``None``.  :meth:`Kvm.run_vcpu_thread` turns that into an oops in :attr:`Kvm.log` (or
raises :class:`KernelOops` with ``panic_on_oops``) and, like the model, lets the thread go on
as if the access had been refused.  ``WARN_ON``, #GP injection, a sleep in atomic context
(``might_sleep`` with preemption or interrupts disabled), releases and VM-entries are logged too:
:attr:`Kvm.log` is what the replays of the model's counterexamples read.

The environment is not re-implemented: the scheduler, host perf with its LBR users and the LBR
hardware are the model's.  KVM asks :class:`Perf` (``event->oncpu``, ``event->state``, creating,
enabling and releasing the event) and :class:`LbrHardware` (what ``rdmsr`` returns), which answer
from the model's state before each step; the events KVM creates and releases are compared with
the model through ``absent(v)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generator, Mapping

from ...lang.domains import UnionValue, Value
from ..conformance import ModelView, Refused

# -- architectural constants (Intel SDM; Skylake's 32-entry LBR) --------------------------------
MSR_IA32_DEBUGCTLMSR = 0x1D9
MSR_LBR_SELECT = 0x1C8
MSR_LBR_TOS = 0x1C9
MSR_LBR_NHM_FROM = 0x680
MSR_LBR_NHM_TO = 0x6C0
MSR_LBR_INFO_0 = 0xDC0
LBR_NR = 32
DEBUGCTLMSR_LBR = 1 << 0
DEBUGCTLMSR_BTF = 1 << 1
DEBUGCTLMSR_FREEZE_LBRS_ON_PMI = 1 << 11

#: Where a vCPU's LBR MSR handler is suspended (the model's ``pc``).
IDLE, CREATED, WARNED, ACCESS, DONE = "IDLE", "CREATED", "WARNED", "ACCESS", "DONE"

#: The fix switches, as the model names them (``guest_lbr.FIX_SWITCHES``), each with its finding.
FIXES: dict[str, str] = {
    "entry_debugctl_owned": "F1: load the guest's DEBUGCTL.LBR at VM-entry only while the event owns the LBR",
    "lazy_release": "F2, F7: sched-in only requests the release; vcpu_enter_guest performs it",
    "release_reads_own_vmcs": "F3: the release decision reads the vCPU's own DEBUGCTL",
    "entry_check_owned": "F4: before VM-entry, cancel pass-through unless the event exists and owns the LBR",
    "entry_check_author": "F4, as the author proposed: cancel when lbr_event->oncpu == -1",
    "refusal_marks_used": "F5: every intercepted LBR access marks the slice as used, refused or not",
    "info_msrs_recognised": "F6: is_lbr_msr tests the INFO range as it tests FROM and TO",
    "reset_intercepts": "F8: vCPU reset intercepts the LBR MSRs again and clears lbr_used",
    "error_event_recovered": "F9: the handler releases an event in perf's error state and makes a new one",
    "recover_by_reenable": "F9, as proposed in 2023: re-enable the event instead",
    "debugctl_common_without_optin": "F10: DEBUGCTL keeps its common handling for a VM that did not opt in",
    "debugctl_not_refused": "F11: a DEBUGCTL access is never refused",
    "perf_resets_lbr_select": "F12: perf's LBR reset clears LBR_SELECT (perf's code: nothing to do in KVM)",
}
#: The code as the model's v8 describes it: every fix on (the author's F4 and the 2023 F9 off).
FIXED: dict[str, bool] = {k: k not in ("entry_check_author", "recover_by_reenable") for k in FIXES}
#: The code as posted: every fix off.
POSTED: dict[str, bool] = {k: False for k in FIXES}


def fixes_of(switches: Mapping[str, bool]) -> dict[str, bool]:
    """The fix switches of a model variant (``variant.switches``)."""
    return {k: bool(switches[k]) for k in FIXES}


class KernelOops(Exception):
    """``panic_on_oops``: the kernel dereferenced a NULL pointer."""


Handler = Generator[str, None, int]


@dataclass
class LogEntry:
    """One line of what the kernel printed or traced: a ``WARN_ON``, an oops, a #GP, a release..."""

    step: int  # the step of the run during which it happened
    kind: str  # WARN, OOPS, BUG_SLEEP, GP, REFUSED, RELEASE, VMENTRY, EXIT, SCHED_IN, GUEST_READ
    vcpu: str
    cpu: str
    detail: dict[str, object] = field(default_factory=dict)

    def __str__(self) -> str:
        extra = ", ".join(f"{k}={v}" for k, v in self.detail.items())
        return f"step {self.step}: {self.kind} {self.vcpu} on {self.cpu}" + (f" ({extra})" if extra else "")


# -- the environment: host perf and the LBR hardware, answered from the model ----------------------
class Env:
    """The model's state before the current step, as the environment's answers need it."""

    def __init__(self) -> None:
        self.view: ModelView | None = None

    def __call__(self) -> ModelView:
        assert self.view is not None, "the environment is read only during a step"
        return self.view


class PerfEvent:
    """``struct perf_event`` of a vCPU LBR event: ``oncpu`` and ``state`` are perf's (the model's)."""

    def __init__(self, perf: "Perf", vcpu: str) -> None:
        self._perf = perf
        self.vcpu = vcpu
        self.released = False
        self.error = False  # perf put this event in error state; it stays there until re-enabled

    @property
    def oncpu(self) -> int | str:
        """The pCPU the event is scheduled on (and holds the LBR of), or -1."""
        return self._perf.oncpu(self)

    @property
    def state(self) -> str:
        """``ACTIVE``, ``INACTIVE`` or ``ERROR`` (perf's error state of a pinned event)."""
        return self._perf.state(self)

    def __repr__(self) -> str:
        return f"<perf_event vcpu={self.vcpu}{' released' if self.released else ''}{' error' if self.error else ''}>"


class Perf:
    """Host perf as KVM calls it, answering from the model's state.

    An event made or re-enabled in this step is scheduled at once if perf lets a task-pinned event
    have the LBR there (the model's ``may_take``), and goes to error state if not.  Any other event
    is in the state the model's ``ev`` gives, with one thing perf keeps per event: an event once
    in error state stays there (the model's ``ev`` then belongs to whatever event KVM made since,
    so an implementation that keeps the old one sees it stuck, as perf would leave it)."""

    def __init__(self, env: Env) -> None:
        self.env = env
        self._fresh: dict[int, tuple[PerfEvent, str, bool]] = {}  # made in this step: (event, cpu, scheduled)
        self._live: list[PerfEvent] = []

    def new_step(self) -> None:
        """A step begins: what perf did in the last one is in the model's state now.  An event
        KVM made (or re-enabled) in the last step must be the model's: if the model's event is not
        in the state perf put the new one in, the model's KVM did not make it, and the environment
        cannot go on (the implementation is refused)."""
        m = self.env()
        for event, cpu, scheduled in self._fresh.values():
            event.error = event.error or not scheduled
            want = "ACTIVE" if scheduled else "ERROR"
            got = m[f"ev[{event.vcpu}]"]
            if not event.released and got != want:
                raise Refused(f"perf put the event KVM made (or re-enabled) for {event.vcpu} in the last step "
                              f"{'on ' + cpu if scheduled else 'in error state'}, but the model's event of {event.vcpu} "
                              f"is {got}: the model's KVM did not make it")
        self._fresh.clear()
        self._live = [e for e in self._live if not e.released]
        for e in self._live:
            if m[f"ev[{e.vcpu}]"] == "ERROR":
                e.error = True

    def perf_event_create_kernel_counter(self, vcpu: str, cpu: str) -> PerfEvent:
        """A task-pinned, ``exclude_host``, counter-less LBR event for the vCPU thread (patches 7-9)."""
        event = PerfEvent(self, vcpu)
        self._live.append(event)
        self._fresh[id(event)] = (event, cpu, bool(self.env().value("may_take", cpu)))
        return event

    def perf_event_enable(self, event: PerfEvent, cpu: str) -> None:
        """Re-enable an event from error state: perf schedules it if it may take the LBR."""
        event.error = False
        self._fresh[id(event)] = (event, cpu, bool(self.env().value("may_take", cpu)))

    def perf_event_release_kernel(self, event: PerfEvent) -> None:
        event.released = True

    def oncpu(self, event: PerfEvent) -> int | str:
        if event.released:
            raise RuntimeError(f"use after free: {event!r}")
        fresh = self._fresh.get(id(event))
        if fresh is not None:
            return fresh[1] if fresh[2] else -1
        if event.error:
            return -1
        m = self.env()
        return str(m[f"cpu[{event.vcpu}]"]) if m[f"ev[{event.vcpu}]"] == "ACTIVE" else -1

    def state(self, event: PerfEvent) -> str:
        fresh = self._fresh.get(id(event))
        if fresh is not None:
            return "ACTIVE" if fresh[2] else "ERROR"
        if event.error:
            return "ERROR"
        ev = str(self.env()[f"ev[{event.vcpu}]"])
        return ev if ev in ("ACTIVE", "INACTIVE", "ERROR") else "DEAD"  # DEAD: the model has no event

    def host_lbr_users(self) -> int:
        """How many host LBR users exist (opened and not closed)."""
        m = self.env()
        return sum(1 for h in m.elements("host_user") if m[f"hu[{h}]"] != "OFF")


class LbrHardware:
    """A pCPU's LBR as ``rdmsr`` finds it: whose records and whose ``LBR_SELECT`` (the model's)."""

    def __init__(self, env: Env) -> None:
        self.env = env

    def read(self, cpu: str) -> tuple[Value, Value]:
        m = self.env()
        return m[f"rec[{cpu}]"], m[f"sel[{cpu}]"]

    def holder(self, cpu: str) -> str:
        """Who holds the pCPU's LBR: ``vcpu(v)``, ``host`` or ``nobody``."""
        m = self.env()
        for v in m.elements("vCPU"):
            if m.value("owns", v, cpu):
                return f"vcpu({v})"
        if any(m.value("host_on", h, cpu) for h in m.elements("host_user")):
            return "host"
        return "nobody"


# -- kernel and KVM state ---------------------------------------------------------------------------
@dataclass
class Vmcs:
    """A vCPU's VMCS: only the guest DEBUGCTL field matters here."""

    owner: str
    guest_debugctl: int = 0
    cpu: str | None = None  # the pCPU it is current on (loaded_vmcs->cpu)


@dataclass
class Cpu:
    """Per-pCPU kernel state: the interrupt flag, the preemption count, the current VMCS."""

    name: str
    irqs_disabled: bool = False
    preempt_count: int = 0
    current_vmcs: Vmcs | None = None


@dataclass
class MsrData:
    """``struct msr_data``.  ``data`` of a DEBUGCTL write may be filled in at the access, where the
    model chooses it (nothing before depends on it)."""

    index: int
    data: int | None = None
    host_initiated: bool = False


@dataclass
class KvmPmu:
    """The parts of ``struct kvm_pmu`` the series adds."""

    lbr_event: PerfEvent | None = None
    lbr_used: bool = False  # the guest used the LBR in this time slice (patch 12)
    lbr_release_pending: bool = False  # F2 fix: sched-in found the last slice unused
    guest_debugctl: int = 0  # F1 fix: the guest's DEBUGCTL, kept in software


@dataclass
class KvmVcpu:
    name: str
    vmcs: Vmcs
    pmu: KvmPmu = field(default_factory=KvmPmu)
    cpu: str | None = None  # the pCPU the thread was last scheduled in on
    scheduled_in: bool = False
    in_guest_mode: bool = False
    lbr_msrs_intercepted: bool = True  # the MSR bitmap entries of the LBR MSRs
    handler: Handler | None = None  # an MSR exit being handled
    handler_at: str = IDLE
    handler_msr: MsrData | None = None


class Kvm:
    """KVM for one VM, with the fixes named in ``fixes`` (default: all of them, :data:`FIXED`)."""

    DEFAULT_FIXES: Mapping[str, bool] = FIXED

    def __init__(self, lbr_in_guest: bool, vcpus: list[str], pcpus: list[str],
                 fixes: Mapping[str, bool] | None = None, *, env: Env | None = None, panic_on_oops: bool = False) -> None:
        chosen = dict(self.DEFAULT_FIXES if fixes is None else fixes)
        if set(chosen) != set(FIXES):
            unknown, missing = set(chosen) - set(FIXES), set(FIXES) - set(chosen)
            raise ValueError(f"fix switches: unknown {sorted(unknown)}, missing {sorted(missing)}")
        self.fixes = chosen
        self.env = env or Env()
        self.perf = Perf(self.env)
        self.lbr = LbrHardware(self.env)
        self.lbr_in_guest = lbr_in_guest  # KVM_CAP_X86_GUEST_LBR (patch 3)
        self.vcpus = {v: KvmVcpu(v, Vmcs(v)) for v in vcpus}
        self.cpus = {p: Cpu(p) for p in pcpus}
        self.panic_on_oops = panic_on_oops
        self.log: list[LogEntry] = []
        self.step = 0  # set by the adapter: the step of the run being performed

    def fix(self, name: str) -> bool:
        return self.fixes[name]

    # -- kernel primitives -----------------------------------------------------------------------
    def printk(self, kind: str, vcpu: KvmVcpu, cpu: str | None, **detail: object) -> None:
        self.log.append(LogEntry(self.step, kind, vcpu.name, cpu or "-", dict(detail)))

    def WARN_ON(self, cond: bool, vcpu: KvmVcpu, what: str) -> bool:
        if cond:
            self.printk("WARN", vcpu, vcpu.cpu, at=what)
        return cond

    def might_sleep(self, vcpu: KvmVcpu, cpu: str, what: str) -> None:
        c = self.cpus[cpu]
        if c.preempt_count or c.irqs_disabled:
            self.printk("BUG_SLEEP", vcpu, cpu, at=what, preempt_count=c.preempt_count, irqs_disabled=c.irqs_disabled)

    def smp_processor_id(self, vcpu: KvmVcpu) -> str:
        assert vcpu.cpu is not None and vcpu.scheduled_in, f"{vcpu.name} is not running"
        return vcpu.cpu

    def local_irq_disable(self, cpu: str) -> None:
        self.cpus[cpu].irqs_disabled = True

    def local_irq_enable(self, cpu: str) -> None:
        self.cpus[cpu].irqs_disabled = False

    def vmcs_read64_debugctl(self, cpu: str) -> int:
        """``vmcs_read64(GUEST_IA32_DEBUGCTL)``: the field of the VMCS current on ``cpu`` (0 if none)."""
        current = self.cpus[cpu].current_vmcs
        return current.guest_debugctl if current is not None else 0

    def kvm_inject_gp(self, vcpu: KvmVcpu, msr: MsrData) -> None:
        """#GP for the guest's MSR access.  The log notes whether the vCPU's event held the LBR."""
        event, cpu = vcpu.pmu.lbr_event, vcpu.cpu
        owned = event is not None and not event.released and event.oncpu == cpu
        self.printk("GP", vcpu, cpu, msr=hex(msr.index), lbr_in_guest=self.lbr_in_guest, owned=owned)

    def guest_debugctl(self, vcpu: KvmVcpu) -> int:
        """The guest's DEBUGCTL as the guest sees it: the VMCS field, or the software copy of F1's fix."""
        return vcpu.pmu.guest_debugctl if self.fix("entry_debugctl_owned") else vcpu.vmcs.guest_debugctl

    # -- the MSR bitmap ------------------------------------------------------------------------------
    def intel_pmu_intercept_lbr_msrs(self, vcpu: KvmVcpu, intercept: bool) -> None:
        """Set (or clear) the MSR bitmap bits of every LBR MSR: FROM, TO, INFO, TOS, LBR_SELECT."""
        vcpu.lbr_msrs_intercepted = intercept

    # -- patch 12: which MSRs are LBR MSRs -----------------------------------------------------------
    def is_lbr_msr(self, vcpu: KvmVcpu, index: int) -> bool:
        if not self.lbr_in_guest:
            return False
        if MSR_LBR_NHM_FROM <= index < MSR_LBR_NHM_FROM + LBR_NR:
            return True
        if MSR_LBR_NHM_TO <= index < MSR_LBR_NHM_TO + LBR_NR:
            return True
        # As posted, the INFO range ends where it starts, so no INFO MSR is in it (F6).
        info_end = MSR_LBR_INFO_0 + LBR_NR if self.fix("info_msrs_recognised") else MSR_LBR_INFO_0
        if MSR_LBR_INFO_0 <= index < info_end:
            return True
        return index in (MSR_LBR_TOS, MSR_LBR_SELECT)

    # -- patch 9: the vCPU LBR event -------------------------------------------------------------------
    def intel_pmu_create_lbr_event(self, vcpu: KvmVcpu, cpu: str) -> None:
        """Make the event if there is none; perf schedules it at once if it may (may sleep)."""
        pmu = vcpu.pmu
        if pmu.lbr_event is not None and self.fix("error_event_recovered") and pmu.lbr_event.state == "ERROR":
            # F9's fix: a pinned event in perf's error state never comes back by itself.
            if self.fix("recover_by_reenable"):
                self.perf.perf_event_enable(pmu.lbr_event, cpu)
            else:
                self.intel_pmu_free_lbr_event(vcpu, cpu, "error state")
        if pmu.lbr_event is None:
            self.might_sleep(vcpu, cpu, "perf_event_create_kernel_counter")
            pmu.lbr_event = self.perf.perf_event_create_kernel_counter(vcpu.name, cpu)

    def intel_pmu_free_lbr_event(self, vcpu: KvmVcpu, cpu: str, why: str) -> None:
        pmu = vcpu.pmu
        event = pmu.lbr_event
        if event is None:
            return
        self.might_sleep(vcpu, cpu, "perf_event_release_kernel")  # it takes the context's mutex
        self.printk("RELEASE", vcpu, cpu, why=why, guest_debugctl_lbr=bool(self.guest_debugctl(vcpu) & DEBUGCTLMSR_LBR),
                    handler=vcpu.handler_at)
        self.perf.perf_event_release_kernel(event)
        pmu.lbr_event = None

    # -- patch 12: the LBR MSR handler ---------------------------------------------------------------
    def intel_pmu_access_lbr_msr(self, vcpu: KvmVcpu, msr: MsrData, set_: bool) -> Generator[str, None, bool]:
        """The access of an LBR MSR (or of DEBUGCTL) the guest made; True if it was performed."""
        pmu = vcpu.pmu
        if not self.lbr_in_guest:
            return False
        if self.fix("refusal_marks_used"):
            # F5's fix: the guest touched the LBR in this slice, whatever comes of the access.
            pmu.lbr_used = True
            pmu.lbr_release_pending = False
        self.intel_pmu_create_lbr_event(vcpu, self.smp_processor_id(vcpu))
        # Creating the event may sleep: the thread may be preempted (and migrated) here.
        yield CREATED
        if self.WARN_ON(pmu.lbr_event is None, vcpu, "intel_pmu_access_lbr_msr"):
            return False
        yield WARNED
        cpu = self.smp_processor_id(vcpu)
        # Interrupts stay off from the ownership check to the access, so the IPI installing a host
        # CPU-pinned LBR event cannot take the LBR in between.
        self.local_irq_disable(cpu)
        oncpu = pmu.lbr_event.oncpu  # type: ignore[union-attr]  # NULL if released under us (F2)
        debugctl_ok = msr.index == MSR_IA32_DEBUGCTLMSR and self.fix("debugctl_not_refused")
        if oncpu == -1 and not debugctl_ok:
            # The host reclaimed the LBR (or never gave it): refuse (F11: DEBUGCTL too).
            self.local_irq_enable(cpu)
            self.printk("REFUSED", vcpu, cpu, msr=hex(msr.index), event_state=pmu.lbr_event.state,  # type: ignore[union-attr]
                        host_lbr_users=self.perf.host_lbr_users())
            return False
        # This pCPU takes neither the IPI nor preemption now; the others run on.
        yield ACCESS
        if msr.index == MSR_IA32_DEBUGCTLMSR and not set_:
            msr.data = self.guest_debugctl(vcpu)
        elif msr.index == MSR_IA32_DEBUGCTLMSR:
            assert msr.data is not None, "the DEBUGCTL value is chosen by the access step at the latest"
            value = msr.data & (DEBUGCTLMSR_LBR | DEBUGCTLMSR_FREEZE_LBRS_ON_PMI)
            pmu.guest_debugctl = value
            vcpu.vmcs.guest_debugctl = value  # vmcs_write64(GUEST_IA32_DEBUGCTL, ...)
        elif set_:
            pass  # wrmsrl(msr.index, msr.data): the guest programs the LBR (A8)
        else:
            # rdmsrl: the guest reads the records and LBR_SELECT, then programs LBR_SELECT (A8).
            rec, sel = self.lbr.read(cpu)
            self.printk("GUEST_READ", vcpu, cpu, via="kvm", rec=str(rec), sel=str(sel))
        self.local_irq_enable(cpu)
        yield DONE
        pmu.lbr_used = True
        if self.fix("lazy_release"):
            pmu.lbr_release_pending = False
        # The rest of the slice runs without VM-exits on LBR MSRs.
        self.intel_pmu_intercept_lbr_msrs(vcpu, False)
        return True

    def intel_pmu_get_lbr_msr(self, vcpu: KvmVcpu, msr: MsrData) -> Generator[str, None, bool]:
        return (yield from self.intel_pmu_access_lbr_msr(vcpu, msr, False))

    def intel_pmu_set_lbr_msr(self, vcpu: KvmVcpu, msr: MsrData) -> Generator[str, None, bool]:
        return (yield from self.intel_pmu_access_lbr_msr(vcpu, msr, True))

    def intel_pmu_get_msr(self, vcpu: KvmVcpu, msr: MsrData) -> Generator[str, None, int]:
        """The vPMU's MSR read: 0 done, 1 #GP."""
        if msr.index == MSR_IA32_DEBUGCTLMSR or self.is_lbr_msr(vcpu, msr.index):
            return 0 if (yield from self.intel_pmu_get_lbr_msr(vcpu, msr)) else 1
        return 1

    def intel_pmu_set_msr(self, vcpu: KvmVcpu, msr: MsrData) -> Generator[str, None, int]:
        """The vPMU's MSR write: 0 done, 1 #GP.  DEBUGCTL is the vPMU's since patch 14."""
        if msr.index == MSR_IA32_DEBUGCTLMSR or self.is_lbr_msr(vcpu, msr.index):
            return 0 if (yield from self.intel_pmu_set_lbr_msr(vcpu, msr)) else 1
        return 1

    def kvm_get_msr_common(self, vcpu: KvmVcpu, msr: MsrData) -> Generator[str, None, int]:
        if msr.index == MSR_IA32_DEBUGCTLMSR and not self.lbr_in_guest and self.fix("debugctl_common_without_optin"):
            msr.data = 0  # F10's fix: the common handling before patch 14 reads 0
            return 0
        return (yield from self.intel_pmu_get_msr(vcpu, msr))

    def kvm_set_msr_common(self, vcpu: KvmVcpu, msr: MsrData) -> Generator[str, None, int]:
        if msr.index == MSR_IA32_DEBUGCTLMSR and not self.lbr_in_guest and self.fix("debugctl_common_without_optin"):
            # F10's fix: the common handling before patch 14 accepts (and ignores) LBR and BTF.
            data = msr.data or 0
            return 0 if not data & ~(DEBUGCTLMSR_LBR | DEBUGCTLMSR_BTF) else 1
        return (yield from self.intel_pmu_set_msr(vcpu, msr))

    def handle_rdmsr(self, vcpu: KvmVcpu, msr: MsrData) -> Handler:
        if (yield from self.kvm_get_msr_common(vcpu, msr)):
            self.kvm_inject_gp(vcpu, msr)
            return 1
        return 0

    def handle_wrmsr(self, vcpu: KvmVcpu, msr: MsrData) -> Handler:
        if (yield from self.kvm_set_msr_common(vcpu, msr)):
            self.kvm_inject_gp(vcpu, msr)
            return 1
        return 0

    # -- running the vCPU thread through its handler ---------------------------------------------------
    def run_vcpu_thread(self, vcpu: KvmVcpu, stops: frozenset[str] | set[str]) -> None:
        """Run the handler in flight until it stops at one of ``stops`` (a point where the model
        has a step boundary) or returns; see :func:`run_handler`."""
        run_handler(self, vcpu, stops)

    def _handler_done(self, vcpu: KvmVcpu) -> None:
        vcpu.handler, vcpu.handler_at, vcpu.handler_msr = None, IDLE, None

    def resume_handler(self, vcpu: KvmVcpu, at: str, stops: frozenset[str] | set[str]) -> None:
        """The vCPU thread runs on from where its handler stopped (``at``)."""
        if vcpu.handler is None or vcpu.handler_at != at:
            raise Refused(f"{vcpu.name}'s MSR handler is at {vcpu.handler_at}, not {at}")
        if not vcpu.scheduled_in:
            raise Refused(f"{vcpu.name} is not running")
        self.run_vcpu_thread(vcpu, stops)

    # -- VM-exits --------------------------------------------------------------------------------------
    def vmx_vm_exit(self, vcpu: KvmVcpu) -> None:
        """Leave guest mode.  With F1's fix the VMCS gets the guest's DEBUGCTL back at once, so
        that whatever reads the field in host mode reads the guest's value."""
        vcpu.in_guest_mode = False
        if self.fix("entry_debugctl_owned"):
            vcpu.vmcs.guest_debugctl = vcpu.pmu.guest_debugctl

    def guest_msr_access(self, vcpu: KvmVcpu, msr: MsrData, write: bool, stops: frozenset[str] | set[str]) -> bool:
        """The guest reads or writes MSR ``msr.index``; whether it VM-exited (else the hardware had it)."""
        if not vcpu.in_guest_mode:
            raise Refused(f"{vcpu.name} is not in guest mode")
        lbr_family = MSR_LBR_NHM_FROM <= msr.index < MSR_LBR_NHM_FROM + LBR_NR or \
            MSR_LBR_NHM_TO <= msr.index < MSR_LBR_NHM_TO + LBR_NR or \
            MSR_LBR_INFO_0 <= msr.index < MSR_LBR_INFO_0 + LBR_NR or msr.index in (MSR_LBR_TOS, MSR_LBR_SELECT)
        if lbr_family and not vcpu.lbr_msrs_intercepted:
            cpu = self.smp_processor_id(vcpu)
            rec, sel = self.lbr.read(cpu)
            self.printk("GUEST_READ", vcpu, cpu, via="direct", rec=str(rec), sel=str(sel))
            return False
        self.vmx_vm_exit(vcpu)
        self.printk("EXIT", vcpu, vcpu.cpu, msr=hex(msr.index), write=write)
        vcpu.handler = self.handle_wrmsr(vcpu, msr) if write else self.handle_rdmsr(vcpu, msr)
        vcpu.handler_msr = msr
        self.run_vcpu_thread(vcpu, stops)
        return True

    def handle_ipi(self, cpu: str) -> None:
        """An IPI (``perf_install_in_context`` installing a host event) is delivered to ``cpu``."""
        if self.cpus[cpu].irqs_disabled:
            raise Refused(f"the IPI cannot be delivered: interrupts are disabled on {cpu}")
        for vcpu in self.vcpus.values():
            if vcpu.scheduled_in and vcpu.cpu == cpu and vcpu.in_guest_mode:
                self.vmx_vm_exit(vcpu)  # the external interrupt forces a VM-exit

    # -- patch 12: the sched-in hook -------------------------------------------------------------------
    def intel_pmu_sched_in(self, vcpu: KvmVcpu, cpu: str) -> None:
        pmu = vcpu.pmu
        if pmu.lbr_used:
            # The guest used the LBR in the last slice: intercept again, so that its first access in
            # this slice VM-exits and tells KVM the LBR is still in use.
            pmu.lbr_used = False
            self.intel_pmu_intercept_lbr_msrs(vcpu, True)
            pmu.lbr_release_pending = False
            return
        if pmu.lbr_event is None:
            pmu.lbr_release_pending = False
            return
        if self.fix("lazy_release"):
            # F2, F3, F7's fix: only ask vcpu_enter_guest to release it (intel_pmu_cleanup).
            pmu.lbr_release_pending = True
            return
        # As posted: release an event left unused for a slice, unless the guest has DEBUGCTL.LBR
        # set.  This runs before kvm_arch_vcpu_load: the VMCS current here is whichever was loaded
        # last on this pCPU (F3).
        if self.fix("release_reads_own_vmcs"):
            debugctl = self.guest_debugctl(vcpu)
        else:
            debugctl = self.vmcs_read64_debugctl(cpu)
        if not debugctl & DEBUGCTLMSR_LBR:
            self.intel_pmu_free_lbr_event(vcpu, cpu, "sched-in")  # in the preempt notifier (F7)

    def kvm_arch_vcpu_load(self, vcpu: KvmVcpu, cpu: str) -> None:
        """Make the vCPU's VMCS current on ``cpu`` (clearing it on the pCPU it was current on)."""
        vmcs = vcpu.vmcs
        if vmcs.cpu is not None and vmcs.cpu != cpu and self.cpus[vmcs.cpu].current_vmcs is vmcs:
            self.cpus[vmcs.cpu].current_vmcs = None  # loaded_vmcs_clear on the old pCPU
        self.cpus[cpu].current_vmcs = vmcs
        vmcs.cpu = cpu
        vcpu.cpu = cpu

    def kvm_sched_in(self, vcpu: KvmVcpu, cpu: str) -> None:
        """The preempt notifier's sched-in (preemption disabled): kvm_arch_sched_in, then vcpu_load."""
        if vcpu.scheduled_in:
            raise Refused(f"{vcpu.name} is already running")
        vcpu.scheduled_in = True
        vcpu.cpu = cpu
        self.printk("SCHED_IN", vcpu, cpu)
        self.cpus[cpu].preempt_count += 1
        try:
            self.intel_pmu_sched_in(vcpu, cpu)  # kvm_arch_sched_in
            self.kvm_arch_vcpu_load(vcpu, cpu)
        finally:
            self.cpus[cpu].preempt_count -= 1

    def kvm_sched_out(self, vcpu: KvmVcpu, cpu: str) -> None:
        """The vCPU thread is preempted (leaving guest mode first)."""
        if not vcpu.scheduled_in or vcpu.cpu != cpu:
            raise Refused(f"{vcpu.name} is not running on {cpu}")
        if self.cpus[cpu].irqs_disabled:
            raise Refused(f"{vcpu.name} cannot be preempted on {cpu}: interrupts are disabled there")
        if vcpu.in_guest_mode:
            self.vmx_vm_exit(vcpu)
        vcpu.scheduled_in = False

    # -- patch 13: the check before VM-entry ---------------------------------------------------------
    def intel_pmu_lbr_confirm(self, vcpu: KvmVcpu, cpu: str) -> None:
        """Interrupts are disabled: nothing can take the LBR between this check and VM-entry."""
        pmu = vcpu.pmu
        event = pmu.lbr_event
        if self.fix("entry_check_owned") and self.fix("entry_check_author"):
            # The author's fix (7 Aug 2019): cancel when the event lost the LBR; no event, nothing.
            if event is not None and event.oncpu == -1:
                self.intel_pmu_intercept_lbr_msrs(vcpu, True)
                pmu.lbr_used = False
        elif self.fix("entry_check_owned"):
            # F4's fix: pass-through only with an event that owns the LBR here.
            if event is None or event.oncpu != cpu:
                self.intel_pmu_intercept_lbr_msrs(vcpu, True)
        else:
            # As posted: the test is inverted, pass-through is cancelled while the event owns the
            # LBR and kept once the host has reclaimed it (F4).
            if event is None or not pmu.lbr_used:
                return
            if event.oncpu != -1:
                self.intel_pmu_intercept_lbr_msrs(vcpu, True)
                pmu.lbr_used = False

    def intel_pmu_cleanup(self, vcpu: KvmVcpu, cpu: str) -> None:
        """F2's fix: the release requested at sched-in, done where the vCPU's VMCS is loaded and
        the thread may sleep, and no handler is in flight."""
        pmu = vcpu.pmu
        pmu.lbr_release_pending = False
        if pmu.lbr_event is not None and not pmu.lbr_used and not self.guest_debugctl(vcpu) & DEBUGCTLMSR_LBR:
            self.intel_pmu_free_lbr_event(vcpu, cpu, "vcpu_enter_guest")

    def vcpu_enter_guest(self, vcpu: KvmVcpu, cpu: str) -> None:
        if not vcpu.scheduled_in or vcpu.cpu != cpu:
            raise Refused(f"{vcpu.name} is not running on {cpu}")
        if vcpu.in_guest_mode:
            raise Refused(f"{vcpu.name} is already in guest mode")
        if vcpu.handler is not None:
            raise Refused(f"{vcpu.name}'s MSR exit is still being handled ({vcpu.handler_at})")
        pmu = vcpu.pmu
        if self.fix("lazy_release") and pmu.lbr_release_pending:
            self.intel_pmu_cleanup(vcpu, cpu)  # a request serviced before preemption is disabled
        self.cpus[cpu].preempt_count += 1
        self.local_irq_disable(cpu)
        self.intel_pmu_lbr_confirm(vcpu, cpu)
        event = pmu.lbr_event
        owned = event is not None and event.oncpu == cpu
        if self.fix("entry_debugctl_owned"):
            # F1's fix: the guest's DEBUGCTL.LBR reaches the hardware only with an LBR it owns.
            dbg = pmu.guest_debugctl
            vcpu.vmcs.guest_debugctl = dbg if owned else dbg & ~DEBUGCTLMSR_LBR
        self.printk("VMENTRY", vcpu, cpu, debugctl_lbr=bool(vcpu.vmcs.guest_debugctl & DEBUGCTLMSR_LBR),
                    passthrough=not vcpu.lbr_msrs_intercepted, owned=owned, lbr_holder=self.lbr.holder(cpu))
        vcpu.in_guest_mode = True  # VM-entry loads the VMCS guest DEBUGCTL; host interrupts now VM-exit
        self.local_irq_enable(cpu)
        self.cpus[cpu].preempt_count -= 1

    # -- patch 12: reset -------------------------------------------------------------------------------
    def intel_pmu_reset(self, vcpu: KvmVcpu, cpu: str) -> None:
        pmu = vcpu.pmu
        self.intel_pmu_free_lbr_event(vcpu, cpu, "reset")
        pmu.lbr_release_pending = False
        if self.fix("reset_intercepts"):
            # F8's fix: as posted, neither is done and the guest keeps the pass-through.
            pmu.lbr_used = False
            self.intel_pmu_intercept_lbr_msrs(vcpu, True)

    def kvm_vcpu_reset(self, vcpu: KvmVcpu, cpu: str) -> None:
        """INIT or a reset ioctl, with the vCPU in host mode and no exit being handled."""
        if not vcpu.scheduled_in or vcpu.cpu != cpu:
            raise Refused(f"{vcpu.name} is not running on {cpu}")
        if vcpu.in_guest_mode or vcpu.handler is not None:
            raise Refused(f"{vcpu.name} cannot be reset now (in guest mode, or an exit being handled)")
        vcpu.vmcs.guest_debugctl = 0  # vmx_vcpu_reset
        vcpu.pmu.guest_debugctl = 0
        self.intel_pmu_reset(vcpu, cpu)  # kvm_pmu_reset


class PostedKvm(Kvm):
    """The code as posted: every fix off."""

    DEFAULT_FIXES = POSTED


#: The model's actions that KVM takes no part in (host perf users, perf's own scheduling).
ENVIRONMENT_ONLY = frozenset({"host_open_pinned", "host_open_flex", "host_open_task", "host_flex_resched",
                              "host_sample", "host_close"})


def run_handler(kvm, vcpu, stops: frozenset[str] | set[str]) -> None:
    """Run ``vcpu``'s handler in flight (a generator that yields the points where the model has
    a step boundary) until it stops at one of ``stops`` or returns.  A NULL dereference is an
    oops: logged (or raised with ``panic_on_oops``), and the thread goes on as if the access had
    not happened.  Shared by the renderings of both designs (``kvm`` has ``printk``,
    ``local_irq_enable``, ``panic_on_oops`` and ``_handler_done``)."""
    assert vcpu.handler is not None
    while True:
        try:
            at = next(vcpu.handler)
        except StopIteration:
            kvm._handler_done(vcpu)
            return
        except AttributeError as e:
            if "'NoneType' object has no attribute" not in str(e):
                raise
            cpu = vcpu.cpu
            kvm.printk("OOPS", vcpu, cpu, what=f"NULL pointer dereference: {e}")
            kvm._handler_done(vcpu)
            if cpu is not None:
                kvm.local_irq_enable(cpu)  # the oops ends the window the thread had opened
            if kvm.panic_on_oops:
                raise KernelOops(f"{vcpu.name}: kernel NULL pointer dereference ({e})") from None
            return
        vcpu.handler_at = at
        if at in stops:
            return


def foreign(vcpu: str, value: object) -> bool:
    """LBR state written by the host or by another vCPU (the model's ``foreign``)."""
    return str(value) not in ("none", f"vcpu({vcpu})")


#: What each step property of the model means in the kernel's log: the entries of one step that
#: break it.  (``host_sees_no_guest_branches`` is the host's sampling, ``free_only_after_untouched_slice``
#: needs the model's ghost of what the guest touched: neither is KVM's to tell.)
STEP_PROPERTIES = {
    "host_no_warn": lambda e: e.kind == "WARN",
    "host_no_oops": lambda e: e.kind == "OOPS",
    "host_no_sleep_in_atomic": lambda e: e.kind == "BUG_SLEEP",
    "no_gp_while_owning": lambda e: e.kind == "GP" and bool(e.detail["owned"]),
    "debugctl_accepted_with_optin": lambda e: e.kind == "REFUSED" and e.detail["msr"] == hex(MSR_IA32_DEBUGCTLMSR),
    "debugctl_no_new_gp_without_optin":
        lambda e: e.kind == "GP" and e.detail["msr"] == hex(MSR_IA32_DEBUGCTLMSR) and not e.detail["lbr_in_guest"],
    "no_free_with_debugctl_lbr":
        lambda e: e.kind == "RELEASE" and e.detail["why"] in ("sched-in", "vcpu_enter_guest")
        and bool(e.detail["guest_debugctl_lbr"]),
    "guest_sees_only_its_own":
        lambda e: e.kind == "GUEST_READ" and (foreign(e.vcpu, e.detail["rec"]) or foreign(e.vcpu, e.detail["sel"])),
}


class KvmAdapter:
    """Connects a :class:`Kvm` (or a subclass) to the guest-LBR model's actions, for any variant.

    The adapter reads from the model how it cuts KVM's handler into steps: the values of ``pc``
    are the points where a handler step ends (the rendering runs through the others without
    preemption), and a ``guest_debugctl`` step that chooses the value written (``lbr``) is a
    whole DEBUGCTL write, the handler run to its end (the model's assumption A10).

    Besides the state, it reports which of the model's step properties each step broke, read from
    the kernel's log (:data:`STEP_PROPERTIES`): the check compares them with the model's verdict.
    """

    judged = frozenset(STEP_PROPERTIES)

    def __init__(self, kvm_class: type[Kvm] = Kvm, fixes: Mapping[str, bool] | None = None, *,
                 panic_on_oops: bool = False) -> None:
        self.kvm_class = kvm_class
        self.fixes = fixes
        self.panic_on_oops = panic_on_oops
        self.kvm: Kvm | None = None
        self.steps = 0

    def start(self, model: ModelView) -> None:
        self.env = Env()
        self.kvm = self.kvm_class(bool(model["cap"]), model.elements("vCPU"), model.elements("pCPU"), self.fixes,
                                  env=self.env, panic_on_oops=self.panic_on_oops)
        m = model.model
        self.stops = frozenset(m.var("pc").dom.members) - {IDLE}
        self.has_acc = model.has("acc[v0]")
        self.has_loaded = model.has("loaded[p0]")
        # the release request is compared where the model's request is the implementation's flag
        self.has_req = model.has("release_req[v0]") and tuple(m.var("release_req").dom.members) == ("NONE", "CLEAN")
        # What a guest LBR access stands for (A8): any LBR MSR the model's handler takes, in turn;
        # LBR_INFO only where the model has is_lbr_msr recognise it (else it is guest_info_exit).
        info = m.variant.switches.get("info_msrs_recognised", True)
        self.lbr_msrs = [MSR_LBR_NHM_FROM, MSR_LBR_NHM_TO + 1, *([MSR_LBR_INFO_0 + 2] if info else []), MSR_LBR_TOS,
                         MSR_LBR_SELECT]
        self.steps = 0

    def perform(self, action: str, params: Mapping[str, Value], model: ModelView) -> None:
        kvm = self.kvm
        assert kvm is not None
        self.steps += 1
        kvm.step = self.steps
        self.env.view = model
        kvm.perf.new_step()
        try:
            self._perform(kvm, action, params)
        finally:
            self.env.view = None

    def _perform(self, kvm: Kvm, action: str, params: Mapping[str, Value]) -> None:
        vcpu = kvm.vcpus[str(params["v"])] if "v" in params else None
        cpu = str(params["p"]) if "p" in params else ""
        if action == "sched_in":
            kvm.kvm_sched_in(vcpu, cpu)  # type: ignore[arg-type]
        elif action == "sched_out":
            kvm.kvm_sched_out(vcpu, cpu)  # type: ignore[arg-type]
        elif action == "vmenter":
            kvm.vcpu_enter_guest(vcpu, cpu)  # type: ignore[arg-type]
        elif action == "vcpu_reset":
            kvm.kvm_vcpu_reset(vcpu, cpu)  # type: ignore[arg-type]
        elif action in ("guest_lbr_exit", "guest_lbr_direct", "guest_info_exit"):
            assert vcpu is not None
            index = MSR_LBR_INFO_0 if action == "guest_info_exit" else self.lbr_msrs[self.steps % len(self.lbr_msrs)]
            exited = kvm.guest_msr_access(vcpu, MsrData(index), False, self.stops)
            if exited != (action != "guest_lbr_direct"):
                raise Refused(f"the guest's LBR MSR access {'VM-exits' if exited else 'goes straight to the hardware'} "
                              f"in the implementation, but the model takes {action}")
            if action == "guest_info_exit" and vcpu.handler is not None:
                raise Refused("the LBR_INFO access is being handled as an LBR MSR, but the model has it refused at once")
        elif action == "guest_debugctl":
            assert vcpu is not None
            whole = "lbr" in params
            msr = MsrData(MSR_IA32_DEBUGCTLMSR, DEBUGCTLMSR_LBR if params.get("lbr") else 0 if whole else None)
            kvm.guest_msr_access(vcpu, msr, True, frozenset() if whole else self.stops)
        elif action == "kvm_warn_check":
            kvm.resume_handler(vcpu, CREATED, self.stops)  # type: ignore[arg-type]
        elif action == "kvm_lbr_check":
            kvm.resume_handler(vcpu, WARNED, self.stops)  # type: ignore[arg-type]
        elif action == "kvm_lbr_access":
            assert vcpu is not None
            msr = vcpu.handler_msr
            if msr is not None and msr.index == MSR_IA32_DEBUGCTLMSR and msr.data is None:
                msr.data = DEBUGCTLMSR_LBR if params["lbr"] else 0
            kvm.resume_handler(vcpu, ACCESS, self.stops)
        elif action == "kvm_pass_through":
            kvm.resume_handler(vcpu, DONE, self.stops)  # type: ignore[arg-type]
        elif action == "host_ipi":
            kvm.handle_ipi(cpu)
        elif action not in ENVIRONMENT_ONLY:
            raise Refused(f"the adapter does not know the action {action!r}")

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
        out: dict[str, Value] = {"cap": kvm.lbr_in_guest}
        for v, vcpu in kvm.vcpus.items():
            pmu = vcpu.pmu
            out[f"in_guest[{v}]"] = vcpu.in_guest_mode
            out[f"pc[{v}]"] = vcpu.handler_at
            if self.has_acc:
                msr = vcpu.handler_msr
                out[f"acc[{v}]"] = "DBG" if msr is not None and msr.index == MSR_IA32_DEBUGCTLMSR else "MSR"
            out[f"dbg[{v}]"] = bool(kvm.guest_debugctl(vcpu) & DEBUGCTLMSR_LBR)
            out[f"used[{v}]"] = pmu.lbr_used
            if self.has_req:
                out[f"release_req[{v}]"] = "CLEAN" if pmu.lbr_release_pending else "NONE"
            out[f"passthru[{v}]"] = not vcpu.lbr_msrs_intercepted
            out[f"absent({v})"] = pmu.lbr_event is None
            if vcpu.in_guest_mode and vcpu.cpu is not None:
                # what VM-entry loaded: the guest's branches are recorded into this pCPU's LBR
                out[f"records_at_entry({v}, {vcpu.cpu})"] = bool(vcpu.vmcs.guest_debugctl & DEBUGCTLMSR_LBR)
        for p, c in kvm.cpus.items():
            out[f"irqs_off({p})"] = c.irqs_disabled
            if self.has_loaded:
                cur = c.current_vmcs
                out[f"loaded[{p}]"] = UnionValue("vcpu", cur.owner) if cur is not None else UnionValue("none")
        return out
