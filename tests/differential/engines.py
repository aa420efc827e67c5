"""Every engine on one generated instance, compared with the reference answers.

A :class:`Case` holds one generated model, its instance and the reference answers
(:mod:`differential.reference`); each ``check_*`` function runs one engine and turns every
difference into a :class:`Finding`.  :meth:`Case.judge` then fails the test with the finding,
unless a :class:`KnownIssue` explains it: a disagreement already written down, with its
minimal model in ``test_regressions.py`` as an ``xfail(strict=True)`` test.  A known issue is
counted in the run's report (so it stays visible) and that engine's other checks on the model
are skipped; ``LBRSPEC_DIFF_STRICT=1`` turns every known issue back into a failure.

What must agree, per instance:

* **errors**: a write outside a variable's range is an ``EvaluationError`` in every engine
  (SPIN: a failed range assertion) if the reference has a reachable failing step, and in none
  otherwise;
* **explorers** (compiled Python explorer, vector explorer), run to the end
  (``stop_at_violation=False``): the reachable states in the same order, the number of
  transitions (and, for the compiled explorer, the edges themselves), the depth, the number of
  deadlock states, the goals reached and the first violation (kind, invariants, state, depth);
  run as ``lbrspec check`` runs them (stopping at the first violation): the same verdict and a
  shortest trace that the reference semantics replays into the same violation;
* **symmetry reduction**: the canonical states are one per renaming class of the reference's
  states (classes computed by brute force), the transitions are the sum of one out-degree per
  class, the same depth, deadlock classes, goals and a violation of the same kind at the same
  depth whose trace replays concretely;
* **the Hypothesis rule machine**: every step it takes is an edge of the reference graph, it
  raises an ``EvaluationError`` exactly where the reference has a failing step, and its
  invariant failures and deadlocks are the reference's;
* **Z3**: the states at the end of runs of exactly ``k`` steps (k = 0..3, before any failing
  step) are the reference's, and bounded model checking finds a violation (or a failing write)
  at the reference's shortest depth;
* **SPIN**: with nothing to report, it stores the reference's states plus one (the state before
  initialisation); otherwise its first error (an invariant, a range assertion, an invalid end
  state) is one the reference has.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from lbrspec.errors import EvaluationError
from lbrspec.explicit.compile import compile_instance
from lbrspec.explicit.explore import ExploreResult, explore
from lbrspec.explicit.instance import Instance, State
from lbrspec.explicit.replay import replay
from lbrspec.explicit.vexplore import explore_vector
from lbrspec.export.promela import to_promela
from lbrspec.pbt import rule_machine
from lbrspec.pbt.failures import Deadlocked, InvariantViolated
from lbrspec.smt.bmc import bmc

from .genmodel import GeneratedModel
from .reference import FirstViolation, Reference, reference_bfs
from .report import REPORT

STRICT = bool(os.environ.get("LBRSPEC_DIFF_STRICT"))


@dataclass
class Finding:
    """One difference between an engine and the reference."""

    engine: str
    kind: str
    detail: str
    data: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class KnownIssue:
    """A disagreement written down, with a predicate recognising it in a finding."""

    key: str
    engines: tuple[str, ...]
    summary: str
    regression: str  # the xfail test in test_regressions.py
    applies: Callable[["Case", Finding], bool]


class Case:
    """One generated instance, its reference answers, and the verdicts on each engine."""

    def __init__(self, gm: GeneratedModel) -> None:
        self.gm = gm
        self.inst = Instance(gm.model, gm.sizes)
        t0 = time.perf_counter()
        self.init_error: str | None = None
        try:
            self.ref = reference_bfs(self.inst)
        except EvaluationError as e:  # an initial value outside its range: nothing to explore
            self.init_error = str(e)
            self.ref = Reference(self.inst)
        REPORT.add_seconds("reference", time.perf_counter() - t0)
        self.budget = 4 * len(self.ref.states) + 200  # runaway explorations stop here

    @property
    def has_error(self) -> bool:
        return bool(self.ref.errors)

    def initial_states_agree(self) -> bool:
        """Whether the engines have initial states to compare.  When an initial value lies
        outside its variable's range (an ``init`` computed by a function can), every engine
        must refuse the instance with the reference's EvaluationError before its first step:
        the explorers, symmetry reduction, the rule machine, bmc and the Promela export."""
        if self.init_error is None:
            return True
        REPORT.with_init_error += 1
        inst = self.inst
        starts: list[tuple[str, Callable[[], object]]] = [
            ("python", lambda: explore(inst, max_states=self.budget)),
            ("vector", lambda: explore_vector(inst, symmetry=False, max_states=self.budget)),
            ("vector+symmetry", lambda: explore_vector(inst, symmetry=True, max_states=self.budget)),
            ("rule machine", lambda: run_state_machine_as_test(rule_machine(inst), settings=settings(
                max_examples=1, stateful_step_count=1, database=None, deadline=None, phases=[Phase.generate],
                suppress_health_check=list(HealthCheck)))),
            ("bmc", lambda: bmc(inst.model, inst.sizes_by_name(), depth=1)),
            ("promela", lambda: to_promela(inst)),
        ]
        for engine, start in starts:
            try:
                start()
            except EvaluationError as e:
                if str(e) != self.init_error:
                    self.judge(engine, [Finding(engine, "initial-range", f"EvaluationError {str(e)!r}, the reference {self.init_error!r}")])
                continue
            except Exception as e:  # noqa: BLE001
                self.judge(engine, [_crash(engine, Crash(e))])
                continue
            self.judge(engine, [Finding(engine, "initial-range", f"no error; the reference: {self.init_error}")])
        return False

    def judge(self, engine: str, findings: list[Finding]) -> bool:
        """Fail on the first unexplained finding; ``False`` if a known issue explained one
        (the engine's remaining checks are then skipped)."""
        REPORT.engine_runs[engine] += 1
        for f in findings:
            issue = next((k for k in KNOWN_ISSUES if engine in k.engines and k.applies(self, f)), None)
            if issue is not None and not STRICT:
                REPORT.known[issue.key] += 1
                return False
            hint = f" (matches known issue {issue.key}; LBRSPEC_DIFF_STRICT is set)" if issue else ""
            raise AssertionError(
                f"{engine} disagrees with the reference evaluator ({f.kind}){hint}: {f.detail}\n"
                f"reference: {len(self.ref.states)} states, {self.ref.transitions} transitions, "
                f"errors {[e.message for e in self.ref.errors[:3]]}, first violation {self.ref.first_violation()}"
            )
        return True


# -- the explorers ---------------------------------------------------------------------------------------


class Crash(Exception):
    """An engine raised something other than an ``EvaluationError``."""

    def __init__(self, exc: BaseException) -> None:
        super().__init__(f"{type(exc).__name__}: {exc}")
        self.exc = exc


def _run(fn: Callable[[], ExploreResult]) -> tuple[ExploreResult | None, str | None]:
    """The engine's result, or the message of its ``EvaluationError``; any other exception is
    a :class:`Crash`."""
    try:
        return fn(), None
    except EvaluationError as e:
        return None, str(e)
    except Exception as e:  # noqa: BLE001 - an engine crash is a finding, not a test error
        raise Crash(e) from e


def _crash(engine: str, c: Crash) -> Finding:
    return Finding(engine, "crash", str(c), {"exception": c.exc})


def _error_findings(case: Case, engine: str, err: str | None, r: ExploreResult | None, phase: str = "explore") -> list[Finding]:
    if case.has_error and err is None:
        assert r is not None
        return [Finding(engine, "missing-error", f"no EvaluationError; the reference has {case.ref.errors[0].message!r} "
                        f"(the engine says {r.verdict}, {r.states} states{', ' + r.stop_reason if r.stop_reason else ''})",
                        {"phase": phase})]
    if not case.has_error and err is not None:
        return [Finding(engine, "spurious-error", f"EvaluationError {err!r} at {phase} time; the reference has none", {"phase": phase})]
    return []


def _expected_verdict(case: Case, fv: FirstViolation | None) -> str:
    if fv is not None:
        return "violated"
    return "holds" if all(case.ref.goals_reached().values()) else "violated"


def _violation_of(r: ExploreResult) -> tuple[str, tuple[str, ...], State] | None:
    if r.violation is None:
        return None
    return (r.violation.kind, tuple(r.violation.names), r.state(r.violation.state_id))


def _expected_violation(case: Case, fv: FirstViolation | None) -> tuple[str, tuple[str, ...], State] | None:
    return None if fv is None else (fv.kind, fv.names, case.ref.states[fv.state])


def _full_findings(case: Case, engine: str, r: ExploreResult) -> list[Finding]:
    """A run to the end: the same states in the same order, transitions, depth, deadlocks,
    goals and first violation."""
    ref = case.ref
    out: list[Finding] = []
    if not r.complete:
        return [Finding(engine, "incomplete", f"the run stopped: {r.stop_reason}")]
    got = [r.state(i) for i in range(r.states)]
    if got != ref.states:
        extra = [s for s in got if s not in ref.index][:3]
        out.append(Finding(engine, "states", f"{r.states} states, the reference {len(ref.states)}; not in the reference: {extra}"))
    figures = {"transitions": (r.transitions, ref.transitions), "depth": (r.depth, ref.max_depth),
               "deadlocks": (r.deadlocks, len(ref.deadlocks()))}
    for what, (a, b) in figures.items():
        if a != b:
            out.append(Finding(engine, what, f"{what} {a}, the reference {b}"))
    goals = {g.name: g.reached for g in r.goals}
    if goals != ref.goals_reached():
        out.append(Finding(engine, "goals", f"goals reached {goals}, the reference {ref.goals_reached()}"))
    want = _expected_violation(case, ref.first_violation())
    if _violation_of(r) != want:
        out.append(Finding(engine, "violation", f"first violation {_violation_of(r)}, the reference {want}",
                           {"per_layer": _expected_violation(case, ref.first_violation(per_layer=True)), "got": _violation_of(r)}))
    return out


def _stop_findings(case: Case, engine: str, r: ExploreResult, exact_state: bool = True) -> list[Finding]:
    """A run as ``lbrspec check`` does it: the verdict, and a shortest trace to the first
    violation that the reference semantics replays into that violation."""
    fv = case.ref.first_violation()
    out: list[Finding] = []
    if r.verdict != _expected_verdict(case, fv):
        out.append(Finding(engine, "verdict", f"verdict {r.verdict}, expected {_expected_verdict(case, fv)}",
                           {"got": _violation_of(r) if r.violation else None,
                            "per_layer": _expected_violation(case, case.ref.first_violation(per_layer=True))}))
        return out
    if fv is None:
        return out
    assert r.violation is not None
    v = r.violation
    if (v.kind, len(v.trace)) != (fv.kind, fv.depth) or (exact_state and (tuple(v.names), r.state(v.state_id)) != (fv.names, case.ref.states[fv.state])):
        out.append(Finding(engine, "violation", f"stopped at {v.kind} {v.names} after {len(v.trace)} steps, "
                           f"expected {fv.kind} {list(fv.names)} after {fv.depth}",
                           {"got": _violation_of(r), "per_layer": _expected_violation(case, case.ref.first_violation(per_layer=True))}))
        return out
    res = replay(case.inst, v.trace)
    if not res.ok:
        out.append(Finding(engine, "trace", f"the counterexample does not replay: {res.reason}"))
    elif v.kind == "invariant" and res.final_violations != list(v.names):
        out.append(Finding(engine, "trace", f"the counterexample ends violating {res.final_violations}, not {v.names}"))
    elif v.kind == "deadlock" and case.ref.index[res.states[-1]] not in case.ref.deadlocks():
        out.append(Finding(engine, "trace", "the deadlock counterexample ends in a state with successors"))
    return out


def crash_safe(engine: str) -> Callable[[Callable[[Case], None]], Callable[[Case], None]]:
    """Turn an engine crash (any exception but an ``EvaluationError``) into a finding."""

    def deco(check: Callable[[Case], None]) -> Callable[[Case], None]:
        def run(case: Case) -> None:
            try:
                check(case)
            except AssertionError:
                raise  # a finding already judged (or a check's own assertion)
            except Crash as c:
                case.judge(engine, [_crash(engine, c)])
            except Exception as e:  # noqa: BLE001
                case.judge(engine, [_crash(engine, Crash(e))])

        run.__name__ = check.__name__
        run.__doc__ = check.__doc__
        return run

    return deco


def _judge_stop_run(case: Case, engine: str, fn: Callable[[], ExploreResult], exact_state: bool = True) -> None:
    """Run as ``lbrspec check`` does (stopping at the first violation) and judge it."""
    r, err = _run(fn)
    if r is None:
        case.judge(engine, [Finding(engine, "spurious-error", f"EvaluationError {err!r} when stopping at the first violation")])
    else:
        case.judge(engine, _stop_findings(case, engine, r, exact_state))


@crash_safe("python")
def check_python(case: Case) -> None:
    """The compiled explorer (``lbrspec check --engine python``)."""
    engine = "python"
    t0 = time.perf_counter()
    try:
        comp = compile_instance(case.inst)
    except EvaluationError as e:
        case.judge(engine, [] if case.has_error else [Finding(engine, "spurious-error", f"EvaluationError {str(e)!r} at compile time", {"phase": "compile"})])
        return
    r, err = _run(lambda: explore(case.inst, compiled=comp, stop_at_violation=False, keep_graph=True, max_states=case.budget, max_seconds=30))
    findings = _error_findings(case, engine, err, r)
    if not findings and r is not None:
        findings = _full_findings(case, engine, r)
        if not findings:
            findings = _edge_findings(case, r)
    if case.judge(engine, findings) and not case.has_error:
        _judge_stop_run(case, engine, lambda: explore(case.inst, compiled=comp))
    REPORT.add_seconds(engine, time.perf_counter() - t0)


def _edge_findings(case: Case, r: ExploreResult) -> list[Finding]:
    assert r.edges is not None and r.compiled is not None
    acts = r.compiled.actions
    got = Counter((s, acts[a].action.name, acts[a].params, t) for s, t, a in r.edges)
    names = [a.name for a in case.inst.model.actions]
    want = Counter((s, names[e.action], e.params, e.target) for s in range(len(case.ref.states)) for e in case.ref.out[s])
    if got != want:
        diff = list((got - want).items())[:2] + list((want - got).items())[:2]
        return [Finding("python", "edges", f"the reachable graph's edges differ, e.g. {diff}")]
    return []


@crash_safe("vector")
def check_vector(case: Case) -> None:
    """The vector explorer without symmetry reduction."""
    engine = "vector"
    t0 = time.perf_counter()
    r, err = _run(lambda: explore_vector(case.inst, stop_at_violation=False, max_states=case.budget, max_seconds=30))
    findings = _error_findings(case, engine, err, r)
    if not findings and r is not None:
        findings = _full_findings(case, engine, r)
    if case.judge(engine, findings) and not case.has_error:
        _judge_stop_run(case, engine, lambda: explore_vector(case.inst))
    REPORT.add_seconds(engine, time.perf_counter() - t0)


@crash_safe("vector+symmetry")
def check_symmetry(case: Case) -> None:
    """The vector explorer with symmetry reduction: one canonical state per renaming class."""
    engine = "vector+symmetry"
    t0 = time.perf_counter()
    r, err = _run(lambda: explore_vector(case.inst, symmetry=True, stop_at_violation=False, max_states=case.budget, max_seconds=30))
    findings = _error_findings(case, engine, err, r)
    if not findings and r is not None:
        findings = _symmetry_findings(case, r)
    if case.judge(engine, findings) and not case.has_error:
        _judge_stop_run(case, engine, lambda: explore_vector(case.inst, symmetry=True), exact_state=False)
    REPORT.add_seconds(engine, time.perf_counter() - t0)


def _symmetry_findings(case: Case, r: ExploreResult) -> list[Finding]:
    engine = "vector+symmetry"
    ref = case.ref
    if not r.complete:
        return [Finding(engine, "incomplete", f"the run stopped: {r.stop_reason}")]
    classes = ref.orbits()
    REPORT.orbits += len(classes)
    rep_of = {sid: rep for rep, members in classes.items() for sid in members}
    canon = [r.state(i) for i in range(r.states)]
    unknown = [c for c in canon if c not in ref.index]
    if unknown:
        return [Finding(engine, "states", f"canonical states the reference never reaches: {unknown[:3]}")]
    hit = Counter(rep_of[ref.index[c]] for c in canon)
    if len(canon) != len(classes) or set(hit) != set(classes):
        twice = [k for k, n in hit.items() if n > 1][:2]
        return [Finding(engine, "orbits", f"{len(canon)} canonical states for {len(classes)} renaming classes"
                        f"{'; classes stored twice: ' + str(twice) if twice else ''}")]
    out: list[Finding] = []
    dead = set(ref.deadlocks())
    want = {
        "transitions": sum(len(ref.out[m[0]]) for m in classes.values()),
        "depth": ref.max_depth,
        "deadlocks": sum(1 for m in classes.values() if dead & set(m)),
    }
    got = {"transitions": r.transitions, "depth": r.depth, "deadlocks": r.deadlocks}
    for k in want:
        if got[k] != want[k]:
            out.append(Finding(engine, k, f"{k} {got[k]}, expected {want[k]} (one per renaming class)"))
    goals = {g.name: g.reached for g in r.goals}
    if goals != ref.goals_reached():
        out.append(Finding(engine, "goals", f"goals reached {goals}, the reference {ref.goals_reached()}"))
    fv = ref.first_violation()
    v = r.violation
    if (fv is None) != (v is None):
        out.append(Finding(engine, "violation", f"violation {v and (v.kind, v.names)}, expected {fv}",
                           {"got": _violation_of(r) if v else None, "per_layer": _expected_violation(case, ref.first_violation(per_layer=True))}))
    elif fv is not None and v is not None:
        sid = ref.index[r.state(v.state_id)]
        ok = v.kind == fv.kind and ref.depth[sid] == fv.depth and (
            tuple(v.names) == ref.violated[sid] if v.kind == "invariant" else sid in dead
        )
        if not ok:
            out.append(Finding(engine, "violation", f"first violation {v.kind} {v.names} at depth {ref.depth[sid]}, "
                               f"expected {fv.kind} {list(fv.names)} at depth {fv.depth}",
                               {"got": (v.kind, tuple(v.names), r.state(v.state_id)),
                                "per_layer": _expected_violation(case, ref.first_violation(per_layer=True))}))
    return out


# -- the Hypothesis rule machine ----------------------------------------------------------------------


@dataclass
class Walk:
    states: list[State]
    steps: list[tuple[str, tuple[int, ...]]]


def _drive(inst: Instance, examples: int, steps: int) -> tuple[list[Walk], BaseException | None]:
    """Run the model's rule machine under Hypothesis (a few short walks, no shrinking) and
    return every walk it took and what it raised."""
    machine = rule_machine(inst)
    walks: list[Walk] = []

    def teardown(self) -> None:
        walks.append(Walk(list(self.states), [(a.name, p) for a, p in self.steps]))
        machine.teardown(self)

    # A module without source: Hypothesis keys the run by the class's source if it can read
    # it, and reading it means parsing a whole file, three times per run.
    recorder = type("Recorder", (machine,), {"teardown": teardown, "__module__": "differential.generated"})

    raised: BaseException | None = None
    try:
        run_state_machine_as_test(recorder, settings=settings(
            max_examples=examples, stateful_step_count=steps, derandomize=True, database=None, deadline=None,
            phases=[Phase.generate], report_multiple_bugs=False, print_blob=False,
            suppress_health_check=list(HealthCheck),
        ))
    except (InvariantViolated, Deadlocked, EvaluationError) as e:
        raised = e
    return walks, raised


@crash_safe("rule machine")
def check_rule_machine(case: Case, examples: int = 3, steps: int = 12) -> None:
    """Walks of the rule machine, on the model and on a copy without invariants (so walks
    go on past violations): every step an edge of the reference graph, failures where the
    reference has them."""
    engine = "rule machine"
    t0 = time.perf_counter()
    violations = any(case.ref.violated)
    for strip in (False, True) if violations else (False,):
        model = dataclasses.replace(case.gm.model, invariants=()) if strip else case.gm.model
        inst = Instance(model, case.gm.sizes)
        try:
            walks, raised = _drive(inst, 1 if violations and not strip else examples, steps)
        except EvaluationError as e:  # raised while building the machine (compiling)
            case.judge(engine, [Finding(engine, "spurious-error", f"rule_machine() raised EvaluationError {str(e)!r}", {"phase": "compile"})])
            break
        REPORT.rule_steps += sum(len(w.steps) for w in walks)
        REPORT.rule_walks += len(walks)
        if not case.judge(engine, _walk_findings(case, walks, raised, strip)):
            break
    REPORT.add_seconds(engine, time.perf_counter() - t0)


def _walk_findings(case: Case, walks: list[Walk], raised: BaseException | None, stripped: bool) -> list[Finding]:
    engine = "rule machine"
    ref = case.ref
    initial = {ref.states[s] for s in ref.initial}
    for w in walks:
        # the walk Hypothesis reports is the one whose states the exception carries (for an
        # EvaluationError, which carries none: the last walk and its copies)
        failing_states = getattr(raised, "states", None)
        if failing_states is not None:
            last_walk = w.states == list(failing_states)
        else:
            last_walk = raised is not None and (w.states, w.steps) == (walks[-1].states, walks[-1].steps)
        if not w.states:
            continue
        if w.states[0] not in initial:
            return [Finding(engine, "rule-initial", f"walk starts in {w.states[0]}, not an initial state")]
        for i, s in enumerate(w.states):
            sid = ref.index.get(s)
            if sid is None:
                return [Finding(engine, "rule-step", f"walk reaches {s}, which the reference never reaches", {"source": ref.index.get(w.states[i - 1])})]
            # Hypothesis may meet more than one failing walk before the one it reports: a walk
            # that ends where the reference fails the same way failed there too
            at_end = raised is not None and i == len(w.states) - 1
            failed_here = at_end and (last_walk
                                      or (isinstance(raised, InvariantViolated) and bool(ref.violated[sid]))
                                      or (isinstance(raised, EvaluationError) and bool(ref.errors_from(sid))))
            if isinstance(raised, EvaluationError) and failed_here:
                if not ref.errors_from(sid):
                    return [Finding(engine, "rule-error", f"EvaluationError {raised} in {s}; the reference has no failing step there")]
            elif ref.errors_from(sid):
                return [Finding(engine, "rule-no-error", f"no EvaluationError in {s}; the reference has {ref.errors_from(sid)[0].message!r}", {"source": sid})]
            if i + 1 < len(w.states):
                name, params = w.steps[i]
                if (name, params, w.states[i + 1]) not in ref.edge_labels(sid):
                    return [Finding(engine, "rule-step", f"step {name}{params} from {s} to {w.states[i + 1]} is not an edge of the reference graph", {"source": sid})]
            # (arriving, the machine computes the successors before it checks the invariants)
            if not stripped and ref.violated[sid] and not failed_here:
                return [Finding(engine, "rule-violation", f"no invariant failure in {s}, which violates {ref.violated[sid]}")]
        if last_walk and isinstance(raised, InvariantViolated):
            sid = ref.index[w.states[-1]]
            if tuple(raised.names) != ref.violated[sid]:
                return [Finding(engine, "rule-violation", f"reports {raised.names} in {w.states[-1]}, the reference {ref.violated[sid]}")]
        if last_walk and isinstance(raised, Deadlocked):
            sid = ref.index[w.states[-1]]
            if ref.out[sid] or ref.errors_from(sid):
                return [Finding(engine, "rule-deadlock", f"reports a deadlock in {w.states[-1]}, which has successors")]
    return []


# -- Z3 -----------------------------------------------------------------------------------------------------

BMC_MAX_DEPTH = 5
BMC_MAX_FRONTIER = 300


@crash_safe("bmc")
def check_bmc(case: Case) -> None:
    """States at the end of k-step runs against the reference, and the shortest violation."""
    from lbrspec.smt.bmc import bmc, states_at_depth

    engine = "bmc"
    t0 = time.perf_counter()
    ref = case.ref
    model, sizes = case.gm.model, case.gm.sizes
    findings: list[Finding] = []
    sources = ref.error_sources()
    for k in range(4):
        if k > 0 and ref.frontier_ids(k - 1) & sources:
            break  # a failing step before k: the k-step states would include out-of-range values
        want = ref.frontier(k)
        if len(want) > BMC_MAX_FRONTIER:
            break
        got = states_at_depth(model, sizes, k, limit=len(want) + 10)
        REPORT.bmc_layers += 1
        if got != want:
            findings.append(Finding(engine, "bmc-layer", f"{len(got)} states after exactly {k} steps, the reference {len(want)}; "
                                    f"only Z3: {sorted(got - want)[:3]}, only the reference: {sorted(want - got)[:3]}"))
            break
    if not findings:
        bad = ref.bad_depth()
        depth = min(bad, BMC_MAX_DEPTH) if bad is not None else BMC_MAX_DEPTH
        try:
            res = bmc(model, sizes, depth=depth, timeout=60)
            err = None
        except EvaluationError as e:
            res, err = None, str(e)
        if bad is None or bad > BMC_MAX_DEPTH:
            if err is not None or res is None or res.verdict != "holds":
                findings.append(Finding(engine, "bmc-verdict", f"{err or (res and res.verdict)} within {depth} steps; the reference has nothing to find"))
        elif err is not None:
            if not any(ref.depth[e.source] + 1 == bad for e in ref.errors):
                findings.append(Finding(engine, "bmc-verdict", f"EvaluationError {err!r}; the reference has no failing step at depth {bad}"))
        else:
            assert res is not None
            last = case.inst.encode(res.trace.states[-1]) if res.trace is not None else None
            sid = ref.index.get(last) if last is not None else None
            if res.verdict != "violated" or len(res.trace) != bad or sid is None or tuple(res.violated) != ref.violated[sid]:
                findings.append(Finding(engine, "bmc-verdict", f"{res.verdict} {res.violated} after {res.trace and len(res.trace)} steps; "
                                        f"the reference's shortest violation or failing step is at depth {bad}"))
    case.judge(engine, findings)
    REPORT.add_seconds(engine, time.perf_counter() - t0)


# -- SPIN -------------------------------------------------------------------------------------------------


def _spin_error(output: str) -> str | None:
    """What SPIN's first error was: ``inv:<name>``, ``range`` or ``deadlock``."""
    import re

    m = re.search(r"assertion violated \(inv_([A-Za-z0-9_]+)", output)
    if m:
        return f"inv:{m.group(1)}"
    if "assertion violated" in output:
        return "range"
    if "invalid end state" in output:
        return "deadlock"
    return None


@dataclass
class PanResult:
    states: int
    errors: int
    output: str


def run_pan(inst: Instance, workdir: str, invariants: list[str] | None, expected_states: int) -> PanResult:
    """Export ``inst`` and run SPIN's verifier as :func:`lbrspec.export.spin.run_spin` does
    (``spin -o2 -a``, ``gcc -DNOREDUCE -DSAFETY``, ``./pan``), but compiled with ``-O0``: four
    times faster to compile, and the verdicts do not depend on gcc's optimisation
    (``tests/test_spin.py`` runs ``run_spin`` itself)."""
    import math
    import re
    import subprocess
    from pathlib import Path

    from lbrspec.export.promela import to_promela

    wd = Path(workdir)
    wd.mkdir(parents=True, exist_ok=True)
    (wd / "model.pml").write_text(to_promela(inst, invariants=invariants))
    subprocess.run(["spin", "-o2", "-a", "model.pml"], cwd=wd, check=True, capture_output=True, timeout=300)
    subprocess.run(["gcc", "-O0", "-DNOREDUCE", "-DSAFETY", "-o", "pan", "pan.c"], cwd=wd, check=True, capture_output=True, timeout=300)
    hashbits = max(18, math.ceil(math.log2(max(2, expected_states))) + 1)
    proc = subprocess.run(["./pan", f"-w{hashbits}", f"-m{max(100_000, 4 * expected_states)}"], cwd=wd,
                          capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    if "max search depth too small" in out:
        raise RuntimeError("SPIN's search depth limit was too small")
    states = re.search(r"(\d+) states, stored", out)
    errors = re.search(r"errors: (\d+)", out)
    if states is None or errors is None:
        raise RuntimeError(f"cannot read pan's output:\n{out[-1000:]}")
    return PanResult(int(states.group(1)), int(errors.group(1)), out)


@crash_safe("spin")
def check_spin(case: Case) -> None:
    """SPIN on the exported Promela: states stored, and the first error it finds."""
    from lbrspec.export.promela import SPIN_EXTRA_STATES

    engine = "spin"
    t0 = time.perf_counter()
    ref = case.ref
    dead, errors = ref.deadlocks(), ref.errors
    violations = any(ref.violated)
    # With invariants violated but nothing else to stop it, a second run without invariants
    # compares the state count too; both runs go at once.
    runs: list[list[str] | None] = [None] + ([[]] if violations and not dead and not errors else [])
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(len(runs)) as pool:
        futs = [pool.submit(run_pan, case.inst, f"{tmp}/{i}", inv, len(ref.states)) for i, inv in enumerate(runs)]
        results = [f.result() for f in futs]
    REPORT.spin_runs += len(results)
    findings: list[Finding] = []
    possible = {f"inv:{n}" for v in ref.violated for n in v} | ({"range"} if errors else set()) | ({"deadlock"} if dead else set())
    for inv, res in zip(runs, results):
        allowed = possible if inv is None else possible & {"range", "deadlock"}
        kind = _spin_error(res.output)
        if res.errors == 0:
            if allowed:
                findings.append(Finding(engine, "spin-verdict", f"no error; the reference has {sorted(allowed)}"))
            elif res.states != len(ref.states) + SPIN_EXTRA_STATES:
                findings.append(Finding(engine, "spin-count", f"{res.states} states stored, the reference {len(ref.states)} + {SPIN_EXTRA_STATES}"
                                        f" ({'no invariants' if inv == [] else 'every invariant'} asserted)", {"invariants": inv}))
            else:
                REPORT.spin_counts += 1
        elif kind not in allowed:
            findings.append(Finding(engine, "spin-verdict", f"first error {kind}; the reference has {sorted(allowed) or 'none'}\n{res.output[-1500:]}"))
    case.judge(engine, findings)
    REPORT.add_seconds(engine, time.perf_counter() - t0)


# -- known disagreements --------------------------------------------------------------------------------


KNOWN_ISSUES: list[KnownIssue] = [
]


def known_issue(key: str) -> KnownIssue:
    return next(k for k in KNOWN_ISSUES if k.key == key)


ALL_EXPLICIT: list[Callable[[Case], None]] = [check_python, check_vector, check_symmetry, check_rule_machine]
