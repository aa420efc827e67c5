"""``docs/`` generated from the model (see :mod:`lbrspec.docgen.generate` for the pages).

:func:`plan` compares what the generator produces with what is on disk:

* files to write (new or different), byte for byte;
* generated files no longer produced (they carry the generated-file marker and are removed), except
  in a subfolder that holds a model's own generated docs (its generated ``README.md`` names the
  model): that is another docs set, such as ``docs/upstream_lbr/`` inside guest_lbr's ``docs/``;
* hand-written files in the way (a generated path held by a file without the marker): refused,
  never overwritten, so ``docs/architecture.md`` and any other hand-written page stay as they are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError
from .markdown import MARKER_DOT, MARKER_MD


@dataclass
class Plan:
    root: Path
    files: dict[str, str]
    write: list[str] = field(default_factory=list)  # new or changed
    remove: list[str] = field(default_factory=list)  # generated before, no longer produced
    blocked: list[str] = field(default_factory=list)  # hand-written files at a generated path

    @property
    def stale(self) -> list[str]:
        return sorted(self.write + self.remove)


def is_generated(path: Path) -> bool:
    try:
        with path.open("r", encoding="utf-8") as fh:
            first = fh.readline().rstrip("\n")
    except (OSError, UnicodeDecodeError):
        return False
    return first in (MARKER_MD, MARKER_DOT)


_TITLE = re.compile(r"^# The (?P<model>\S+) model \(generated\)$")


def generated_model(root: Path) -> str | None:
    """The model whose generated pages ``root`` holds (from its generated ``README.md``), or
    ``None``: so that one model's pages never overwrite another's."""
    path = root / "README.md"
    if not is_generated(path):
        return None
    try:
        lines = path.read_text(encoding="utf-8").splitlines()[:4]
    except (OSError, UnicodeDecodeError):
        return None
    for line in lines:
        m = _TITLE.match(line)
        if m:
            return m.group("model")
    return None


def plan(root: Path, files: dict[str, str]) -> Plan:
    p = Plan(root, files)
    for rel, text in files.items():
        path = root / rel
        if not path.exists():
            p.write.append(rel)
            continue
        if not is_generated(path):
            p.blocked.append(rel)
            continue
        if path.read_bytes() != text.encode("utf-8"):
            p.write.append(rel)
    if root.is_dir():
        # a subfolder holding a model's own generated pages (docs/upstream_lbr/ inside guest_lbr's docs/) is
        # another docs set: its files are neither this one's nor stale
        nested = [d for d in sorted(root.rglob("*")) if d.is_dir() and generated_model(d) is not None]
        for path in sorted(root.rglob("*")):
            rel = path.relative_to(root).as_posix()
            if any(d in path.parents for d in nested):
                continue
            if path.is_file() and rel not in files and is_generated(path):
                p.remove.append(rel)
    return p


def apply(p: Plan) -> None:
    if p.blocked:
        raise InputError(f"refusing to overwrite hand-written file(s) in {p.root}: {', '.join(p.blocked)}")
    for rel in p.write:
        path = p.root / rel
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(p.files[rel].encode("utf-8"))
        except OSError as e:
            raise InputError(f"cannot write {path}: {e.strerror or e}") from None
    for rel in p.remove:
        path = p.root / rel
        path.unlink()
        parent = path.parent
        while parent != p.root and parent.is_dir() and not any(parent.iterdir()):
            parent.rmdir()
            parent = parent.parent
