"""``reproducers.md``: every variant's shortest counterexamples as reproducers a kernel developer
can act on.

A model module that names reproducer data in ``REPRODUCERS`` (see :mod:`lbrspec.modelref`) gets
this page from ``lbrspec docs``.  The data says, per action of the model, what to do on a real
machine (a guest instruction, a VMM ioctl, a host perf command, where a preemption or an IPI must
land), the kernel functions the action stands for and the commit that brought them; per property,
what breaking it looks like.  The traces come from the explorer, never from the data: for each
variant, every property it breaks with its own shortest counterexample (``lbrspec check`` reports
the same).  A step whose action has no annotation is an error, so the page never shows a step a
developer cannot act on.

A variant's counterexample that is step for step the default variant's (same initial state, same
actions with the same parameters) is not repeated: its section points to the default's.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import InputError
from ..explicit.instance import Instance
from ..explicit.vexplore import explore_vector
from ..lang.spec import Model
from ..modelref import ModelModule
from ..trace import Trace
from .markdown import code, page, table

#: variant -> property -> its shortest counterexample, in the model's property order
Traces = dict[str, dict[str, Trace]]


@dataclass
class ReproStep:
    """One step of a reproducer: the model's step and what its annotation says."""

    number: int
    label: str  # action(params) as the trace shows it
    who: str
    does: str
    functions: str
    commit: str
    command: str | None
    lands: str | None
    effect: str  # what the step changed in the model


@dataclass
class ReproSection:
    """One violated property of one variant."""

    variant: str
    prop: str
    label: str
    length: int
    steps: list[ReproStep] = field(default_factory=list)  # empty when ``same_as`` is set
    same_as: str | None = None  # the default variant, whose identical trace is shown in full
    setup: list[str] = field(default_factory=list)
    observe: str = ""
    note: str = ""

    @property
    def anchor(self) -> str:
        return f"{self.variant}--{self.prop}".lower().replace("_", "-")


# -- traces ----------------------------------------------------------------------------------------
def collect(source: ModelModule, sizes: Mapping[str, int] | None = None) -> Traces:
    """Every safety variant's violated properties with their shortest counterexamples, computed
    as ``lbrspec docs`` computes them (symmetry reduction, every property recorded, violating
    states not expanded)."""
    order = _property_order(source.build())
    out: Traces = {}
    for name in [source.default_variant] + [n for n in source.variants if n != source.default_variant]:
        model = source.build(name)
        inst = Instance(model, dict(sizes) if sizes else source.default_sizes(model))
        r = explore_vector(inst, symmetry=True, stop_at_violation=False, prune_violations=True)
        out[name] = _ordered({c.prop: c.trace for c in r.violations}, order)
    return out


def from_facts(facts: Any) -> Traces:
    """The same traces, from what :func:`lbrspec.docgen.generate.compute` already explored."""
    source = facts.source
    order = _property_order(facts.model)
    out: Traces = {source.default_variant: _ordered({c.prop: c.trace for c in facts.result.violations}, order)}
    for name in source.variants:
        if name != source.default_variant and name in facts.variants:
            out[name] = _ordered(dict(facts.variants[name].traces), order)
    return out


def _property_order(model: Model) -> list[str]:
    return [i.name for i in model.invariants]


def _ordered(traces: dict[str, Trace], order: list[str]) -> dict[str, Trace]:
    rank = {n: i for i, n in enumerate(order)}
    return {p: traces[p] for p in sorted(traces, key=lambda p: (rank.get(p, len(rank)), p))}


# -- annotation --------------------------------------------------------------------------------------
def data(source: ModelModule) -> Any:
    """The model's reproducer data (``REPRODUCERS``), or an error naming the model."""
    d = source.reproducers()
    if d is None:
        raise InputError(f"model {source.name} has no REPRODUCERS")
    return d


def unannotated(source: ModelModule, model: Model | None = None) -> list[str]:
    """Actions of ``model`` (default: the default variant) with no annotation at all."""
    model = model or source.build()
    actions = dict(getattr(data(source), "ACTIONS", {}))
    return [a.name for a in model.actions if not actions.get(a.name)]


def annotate(source: ModelModule, trace: Trace, index: int) -> ReproStep:
    """Step ``index`` (0-based) of ``trace`` with its annotation; an error if there is none."""
    d = data(source)
    st = trace.steps[index]
    choices = dict(getattr(d, "ACTIONS", {})).get(st.action) or []
    variant = source.all_variants().get(trace.variant)
    switches = dict(variant.switches) if variant is not None else {}
    ann = next((a for a in choices if all(_same(st.params.get(k), v) for k, v in dict(a.when).items())
                and all(k in switches and _same(switches[k], v) for k, v in dict(getattr(a, "switches", {})).items())),
               None)
    if ann is None:
        raise InputError(f"model {source.name}: REPRODUCERS has no annotation for step {st.label()} "
                         f"(variant {trace.variant}, step {index + 1})")
    fields = _fields(d, st.params)
    changes = trace.changes(index)
    effect = ", ".join(f"{k}: {a} → {b}" for k, (a, b) in changes.items()) or "no change"
    return ReproStep(index + 1, st.label(), ann.who, _fmt(ann.does, fields, source), _fmt(ann.functions, fields, source),
                     ann.commit, _fmt(ann.command, fields, source) if ann.command else None,
                     _fmt(ann.lands, fields, source) if getattr(ann, "lands", None) else None, effect)


def _same(value: object, wanted: object) -> bool:
    return str(value) == str(wanted)


def _fields(d: Any, params: Mapping[str, object]) -> dict[str, str]:
    cpus = dict(getattr(d, "CPU_NUMBERS", {}))
    out = {k: str(v) for k, v in params.items()}
    if "p" in params:
        out["cpu"] = str(cpus.get(str(params["p"]), params["p"]))
    return out


def _fmt(text: str, fields: Mapping[str, str], source: ModelModule) -> str:
    try:
        return string.Formatter().vformat(text, (), dict(fields))
    except (KeyError, IndexError, ValueError) as e:
        raise InputError(f"model {source.name}: REPRODUCERS text {text!r} cannot be filled in: {e}") from None


def _setup(d: Any, trace: Trace) -> list[str]:
    first = trace.states[0]
    out = []
    for var, meanings in dict(getattr(d, "SETUP", {})).items():
        values = {str(v) for k, v in first.items() if k == var or k.startswith(var + "[")}
        if len(values) == 1:
            (value,) = values
            text = next((t for v, t in dict(meanings).items() if str(v) == value), None)
            if text:
                out.append(text)
    return out


def _same_trace(a: Trace, b: Trace) -> bool:
    """The same steps from the same initial state (on the variables both variants have)."""
    common = set(a.states[0]) & set(b.states[0])
    return (all(a.states[0][k] == b.states[0][k] for k in common)
            and [s.label() for s in a.steps] == [s.label() for s in b.steps])


def sections(source: ModelModule, traces: Traces) -> list[ReproSection]:
    """One section per violated property per variant, in variant order."""
    d = data(source)
    props = dict(getattr(d, "PROPERTIES", {}))
    default = source.default_variant
    out = []
    for variant, by_prop in traces.items():
        for prop, trace in by_prop.items():
            info = props.get(prop)
            sec = ReproSection(variant, prop, getattr(info, "label", prop), len(trace),
                               observe=getattr(info, "observe", ""), note=getattr(info, "note", ""))
            base = traces.get(default, {}).get(prop)
            if variant != default and base is not None and _same_trace(trace, base):
                sec.same_as = default
            else:
                sec.setup = _setup(d, trace)
                sec.steps = [annotate(source, trace, i) for i in range(len(trace))]
            out.append(sec)
    return out


# -- rendering --------------------------------------------------------------------------------------
def render(source: ModelModule, traces: Traces, model_name: str) -> str:
    """The page."""
    d = data(source)
    secs = sections(source, traces)
    by_key = {(s.variant, s.prop): s for s in secs}
    variants = source.all_variants()
    rows = []
    for s in secs:
        ref = by_key[(s.same_as, s.prop)] if s.same_as else s
        how = f"same as [{s.same_as}](#{ref.anchor})" if s.same_as else f"[reproducer](#{s.anchor})"
        rows.append((code(s.variant), code(s.prop), s.label, s.length, how))
    parts = [
        (f"{getattr(d, 'INTRO', '')}\n\nGenerated by `lbrspec docs` from the model ({source.source}) and its "
         f"reproducer data; the step counts are those of `lbrspec check --model {model_name} --variant NAME`. "
         "Every step names the kernel functions it stands for and the commit that brought them; the last column "
         "is what the step changes in the model. [Overview](README.md) · [property catalogue](properties.md) · "
         "[gallery](gallery/README.md)"),
        "## Summary\n\nEvery property each variant breaks, with the length of its shortest counterexample.\n\n"
        + table(["variant", "property", "what", "steps", "reproducer"], rows),
        _proposals(d, source, traces, by_key),
    ]
    for variant, by_prop in traces.items():
        v = variants[variant]
        head = f"## Variant `{variant}`\n\n{v.description}" + (f" Patch: {v.patch}." if v.patch else "")
        note = dict(getattr(d, "VARIANT_NOTES", {})).get(variant)
        if note:
            head += f"\n\n**Note.** {note}"
        if not by_prop:
            parts.append(head + "\n\nNothing is broken on the default instance.\n")
            continue
        body = [head]
        for prop in by_prop:
            body.append(_section(by_key[(variant, prop)], by_key))
        parts.append("\n\n".join(body))
    return page("Reproducers for kernel developers (generated)", *parts)


def _proposals(d: Any, source: ModelModule, traces: Traces, by_key: dict) -> str:
    kinds = tuple(getattr(d, "SUMMARY_KINDS", ()))
    props = list(getattr(d, "SUMMARY_PROPERTIES", ()))
    names = [n for n, v in source.variants.items() if v.kind in kinds and n in traces]
    if not names or not props:
        return ""
    labels = dict(getattr(d, "PROPERTIES", {}))
    rows = []
    for n in names:
        row: list[object] = [code(n)]
        for p in props:
            s = by_key.get((n, p))
            if s is None:
                row.append("holds")
            else:
                ref = by_key[(s.same_as, p)] if s.same_as else s
                row.append(f"broken, {s.length} steps" + (f" (as in {s.same_as})" if s.same_as else "")
                           + f": [reproducer](#{ref.anchor})")
        others = [p for p in traces[n] if p not in props]
        row.append(", ".join(code(p) for p in others) or "-")
        rows.append(row)
    heads = ["variant"] + [f"{getattr(labels.get(p), 'label', p)} ({code(p)})" for p in props] + ["also broken"]
    return ("## The proposals at a glance\n\nWhat each proposal variant does to the properties below; its own "
            "section lists every property it breaks.\n\n" + table(heads, rows))


def _section(s: ReproSection, by_key: dict) -> str:
    title = f"### `{s.prop}` ({s.label}): {s.length} steps"
    anchor = f'<a id="{s.anchor}"></a>\n\n'
    if s.same_as:
        ref = by_key[(s.same_as, s.prop)]
        return f"{anchor}{title}\n\nThe same {s.length} steps as in variant `{s.same_as}`: [reproducer](#{ref.anchor})."
    lines = [f"{anchor}{title}"]
    if s.setup:
        lines.append("Setup: " + "; ".join(s.setup) + ".")
    commands = list(dict.fromkeys(f"step {x.number}: `{x.command}`" for x in s.steps if x.command))
    lines.append("Host commands: " + ("; ".join(commands) if commands else "none") + ".")
    lands = [f"step {x.number}: {x.lands}" for x in s.steps if x.lands]
    lines.append("Preemptions and IPIs, in this order: " + ("; ".join(lands) if lands else "none") + ".")
    lines.append(table(["#", "who", "what to do", "kernel functions", "commit", "model step", "changes in the model"],
                       [(x.number, x.who, x.does, x.functions, x.commit, code(x.label), x.effect)
                        for x in s.steps]).rstrip("\n"))
    if s.observe:
        lines.append(f"**Observe** (after step {s.length}): {s.observe}.")
    if s.note:
        lines.append(f"**Behind it.** {s.note}")
    return "\n\n".join(lines)


def anchors(text: str) -> list[str]:
    """The section anchors of a rendered page (for checks)."""
    return re.findall(r'<a id="([^"]+)"></a>', text)
