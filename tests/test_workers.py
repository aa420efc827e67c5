"""``lbrspec check --workers N``: batches expanded in worker processes give the very results of
one process (states, transitions, verdicts, the same shortest counterexamples, the same JSON
apart from timing), and workers never outlive a run: budgets, SIGINT and SIGTERM end them."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import model
from lbrspec import runctl
from lbrspec.explicit.instance import Instance
from lbrspec.explicit.vexplore import explore_vector
from lbrspec.modelref import load_model

TIMING = ("seconds", "states_per_second", "workers")


def _summary(r):
    return dict(
        verdict=r.verdict, states=r.states, transitions=r.transitions, depth=r.depth, complete=r.complete,
        deadlocks=r.deadlocks, pruned=r.pruned, stop_reason=r.stop_reason,
        violation=None if r.violation is None else (r.violation.kind, r.violation.names, r.violation.state_id,
                                                    r.violation.trace),
        violations=[(v.prop, v.state_id, v.trace) for v in r.violations],
        goals=[(g.name, g.reached, g.missing) for g in r.goals],
    )


@pytest.mark.parametrize("variant,sizes,symmetry", [
    ("v8", {"vCPU": 2, "pCPU": 1}, True),
    ("v8", {"vCPU": 1, "pCPU": 2}, False),
    ("v7-write-path", {"vCPU": 2, "pCPU": 1}, True),
    ("v8-posted", {"vCPU": 2, "pCPU": 1}, True),
    ("no-bit-62", {"vCPU": 1, "pCPU": 2}, False),
])
@pytest.mark.long
def test_two_and_three_workers_give_the_results_of_one(variant, sizes, symmetry):
    """Small batches, so that a layer takes many batches, several are in flight at once, and
    every batch is cut among the workers."""
    inst = Instance(model(variant), {"host_user": 1, **sizes})
    one = explore_vector(inst, symmetry=symmetry, prune_violations=True, stop_at_violation=False, batch_size=700)
    for n in (2, 3):
        many = explore_vector(inst, symmetry=symmetry, prune_violations=True, stop_at_violation=False,
                              batch_size=700, workers=n)
        assert _summary(many) == _summary(one)
    first = explore_vector(inst, symmetry=symmetry, batch_size=500, workers=2)
    assert _summary(first) == _summary(explore_vector(inst, symmetry=symmetry, batch_size=500))


@pytest.mark.long
def test_step_goals_and_budgets_with_workers():
    src = load_model("upstream_lbr")
    m = src.build(None)
    inst = Instance(m, {**src.default_sizes(m), "vCPU": 1, "pCPU": 2})
    one = explore_vector(inst, symmetry=True, batch_size=300, stop_at_violation=False, prune_violations=True)
    two = explore_vector(inst, symmetry=True, batch_size=300, stop_at_violation=False, prune_violations=True, workers=2)
    assert _summary(two) == _summary(one)
    kw = dict(symmetry=True, batch_size=300, max_states=5000, stop_at_violation=False, prune_violations=True)
    cut = explore_vector(inst, workers=2, **kw)
    assert not cut.complete and "state budget" in cut.stop_reason
    assert _summary(cut) == _summary(explore_vector(inst, **kw))


def _json(*args):
    p = subprocess.run([sys.executable, "-m", "lbrspec", "check", "--json", *args], capture_output=True, text=True,
                       timeout=600)
    data = json.loads(p.stdout)
    return p.returncode, {k: v for k, v in data.items() if k not in TIMING}, data


@pytest.mark.parametrize("args", [
    (),
    ("--variant", "v7-write-path"),
    ("--variant", "v8-posted", "--vcpus", "2", "--pcpus", "1"),
    ("--variant", "v8-posted", "--first-only"),
    ("--model", "upstream_lbr", "--vcpus", "1", "--pcpus", "2", "--no-symmetry"),
])
@pytest.mark.long
def test_json_is_identical_with_one_and_two_workers(args):
    code1, one, raw1 = _json(*args, "--workers", "1")
    code2, two, raw2 = _json(*args, "--workers", "2")
    assert code1 == code2 and one == two
    assert raw1["workers"] == 1 and raw2["workers"] == 2


def _children(pid: int) -> list[int]:
    out = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out += [int(x) for x in f.read().split()]
        except OSError:
            pass
    return out


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as f:
            return not any(line.startswith("State:") and "Z" in line.split()[1] for line in f)
    except OSError:
        return False


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.long
def test_a_signal_ends_the_workers_too(sig):
    p = subprocess.Popen([sys.executable, "-m", "lbrspec", "check", "--vcpus", "3", "--pcpus", "3", "--workers", "2",
                          "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    kids: list[int] = []
    deadline = time.time() + 60
    while len(kids) < 2 and time.time() < deadline and p.poll() is None:
        time.sleep(0.2)
        kids = _children(p.pid)
    assert len(kids) == 2, "the workers did not start"
    time.sleep(1.0)  # well into the search
    p.send_signal(sig)
    out, err = p.communicate(timeout=60)
    name = "SIGINT" if sig == signal.SIGINT else "SIGTERM"
    assert p.returncode == 3 and f"interrupted by {name}" in out and "Traceback" not in err, (out[-500:], err)
    time.sleep(0.5)
    assert not [k for k in kids if _alive(k)]


@pytest.mark.long
def test_the_time_budget_ends_the_workers():
    p = subprocess.Popen([sys.executable, "-m", "lbrspec", "check", "--vcpus", "3", "--pcpus", "3", "--workers", "2",
                          "--quiet", "--max-seconds", "6"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    kids: list[int] = []
    while len(kids) < 2 and p.poll() is None:
        time.sleep(0.2)
        kids = _children(p.pid)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 3 and "time budget of 6 s exhausted" in out, (out[-500:], err)
    assert kids and not [k for k in kids if _alive(k)]


def _hold(mb: int, ready, done) -> None:
    block = bytearray(mb * 2**20)
    for i in range(0, len(block), 4096):
        block[i] = 1
    ready.set()
    done.wait(30)


def test_worker_memory_counts_in_the_memory_budget():
    ctx = mp.get_context("fork")
    ready, done = ctx.Event(), ctx.Event()
    p = ctx.Process(target=_hold, args=(200, ready, done))
    p.start()
    try:
        assert ready.wait(30)
        alone = runctl.rss_bytes()
        runctl.add_workers([p.pid])
        try:
            counted = runctl.rss_bytes()
        finally:
            runctl.remove_workers([p.pid])
        assert counted - alone > 150 * 2**20
        assert runctl.rss_bytes() - alone < 50 * 2**20
    finally:
        done.set()
        p.join(10)


@pytest.mark.parametrize("value", ["0", "-1", "65", "1000000000000", "two", ""])
def test_bad_worker_counts_are_one_line_and_exit_2(value):
    p = subprocess.run([sys.executable, "-m", "lbrspec", "check", "--workers", value, "--max-states", "10"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    lines = [x for x in p.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("lbrspec: error:") and "--workers" in lines[0], p.stderr


def test_workers_need_the_vector_engine():
    p = subprocess.run([sys.executable, "-m", "lbrspec", "check", "--workers", "2", "--engine", "python"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "vector engine" in p.stderr
