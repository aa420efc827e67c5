"""Nothing a user types or sends crashes lbrspec: every bad input is one line on stderr and
exit 2, never a traceback.  Small instances only: the whole file runs in a few seconds."""

from __future__ import annotations

import json

import pytest

from lbrspec.cli import main
from lbrspec.trace import itf


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def one_error_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("lbrspec: error: "), err[:2000]
    assert "Traceback" not in err
    return lines[0]


@pytest.fixture(scope="module")
def small_trace(tmp_path_factory):
    """A 4-step counterexample of no-bit-62 on 1 vCPU and 1 pCPU, as `check --trace-out` writes it."""
    path = tmp_path_factory.mktemp("traces") / "cex.itf.json"
    assert main(["check", "--variant", "no-bit-62", "--vcpus", "1", "--pcpus", "1", "--first-only", "--quiet",
                 "--trace-out", str(path)]) == 1
    return path


def edited(small_trace, tmp_path, name, edit=None, text=None):
    """A copy of the small trace, its JSON changed by ``edit`` (or replaced by ``text``)."""
    obj = json.loads(small_trace.read_text())
    if edit is not None:
        edit(obj)
    p = tmp_path / name
    p.write_text(text(json.dumps(obj)) if text is not None else json.dumps(obj))
    return p


READERS = [("replay",), ("diagram", "trace")]


# -- 1. the one reader of trace files: size, nesting and number limits -----------------------------
@pytest.mark.parametrize("cmd", READERS)
def test_a_deeply_nested_file_is_refused_before_parsing(capsys, tmp_path, cmd):
    p = tmp_path / "deep.json"
    p.write_text("[" * 100_000 + "]" * 100_000)
    code, _, err = run(capsys, *cmd, p)
    assert code == 2 and "nested 100,000 levels deep" in one_error_line(err)


@pytest.mark.parametrize("cmd", READERS)
@pytest.mark.long
def test_nesting_just_below_the_recursion_limit_is_refused_too(capsys, small_trace, tmp_path, cmd):
    def deep(obj):
        obj["#meta"]["description"] = "@@"
    p = edited(small_trace, tmp_path, "deep.json", deep, lambda s: s.replace('"@@"', "[" * 950 + "]" * 950))
    code, _, err = run(capsys, *cmd, p)
    assert code == 2 and f"at most {itf.MAX_JSON_DEPTH}" in one_error_line(err)


def test_brackets_inside_strings_do_not_count_as_nesting():
    assert itf.nesting_depth('["[[[", "\\"[[", {"a": ["]]]"]}]') == 3
    assert itf.nesting_depth('"' + '\\"' * 1000) == 0  # an unterminated string: still linear
    assert itf.nesting_depth("[" * 70) == 70


@pytest.mark.parametrize("cmd", READERS)
@pytest.mark.parametrize("where", ["meta", "state", "bigint"])
def test_an_integer_of_thousands_of_digits_is_refused(capsys, small_trace, tmp_path, cmd, where):
    def put(obj):
        if where == "meta":
            obj["#meta"]["index_hint"] = "@@"
        elif where == "state":
            obj["states"][0]["x"] = "@@"
        else:
            obj["states"][0]["x"] = {"#bigint": "9" * 5000}
    p = edited(small_trace, tmp_path, "big.json", put, lambda s: s.replace('"@@"', "9" * 5000))
    code, _, err = run(capsys, *cmd, p)
    line = one_error_line(err)
    assert code == 2 and "5,000 digits" in line and "1,000" in line


@pytest.mark.parametrize("cmd", READERS)
def test_an_element_name_of_thousands_of_digits_is_refused(capsys, small_trace, tmp_path, cmd):
    def put(obj):
        del obj["#meta"]["sizes"]
        obj["states"][0]["running"]["#map"][0][0] = "v" + "9" * 5000
        obj["states"][1]["#meta"]["params"]["v"] = "v²"
    code, _, err = run(capsys, *cmd, edited(small_trace, tmp_path, "elem.json", put))
    assert code == 2 and "not a trace of model guest_lbr" in one_error_line(err)


@pytest.mark.parametrize("cmd", READERS)
def test_a_file_larger_than_the_limit_is_refused_without_reading_it(capsys, tmp_path, cmd):
    p = tmp_path / "huge.json"
    with p.open("wb") as fh:  # sparse: no disk space used
        fh.truncate(itf.MAX_TRACE_BYTES + 1)
    code, _, err = run(capsys, *cmd, p)
    assert code == 2 and "larger than a trace file may be (64 MiB)" in one_error_line(err)


def test_a_stream_is_read_only_up_to_the_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(itf, "MAX_TRACE_BYTES", 1000)
    with pytest.raises(itf.InputError, match="larger than a trace file may be"):
        itf.read_itf("/dev/zero")


@pytest.mark.parametrize("cmd", READERS)
def test_sizes_that_are_not_integers_are_refused(capsys, small_trace, tmp_path, cmd):
    def put(obj):
        obj["#meta"]["sizes"]["vCPU"] = True
    code, _, err = run(capsys, *cmd, edited(small_trace, tmp_path, "bool.json", put))
    assert code == 2 and "not an integer" in one_error_line(err)


def test_a_file_that_is_not_utf8_is_refused(capsys, tmp_path):
    p = tmp_path / "latin1.json"
    p.write_bytes(b'{"states": [{"x": "\xe9"}]}')
    code, _, err = run(capsys, "replay", p)
    assert code == 2 and "not UTF-8" in one_error_line(err)


# -- 2. projection terms: a depth limit in the term parser ---------------------------------------
@pytest.mark.parametrize("term", ["ev[" * 600 + "v0" + "]" * 600, "owns(" * 600 + "v0" + ", p0)" * 600])
def test_a_projection_term_nested_hundreds_deep_is_one_line(capsys, term):
    code, _, err = run(capsys, "diagram", "project", term, "--vcpus", "1", "--pcpus", "1")
    line = one_error_line(err)
    assert code == 2 and "nested more than 32 levels deep" in line and len(line) < 200


def test_the_term_depth_limit_is_checked_while_parsing():
    from lbrspec.diagrams.projection import MAX_TERM_DEPTH, parse_term
    from lbrspec.errors import InputError
    from lbrspec.explicit.instance import Instance

    from conftest import model

    inst = Instance(model("v8"), {"vCPU": 1, "pCPU": 1, "host_user": 1})
    assert parse_term(inst, "sel[cpu[v0]]").text == "sel[cpu[v0]]"
    at_limit = "ev[" * MAX_TERM_DEPTH + "v0" + "]" * MAX_TERM_DEPTH
    with pytest.raises(InputError, match="must be of sort"):  # parsed, then refused by its type
        parse_term(inst, at_limit)
    with pytest.raises(InputError, match="levels deep"):
        parse_term(inst, "ev[" + at_limit + "]")


# -- 3. replay accepts the lassos that check --liveness writes ------------------------------------
@pytest.fixture(scope="module")
def lasso(tmp_path_factory):
    path = tmp_path_factory.mktemp("lasso") / "lasso.itf.json"
    assert main(["check", "--liveness", "--variant", "never-free", "--size", "vCPU=1", "--quiet",
                 "--trace-out", str(path)]) == 1
    return path


@pytest.mark.long
def test_replay_accepts_a_lasso_and_reports_its_loop(capsys, lasso):
    loop = json.loads(lasso.read_text())["loop"]
    code, out, err = run(capsys, "replay", lasso)
    assert code == 0 and err == ""
    assert f"a lasso looping back to state {loop}" in out
    assert f"the last state is state {loop} again: a lasso, steps {loop + 1} to" in out
    assert "replay checks that the lasso is a behaviour of the model, not the liveness property" in out
    code, out, _ = run(capsys, "replay", "--json", lasso)
    data = json.loads(out)
    assert code == 0 and data["loop"] == loop and data["loop_closes"] is True and data["replays"] is True


def test_a_lasso_whose_loop_does_not_close_diverges(capsys, lasso, tmp_path):
    obj = json.loads(lasso.read_text())
    obj["loop"] -= 1
    p = tmp_path / "open.json"
    p.write_text(json.dumps(obj))
    code, out, _ = run(capsys, "replay", p)
    assert code == 1 and f"DIVERGES at the loop: the trace says its last state is state {obj['loop']} again" in out
    code, out, _ = run(capsys, "replay", "--json", p)
    assert code == 1 and json.loads(out)["loop_closes"] is False


def test_diagram_trace_draws_a_lasso_file(capsys, lasso):
    code, out, _ = run(capsys, "diagram", "trace", lasso)
    assert code == 0 and "repeat forever" in out


# -- 4. diagram trace: the file's model is checked, its sizes never silently override a flag -------
@pytest.fixture(scope="module")
def peterson_trace(tmp_path_factory):
    path = tmp_path_factory.mktemp("peterson") / "pet.itf.json"
    assert main(["check", "--model", "peterson", "--variant", "turn-to-self", "--no-symmetry", "--quiet",
                 "--trace-out", str(path)]) == 1
    return path


@pytest.mark.parametrize("cmd", READERS)
def test_a_trace_of_another_model_is_refused(capsys, peterson_trace, cmd):
    code, _, err = run(capsys, *cmd, peterson_trace)
    line = one_error_line(err)
    assert code == 2 and "a trace of model 'peterson', not of the model selected (guest_lbr)" in line
    code, out, _ = run(capsys, *cmd, peterson_trace, "--model", "peterson")
    assert code in (0, 1) and out


@pytest.mark.parametrize("cmd", READERS)
@pytest.mark.parametrize("flag", [("--vcpus", "2"), ("--size", "vCPU=3"), ("--size", "pCPU=2")])
def test_a_size_flag_that_contradicts_the_file_is_refused(capsys, small_trace, cmd, flag):
    code, _, err = run(capsys, *cmd, small_trace, *flag)
    assert code == 2 and "the trace records" in one_error_line(err) and flag[0] in err


@pytest.mark.parametrize("cmd", READERS)
def test_a_size_flag_that_agrees_with_the_file_is_accepted(capsys, small_trace, cmd):
    code, out, _ = run(capsys, *cmd, small_trace, "--vcpus", "1", "--size", "host_user=1")
    assert code in (0, 1) and "isolation" in out


# -- 5. file text is printed escaped; an error line is capped -------------------------------------
ESC = "\x1b]0;pwned\x07\x1b[31m\u202e\n"


def test_printable_escapes_control_and_format_characters():
    from lbrspec.printable import error_line, printable

    assert printable("v8 → ok") == "v8 → ok"
    assert printable(ESC) == "\\x1b]0;pwned\\x07\\x1b[31m\\u202e\\n"
    assert printable("a\nb\x1b", newlines=True) == "a\nb\\x1b"
    long = error_line("x" * 100_000)
    assert long.startswith("x" * 500 + "...") and long.endswith("(100,000 characters in all)") and len(long) < 600


@pytest.mark.parametrize("cmd", READERS)
def test_text_from_a_trace_file_is_printed_escaped(capsys, small_trace, tmp_path, cmd):
    def put(obj):
        obj["#meta"]["variant"] = "no-bit-62" + ESC
        obj["#meta"]["violated"] = "isolation" + ESC
        obj["#meta"]["description"] = ESC
    p = edited(small_trace, tmp_path, "esc.json", put)
    code, out, err = run(capsys, *cmd, p, "--variant", "no-bit-62")
    assert code in (0, 1)
    assert "\x1b" not in out + err and "\x07" not in out + err and "\u202e" not in out + err
    assert "\\x1b" in out and "\\u202e" in out


@pytest.mark.parametrize("cmd", READERS)
def test_an_action_name_from_a_file_is_printed_escaped(capsys, small_trace, tmp_path, cmd):
    def put(obj):
        obj["states"][1]["#meta"]["action"] = "host" + ESC
    code, out, err = run(capsys, *cmd, edited(small_trace, tmp_path, "act.json", put))
    assert code in (1, 2) and "\x1b" not in out + err and "host\\x1b]0" in out + err


def test_an_error_line_is_capped(capsys, small_trace, tmp_path):
    def put(obj):
        obj["states"][0]["x" * 100_000 + ESC] = 1
    code, _, err = run(capsys, "replay", edited(small_trace, tmp_path, "long.json", put))
    line = one_error_line(err)
    assert code == 2 and len(line) < 600 and "characters in all)" in line and "\x1b" not in line
    code, _, err = run(capsys, "check", "--" + "y" * 100_000)
    line = one_error_line(err)
    assert code == 2 and len(line) < 600 and "No such option" in line


# -- 6. an empty variant name is an input error for every command that takes --variant ------------
@pytest.mark.parametrize("cmd", [
    ("check",), ("simulate",), ("bmc",), ("prove",), ("export", "promela"), ("diagram", "machine", "kvm"),
    ("diagram", "project", "ev[v0]"), ("diagram", "trace"), ("replay", "FILE"), ("diagram", "trace", "FILE"),
])
@pytest.mark.parametrize("name", ["", "  "])
def test_an_empty_variant_name_is_refused(capsys, small_trace, cmd, name):
    args = [small_trace if a == "FILE" else a for a in cmd]
    code, out, err = run(capsys, *args, "--variant", name)
    assert code == 2 and out == ""
    assert "--variant: an empty variant name" in one_error_line(err)


# -- 7. a trace file that cannot be written after a violation keeps the verdict --------------------
@pytest.fixture
def full_disk(monkeypatch):
    """Every Path.write_text fails as on a full disk (write_itf writes with it)."""
    import errno
    import pathlib

    def write_text(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pathlib.Path, "write_text", write_text)


def test_check_prints_the_verdict_and_counterexample_when_the_trace_cannot_be_written(capsys, tmp_path, full_disk):
    out_file = tmp_path / "cex.itf.json"
    code, out, err = run(capsys, "check", "--variant", "v7-write-path", "--vcpus", "1", "--pcpus", "1", "--quiet",
                         "--trace-out", out_file)
    assert code == 1
    assert "VIOLATED: no_kvm_access_after_reclaim" in out and "Shortest counterexample" in out
    assert "trace written to" not in out and not out_file.exists()
    line = one_error_line(err)
    assert f"cannot write trace file {out_file}: No space left on device" in line and "the result above stands" in line


def test_check_json_keeps_the_verdict_when_the_directory_is_removed_during_the_run(capsys, tmp_path, monkeypatch):
    import lbrspec.cli.check as check_module

    d = tmp_path / "out"
    d.mkdir()
    explore_vector = check_module.explore_vector

    def explore_then_remove_the_directory(*args, **kwargs):
        r = explore_vector(*args, **kwargs)
        d.rmdir()
        return r

    monkeypatch.setattr(check_module, "explore_vector", explore_then_remove_the_directory)
    code, out, err = run(capsys, "check", "--variant", "no-bit-62", "--vcpus", "1", "--pcpus", "1", "--quiet",
                         "--json", "--trace-out", d / "cex.itf.json")
    data = json.loads(out)
    assert code == 1 and data["verdict"] == "violated" and data["violated"] == "isolation"
    assert data["trace_out"] is None and all(c["trace_out"] is None for c in data["counterexamples"])
    assert "cannot write trace file" in one_error_line(err)


@pytest.mark.long
def test_bmc_keeps_the_verdict_when_the_trace_cannot_be_written(capsys, tmp_path, full_disk):
    pytest.importorskip("z3")
    code, out, err = run(capsys, "bmc", "--variant", "v7-write-path", "--vcpus", "1", "--pcpus", "1", "--depth", "6",
                         "--trace-out", tmp_path / "cex.itf.json")
    assert code == 1 and "no_kvm_access_after_reclaim" in out and "trace written to" not in out
    assert "No space left on device" in one_error_line(err)


def test_a_failed_write_without_a_violation_is_still_an_error():
    from lbrspec.cli.common import TraceFiles
    from lbrspec.errors import EXIT_USAGE, EXIT_VIOLATED, OutputError

    files = TraceFiles()
    files.failures.append("cannot write trace file x: Read-only file system")
    for verdict, expected in ((0, EXIT_USAGE), (1, EXIT_VIOLATED), (3, 3)):
        with pytest.raises(OutputError) as e:
            files.exit(verdict)
        assert e.value.exit_code == expected
    with pytest.raises(SystemExit):
        TraceFiles().exit(0)
