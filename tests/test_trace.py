"""The Trace type: text rendering, ITF JSON round trip, malformed files."""

from __future__ import annotations

import json

import pytest

from conftest import explored, model
from lbrspec.errors import InputError
from lbrspec.explicit.instance import Instance
from lbrspec.explicit.replay import replay
from lbrspec.lang.domains import UnionValue
from lbrspec.trace import Step, Trace
from lbrspec.trace.itf import from_itf, read_itf, to_itf, write_itf
from lbrspec.trace.text import render


def test_itf_round_trip_preserves_the_trace(tmp_path):
    t = explored("no-lbr-select-restore").violation.trace
    path = tmp_path / "t.itf.json"
    write_itf(t, path)
    back = read_itf(path)
    assert back.states == t.states and back.steps == t.steps
    assert (back.model, back.variant, back.sizes, back.violation) == (t.model, t.variant, t.sizes, t.violation)
    assert replay(Instance(model("no-lbr-select-restore")), back).ok


def test_itf_layout_follows_adr_015():
    t = explored("no-bit-62").violation.trace
    obj = to_itf(t)
    assert obj["#meta"]["format"] == "ITF" and obj["#meta"]["source"] == "lbrspec"
    assert obj["vars"][0] == "cap"
    s0 = obj["states"][0]
    assert s0["#meta"] == {"index": 0}
    assert s0["running"] == {"#map": [["v0", False], ["v1", False]]}
    assert s0["rec"]["#map"][0] == ["p0", {"tag": "none", "value": {"#tup": []}}]
    s1 = obj["states"][1]
    assert s1["#meta"]["action"] == t.steps[0].action and "params" in s1["#meta"]
    json.dumps(obj)  # plain JSON


def test_text_shows_only_what_changed_per_step():
    t = explored("v7-write-path").violation.trace
    text = render(t, model("v7-write-path"))
    step_lines = text.split("  1  ", 1)[1]
    assert "cap:" not in step_lines  # the full state is printed once, at the start
    assert "ev[v0]: ABSENT -> ACTIVE" in text
    assert "violated in the last state: no_kvm_access_after_reclaim" in text
    assert text.count("\n  ") > len(t)


def test_changes_are_computed_per_step():
    t = Trace("m", "v", {"vCPU": 1}, [{"a": False, "b": 1}, {"a": True, "b": 1}], [Step("go", {})])
    assert t.changes(0) == {"a": (False, True)}
    with pytest.raises(ValueError):
        Trace("m", "v", {}, [{"a": 1}], [Step("go", {})])


@pytest.mark.parametrize(
    "content, message",
    [
        ("not json", "not JSON"),
        ("[1, 2]", "top level is not a JSON object"),
        ('{"states": []}', "no non-empty 'states' list"),
        ('{"states": [{"x": {"#map": 3}}]}', "#map is not a list"),
        ('{"states": [{"x": {"#set": []}}]}', "unsupported value"),
        ('{"states": [{"x": true}, {"#meta": {"action": 5}, "x": true}]}', "'#meta.action' is not a string"),
        ('{"states": [{"x": true}], "loop": 7}', "'loop' is not a state index"),
    ],
)
def test_malformed_itf_files_are_input_errors(tmp_path, content, message):
    p = tmp_path / "bad.json"
    p.write_text(content)
    with pytest.raises(InputError, match=message):
        read_itf(p)


def test_unreadable_and_unwritable_paths_are_input_errors(tmp_path):
    with pytest.raises(InputError, match="cannot read trace file"):
        read_itf(tmp_path / "missing.json")
    t = explored("no-bit-62").violation.trace
    with pytest.raises(InputError, match="cannot write trace file"):
        write_itf(t, tmp_path / "no" / "such" / "dir.json")


def test_union_values_decode_from_itf_variants():
    obj = {"states": [{"t": {"tag": "vcpu", "value": "v1"}, "u": {"tag": "none", "value": {"#tup": []}}}]}
    tr = from_itf(obj)
    assert tr.states[0] == {"t": UnionValue("vcpu", "v1"), "u": UnionValue("none")}


def test_replay_reports_the_first_divergent_step():
    t = explored("no-vmentry-check").violation.trace
    states = [dict(s) for s in t.states]
    states[3]["pc[v0]"] = "ACCESS"
    bad = Trace(t.model, t.variant, t.sizes, states, list(t.steps))
    res = replay(Instance(model("no-vmentry-check")), bad)
    assert not res.ok and res.diverged_at == 3
    assert "pc[v0]" in res.reason


def test_replay_without_action_names_matches_any_action():
    t = explored("no-bit-62").violation.trace
    anon = Trace(t.model, t.variant, t.sizes, t.states, [Step("", {}) for _ in t.steps])
    assert replay(Instance(model("no-bit-62")), anon).ok
