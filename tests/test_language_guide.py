"""docs/language.md is executed, so that every snippet of the guide runs as printed.

The guide is read as Markdown: its ``## `` headings cut it into sections and every fenced block
is taken in order.  What each kind of block means (the guide's opening section says the same):

* ```` ```python ````: executed; the python blocks of one section share one namespace, and every
  section starts with a fresh one.  A block that raises fails the section's test, which names
  the block's line in the guide (tracebacks point into ``docs/language.md`` too).
* ```` ```python file=NAME.py ````: the text is written to ``NAME.py`` in the directory the
  commands run in, then imported as module ``NAME`` (that directory is on ``sys.path``).
  ```` ```python append=NAME.py ```` adds the text to the end of that file and imports it
  again.  A section sees every file as the sections before it left it.
* ```` ```text ```` directly after a python block: what that block prints.
* ```` ```console ````: ``$ lbrspec ...`` lines are commands, each followed by (some of) its
  output.  Each command runs in-process (:func:`lbrspec.cli.main`) in the files' directory,
  which also links the repository's ``models/`` (so ``models/examples/...`` paths work); a
  trailing ``# exit N`` comment gives the expected exit status (0 otherwise).
* ```` ```sh ````: every line that starts with ``lbrspec`` is run the same way (its exit status
  is checked, its output is not).

Shown output is compared loosely: each shown line must appear in the real output, in order,
with lines in between allowed; a shown line ending in ``...`` matches any line that starts
with the text before it (for timings), and a line that is only ``...`` stands for lines left
out.

A section that starts with ``<!-- requires: NAME.attr -->`` (a name of :mod:`lbrspec.lang`)
is skipped, naming the attribute, when the language lacks it; nothing else is skipped.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import re
import shlex
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import lbrspec.lang
from lbrspec.cli import main

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs" / "language.md"
LANGS = ("python", "text", "console", "sh")


@dataclass
class Block:
    lang: str
    info: dict[str, str]
    line: int  # the guide's line number of the block's first line of text
    text: str
    after_python: bool = False  # a text block directly after a python block


@dataclass
class Section:
    title: str
    line: int
    requires: list[str] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)

    @property
    def id(self) -> str:
        return re.sub(r"[^a-z0-9]+", "-", self.title.lower()).strip("-")


def parse(text: str) -> list[Section]:
    """The guide's sections, each with its fenced blocks in order."""
    sections = [Section("(before the first section)", 1)]
    lines = text.splitlines()
    i = 0
    last_kind = None  # "python" when the last thing seen (ignoring blank lines) was a python block
    while i < len(lines):
        line = lines[i]
        if line.startswith("## "):
            sections.append(Section(line[3:].strip(), i + 1))
            last_kind = None
        elif m := re.match(r"<!-- requires: (\S+) -->", line):
            sections[-1].requires.append(m.group(1))
        elif line.startswith("```"):
            words = line[3:].split()
            lang = words[0] if words else ""
            info = dict(w.split("=", 1) if "=" in w else (w, "") for w in words[1:])
            start = i + 1
            i += 1
            while i < len(lines) and not lines[i].startswith("```"):
                i += 1
            block = Block(lang, info, start + 1, "\n".join(lines[start:i]) + "\n", lang == "text" and last_kind == "python")
            sections[-1].blocks.append(block)
            last_kind = lang
        elif line.strip():
            last_kind = None
        i += 1
    return sections


SECTIONS = parse(GUIDE.read_text())


# -- comparing output --------------------------------------------------------------------------------
def missing_line(shown: str, actual: str) -> str | None:
    """The first shown line that the actual output lacks (in order), or None."""
    real = [ln.rstrip() for ln in actual.splitlines()]
    pos = 0
    for want in (ln.rstrip() for ln in shown.splitlines()):
        if want.strip() in ("", "..."):
            continue
        prefix = want[:-3] if want.endswith("...") else None
        while pos < len(real) and not (real[pos] == want if prefix is None else real[pos].startswith(prefix)):
            pos += 1
        if pos == len(real):
            return want
        pos += 1
    return None


# -- running one section -----------------------------------------------------------------------------
class Runner:
    def __init__(self, workdir: Path, capsys) -> None:
        self.dir = workdir
        self.capsys = capsys
        self.files: dict[str, str] = {}
        self.namespace: dict[str, object] = {"__name__": "guide"}
        self.commands = 0

    def write(self, block: Block, *, load: bool) -> None:
        if "file" in block.info:
            name = block.info["file"]
            self.files[name] = block.text
        else:
            name = block.info["append"]
            assert name in self.files, f"docs/language.md:{block.line}: appends to {name}, which no earlier block creates"
            self.files[name] += "\n\n" + block.text
        (self.dir / name).write_text(self.files[name])
        if load:
            stem = name.removesuffix(".py")
            sys.modules.pop(stem, None)
            importlib.invalidate_caches()
            try:
                importlib.import_module(stem)
            except Exception:
                pytest.fail(f"docs/language.md:{block.line}: importing {name} raised\n{traceback.format_exc()}")

    def python(self, block: Block, shown: Block | None) -> None:
        # Padding puts the code at its own line numbers, so a traceback names the guide's line.
        code = compile("\n" * (block.line - 1) + block.text, str(GUIDE), "exec")
        out = io.StringIO()
        try:
            with contextlib.redirect_stdout(out):
                exec(code, self.namespace)
        except Exception:
            pytest.fail(f"the python block at docs/language.md:{block.line} raised\n{traceback.format_exc()}")
        if shown is not None:
            bad = missing_line(shown.text, out.getvalue())
            assert bad is None, (f"docs/language.md:{shown.line}: the output shown lacks {bad!r}; "
                                 f"the block at line {block.line} printed:\n{out.getvalue()}")

    def command(self, cmd: str, line: int, shown: str | None) -> None:
        m = re.search(r"#\s*exit (\d+)\s*$", cmd)
        want = int(m.group(1)) if m else 0
        argv = shlex.split(cmd, comments=True)
        assert argv[0] == "lbrspec", f"docs/language.md:{line}: only lbrspec commands are run, got {cmd!r}"
        self.capsys.readouterr()
        code = main(argv[1:])
        out, err = self.capsys.readouterr()
        self.commands += 1
        assert code == want, f"docs/language.md:{line}: `{cmd}` exited {code}, not {want}\n{out}\n{err}"
        assert "Traceback" not in err, f"docs/language.md:{line}: `{cmd}`\n{err}"
        if shown is not None:
            bad = missing_line(shown, out + err)
            assert bad is None, f"docs/language.md:{line}: `{cmd}` did not print {bad!r}; it printed:\n{out}{err}"

    def console(self, block: Block) -> None:
        cmd, cmd_line, shown = None, 0, []
        for k, ln in enumerate(block.text.splitlines()):
            if ln.startswith("$ "):
                if cmd is not None:
                    self.command(cmd, cmd_line, "\n".join(shown))
                cmd, cmd_line, shown = ln[2:], block.line + k, []
            else:
                assert cmd is not None, f"docs/language.md:{block.line + k}: output before any command"
                shown.append(ln)
        assert cmd is not None, f"docs/language.md:{block.line}: a console block without a command"
        self.command(cmd, cmd_line, "\n".join(shown))

    def sh(self, block: Block) -> None:
        for k, ln in enumerate(block.text.splitlines()):
            if ln.startswith("lbrspec "):
                self.command(ln, block.line + k, None)

    def run(self, blocks: list[Block], *, load: bool = True) -> None:
        for k, b in enumerate(blocks):
            if b.lang != "python":
                if not load:
                    continue
                if b.lang == "console":
                    self.console(b)
                elif b.lang == "sh":
                    self.sh(b)
                continue
            if "file" in b.info or "append" in b.info:
                self.write(b, load=load)
            elif load:
                nxt = blocks[k + 1] if k + 1 < len(blocks) else None
                self.python(b, nxt if nxt is not None and nxt.after_python else None)


def guide_files(sections: list[Section]) -> set[str]:
    return {b.info.get("file") or b.info.get("append") for s in sections for b in s.blocks
            if b.lang == "python" and ("file" in b.info or "append" in b.info)}


def missing_requirements(section: Section) -> list[str]:
    missing = []
    for req in section.requires:
        owner, _, attr = req.partition(".")
        if not hasattr(getattr(lbrspec.lang, owner, None), attr):
            missing.append(req)
    return missing


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """A fresh directory, current and on ``sys.path``; the guide's modules forgotten after."""
    (tmp_path / "models").symlink_to(ROOT / "models", target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in guide_files(SECTIONS):
        sys.modules.pop(name.removesuffix(".py"), None)


RUN = [s for s in SECTIONS if s.blocks]


@pytest.mark.parametrize("index", range(len(RUN)), ids=[s.id for s in RUN])
def test_guide_section_runs(index, isolated, capsys):
    section = RUN[index]
    missing = missing_requirements(section)
    if missing:
        pytest.skip(f"'{section.title}' uses {', '.join(missing)}, which lbrspec.lang does not have yet")
    runner = Runner(isolated, capsys)
    for earlier in SECTIONS[: SECTIONS.index(section)]:
        runner.run(earlier.blocks, load=False)  # the files as the earlier sections left them
    runner.run(section.blocks)


# -- the guide's shape ---------------------------------------------------------------------------------
def test_every_block_is_of_a_kind_the_test_runs_or_shows():
    for s in SECTIONS:
        for b in s.blocks:
            assert b.lang in LANGS, f"docs/language.md:{b.line - 1}: a ```{b.lang} block (use one of {LANGS})"
            if b.lang == "python":
                assert set(b.info) <= {"file", "append"}, f"docs/language.md:{b.line - 1}: unknown {b.info}"


def test_shell_commands_that_are_not_run_do_not_name_lbrspec():
    """Every command of the guide that uses lbrspec is in a block the test runs."""
    for s in SECTIONS:
        for b in s.blocks:
            if b.lang == "text" and not b.after_python:
                assert not any(ln.lstrip().startswith(("$ lbrspec", "lbrspec ")) for ln in b.text.splitlines()), \
                    f"docs/language.md:{b.line}: a command in a text block is never run; use a console block"


def test_the_first_model_is_checked_with_the_command_the_guide_gives():
    first = RUN[0]
    files = [b.info["file"] for b in first.blocks if b.lang == "python" and "file" in b.info]
    assert files, "the first section writes the first model to a file"
    commands = [ln for b in first.blocks if b.lang == "console" for ln in b.text.splitlines() if ln.startswith("$ ")]
    assert f"$ lbrspec check --model {files[0]}" in commands


def test_the_guide_runs_enough_snippets_and_commands():
    python = sum(b.lang == "python" for s in SECTIONS for b in s.blocks)
    commands = sum(ln.startswith("$ lbrspec") for s in SECTIONS for b in s.blocks if b.lang == "console"
                   for ln in b.text.splitlines())
    assert python >= 15 and commands >= 10, (python, commands)
    assert [s for s in SECTIONS if s.requires] == [s for s in SECTIONS if "step invariant" in s.title.lower()], \
        "only the step-invariant section may be skipped"
