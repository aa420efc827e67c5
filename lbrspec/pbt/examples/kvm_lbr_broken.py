"""Deliberately broken copies of :mod:`lbrspec.pbt.examples.kvm_lbr`, for the conformance check.

Each class changes one function of the rendering with every fix (the model's ``v8``) back to a
design the v8 series rejected (or to a plausible slip), and the conformance check against ``v8``
must catch it with a short trace:

* :class:`V7WritePathKvm`: the v7 handler checks ownership with interrupts enabled and disables
  them only around the MSR access, so the reclaim IPI can arrive between check and access;
* :class:`NoVmentryCheckKvm`: patch 13 absent, the guest re-enters with pass-through after a
  reclaim;
* :class:`FreeIgnoresDebugctlKvm`: the deferred release (``intel_pmu_cleanup``) releases an event
  left untouched for a slice even though the guest has ``DEBUGCTL.LBR`` set.
"""

from __future__ import annotations

from typing import Generator

from .kvm_lbr import (
    ACCESS,
    CREATED,
    DEBUGCTLMSR_FREEZE_LBRS_ON_PMI,
    DEBUGCTLMSR_LBR,
    DONE,
    MSR_IA32_DEBUGCTLMSR,
    WARNED,
    Kvm,
    KvmVcpu,
    MsrData,
)


class V7WritePathKvm(Kvm):
    """The v7 write path (v7 patch 12): ownership checked with interrupts on."""

    def intel_pmu_access_lbr_msr(self, vcpu: KvmVcpu, msr: MsrData, set_: bool) -> Generator[str, None, bool]:
        pmu = vcpu.pmu
        if not self.lbr_in_guest:
            return False
        pmu.lbr_used = True
        pmu.lbr_release_pending = False
        self.intel_pmu_create_lbr_event(vcpu, self.smp_processor_id(vcpu))
        yield CREATED
        if self.WARN_ON(pmu.lbr_event is None, vcpu, "intel_pmu_access_lbr_msr"):
            return False
        yield WARNED
        cpu = self.smp_processor_id(vcpu)
        if pmu.lbr_event.oncpu == -1 and msr.index != MSR_IA32_DEBUGCTLMSR:  # type: ignore[union-attr]
            self.printk("REFUSED", vcpu, cpu, msr=hex(msr.index), event_state=pmu.lbr_event.state,  # type: ignore[union-attr]
                        host_lbr_users=self.perf.host_lbr_users())
            return False
        # BROKEN: interrupts are still enabled; an IPI may reclaim the LBR right here.
        yield ACCESS
        self.local_irq_disable(cpu)
        if msr.index == MSR_IA32_DEBUGCTLMSR:
            assert msr.data is not None
            pmu.guest_debugctl = vcpu.vmcs.guest_debugctl = msr.data & (DEBUGCTLMSR_LBR | DEBUGCTLMSR_FREEZE_LBRS_ON_PMI)
        elif not set_:
            rec, sel = self.lbr.read(cpu)
            self.printk("GUEST_READ", vcpu, cpu, via="kvm", rec=str(rec), sel=str(sel))
        self.local_irq_enable(cpu)
        yield DONE
        pmu.lbr_used = True
        pmu.lbr_release_pending = False
        self.intel_pmu_intercept_lbr_msrs(vcpu, False)
        return True


class NoVmentryCheckKvm(Kvm):
    """Patch 13 absent: no ownership re-check before VM-entry."""

    def intel_pmu_lbr_confirm(self, vcpu: KvmVcpu, cpu: str) -> None:
        pass  # BROKEN: pass-through survives a reclaim


class FreeIgnoresDebugctlKvm(Kvm):
    """The deferred release forgets the DEBUGCTL.LBR condition."""

    def intel_pmu_cleanup(self, vcpu: KvmVcpu, cpu: str) -> None:
        pmu = vcpu.pmu
        pmu.lbr_release_pending = False
        if pmu.lbr_event is not None and not pmu.lbr_used:  # BROKEN: DEBUGCTL.LBR not checked
            self.intel_pmu_free_lbr_event(vcpu, cpu, "vcpu_enter_guest")


#: The broken copies by name (each a variant of the model that breaks the property it names).
BROKEN: dict[str, type[Kvm]] = {
    "v7-write-path": V7WritePathKvm,
    "no-vmentry-check": NoVmentryCheckKvm,
    "free-ignores-debugctl": FreeIgnoresDebugctlKvm,
}
