"""Bounded model checking with Z3: shortest violations as long as the explorer's, traces that
replay, undetermined on timeouts, internal errors when a trace does not replay."""

from __future__ import annotations

import json

import pytest
from conftest import model
from lbrspec_models.guest_lbr import VARIANTS

from lbrspec.cli import main
from lbrspec.errors import InternalError
from lbrspec.explicit.instance import Instance
from lbrspec.explicit.replay import ReplayResult, replay
from lbrspec.explicit.vexplore import explore_vector
from lbrspec.smt import bmc as bmc_module
from lbrspec.smt.bmc import bmc
from lbrspec.trace.itf import read_itf

BROKEN = [name for name, v in VARIANTS.items() if v.expected]
NON_DEFAULT = BROKEN


def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def smallest_violating(name: str) -> dict[str, int]:
    """The smallest instance on which the explorer finds a violation of variant ``name`` (BMC's
    cost grows with the instance, the comparison does not need the default one)."""
    for sizes in ({"vCPU": 1, "pCPU": 2, "host_user": 1}, {"vCPU": 2, "pCPU": 1, "host_user": 1},
                  {"vCPU": 2, "pCPU": 2, "host_user": 1}):
        r = explore_vector(Instance(model(name), sizes), check_deadlock=False)
        if r.violation is not None:
            return sizes
    raise AssertionError(f"{name}: no violation found")


@pytest.mark.parametrize("name", NON_DEFAULT)
@pytest.mark.long
def test_bmc_finds_a_violation_exactly_as_long_as_the_explorers_shortest(name):
    """BMC's first violation is as short as the explorer's first one, breaks the same property,
    and replays; a step invariant's trace ends with the step that breaks it, in both engines."""
    sizes = smallest_violating(name)
    first = explore_vector(Instance(model(name), sizes), check_deadlock=False).violation
    shortest = len(first.trace)
    by_step = first.trace.meta.get("violated_by_last_step") is not None
    r = bmc(model(name), sizes, depth=shortest + 1)
    assert r.verdict == "violated"
    assert len(r.trace) == shortest
    assert r.depth_checked == shortest - 1 - by_step  # every shorter depth was refuted
    assert first.names[0] in r.violated
    res = replay(Instance(model(name), sizes), r.trace)
    assert res.ok and res.steps_replayed == shortest
    assert r.trace.violation in res.final_violations
    # nothing earlier is violated (but the state a breaking step starts from)
    assert all(i >= shortest - by_step for i, _ in res.invariant_failures)


@pytest.mark.long
def test_bmc_finds_nothing_in_v8_up_to_its_depth():
    r = bmc(model("v8"), depth=5)
    assert r.verdict == "holds" and r.trace is None
    assert r.depth_checked == 5 and len(r.per_depth) == 6


@pytest.mark.long
def test_bmc_on_a_bigger_instance():
    r = bmc(model("owner-after-event-init"), {"vCPU": 3, "pCPU": 2, "host_user": 2}, depth=4)
    assert r.verdict == "violated" and r.violated[0] == "no_counter"
    assert r.sizes == {"vCPU": 3, "pCPU": 2, "host_user": 2}
    assert replay(Instance(model("owner-after-event-init"), r.sizes), r.trace).ok


def test_an_exhausted_budget_is_undetermined_never_holds():
    r = bmc(model("v8"), depth=12, timeout=0.05)
    assert r.verdict == "undetermined"
    assert r.trace is None and r.reason


@pytest.mark.long
def test_a_solver_trace_that_does_not_replay_is_an_internal_error(monkeypatch, capsys):
    monkeypatch.setattr(bmc_module, "replay", lambda inst, trace: ReplayResult(False, 0, 1, "diverges (test)"))
    with pytest.raises(InternalError, match="does not replay"):
        bmc(model("no-bit-62"), depth=5)
    code, _, err = run(capsys, "bmc", "--variant", "no-bit-62")
    assert code == 4 and "internal error" in err and "does not replay" in err


@pytest.mark.long
def test_cli_bmc_prints_the_trace_writes_itf_and_exits_1(capsys, tmp_path):
    out_file = tmp_path / "bmc.itf.json"
    code, out, _ = run(capsys, "bmc", "--variant", "no-bit-62", "--trace-out", str(out_file))
    assert code == 1
    assert "VIOLATED: isolation" in out and "after 4 steps" in out and "  4  " in out
    t = read_itf(out_file)
    assert t.violation == "isolation" and len(t) == 4
    assert replay(Instance(model("no-bit-62")), t).ok


@pytest.mark.long
def test_cli_bmc_json_and_exit_codes(capsys):
    code, out, _ = run(capsys, "bmc", "--depth", "3", "--json")
    data = json.loads(out)
    assert code == 0 and data["verdict"] == "no violation within bound" and data["depth_searched"] == 3
    for key in ("model", "variant", "sizes", "seconds", "violated", "trace_length", "seconds_per_depth"):
        assert key in data
    code, out, _ = run(capsys, "bmc", "--variant", "v7-write-path", "--json")
    data = json.loads(out)
    assert code == 1 and data["violated"] == "no_kvm_access_after_reclaim" and data["trace_length"] == 6
    code, _, err = run(capsys, "bmc", "--depth", "12", "--timeout", "0.05")
    assert code == 3
    code, _, err = run(capsys, "bmc", "--depth", "-1")
    assert code == 2 and "--depth" in err
    code, _, err = run(capsys, "bmc", "--variant", "nope")
    assert code == 2 and "unknown variant" in err
