"""Traces as ITF JSON, the Informal Trace Format of Apalache (ADR-015).

Layout written by :func:`to_itf`::

    {"#meta": {"format": "ITF", "source": "lbrspec", "model": ..., "variant": ...,
               "sizes": {"vCPU": 2, ...}, "violated": ...},
     "vars": ["cap", "running", ...],
     "states": [{"#meta": {"index": 0}, "cap": true,
                 "running": {"#map": [["v0", false], ["v1", false]]}, ...},
                {"#meta": {"index": 1, "action": "sched_in", "params": {"v": "v0", "p": "p0"}},
                 ...}],
     "loop": 3}                      # only for lassos

Variables indexed by one sort are ITF maps keyed by element name, by several sorts maps keyed
by ``{"#tup": [...]}``; union values are variants ``{"tag": "vcpu", "value": "v0"}`` (a
constant tag has the unit value ``{"#tup": []}``); enum members and sort elements are strings.
The action taken to reach a state and its parameters are in that state's ``#meta``.

:func:`from_itf` reads such a file back; anything that is not a readable trace raises
:class:`~lbrspec.errors.InputError` with one line naming the first bad place.
"""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..lang.domains import UnionValue, Value
from . import Step, Trace

ITF_DESCRIPTION = "https://apalache-mc.org/docs/adr/015adr-trace.html"
_UNIT = {"#tup": []}

#: The largest trace file :func:`read_itf` reads (a trace of a few thousand steps of the
#: largest instances lbrspec checks is a few MiB).
MAX_TRACE_BYTES = 64 * 2**20
#: The deepest nesting of JSON arrays and objects a trace file may have (an ITF trace needs
#: about eight levels); checked before the file is parsed, so no input reaches Python's
#: recursion limit.
MAX_JSON_DEPTH = 64
#: The most digits an integer in a trace file may have (a literal or a ``#bigint``), well under
#: Python's limit on integer-string conversion (4,300 digits).
MAX_INT_DIGITS = 1000


def _enc_value(v: Value) -> Any:
    if isinstance(v, UnionValue):
        return {"tag": v.tag, "value": _UNIT if v.arg is None else v.arg}
    if isinstance(v, int) and not isinstance(v, bool) and abs(v) >= 2**53:
        return {"#bigint": str(v)}
    return v


def _enc_state(state: dict[str, Value]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    maps: dict[str, list[Any]] = {}
    for slot, val in state.items():
        if "[" in slot:
            var, idx = slot[:-1].split("[", 1)
            parts = idx.split(",")
            key: Any = parts[0] if len(parts) == 1 else {"#tup": parts}
            maps.setdefault(var, []).append([key, _enc_value(val)])
            out.setdefault(var, None)
        else:
            out[slot] = _enc_value(val)
    for var, pairs in maps.items():
        out[var] = {"#map": pairs}
    return out


def to_itf(trace: Trace, description: str | None = None) -> dict[str, Any]:
    """The ITF JSON object of ``trace``."""
    meta: dict[str, Any] = {
        "format": "ITF",
        "format-description": ITF_DESCRIPTION,
        "source": "lbrspec",
        "model": trace.model,
        "variant": trace.variant,
        "sizes": dict(trace.sizes),
        "violated": trace.violation,
    }
    if description:
        meta["description"] = description
    meta.update({k: v for k, v in trace.meta.items() if k not in meta})
    states = []
    for i, st in enumerate(trace.states):
        smeta: dict[str, Any] = {"index": i}
        if i > 0:
            step = trace.steps[i - 1]
            smeta["action"] = step.action
            smeta["params"] = {k: _enc_value(v) for k, v in step.params.items()}
        states.append({"#meta": smeta, **_enc_state(st)})
    obj: dict[str, Any] = {"#meta": meta, "vars": list(_enc_state(trace.states[0]).keys()), "states": states}
    if trace.loop is not None:
        obj["loop"] = trace.loop
    return obj


def write_itf(trace: Trace, path: str | Path, description: str | None = None) -> None:
    """Write ``trace`` to ``path``; an unwritable path raises :class:`InputError`."""
    text = json.dumps(to_itf(trace, description), indent=1) + "\n"
    try:
        Path(path).write_text(text)
    except OSError as e:
        raise InputError(f"cannot write trace file {path}: {e.strerror or e}") from None


def _dec_value(v: Any, where: str) -> Value:
    if isinstance(v, bool) or isinstance(v, str):
        return v
    if isinstance(v, int):
        return v
    if isinstance(v, dict):
        if set(v) == {"#bigint"} and isinstance(v["#bigint"], str):
            text = v["#bigint"]
            digits = text[1:] if text[:1] in "+-" else text
            if not (digits.isascii() and digits.isdigit()):
                raise InputError(f"{where}: bad #bigint {_clip(text)!r}")
            if len(digits) > MAX_INT_DIGITS:
                raise InputError(f"{where}: a #bigint of {len(digits):,} digits (at most {MAX_INT_DIGITS:,})")
            return int(text)
        if set(v) == {"tag", "value"} and isinstance(v["tag"], str):
            arg = v["value"]
            if arg == _UNIT or arg == {}:
                return UnionValue(v["tag"])
            if isinstance(arg, str):
                return UnionValue(v["tag"], arg)
    raise InputError(f"{where}: unsupported value {_show(v)}")


def _dec_key(k: Any, where: str) -> str:
    if isinstance(k, str):
        return k
    if isinstance(k, dict) and set(k) == {"#tup"} and isinstance(k["#tup"], list) and all(isinstance(x, str) for x in k["#tup"]):
        return ",".join(k["#tup"])
    raise InputError(f"{where}: unsupported map key {_show(k)}")


def _dec_state(obj: Any, i: int) -> dict[str, Value]:
    if not isinstance(obj, dict):
        raise InputError(f"state {i} is not a JSON object")
    out: dict[str, Value] = {}
    for var, val in obj.items():
        if var.startswith("#"):
            continue
        where = f"state {i}, variable {_clip(var)!r}"
        if isinstance(val, dict) and set(val) == {"#map"}:
            pairs = val["#map"]
            if not isinstance(pairs, list):
                raise InputError(f"{where}: #map is not a list")
            for pair in pairs:
                if not (isinstance(pair, list) and len(pair) == 2):
                    raise InputError(f"{where}: a #map entry is not a [key, value] pair")
                out[f"{var}[{_dec_key(pair[0], where)}]"] = _dec_value(pair[1], where)
        else:
            out[var] = _dec_value(val, where)
    return out


def from_itf(obj: Any, source: str = "trace") -> Trace:
    """Read an ITF object into a :class:`Trace` (steps without ``action`` get ``""``)."""
    if not isinstance(obj, dict):
        raise InputError(f"{source}: not an ITF trace (the top level is not a JSON object)")
    states = obj.get("states")
    if not isinstance(states, list) or not states:
        raise InputError(f"{source}: not an ITF trace (no non-empty 'states' list)")
    meta = obj.get("#meta") if isinstance(obj.get("#meta"), dict) else {}
    decoded = [_dec_state(s, i) for i, s in enumerate(states)]
    steps: list[Step] = []
    for i, s in enumerate(states[1:], start=1):
        smeta = s.get("#meta") if isinstance(s.get("#meta"), dict) else {}
        action = smeta.get("action", "")
        if not isinstance(action, str):
            raise InputError(f"{source}: state {i}: '#meta.action' is not a string")
        params = smeta.get("params", {})
        if not isinstance(params, dict):
            raise InputError(f"{source}: state {i}: '#meta.params' is not an object")
        steps.append(Step(action, {k: _dec_value(v, f"state {i}, parameter {_clip(k)!r}") for k, v in params.items()}))
    sizes = meta.get("sizes") if isinstance(meta.get("sizes"), dict) else {}
    for sort, n in sizes.items():
        if not isinstance(n, int) or isinstance(n, bool):
            raise InputError(f"{source}: '#meta.sizes' gives {_clip(sort)!r} the size {_show(n)}, not an integer")
    loop = obj.get("loop")
    if loop is not None and not (isinstance(loop, int) and not isinstance(loop, bool) and 0 <= loop < len(states)):
        raise InputError(f"{source}: 'loop' is not a state index")
    extra = {k: v for k, v in meta.items() if k not in ("model", "variant", "sizes", "violated")}
    return Trace(
        model=str(meta.get("model", "")),
        variant=str(meta.get("variant", "")),
        sizes={str(k): v for k, v in sizes.items()},
        states=decoded,
        steps=steps,
        violation=meta.get("violated") if isinstance(meta.get("violated"), str) else None,
        loop=loop,
        meta=extra,
    )


def read_itf(path: str | Path) -> Trace:
    """Read an ITF file: the one reader of trace files.

    Anything that is not a readable trace raises :class:`InputError` with one line that starts
    with the path: a file that cannot be read, is larger than :data:`MAX_TRACE_BYTES`, is not
    UTF-8 JSON, nests deeper than :data:`MAX_JSON_DEPTH`, holds an integer of more than
    :data:`MAX_INT_DIGITS` digits, or is not an ITF trace.
    """
    try:
        return from_itf(load_json(path), source=str(path))
    except InputError as e:
        text = str(e)
        raise InputError(text if text.startswith(f"{path}:") or str(path) in text else f"{path}: {text}") from None


def load_json(path: str | Path) -> Any:
    """The JSON value in ``path``, within the limits :func:`read_itf` documents."""
    p = Path(path)
    try:
        info = p.stat()
        if stat.S_ISREG(info.st_mode) and info.st_size > MAX_TRACE_BYTES:
            raise InputError(f"{path}: {_mib(info.st_size)}, larger than a trace file may be ({_mib(MAX_TRACE_BYTES)})")
        with p.open("rb") as fh:  # not only regular files: a pipe or a device is read up to the limit
            data = fh.read(MAX_TRACE_BYTES + 1)
    except OSError as e:
        raise InputError(f"cannot read trace file {path}: {e.strerror or e}") from None
    if len(data) > MAX_TRACE_BYTES:
        raise InputError(f"{path}: larger than a trace file may be ({_mib(MAX_TRACE_BYTES)})")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a text file (not UTF-8)") from None
    depth = nesting_depth(text)
    if depth > MAX_JSON_DEPTH:
        raise InputError(f"{path}: not an ITF trace (JSON nested {depth:,} levels deep, at most {MAX_JSON_DEPTH})")
    try:
        return json.loads(text, parse_int=_parse_int)
    except InputError as e:  # an integer too long
        raise InputError(f"{path}: {e}") from None
    except json.JSONDecodeError as e:  # (some messages end in "at": "Invalid control character at")
        raise InputError(f"{path}: not JSON ({e.msg.removesuffix(' at')} at line {e.lineno})") from None
    except RecursionError:  # cannot happen below MAX_JSON_DEPTH; kept as a backstop
        raise InputError(f"{path}: not an ITF trace (JSON nested too deeply)") from None


#: A JSON string, or an unterminated one running to the end of the text (so that the scan stays
#: linear whatever the input).
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


def nesting_depth(text: str) -> int:
    """The deepest nesting of arrays and objects in JSON ``text`` (brackets inside strings do not
    count), in linear time and without recursion."""
    import numpy as np

    brackets = _NOT_BRACKET.sub("", _JSON_STRING.sub("", text)).encode("ascii")
    if not brackets:
        return 0
    codes = np.frombuffer(brackets, dtype=np.uint8)
    steps = np.where((codes == ord("[")) | (codes == ord("{")), 1, -1).astype(np.int64)
    return int(np.cumsum(steps).max())


def _parse_int(text: str) -> int:
    digits = len(text) - (text[:1] == "-")
    if digits > MAX_INT_DIGITS:
        raise InputError(f"an integer of {digits:,} digits (a trace file's integers have at most {MAX_INT_DIGITS:,})")
    return int(text)


def _mib(n: int) -> str:
    return f"{n / 2**20:,.1f} MiB" if n % 2**20 else f"{n // 2**20:,} MiB"


def _clip(text: str, n: int = 60) -> str:
    return text if len(text) <= n else text[:n] + "..."


def _show(v: Any) -> str:
    """A JSON value for a message, at most about 60 characters."""
    try:
        return _clip(json.dumps(v))
    except (RecursionError, ValueError):
        return type(v).__name__
