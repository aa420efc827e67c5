"""The fuzz tier: generated command lines for every command, and generated trace files.

Whatever is typed or fed to it, lbrspec keeps the promise of the README ("Exit codes"): the exit
code is 0 holds, 1 violated, 2 bad usage or input, 3 undetermined (4, an internal error, is a
bug); an error is exactly one line on stderr that starts ``lbrspec: error: `` (control
characters escaped, at most 500 characters of message), never a traceback; and a run with a
budget ends within the budget and some slack.

1. Command lines (:func:`test_generated_command_lines`): for every command and subcommand, the
   vocabulary is read from the click objects in :mod:`lbrspec.cli` (an option added tomorrow is
   fuzzed tomorrow); values are drawn from valid ones (sizes 1-2, the variant, invariant,
   machine and property names ``lbrspec list --json`` gives) and invalid ones (zero, negative,
   huge, not numbers, empty, unicode, control characters, missing files, directories, unknown
   and repeated options).  A command that explores always gets a small budget; one that has no
   budget option gets a small instance.
2. Trace files (:func:`test_generated_trace_files`): ITF traces the tool writes itself (a
   counterexample, a lasso, a simulation, an upstream_lbr trace, a BMC trace, a Peterson trace)
   mutated (values of the wrong type, huge integers, deep nesting, long strings with escape
   sequences, deleted keys, duplicated states, truncated bytes, a foreign ``#meta``, another
   model's states) and fed to ``replay FILE``, ``replay FILE --json`` and ``diagram trace FILE``.

Budgets: the ``ci`` profile (the default) is derandomized, without a database, and sized so the
file runs in a minute or so in one process.  ``LBRSPEC_FUZZ=long`` runs 3,000 cases per test
(randomized, no deadline); ``LBRSPEC_FUZZ_EXAMPLES=N`` sets the number of cases per test for
either profile; with ``LBRSPEC_FUZZ=long``, ``LBRSPEC_FUZZ_SECONDS=S`` runs each test for about S
seconds instead (runs of 20 cases until the time is spent: a long run of bounded length);
``LBRSPEC_FUZZ_SHRINK=0`` reports failures unshrunk.  The terminal
summary has a "fuzz" section: cases and exit codes per test.  Deselect the tier with
``-m 'not fuzz'``.

Every failure found is kept in section 3 as a regression test: the fixed ones as plain tests,
the others (in code this tier does not change) as strict xfails, their inputs left out of the
generated values unless ``LBRSPEC_FUZZ_KNOWN=1``.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import os
import re
import shlex
import signal
import tempfile
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import click
import pytest
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from lbrspec.cli import cli, main
from lbrspec.explicit.instance import Instance
from lbrspec.modelref import load_model, shipped_models
from lbrspec.printable import MAX_ERROR_CHARS, printable

pytestmark = pytest.mark.fuzz

REPO = Path(__file__).resolve().parent.parent

# -- profiles ------------------------------------------------------------------------------------
LONG = os.environ.get("LBRSPEC_FUZZ", "").strip().lower() == "long"
_EXAMPLES = os.environ.get("LBRSPEC_FUZZ_EXAMPLES")
SECONDS = float(os.environ["LBRSPEC_FUZZ_SECONDS"]) if os.environ.get("LBRSPEC_FUZZ_SECONDS") else None
CHUNK = 20
_HEALTH = [HealthCheck.function_scoped_fixture, HealthCheck.nested_given, HealthCheck.too_slow,
           HealthCheck.data_too_large, HealthCheck.filter_too_much, HealthCheck.large_base_example]
settings.register_profile("lbrspec-fuzz-ci", derandomize=True, database=None, deadline=None, print_blob=False,
                          suppress_health_check=_HEALTH)
settings.register_profile("lbrspec-fuzz-long", derandomize=False, database=None, deadline=None, print_blob=True,
                          suppress_health_check=_HEALTH)


def fuzz_settings(ci_examples: int, long_examples: int = 3000) -> settings:
    """The settings of one fuzz test: ``ci_examples`` cases in CI, ``long_examples`` with
    ``LBRSPEC_FUZZ=long``, ``LBRSPEC_FUZZ_EXAMPLES`` cases if set (``LBRSPEC_FUZZ_SHRINK=0``:
    report failures unshrunk, for a quick survey)."""
    n = int(_EXAMPLES) if _EXAMPLES else (long_examples if LONG else ci_examples)
    if SECONDS is not None and LONG:  # runs of CHUNK cases until the time is spent (Tally.run)
        n = min(n, CHUNK)
    extra = {}
    if os.environ.get("LBRSPEC_FUZZ_SHRINK") == "0":
        extra["phases"] = [Phase.explicit, Phase.reuse, Phase.generate, Phase.target]
    return settings(settings.get_profile("lbrspec-fuzz-long" if LONG else "lbrspec-fuzz-ci"), max_examples=n, **extra)


#: Inputs that make lbrspec fail in code this tier does not fix (each has an xfail test below):
#: left out of the generated values unless ``LBRSPEC_FUZZ_KNOWN=1``, so CI stays green and a
#: fix can be checked by running with it.
KNOWN = os.environ.get("LBRSPEC_FUZZ_KNOWN") == "1"


#: compare's progress header, printed before it checks --only (test_compare_only_is_checked_first).
COMPARE_HEADER = re.compile(r"^lbrspec compare: \d+ designs? on ")


def unless_known(values: list[str], known: list[str]) -> list[str]:
    return values if KNOWN else [v for v in values if v not in known]


# -- running one command line and checking the contract -------------------------------------------
PREFIX = "lbrspec: error: "
#: The longest error line: the prefix, MAX_ERROR_CHARS of message, then "... (N characters in all)".
MAX_ERROR_LINE = len(PREFIX) + MAX_ERROR_CHARS + 40
#: Slack over a command line's own budget for the wall-clock bound.
SLACK = 30.0


class Hung(BaseException):
    """Raised by the watchdog in a run that went on far past its bound (never caught by lbrspec,
    which catches Exception and KeyboardInterrupt)."""


@contextlib.contextmanager
def watchdog(seconds: float):
    def fire(signum, frame):
        raise Hung(f"still running after {seconds:.0f} s")

    old = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _control(text: str) -> list[str]:
    return [c for c in text if unicodedata.category(c) in ("Cc", "Cf", "Cs", "Zl", "Zp")]


def shown(argv: list[str]) -> str:
    """A command line for a message: quoted as a shell would take it, escaped (a lone surrogate
    in a report would break pytest-xdist's channel), cut at 3,000 characters."""
    return printable(shlex.join(argv))[:3000]


def check_contract(argv: list[str], code: object, out: str, err: str, seconds: float, bound: float,
                   lenient: bool = not KNOWN) -> None:
    """The README's promise for one run.  ``lenient``: let compare's known header line pass."""
    what = f"lbrspec {shown(argv)}"
    assert code in (0, 1, 2, 3), f"{what}: exit {code!r}\nstderr: {err[-3000:]}"
    for stream, text in (("stdout", out), ("stderr", err)):
        assert "Traceback" not in text, f"{what}: a traceback on {stream}:\n{text[-3000:]}"
    lines = err.splitlines()
    if code == 2 and lenient and argv[:1] == ["compare"]:
        lines = [x for x in lines if not COMPARE_HEADER.match(x)]  # known: see test_compare_only_is_checked_first
    if code == 2:
        assert len(lines) == 1 and lines[0].startswith(PREFIX), \
            f"{what}: exit 2 must come with exactly one error line, got {len(lines)}:\n{err[-3000:]}"
    for line in lines:
        if line.startswith(("lbrspec: error", "lbrspec: internal error")):
            assert len(line) <= MAX_ERROR_LINE, f"{what}: an error line of {len(line):,} characters"
            assert not _control(line), f"{what}: control characters {_control(line)[:5]!r} in {line[:300]!r}"
    assert seconds <= bound, f"{what}: took {seconds:.1f} s, more than its bound of {bound:.1f} s"


class Tally:
    """What one fuzz test ran: cases, exit codes, seconds; kept in a plain dict in the test's
    user_properties, which the "fuzz" section of the terminal summary shows (tests/conftest.py)."""

    def __init__(self) -> None:
        self.data: dict = {"cases": 0, "seconds": 0.0, "slowest": 0.0, "exit": {}}
        self.start = time.perf_counter()

    def run(self, test) -> None:
        """Run the Hypothesis ``test``; with a time budget (``LBRSPEC_FUZZ_SECONDS``, randomized
        profiles only), again and again in runs of ``CHUNK`` cases until the budget is spent."""
        test()
        while SECONDS is not None and LONG and time.perf_counter() - self.start < SECONDS:
            test()

    def add(self, code: object, seconds: float) -> None:
        d = self.data
        d["cases"] += 1
        d["seconds"] = round(d["seconds"] + seconds, 2)
        d["slowest"] = round(max(d["slowest"], seconds), 2)
        d["exit"][str(code)] = d["exit"].get(str(code), 0) + 1


@pytest.fixture
def tally(request) -> Tally:
    t = Tally()
    request.node.user_properties.append(("fuzz", t.data))
    return t


def note_event(text: str) -> None:
    """A Hypothesis event (in --hypothesis-show-statistics), when inside a Hypothesis test."""
    with contextlib.suppress(InvalidArgument):
        event(text)


def run_checked(capsys, argv: list[str], bound: float = SLACK, tally: Tally | None = None,
                lenient: bool = not KNOWN) -> tuple[int, str, str]:
    """Run ``lbrspec ARGV`` in-process and check the contract; an exception out of ``main`` is
    re-raised (with the command line noted), so Hypothesis reports each distinct one."""
    capsys.readouterr()
    t0 = time.perf_counter()
    try:
        with watchdog(bound + 15):
            code = main(list(argv))
    except Hung as e:
        raise AssertionError(f"lbrspec {shown(argv)}: {e} (bound {bound:.0f} s)") from None
    except BaseException as e:
        if tally is not None:
            tally.add(type(e).__name__, time.perf_counter() - t0)
        e.add_note(f"uncaught from lbrspec.cli.main: lbrspec {shown(argv)}")
        raise
    seconds = time.perf_counter() - t0
    out, err = capsys.readouterr()
    note_event(f"exit {code}")
    if tally is not None:
        tally.add(code, seconds)
    check_contract(argv, code, out, err, seconds, bound, lenient)
    return code, out, err


@contextlib.contextmanager
def fresh_dir():
    """A new empty working directory for one case, with a few things to point at: a directory
    ``d``, a text file ``f.txt``, an empty file, a binary file and model files that fail."""
    old = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="lbrspec-fuzz-") as tmp:
        root = Path(tmp)
        (root / "d").mkdir()
        (root / "f.txt").write_text("hello\n")
        (root / "empty.json").write_text("")
        (root / "bin.dat").write_bytes(bytes(range(256)))
        (root / "broken.py").write_text("def build(:\n")
        (root / "raises.py").write_text("raise RuntimeError('a model that fails at import')\n")
        (root / "exits.py").write_text("import sys\nsys.exit(3)\n")
        (root / "notmodel.py").write_text("X = 1\n")
        os.chdir(root)
        try:
            yield root
        finally:
            os.chdir(old)


def quiet_main(argv: list[str]) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue()


# -- the vocabulary: commands from click, names from the models ------------------------------------
def leaf_commands(group: click.Group = cli, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []
    for name, cmd in sorted(group.commands.items()):
        if isinstance(cmd, click.Group):
            out += leaf_commands(cmd, path + (name,))
        else:
            out.append(path + (name,))
    return out


def command_at(path: tuple[str, ...]) -> click.Command:
    cmd: click.Command = cli
    for name in path:
        assert isinstance(cmd, click.Group)
        cmd = cmd.commands[name]
    return cmd


COMMANDS = leaf_commands()
GROUPS = [()] + sorted({p[:-1] for p in COMMANDS if len(p) > 1})
GUEST_LIKE = ("guest_lbr", "upstream_lbr")
#: For the commands with no budget option: the sorts that may have two elements (the others one)
#: in the guest LBR models (upstream_lbr with two vCPUs takes half a minute to draw).
SMALL_TWO = {"guest_lbr": ("vCPU", "pCPU", "host_user"), "upstream_lbr": ("pCPU", "host_user")}
SHORTHAND_SORT = {"vcpus": "vCPU", "pcpus": "pCPU", "hosts": "host_user"}


@dataclass(frozen=True)
class ModelInfo:
    name: str
    variants: tuple[str, ...]
    sorts: tuple[str, ...]
    default_sizes: tuple[tuple[str, int], ...]
    invariants: tuple[str, ...]
    liveness: tuple[str, ...]
    machines: tuple[str, ...]
    variables: tuple[str, ...]
    machine_vars: tuple[tuple[str, tuple[str, ...]], ...]  # machine -> its variables
    slots: tuple[str, ...]  # slots of element 0 of each sort: terms valid at every size
    actions: tuple[str, ...]
    file: str
    module: str


@functools.cache
def models() -> dict[str, ModelInfo]:
    """What ``lbrspec list --json`` says of every shipped model, and its machines and slots."""
    import lbrspec_models

    out = {}
    for name in shipped_models():
        code, text = quiet_main(["list", "--json", "--model", name])
        assert code == 0
        data = json.loads(text)
        src = load_model(name)
        m = src.build()
        sizes = src.default_sizes(m)
        inst = Instance(m, sizes)
        module = lbrspec_models.SHIPPED[name]
        out[name] = ModelInfo(
            name=name,
            variants=tuple(v["name"] for v in data["variants"]),
            sorts=tuple(s.name for s in m.sorts),
            default_sizes=tuple(sizes.items()),
            invariants=tuple(i["name"] for i in data["invariants"]),
            liveness=tuple(x["name"] for x in data["liveness"]),
            machines=tuple(x.name for x in m.machines),
            variables=tuple(v.name for v in m.vars),
            machine_vars=tuple((x.name, tuple(v.name for v in m.vars if v.machine == x.name)) for x in m.machines),
            slots=tuple(slot for slot in inst.slot_index if all(
                e[-1:] == "0" and not e[-2:-1].isdigit() for e in slot.rstrip("]").partition("[")[2].split(",") if e)),
            actions=tuple(a.name for a in m.actions),
            file=str(REPO / (module.replace("lbrspec_models", "models").replace(".", "/") + ".py")),
            module=module,
        )
    return out


@functools.cache
def observations() -> tuple[str, ...]:
    code, text = quiet_main(["compare", "--list"])
    assert code == 0
    return tuple(line.split()[0] for line in text.splitlines() if line.strip())


# -- value strategies ------------------------------------------------------------------------------
NASTY = ["", " ", "-", "--", "x", "é", "\u202eevil", "\x1b[2J\x1b[31mred", "a\tb", "line\nbreak", "bell\x07",
         "%s%n{}", "../..", "\udcff", "💥", "x" * 600, "\\", "'\"", "$(id)"]
BAD_INT = ["0", "-1", "-7", "x", "", "1.5", "²", "1e3", "0x10", " ", "++1", "one", "\u0661\u0662\u0663x"]
HUGE_INT = [str(10**30), str(2**63), str(2**64), str(2**31), "9" * 400, "-" + str(10**30)]
BAD_FLOAT = ["0", "-1", "-0.0", "nan", "NaN", "-inf", "x", "", "1e-400", "²", "1,5"]
INFINITE = ["inf", "Infinity", "1e309"]
HUGE_FLOAT = [*INFINITE, "1e30", str(10**30)]
#: Small valid budgets, added to every command line of a command that has the option.
BUDGETS = {
    "--max-seconds": ["0.5", "1", "2"],
    "--max-states": ["20", "200000", "200000"],
    "--max-memory": ["1", "8192", "8192", "8192"],
    "--timeout": ["1", "2", "3"],
    "--steps": ["1", "5", "20"],
    "--runs": ["1", "3", "5"],
    "--explore-states": ["1", "100", "3000"],
    "--depth": ["0", "2", "4"],
    "--cti-depth": ["0", "2", "3"],
}
#: Budgets whose huge values no other budget bounds: never drawn huge.
NO_HUGE = {("simulate", "--runs")}
#: Output paths (relative: every case runs in its own fresh directory).
OUT_VALID = ["out.itf.json", "out.mmd", "out.dot", "out.svg", "out.md", "out.pml", "/dev/null", "o\u00fct.json"]
LONG_NAME = "x" * 300  # longer than a file name may be (ENAMETOOLONG)
SURROGATE_NAME = "out\udcff.json"  # what Python makes of the byte 0xff in argv
OUT_BAD = ["d", ".", "", "missing/out.json", "f.txt/out.json", "/dev/full", LONG_NAME, SURROGATE_NAME,
           "out\x1b[31m.json", "/"]
#: compare's -o paths that used to fail after the run: fixed (test_compare_output_is_checked_first)
COMPARE_OUT_KNOWN: list[str] = []
#: A docs directory below a regular file: refused before the pages are computed (fixed;
#: test_docs_output_is_checked_first).
DOCS_UNDER_FILE = "f.txt/sub"
#: Shipped models whose docs cannot be generated (test_docs_of_every_shipped_model).
DOCS_KNOWN = ["peterson", "teaching_concurrency", "dining_philosophers"]
FILE_BAD = ["missing.json", "d", ".", "f.txt", "empty.json", "bin.dat", "/dev/null", "", LONG_NAME, "-",
            "\udcff.json", "d/"]
MODEL_BAD = ["", "  ", "nope", "nope.py", "d", "d/", "f.txt", "json", "lbrspec_models", "lbrspec_models.nope",
             "broken.py", "raises.py", "exits.py", "notmodel.py", LONG_NAME, "é", "a\x1bb", "\udcff", "mod.el",
             "1abc", "./missing/model.py", "GUEST_LBR"]
SUPERSCRIPT_SIZE = "vCPU=\u00b2"  # '²'.isdigit() holds, int('²') raises
SIZE_BAD = unless_known(["vCPU=0", "vCPU=-1", "vCPU=17", f"vCPU={10**30}", "vCPU", "=1", "Nope=1", "vCPU=x", "vCPU=1=2",
                         "", " vCPU = 1 ", SUPERSCRIPT_SIZE, "vCPU=\u0661", "pCPU=1.0", "vcpu=1", "host_user=", "vCPU=+1",
                         "vCPU=\u2081"], [SUPERSCRIPT_SIZE, "vCPU=\u2081"])
TERM_BAD = ["", "ev[", "ev[v9]", "nonexistent", "ev[v0]]", "owns(v0)", "1+1", "ev[" * 40 + "v0" + "]" * 40,
            "\x1b[31m", "ev[\udcff]", "(", "ev[v0", "x" * 600]


def nasty_text() -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(NASTY),
                     st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=12))


def bad_int(huge: bool = True) -> st.SearchStrategy[str]:
    return st.sampled_from(BAD_INT + (HUGE_INT if huge else []))


def bad_float(huge: bool = True) -> st.SearchStrategy[str]:
    return st.sampled_from(BAD_FLOAT + (HUGE_FLOAT if huge else []))


@dataclass
class Ctx:
    """What one command line is drawn against: the command and the model it selects."""

    path: tuple[str, ...]
    model: ModelInfo  # the model the names are drawn from (the one selected, or guest_lbr)
    traces: tuple  # the trace files lbrspec wrote (TraceFile)
    file: object = None  # the trace FILE given (TraceFile), if any
    machine: str | None = None  # the machine NAME given, if any


def option_key(p: click.Parameter) -> str:
    return max(p.opts, key=len) if isinstance(p, click.Option) else p.name


def valid_value(draw, ctx: Ctx, p: click.Parameter) -> str:
    """A valid value for option ``p`` of ``ctx``'s command (names from the selected model)."""
    m, name = ctx.model, p.name
    if name == "variant":
        if ctx.file is not None:  # the file's own variant
            return ctx.file.variant
        return draw(st.sampled_from(m.variants))
    if name in ("trace_out", "out", "output") and ctx.path != ("docs",):
        return draw(st.sampled_from(OUT_VALID))
    if name == "directory":
        return draw(st.sampled_from(["docsout", "d", "nested/docs"]))
    if name == "trace_dir":
        return "d"
    if name == "invariant":
        return draw(st.sampled_from(m.invariants))
    if name == "prop":
        return draw(st.sampled_from(m.liveness or ("none_declared",)))
    if name == "control":
        own = dict(m.machine_vars).get(ctx.machine or "", ()) or m.variables
        return ",".join(draw(st.lists(st.sampled_from(own), min_size=1, max_size=2)))
    if name == "design_refs":
        return draw(st.sampled_from(["guest_lbr", "upstream_lbr", "guest_lbr:v8", "guest_lbr:v8-posted",
                                     "upstream_lbr:upstream", "upstream_lbr:proposal-keep-on-freeze"]))
    if name == "only":
        return draw(st.sampled_from(observations()))
    if name == "seed":
        return str(draw(st.integers(0, 2**32)))
    if name == "limit":
        return str(draw(st.integers(1, 12)))
    if name == "max_nodes":
        return str(draw(st.integers(1, 60)))
    if isinstance(p.type, click.Choice):
        return draw(st.sampled_from(list(p.type.choices)))
    if isinstance(p.type, click.types.IntParamType):
        return str(draw(st.integers(1, 3)))
    if isinstance(p.type, click.types.FloatParamType):
        return draw(st.sampled_from(["0.5", "1", "2"]))
    return draw(nasty_text())  # an option this file does not know yet


def invalid_value(draw, ctx: Ctx, p: click.Parameter) -> str:
    name = p.name
    other = [v for mi in models().values() if mi.name != ctx.model.name for v in mi.variants]
    if name == "variant":
        return draw(st.one_of(st.sampled_from(other + ["v9", "V8", "v8 ", "v8\x1b"]), nasty_text()))
    if name in ("trace_out", "out", "output") and ctx.path == ("compare",):
        return draw(st.sampled_from(unless_known(OUT_BAD, COMPARE_OUT_KNOWN)))
    if name in ("trace_out", "out", "output") and ctx.path != ("docs",):
        return draw(st.sampled_from(OUT_BAD))
    if name == "directory":
        return draw(st.sampled_from(["f.txt", "/dev/null", "", DOCS_UNDER_FILE, LONG_NAME, "\udcff"]))
    if name == "trace_dir":
        return draw(st.sampled_from(unless_known(["missing", "f.txt", "", "/dev/null", LONG_NAME], [LONG_NAME])))
    if name == "design_refs":
        return draw(st.sampled_from(["guest_lbr:nope", ":", "", "nope", "guest_lbr:", ":v8", "peterson",
                                     "peterson:peterson", LONG_NAME, "guest_lbr:v8:v8", "f.txt", "d/"]))
    if isinstance(p.type, click.Choice):
        return draw(st.one_of(st.sampled_from([c.upper() for c in p.type.choices] + ["", "png"]), nasty_text()))
    if isinstance(p.type, click.types.IntParamType):
        return draw(bad_int())
    if isinstance(p.type, click.types.FloatParamType):
        return draw(bad_float())
    return draw(nasty_text())


def option_tokens(draw, p: click.Option, value: str | None) -> list[str]:
    """The tokens of ``p`` with ``value``: ``--opt value``, ``--opt=value`` or ``-ovalue``."""
    if value is None:  # a flag
        return [draw(st.sampled_from(p.opts + p.secondary_opts))]
    opt = draw(st.sampled_from(p.opts))
    form = draw(st.integers(0, 4))
    if form == 0 and opt.startswith("--"):
        return [f"{opt}={value}"]
    if form == 0 and value:
        return [opt + value]
    return [opt, value]


#: What a command line can get wrong; a case draws none (half of them), one or two.
FAULTS = ("model", "size", "budget", "option", "argument", "junk")


@dataclass(frozen=True)
class TraceFile:
    """A trace file lbrspec wrote, and what its ``#meta`` says."""

    path: Path
    model: str
    variant: str
    sizes: tuple[tuple[str, int], ...]


@st.composite
def command_lines(draw, path: tuple[str, ...], traces: tuple[TraceFile, ...]):
    """One command line for ``path``, and the seconds it may take."""
    cmd = command_at(path)
    opts = [p for p in cmd.params if isinstance(p, click.Option) and "--help" not in p.opts]
    args = [p for p in cmd.params if isinstance(p, click.Argument)]
    by_name = {p.name: p for p in opts}
    budgets = [p for p in opts if option_key(p) in BUDGETS]
    rest = [p for p in opts if p.name not in ("model_ref", "size", *SHORTHAND_SORT) and p not in budgets]
    size_opts = [p for p in opts if p.name in ("size", *SHORTHAND_SORT)]
    applicable = [f for f, ok in zip(FAULTS, ("model_ref" in by_name, bool(size_opts), bool(budgets), bool(rest),
                                              bool(args), True)) if ok]
    n_faults = min(len(applicable), draw(st.sampled_from([0, 0, 0, 1, 1, 2])))
    faults = set(draw(st.lists(st.sampled_from(applicable), min_size=n_faults, max_size=n_faults, unique=True)))
    groups: list[list[str]] = []  # option groups, in any order in the end

    # the model first: every name is drawn from it
    ctx_model = "guest_lbr"
    if "model_ref" in by_name:
        p = by_name["model_ref"]
        choices = list(models())
        if path == ("docs",):  # (guest_lbr's docs take minutes: tests/test_docs.py generates them)
            choices = unless_known([n for n in models() if n not in GUEST_LIKE], DOCS_KNOWN)
        if "model" in faults:
            groups.append(option_tokens(draw, p, draw(st.sampled_from(MODEL_BAD))))
        else:
            kind = draw(st.sampled_from(["name", "name", "file", "module"] + ([] if path == ("docs",) else ["absent"] * 2)))
            if kind != "absent":
                ctx_model = draw(st.sampled_from(choices))
                mi = models()[ctx_model]
                toks = option_tokens(draw, p, {"name": ctx_model, "file": mi.file, "module": mi.module}[kind])
                if draw(st.integers(0, 9)) == 0:  # repeated: the last one counts
                    toks = option_tokens(draw, p, draw(st.sampled_from(list(models()) + MODEL_BAD[:4]))) + toks
                groups.append(toks)
    ctx = Ctx(path, models()[ctx_model], traces)
    explores = path not in (("list",), ("replay",), ("export", "promela"), ("docs",))
    small_instance = explores and not any(option_key(p) in ("--max-seconds", "--timeout") for p in budgets)

    # a trace FILE argument: one of the model's own traces (whose sizes and variant the flags
    # then agree with), or a bad one if the arguments are the fault
    file_arg = next((a for a in args if a.name == "file"), None)
    trace: TraceFile | None = None
    if file_arg is not None and "argument" not in faults:
        own = [t for t in traces if t.model == ctx.model.name]
        if own and (file_arg.required or draw(st.booleans())):
            trace = draw(st.sampled_from(own))
        elif file_arg.required:
            trace = draw(st.sampled_from(traces))
    if trace is not None:
        ctx.file = trace
    if any(a.name == "name" for a in args):
        ctx.machine = draw(st.sampled_from(ctx.model.machines))

    # sizes: valid ones (1 or 2; a small instance where nothing else bounds the run; the file's
    # own sizes with a trace file), or one bad one
    if "size" in faults:
        p = draw(st.sampled_from(size_opts))
        how = draw(st.sampled_from(["value", "value", "contradiction", "foreign"]))
        if how == "contradiction" and {"vcpus", "size"} <= set(by_name):
            groups += [option_tokens(draw, by_name["vcpus"], "1"), option_tokens(draw, by_name["size"], "vCPU=2")]
        elif how == "foreign":  # a sort of another model
            other = draw(st.sampled_from([mi for mi in models().values() if mi.sorts != ctx.model.sorts]))
            groups.append(option_tokens(draw, by_name["size"], f"{draw(st.sampled_from(other.sorts))}=1"))
        elif p.name == "size":
            groups.append(option_tokens(draw, p, draw(st.sampled_from(SIZE_BAD))))
        else:
            groups.append(option_tokens(draw, p, draw(bad_int())))
    elif size_opts:
        sizes: dict[str, int] = {}
        if trace is not None:
            sizes = {k: v for k, v in trace.sizes if draw(st.booleans())}
        elif ctx.model.name in SMALL_TWO and (small_instance or draw(st.booleans())):
            # one element of each sort, or two of one (always where no budget bounds the run)
            sizes = dict.fromkeys(ctx.model.sorts, 1)
            if draw(st.integers(0, 3)) == 0:
                sizes[draw(st.sampled_from(SMALL_TWO[ctx.model.name]))] = 2
        else:
            for sort in ctx.model.sorts:
                if draw(st.booleans()):
                    sizes[sort] = draw(st.integers(1, 2))
        for sort, n in sizes.items():
            short = next((o for o, s in SHORTHAND_SORT.items() if s == sort and o in by_name), None)
            if short and draw(st.booleans()):
                groups.append(option_tokens(draw, by_name[short], str(n)))
            else:
                groups.append(option_tokens(draw, by_name["size"], f"{sort}={n}"))

    # budgets: every one small, except at most one drawn invalid (rejected, or huge where another bounds it)
    wild = draw(st.sampled_from(budgets)) if "budget" in faults else None
    seconds = 0.0
    for p in budgets:
        key = option_key(p)
        if p is wild:
            huge = (path[-1], key) not in NO_HUGE
            is_float = isinstance(p.type, click.types.FloatParamType)
            value = draw(bad_float(huge) if is_float else bad_int(huge))
        else:
            value = draw(st.sampled_from(BUDGETS[key]))
            if key in ("--max-seconds", "--timeout"):
                seconds = max(seconds, float(value))
        groups.append(option_tokens(draw, p, value))
        if p is not wild and draw(st.integers(0, 9)) == 0:  # repeated, with another small value
            groups.append(option_tokens(draw, p, draw(st.sampled_from(BUDGETS[key]))))
    if path == ("compare",) and "only" in by_name:  # one cell per design, not one per observation
        groups.append(option_tokens(draw, by_name["only"], draw(st.sampled_from(observations()))))

    # any other options (some repeated); one of them invalid if that is the fault.  Without a
    # fault, options that cannot be valid here are left out: --property with a trace file or a
    # model without liveness properties.
    usable = [p for p in rest if not (p.name == "prop" and (trace is not None or not ctx.model.liveness))]
    chosen = draw(st.lists(st.sampled_from(usable), max_size=4)) if usable else []
    if path == ("diagram", "trace") and trace is None and "argument" not in faults and "variant" in by_name:
        chosen.append(by_name["variant"])  # a counterexample drawn from a variant, not from a file
    if "option" in faults:
        chosen.insert(draw(st.integers(0, len(chosen))), None)  # None: the one drawn invalid
    for p in chosen:
        if p is None:
            p = draw(st.sampled_from(rest))
            if p.is_flag:
                groups.append([p.opts[-1] + "=" + draw(st.sampled_from(["1", "yes", "", "\x1b"]))])
            else:
                groups.append(option_tokens(draw, p, invalid_value(draw, ctx, p)))
        elif p.is_flag:
            groups.append(option_tokens(draw, p, None))
        else:
            groups.append(option_tokens(draw, p, valid_value(draw, ctx, p)))

    # the arguments
    positional: list[str] = []
    bad_arg = draw(st.sampled_from(args)) if "argument" in faults else None
    for a in args:
        if a is bad_arg and a.required and draw(st.integers(0, 3)) == 0:
            continue  # missing
        good = a is not bad_arg
        if a is file_arg:
            if good and trace is not None:
                positional.append(str(trace.path))
            elif not good:
                positional.append(draw(st.sampled_from(FILE_BAD + [str(t.path) for t in traces
                                                                   if t.model != ctx.model.name])))
        elif a.name == "name":
            positional.append(ctx.machine if good else draw(nasty_text()))
        elif a.name == "terms":
            pool = st.sampled_from(ctx.model.slots) if good else st.sampled_from(TERM_BAD)
            positional += draw(st.lists(pool, min_size=1, max_size=3))
        else:  # an argument this file does not know yet
            positional.append(draw(nasty_text()))

    # something that is no option of this command at all
    if "junk" in faults:
        groups.append([draw(st.sampled_from(["--frobnicate", "-Z", "--max-second", "extra", "--help", "-h",
                                             "--version", "--json=maybe", "---", "-", "--=x", "--\x1b"]))])

    groups = draw(st.permutations(groups)) if groups else []
    at = draw(st.integers(0, len(groups)))
    argv = list(path) + [t for g in groups[:at] for t in g] + positional + [t for g in groups[at:] for t in g]
    cells = 1
    if path == ("compare",):
        designs = sum(1 for t in argv if t.startswith("--design"))
        cells = 6 * max(1, designs) * max(1, sum(1 for t in argv if t.startswith("--only")))
    note_event(f"faults: {', '.join(sorted(faults)) or 'none'}")
    return argv, SLACK + seconds * (2 + cells)


# -- base traces -----------------------------------------------------------------------------------
#: The runs that write the base traces: name -> command line (each ends in a violation, exit 1).
BASE_RUNS = {
    "guest_lbr": ["check", "--variant", "no-bit-62", "--vcpus", "1", "--pcpus", "1", "--first-only", "--quiet"],
    "lasso": ["check", "--liveness", "--variant", "never-free", "--size", "vCPU=1", "--quiet"],
    "simulate": ["simulate", "--variant", "no-bit-62", "--vcpus", "1", "--pcpus", "1", "--runs", "500", "--steps", "30",
                 "--quiet"],
    "upstream_lbr": ["check", "--model", "upstream_lbr", "--variant", "before-67b45af946ec", "--vcpus", "1",
                     "--first-only", "--quiet"],
    "bmc": ["bmc", "--variant", "v7-write-path", "--vcpus", "1", "--pcpus", "1", "--depth", "6"],
    "peterson": ["check", "--model", "peterson", "--variant", "turn-to-self", "--no-symmetry", "--quiet"],
}


def write_base_traces(d: Path) -> dict[str, Path]:
    out = {}
    for name, argv in BASE_RUNS.items():
        path = d / f"{name}.itf.json"
        code, _ = quiet_main(argv + ["--trace-out", str(path)])
        assert code == 1 and path.exists(), (name, code)
        out[name] = path
    return out


@pytest.fixture(scope="module")
def traces(tmp_path_factory) -> dict[str, Path]:
    """Traces written by lbrspec itself: name -> file."""
    return write_base_traces(tmp_path_factory.mktemp("fuzz-traces"))


def trace_files(traces: dict[str, Path]) -> tuple[TraceFile, ...]:
    out = []
    for _, p in sorted(traces.items()):
        meta = json.loads(p.read_text())["#meta"]
        out.append(TraceFile(p, meta["model"], meta["variant"], tuple(meta["sizes"].items())))
    return tuple(out)


# -- 1. generated command lines --------------------------------------------------------------------
#: CI cases per command: the commands that explore or solve cost more per case.
CI_CASES = {("check",): 24, ("compare",): 4, ("bmc",): 10, ("prove",): 8, ("simulate",): 16, ("docs",): 4,
            ("diagram", "machine"): 16}


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_generated_command_lines(capsys, traces, tally, path):
    @fuzz_settings(CI_CASES.get(path, 20))
    @given(data=st.data())
    def case(data):
        argv, bound = data.draw(command_lines(path, trace_files(traces)), label="argv, bound")
        with fresh_dir():
            run_checked(capsys, argv, bound, tally)

    tally.run(case)


@st.composite
def group_lines(draw, group: tuple[str, ...]):
    cmd = command_at(group)
    names = sorted(cmd.commands) if isinstance(cmd, click.Group) else []
    head = draw(st.one_of(st.sampled_from(names + ["--help", "-h", "--version"]),
                          st.sampled_from(["chek", "CHECK", "check\x1b", "", "-", "--", "--nope"]), nasty_text()))
    tail = draw(st.lists(st.sampled_from(["--help", "--json", "--nope", "x", "--", ""]), max_size=2))
    return list(group) + ([head] if draw(st.integers(0, 5)) else []) + (tail if head not in names else ["--help"])


@pytest.mark.parametrize("group", GROUPS, ids=lambda g: " ".join(g) or "lbrspec")
def test_generated_group_lines(capsys, tally, group):
    """The top level and the command groups (``diagram``, ``export``): unknown commands, help,
    nothing at all."""

    @fuzz_settings(15)
    @given(data=st.data())
    def case(data):
        argv = data.draw(group_lines(group), label="argv")
        with fresh_dir():
            run_checked(capsys, argv, SLACK, tally)

    tally.run(case)


# -- 2. generated trace files ----------------------------------------------------------------------
HUGE = "@@HUGE@@"  # placeholders: values json.dumps cannot write, put in the text afterwards
RAW = {
    HUGE: "9" * 5000,
    "@@DIGITS1000@@": "9" * 1000,
    "@@DIGITS1001@@": "-" + "9" * 1001,
    "@@FLOATBIG@@": "1e400",
    "@@MINUS0@@": "-0",
    "@@NAN@@": "NaN",
    "@@INF@@": "-Infinity",
    "@@EXP@@": "1E+2",
    "@@DEEP63@@": "[" * 55 + "]" * 55,
    "@@DEEP200@@": "[" * 200 + "]" * 200,
    "@@DEEPOBJ@@": '{"a":' * 70 + "1" + "}" * 70,
}
ESCAPES = "\x1b]0;pwned\x07\x1b[31m\u202e\u2028\n\r\t\x00\udcff"
WEIRD = [None, True, False, 0, -1, 1, 2, 2**53, 2**64, -(10**30), 1.5, 1e308, "", "x", "v0", "p0", "h0", "v9",
         "ACTIVE", "ABSENT", "#map", "#tup", "#bigint", ESCAPES, ESCAPES * 50, "s" * 20_000, [], {}, [[]], {"#map": []},
         {"#map": [["v0"]]}, {"#map": [[{"#tup": ["v0", "p0"]}, True]]}, {"#map": "x"}, {"#tup": []}, {"#tup": [1]},
         {"#bigint": "12"}, {"#bigint": "-0"}, {"#bigint": "+5"}, {"#bigint": "1e5"}, {"#bigint": "\u0663"},
         {"#bigint": "9" * 1001}, {"#bigint": ""}, {"#bigint": 5}, {"tag": "vcpu", "value": "v0"},
         {"tag": "vcpu", "value": {"#tup": []}}, {"tag": "nope", "value": {}}, {"tag": 1, "value": 2},
         {"tag": "vcpu", "value": ["v0"]}, {"tag": "x"}, {"value": "x"}, {"#meta": {}}, *RAW]
META_VALUES = {
    "model": ["upstream_lbr", "peterson", "guest_lbr", "", "x", 5, None, [], {"a": 1}, ESCAPES],
    "variant": ["v8", "upstream", "turn-to-self", "never-free", "", "nope", 3, None, ESCAPES, "v8-posted"],
    "sizes": [{}, [], "2x2", None, {"vCPU": 0}, {"vCPU": -1}, {"vCPU": 10**9}, {"vCPU": "x"}, {"vCPU": 1.5},
              {"vCPU": True}, {"Nope": 1}, {"vCPU": 16, "pCPU": 16, "host_user": 16}, {"vCPU": 17},
              {"vCPU": 2, "pCPU": 2}, {"Proc": 2}, {"vCPU": HUGE}, {"vCPU": "@@DIGITS1000@@"}, {"": 1}],
    "violated": [None, "", "isolation", "nope", 5, ESCAPES, "unused_event_is_freed", "turn_guards_cs"],
    "source": ["lbrspec", "apalache", None, 1],
    "description": [ESCAPES, "x" * 100_000, None, [1, 2]],
    "trigger_state": [0, 1, -1, 10**6, "x", None, 2.5],
}


def _json_paths(obj, prefix=()):
    """Every path into ``obj`` (keys and indices), the root included."""
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _json_paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _json_paths(v, prefix + (i,))


def _get(obj, path):
    for k in path:
        obj = obj[k]
    return obj


@st.composite
def mutated_traces(draw, bases: dict[str, dict]):
    """A trace from ``bases``, mutated; the bytes of the file, and a note of what was done."""
    name = draw(st.sampled_from(sorted(bases)))
    obj = json.loads(json.dumps(bases[name]))
    other = json.loads(json.dumps(bases[draw(st.sampled_from(sorted(set(bases) - {name})))]))
    done: list[str] = [name]
    for _ in range(draw(st.integers(0, 3))):  # 0: the file as written, for the flags alone
        op = draw(st.sampled_from(["replace", "replace", "delete", "states", "meta", "meta", "step", "loop",
                                   "swap", "flip", "benign", "benign", "benign"]))
        if op in ("replace", "delete"):
            paths = [p for p in _json_paths(obj) if op == "replace" or p]
            if not paths:  # nothing left to delete: the file is a scalar by now
                continue
            path = draw(st.sampled_from(paths))
            parent = _get(obj, path[:-1]) if path else None
            if op == "delete":
                del parent[path[-1]]
            else:
                value = draw(st.one_of(st.sampled_from(WEIRD), st.sampled_from(list(_json_paths(other))).map(
                    lambda p: _get(other, p))))
                if not path:
                    obj = value
                else:
                    parent[path[-1]] = value
            done.append(f"{op} {path!r}")
        elif op == "states" and isinstance(obj, dict) and isinstance(obj.get("states"), list) and obj["states"]:
            states = obj["states"]
            how = draw(st.sampled_from(["dup", "drop", "swap", "reverse", "truncate", "first-again", "twice",
                                        "empty"]))
            i = draw(st.integers(0, len(states) - 1))
            j = draw(st.integers(0, len(states) - 1))
            if how == "dup":
                states.insert(i, json.loads(json.dumps(states[i])))
            elif how == "drop":
                del states[i]
            elif how == "swap":
                states[i], states[j] = states[j], states[i]
            elif how == "reverse":
                states.reverse()
            elif how == "truncate":
                del states[i + 1:]
            elif how == "first-again":
                states.append(json.loads(json.dumps(states[0])))
            elif how == "twice":
                states.extend(json.loads(json.dumps(states)))
            else:
                states.clear()
            done.append(f"states {how} {i} {j}")
        elif op == "meta" and isinstance(obj, dict):
            meta = obj.setdefault("#meta", {}) if isinstance(obj.get("#meta", {}), dict) else {}
            key = draw(st.sampled_from(sorted(META_VALUES)))
            meta[key] = draw(st.sampled_from(META_VALUES[key]))
            done.append(f"#meta.{key} = {meta[key]!r:.80}")
        elif op == "step" and isinstance(obj, dict) and isinstance(obj.get("states"), list) and len(obj["states"]) > 1:
            i = draw(st.integers(1, len(obj["states"]) - 1))
            st_meta = obj["states"][i].get("#meta") if isinstance(obj["states"][i], dict) else None
            if isinstance(st_meta, dict):
                actions = [a for mi in models().values() for a in mi.actions]
                how = draw(st.sampled_from(["action", "no-action", "params", "param-value", "no-params"]))
                if how == "action":
                    st_meta["action"] = draw(st.one_of(st.sampled_from(actions), st.sampled_from(WEIRD[:20])))
                elif how == "no-action":
                    st_meta.pop("action", None)
                elif how == "no-params":
                    st_meta.pop("params", None)
                elif how == "params":
                    st_meta["params"] = draw(st.sampled_from([{}, [], {"v": "v0"}, {"v": "v0", "p": "p0"},
                                                              {"zz": "v0"}, {"v": 0}, {"v": None}, "x"]))
                elif isinstance(st_meta.get("params"), dict) and st_meta["params"]:
                    k = draw(st.sampled_from(sorted(st_meta["params"])))
                    st_meta["params"][k] = draw(st.sampled_from(WEIRD))
                done.append(f"step {i} {how}")
        elif op == "loop" and isinstance(obj, dict):
            n = len(obj["states"]) if isinstance(obj.get("states"), list) else 0
            obj["loop"] = draw(st.sampled_from([-1, 0, n - 1, n, n + 1, "1", 1.5, None, True, 10**6, HUGE]))
            done.append(f"loop = {obj['loop']!r}")
        elif op == "swap" and isinstance(obj, dict):
            key = draw(st.sampled_from(["#meta", "states", "vars"]))
            if key in other:
                obj[key] = other[key]
            done.append(f"swap {key}")
        elif op == "benign" and isinstance(obj, dict):  # what a reader must take: text, unknown keys
            how = draw(st.sampled_from(["description", "unknown-key", "meta-key", "state-meta", "no-vars"]))
            if how == "description" and isinstance(obj.get("#meta"), dict):
                obj["#meta"]["description"] = draw(st.sampled_from([ESCAPES, "x" * 100_000, "", "ok"]))
            elif how == "unknown-key":
                obj[draw(st.sampled_from(["extra", "#extra", ESCAPES, ""]))] = draw(st.sampled_from(WEIRD))
            elif how == "meta-key" and isinstance(obj.get("#meta"), dict):
                obj["#meta"][draw(st.sampled_from(["x", ESCAPES, "format"]))] = draw(st.sampled_from(WEIRD))
            elif how == "state-meta" and isinstance(obj.get("states"), list) and obj["states"]:
                st_ = obj["states"][draw(st.integers(0, len(obj["states"]) - 1))]
                if isinstance(st_, dict) and isinstance(st_.get("#meta"), dict):
                    st_["#meta"][draw(st.sampled_from(["index", "note", ESCAPES]))] = draw(st.sampled_from(WEIRD))
            elif how == "no-vars":
                obj.pop("vars", None)
            done.append(f"benign {how}")
        elif op == "flip":
            leaves = [p for p in _json_paths(obj) if p and isinstance(_get(obj, p), (bool, str))]
            if leaves:
                path = draw(st.sampled_from(leaves))
                parent, old = _get(obj, path[:-1]), _get(obj, path)
                strings = sorted({_get(obj, p) for p in leaves if isinstance(_get(obj, p), str)})
                parent[path[-1]] = (not old) if isinstance(old, bool) else draw(st.sampled_from(strings))
                done.append(f"flip {path!r}")
    text = json.dumps(obj, indent=draw(st.sampled_from([None, 1])))
    for marker, raw in RAW.items():
        text = text.replace(json.dumps(marker), raw)
    data = text.encode("utf-8", "surrogatepass")
    byte_op = draw(st.sampled_from([None] * 10 + ["truncate", "bad-utf8", "bom", "garbage", "twice", "nul"]))
    if byte_op == "truncate":
        data = data[: draw(st.integers(0, max(0, len(data) - 1)))]
    elif byte_op == "bad-utf8":
        k = draw(st.integers(0, len(data)))
        data = data[:k] + b"\xff\xfe" + data[k:]
    elif byte_op == "bom":
        data = b"\xef\xbb\xbf" + data
    elif byte_op == "garbage":
        data = data + b" }]garbage"
    elif byte_op == "twice":
        data = data + b"\n" + data
    elif byte_op == "nul":
        data = data.replace(b'"', b'"\x00', 1)
    if byte_op:
        done.append(f"bytes: {byte_op}")
    return data, done


TRACE_READERS = [("replay",), ("replay", "--json"), ("diagram", "trace")]


class Bases(dict):
    """The base traces, by name (a short repr: Hypothesis shows its strategies' arguments)."""

    def __repr__(self) -> str:
        return f"<the {len(self)} base traces: {', '.join(self)}>"


@pytest.mark.parametrize("reader", TRACE_READERS, ids=" ".join)
def test_generated_trace_files(capsys, traces, tally, reader):
    bases = Bases({name: json.loads(p.read_text()) for name, p in traces.items()})
    model_of = {name: b["#meta"]["model"] for name, b in bases.items()}

    @fuzz_settings(45)
    @given(data=st.data())
    def check_one(data):
        blob, done = data.draw(mutated_traces(bases), label="file")
        extra = data.draw(st.sampled_from(["", "", "own-model", "own-model", "model", "variant", "format", "size"]),
                          label="flags")
        with fresh_dir() as root:
            path = root / "t.itf.json"
            path.write_bytes(blob)
            argv = [*reader, str(path)]
            if extra == "own-model":
                argv += ["--model", model_of[done[0]]]
            elif extra == "model":
                argv += ["--model", data.draw(st.sampled_from(sorted(set(model_of.values()))))]
            elif extra == "variant":
                argv += ["--variant", data.draw(st.sampled_from(["v8", "no-bit-62", "never-free", "nope"]))]
            elif extra == "format" and reader[0] == "diagram":
                argv += ["--format", data.draw(st.sampled_from(["mermaid", "dot", "svg"]))]
            elif extra == "size":
                argv += data.draw(st.sampled_from([["--vcpus", "1"], ["--size", "pCPU=1"], ["--hosts", "2"]]))
            code, out, err = run_checked(capsys, argv, SLACK, tally)
            for c in ("\x1b", "\x07", "\u202e", "\u2028"):
                assert c not in out + err, f"{done}: {c!r} from the file printed raw"
            if "--json" in reader and code in (0, 1):
                assert isinstance(json.loads(out), dict), done

    tally.run(check_one)


# -- 3. what the fuzzer found ----------------------------------------------------------------------
# Fixed: a model reference longer than a file name may be (lbrspec/modelref.py asked pathlib,
# whose is_file() raises ENAMETOOLONG instead of answering False).
@pytest.mark.parametrize("ref", [LONG_NAME, LONG_NAME + ".py", "d/" + LONG_NAME, "lbrspec_models." + LONG_NAME])
@pytest.mark.parametrize("cmd", [("list",), ("check", "--vcpus", "1", "--pcpus", "1")])
def test_a_model_reference_longer_than_a_file_name_is_one_error_line(capsys, ref, cmd):
    with fresh_dir():
        code, _, err = run_checked(capsys, [*cmd, "--model", ref])
    assert code == 2 and ("File name too long" in err or "no such model, file or module" in err), err


# Fixed: "not JSON (Invalid control character at at line 1)" (json's message ends in "at").
@pytest.mark.parametrize("reader", TRACE_READERS, ids=" ".join)
def test_a_raw_control_character_in_a_trace_file_is_reported_once(capsys, reader):
    with fresh_dir() as root:
        (root / "t.json").write_bytes(b'{"states": [{"x": "a\x01b"}]}')
        code, _, err = run_checked(capsys, [*reader, "t.json"])
    assert code == 2 and "not JSON (Invalid control character at line 1)" in err, err


# Not fixed here (the code is in files this tier does not touch); each is left out of the
# generated values unless LBRSPEC_FUZZ_KNOWN=1, and each xfail is strict: it fails once fixed.
WRITERS = [
    ("check", "--vcpus", "1", "--pcpus", "1", "--quiet", "--trace-out"),
    ("simulate", "--vcpus", "1", "--pcpus", "1", "--runs", "1", "--steps", "1", "--trace-out"),
    ("bmc", "--vcpus", "1", "--pcpus", "1", "--depth", "1", "--trace-out"),
    ("prove", "--vcpus", "1", "--pcpus", "1", "--timeout", "5", "--trace-out"),
    ("diagram", "machine", "kvm", "--vcpus", "1", "--pcpus", "1", "-o"),
    ("export", "promela", "--vcpus", "1", "--pcpus", "1", "-o"),
]
COMPARE_SMALL = ("compare", "--design", "guest_lbr:v8", "--only", "kvm_never_touches_unowned_lbr", "--vcpus", "1",
                 "--pcpus", "1", "--quiet")


# An output path whose name is longer than NAME_MAX (255 bytes): pathlib's is_dir() and exists()
# raise OSError(ENAMETOOLONG) instead of answering False, in check_writable
# (lbrspec/cli/common.py: check, simulate, bmc, prove, diagram, export), in compare's --trace-dir
# check and its unguarded write of -o (lbrspec/cli/compare.py) and in docs_dir
# (lbrspec/cli/docs.py): a traceback, exit 1 from the console script.
@pytest.mark.parametrize("argv", [[*w, LONG_NAME] for w in WRITERS] + [
    [*COMPARE_SMALL, "--trace-dir", LONG_NAME], [*COMPARE_SMALL, "-o", LONG_NAME],
    ["docs", "--model", "lock", "--quiet", "-o", LONG_NAME]], ids=lambda a: " ".join(a[:2]) + " " + a[-2])
def test_an_output_path_longer_than_a_file_name_is_one_error_line(capsys, argv):
    with fresh_dir():
        code, _, _ = run_checked(capsys, argv)
    assert code == 2


# --size SORT=N where N holds a digit that str.isdigit() accepts and int() does not (superscripts,
# subscripts): SizeFlags.parse (lbrspec/cli/common.py) tests isdigit(), then int() raises
# ValueError: a traceback, for every command with --size.
@pytest.mark.parametrize("size", [SUPERSCRIPT_SIZE, "vCPU=\u2081"])
@pytest.mark.parametrize("cmd", [("check",), ("replay", "FILE")], ids=" ".join)
def test_a_size_of_unicode_digits_int_does_not_take_is_one_error_line(capsys, traces, size, cmd):
    argv = [str(traces["guest_lbr"]) if a == "FILE" else a for a in cmd]
    with fresh_dir():
        code, _, _ = run_checked(capsys, [*argv, "--vcpus", "1", "--size", size])
    assert code == 2


# An output path holding a byte that is not UTF-8 (Python gives it in argv as a lone surrogate,
# '\udcff') is echoed raw: "trace written to ..." (check, bmc, prove), "no counterexample, so
# nothing was written to ..." (simulate), "wrote ..." (diagram, compare), the docs summary.  On a
# stdout with errors='strict' (a UTF-8 locale other than C.UTF-8/POSIX, and pytest's capture) that
# is a UnicodeEncodeError and a traceback, after the file was written.  The error lines are
# escaped (printable); these lines are not.
@pytest.mark.parametrize("argv", [
    ["check", "--variant", "no-bit-62", "--vcpus", "1", "--pcpus", "1", "--quiet", "--trace-out", SURROGATE_NAME],
    ["simulate", "--vcpus", "1", "--pcpus", "1", "--runs", "1", "--steps", "1", "--trace-out", SURROGATE_NAME],
    ["bmc", "--variant", "v7-write-path", "--vcpus", "1", "--pcpus", "1", "--depth", "6", "--trace-out",
     SURROGATE_NAME],
    ["prove", "--variant", "no-bit-62", "--vcpus", "1", "--pcpus", "1", "--trace-out", SURROGATE_NAME],
    ["diagram", "machine", "kvm", "--vcpus", "1", "--pcpus", "1", "-o", SURROGATE_NAME],
    [*COMPARE_SMALL, "-o", SURROGATE_NAME],
    ["docs", "--model", "lock", "-o", "d\udcff"],
], ids=lambda a: " ".join(a[:2]))
def test_an_output_path_that_is_not_utf8_is_printed_escaped(capsys, argv):
    with fresh_dir():
        run_checked(capsys, argv)


# --timeout inf (or Infinity, 1e309: any float that is infinite) passes the "positive" check of bmc
# and prove, then lbrspec/smt/solving.py converts the remaining budget to Z3's milliseconds with
# int(left * 1000): OverflowError, a traceback.
@pytest.mark.parametrize("cmd", ["bmc", "prove"])
@pytest.mark.parametrize("timeout", INFINITE)
def test_an_infinite_solver_timeout_is_refused(capsys, cmd, timeout):
    """(fixed: a budget must be finite, and is refused with one line before the run)"""
    with fresh_dir():
        code, _, err = run_checked(capsys, [cmd, "--model", "tcommit", "--timeout", timeout])
    assert code == 2 and "must be positive and finite" in err


# compare -o checks only that the file's directory exists: a directory, or a file that cannot be
# written (/dev/full), fails after the whole comparison, in the unguarded Path.write_text of the
# Markdown page (lbrspec/cli/compare.py): IsADirectoryError / OSError(ENOSPC), a traceback.
@pytest.mark.parametrize("out", ["d", "/dev/full"])
def test_compare_output_is_checked_first(capsys, out):
    with fresh_dir():
        code, _, _ = run_checked(capsys, [*COMPARE_SMALL, "-o", out])
    assert code == 2


# compare without --quiet prints its header ("lbrspec compare: 1 designs on ...") to stderr, then
# run() refuses an unknown --only NAME: exit 2 with two stderr lines, not one.
def test_compare_only_is_checked_first(capsys):
    argv = [a for a in COMPARE_SMALL if a != "--quiet"]
    argv[argv.index("--only") + 1] = "bogus"
    with fresh_dir():
        run_checked(capsys, argv, lenient=False)


# docs -o f.txt/sub (a directory below a regular file): docs_dir (lbrspec/cli/docs.py) checks only
# that the directory is not a file, so the pages are computed first (seconds), then writing fails:
# exit 2, after the progress lines, "cannot write f.txt/sub/README.md: Not a directory".
def test_docs_output_is_checked_first(capsys):
    with fresh_dir():
        run_checked(capsys, ["docs", "--model", "lock", "-o", DOCS_UNDER_FILE])


# docs --model peterson (or dining_philosophers, teaching_concurrency) exits 2: the generated pages
# include proofs for every size, which lbrspec refuses for a model whose sort is used as a ring ("a
# ring of every size cannot be axiomatised ... prove on finite instances instead (without
# --all-sizes)", an option nobody gave); without --quiet the progress lines come first, so exit 2
# comes with ten stderr lines.
@pytest.mark.xfail(strict=True, raises=AssertionError, reason="docs cannot be generated for models with a ring sort")
@pytest.mark.parametrize(("model", "quiet"), [("peterson", True), ("dining_philosophers", True),
                                              ("teaching_concurrency", False)])
def test_docs_of_every_shipped_model(capsys, model, quiet):
    with fresh_dir():
        code, _, _ = run_checked(capsys, ["docs", "--model", model, "-o", "out", *(["--quiet"] if quiet else [])])
    assert code == 0
