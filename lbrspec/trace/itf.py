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
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..lang.domains import UnionValue, Value
from . import Step, Trace

ITF_DESCRIPTION = "https://apalache-mc.org/docs/adr/015adr-trace.html"
_UNIT = {"#tup": []}


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
            try:
                return int(v["#bigint"])
            except ValueError:
                raise InputError(f"{where}: bad #bigint {v['#bigint']!r}") from None
        if set(v) == {"tag", "value"} and isinstance(v["tag"], str):
            arg = v["value"]
            if arg == _UNIT or arg == {}:
                return UnionValue(v["tag"])
            if isinstance(arg, str):
                return UnionValue(v["tag"], arg)
    raise InputError(f"{where}: unsupported value {json.dumps(v)[:60]}")


def _dec_key(k: Any, where: str) -> str:
    if isinstance(k, str):
        return k
    if isinstance(k, dict) and set(k) == {"#tup"} and isinstance(k["#tup"], list) and all(isinstance(x, str) for x in k["#tup"]):
        return ",".join(k["#tup"])
    raise InputError(f"{where}: unsupported map key {json.dumps(k)[:60]}")


def _dec_state(obj: Any, i: int) -> dict[str, Value]:
    if not isinstance(obj, dict):
        raise InputError(f"state {i} is not a JSON object")
    out: dict[str, Value] = {}
    for var, val in obj.items():
        if var.startswith("#"):
            continue
        where = f"state {i}, variable '{var}'"
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
        steps.append(Step(action, {k: _dec_value(v, f"state {i}, parameter '{k}'") for k, v in params.items()}))
    sizes = meta.get("sizes") if isinstance(meta.get("sizes"), dict) else {}
    loop = obj.get("loop")
    if loop is not None and not (isinstance(loop, int) and 0 <= loop < len(states)):
        raise InputError(f"{source}: 'loop' is not a state index")
    extra = {k: v for k, v in meta.items() if k not in ("model", "variant", "sizes", "violated")}
    return Trace(
        model=str(meta.get("model", "")),
        variant=str(meta.get("variant", "")),
        sizes={str(k): v for k, v in sizes.items() if isinstance(v, int)},
        states=decoded,
        steps=steps,
        violation=meta.get("violated") if isinstance(meta.get("violated"), str) else None,
        loop=loop,
        meta=extra,
    )


def read_itf(path: str | Path) -> Trace:
    """Read an ITF file; unreadable or malformed files raise :class:`InputError`."""
    try:
        text = Path(path).read_text()
    except OSError as e:
        raise InputError(f"cannot read trace file {path}: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a text file") from None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(f"{path}: not JSON ({e.msg} at line {e.lineno})") from None
    return from_itf(obj, source=str(path))
