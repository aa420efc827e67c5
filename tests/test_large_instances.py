"""Large instances start without building their initial states: the initial states are the
product of every slot's choices (8 at 2 vCPUs x 2 pCPUs of guest_lbr, 33,554,432 at 8 x 8,
2**65 at 16 x 16), so they are counted, tested and decoded slot by slot and enumerated lazily.

On small instances the lazy forms agree with the list the instance used to build; on 16 x 16
they answer at once; at 8 x 8 every command ends with a verdict, never a traceback.  The whole
file runs in about 15 seconds.
"""

from __future__ import annotations

import itertools
import random
import time
import tracemalloc

import pytest

from lbrspec.cli import main
from lbrspec.errors import EvaluationError, InputError, InstanceTooLarge
from lbrspec.explicit.evaluate import evaluate, successors
from lbrspec.explicit.explore import explore
from lbrspec.explicit.instance import Instance
from lbrspec.explicit.packing import Layout
from lbrspec.explicit.replay import replay
from lbrspec.explicit.symmetry import Symmetry
from lbrspec.explicit.vexplore import explore_vector
from lbrspec.lang import ANY, BOOL, RangeDomain, Sort, Spec, Variant, forall
from lbrspec.lang.expr import Expr, Local, _arg_names, coerce
from lbrspec.modelref import load_model
from lbrspec.trace import trace_from_states
from lbrspec.trace.itf import write_itf


def old_initial_states(inst: Instance) -> list[tuple[int, ...]]:
    """The list ``Instance.initial_states()`` returned before it became lazy (its code, verbatim
    but for the names): the oracle of order and content."""
    choices: list[list[int]] = []
    for sl in inst.slots:
        v = sl.var
        init = v.init
        env: dict[Local, int] = {}
        if callable(init) and not isinstance(init, Expr):
            locs = tuple(Local(n, d) for n, d in zip(_arg_names(init, len(v.index)), v.index))
            env = {loc: i + d.offset for loc, i, d in zip(locs, sl.index, v.index)}
            init = init(*locs)
        if init is ANY:
            choices.append(list(range(v.dom.size(inst.sizes))))
            continue
        values = init if isinstance(init, (list, tuple)) else [init]
        codes = [int(evaluate(coerce(val, v.dom), inst, (), env)) - v.dom.offset for val in values]
        choices.append(sorted(set(codes), key=codes.index))
    return [tuple(c) for c in itertools.product(*choices)]


def _toy():
    """Every way to give initial values: ANY, a list with a duplicate out of order, a negative
    range (non-zero offset), a function of the index, a constant."""
    T = Sort("thread", "t")
    spec = Spec("inits", sorts=[T], default_sizes={"thread": 2})
    m = spec.machine("m")
    m.var("level", RangeDomain(-2, 3), init=[3, -1, 3])
    on = m.var("on", BOOL, index=[T], init=ANY)
    m.var("mark", RangeDomain(-1, 4), index=[T], init=lambda t: [-1, 2])
    m.var("done", BOOL, init=False)
    m.transition("flip", {"t": T}, guard=lambda t: on[t], updates=lambda t: [on[t].becomes(False)])
    spec.invariant("not_all_on", ~forall(T, lambda t: on[t]), doc="broken in one initial state")
    spec.invariant("not_all_off", ~forall(T, lambda t: ~on[t]), doc="broken in one initial state and after flips")
    return spec.build(Variant("default", "the only design"))


def _model(ref: str):
    return load_model(ref).build()


SMALL = [("guest_lbr", {}), ("guest_lbr", {"vCPU": 3, "pCPU": 2}), ("guest_lbr", {"vCPU": 2, "pCPU": 2, "host_user": 2}),
         ("upstream_lbr", {}), ("upstream_lbr", {"vCPU": 2, "pCPU": 3}),
         ("tcommit", {}), ("twophase", {}), ("twopc_btm", {}), ("lock", {}), ("simple_allocator", {}), ("peterson", {}),
         ("dining_philosophers", {}), ("teaching_concurrency", {})]


CASES = SMALL + [("toy", {}), ("toy", {"thread": 3})]


@pytest.mark.parametrize("ref,sizes", CASES, ids=[f"{r}-{'-'.join(map(str, s.values())) or 'default'}" for r, s in CASES])
def test_counting_testing_and_decoding_agree_with_the_list(ref, sizes):
    inst = Instance(_toy() if ref == "toy" else _model(ref), sizes)
    expected = old_initial_states(inst)
    assert inst.initial_count() == len(expected)
    assert list(inst.iter_initial()) == expected
    seq = inst.initial_states()
    assert len(seq) == len(expected) and list(seq) == expected and seq[-1] == expected[-1]
    assert [inst.initial_state(i) for i in range(len(expected))] == expected
    rows = inst.initial_rows(0, len(expected) + 5)
    assert [tuple(int(x) for x in col) for col in rows.T] == expected
    assert all(inst.is_initial(s) and s in seq for s in expected)
    # every state one slot away from an initial state: initial exactly when the list has it
    known = set(expected)
    rng = random.Random(0)
    for s in rng.sample(expected, min(len(expected), 20)):
        for k in range(len(s)):
            for c in range(inst.slot_size[k]):
                t = s[:k] + (c,) + s[k + 1:]
                assert inst.is_initial(t) == (t in known)
    assert not inst.is_initial(expected[0][:-1])


def test_the_toy_has_every_kind_of_choice():
    inst = Instance(_toy())
    # level: 3 then -1 (offset -2: codes 5, 1); on[t]: both; mark[t]: -1 and 2 (codes 0, 3); done: false
    assert inst.initial_choices() == [(5, 1), (0, 1), (0, 1), (0, 3), (0, 3), (0,)]
    assert inst.initial_count() == 2 * 2 * 2 * 2 * 2


def test_rows_of_a_long_chunk_cross_every_carry():
    """The numpy decoding of a chunk agrees with the one-by-one decoding where the low digits
    wrap around (and the high ones carry) inside the chunk."""
    inst = Instance(_model("guest_lbr"), {"vCPU": 8, "pCPU": 8})
    n = inst.initial_count()
    for lo in (0, 1 << 20, (1 << 20) - 7, n - 300, n // 3):
        rows = inst.initial_rows(lo, lo + 300)
        assert rows.shape[1] == min(300, n - lo)
        for j in range(0, rows.shape[1], 37):
            assert tuple(int(x) for x in rows[:, j]) == inst.initial_state(lo + j)
    first = list(itertools.islice(inst.iter_initial(), 2000))
    assert first == [inst.initial_state(i) for i in range(2000)]


def test_a_bad_initial_value_is_the_same_error_whenever_asked():
    """Computed through a definition, so that the model builds (tests/differential has the
    same error from every engine)."""
    from lbrspec.pbt.machine import rule_machine

    spec = Spec("bad", sorts=[])
    count = RangeDomain(0, 3)
    inc = spec.define("inc", {"n": count}, lambda n: n + 1)
    m = spec.machine("m")
    m.var("n", count, init=lambda: inc(3))
    inst = Instance(spec.build(Variant("default", "the only design")))
    for ask in (inst.initial_states, inst.initial_count, inst.initial_choices, lambda: inst.is_initial((0,)),
                inst.iter_initial, lambda: rule_machine(inst)):
        with pytest.raises(EvaluationError, match="the initial value of n is 4, outside 0..3"):
            ask()


# -- 16 x 16: answered at once, nothing built ------------------------------------------------------
@pytest.fixture(scope="module")
def inst16():
    return Instance(_model("guest_lbr"), {"vCPU": 16, "pCPU": 16})


def _peak(f):
    tracemalloc.start()
    try:
        t0 = time.perf_counter()
        out = f()
        return out, time.perf_counter() - t0, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_16x16_is_counted_tested_and_decoded_without_enumeration(inst16):
    n, secs, peak = _peak(inst16.initial_count)
    assert n == 2**65 and secs < 1 and peak < 2**20
    last, secs, peak = _peak(lambda: inst16.initial_state(n - 1))
    assert inst16.is_initial(last) and last in inst16.initial_states()
    assert secs < 0.5 and peak < 2**20
    assert not inst16.is_initial(tuple(c + 1 if c + 1 < r else c - 1 for c, r in zip(last, inst16.slot_size)))
    with pytest.raises(OverflowError):  # no int this large is a Python length: use initial_count()
        len(inst16.initial_states())


def _walk(inst: Instance, steps: int, seed: int = 1):
    rng = random.Random(seed)
    s = inst.initial_state(inst.initial_count() - 1)
    states, trace_steps = [s], []
    for _ in range(steps):
        a, p, t = rng.choice(list(successors(inst, s)))
        trace_steps.append((a, p))
        states.append(t)
        s = t
    return trace_from_states(inst, states, trace_steps)


def test_16x16_replays_without_building_the_initial_states(inst16, tmp_path):
    trace = _walk(inst16, 2)
    t0 = time.perf_counter()
    res = replay(inst16, trace)
    assert res.ok and res.steps_replayed == 2
    assert time.perf_counter() - t0 < 10  # about 1 s; before, the set of 2**65 initial states
    first, _, peak = _peak(lambda: replay(inst16, trace_from_states(inst16, [inst16.initial_state(12345)], [])))
    assert first.ok and peak < 16 * 2**20  # the first state's check is slot by slot


def test_16x16_exports_promela_without_building_the_initial_states(inst16):
    from lbrspec.export.promela import to_promela

    t0 = time.perf_counter()
    text = to_promela(inst16)
    assert time.perf_counter() - t0 < 20  # about 1 s
    assert "if :: " in text  # the slots with several initial values are a choice, the others a constant


def test_16x16_rule_machine_draws_an_initial_state_without_building_them(inst16):
    from hypothesis import find

    from lbrspec.pbt.machine import _initial_strategy

    strategy, secs, peak = _peak(lambda: _initial_strategy(inst16))
    assert secs < 1 and peak < 2**20
    start = find(strategy, lambda x: True)
    assert inst16.is_initial(start.state) and start.state == inst16.initial_state(0)
    assert repr(start).startswith("initial state 0 (")


def test_small_chunks_explore_as_one_batch():
    """The vector explorer adds initial states in chunks of its batch size: any chunk size
    gives the same numbering, counts and counterexamples (with and without symmetry)."""
    inst = Instance(_toy(), {"thread": 3})
    for sym in (False, True):
        for kw in ({}, {"stop_at_violation": False, "prune_violations": True}):
            whole = explore_vector(inst, symmetry=sym, check_deadlock=False, **kw)
            assert whole.verdict == "violated"
            for bs in (1, 3, 7):
                part = explore_vector(inst, symmetry=sym, check_deadlock=False, batch_size=bs, **kw)
                assert (part.states, part.transitions, part.depth, part.violated) == \
                       (whole.states, whole.transitions, whole.depth, whole.violated)
                assert [part.state(i) for i in range(part.states)] == [whole.state(i) for i in range(whole.states)]
                assert [(v.prop, v.state_id, len(v.trace)) for v in part.violations] == \
                       [(v.prop, v.state_id, len(v.trace)) for v in whole.violations]
    kw = {"check_deadlock": False, "stop_at_violation": False, "prune_violations": True}
    ref, plain = explore(inst, **kw), explore_vector(inst, **kw)
    assert ref.states == plain.states == 128 and ref.transitions == plain.transitions
    assert [(v.prop, v.state_id) for v in ref.violations] == [(v.prop, v.state_id) for v in plain.violations]
    assert [v.prop for v in ref.violations] == ["not_all_on", "not_all_off"]


def test_too_large_for_the_packing_or_the_symmetry_group_is_an_input_error(inst16):
    with pytest.raises(InstanceTooLarge, match="variable cpu alone needs more than 63 bits"):
        Layout.of(inst16)
    inst = Instance(_model("guest_lbr"), {"vCPU": 12, "pCPU": 12})
    t0 = time.perf_counter()
    with pytest.raises(InputError, match="the symmetry group has 229,442,532,802,560,000 renamings"):
        Symmetry(inst, Layout.of(inst))  # counted, not listed: 12! renamings per sort
    with pytest.raises(ValueError):  # and still a ValueError for the callers that fall back
        explore_vector(inst, symmetry=True)
    assert time.perf_counter() - t0 < 5  # before, 12! renamings per sort were listed first


# -- 8 x 8 through the CLI: a verdict or a one-line refusal, never a traceback ------------------------
@pytest.fixture(scope="module")
def trace8(tmp_path_factory):
    path = tmp_path_factory.mktemp("large") / "walk8.itf.json"
    write_itf(_walk(Instance(_model("guest_lbr"), {"vCPU": 8, "pCPU": 8}), 5), path)
    return path


CLI_8X8 = [
    (["check", "--no-symmetry", "--max-seconds", "2", "--quiet"], 3),
    (["check", "--engine", "python", "--max-seconds", "2", "--max-memory", "2000", "--quiet"], 3),
    (["check", "--quiet"], 2),  # the symmetry group: 8! x 8! renamings
    (["simulate", "--runs", "2", "--steps", "5", "--quiet"], 0),
    (["export", "promela", "-o", "{tmp}/x.pml"], 0),
    (["replay", "{trace}"], 0),
]


@pytest.mark.parametrize("args,code", CLI_8X8, ids=[" ".join(a[:2]) for a, _ in CLI_8X8])
@pytest.mark.long
def test_8x8_commands_end_with_a_verdict(capsys, tmp_path, trace8, args, code):
    args = [a.format(tmp=tmp_path, trace=trace8) for a in args]
    if args[0] != "replay":
        args += ["--vcpus", "8", "--pcpus", "8"]
    t0 = time.perf_counter()
    got = main(args)
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert got == code, (out[-2000:], err[-2000:])
    assert time.perf_counter() - t0 < 30  # 1 to 4 s; before, minutes and gigabytes
    if code == 3:
        assert "UNDETERMINED" in out and "budget" in out
    if code == 2:
        assert err.startswith("lbrspec: error: ") and len(err.splitlines()) == 1
