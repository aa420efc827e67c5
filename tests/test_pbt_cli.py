"""`lbrspec simulate` and `lbrspec replay`: exit codes, trace files, bad input never a traceback."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lbrspec.cli import main
from lbrspec.trace.itf import read_itf


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def _untimed(text: str) -> str:
    """Output without the lines that report wall-clock time."""
    return "\n".join(line for line in text.splitlines() if " s (" not in line and "minimized to" not in line)


@pytest.mark.long
def test_simulate_v8_finds_nothing_exit_0(capsys):
    code, out, err = run(capsys, "simulate", "--runs", "50")
    assert code == 0 and "NOTHING FOUND" in out and "not a proof" in out
    assert err == ""


@pytest.mark.long
def test_simulate_a_4x4_instance_finds_the_v7_write_path_bug(capsys, tmp_path):
    out_file = tmp_path / "sim.itf.json"
    code, out, _ = run(capsys, "simulate", "--variant", "v7-write-path", "--vcpus", 4, "--pcpus", 4,
                       "--trace-out", out_file)
    assert code == 1
    assert "VIOLATED: no_kvm_access_after_reclaim" in out and "Shrunk counterexample" in out
    t = read_itf(out_file)
    assert t.sizes == {"vCPU": 4, "pCPU": 4, "host_user": 1} and t.violation == "no_kvm_access_after_reclaim"
    assert f"Shrunk counterexample, {len(t)} steps" in out


@pytest.mark.long
def test_simulate_is_reproducible_from_the_seed(capsys):
    args = ("simulate", "--variant", "no-bit-62", "--seed", 5)
    first = run(capsys, *args)
    second = run(capsys, *args)
    assert first[0] == second[0] == 1
    assert _untimed(first[1]) == _untimed(second[1])


@pytest.mark.long
def test_simulate_json(capsys):
    code, out, _ = run(capsys, "simulate", "--variant", "owner-after-event-init", "--json")
    data = json.loads(out)
    assert code == 1 and data["verdict"] == "violated" and data["violated"] == "no_counter"
    assert 1 <= data["trace_length"] <= data["found_length"]
    for key in ("seed", "runs", "steps", "seconds", "steps_per_second", "sizes"):
        assert key in data


@pytest.mark.parametrize("source", ["check", "simulate"])
@pytest.mark.long
def test_a_written_trace_replays_with_replay(capsys, tmp_path, source):
    path = tmp_path / f"{source}.itf.json"
    code, _, _ = run(capsys, source, "--variant", "no-vmentry-check", "--trace-out", path,
                     *(["--quiet"] if source == "check" else []))
    assert code == 1
    code, out, err = run(capsys, "replay", path)
    assert code == 1 and err == ""
    assert "variant no-vmentry-check (from the file)" in out
    assert "VIOLATED: the trace replays" in out and "passthrough_implies_ownership" in out
    t = read_itf(path)
    assert f"passthrough_implies_ownership in state {len(t)}" in out


@pytest.mark.long
def test_replay_of_a_trace_that_holds_exit_0(capsys, tmp_path):
    path = tmp_path / "t.itf.json"
    run(capsys, "check", "--variant", "no-bit-62", "--trace-out", path, "--quiet")
    obj = json.loads(path.read_text())
    obj["states"] = obj["states"][:2]  # the first step alone violates nothing
    path.write_text(json.dumps(obj))
    code, out, _ = run(capsys, "replay", path)
    assert code == 0 and "REPLAYS" in out
    assert "the file says it violates isolation" in out


@pytest.mark.long
def test_replay_of_another_variants_trace_names_the_first_bad_step(capsys, tmp_path):
    path = tmp_path / "v7.itf.json"
    run(capsys, "check", "--variant", "v7-write-path", "--trace-out", path, "--quiet")
    t = read_itf(path)
    code, out, err = run(capsys, "replay", path, "--variant", "v8")
    assert code == 1 and err == ""
    assert "variant v8 (from --variant)" in out
    last = t.steps[-1]
    assert f"DIVERGES at step {len(t)} ({last.label()})" in out
    assert "not enabled" in out and "false in the model's state" in out


@pytest.mark.long
def test_replay_names_a_post_state_that_differs(capsys, tmp_path):
    path = tmp_path / "t.itf.json"
    run(capsys, "check", "--variant", "no-bit-62", "--trace-out", path, "--quiet")
    obj = json.loads(path.read_text())
    running = obj["states"][2]["running"]["#map"]
    running[1][1] = not running[1][1]
    path.write_text(json.dumps(obj))
    code, out, _ = run(capsys, "replay", path)
    assert code == 1 and "DIVERGES at step 2" in out and "leads elsewhere" in out
    assert "running[v1]" in out


MALFORMED = {
    "empty": "",
    "truncated": '{"states": [',
    "binary": "\udcff\udcfe",
    "a list": "[1, 2, 3]",
    "no states": '{"vars": ["cap"]}',
    "states are numbers": '{"states": [1, 2]}',
    "another tool": json.dumps({"#meta": {"format": "ITF", "source": "apalache"}, "vars": ["x"],
                                "states": [{"#meta": {"index": 0}, "x": 1}, {"x": 2}]}),
    "another model": json.dumps({"#meta": {"model": "raft"}, "states": [{"x": 1}]}),
    "an unknown variant": json.dumps({"#meta": {"model": "guest_lbr", "variant": "v99"}, "states": [{"x": 1}]}),
    "nested too deeply": "[" * 100_000 + "]" * 100_000,
    "bad sizes": json.dumps({"#meta": {"model": "guest_lbr", "sizes": {"vCPU": 0}}, "states": [{"x": 1}]}),
}


@pytest.mark.parametrize("name", list(MALFORMED))
@pytest.mark.long
def test_replay_of_a_file_that_is_no_trace_is_one_line_exit_2(capsys, tmp_path, name):
    path = tmp_path / "bad.json"
    path.write_bytes(MALFORMED[name].encode("utf-8", "surrogateescape"))
    code, out, err = run(capsys, "replay", path)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("lbrspec: error: ")
    assert str(path) in err


def test_replay_of_a_missing_file_or_a_directory_exit_2(capsys, tmp_path):
    for target in (tmp_path / "nope.json", tmp_path):
        code, _, err = run(capsys, "replay", target)
        assert code == 2 and err.startswith("lbrspec: error: ") and err.count("\n") == 1


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 300) | st.sampled_from(["v0", "p1", "h0", "x", "ACTIVE", "vcpu"]),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.sampled_from(["#map", "#tup", "tag", "value", "a"]), inner, max_size=2),
    max_leaves=6,
)


def _paths(obj, prefix=()):
    yield prefix
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else ()
    for k, v in items:
        yield from _paths(v, prefix + (k,))


@pytest.fixture(scope="module")
def valid_trace(tmp_path_factory):
    path = tmp_path_factory.mktemp("itf") / "t.itf.json"
    assert main(["check", "--variant", "no-bit-62", "--trace-out", str(path), "--quiet"]) == 1
    return json.loads(path.read_text())


@given(data=st.data())
@pytest.mark.long
def test_replay_of_a_damaged_trace_never_tracebacks(valid_trace, tmp_path_factory, data):
    obj = json.loads(json.dumps(valid_trace))
    for _ in range(data.draw(st.integers(1, 3))):
        paths = list(_paths(obj))[1:]
        where = data.draw(st.sampled_from(paths))
        parent = obj
        for k in where[:-1]:
            parent = parent[k]
        if isinstance(parent, dict) and data.draw(st.booleans()):
            del parent[where[-1]]
        else:
            parent[where[-1]] = data.draw(_JSON)
    path = tmp_path_factory.mktemp("fuzz") / "t.itf.json"
    path.write_text(json.dumps(obj))
    code = main(["replay", str(path), "--json"])
    assert code in (0, 1, 2)


@pytest.mark.parametrize(
    "args, message",
    [
        (["simulate", "--variant", "v9"], "unknown variant 'v9'"),
        (["simulate", "--vcpus", "0"], "--vcpus must be at least 1"),
        (["simulate", "--steps", "0"], "--steps must be at least 1"),
        (["simulate", "--runs", "0"], "--runs must be at least 1"),
        (["simulate", "--steps", "100000"], "--steps must be at most"),
        (["simulate", "--seed", "-1"], "--seed must be non-negative"),
        (["simulate", "--trace-out", "/nonexistent-dir/x.json"], "does not exist"),
        (["replay"], "Missing argument"),
        (["replay", "x.json", "--variant", "v9"], "unknown variant 'v9'"),
    ],
)
def test_bad_usage_is_one_line_exit_2(capsys, args, message):
    code, out, err = run(capsys, *args)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and message in err


def test_help_lists_the_new_commands(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0 and "simulate" in out and "replay" in out
    for cmd in ("simulate", "replay"):
        code, out, _ = run(capsys, cmd, "--help")
        assert code == 0 and "Exit status" in out
