"""Canonicalisation cost per successor: the former algorithm against the canonical labelling.

    python benchmarks/canon.py [--model guest_lbr] [--sizes 4x4 3x3 ...] [--states 200000] [--batch 200000]

For each instance: explore breadth-first with symmetry until ``--states`` canonical states, take
the successors of the last ``--batch``-ish states (as the explorer does: before canonicalisation,
duplicates removed), and time both canonical forms on them in this process.  Prints microseconds
per successor for each, the ratio, and checks that both give the same number of distinct
canonical states (the orbit count of the sample).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from lbrspec.explicit.instance import Instance
from lbrspec.explicit.vexplore import _first_occurrences, explore_vector, successors
from lbrspec.modelref import load_model


def sample(inst: Instance, states: int, batch: int):
    r = explore_vector(inst, symmetry=True, max_states=states, check_deadlock=False, stop_at_violation=False)
    store = r.store
    lay = store.vc.layout
    hi = store.set.count
    lo = max(0, hi - batch)
    W = store.set.words(lo, hi)
    S = lay.unpack_array(W, np.int64)
    parts = [[] for _ in range(lay.nwords)]
    for _, _, _, words in successors(store.vc, S, W):
        for w in range(lay.nwords):
            parts[w].append(words[w])
    NW = [np.concatenate(p) for p in parts]
    fo = _first_occurrences(NW)
    NW = [x[fo] for x in NW]
    return store.sym, lay, NW, r


def timed(f, *args, repeat: int = 3):
    best = None
    for _ in range(repeat):
        t = time.process_time()  # CPU time: other processes on the machine do not count
        out = f(*args)
        dt = time.process_time() - t
        best = dt if best is None else min(best, dt)
    return best, out


def distinct(words) -> int:
    return len(_first_occurrences(words))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="guest_lbr")
    ap.add_argument("--sizes", nargs="*", default=["2x2", "3x2", "3x3", "4x4"], help="VxP, e.g. 4x4")
    ap.add_argument("--states", type=int, default=200_000)
    ap.add_argument("--batch", type=int, default=20_000, help="parents whose successors are timed")
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    src = load_model(a.model)
    model = src.build(None)
    print(f"{'instance':10} {'group':>6} {'successors':>10} {'before us/succ':>15} {'after us/succ':>14} {'ratio':>6}  orbits (before = after)")
    for sz in a.sizes:
        v, p = (int(x) for x in sz.split("x"))
        inst = Instance(model, {**src.default_sizes(model), "vCPU": v, "pCPU": p})
        sym, lay, NW, _ = sample(inst, a.states, a.batch)
        S = lay.unpack_array(NW, np.int64)
        n = S.shape[1]
        t_old, old = timed(sym.canonical_words_by_signature, S, NW, repeat=a.repeat)
        t_new, new = timed(sym.canonical_words, S, NW, repeat=a.repeat)
        o_old, o_new = distinct(old), distinct(new)
        print(f"{a.model + ' ' + sz:10} {len(sym):>6} {n:>10,} {t_old / n * 1e6:>15.3f} {t_new / n * 1e6:>14.3f} "
              f"{t_old / t_new:>6.1f}  {o_old:,} {'=' if o_old == o_new else '!='} {o_new:,}", flush=True)
        if o_old != o_new:
            raise SystemExit("orbit counts differ")


if __name__ == "__main__":
    main()
