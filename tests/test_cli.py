"""The command line: exit codes, one-line errors, JSON output, trace files."""

from __future__ import annotations

import json

import pytest

from lbrspec.cli import main
from lbrspec.trace.itf import read_itf


def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.long
def test_check_of_v8_holds_exit_0(capsys):
    code, out, err = run(capsys, "check", "--quiet")
    assert code == 0
    assert "HOLDS" in out and "canonical states" in out and "symmetry reduction" in out
    assert err == ""


@pytest.mark.long
def test_check_json_has_the_documented_keys(capsys):
    code, out, _ = run(capsys, "check", "--json", "--quiet")
    data = json.loads(out)
    for key in ("verdict", "states", "transitions", "seconds", "violated", "trace_length", "goals_unreached"):
        assert key in data
    assert data["verdict"] == "holds" and data["violated"] is None and data["goals_unreached"] == []
    assert code == 0


@pytest.mark.parametrize(
    "variant, prop",
    [
        ("v7-write-path", "no_kvm_access_after_reclaim"),
        ("no-vmentry-check", "passthrough_implies_ownership"),
        ("v7-scheduler-bypass", "single_owner"),
        ("no-bit-62", "isolation"),
        ("no-lbr-select-restore", "lbr_select_restored"),
        ("owner-after-event-init", "no_counter"),
    ],
)
@pytest.mark.long
def test_each_design_alternative_exits_1_and_names_its_property(capsys, tmp_path, variant, prop):
    out_file = tmp_path / "cex.itf.json"
    code, out, _ = run(capsys, "check", "--variant", variant, "--trace-out", str(out_file), "--quiet")
    assert code == 1
    assert f"VIOLATED: {prop}" in out
    assert "Shortest counterexample" in out and "  1  " in out
    t = read_itf(out_file)
    assert t.violation == prop and t.variant == variant


@pytest.mark.long
def test_check_json_for_a_violation(capsys):
    code, out, _ = run(capsys, "check", "--variant", "no-bit-62", "--json")
    data = json.loads(out)
    assert code == 1 and data["verdict"] == "violated" and data["violated"] == "isolation"
    assert data["trace_length"] == 4


def test_budget_exhausted_is_undetermined_exit_3(capsys):
    code, out, _ = run(capsys, "check", "--max-states", "200", "--json")
    assert code == 3 and json.loads(out)["verdict"] == "undetermined"
    code, out, _ = run(capsys, "check", "--max-states", "200")
    assert code == 3 and "UNDETERMINED" in out


@pytest.mark.parametrize(
    "args, message",
    [
        (["check", "--variant", "v9"], "unknown variant 'v9'"),
        (["check", "--vcpus", "0"], "--vcpus must be at least 1"),
        (["check", "--pcpus", "-3"], "--pcpus must be at least 1"),
        (["check", "--vcpus", "1000"], "cannot be represented"),
        (["check", "--max-states", "0"], "--max-states must be at least 1"),
        (["check", "--max-seconds", "0"], "--max-seconds must be positive"),
        (["check", "--trace-out", "/nonexistent-dir/x.json"], "does not exist"),
        (["check", "--vcpus", "two"], "is not a valid integer"),
        (["check", "--frobnicate"], "No such option"),
        (["nosuchcommand"], "No such command"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(capsys, args, message):
    code, out, err = run(capsys, *args)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("lbrspec: error: ")
    assert message in err
    assert "Traceback" not in err


@pytest.mark.long
def test_unwritable_trace_out_fails_before_the_run(capsys, tmp_path):
    d = tmp_path / "ro"
    d.mkdir()
    d.chmod(0o500)
    code, out, err = run(capsys, "check", "--variant", "no-bit-62", "--trace-out", str(d / "x.json"))
    d.chmod(0o700)
    import os

    if os.geteuid() == 0:  # root may write anywhere; the directory case still fails
        code, out, err = run(capsys, "check", "--trace-out", str(tmp_path))
        assert code == 2 and "is a directory" in err
    else:
        assert code == 2 and "not writable" in err


def test_list_json_has_variants_invariants_goals(capsys):
    code, out, _ = run(capsys, "list", "--json")
    data = json.loads(out)
    assert code == 0
    for key in ("variants", "invariants", "goals"):
        assert data[key] and all(set(x) >= {"name", "description"} for x in data[key])
    assert {v["name"] for v in data["variants"]} >= {"v8", "v7-write-path", "no-bit-62"}


@pytest.mark.long
def test_list_text(capsys):
    code, out, _ = run(capsys, "list")
    assert code == 0 and "no_kvm_access_after_reclaim" in out and "v7-scheduler-bypass" in out


def test_help_and_version(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0 and "check" in out and "list" in out
    code, out, _ = run(capsys, "check", "--help")
    assert code == 0 and "--trace-out" in out and "Exit status" in out
    code, out, _ = run(capsys, "--version")
    assert code == 0 and "0.1.0" in out


@pytest.mark.long
def test_engines_and_symmetry_options_agree_on_the_verdict(capsys):
    results = {}
    for args in (["--no-symmetry"], ["--engine", "python"], []):
        code, out, _ = run(capsys, "check", "--json", "--quiet", *args)
        d = json.loads(out)
        results[tuple(args)] = (code, d["verdict"], d["states"], d["symmetry"], d["engine"])
    assert results[("--no-symmetry",)][:3] == results[("--engine", "python")][:3]
    assert results[()][0] == 0 and results[()][3] is True and results[()][2] < results[("--no-symmetry",)][2]
    code, _, err = run(capsys, "check", "--engine", "python", "--symmetry")
    assert code == 2 and "needs the vector engine" in err


def test_memory_ceiling_is_undetermined(capsys):
    code, out, _ = run(capsys, "check", "--max-memory", "1", "--json")
    assert code == 3 and "memory ceiling" in json.loads(out)["stop_reason"]


@pytest.mark.long
def test_ctrl_c_prints_the_partial_figures_and_exits_3(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    proc = subprocess.Popen(
        [sys.executable, "-c", "from lbrspec.cli import main; main()", "check", "--vcpus", "3", "--pcpus", "3",
         "--no-symmetry", "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    time.sleep(4)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 3, (out, err)
    assert "stopped early: interrupted" in out and "UNDETERMINED" in out
    assert "Traceback" not in err


def test_export_promela(capsys, tmp_path):
    code, out, _ = run(capsys, "export", "promela", "--vcpus", "1", "--pcpus", "1")
    assert code == 0 and "active proctype lbrspec()" in out and "d_step" in out
    f = tmp_path / "m.pml"
    code, out, _ = run(capsys, "export", "promela", "--variant", "no-bit-62", "--invariant", "isolation", "-o", str(f))
    assert code == 0 and out == "" and "inv_isolation" in f.read_text() and "inv_single_owner" not in f.read_text()
    code, _, err = run(capsys, "export", "promela", "--invariant", "bogus")
    assert code == 2 and "unknown invariant 'bogus'" in err
