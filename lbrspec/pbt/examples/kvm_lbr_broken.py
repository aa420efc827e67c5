"""Deliberately broken copies of :mod:`lbrspec.pbt.examples.kvm_lbr`, for the conformance check.

Each class changes one function of the faithful rendering back to a design the v8 series
rejected (or to a plausible slip), and the conformance check must catch it with a short trace:

* :class:`V7WritePathKvm`: the v7 handler checks ownership with interrupts enabled and disables
  them only around the MSR access, so the reclaim IPI can arrive between check and access;
* :class:`NoVmentryCheckKvm`: patch 13 absent, the guest re-enters with pass-through after a
  reclaim;
* :class:`FreeIgnoresDebugctlKvm`: the sched-in hook releases an untouched event even though the
  guest has ``DEBUGCTL.LBR`` set.
"""

from __future__ import annotations

from .kvm_lbr import ACCESS, LBR_CHECK, Handler, Kvm, KvmVcpu


class V7WritePathKvm(Kvm):
    """The v7 write path (v7 patch 12): ownership checked with interrupts on."""

    def intel_pmu_handle_lbr_msr(self, vcpu: KvmVcpu) -> Handler:
        pmu = vcpu.pmu
        if not self.guest_lbr_enabled:
            self.kvm_inject_gp(vcpu)
            return
        if pmu.lbr_event is None:
            pmu.lbr_event = self.perf.perf_event_create_kernel_counter(vcpu.name)
        yield LBR_CHECK
        cpu = self.perf.smp_processor_id(vcpu.name)
        if self.perf.event_is_oncpu(pmu.lbr_event, cpu):
            # BROKEN: interrupts are still enabled; an IPI may reclaim the LBR right here.
            yield ACCESS
            self.local_irq_disable(cpu)
            self.lbr_msr_access(vcpu, cpu)
            self.local_irq_enable(cpu)
            pmu.lbr_used = True
            self.intel_pmu_intercept_lbr_msrs(vcpu, False)
        else:
            pmu.lbr_used = True


class NoVmentryCheckKvm(Kvm):
    """Patch 13 absent: no ownership re-check before VM-entry."""

    def intel_pmu_lbr_availability_check(self, vcpu: KvmVcpu, cpu: str) -> None:
        pass  # BROKEN: pass-through survives a reclaim


class FreeIgnoresDebugctlKvm(Kvm):
    """The sched-in hook forgets the DEBUGCTL.LBR condition of the free."""

    def intel_pmu_sched_in(self, vcpu: KvmVcpu, cpu: str) -> None:
        pmu = vcpu.pmu
        if pmu.lbr_used:
            pmu.lbr_used = False
            self.intel_pmu_intercept_lbr_msrs(vcpu, True)
        elif pmu.lbr_event is not None and vcpu.handler is None:  # BROKEN: DEBUGCTL.LBR not checked
            self.perf.perf_event_release_kernel(pmu.lbr_event)
            pmu.lbr_event = None


#: The broken copies by name.
BROKEN: dict[str, type[Kvm]] = {
    "v7-write-path": V7WritePathKvm,
    "no-vmentry-check": NoVmentryCheckKvm,
    "free-ignores-debugctl": FreeIgnoresDebugctlKvm,
}
