"""Generating ``docs/`` from a model, so that the docs cannot drift from it.

:func:`compute` runs everything the pages need once for one model module (see
:mod:`lbrspec.modelref`): the default variant's reachable graph, its analysis and liveness, each
variant's counterexample; :func:`render` turns those facts into files: a path relative to the
docs folder and its text.  What only a model can say (its projections, its fairness
demonstrations, sentences about its subject) comes from the model module's ``DOC_*`` attributes
and ``doc_fairness_demos``; everything else is computed the same way for every model.  The pages:

* ``README.md``: the model, its sorts and variants, and how the machines compose (who reads
  whom, which machine transitions each synchronised step runs);
* ``machines/<machine>.md``: one page per machine: its diagram, variables, transitions with
  their guards and updates, and the patches of the series it reflects;
* ``properties.md``: the property catalogue: every invariant, goal and liveness property, the
  patch it comes from, the engines that check it, its status on the default variant and the
  variants that break it;
* ``analysis.md``: the graph analysis of the default variant, the liveness verdicts, and
  projections of the reachable graph;
* ``gallery/``: each variant's counterexample as a sequence diagram and as text.

Every diagram is also written as Graphviz DOT next to its page.  Nothing depends on the clock
or the machine (no timings, no dates), so the same model gives the same bytes.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import inspect
import re
from dataclasses import dataclass, field
from typing import Callable

from ..analysis.liveness import LivenessResult, check_liveness
from ..analysis.stategraph import StateGraph
from ..analysis.summary import GraphSummary, summarise
from ..diagrams import dot, mermaid
from ..diagrams.figure import StateDiagram
from ..diagrams.machines import choose_view, machine_diagram
from ..diagrams.projection import Projection, project
from ..diagrams.sequence import default_lanes, sequence
from ..explicit.explore import ExploreResult, explore
from ..explicit.vexplore import explore_vector
from ..explicit.instance import Instance
from ..lang.domains import BoolDomain, Domain, EnumDomain, RangeDomain, SortDomain, UnionDomain
from ..lang.expr import ANY, Expr, Local, as_domain, coerce, expand, vars_read
from ..lang.liveness import STRONG, Liveness
from ..lang.pretty import show, show_update
from ..lang.spec import Invariant, Model, Variant
from ..modelref import FairnessDemo, ModelModule, load_model
from ..trace import Trace
from ..trace.text import render as render_text
from . import reproducers
from .markdown import MARKER_DOT, block, code, page, table

Progress = Callable[[str], None]


@dataclass
class VariantFacts:
    variant: Variant
    model: Model
    trace: Trace | None  # the counterexample of the property the variant is expected to break (else the first)
    found: str  # what the check found, in words
    steps: int | None
    liveness: list[LivenessResult] = field(default_factory=list)
    #: every property the check found broken, with its own shortest counterexample's length
    broken: list[tuple[str, int]] = field(default_factory=list)
    traces: dict[str, Trace] = field(default_factory=dict)  # property -> its shortest counterexample
    #: the reachable graph of the docs' graph instance projected on what the broken property reads,
    #: the nodes holding violating states highlighted
    projection: Projection | None = None


@dataclass
class Facts:
    source: ModelModule
    model: Model
    inst: Instance
    result: ExploreResult
    graph: StateGraph
    summary: GraphSummary
    props: tuple[Liveness, ...]
    liveness: list[LivenessResult]
    fairness_demos: list[tuple[str, str, str, LivenessResult]]  # (file stem, title, explanation, result)
    variants: dict[str, VariantFacts]
    machine_figures: dict[str, StateDiagram]
    projections: list[tuple[str, str, Projection]]
    engines: dict[str, str]
    proofs: dict[str, str] = dataclasses.field(default_factory=dict)  # invariant -> Z3 proof status
    graph_inst: Instance | None = None  # the instance of the graph pages (default: inst)


def proof_status(model: Model, lemmas: list[Invariant], sizes: dict[str, int] | None = None) -> dict[str, str]:
    """Z3's verdict per invariant, finite instance and every size (empty without lbrspec.smt),
    with the model's lemmas (none for a model without ``LEMMAS``)."""
    if importlib.util.find_spec("lbrspec.smt") is None:
        return {}
    from lbrspec.smt.induction import prove

    finite = prove(model, lemmas, sizes, timeout=120)
    every = prove(model, lemmas, all_sizes=True, timeout=120)
    out = {}
    for inv in model.invariants:
        a, b = finite.row(inv.name).status, every.row(inv.name).status
        if b == "proven":
            out[inv.name] = "proven inductive for every size (Z3)"
        elif a == "proven":
            out[inv.name] = f"proven inductive on the default instance (Z3); every size: {b}"
        else:
            out[inv.name] = f"Z3: {a} on the default instance, {b} for every size"
    return out


def engines() -> dict[str, str]:
    """The engines present in this installation (the Z3 and Hypothesis engines are optional)."""
    out = {"explicit": "explicit-state explorer (`lbrspec check`)"}
    if importlib.util.find_spec("lbrspec.smt") is not None:
        out["z3"] = "Z3 (`lbrspec.smt`: bounded model checking and induction)"
    if importlib.util.find_spec("lbrspec.pbt") is not None:
        out["hypothesis"] = "Hypothesis (`lbrspec.pbt`: random runs checking every invariant)"
    return out


def compute(progress: Progress | None = None, source: ModelModule | None = None) -> Facts:
    """Everything the pages of ``source`` need (default: the default shipped model)."""
    source = source or load_model()
    say = progress or (lambda _msg: None)
    model = source.build()
    inst = Instance(model, source.default_sizes(model))
    say(f"exploring {model.variant.name} on {inst.describe()}")
    # a default variant may break properties (upstream_lbr's does): every one is recorded, and the
    # graph holds every reachable state, violating ones included
    result = explore_vector(inst, symmetry=True, stop_at_violation=False, prune_violations=True)
    graph_inst = Instance(model, source.doc_graph_sizes(model))
    say(f"exploring {model.variant.name} on {graph_inst.describe()} with its graph")
    graph = StateGraph(explore(graph_inst, keep_graph=True, check_deadlock=False, stop_at_violation=False))
    say("graph analysis")
    summary = summarise(graph)
    props = source.liveness(model)
    say("liveness")
    live = [r for p in props for r in check_liveness(graph, p)]
    say("fairness demonstrations")
    demos = _fairness_demos(graph, source.fairness_demos(props))
    say("machine diagrams")
    figures = {m.name: machine_diagram(graph, choose_view(graph, m.name)) for m in model.machines}
    say("projections")
    projections = [(stem, title, project(graph, terms)) for stem, title, terms in source.doc_projections()]
    variants: dict[str, VariantFacts] = {}
    for name, v in source.all_variants().items():
        if name == model.variant.name:
            continue
        say(f"variant {name}")
        variants[name] = _variant_facts(source, name, inst.sizes_by_name(), graph_inst.sizes_by_name())
    say("proofs")
    proofs = proof_status(model, [lem for _, g in source.lemma_groups(model) for lem in g], inst.sizes_by_name())
    return Facts(source, model, inst, result, graph, summary, props, live, demos, variants, figures, projections,
                 engines(), proofs, graph_inst)


def _fairness_demos(graph: StateGraph, demos: list[FairnessDemo]) -> list[tuple[str, str, str, LivenessResult]]:
    """The model's fairness demonstrations, each checked on the default graph or on the full
    graph of the instance it names."""
    out = []
    for d in demos:
        g = graph
        if d.sizes is not None:
            small = Instance(graph.instance.model, d.sizes)
            g = StateGraph(explore(small, keep_graph=True, stop_at_violation=False, check_deadlock=False))
        res = check_liveness(g, d.prop, only=dict(d.only))[0]
        out.append((d.stem, d.title, d.why, res))
    return out


def _variant_facts(source: ModelModule, name: str, sizes: dict[str, int], graph_sizes: dict[str, int]) -> VariantFacts:
    model = source.build(name)
    v = model.variant
    inst = Instance(model, sizes)
    if name in source.liveness_variants:
        r = explore(Instance(model, graph_sizes), keep_graph=True, stop_at_violation=False, check_deadlock=False)
        graph = StateGraph(r)
        results = [x for p in source.liveness(model) if p.name == v.expected for x in check_liveness(graph, p)]
        bad = [x for x in results if x.verdict == "violated"]
        if bad:
            first = bad[0]
            where = f" for {', '.join(f'{k}={x}' for k, x in first.binding.items())}" if first.binding else ""
            found = (f"liveness property {first.name} violated{where}: "
                     f"a prefix of {first.prefix_length} steps and a loop of {first.loop_length}")
            return VariantFacts(v, model, first.lasso, found, len(first.lasso) if first.lasso else None, results)
        return VariantFacts(v, model, None, "every liveness property holds", None, results)
    r = explore_vector(inst, symmetry=True, stop_at_violation=False, prune_violations=True)
    if r.violation is None:
        found = "nothing: every invariant holds" if not r.goals_unreached else f"goals unreached: {', '.join(r.goals_unreached)}"
        return VariantFacts(v, model, None, found, None)
    cexs = r.violations or [r.violation]
    main = r.violation_of(v.expected) if v.expected else None
    main = main or r.violation
    broken = [(c.prop, len(c.trace)) for c in cexs]
    what = "a deadlock" if main.kind == "deadlock" else f"invariant {main.prop} violated"
    more = f"; {len(cexs)} properties broken in all" if len(cexs) > 1 else ""
    return VariantFacts(v, model, main.trace, f"{what} after {len(main.trace)} steps{more}", len(main.trace),
                        broken=broken, traces={c.prop: c.trace for c in cexs},
                        projection=_property_projection(model, main.prop, main.trace, graph_sizes))


#: The most nodes of a gallery page's projection (it is a small picture beside the trace).
GALLERY_PROJECTION_NODES = 16


def _property_projection(model: Model, prop: str | None, trace: Trace, graph_sizes: dict[str, int]) -> Projection | None:
    """The projection of the variant's reachable graph (on the docs' graph instance) on the terms
    the broken invariant reads at the bindings where the trace's last state breaks it (see
    :func:`lbrspec.diagrams.projection.property_terms`), its violating states highlighted;
    ``None`` when the property names no such term or the instance lacks its elements."""
    from ..diagrams.projection import parse_term, property_terms
    from ..errors import InputError
    from ..explicit.explain import explain

    inv = next((i for i in model.invariants if i.name == prop), None)
    if inv is None:
        return None
    inst = Instance(model, trace.sizes)
    ex = explain(inv.body, inst, inst.encode(trace.states[-1]))
    terms = property_terms(inv.body, ex.bindings)
    if not terms:
        return None
    ginst = Instance(model, graph_sizes)
    try:
        for t in terms:
            parse_term(ginst, t)
    except InputError:
        return None
    graph = StateGraph(explore(ginst, keep_graph=True, stop_at_violation=False, check_deadlock=False))
    bad = [1 - x for x in graph.values(inv.body)]
    return project(graph, terms, GALLERY_PROJECTION_NODES, highlight=bad, highlight_text=f"violate {inv.name}")


# -- rendering -----------------------------------------------------------------------------------
def render(f: Facts) -> dict[str, str]:
    """Every generated file: path relative to ``docs/`` -> text."""
    files: dict[str, str] = {}
    files["README.md"] = _overview(f)
    files["composition.dot"] = _dot(_composition_dot(f.model))
    for m in f.model.machines:
        files[f"machines/{m.name}.md"] = _machine_page(f, m.name)
        files[f"machines/{m.name}.dot"] = _dot(dot.state_diagram(f.machine_figures[m.name]))
    files["properties.md"] = _properties(f)
    files["analysis.md"] = _analysis(f)
    for stem, _title, p in f.projections:
        files[f"projections/{stem}.dot"] = _dot(dot.state_diagram(p.diagram))
    if f.source.findings():
        files["findings.md"] = _findings(f)
        for fd in f.source.findings():
            vf = f.variants.get(fd.variant)
            tr = vf.traces.get(fd.prop) if vf is not None else None
            if tr is not None:
                files[f"findings/{fd.key}.dot"] = _dot(dot.sequence_diagram(sequence(tr, vf.model)))
    if f.source.reproducers() is not None:
        files["reproducers.md"] = reproducers.render(f.source, reproducers.from_facts(f), f.model.name)
    files["gallery/README.md"] = _gallery_index(f)
    for name, vf in f.variants.items():
        files[f"gallery/{name}.md"] = _gallery_page(f, vf)
        if vf.trace is not None:
            files[f"gallery/{name}.dot"] = _dot(dot.sequence_diagram(sequence(vf.trace, vf.model)))
        if vf.projection is not None:
            files[f"gallery/{name}-projection.dot"] = _dot(dot.state_diagram(vf.projection.diagram))
    for stem, title, explain, res in f.fairness_demos:
        files[f"gallery/{stem}.md"] = _demo_page(f, stem, title, explain, res)
        if res.lasso is not None:
            files[f"gallery/{stem}.dot"] = _dot(dot.sequence_diagram(sequence(res.lasso, f.model)))
    return dict(sorted(files.items()))


def _dot(text: str) -> str:
    return f"{MARKER_DOT}\n{text}"


_CITATION = re.compile(r"^(?P<label>.*?)(?: '(?P<title>.*)')?$", re.DOTALL)


def _citation(text: str) -> tuple[str, str] | None:
    """A ``patch`` field as (label, title): ``patch 12/14 'KVM/x86/lbr: lbr emulation'`` gives
    ``patch 12/14`` and the quoted title; an empty field cites nothing."""
    m = _CITATION.match(text.strip())
    if not m or not m.group("label"):
        return None
    return m.group("label"), m.group("title") or ""


def _natural(label: str) -> list[object]:
    """Sort key that orders ``patch 3/14`` before ``patch 12/14``."""
    return [(0, int(x), "") if x.isdigit() else (1, 0, x) for x in re.split(r"(\d+)", label)]


def _first_para(doc: str) -> str:
    return doc.strip().split("\n\n", 1)[0].replace("\n", " ")


def _domain(d: Domain) -> str:
    if isinstance(d, BoolDomain):
        return "bool"
    if isinstance(d, EnumDomain):
        return " | ".join(d.members)
    if isinstance(d, UnionDomain):
        return " | ".join(list(d.consts) + [f"{c}({s.name})" for c, s in d.ctors])
    if isinstance(d, SortDomain):
        return d.sort.name
    if isinstance(d, RangeDomain):
        return d.name
    return d.name


def _init(v) -> str:
    init = v.init
    if init is ANY:
        return "any"
    if callable(init) and not isinstance(init, Expr):
        names = list(inspect.signature(init).parameters)[: len(v.index)]
        locs = tuple(Local(n, d) for n, d in zip(names, v.index))
        return show(coerce(init(*locs), v.dom))
    values = init if isinstance(init, (list, tuple)) else [init]
    return " or ".join(show(coerce(x, v.dom)) for x in values)


def _overview(f: Facts) -> str:
    m = f.model
    src = f.source
    project = src.is_project_default  # the project's docs/ also holds the hand-written architecture and guide
    intro = (
        f"{_first_para(m.doc)}\n\n"
        + ("This page and the others in `docs/` (except the hand-written [architecture](architecture.md), "
           "[language guide](language.md), [pictures](pictures.md) and [web explorer](explorer.md) pages) are generated "
           if project else "This page and the others in this folder are generated ")
        + f"by `lbrspec docs` from the model in `{src.source}`; `lbrspec docs --check` fails when they are stale. "
        f"Every check is run on the default instance, {f.inst.describe()}"
        + (f"; the pages drawn from the reachable graph (analysis, liveness, machine diagrams, projections) use "
           f"{_graph_inst(f).describe()}, whose graph fits in memory." if _graph_inst(f) is not f.inst
           and _graph_inst(f).sizes_by_name() != f.inst.sizes_by_name() else ".")
    )
    pages = "\n".join([
        "## Pages",
        "",
        "- [Property catalogue](properties.md): every invariant, goal and liveness property, its patch, engines, status.",
        f"- [Graph analysis, liveness and projections](analysis.md) of the {m.variant.name} reachable graph.",
        "- [Counterexample gallery](gallery/README.md): each variant's counterexample as a sequence diagram and as text.",
    ] + ([f"- [Findings](findings.md): {len(src.findings())} places where the code breaks the design's promises, each "
          "with its shortest trace and its fix."] if src.findings() else []) + (
        [("- [Reproducers](reproducers.md): every property each variant breaks, its shortest trace as steps a kernel "
          "developer can take, each with its kernel functions and commit.")] if src.reproducers() is not None else []) + [
        "- Machines: " + ", ".join(f"[{x.name}](machines/{x.name}.md)" for x in m.machines) + ".",
    ] + (["- [Architecture](architecture.md) of lbrspec itself (hand-written).",
          "- [Pictures before and after](pictures.md): how the sequence, machine and composition diagrams show the "
          "race (hand-written).",
          "- [Writing a model](language.md): a guide to the model language (hand-written).",
          "- [The web explorer](explorer.md): `lbrspec serve`, stepping through states and counterexamples in a browser "
          "(hand-written)."] if project else []))
    sorts = table(["sort", "elements", "default size", "what it is"],
                  [(s.name, f"{s.prefix}0, {s.prefix}1, ...", m.default_sizes.get(s.name, ""), s.doc) for s in m.sorts])
    machines = table(
        ["machine", "variables", "reads", "patch", "what it is"],
        [(f"[{x.name}](machines/{x.name}.md)", ", ".join(v.name + ("[" + ",".join(d.sort.prefix if isinstance(d, SortDomain) else d.name for d in v.index) + "]" if v.index else "")
                                                       for v in x.vars),
          ", ".join(x.reads) or "-", x.patch or "-", x.doc) for x in m.machines],
    )
    figure = _composition_mermaid(m)
    actors, links = composition(m)
    actor_name = {g: n for g, n, _xs in actors}
    link_rows = table(["actors", "steps they share", "reads between them"],
                      [(f"{actor_name[lk.a]} – {actor_name[lk.b]}", ", ".join(code(x) for x in lk.steps) or "-",
                        ", ".join(f"{a} reads {b}" for a, b in lk.reads) or "-") for lk in links])
    sync_rows = []
    for a in m.actions:
        by_machine: dict[str, list[str]] = {}
        for p in a.parts:
            by_machine.setdefault(p.transition.machine.name, []).append(p.transition.name)
        sync_rows.append([code(a.name)] + [", ".join(by_machine.get(x.name, [])) or "" for x in m.machines])
    sync = table(["action"] + [x.name for x in m.machines], sync_rows)
    variant_rows = []
    for name, v in src.all_variants().items():
        variant_rows.append((f"[{name}](gallery/{name}.md)" if name in f.variants else name, v.kind, v.expected or "-",
                             v.patch or "-", v.description))
    return page(
        f"The {m.name} model (generated)",
        intro,
        pages,
        "## Sorts\n\n" + sorts,
        "## Machines\n\nEach machine owns its variables and may read those of the machines it declares. "
        "The picture groups the machines by the actor they belong to (the lanes of the sequence diagrams) and "
        "draws one line per pair of actors: how many synchronised steps they take part in together, and how many "
        "reads of one's variables by the other's machines; the tables below give each machine's reads and each "
        "step's parts.\n\n" + mermaid.fenced(figure)
        + "\nGraphviz: [composition.dot](composition.dot).\n\n" + link_rows + "\n" + machines,
        "## How the machines compose\n\nEach action of the product is one atomic step: a synchronised step runs "
        "several machine transitions at once (their guards conjoined, their updates united); a transition used "
        "in no synchronisation is an action of its own. The table shows, for each action, the transition each "
        "machine contributes.\n\n" + sync,
        f"## Variants\n\n{src.text('variants')}\n\n" + table(["variant", "kind", "breaks", "patch", "what changes"], variant_rows),
        f"## The model's own description\n\n{src.text('docstring')}\n\n" + block(m.doc.strip()),
    )


@dataclass
class ActorLink:
    """What connects two actors (lanes of the sequence diagrams: guest, KVM, perf core...):
    the steps in which machines of both take part, and the reads of one's variables by the other."""

    a: str
    b: str
    steps: list[str] = field(default_factory=list)
    reads: list[tuple[str, str]] = field(default_factory=list)  # (reader machine, machine read)


def composition(m: Model) -> tuple[list[tuple[str, str, list[str]]], list[ActorLink]]:
    """The machines grouped by actor (the lane map of :mod:`lbrspec.diagrams.sequence`; one actor
    per machine for a model without one): (actor id, name, machines), and one link per pair of
    actors with the synchronised steps they share and the reads between them."""
    lanes = default_lanes(m)
    group: dict[str, list[str]] = {}
    for x in m.machines:
        group.setdefault(lanes.machine_lane.get(x.name, x.name), []).append(x.name)
    names = dict(lanes.lanes)
    order = [lane for lane, _ in lanes.lanes if lane in group] + [g for g in group if g not in names]
    actors = [(g, names.get(g, g), group[g]) for g in order]
    of = {x: g for g, _n, xs in actors for x in xs}
    rank = {g: k for k, g in enumerate(order)}
    links: dict[tuple[str, str], ActorLink] = {}

    def link(a: str, b: str) -> ActorLink:
        key = tuple(sorted((a, b), key=lambda g: rank[g]))
        return links.setdefault(key, ActorLink(*key))

    for act in m.actions:
        involved = sorted({of[p.transition.machine.name] for p in act.parts}, key=lambda g: rank[g])
        for k, a in enumerate(involved):
            for b in involved[k + 1:]:
                link(a, b).steps.append(act.name)
    for x in m.machines:
        for r in x.reads:
            if of[x.name] != of.get(r, r) and r in of:
                link(of[x.name], of[r]).reads.append((x.name, r))
    return actors, sorted(links.values(), key=lambda l: (rank[l.a], rank[l.b]))


def _link_label(link: ActorLink) -> str:
    n = len(link.steps)
    parts = [f"{n} shared step{'s' if n != 1 else ''}"] if n else []
    if link.reads:
        parts.append(f"{len(link.reads)} read{'s' if len(link.reads) != 1 else ''}")
    return ", ".join(parts)


def _composition_mermaid(m: Model) -> str:
    actors, links = composition(m)
    grouped = any(len(xs) > 1 for _g, _n, xs in actors)
    out = ["flowchart LR"]
    for g, name, xs in actors:
        if grouped:
            out.append(f"    subgraph {g}[\"{name}\"]")
            for x in xs:
                out.append(f"        {x}[\"{x}\"]")
            out.append("    end")
        else:
            out.append(f"    {g}[\"{name}\"]")
    for lk in links:
        out.append(f"    {lk.a} ---|\"{_link_label(lk)}\"| {lk.b}")
    return "\n".join(out) + "\n"


def _composition_dot(m: Model) -> str:
    actors, links = composition(m)
    out = [
        "graph lbrspec_composition {",
        f"  graph [fontname=\"Helvetica\", fontsize=12, labelloc=t, compound=true, nodesep=0.5, ranksep=1.0, "
        f"label=\"{m.name}: machines grouped by actor; one line per pair of actors, with the steps they share and "
        "the reads between them\"];",
        "  node [shape=box, style=rounded, fontname=\"Helvetica\", fontsize=10];",
        "  edge [fontname=\"Helvetica\", fontsize=9, color=\"#555555\"];",
    ]
    anchor = {}
    for g, name, xs in actors:
        out.append(f"  subgraph cluster_{g} {{ label=\"{name}\"; style=\"rounded,filled\"; fillcolor=\"#f4f4f4\"; color=\"#888888\";")
        for x in xs:
            mach = m.machine(x)
            lines = [x] + [v.name for v in mach.vars]
            out.append(f"    {x} [label=\"" + "\\n".join(lines) + "\"];")
        out.append("  }")
        anchor[g] = xs[0]
    for lk in links:
        a, b = anchor[lk.a], anchor[lk.b]
        tail = f", ltail=cluster_{lk.a}" if lk.a != a else ""
        head = f", lhead=cluster_{lk.b}" if lk.b != b else ""
        style = "" if lk.steps else ", style=dashed"
        out.append(f"  {a} -- {b} [label=\"{_link_label(lk)}\"{tail}{head}{style}, penwidth={1 + min(len(lk.steps), 12) / 4:g}];")
    out.append("}")
    return "\n".join(out) + "\n"


def dot_node(node_id: str, lines: list[str]):
    from ..diagrams.figure import Node

    return Node(node_id, lines)


def _actions_with(m: Model, machine: str) -> dict[str, list[str]]:
    """transition name -> the actions it is part of."""
    out: dict[str, list[str]] = {}
    for a in m.actions:
        for p in a.parts:
            if p.transition.machine.name == machine:
                out.setdefault(p.transition.name, []).append(a.name)
    return out


def _machine_page(f: Facts, name: str) -> str:
    m = f.model
    mach = m.machine(name)
    fig = f.machine_figures[name]
    acts = _actions_with(m, name)
    variables = table(
        ["variable", "indexed by", "values", "initially", "ghost", "meaning"],
        [(code(v.name), ", ".join(d.name for d in v.index) or "-", _domain(v.dom), _init(v), "yes" if v.ghost else "",
          v.doc) for v in mach.vars],
    )
    trans_rows = []
    for t in mach.transitions:
        params = ", ".join(f"{p.name}: {p.dom.name}" for p in t.params)
        guard = "true" if show(t.guard) == "true" else show(t.guard)
        updates = "; ".join(show_update(u) for u in t.updates) or "(none)"
        trans_rows.append((code(t.name), params, code(guard), code(updates), ", ".join(acts.get(t.name, [])), t.doc))
    transitions = table(["transition", "parameters", "guard", "updates", "in actions", "what it models"], trans_rows)
    patches = _machine_patches(m, name)
    patch_rows = [(label, title, "; ".join(where)) for label, (title, where) in sorted(patches.items(), key=lambda kv: _natural(kv[0]))]
    control = ", ".join(code(v) for v in _control_names(fig))
    if not mach.vars:  # no state of its own in this variant: nothing to draw
        variables = f"None in variant {m.variant.name}.\n"
        diagram = (f"The machine has no state of its own in variant {m.variant.name}: its transitions only take part "
                   "in the steps of other machines (the table below).\n")
    else:
        diagram = (
            f"Control states of the first member of the family, over {control}, as reachable in the product "
            f"({m.variant.name}, {_graph_inst(f).describe()}): {len(fig.nodes)} states, {len(fig.edges)} transitions between them. "
            + (f"{fig.caption[0].upper()}{fig.caption[1:]}. " if fig.caption else "")
            + "Edges are labelled with the machine's transitions and their guards, abbreviated (the full guards are in "
            "the table below), and, where a transition's outcome depends on a condition of its update, with the "
            "branch it took (\"when ...\"). Graphviz: "
            f"[{name}.dot]({name}.dot).\n\n" + mermaid.fenced(mermaid.state_diagram(fig))
        )
    reads = ", ".join(f"[{r}]({r}.md)" for r in mach.reads) or "nothing outside itself"
    return page(
        f"Machine `{name}`",
        f"{mach.doc}\n\nReads: {reads}." + (f" Cites {mach.patch}." if mach.patch else "")
        + "\n\n[All machines](../README.md#machines) · [property catalogue](../properties.md)",
        "## Diagram\n\n" + diagram,
        "## Variables\n\n" + variables,
        "## Transitions\n\n" + transitions,
        f"## {f.source.text('citations_heading')}\n\n"
        + (table(["patch", "title", "where"], patch_rows) if patch_rows else f.source.text("no_citations") + "\n"),
    )


def _control_names(fig: StateDiagram) -> list[str]:
    title = fig.title
    inside = title[title.index("(") + 1: title.index(")")]
    return [x.strip() for x in inside.split(",")]


def _machine_patches(m: Model, name: str) -> dict[str, tuple[str, list[str]]]:
    """What machine ``name`` cites, and where: citation label -> (title, places)."""
    out: dict[str, tuple[str, list[str]]] = {}

    def add(patch: str, where: str) -> None:
        cited = _citation(patch)
        if cited is None:
            return
        entry = out.setdefault(cited[0], (cited[1], []))
        if where not in entry[1]:
            entry[1].append(where)

    mach = m.machine(name)
    add(mach.patch, "the machine")
    for t in mach.transitions:
        add(t.patch, f"transition {t.name}")
    for a in m.actions:
        if any(p.transition.machine is mach for p in a.parts) and a.patch:
            add(a.patch, f"action {a.name}")
    own = set(mach.vars)
    for inv in m.invariants:
        if own & vars_read(expand(inv.body)):
            add(inv.patch, f"invariant {inv.name}")
    for g in m.goals:
        if own & vars_read(expand(g.body)):
            add(g.patch, f"goal {g.name}")
    return out


def _graph_inst(f: Facts) -> Instance:
    return f.graph_inst or f.inst


def _status_invariant(f: Facts, name: str) -> str:
    kind = "canonical states" if f.result.symmetry else "states"
    broken = {c.prop: len(c.trace) for c in f.result.violations}
    if name in broken:
        explored = f"VIOLATED (shortest counterexample: {broken[name]} steps)"
    elif broken:
        explored = (f"holds in all {f.result.states:,} {kind} explored (states that break a state invariant are not "
                    "expanded)")
    else:
        explored = f"holds in all {f.result.states:,} {kind}"
    return f"{explored}; {f.proofs[name]}" if name in f.proofs else explored


def _holds_for(results: list) -> str:
    """``holds for v0, v1`` (the parameter's values), ``holds for (v=v0, p=p0)`` with several
    parameters, ``holds`` for a property without parameters."""

    def one(r) -> str:
        vals = [str(x) for x in r.binding.values()]
        text = vals[0] if len(vals) == 1 else "(" + ", ".join(f"{k}={x}" for k, x in r.binding.items()) + ")"
        return text + (" (VACUOUSLY)" if r.vacuous else "")

    if results and not any(r.binding for r in results):
        return "holds" + (" (VACUOUSLY)" if any(r.vacuous for r in results) else "")
    return "holds for " + ", ".join(one(r) for r in results)


def _properties(f: Facts) -> str:
    m = f.model
    eng = f.engines
    safety_engines = ", ".join(eng.values())
    broken: dict[str, list[str]] = {}
    for name, vf in f.variants.items():
        if vf.variant.expected:
            broken.setdefault(vf.variant.expected, []).append(
                f"[{name}](gallery/{name}.md) ({vf.steps} steps)" if vf.trace is not None else f"{name} (not caught)")
    inv_rows = [(code(i.name), i.summary, code(formula(i)), i.patch, safety_engines, _status_invariant(f, i.name),
                 "; ".join(broken.get(i.name, [])) or "-") for i in m.invariants]
    goal_status = {g.name: g for g in f.result.goals}
    goal_rows = [(code(g.name), g.summary, code(show(g.body)), g.patch, eng["explicit"],
                  "reached" if goal_status[g.name].reached else "UNREACHED") for g in m.goals]
    live_by = {}
    for r in f.liveness:
        live_by.setdefault(r.name, []).append(r)
    live_rows = []
    for p in f.props:
        rs = live_by.get(p.name, [])
        status = _holds_for([r for r in rs if r.verdict == "holds"])
        bad = [r for r in rs if r.verdict != "holds"]
        if bad:
            status = "VIOLATED for " + ", ".join(r.label for r in bad)
        live_rows.append((code(p.name), p.summary, code(f"{show(p.trigger)} ~> {show(p.goal)}"), p.patch,
                          "explicit-state explorer: fair-cycle search",
                          status, "; ".join(broken.get(p.name, [])) or "-"))
    details = []
    for p in f.props:
        fair = table(["fairness", "kind", "why"],
                     [(code(x.describe()), "strong" if x.kind == STRONG else "weak", x.why) for x in p.fairness])
        quiet = (", ".join(code(q.describe()) for q in p.quiet)) if p.quiet else "none"
        details.append(
            f"### `{p.name}`\n\n{p.doc.strip()}\n\n"
            f"- trigger: {code(show(p.trigger))}\n- goal: {code(show(p.goal))}\n"
            f"- from the trigger on, these actions no longer occur: {quiet}\n\n{fair}"
        )
    demo_rows = [(title, f"[{r.prefix_length} + {r.loop_length} steps](gallery/{stem}.md)" if r.lasso else "holds", explain)
                 for stem, title, explain, r in f.fairness_demos]
    engine_note = ("Engines present in this installation: " + "; ".join(eng.values())
                   + ". Safety invariants list every engine present; reachability goals and liveness are checked "
                   "by the explicit-state explorer.")
    on = f"status on {m.variant.name}"
    src = f.source
    fairness = ("### What the fairness assumptions buy\n\n" + src.text("fairness_intro") + "\n\n"
                + table(["assumptions", src.text("fairness_column"), "why"], demo_rows)) if demo_rows else ""
    return page(
        "Property catalogue (generated)",
        f"Every property of the model, {src.text('cites')} it comes from, the engines that check it, its "
        f"{on} ({f.inst.describe()}) and the variants that break it, each caught with the counterexample "
        f"linked. {engine_note}\n\n[Overview](README.md) · [analysis](analysis.md) · [gallery](gallery/README.md)",
        "## Safety invariants\n\nChecked in every reachable state. The formula is the model's own, printed with "
        "definitions by name (`owns(v, p)`); "
        "a step invariant is a property of every step that includes the transition named, over the state before it.\n\n"
        + table(["property", "what it says", "formula", "patch", "engines", on, "broken by"], inv_rows),
        "## Reachability goals\n\nStates (or steps) that must be reachable, so that no property holds vacuously.\n\n"
        + table(["goal", "what must be reachable", "formula", "patch", "engines", on], goal_rows),
        "## Liveness properties\n\nEach is `trigger ~> goal`: whenever the trigger holds, the goal holds then or later, "
        "in every behaviour that meets the fairness conditions and in which the listed actions no longer occur. "
        "Checked on the full reachable graph (no reduction) by a fair-cycle search over strongly connected "
        "components; a failure comes with a lasso (a prefix and a loop repeated forever).\n\n"
        + (table(["property", "what it says", "formula", "patch", "engines", on, "broken by"], live_rows) if live_rows
           else "The model declares no liveness properties.\n"),
        "\n".join(details),
        fairness,
    )


def formula(inv: Invariant) -> str:
    """An invariant's formula as written: a step invariant's property of the step, else its body."""
    if inv.on is not None and inv.step_body is not None:
        params = ", ".join(p.name for p in inv.on.params)
        return f"every step with {inv.on.qualname}({params}): {show(inv.step_body)}"
    return show(inv.body)


def _analysis(f: Facts) -> str:
    s = f.summary
    rows = [
        ("states", f"{s.states:,}"),
        ("transitions", f"{s.transitions:,} ({s.distinct_edges:,} distinct edges)"),
        ("strongly connected components", f"{s.components:,}"),
        ("actions never enabled", ", ".join(s.actions_never_enabled) or "none"),
        ("action instances never enabled", f"{len(s.instances_never_enabled)} of {s.instances_total}"
         + (": " + ", ".join(s.instances_never_enabled) if s.instances_never_enabled else "")),
        ("machine transitions never enabled", ", ".join(s.transitions_never_enabled) or "none"),
        ("sink strongly connected components", f"{len(s.sink_components)}: " + "; ".join(c.describe(6) for c in s.sink_components)),
        ("diameter", f"{s.diameter}: the longest shortest path from an initial state; a bounded check needs "
                     f"{s.diameter} steps to reach every state"),
        ("goals unreached", ", ".join(s.goals_unreached) or "none"),
    ]
    live_rows = []
    for r in f.liveness:
        live_rows.append((code(r.label), r.verdict + (" (vacuously)" if r.vacuous else ""), f"{r.trigger_states:,}",
                          "-" if r.lasso is None else f"{r.prefix_length} + {r.loop_length}"))
    proj = []
    for stem, title, p in f.projections:
        d = p.diagram
        extra = f" {d.caption}." if d.caption else ""
        proj.append(
            f"### {title}\n\nTerms: {', '.join(code(t) for t in p.terms)}. {len(d.nodes)} nodes (each with the number "
            f"of states it stands for), {len(d.edges)} edges labelled with the actions between them; steps that keep "
            f"every term's value are not drawn.{extra} Graphviz: [{stem}.dot](projections/{stem}.dot).\n\n"
            + mermaid.fenced(mermaid.state_diagram(d))
        )
    return page(
        f"Graph analysis, liveness and projections of {f.model.variant.name} (generated)",
        f"The reachable graph of {f.model.variant.name} on {_graph_inst(f).describe()}, as networkx and lbrspec's "
        "fair-cycle search see it. `lbrspec check --analysis --liveness` prints the same on any instance, and "
        "`lbrspec diagram project TERM...` draws any projection.\n\n[Overview](README.md) · "
        "[property catalogue](properties.md)",
        "## Graph analysis\n\n" + table(["what", "value"], rows),
        f"## Liveness\n\n{f.source.text('liveness_rows')}: the number of reachable states where the trigger holds and "
        "the goal does not, and the lasso (steps to the loop + steps of the loop) when it fails. The fairness each "
        "property assumes is in the [property catalogue](properties.md#liveness-properties).\n\n"
        + (table(["property", "verdict", "trigger states", "lasso"], live_rows) if live_rows
           else "The model declares no liveness properties.\n"),
        "## Projections\n\nThe reachable graph quotiented by a few terms (slots, or definitions of the model applied "
        "to slots): one node per reachable combination of their values.\n\n"
        + ("\n".join(proj) if proj else "The model declares none for its docs (`DOC_PROJECTIONS`); "
           "`lbrspec diagram project TERM...` draws any.\n"),
    )


def _gallery_index(f: Facts) -> str:
    rows = []
    for name, vf in f.variants.items():
        v = vf.variant
        rows.append((f"[{name}]({name}.md)", v.kind, v.expected or "-", v.patch or "-", vf.found))
    demos = [(f"[{title}]({stem}.md)", f"{r.prefix_length} + {r.loop_length} steps" if r.lasso else "holds")
             for stem, title, _e, r in f.fairness_demos]
    return page(
        "Counterexample gallery (generated)",
        "For each variant of the model, what `lbrspec check` finds: the shortest trace to the broken invariant (or, for "
        f"a liveness mutant, the lasso) as a sequence diagram {f.source.text('lanes')}, and as text. "
        "[Overview](../README.md) · [property catalogue](../properties.md)",
        "## Variants\n\n" + table(["variant", "kind", "breaks", "patch", "found"], rows),
        (f"## Fairness demonstrations\n\n{f.model.variant.name} checked with weaker fairness assumptions than the "
         "catalogue's (see [what the fairness assumptions buy](../properties.md#what-the-fairness-assumptions-buy)).\n\n"
         + table(["check", "lasso"], demos)) if demos else "",
    )


def _gallery_page(f: Facts, vf: VariantFacts) -> str:
    v = vf.variant
    model = vf.model
    broken = "; ".join(f"{code(p)} ({n} steps)" for p, n in vf.broken)
    head = (f"{v.description}\n\n- kind: {v.kind}\n- expected to: {v.expectation}"
            + (f" ({v.holds})" if v.holds else "")
            + f"\n- patch: {v.patch or '-'}\n- found: {vf.found}"
            + (f"\n- every property broken, each with its own shortest counterexample: {broken}" if len(vf.broken) > 1 else "")
            + "\n\n[Gallery](README.md) · [property catalogue](../properties.md)")
    if vf.trace is None:
        return page(f"Variant `{v.name}`", head, "No counterexample was found on the default instance.")
    seq = sequence(vf.trace, model)
    base = f.model.variant
    changed = ", ".join(sorted(k for k, x in v.switches.items() if x != base.switches.get(k)))
    return page(
        f"Variant `{v.name}`",
        head + (f"\n\nSwitches changed from {base.name}: {code(changed)}." if changed else ""),
        "## Sequence diagram\n\nLanes are derived from the machines of each step's transitions; notes show what "
        f"the step changed. Graphviz: [{v.name}.dot]({v.name}.dot).\n\n" + mermaid.fenced(mermaid.sequence_diagram(seq)),
        _projection_section(f, vf),
        "## As text\n\n" + block(render_text(vf.trace, model)),
    )


def _projection_section(f: Facts, vf: VariantFacts) -> str:
    p = vf.projection
    if p is None:
        return ""
    d = p.diagram
    bad = sum(1 for n in d.nodes if n.highlight)
    where = (f"the {'node' if bad == 1 else f'{bad} nodes'} in red hold{'s' if bad == 1 else ''} the states that break it"
             if bad else f"no state of this instance breaks it: the counterexample needs the larger instance")
    extra = f" {d.caption}." if d.caption else ""
    return (f"## Projection on what the property reads\n\nThe reachable graph of {vf.variant.name} on "
            f"{_graph_inst(f).describe()}, seen through {', '.join(code(t) for t in p.terms)}: what "
            f"{code(vf.variant.expected or vf.broken[0][0])} reads where the trace breaks it; {where}.{extra} "
            f"Graphviz: [{vf.variant.name}-projection.dot]({vf.variant.name}-projection.dot).\n\n"
            + mermaid.fenced(mermaid.state_diagram(d)))


def _demo_page(f: Facts, stem: str, title: str, explain: str, res: LivenessResult) -> str:
    head = f"{explain}\n\n[Gallery](README.md) · [property catalogue](../properties.md#what-the-fairness-assumptions-buy)"
    if res.lasso is None:
        return page(title, head, "The property holds even so.")
    seq = sequence(res.lasso, f.model)
    return page(
        title,
        head + f"\n\n{f.model.variant.name} fails `{res.label}` under these assumptions: {res.prefix_length} steps, then a loop of "
        f"{res.loop_length} steps repeated forever.",
        f"## Sequence diagram\n\nGraphviz: [{stem}.dot]({stem}.dot).\n\n" + mermaid.fenced(mermaid.sequence_diagram(seq)),
        "## As text\n\n" + block(render_text(res.lasso, f.model)),
    )




def _findings(f: Facts) -> str:
    """Per finding: what the code does, the property it breaks, the shortest trace, the fix."""
    rows = []
    sections = []
    for fd in f.source.findings():
        vf = f.variants.get(fd.variant)
        lengths = dict(vf.broken) if vf is not None else {}
        shown = [p for p in fd.props if p in lengths]
        length = ", ".join(f"{p}: {lengths[p]} steps" for p in shown) or "not found"
        if vf is not None and vf.liveness:
            bad = [r for r in vf.liveness if r.verdict == "violated"]
            if bad:
                length = f"lasso: {bad[0].prefix_length} + {bad[0].loop_length} steps"
        rows.append((f"[{fd.key}](#{fd.key.lower()}-{_anchor(fd.title)})", fd.title,
                     f"[{fd.variant}](gallery/{fd.variant}.md)", ", ".join(code(p) for p in fd.props), length, fd.fix))
        trace = vf.traces.get(fd.prop) if vf is not None else None
        if trace is None and vf is not None and vf.liveness:
            bad = [r for r in vf.liveness if r.verdict == "violated" and r.lasso is not None]
            trace = bad[0].lasso if bad else None
        body = [
            f"## {fd.key}: {fd.title}\n",
            f"- where: {code(fd.function)}, {fd.patch}",
            f"- breaks: {', '.join(code(p) for p in fd.props)}",
            f"- the variant that shows it on its own: [{fd.variant}](gallery/{fd.variant}.md) (switch {code(fd.switch)} off)",
            f"- raised on the list at the time: {fd.raised}\n",
            f"**What the posted code does.** {fd.code}\n",
            f"**The fix in {f.model.variant.name}.** {fd.fix} ({fd.fix_source}).\n",
        ]
        if trace is not None:
            seq = sequence(trace, vf.model)
            body.append(f"**The shortest trace** ({len(trace)} steps; Graphviz: [findings/{fd.key}.dot](findings/{fd.key}.dot)):\n")
            body.append(mermaid.fenced(mermaid.sequence_diagram(seq)))
            body.append(block(render_text(trace, vf.model)))
        sections.append("\n".join(body))
    return page(
        "Findings: where the posted code breaks the design's promises (generated)",
        f"Each finding is a place where the code {f.model.name} follows breaks a promise of the design it implements. "
        f"The default variant {code(f.model.variant.name)} applies every fix; each variant named below undoes one, so "
        "the finding shows on its own, with its own shortest trace (computed by `lbrspec check`, which reports every "
        "violated property). `lbrspec check --variant v8-posted` shows them all at once.\n\n"
        "[Overview](README.md) · [property catalogue](properties.md) · [gallery](gallery/README.md)",
        "## Summary\n\n" + table(["finding", "what", "variant", "breaks", "shortest trace", "fix"], rows),
        "\n\n".join(sections),
    )


def _anchor(title: str) -> str:
    return re.sub(r"[^a-z0-9 -]", "", title.lower()).replace(" ", "-")
