"""``--model`` on every command, and the model-module protocol (:mod:`lbrspec.modelref`): a
user's model in a .py file is checked, proved, simulated, drawn, exported and documented like
the shipped one; every bad reference is one line on stderr and exit 2."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from lbrspec.cli import main
from lbrspec.errors import InputError
from lbrspec_models import guest_lbr
from lbrspec_models.examples import EXAMPLES
from lbrspec.modelref import DEFAULT_MODEL, load_model
from lbrspec.trace.itf import read_itf

#: A lock-based mutex, written with the language only: two variants, a liveness property and
#: one lemma, so that every part of the protocol is exercised.
MUTEX = '''
"""A lock-based mutex: processes request, enter and leave a critical section."""

from lbrspec.lang import BOOL, EnumDomain, Invariant, Sort, Spec, Variant, forall, implies
from lbrspec.lang.liveness import STRONG, WEAK, leads_to

P = Sort("proc", "p", doc="a process")
Pc = EnumDomain("proc_pc", ["IDLE", "WAIT", "CRIT"], doc="where a process is")

VARIANTS = {
    "lock": Variant("lock", "Entry takes the lock.", kind="design"),
    "no-lock": Variant("no-lock", "Mutant: entry ignores the lock.", kind="mutant", expected="mutual_exclusion"),
}


def build(variant):
    spec = Spec("mutex", sorts=[P], doc=__doc__, default_sizes={"proc": 2})
    m = spec.machine("procs", doc="The processes and the lock.")
    pc = m.var("pc", Pc, index=[P], init="IDLE", doc="where the process is")
    locked = m.var("locked", BOOL, init=False, doc="the lock is held")
    free = variant == "no-lock"
    m.transition("request", {"p": P}, guard=lambda p: pc[p] == "IDLE", updates=lambda p: [pc[p].becomes("WAIT")])
    m.transition("enter", {"p": P}, guard=lambda p: (pc[p] == "WAIT") & (~locked() | free),
                 updates=lambda p: [pc[p].becomes("CRIT"), locked().becomes(True)])
    m.transition("leave", {"p": P}, guard=lambda p: pc[p] == "CRIT",
                 updates=lambda p: [pc[p].becomes("IDLE"), locked().becomes(False)])
    spec.invariant("mutual_exclusion",
                   forall(P, lambda a: forall(P, lambda b: implies((pc[a] == "CRIT") & (pc[b] == "CRIT"), a == b))),
                   doc="At most one process is in its critical section.")
    spec.goal("someone_enters", lambda p: pc[p] == "CRIT", params={"p": P}, doc="Every process can enter.")
    return spec.build(VARIANTS[variant])


def liveness(model):
    pc = model.var("pc")
    return (leads_to("waiting_enters", {"p": P}, lambda p: pc[p] == "WAIT", lambda p: pc[p] == "CRIT",
                     doc="A waiting process enters.",
                     fairness=lambda p: [("enter", STRONG, ("p",), {}, "entry is strongly fair"),
                                         ("leave", WEAK, ("p",), {}, "a process leaves")]),)


def LEMMAS(model):
    pc, locked = model.var("pc"), model.var("locked")
    return [("locking", [Invariant("crit_holds_lock", forall(P, lambda p: implies(pc[p] == "CRIT", locked())),
                                   "A process in its critical section holds the lock.", "", kind="lemma")])]
'''

#: The least a model module must have: ``build`` and ``VARIANTS`` (no default variant, no
#: sizes, no liveness, no lemmas).
MINIMAL = '''
"""A switch that is flipped on and off."""

from lbrspec.lang import BOOL, Spec, Variant

VARIANTS = {"stuck": Variant("stuck", "A switch that cannot be turned off.", kind="mutant"),
            "plain": Variant("plain", "The switch.", kind="design")}


def build(variant):
    spec = Spec("switch", sorts=[], doc=__doc__)
    m = spec.machine("switch", doc="The switch.")
    on = m.var("on", BOOL, init=False, doc="switched on")
    m.transition("flip", {}, guard=lambda: ~on() if variant == "stuck" else True, updates=lambda: [on().becomes(~on())])
    spec.invariant("anything", on() | ~on(), doc="A tautology.")
    return spec.build(VARIANTS[variant])
'''


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("models")
    (d / "mutex.py").write_text(MUTEX)
    (d / "switch.py").write_text(MINIMAL)
    return d


@pytest.fixture(scope="module")
def mutex(models) -> str:
    return str(models / "mutex.py")


@pytest.fixture(scope="module")
def mutex_trace(models, mutex) -> str:
    path = str(models / "cex.itf.json")
    assert main(["check", "--model", mutex, "--variant", "no-lock", "--quiet", "--trace-out", path]) == 1
    return path


# -- a user model through check --------------------------------------------------------------------
def test_a_user_model_file_is_checked_like_the_shipped_one(capsys, mutex):
    code, out, err = run(capsys, "check", "--model", mutex, "--quiet")
    assert code == 0 and err == ""
    assert out.startswith("lbrspec check: model mutex, variant lock (Entry takes the lock), 2 procs")
    assert "HOLDS: the 1 invariant holds in every reachable state" in out
    code, out, _ = run(capsys, "check", "--model", mutex, "--variant", "no-lock", "--quiet")
    assert code == 1 and "VIOLATED: mutual_exclusion" in out and "Shortest counterexample of mutual_exclusion, 4 steps" in out


def test_the_trace_of_a_user_model_records_its_name(mutex_trace):
    t = read_itf(mutex_trace)
    assert t.model == "mutex" and t.variant == "no-lock" and t.sizes == {"proc": 2}


def test_defaults_of_a_minimal_model(capsys, models):
    source = load_model(str(models / "switch.py"))
    assert source.default_variant == "plain"  # the first of kind "design", not the first
    assert source.liveness_variants == {} and not source.has_liveness and not source.has_lemmas
    model = source.build()
    assert source.default_sizes(model) == {} and source.liveness(model) == () and source.lemma_groups(model) == []
    code, out, _ = run(capsys, "check", "--model", str(models / "switch.py"), "--quiet")
    assert code == 0 and "variant plain" in out


# -- every command takes --model -------------------------------------------------------------------
def commands(mutex: str, trace: str, tmp: Path) -> dict[str, tuple[list[str], int, str]]:
    """Each command on the small model with small budgets: (arguments, exit code, in stdout)."""
    m = ["--model", mutex]
    return {
        "check": (["check", *m, "--quiet", "--max-states", "1000"], 0, "HOLDS"),
        "check --liveness": (["check", *m, "--quiet", "--liveness"], 0, "LIVENESS HOLDS"),
        "list": (["list", *m], 0, "mutual_exclusion"),
        "prove": (["prove", *m, "--timeout", "60"], 0, "PROVEN"),
        "prove --all-sizes": (["prove", *m, "--all-sizes", "--timeout", "60"], 0, "for every number of procs"),
        "bmc": (["bmc", *m, "--variant", "no-lock", "--depth", "5"], 1, "VIOLATED: mutual_exclusion"),
        "simulate": (["simulate", *m, "--variant", "no-lock", "--runs", "50", "--steps", "20", "--quiet"], 1,
                     "VIOLATED: mutual_exclusion"),
        "replay": (["replay", trace, *m], 1, "VIOLATED: the trace replays"),
        "diagram machine": (["diagram", "machine", "procs", *m], 0, "stateDiagram-v2"),
        "diagram project": (["diagram", "project", "pc[p0]", "locked", *m], 0, "stateDiagram-v2"),
        "diagram trace FILE": (["diagram", "trace", trace, *m], 0, "sequenceDiagram"),
        "diagram trace --variant": (["diagram", "trace", "--variant", "no-lock", *m], 0, "sequenceDiagram"),
        "docs": (["docs", *m, "-o", str(tmp / "docs"), "--quiet"], 0, "file(s) written"),
        "export promela": (["export", "promela", *m], 0, "inv_mutual_exclusion"),
    }


@pytest.mark.parametrize("name", list(commands("M", "T", Path("."))))
def test_every_command_takes_a_model_file(capsys, tmp_path, mutex, mutex_trace, name):
    args, want, text = commands(mutex, mutex_trace, tmp_path)[name]
    code, out, err = run(capsys, *args)
    assert code == want, (out, err)
    assert text in out
    assert "Traceback" not in err


def test_the_prove_line_names_where_the_lemmas_come_from(capsys, mutex):
    code, out, _ = run(capsys, "prove", "--model", mutex)
    assert code == 0 and f"1 lemmas from model {mutex}: locking (1)" in out
    code, out, _ = run(capsys, "prove", "--model", mutex, "--no-lemmas")
    assert code == 3 and "NOT PROVEN" in out


def test_a_model_without_lemmas_proves_with_none(capsys, models):
    code, out, _ = run(capsys, "prove", "--model", str(models / "switch.py"))
    assert code == 0 and "1 invariants, 0 lemmas" in out


def test_liveness_asked_of_a_model_without_it_says_so(capsys, models):
    code, out, err = run(capsys, "check", "--model", str(models / "switch.py"), "--liveness")
    assert code == 2 and out == "" and len(err.splitlines()) == 1
    assert "declares no liveness properties" in err


def test_every_command_s_help_says_a_model_file_is_python(capsys):
    for cmd in (["check"], ["list"], ["prove"], ["bmc"], ["simulate"], ["replay"], ["diagram", "machine"],
                ["diagram", "project"], ["diagram", "trace"], ["docs"], ["export", "promela"]):
        code, out, _ = run(capsys, *cmd, "--help")
        flat = " ".join(out.split())
        assert code == 0 and "--model REF" in out, cmd
        assert "runs like any import" in flat and "never executed" in flat, cmd


@pytest.mark.long
def test_the_shipped_model_by_name_or_module_is_the_default(capsys):
    plain = run(capsys, "check", "--vcpus", "1", "--json", "--quiet")
    for ref in ("guest_lbr", "lbrspec_models.guest_lbr"):
        named = run(capsys, "check", "--model", ref, "--vcpus", "1", "--json", "--quiet")
        strip = [{k: v for k, v in json.loads(r[1]).items() if k not in ("seconds", "states_per_second")}
                 for r in (plain, named)]
        assert named[0] == plain[0] == 0 and strip[0] == strip[1]
    assert load_model("lbrspec_models.guest_lbr").kind == "shipped" and DEFAULT_MODEL == "guest_lbr"


def test_the_shipped_model_s_file_is_the_shipped_model(capsys):
    path = str(Path(__file__).resolve().parent.parent / "models" / "guest_lbr.py")
    source = load_model(path)
    assert source.kind == "shipped" and source.name == "guest_lbr" and source.source == "models/guest_lbr.py"
    # its lemmas import the shipped module's sorts, so a second copy of the model would not do
    assert len([lem for _, g in source.lemma_groups(source.build()) for lem in g]) > 0


def test_a_dotted_module_name_is_imported(capsys, models, monkeypatch):
    monkeypatch.syspath_prepend(str(models))
    code, out, _ = run(capsys, "check", "--model", "mutex", "--quiet")
    assert code == 0 and "model mutex, variant lock" in out
    assert load_model("mutex").kind == "module"


# -- list ----------------------------------------------------------------------------------------
def test_list_json_lists_the_models_and_keeps_its_keys(capsys, mutex):
    code, out, _ = run(capsys, "list", "--json")
    data = json.loads(out)
    assert code == 0 and set(data) >= {"model", "models", "variants", "invariants", "goals", "liveness"}
    (row,) = [r for r in data["models"] if r["name"] == "guest_lbr"]
    assert row["sorts"] == ["vCPU", "pCPU", "host_user"] and row["variants"] == len(guest_lbr.VARIANTS) + len(guest_lbr.LIVENESS_VARIANTS) and row["selected"]
    assert row["description"].startswith("The v8")
    code, out, _ = run(capsys, "list", "--json", "--model", mutex)
    data = json.loads(out)
    assert data["model"] == "mutex" and [v["name"] for v in data["variants"]] == ["lock", "no-lock"]
    assert [r["name"] for r in data["models"]] == ["guest_lbr", "upstream_lbr", *EXAMPLES, mutex]
    assert [r["selected"] for r in data["models"]] == [False] * (2 + len(EXAMPLES)) + [True]
    assert data["liveness"][0]["name"] == "waiting_enters"


def test_list_text_starts_with_the_models(capsys, models):
    code, out, _ = run(capsys, "list", "--model", str(models / "switch.py"))
    assert code == 0 and out.startswith("models (")
    n = len(guest_lbr.VARIANTS) + len(guest_lbr.LIVENESS_VARIANTS)
    assert re.search(rf"^  guest_lbr +The v8 .*\[sorts vCPU, pCPU, host_user; {n} variants\]$", out, re.MULTILINE)
    assert "liveness (lbrspec check --liveness):\n  (none)" in out


# -- sizes -----------------------------------------------------------------------------------------
def test_size_sets_any_sort_of_the_model(capsys, mutex):
    code, out, _ = run(capsys, "check", "--model", mutex, "--size", "proc=3", "--json", "--quiet")
    assert code == 0 and json.loads(out)["sizes"] == {"proc": 3}


def test_size_and_the_shorthands_agree_on_guest_lbr(capsys):
    a = json.loads(run(capsys, "check", "--size", "vCPU=1", "--size", "pCPU=1", "--json", "--quiet")[1])
    b = json.loads(run(capsys, "check", "--vcpus", "1", "--pcpus", "1", "--json", "--quiet")[1])
    assert a["sizes"] == b["sizes"] == {"vCPU": 1, "pCPU": 1, "host_user": 1} and a["states"] == b["states"]
    code, _, _ = run(capsys, "check", "--size", "vCPU=2", "--vcpus", "2", "--quiet", "--max-states", "10")
    assert code == 3  # the same size twice is no contradiction


@pytest.mark.parametrize("args, message", [
    (["--vcpus", "2"], "--vcpus: model mutex has no sort 'vCPU'; its sorts: proc"),
    (["--size", "Proc=2"], "model mutex has no sort 'Proc'; its sorts: proc"),
    (["--size", "proc"], "--size proc: expected SORT=N"),
    (["--size", "proc=x"], "expected SORT=N"),
    (["--size", "proc=0"], "--size proc=0: a size must be at least 1"),
    (["--size", "proc=2", "--size", "proc=3"], "--size proc=3 contradicts --size proc=2"),
    (["--size", "proc=99"], "bad instance size"),
])
def test_bad_sizes_are_one_line_exit_2(capsys, mutex, args, message):
    code, out, err = run(capsys, "check", "--model", mutex, *args)
    assert code == 2 and out == "" and len(err.splitlines()) == 1 and message in err


def test_shorthand_and_size_that_contradict_are_refused(capsys):
    code, _, err = run(capsys, "bmc", "--vcpus", "2", "--size", "vCPU=3")
    assert code == 2 and "--size vCPU=3 contradicts --vcpus 2" in err


# -- traces of another model, and sizes against a trace file ------------------------------------------
@pytest.mark.parametrize("cmd", [["replay"], ["diagram", "trace"]])
def test_a_trace_of_another_model_is_refused(capsys, mutex_trace, cmd):
    code, out, err = run(capsys, *cmd, mutex_trace)
    assert code == 2 and out == "" and len(err.splitlines()) == 1
    assert "a trace of model 'mutex', not of the model selected (guest_lbr)" in err


@pytest.mark.parametrize("cmd", [["replay"], ["diagram", "trace"]])
def test_size_flags_that_contradict_the_trace_file_are_refused(capsys, mutex, mutex_trace, cmd):
    code, _, err = run(capsys, *cmd, mutex_trace, "--model", mutex, "--size", "proc=3")
    assert code == 2 and len(err.splitlines()) == 1 and "the trace records proc=2, which --size proc=3 contradicts" in err
    code, out, _ = run(capsys, *cmd, mutex_trace, "--model", mutex, "--size", "proc=2")
    assert code in (0, 1) and out


@pytest.mark.long
def test_a_guest_lbr_trace_keeps_its_sizes_against_a_shorthand(capsys, tmp_path):
    path = str(tmp_path / "cex.itf.json")
    assert main(["check", "--variant", "no-bit-62", "--quiet", "--trace-out", path]) == 1
    capsys.readouterr()
    code, _, err = run(capsys, "replay", path, "--vcpus", "3")
    assert code == 2 and "the trace records vCPU=2, which --vcpus 3 contradicts" in err
    code, out, _ = run(capsys, "diagram", "trace", path, "--vcpus", "2")
    assert code == 0 and "sequenceDiagram" in out


# -- bad references -------------------------------------------------------------------------------
BAD_FILES = {
    "raises.py": ("raise RuntimeError('boom\\nsecond line')\n", "importing it raised RuntimeError: boom second line"),
    "syntax.py": ("def build(:\n", "importing it raised SyntaxError"),
    "exits.py": ("import sys\nsys.exit(3)\n", "importing it raised SystemExit(3)"),
    "nobuild.py": ("VARIANTS = {}\n", "does not follow the model protocol: no build(variant) function"),
    "novariants.py": ("def build(v): pass\n", "does not follow the model protocol: no VARIANTS"),
    "badvariants.py": ("def build(v): pass\nVARIANTS = ['v8']\n",
                       "VARIANTS must be a mapping of names to lbrspec.lang.Variant, got list"),
    "baddefault.py": ("from lbrspec.lang import Variant\ndef build(v): pass\nVARIANTS = {'a': Variant('a', 'x')}\n"
                      "DEFAULT_VARIANT = 'b'\n", "DEFAULT_VARIANT 'b' is not one of VARIANTS (a)"),
    "badsizes.py": ("from lbrspec.lang import Variant\ndef build(v): pass\nVARIANTS = {'a': Variant('a', 'x')}\n"
                    "DEFAULT_SIZES = {'n': 'two'}\n", "DEFAULT_SIZES must be a mapping of sort names to int"),
    "badtext.py": ("from lbrspec.lang import Variant\ndef build(v): pass\nVARIANTS = {'a': Variant('a', 'x')}\n"
                   "DOC_TEXT = {'nonsense': 'x'}\n", "DOC_TEXT has unknown key(s) 'nonsense'"),
    "modelerror.py": ("from lbrspec.lang import BOOL, Spec, Variant\nVARIANTS = {'a': Variant('a', 'x')}\n"
                      "def build(v):\n    spec = Spec('bad', sorts=[])\n    m = spec.machine('m')\n"
                      "    x = m.var('x', BOOL, init=False)\n    spec.machine('n').transition('t', {}, guard=True, "
                      "updates=lambda: [x().becomes(True)])\n    return spec.build(VARIANTS[v])\n",
                      "model error: machine 'n'"),
    "buildraises.py": ("from lbrspec.lang import Variant\nVARIANTS = {'a': Variant('a', 'x')}\n"
                       "def build(v): return {}[v]\n", "build('a') raised KeyError: 'a'"),
    "notamodel.py": ("from lbrspec.lang import Variant\nVARIANTS = {'a': Variant('a', 'x')}\n"
                     "def build(v): return 42\n", "build('a') returned int, not an lbrspec.lang.Model"),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_a_bad_model_file_is_one_line_exit_2(capsys, tmp_path, name):
    text, message = BAD_FILES[name]
    (tmp_path / name).write_text(text)
    code, out, err = run(capsys, "check", "--model", str(tmp_path / name), "--quiet")
    assert code == 2 and out == "" and len(err.splitlines()) == 1, err
    assert message in err and "Traceback" not in err


@pytest.mark.parametrize("ref, message", [
    ("missing.py", "--model missing.py: no such file"),
    ("some/dir/missing.py", "no such file"),
    ("no_such_module_for_lbrspec", "no such model, file or module (shipped models: guest_lbr, upstream_lbr, tcommit,"),
    ("no_such_pkg_for_lbrspec.models", "no such model, file or module"),
    ("not a module!", "not a shipped model (guest_lbr, upstream_lbr, tcommit,"),
    ("json", "does not follow the model protocol: no build(variant) function"),
])
def test_a_bad_reference_is_one_line_exit_2(capsys, ref, message):
    code, out, err = run(capsys, "list", "--model", ref)
    assert code == 2 and out == "" and len(err.splitlines()) == 1, err
    assert message in err


def test_a_directory_is_not_a_model_file(capsys, tmp_path):
    code, _, err = run(capsys, "check", "--model", str(tmp_path) + "/")
    assert code == 2 and "is a directory" in err


def test_an_unknown_variant_lists_the_known_ones(capsys, mutex):
    for cmd in (["check"], ["prove"], ["diagram", "trace"], ["replay", "x.itf.json"]):
        code, _, err = run(capsys, *cmd, "--model", mutex, "--variant", "v8")
        assert code == 2 and len(err.splitlines()) == 1, cmd
        assert "unknown variant 'v8' of model " in err and "known variants: lock, no-lock" in err


def test_a_module_whose_import_raises_is_one_line(capsys, tmp_path, monkeypatch):
    (tmp_path / "lbrspec_test_broken_model.py").write_text("import lbrspec_no_such_dependency\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    code, _, err = run(capsys, "list", "--model", "lbrspec_test_broken_model")
    assert code == 2 and len(err.splitlines()) == 1
    assert "importing it raised ModuleNotFoundError: No module named 'lbrspec_no_such_dependency'" in err


def test_load_model_raises_input_error():
    with pytest.raises(InputError, match="no such file"):
        load_model("nowhere/model.py")


# -- docs ------------------------------------------------------------------------------------------
def test_docs_of_a_user_model_go_to_their_own_folder(capsys, tmp_path, mutex, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(capsys, "docs", "--model", mutex, "--quiet")
    assert code == 0 and "in out/docs/mutex/" in out
    readme = (tmp_path / "out" / "docs" / "mutex" / "README.md").read_text()
    assert "# The mutex model (generated)" in readme and "architecture.md" not in readme
    assert (tmp_path / "out" / "docs" / "mutex" / "gallery" / "no-lock.md").exists()
    code, out, _ = run(capsys, "docs", "--model", mutex, "--check", "--quiet")
    assert code == 0 and "is fresh" in out
    assert not (tmp_path / "docs").exists()


def test_docs_never_overwrite_another_model_s_pages(capsys, tmp_path, mutex, models):
    d = tmp_path / "pages"
    assert main(["docs", "--model", mutex, "-o", str(d), "--quiet"]) == 0
    before = {p: p.read_bytes() for p in d.rglob("*") if p.is_file()}
    code, _, err = run(capsys, "docs", "--model", str(models / "switch.py"), "--output", str(d), "--quiet")
    assert code == 2 and len(err.splitlines()) == 1 and "holds the generated docs of model mutex" in err
    assert before == {p: p.read_bytes() for p in d.rglob("*") if p.is_file()}


def test_the_committed_docs_are_refused_to_another_model(capsys, mutex):
    docs = Path(__file__).resolve().parent.parent / "docs"
    code, _, err = run(capsys, "docs", "--model", mutex, "--dir", str(docs), "--check")
    assert code == 2 and "holds the generated docs of model guest_lbr" in err


# -- layering ----------------------------------------------------------------------------------------
def test_the_shipped_model_does_not_import_its_proofs_or_an_engine():
    code = ("import sys, lbrspec_models.guest_lbr as g; "
            "assert g.LEMMAS == 'lbrspec_proofs'; "
            "bad = [m for m in sys.modules if m.startswith(('lbrspec_proofs', 'lbrspec.cli', 'lbrspec.explicit', "
            "'lbrspec.smt', 'lbrspec.docgen', 'lbrspec.modelref'))]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_protocol_module_imports_no_engine_and_no_cli():
    text = (Path(__file__).resolve().parent.parent / "lbrspec" / "modelref.py").read_text()
    imports = [line for line in text.splitlines() if line.startswith(("from ", "import "))]
    assert all(".cli" not in line and "explicit" not in line and "smt" not in line for line in imports), imports


def test_the_protocol_is_documented_in_the_module_docstring():
    import lbrspec.modelref as mr

    doc = textwrap.dedent(mr.__doc__ or "")
    for attr in ("build(variant", "VARIANTS", "DEFAULT_VARIANT", "DEFAULT_SIZES", "LIVENESS_VARIANTS",
                 "liveness(model)", "LEMMAS", "SORT_PLURALS", "DOC_PROJECTIONS", "doc_fairness_demos", "DOC_TEXT"):
        assert attr in doc, attr
