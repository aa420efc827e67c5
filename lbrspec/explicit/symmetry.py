"""Symmetry reduction over the index sorts.

When nothing in a model tells a sort's elements apart (no named element, no order, no ring step:
see :mod:`lbrspec.lang.uses`), renaming them maps behaviours to behaviours and keeps every
invariant's value.  A sort used as a ring keeps only its rotations; a sort whose elements are
named or ordered keeps no renaming but the identity.  The explorer may therefore store one representative per orbit of the
group of all such renamings: the *canonical* state, the least packed encoding among all
renamings of a state.  This is exact (two states share a representative only if one is a
renaming of the other) and sound for every invariant and goal; it is not sound for liveness
checks on the reduced graph, which lbrspec refuses.

A renaming ``pi`` moves slot ``var[i..]`` to ``var[pi(i)..]`` and maps values that are sort
elements (``cpu[v] = p1``, ``sel[p] = vcpu(v0)``) through ``pi`` as well.

Trying every renaming of every state costs ``|V|! |P|! |H|!`` renamings per state (576 for 4
vCPUs and 4 pCPUs).  Most can be skipped: each element gets a *signature*, the values of the
variables indexed by it with sort elements blotted out (so renaming does not change it), and
only renamings that list every fully symmetric sort's elements in non-decreasing signature order
are tried (rings try every rotation).
The canonical state is the least among those.  That is still a canonical form: renaming a state
renames its signatures along, so every state of an orbit sees the same set of sorted renamings.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from ..errors import InstanceTooLarge
from ..lang.domains import Sort, SortDomain, UnionDomain
from ..lang.uses import SortUse, sort_uses
from .instance import Instance, State
from .packing import Layout

#: Above this many renamings, full canonicalisation costs more than it saves; refuse.
MAX_GROUP = 40_000


@dataclass
class Renaming:
    perm: dict[Sort, tuple[int, ...]]  # element i of sort s becomes perm[s][i]
    dest: np.ndarray  # slot k moves to slot dest[k]
    lut: list[np.ndarray]  # per source slot: code -> renamed code


class Symmetry:
    """The renaming group of an instance and canonical packed states."""

    def __init__(self, inst: Instance, layout: Layout) -> None:
        self.inst = inst
        self.layout = layout
        sorts = [s for s in inst.model.sorts]
        #: how each sort is used, and so which of its renamings are symmetries
        self.uses: dict[Sort, SortUse] = sort_uses(inst.model)
        self.kind: dict[Sort, str] = {s: self.uses[s].group for s in sorts}
        # counted before any renaming is listed: 11 fully symmetric elements alone have 11!
        size = math.prod(self._perm_count(s) for s in sorts)
        if size > MAX_GROUP:
            raise InstanceTooLarge(f"the symmetry group has {size:,} renamings; at most {MAX_GROUP:,} are supported")
        perms_per_sort = [self._perms(s) for s in sorts]
        self.group: list[Renaming] = []
        for combo in itertools.product(*perms_per_sort):
            perm = dict(zip(sorts, combo))
            self.group.append(self._renaming(perm))
        self._init_signatures()
        #: the position of the identity renaming in :attr:`group`
        self.identity = next(i for i, r in enumerate(self.group) if all(p == tuple(range(len(p))) for p in r.perm.values()))
        # tables for the vectorised canonical form: per renaming, per source slot, the
        # contribution weight[dest] * lut[code], laid out as one flat table.
        radix = layout.radix
        self.maxr = int(radix.max())
        nslots = len(radix)
        self.row_off = (np.arange(nslots, dtype=np.int64) * self.maxr)[:, None]
        self.tables = []
        for r in self.group:
            t = np.zeros((nslots, self.maxr), dtype=np.int64)
            for k in range(nslots):
                d = int(r.dest[k])
                t[k, : int(radix[k])] = r.lut[k] * layout.weight[d]
            self.tables.append(t.reshape(-1))
        # slots are grouped by word in slot order (whole variables per word)
        self.word_bounds = [int(np.searchsorted(layout.word, w)) for w in range(layout.nwords)] + [nslots]

    def __len__(self) -> int:
        return len(self.group)

    def _perm_count(self, s: Sort) -> int:
        """``len(self._perms(s))``, without listing them."""
        n = self.inst.sizes[s]
        kind = self.kind[s]
        return math.factorial(n) if kind == "all" else n if kind == "rotations" else 1

    def _perms(self, s: Sort) -> list[tuple[int, ...]]:
        n = self.inst.sizes[s]
        kind = self.kind[s]
        if kind == "all":
            return list(itertools.permutations(range(n)))
        if kind == "rotations":
            return [tuple((i + r) % n for i in range(n)) for r in range(n)]
        return [tuple(range(n))]

    def notes(self) -> list[str]:
        """One line per sort that is not fully symmetric: what it keeps, and why."""
        out = []
        for s, kind in self.kind.items():
            if kind == "all":
                continue
            keeps = "only its rotations" if kind == "rotations" else "no renaming"
            out.append(f"{s.name}: {keeps}, because {self.uses[s].why()}")
        return out

    # -- signatures -------------------------------------------------------------------------
    def _init_signatures(self) -> None:
        """Per sort, per element: the slots indexed by that element alone, and a value class
        per code that forgets which sort element a value names."""
        inst = self.inst
        self.sig_slots: dict[Sort, list[list[int]]] = {}
        self.sig_class: list[np.ndarray] = []
        for sl in inst.slots:
            d = sl.var.dom
            n = d.size(inst.sizes)
            cls = np.arange(n, dtype=np.int64)
            if isinstance(d, SortDomain):
                cls = np.zeros(n, dtype=np.int64)
            elif isinstance(d, UnionDomain):
                for c, srt in d.ctors:
                    off = d.ctor_offset(c, inst.sizes)
                    cls[off:off + inst.sizes[srt]] = off
            self.sig_class.append(cls)
        for srt in inst.model.sorts:
            per = [[] for _ in range(inst.sizes[srt])]
            for k, sl in enumerate(inst.slots):
                if len(sl.var.index) == 1 and sl.var.index_sorts == (srt,):
                    per[sl.index[0]].append(k)
            self.sig_slots[srt] = per
        self.sorts = list(inst.model.sorts)
        # per renaming and sort: the element listed at each position
        self.order: list[dict[Sort, tuple[int, ...]]] = []
        for r in self.group:
            od = {}
            for srt, perm in r.perm.items():
                inv = [0] * len(perm)
                for i, j in enumerate(perm):
                    inv[j] = i
                od[srt] = tuple(inv)
            self.order.append(od)

    def _signature(self, state: State, srt: Sort, i: int) -> tuple[int, ...]:
        return tuple(int(self.sig_class[k][int(state[k])]) for k in self.sig_slots[srt][i])

    def _sorted_by(self, sigs: dict[Sort, list[tuple[int, ...]]], ri: int) -> bool:
        for srt in self.sorts:
            if self.kind[srt] != "all":
                continue  # only a full symmetric group contains every sorting renaming
            order = self.order[ri][srt]
            sg = sigs[srt]
            if any(sg[order[j]] > sg[order[j + 1]] for j in range(len(order) - 1)):
                return False
        return True

    def _sig_array(self, slots: np.ndarray, srt: Sort) -> list[np.ndarray]:
        """Per element of ``srt``: its signature packed into one int64 per state."""
        out = []
        for ks in self.sig_slots[srt]:
            acc = np.zeros(slots.shape[1], dtype=np.int64)
            for k in ks:
                acc = acc * int(len(self.sig_class[k])) + self.sig_class[k][slots[k]]
            out.append(acc)
        return out

    def _value_map(self, dom, perm: dict[Sort, tuple[int, ...]]) -> np.ndarray:
        n = dom.size(self.inst.sizes)
        out = np.arange(n, dtype=np.int64)
        if isinstance(dom, SortDomain):
            out = np.array(perm[dom.sort], dtype=np.int64)
        elif isinstance(dom, UnionDomain):
            for c, s in dom.ctors:
                off = dom.ctor_offset(c, self.inst.sizes)
                for i, j in enumerate(perm[s]):
                    out[off + i] = off + j
        return out

    def _renaming(self, perm: dict[Sort, tuple[int, ...]]) -> Renaming:
        inst = self.inst
        dest = np.empty(len(inst.slots), dtype=np.int64)
        luts: list[np.ndarray] = []
        maps: dict[int, np.ndarray] = {}
        for k, sl in enumerate(inst.slots):
            new_idx = tuple(perm[d.sort][i] if isinstance(d, SortDomain) else i for d, i in zip(sl.var.index, sl.index))
            dest[k] = inst.slot_at(sl.var, new_idx)
            key = id(sl.var.dom)
            if key not in maps:
                maps[key] = self._value_map(sl.var.dom, perm)
            luts.append(maps[key])
        return Renaming(perm, dest, luts)

    # -- single states ----------------------------------------------------------------------
    def rename(self, state: State, r: Renaming) -> State:
        out = [0] * len(state)
        for k, c in enumerate(state):
            out[int(r.dest[k])] = int(r.lut[k][int(c)])
        return tuple(out)

    def canonical(self, state: State) -> State:
        sigs = {srt: [self._signature(state, srt, i) for i in range(self.inst.sizes[srt])] for srt in self.sorts}
        best = None
        best_state = state
        for ri, r in enumerate(self.group):
            if not self._sorted_by(sigs, ri):
                continue
            t = self.rename(state, r)
            key = self.layout.pack(t)[::-1]
            if best is None or key < best:
                best, best_state = key, t
        return best_state

    # -- batches ----------------------------------------------------------------------------
    def canonical_words(self, slots: np.ndarray, words: list[np.ndarray] | None = None) -> list[np.ndarray]:
        """Canonical packed words of every column of a slot matrix: the lexicographic minimum
        (most significant word last) over the renamings that sort the signatures.  ``words``,
        the columns' own packed words if the caller has them, spare the identity renaming's
        table lookups."""
        n = slots.shape[1]
        nw = self.layout.nwords
        slots = slots.astype(np.int64)
        flat_all = slots + self.row_off
        sigs = {srt: self._sig_array(slots, srt) for srt in self.sorts}
        best = [np.full(n, np.iinfo(np.int64).max, dtype=np.int64) for _ in range(nw)]
        for ri, t in enumerate(self.tables):
            valid = np.ones(n, dtype=bool)
            for srt in self.sorts:
                if self.kind[srt] != "all":
                    continue
                order = self.order[ri][srt]
                sg = sigs[srt]
                for j in range(len(order) - 1):
                    valid &= sg[order[j]] <= sg[order[j + 1]]
            cols = np.nonzero(valid)[0]
            if not cols.size:
                continue
            if ri == self.identity and words is not None:
                cand = [x[cols] for x in words]
            else:
                contrib = t[flat_all[:, cols]]
                cand = [contrib[self.word_bounds[w]:self.word_bounds[w + 1]].sum(axis=0) for w in range(nw)]
            cur = [b[cols] for b in best]
            less = np.zeros(cols.size, dtype=bool)
            eq = np.ones(cols.size, dtype=bool)
            for w in reversed(range(nw)):
                less |= eq & (cand[w] < cur[w])
                eq &= cand[w] == cur[w]
            if less.any():
                upd = cols[less]
                for w in range(nw):
                    best[w][upd] = cand[w][less]
        return best
