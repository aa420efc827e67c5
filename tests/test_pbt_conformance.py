"""Conformance: the imperative rendering of KVM's v8 LBR code against the model, and broken copies."""

from __future__ import annotations

import pytest

from conftest import model
from lbrspec.errors import InputError
from lbrspec.explicit.instance import Instance
from lbrspec.explicit.replay import replay
from lbrspec.pbt import Nonconformance, simulate
from lbrspec.pbt.conformance import Refused
from lbrspec.pbt.examples import check_kvm_lbr
from lbrspec.pbt.examples.kvm_lbr import Kvm, KvmAdapter
from lbrspec.pbt.examples.kvm_lbr_broken import BROKEN


@pytest.mark.parametrize("sizes", [{"vCPU": 2, "pCPU": 2}, {"vCPU": 3, "pCPU": 2, "host_user": 2}])
def test_the_faithful_rendering_conforms(sizes):
    r = check_kvm_lbr.check(Kvm, sizes, runs=300)
    assert r.failure is None, str(r.found)
    assert r.steps > 3000


@pytest.mark.parametrize("broken, observation", [
    ("v7-write-path", "irqs_off("),
    ("no-vmentry-check", "passthru["),
    ("free-ignores-debugctl", "absent("),
])
def test_each_broken_copy_fails_with_a_readable_trace(broken, observation):
    r = check_kvm_lbr.check(BROKEN[broken], runs=2000)
    f = r.failure
    assert isinstance(f, Nonconformance), f"{broken} not caught in {r.runs} runs"
    assert f.differences and all(k.startswith(observation) for k, _, _ in f.differences)
    text = f.render()
    assert "the implementation does not conform at step" in text
    assert "in the model but" in text and "  1  " in text
    # the model's side of the trace is a run of the model
    assert replay(f.instance, f.trace).ok
    assert len(f.steps) <= len(r.found.steps)


def test_the_command_line_check(capsys):
    assert check_kvm_lbr.main(["--runs", "100"]) == 0
    assert "CONFORMS" in capsys.readouterr().out
    assert check_kvm_lbr.main(["--broken", "no-vmentry-check"]) == 1
    out = capsys.readouterr().out
    assert "DOES NOT CONFORM" in out and "passthru[" in out


class _RefusesVmentry(Kvm):
    def vcpu_enter_guest(self, vcpu, cpu):
        raise Refused("VM-entry is broken")


def test_a_refused_step_is_a_nonconformance():
    r = simulate(model("v8"), runs=200, adapter=lambda: KvmAdapter(_RefusesVmentry))
    f = r.failure
    assert isinstance(f, Nonconformance) and f.refused == "VM-entry is broken"
    assert f.steps[-1][0].name == "vmenter" and "refuses a step the model takes" in f.headline()


class _Crashes(Kvm):
    def handle_ipi(self, cpu):
        raise ZeroDivisionError("oops")


def test_an_implementation_that_raises_is_a_nonconformance():
    r = simulate(model("v8"), runs=500, adapter=lambda: KvmAdapter(_Crashes))
    f = r.failure
    assert isinstance(f, Nonconformance) and "ZeroDivisionError: oops" in (f.refused or "")
    assert f.steps[-1][0].name == "host_ipi"


class _UnknownObservation(KvmAdapter):
    def observe(self):
        return {**super().observe(), "no_such_thing(v0)": True}


def test_an_observation_the_model_cannot_evaluate_is_an_input_error():
    with pytest.raises(InputError, match="no definition 'no_such_thing'"):
        simulate(Instance(model("v8")), runs=5, adapter=_UnknownObservation)
