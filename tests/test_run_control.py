"""One run control for every command (lbrspec.runctl): budgets bound every phase from the
start, SIGINT and SIGTERM end any phase with the figures so far (exit 3, or 1 when a violation
was already found), progress is shown for long steps, and -o/--output is the same everywhere.

The signal tests send real signals: to a subprocess after it has started, or, in-process, to
this process from inside a phase (deterministic: the phase is replaced by one that signals and
then waits to be stopped)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from lbrspec import runctl
from lbrspec.cli import cli, main


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def stopped_line(err: str) -> str:
    lines = [x for x in err.splitlines() if not x.startswith("progress:")]
    assert len(lines) == 1 and lines[0].startswith("lbrspec: stopped: "), err[-2000:]
    assert "Traceback" not in err
    return lines[0]


def wait_to_be_stopped(seconds: float = 30.0) -> None:
    """A phase that never polls: it must be interrupted (KeyboardInterrupt) by the watchdog."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        time.sleep(0.01)
    raise AssertionError("the phase was not interrupted")


# -- budgets bound every phase --------------------------------------------------------------
@pytest.mark.long
def test_max_seconds_bounds_the_graph_phase_of_analysis(capsys, monkeypatch):
    """--analysis used to ignore --max-seconds (3 s asked, 23 s run): a graph phase that never
    polls is interrupted, the report says the analysis was not done, the safety verdict stands."""
    import lbrspec.analysis.report as report

    monkeypatch.setattr(report, "summarise", lambda graph: wait_to_be_stopped())
    t0 = time.perf_counter()
    code, out, err = run(capsys, "check", "--vcpus", "1", "--pcpus", "1", "--analysis", "--max-seconds", "2",
                         "--quiet")
    took = time.perf_counter() - t0
    assert took < 2 + runctl.GRACE + 2, took
    assert "HOLDS" not in out.split("graph analysis")[-1]
    assert "graph analysis and liveness: not done" in out and "time budget of 2 s exhausted" in out
    # the safety part was complete: its verdict (a goal unreached at 1x1) is kept, exit 1
    assert "VIOLATED: goal(s) never reached" in out and code == 1, (code, out[-500:])


def test_max_memory_bounds_liveness(capsys):
    code, out, err = run(capsys, "check", "--liveness", "--max-memory", "150", "--quiet")
    assert code == 3 and "memory ceiling of 150 MiB reached" in out
    assert "LIVENESS HOLDS" not in out


@pytest.mark.parametrize("argv, phase", [
    (["diagram", "project", "ev[v0]"], "exploring every reachable state"),
    (["diagram", "machine", "kvm"], "exploring every reachable state"),
])
@pytest.mark.long
def test_max_seconds_bounds_diagram_commands(capsys, argv, phase):
    t0 = time.perf_counter()
    code, out, err = run(capsys, *argv, "--max-seconds", "1")
    assert time.perf_counter() - t0 < 1 + runctl.GRACE + 3
    line = stopped_line(err)
    assert code == 3 and "time budget of 1 s exhausted" in line and phase in line, line


@pytest.mark.long
def test_simulate_budget_is_undetermined_with_figures(capsys):
    code, out, err = run(capsys, "simulate", "--runs", "1000000", "--max-seconds", "1.5", "--quiet")
    assert code == 3
    assert "UNDETERMINED: stopped after" in out and "time budget of 1.5 s exhausted" in out
    assert "NOTHING FOUND" not in out


@pytest.mark.long
def test_prove_takes_max_seconds_and_its_timeout_alias(capsys):
    for flag in ("--max-seconds", "--timeout"):
        code, out, err = run(capsys, "prove", flag, "3", "--model", "upstream_lbr", "--all-sizes")
        # undetermined either while solving (the table) or, on a loaded machine, while loading
        assert code == 3 and "PROVEN" not in out, (flag, out[-400:])
        assert "UNDETERMINED" in out or "time budget of 3 s exhausted" in stopped_line(err)


@pytest.mark.long
def test_budget_counts_from_the_start_of_the_command(capsys, monkeypatch):
    """The time spent loading the model counts: a model that takes longer than the budget to
    load is stopped while loading."""
    import lbrspec.cli.check as check

    real = check.load_model

    def slow(ref):
        wait_to_be_stopped()
        return real(ref)

    monkeypatch.setattr(check, "load_model", slow)
    code, out, err = run(capsys, "check", "--max-seconds", "0.5")
    line = stopped_line(err)
    assert code == 3 and "while loading the model" in line and out == ""


# -- signals --------------------------------------------------------------------------------
@pytest.mark.long
def test_sigterm_in_process_ends_a_phase_that_never_polls(capsys, monkeypatch):
    import lbrspec.analysis.report as report

    def signal_then_wait(graph):
        os.kill(os.getpid(), signal.SIGTERM)
        wait_to_be_stopped()

    monkeypatch.setattr(report, "summarise", signal_then_wait)
    code, out, err = run(capsys, "check", "--vcpus", "1", "--pcpus", "1", "--analysis", "--quiet")
    assert "graph analysis and liveness: not done" in out and "interrupted by SIGTERM" in out
    # SIGINT during the graph phase used to lose the safety verdict already computed
    assert "VIOLATED: goal(s) never reached" in out and code == 1


@pytest.mark.long
def test_sigint_in_process_during_z3(capsys, monkeypatch):
    """Z3 does not take SIGINT for itself: the watchdog sees it and interrupts the solver."""
    import lbrspec.smt.solving as solving

    real = solving.check
    sent = []

    def check_after_signal(solver, budget, *a, **k):
        if not sent:
            sent.append(1)
            os.kill(os.getpid(), signal.SIGINT)
        return real(solver, budget, *a, **k)

    monkeypatch.setattr(solving, "check", check_after_signal)
    import lbrspec.smt.bmc as bmc
    import lbrspec.smt.induction as induction

    monkeypatch.setattr(bmc, "check", check_after_signal)
    monkeypatch.setattr(induction, "check", check_after_signal)
    code, out, err = run(capsys, "bmc", "--depth", "40")
    assert code == 3 and "interrupted by SIGINT" in out and "Traceback" not in err, (out[-500:], err)


def _spawn(*args):
    return subprocess.Popen([sys.executable, "-m", "lbrspec", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _signal_after(proc, sig, seconds):
    time.sleep(seconds)
    proc.send_signal(sig)
    t0 = time.perf_counter()
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out, err, time.perf_counter() - t0


@pytest.mark.long
def test_sigterm_ends_check_with_its_figures():
    """SIGTERM used to end every command silently (exit 143, no figures)."""
    code, out, err, after = _signal_after(_spawn("check", "--vcpus", "3", "--pcpus", "3", "--no-symmetry", "--quiet"),
                                          signal.SIGTERM, 5)
    assert code == 3, (out[-500:], err)
    assert "stopped early: interrupted by SIGTERM" in out and "UNDETERMINED" in out and "states" in out
    assert "Traceback" not in err and after < 10


@pytest.mark.long
def test_sigint_after_a_violation_exits_1_with_the_counterexample():
    code, out, err, _ = _signal_after(_spawn("check", "--vcpus", "3", "--pcpus", "2", "--variant", "v8-posted",
                                             "--quiet"), signal.SIGINT, 5)
    assert code == 1, (out[-500:], err)
    assert "VIOLATED:" in out and "interrupted by SIGINT" in out and "Traceback" not in err


@pytest.mark.long
def test_simulate_does_not_swallow_sigint():
    code, out, err, after = _signal_after(_spawn("simulate", "--runs", "1000000", "--quiet"), signal.SIGINT, 4)
    assert code == 3 and "UNDETERMINED: stopped after" in out and "interrupted by SIGINT" in out, (out, err)
    assert after < 5


@pytest.mark.long
def test_a_signal_while_starting_is_one_line_and_exit_3(tmp_path):
    """The console script takes SIGINT and SIGTERM before the CLI's slow imports: a signal
    sent while they run (here: from an import hook, so the timing is exact) ends the command
    with one line, never a traceback."""
    driver = tmp_path / "driver.py"
    driver.write_text(
        "import importlib.abc, os, signal, sys\n"
        "class Hook(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path, target=None):\n"
        "        if name == 'lbrspec.cli':\n"
        "            sys.meta_path.remove(self)\n"
        f"            os.kill(os.getpid(), signal.{{sig}})\n"
        "        return None\n"
        "sys.meta_path.insert(0, Hook())\n"
        "sys.argv = ['lbrspec', 'check']\n"
        "from lbrspec.entry import main\n"
        "main()\n"
    )
    for sig in ("SIGINT", "SIGTERM"):
        (tmp_path / f"{sig}.py").write_text(driver.read_text().replace("{sig}", sig))
        p = subprocess.run([sys.executable, str(tmp_path / f"{sig}.py")], capture_output=True, text=True, timeout=60)
        assert p.returncode == 3, (sig, p.stderr[-1000:])
        assert p.stderr == f"lbrspec: stopped: interrupted by {sig} while starting; no verdict (undetermined)\n"
        assert p.stdout == ""


# -- the same options everywhere ------------------------------------------------------------
def _leaf_commands():
    import click

    out = []
    for name, cmd in sorted(cli.commands.items()):
        if isinstance(cmd, click.Group):
            out += [((name, sub), c) for sub, c in sorted(cmd.commands.items())]
        else:
            out.append(((name,), cmd))
    return out


@pytest.mark.parametrize("path, cmd", _leaf_commands(), ids=lambda x: " ".join(x) if isinstance(x, tuple) else "")
def test_every_command_has_budgets_quiet_and_output(path, cmd):
    opts = {o for p in cmd.params for o in getattr(p, "opts", [])}
    assert {"--max-seconds", "--max-memory", "--quiet"} <= opts, (path, sorted(opts))
    assert "--output" in opts and "-o" in opts, (path, sorted(opts))


@pytest.mark.parametrize("argv, expect", [
    (["list"], "guest_lbr"),
    (["check", "--vcpus", "1", "--pcpus", "1", "--variant", "no-bit-62", "--first-only"], "VIOLATED"),
    (["replay", "{trace}"], "the trace replays"),
    (["simulate", "--runs", "5", "--json"], '"verdict"'),
    (["bmc", "--depth", "2", "--vcpus", "1", "--pcpus", "1"], "NO VIOLATION"),
])
@pytest.mark.long
def test_output_writes_what_would_be_printed(capsys, tmp_path, argv, expect):
    trace = tmp_path / "t.itf.json"
    assert main(["check", "--variant", "no-bit-62", "--vcpus", "1", "--pcpus", "1", "--first-only", "--quiet",
                 "--trace-out", str(trace)]) == 1
    capsys.readouterr()
    argv = [a.replace("{trace}", str(trace)) for a in argv]
    code_stdout, printed, _ = run(capsys, *argv)
    target = tmp_path / "out.txt"
    code, out, _ = run(capsys, *argv, "-o", target)
    assert code == code_stdout and out == "" and expect in target.read_text()
    if "simulate" not in argv:  # timings differ between runs
        strip = lambda t: [x for x in t.splitlines() if " s" not in x]
        assert strip(target.read_text()) == strip(printed)


def test_output_to_a_missing_directory_is_refused_before_the_run(capsys, tmp_path):
    code, out, err = run(capsys, "check", "-o", tmp_path / "nope" / "x.txt")
    assert code == 2 and "directory" in err and out == ""


# -- progress ---------------------------------------------------------------------------------
@pytest.mark.long
def test_a_long_phase_is_shown_in_logs(capsys, monkeypatch):
    """Without a terminal, a phase prints one line per LOG_EVERY seconds, then nothing more
    once it ends; --quiet prints nothing."""
    import lbrspec.cli.check as check

    monkeypatch.setattr(runctl, "LOG_EVERY", 0.3)
    monkeypatch.setattr(runctl, "DELAY", 0.2)
    real = check.load_model

    def slow(ref):
        time.sleep(1.0)
        return real(ref)

    monkeypatch.setattr(check, "load_model", slow)
    code, out, err = run(capsys, "check", "--vcpus", "1", "--pcpus", "1", "--variant", "no-bit-62", "--first-only")
    assert code == 1 and "progress: loading the model" in err, err
    code, out, err = run(capsys, "check", "--vcpus", "1", "--pcpus", "1", "--variant", "no-bit-62", "--first-only",
                         "--quiet")
    assert code == 1 and err == ""


# -- the console script, in-process -------------------------------------------------------------
def test_the_console_script_runs_the_cli(monkeypatch, capsys):
    from lbrspec import entry

    monkeypatch.setattr(sys, "argv", ["lbrspec", "list", "--json"])
    with pytest.raises(SystemExit) as e:
        entry.main()
    assert e.value.code == 0 and '"guest_lbr"' in capsys.readouterr().out
    # its handlers are gone once the CLI runs: the CLI installs its own per command
    assert signal.getsignal(signal.SIGTERM) is not entry._note


def test_a_signal_noted_while_starting_ends_the_command(monkeypatch, capsys):
    from lbrspec import entry

    monkeypatch.setattr(sys, "argv", ["lbrspec", "check"])
    monkeypatch.setattr(entry, "_early", [signal.SIGTERM])
    with pytest.raises(SystemExit) as e:
        entry.main()
    out, err = capsys.readouterr()
    assert e.value.code == 3 and out == ""
    assert err == "lbrspec: stopped: interrupted by SIGTERM while starting; no verdict (undetermined)\n"


# -- the Hypothesis engine's report script ----------------------------------------------------------
def test_the_pbt_report_prints_speed_and_conformance(capsys):
    from lbrspec.pbt import report

    report.speed(1, 1, 1, 5)
    report.conformance(3)
    out = capsys.readouterr().out
    assert "v8 rule machine, 1 vCPU, 1 pCPU" in out and "steps/s" in out
    assert "conformance, faithful: conforms" in out
    # every deliberately broken copy is named, caught or not in so few walks
    from lbrspec.pbt.examples.kvm_lbr_broken import BROKEN

    assert all(f"conformance, {name}:" in out for name in BROKEN)
