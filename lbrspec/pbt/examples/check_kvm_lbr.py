"""The conformance check of :mod:`lbrspec.pbt.examples.kvm_lbr` against the guest-LBR model.

``python -m lbrspec.pbt.examples.check_kvm_lbr`` does two things:

1. *Conformance*: the code as posted (:class:`~lbrspec.pbt.examples.kvm_lbr.PostedKvm`) is
   driven with the runs of the model's variant ``v8-posted``, the code with every fix
   (:class:`~lbrspec.pbt.examples.kvm_lbr.Kvm`) with the runs of ``v8`` (Hypothesis, seeded), and
   each is compared with the model after every step: its state, and which of the model's step
   properties the step broke.  ``--all-variants`` checks the rendering with the switches of every
   other ``v8*`` variant against that variant too.
2. *Findings*: every finding's shortest counterexample (from the variant that undoes its fix) is
   performed on the rendering with that fix undone, which must follow it, conform, and show the
   bad outcome the model predicts; and on the code as posted, which is reported
   (:mod:`lbrspec.pbt.examples.kvm_lbr_findings`).

``--broken NAME`` checks one of the deliberately broken copies of
:mod:`lbrspec.pbt.examples.kvm_lbr_broken` against ``v8`` instead, which must fail with a short
trace.  Exit status 0 when everything conforms and every finding is reproduced, 1 otherwise.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Mapping

from lbrspec_models import guest_lbr

from ... import runctl
from ...explicit.instance import Instance
from ..simulate import SimulateResult, simulate
from .kvm_lbr import Kvm, KvmAdapter, PostedKvm, fixes_of
from .kvm_lbr_broken import BROKEN
from .kvm_lbr_findings import LIVENESS_SIZES, Reproduction, reproduce_all

#: The renderings and the variant each must conform to.
RENDERINGS: dict[str, tuple[type[Kvm], str]] = {
    "posted": (PostedKvm, "v8-posted"),
    "fixed": (Kvm, "v8"),
}


def check(
    kvm_class: type[Kvm] = Kvm,
    sizes: Mapping[str, int] | None = None,
    *,
    variant: str = "v8",
    fixes: Mapping[str, bool] | None = None,
    runs: int = 500,
    steps: int = 50,
    seed: int = 0,
) -> SimulateResult:
    """Run the conformance check of ``kvm_class`` (with ``fixes``, default its own) against
    ``variant``; ``result.failure`` is the (minimized) non-conformance, if any.  The model's
    invariants are checked only for a variant expected to hold (v8): the posted code's variant
    breaks them, and its runs go on through those states."""
    model = guest_lbr.build(variant)
    inst = Instance(model, sizes)
    return simulate(inst, runs=runs, steps=steps, seed=seed, adapter=lambda: KvmAdapter(kvm_class, fixes),
                    check_invariants=model.variant.expected is None)


def variant_renderings() -> list[str]:
    """The variants a rendering is checked against with ``--all-variants``: every ``v8*`` one."""
    return [n for n in [*guest_lbr.VARIANTS, *guest_lbr.LIVENESS_VARIANTS] if n.startswith("v8")]


def _conformance_line(what: str, variant: str, r: SimulateResult) -> str:
    verdict = ("DOES NOT CONFORM" if r.failure is not None else "UNDETERMINED" if r.stop_reason is not None
               else "CONFORMS")
    return f"  {what:<38} vs {variant:<37} {verdict:<16} {r.runs:>5,} walks {r.steps:>7,} steps {r.seconds:6.1f} s"


def _finding_lines(rep: Reproduction) -> list[str]:
    cex = rep.counterexample
    kind = "lasso, unrolled twice" if cex.liveness else "shortest counterexample"
    extra = f" + {rep.trace.meta['epilogue']} handler steps" if rep.trace.meta.get("epilogue") else ""
    head = f"  {cex.finding:<4} {cex.prop} ({len(cex.trace)} steps, {kind}{extra}; variant {cex.instance.model.variant.name})"
    out = [head]
    for r in rep.replays:
        label = "fix undone" if r.rendering == "variant" else "as posted"
        if r.rendering == "variant":
            follow = "conforms at every step" if r.run.conforms else f"DOES NOT CONFORM {r.run.reason()}"
        else:
            follow = "follows the whole trace" if r.run.completed else f"stops: {r.run.reason()}"
        if r.outcome is not None:
            out.append(f"       {label:<11} YES at step {r.outcome[0]}: {r.outcome[1]} ({follow})")
        else:
            out.append(f"       {label:<11} no ({follow}); {instead(r)}")
    return out


def instead(r) -> str:
    """What the rendering's log shows of the model's step properties, when the outcome is missing."""
    from .kvm_lbr import STEP_PROPERTIES

    seen = []
    for name, hit in STEP_PROPERTIES.items():
        e = next((e for e in r.kvm.log if hit(e)), None)
        if e is not None:
            seen.append((e.step, name))
    return "it breaks instead: " + ", ".join(f"{n} at step {s}" for s, n in sorted(seen)) if seen else "nothing else goes wrong"


def parse_size(text: str) -> dict[str, int]:
    v, p, h = (int(x) for x in text.lower().split("x"))
    return {"vCPU": v, "pCPU": p, "host_user": h}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m lbrspec.pbt.examples.check_kvm_lbr", description=__doc__.splitlines()[0])
    ap.add_argument("--broken", choices=sorted(BROKEN), help="check a deliberately broken copy against v8 instead")
    ap.add_argument("--vcpus", type=int, default=2)
    ap.add_argument("--pcpus", type=int, default=2)
    ap.add_argument("--hosts", type=int, default=1)
    ap.add_argument("--runs", type=int, default=500, help="random walks per conformance check")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--all-variants", action="store_true", help="also check the rendering of every other v8* variant")
    ap.add_argument("--findings-size", type=parse_size, default=None, metavar="VxPxH",
                    help="instance the findings' counterexamples come from (default: the model's, 2x2x1)")
    ap.add_argument("--skip-conformance", action="store_true")
    ap.add_argument("--skip-findings", action="store_true")
    args = ap.parse_args(argv)
    sizes = {"vCPU": args.vcpus, "pCPU": args.pcpus, "host_user": args.hosts}

    if args.broken:
        kvm_class = BROKEN[args.broken]
        r = check(kvm_class, sizes, runs=args.runs, seed=args.seed)
        print(f"conformance of {kvm_class.__name__} with the v8 model, {r.instance.describe()}, seed {r.seed}:")
        print(f"  {r.runs:,} walks, {r.steps:,} steps in {r.seconds:.2f} s ({r.steps_per_second:,.0f} steps/s)")
        print()
        if r.failure is None:
            print("CONFORMS: the implementation agreed with the model after every step of every run.")
            return 0
        assert r.found is not None
        print(f"DOES NOT CONFORM (the failing run had {len(r.found.steps)} steps; minimized to {len(r.failure.steps)}):")
        print(r.failure.render())
        return 1

    ok = True
    stopped = False
    if not args.skip_conformance:
        desc = Instance(guest_lbr.build("v8"), sizes).describe()
        print(f"Conformance: Hypothesis walks of up to 50 steps, {desc}, seed {args.seed}, {args.runs} walks asked:")
        failures = []
        for name, (kvm_class, variant) in RENDERINGS.items():
            print(f"  ... {kvm_class.__name__} vs {variant}", file=sys.stderr, flush=True)
            r = check(kvm_class, sizes, variant=variant, runs=args.runs, seed=args.seed)
            print(_conformance_line(f"{kvm_class.__name__} (the code {'as posted' if name == 'posted' else 'with every fix'})",
                                    variant, r), flush=True)
            if r.failure is not None:
                failures.append(r)
            stopped = stopped or r.stop_reason is not None
        if args.all_variants:
            for variant in variant_renderings():
                if variant in ("v8", "v8-posted"):
                    continue
                fixes = fixes_of(guest_lbr.build(variant).variant.switches)
                print(f"  ... Kvm vs {variant}", file=sys.stderr, flush=True)
                r = check(Kvm, sizes, variant=variant, fixes=fixes, runs=args.runs, seed=args.seed)
                print(_conformance_line("Kvm with the variant's fix switches", variant, r), flush=True)
                if r.failure is not None:
                    failures.append(r)
                stopped = stopped or r.stop_reason is not None
        for r in failures:
            ok = False
            print()
            print(r.failure.render())  # type: ignore[union-attr]
        print()
    if not args.skip_findings:
        fsizes = args.findings_size
        desc = Instance(guest_lbr.build("v8"), fsizes).describe()
        ldesc = Instance(guest_lbr.build("v8"), LIVENESS_SIZES).describe()
        print(f"Findings: each property's shortest counterexample from the finding's variant ({desc}; liveness {ldesc}),")
        print("performed on the code with that fix undone (compared at every step) and on the code as posted:")
        t0 = time.perf_counter()
        reps = reproduce_all(fsizes, progress=lambda key: print(f"  ... {key}", file=sys.stderr, flush=True))
        for rep in reps:
            for line in _finding_lines(rep):
                print(line)
        good = {(rep.counterexample.finding, rep.counterexample.prop) for rep in reps
                if rep.by("variant").reproduced and rep.by("variant").run.conforms}
        posted = sum(1 for rep in reps if rep.by("posted").reproduced)
        n_props = sum(len(f.props) for f in guest_lbr.FINDINGS)
        n_good = sum(1 for f in guest_lbr.FINDINGS if all((f.key, p) in good for p in f.props))
        print(f"  findings reproduced {n_good}/{len(guest_lbr.FINDINGS)}: properties reproduced with the fix undone "
              f"{len(good)}/{n_props}, by the code as posted {posted}/{n_props} ({time.perf_counter() - t0:.1f} s)")
        if n_good != len(guest_lbr.FINDINGS):
            ok = False
    if ok and stopped:
        print(f"UNDETERMINED: {runctl.reason()}; the walks stopped before the runs asked")
        return 3
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(runctl.run_script(main, "check_kvm_lbr"))
