"""The Hypothesis rule machine generated from a model: rules, invariants, deadlocks, traces."""

from __future__ import annotations

import random

import pytest
from hypothesis import Phase, settings
from hypothesis.errors import InvalidDefinition
from hypothesis.stateful import run_state_machine_as_test

from conftest import model, token_ring
from lbrspec.explicit.instance import Instance
from lbrspec.explicit.replay import replay
from lbrspec.pbt import Deadlocked, InvariantViolated, rule_machine, simulate
from lbrspec.pbt.minimize import rerun
from lbrspec.trace import trace_from_states
from lbrspec.trace.itf import read_itf, write_itf

# The v8 model as a pytest test, the way the README shows it: runs under the 'ci' profile.
TestGuestLbrV8 = rule_machine(model("v8")).TestCase
TestGuestLbrV8At3x2 = rule_machine(model("v8"), {"vCPU": 3, "pCPU": 2}).TestCase
TestGuestLbrV8 = pytest.mark.long(TestGuestLbrV8)
TestGuestLbrV8At3x2 = pytest.mark.long(TestGuestLbrV8At3x2)


@pytest.mark.long
def test_one_rule_per_action_and_the_v8_walks_take_every_action():
    # one vCPU on one pCPU: short random walks reach every action (a waiting CPU-flexible host user
    # needs the vCPU thread to leave the pCPU it holds, which 2x2 walks rarely arrange)
    machine = rule_machine(model("v8"), {"vCPU": 1, "pCPU": 1, "host_user": 1})
    rules = {name for name in vars(machine) if hasattr(getattr(machine, name), "hypothesis_stateful_rule")}
    assert rules == {a.name for a in model("v8").actions} | {"no_action_enabled"}
    machine.stats.reset()
    # pass-through needs a particular run of seven steps and a CPU-flexible host user a free LBR:
    # long walks reach them
    run_state_machine_as_test(machine, settings=settings(max_examples=100, stateful_step_count=200))
    assert machine.stats.steps > 0
    # every action of the model fires in some walk: no rule is vacuous
    assert set(machine.stats.actions) == {a.name for a in model("v8").actions}


def test_a_deadlock_is_a_finding_not_an_invalid_definition():
    ring = token_ring(deadlock=True)
    machine = rule_machine(ring)
    with pytest.raises(Deadlocked) as info:
        run_state_machine_as_test(machine, settings=settings(max_examples=20))
    failure = info.value
    assert not isinstance(failure, InvalidDefinition)
    r = replay(failure.instance, failure.trace)
    assert r.ok and failure.trace.violation == "deadlock"
    assert "deadlock" in str(failure)


def test_allowed_deadlocks_stutter():
    machine = rule_machine(token_ring(deadlock=True), allow_deadlock=True)
    machine.stats.reset()
    run_state_machine_as_test(machine, settings=settings(max_examples=20))
    assert machine.stats.runs >= 20


@pytest.mark.long
def test_a_violated_invariant_is_found_and_its_trace_replays(tmp_path):
    ring = token_ring(bug=True)
    with pytest.raises(InvariantViolated) as info:
        run_state_machine_as_test(rule_machine(ring), settings=settings(max_examples=50))
    failure = info.value
    assert failure.names == ["one_token"]
    small = failure.minimized()
    assert len(small.steps) <= len(failure.steps)
    for f in (failure, small):
        r = replay(f.instance, f.trace)
        assert r.ok and r.final_violations == ["one_token"]
    path = tmp_path / "ring.itf.json"
    write_itf(small.trace, path)
    back = read_itf(path)
    assert back.steps == small.trace.steps and back.violation == "one_token"
    assert replay(small.instance, back).ok


@pytest.mark.long
def test_the_reported_text_is_the_minimized_trace():
    r = simulate(model("no-bit-62"), runs=2000, seed=0, minimize=False)
    found = r.found
    assert found is not None
    text = str(found)
    small = found.minimized()
    assert f"{len(small.steps)} steps:" in text
    assert "violated in the last state: isolation" in text
    if len(small.steps) < len(found.steps):
        assert "are not needed and are left out" in text


@pytest.mark.long
def test_minimized_runs_are_one_step_minimal():
    r = simulate(model("v7-write-path"), runs=2000, seed=1)
    small = r.failure
    assert small is not None and r.found is not None
    assert small.violation == r.found.violation == "no_kvm_access_after_reclaim"
    assert len(small.steps) <= len(r.found.steps)
    machine = small.machine
    assert machine is not None
    for i in range(len(small.steps)):
        cand = small.steps[:i] + small.steps[i + 1:]
        again = rerun(machine, small.states[0], cand, skip_disabled=True)
        assert again is None or again.violation != small.violation or len(again.steps) >= len(small.steps)


@pytest.mark.long
def test_the_same_seed_gives_the_same_search():
    a = simulate(model("no-lbr-select-restore"), runs=2000, seed=7)
    b = simulate(model("no-lbr-select-restore"), runs=2000, seed=7)
    assert a.failure is not None and b.failure is not None
    assert (a.runs, a.steps) == (b.runs, b.steps)
    assert a.found.trace.steps == b.found.trace.steps
    assert a.failure.trace.steps == b.failure.trace.steps and a.failure.trace.states == b.failure.trace.states


@pytest.mark.long
def test_compiled_steps_agree_with_the_reference_semantics_on_long_walks():
    """The machine steps with the compiled successor function; a long random walk on a 3x3
    instance must replay step for step in the reference semantics with every invariant true."""
    inst = Instance(model("v8"), {"vCPU": 3, "pCPU": 3, "host_user": 2})
    machine = rule_machine(inst)
    m = machine()
    rng = random.Random(3)
    m._arrive(rng.choice(inst.initial_states()))
    for _ in range(400):
        pos = rng.choice(sorted(m._enabled))
        m._take(pos, rng.choice(m._enabled[pos]))
    trace = trace_from_states(inst, m.states, m.steps)
    r = replay(inst, trace)
    assert r.ok and r.steps_replayed == 400 and r.invariant_failures == []
    assert len({a.name for a, _ in m.steps}) >= 10


def test_sizes_go_with_a_model_not_with_an_instance():
    inst = Instance(model("v8"))
    with pytest.raises(TypeError):
        rule_machine(inst, {"vCPU": 3})


def test_the_generated_test_case_fails_on_a_broken_variant():
    case_class = rule_machine(model("owner-after-event-init")).TestCase
    # Hypothesis's own shrinking is slow on rule machines; the failure text is minimized anyway
    case_class.settings = settings(case_class.settings, phases=[Phase.generate])
    with pytest.raises(InvariantViolated) as info:
        case_class("runTest").debug()
    assert info.value.names == ["no_counter"]


@pytest.mark.long
def test_the_readme_two_lines_work():
    import re
    import unittest
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme.split("## Property-based testing with Hypothesis", 1)[1].split("\n## ", 1)[0]
    code = re.findall(r"```python\n(.+?)\n```", section, re.S)[0]
    assert len(code.splitlines()) == 2
    ns = {"my_model": token_ring()}
    exec(code, ns)
    case = ns["TestMyModel"]
    assert issubclass(case, unittest.TestCase)
    case("runTest").debug()  # the toy ring holds its invariant: the test passes
