"""KVM's guest LBR logic of the v8 series, written imperatively in the shape of the kernel code.

This is an *implementation under test* for :mod:`lbrspec.pbt.conformance`: the conformance check
drives it with the guest-LBR model's own runs and compares it with the model after every step
(``python -m lbrspec.pbt.examples.check_kvm_lbr``).  It renders the KVM side of the design:

* the LBR MSR exit handler of patch 12 (:meth:`Kvm.intel_pmu_handle_lbr_msr`): create the vCPU
  LBR event if there is none; then, with interrupts disabled, perform the access only if the
  event owns the LBR on this pCPU; mark the LBR used this slice and pass the LBR MSRs through;
* the sched-in hook of patch 12 (:meth:`Kvm.intel_pmu_sched_in`): after a slice that used the
  LBR, intercept the LBR MSRs again; release an event left untouched for a whole slice with
  ``DEBUGCTL.LBR`` clear;
* the check before VM-entry of patch 13 (:meth:`Kvm.intel_pmu_lbr_availability_check`, called
  from :meth:`Kvm.vcpu_enter_guest` with interrupts disabled): cancel pass-through when the event
  no longer owns the LBR;
* the ``DEBUGCTL`` exit of patch 14, the ``KVM_CAP_X86_GUEST_LBR`` opt-in of patch 3, and the
  VM-exit an IPI forces.

Names follow the kernel's style (``pmu->lbr_event``, ``event_is_oncpu``, ``local_irq_disable``);
the code renders the design as the cover letter and changelog describe it, it does not quote the
patches.  The handler is a generator: each ``yield`` is a point where the kernel may be
interrupted or preempted in the middle of it, and the value yielded names that point the way the
model's ``pc`` does (``LBR_CHECK``: the event is created, the ownership check is next;
``ACCESS``: the check passed, the MSR access is next).  That is how the model's steps
``kvm_lbr_check`` and ``kvm_lbr_access`` interleave with the rest of the system.

The environment is not re-implemented: the scheduler, host perf with its LBR users and the LBR
hardware are the model's.  KVM asks :class:`Perf` (``smp_processor_id``, ``event_is_oncpu``,
creating and releasing the event), which answers from the model's state before each step; the
events KVM creates and releases are compared with the model through ``absent(v)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generator, Mapping

from ...lang.domains import Value
from ..conformance import ModelView, Refused

#: Where a vCPU's LBR MSR handler is suspended (the model's ``pc``).
IDLE, LBR_CHECK, ACCESS = "IDLE", "LBR_CHECK", "ACCESS"

Handler = Generator[str, None, None]


@dataclass
class PerfEvent:
    """``struct perf_event``: the vCPU LBR event (task-pinned, ``exclude_host``, no counter; patches 7-9)."""

    vcpu: str
    released: bool = False


class Perf:
    """Host perf and the scheduler as KVM calls them, answered from the model's state."""

    def __init__(self) -> None:
        self.model: ModelView | None = None

    def _m(self) -> ModelView:
        assert self.model is not None, "the environment is read only during a step"
        return self.model

    def smp_processor_id(self, vcpu: str) -> str:
        """The pCPU the vCPU thread runs on."""
        return str(self._m()[f"cpu[{vcpu}]"])

    def vcpus_running_on(self, cpu: str) -> list[str]:
        m = self._m()
        return [v for v in m.elements("vCPU") if m.value("runs_on", v, cpu)]

    def perf_event_create_kernel_counter(self, vcpu: str) -> PerfEvent:
        """Create the vCPU LBR event; perf schedules it at once if it may take the LBR (patch 9)."""
        return PerfEvent(vcpu)

    def perf_event_release_kernel(self, event: PerfEvent) -> None:
        event.released = True

    def event_is_oncpu(self, event: PerfEvent | None, cpu: str) -> bool:
        """``event->oncpu == cpu``: the event is scheduled on ``cpu`` and owns its LBR."""
        return event is not None and not event.released and bool(self._m().value("owns", event.vcpu, cpu))


@dataclass
class KvmPmu:
    """The parts of ``struct kvm_pmu`` the series adds."""

    lbr_event: PerfEvent | None = None
    lbr_used: bool = False  # the guest touched an LBR MSR in this time slice (patch 12)
    debugctl_lbr: bool = False  # guest DEBUGCTL.LBR as the vPMU keeps it (patch 14)


@dataclass
class KvmVcpu:
    name: str
    pmu: KvmPmu = field(default_factory=KvmPmu)
    in_guest_mode: bool = False
    lbr_msrs_intercepted: bool = True  # the MSR bitmap entries of the LBR MSRs
    handler: Handler | None = None  # an LBR MSR exit being handled
    handler_at: str = IDLE


class Kvm:
    """KVM for one VM: its vCPUs, and the interrupt flag of each pCPU as KVM sets it."""

    def __init__(self, guest_lbr_enabled: bool, vcpus: list[str], pcpus: list[str]) -> None:
        self.perf = Perf()
        self.guest_lbr_enabled = guest_lbr_enabled  # KVM_CAP_X86_GUEST_LBR (patch 3)
        self.vcpus = {v: KvmVcpu(v) for v in vcpus}
        self.irqs_disabled = {p: False for p in pcpus}

    # -- helpers -------------------------------------------------------------------------------
    def local_irq_disable(self, cpu: str) -> None:
        self.irqs_disabled[cpu] = True

    def local_irq_enable(self, cpu: str) -> None:
        self.irqs_disabled[cpu] = False

    def intel_pmu_intercept_lbr_msrs(self, vcpu: KvmVcpu, intercept: bool) -> None:
        vcpu.lbr_msrs_intercepted = intercept

    def lbr_msr_access(self, vcpu: KvmVcpu, cpu: str) -> None:
        """``rdmsrl()``/``wrmsrl()`` on the physical LBR MSR (the model's ``pc = ACCESS`` instant)."""

    def kvm_inject_gp(self, vcpu: KvmVcpu) -> None:
        """#GP for the guest: the access is refused."""

    # -- patch 12: the LBR MSR exit handler -----------------------------------------------------
    def intel_pmu_handle_lbr_msr(self, vcpu: KvmVcpu) -> Handler:
        pmu = vcpu.pmu
        if not self.guest_lbr_enabled:
            # patch 3: without KVM_CAP_X86_GUEST_LBR the guest's LBR MSR access gets #GP
            self.kvm_inject_gp(vcpu)
            return
        if pmu.lbr_event is None:
            pmu.lbr_event = self.perf.perf_event_create_kernel_counter(vcpu.name)
        # Creating the event may sleep, so the thread may be preempted (and migrated) here.
        yield LBR_CHECK
        cpu = self.perf.smp_processor_id(vcpu.name)
        # Interrupts stay disabled from the ownership check to the MSR access, so the IPI that
        # installs a host CPU-pinned LBR event cannot reclaim the LBR in between (v8 patch 12).
        self.local_irq_disable(cpu)
        if self.perf.event_is_oncpu(pmu.lbr_event, cpu):
            # Other pCPUs run on; this one takes neither the IPI nor preemption.
            yield ACCESS
            self.lbr_msr_access(vcpu, cpu)
            self.local_irq_enable(cpu)
            pmu.lbr_used = True
            # Later accesses in this slice run without VM-exits while the event owns the LBR.
            self.intel_pmu_intercept_lbr_msrs(vcpu, False)
        else:
            self.local_irq_enable(cpu)
            # The LBR was reclaimed (or never granted): the access is dropped, nothing reaches
            # the hardware; the guest still wants the LBR, so the slice counts as used.
            pmu.lbr_used = True

    # -- patch 12: the sched-in hook ------------------------------------------------------------
    def intel_pmu_sched_in(self, vcpu: KvmVcpu, cpu: str) -> None:
        pmu = vcpu.pmu
        if pmu.lbr_used:
            # The guest used the LBR in the last slice: intercept the LBR MSRs again, so that its
            # first access in this slice VM-exits and KVM learns the LBR is still in use.
            pmu.lbr_used = False
            self.intel_pmu_intercept_lbr_msrs(vcpu, True)
        elif pmu.lbr_event is not None and not pmu.debugctl_lbr and vcpu.handler is None:
            # A whole slice without an LBR access and DEBUGCTL.LBR clear: the guest no longer
            # uses the LBR, release the event.  Not while the exit handler still holds it
            # (the model's assumption A6).
            self.perf.perf_event_release_kernel(pmu.lbr_event)
            pmu.lbr_event = None

    # -- patch 13: the check before VM-entry ----------------------------------------------------
    def intel_pmu_lbr_availability_check(self, vcpu: KvmVcpu, cpu: str) -> None:
        # Interrupts are disabled: the LBR cannot be reclaimed between this check and VM-entry.
        if not vcpu.lbr_msrs_intercepted and not self.perf.event_is_oncpu(vcpu.pmu.lbr_event, cpu):
            # A host CPU-pinned event reclaimed the LBR: cancel pass-through, so the guest's
            # next access VM-exits and is refused by the handler.
            self.intel_pmu_intercept_lbr_msrs(vcpu, True)

    def vcpu_enter_guest(self, vcpu: KvmVcpu, cpu: str) -> None:
        if vcpu.in_guest_mode:
            raise Refused(f"{vcpu.name} is already in guest mode")
        if vcpu.handler is not None:
            raise Refused(f"{vcpu.name}'s LBR MSR exit is still being handled ({vcpu.handler_at})")
        self.local_irq_disable(cpu)
        self.intel_pmu_lbr_availability_check(vcpu, cpu)
        vcpu.in_guest_mode = True  # VM-entry; host interrupts now cause VM-exits
        self.local_irq_enable(cpu)

    # -- scheduling --------------------------------------------------------------------------
    def kvm_sched_in(self, vcpu: KvmVcpu, cpu: str) -> None:
        """The preempt notifier's sched-in: ``kvm_arch_sched_in`` calls the vPMU's hook."""
        self.intel_pmu_sched_in(vcpu, cpu)

    def kvm_sched_out(self, vcpu: KvmVcpu, cpu: str) -> None:
        """The vCPU thread is preempted (the guest left guest mode first)."""
        if self.irqs_disabled[cpu]:
            raise Refused(f"{vcpu.name} cannot be preempted on {cpu}: interrupts are disabled there")
        vcpu.in_guest_mode = False

    # -- exits ---------------------------------------------------------------------------------
    def guest_lbr_msr_access(self, vcpu: KvmVcpu) -> bool:
        """The guest touches an LBR MSR; whether it VM-exited (else it went to the hardware)."""
        if not vcpu.in_guest_mode:
            raise Refused(f"{vcpu.name} is not in guest mode")
        if not vcpu.lbr_msrs_intercepted:
            return False
        vcpu.in_guest_mode = False  # VM-exit on the intercepted MSR
        vcpu.handler = self.intel_pmu_handle_lbr_msr(vcpu)
        self._run_handler(vcpu)
        return True

    def resume_handler(self, vcpu: KvmVcpu, at: str) -> None:
        """The vCPU thread runs on from where its LBR MSR handler stopped (``at``)."""
        if vcpu.handler is None or vcpu.handler_at != at:
            raise Refused(f"{vcpu.name}'s LBR MSR handler is at {vcpu.handler_at}, not {at}")
        self._run_handler(vcpu)

    def _run_handler(self, vcpu: KvmVcpu) -> None:
        assert vcpu.handler is not None
        try:
            vcpu.handler_at = next(vcpu.handler)
        except StopIteration:
            vcpu.handler = None
            vcpu.handler_at = IDLE

    def handle_debugctl_exit(self, vcpu: KvmVcpu, lbr: bool) -> None:
        """The guest writes DEBUGCTL, which is never passed through (patch 14)."""
        if not vcpu.in_guest_mode:
            raise Refused(f"{vcpu.name} is not in guest mode")
        vcpu.in_guest_mode = False
        if not self.guest_lbr_enabled:
            return
        pmu = vcpu.pmu
        pmu.debugctl_lbr = lbr  # the vPMU keeps the LBR bit
        if pmu.lbr_event is None:
            # An intercepted DEBUGCTL access creates the vCPU LBR event too (patch 12).
            pmu.lbr_event = self.perf.perf_event_create_kernel_counter(vcpu.name)

    def handle_ipi(self, cpu: str) -> None:
        """An IPI (perf_install_in_context installing a host event) is delivered to ``cpu``."""
        if self.irqs_disabled[cpu]:
            raise Refused(f"the IPI cannot be delivered: interrupts are disabled on {cpu}")
        for v in self.perf.vcpus_running_on(cpu):
            self.vcpus[v].in_guest_mode = False  # the external interrupt forces a VM-exit

    # -- what the conformance check compares ---------------------------------------------------
    def observe(self) -> dict[str, Value]:
        out: dict[str, Value] = {"cap": self.guest_lbr_enabled}
        for v, vcpu in self.vcpus.items():
            out[f"in_guest[{v}]"] = vcpu.in_guest_mode
            out[f"pc[{v}]"] = vcpu.handler_at
            out[f"dbg[{v}]"] = vcpu.pmu.debugctl_lbr
            out[f"used[{v}]"] = vcpu.pmu.lbr_used
            out[f"passthru[{v}]"] = not vcpu.lbr_msrs_intercepted
            out[f"absent({v})"] = vcpu.pmu.lbr_event is None
        for p, off in self.irqs_disabled.items():
            out[f"irqs_off({p})"] = off
        return out


#: The model's actions that KVM takes no part in (host perf users, perf's sampling).
ENVIRONMENT_ONLY = frozenset({"host_open_cpu", "host_open_task", "host_sample", "host_close"})


class KvmAdapter:
    """Connects a :class:`Kvm` (or a subclass) to the guest-LBR model's actions."""

    def __init__(self, kvm_class: type[Kvm] = Kvm) -> None:
        self.kvm_class = kvm_class
        self.kvm: Kvm | None = None

    def start(self, model: ModelView) -> None:
        self.kvm = self.kvm_class(bool(model["cap"]), model.elements("vCPU"), model.elements("pCPU"))

    def perform(self, action: str, params: Mapping[str, Value], model: ModelView) -> None:
        kvm = self.kvm
        assert kvm is not None
        kvm.perf.model = model
        try:
            self._perform(kvm, action, params)
        finally:
            kvm.perf.model = None

    @staticmethod
    def _perform(kvm: Kvm, action: str, params: Mapping[str, Value]) -> None:
        vcpu = kvm.vcpus[str(params["v"])] if "v" in params else None
        cpu = str(params["p"]) if "p" in params else ""
        if action == "sched_in":
            kvm.kvm_sched_in(vcpu, cpu)  # type: ignore[arg-type]
        elif action == "sched_out":
            kvm.kvm_sched_out(vcpu, cpu)  # type: ignore[arg-type]
        elif action == "vmenter":
            kvm.vcpu_enter_guest(vcpu, cpu)  # type: ignore[arg-type]
        elif action in ("guest_lbr_exit", "guest_lbr_direct"):
            exited = kvm.guest_lbr_msr_access(vcpu)  # type: ignore[arg-type]
            if exited != (action == "guest_lbr_exit"):
                raise Refused(
                    f"the guest's LBR MSR access {'VM-exits' if exited else 'goes straight to the hardware'} in the "
                    f"implementation, but the model takes {action}"
                )
        elif action == "kvm_lbr_check":
            kvm.resume_handler(vcpu, LBR_CHECK)  # type: ignore[arg-type]
        elif action == "kvm_lbr_access":
            kvm.resume_handler(vcpu, ACCESS)  # type: ignore[arg-type]
        elif action == "guest_debugctl":
            kvm.handle_debugctl_exit(vcpu, bool(params["lbr"]))  # type: ignore[arg-type]
        elif action == "host_ipi":
            kvm.handle_ipi(cpu)
        elif action not in ENVIRONMENT_ONLY:
            raise Refused(f"the adapter does not know the action {action!r}")

    def observe(self) -> dict[str, Value]:
        assert self.kvm is not None
        return self.kvm.observe()
