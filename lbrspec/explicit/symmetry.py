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
#: The canonical labelling keeps every renaming's table in one array of at most this many bytes
#: (576 renamings of the 4x4 guest_lbr instance: 2.4 MB); above it, the former algorithm is used.
FUSED_LIMIT = 256 * 2**20
#: The canonical labelling is used for groups of at least this many renamings; smaller groups
#: (2x2: 4, 3x2: 12) keep the signature algorithm, as cheap there (benchmarks/canon.py), and its
#: canonical states, so the traces of the default instances do not change.
LABELLING_MIN_GROUP = 13
#: Rounds of key refinement: each round passes keys one reference further.
REFINE_ROUNDS = 2

_M64 = 2**64 - 1


def _splitmix(x: int) -> int:
    """A 64-bit mix of a Python int (deterministic, unlike ``hash``)."""
    x = (x + 0x9E3779B97F4A7C15) & _M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M64
    return x ^ (x >> 31)


def _mix(a: np.ndarray) -> np.ndarray:
    """A 32-bit mix of every entry of a uint32 array (keys are 32 bits: a collision only makes
    two elements look alike, which costs a search, never exactness)."""
    a = a ^ (a >> np.uint32(16))
    a *= np.uint32(0x7FEB352D)
    a ^= a >> np.uint32(15)
    a *= np.uint32(0x846CA68B)
    a ^= a >> np.uint32(16)
    return a


def _lexmin(a: list[np.ndarray], b: list[np.ndarray]) -> list[np.ndarray]:
    """Per column, the lesser of two packed states (most significant word last)."""
    if len(a) == 1:
        return [np.minimum(a[0], b[0])]
    less = np.zeros(a[0].size, dtype=bool)
    eq = np.ones(a[0].size, dtype=bool)
    for w in reversed(range(len(a))):
        less |= eq & (b[w] < a[w])
        eq &= b[w] == a[w]
    return [np.where(less, y, x) for x, y in zip(a, b)]


@dataclass
class Renaming:
    perm: dict[Sort, tuple[int, ...]]  # element i of sort s becomes perm[s][i]
    dest: np.ndarray  # slot k moves to slot dest[k]
    lut: list[np.ndarray]  # per source slot: code -> renamed code


class Symmetry:
    """The renaming group of an instance and canonical packed states."""

    def __init__(self, inst: Instance, layout: Layout, labelling: bool | None = None) -> None:
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
        if labelling is None:
            labelling = len(self.group) >= LABELLING_MIN_GROUP
        self._init_labelling(labelling)

    # -- canonical labelling ------------------------------------------------------------------
    def _init_labelling(self, wanted: bool) -> None:
        """Tables of the canonical labelling (:meth:`canonical_words`): which element owns and
        which element names each slot, a hash per slot role, the rank of every ordering of a
        sort's elements, and every renaming's table in one array."""
        inst, lay = self.inst, self.layout
        nslots = len(inst.slots)
        L = nslots * self.maxr
        #: whether the canonical labelling is used (else the signature algorithm): wanted, and
        #: the fused tables fit
        self.fast = wanted and len(self.group) * L * 8 <= FUSED_LIMIT
        if not self.fast:
            return
        self.fused = np.stack(self.tables).reshape(-1)
        self.tables = [self.fused[i * L:(i + 1) * L] for i in range(len(self.group))]
        self.L = L
        # the refined elements: those of fully symmetric sorts of two elements or more; row E
        # of the key matrix stands for "no element"
        self.lab_sorts = [s for s in self.sorts if self.kind[s] == "all" and inst.sizes[s] > 1]
        self.elem_off: dict[Sort, int] = {}
        E = 0
        for srt in self.lab_sorts:
            self.elem_off[srt] = E
            E += inst.sizes[srt]
        self.nelem = E
        # a renaming's position in the group: mixed radix over the sorts, in the order of
        # itertools.product in __init__ (the identity of every sort is its rank 0)
        self.stride: dict[Sort, int] = {}
        acc = 1
        for srt in reversed(self.sorts):
            self.stride[srt] = acc
            acc *= self._perm_count(srt)
        assert self.identity == 0
        # per refined sort: an ordering (order[pos] = element listed at pos), coded in base n,
        # to the rank of the renaming that lists it (element order[pos] becomes pos)
        self.rank_of_order: dict[Sort, np.ndarray] = {}
        self.pos_weight: dict[Sort, np.ndarray] = {}
        for srt in self.lab_sorts:
            n = inst.sizes[srt]
            tbl = np.full(n ** n, -1, dtype=np.int64)
            for rank, perm in enumerate(self._perms(srt)):
                tbl[sum(i * n ** perm[i] for i in range(n))] = rank
            self.rank_of_order[srt] = tbl
            self.pos_weight[srt] = (n ** np.arange(n, dtype=np.int64))[:, None]
        # sorts kept to their rotations are not refined: every rotation is tried
        rot = [[r * self.stride[srt] for r in range(inst.sizes[srt])] for srt in self.sorts
               if self.kind[srt] == "rotations" and inst.sizes[srt] > 1]
        self.rot_offsets = [sum(c) for c in itertools.product(*rot)] if rot else [0]
        # per slot: its owner (the one refined element indexing it, else -1), its role (the
        # variable and its indexes that are not sort elements: what a renaming keeps), the
        # element its value names (row E if none), and the hash of its value with sort
        # elements blotted out
        owner = np.full(nslots, -1, dtype=np.int64)
        roles: list[tuple] = []
        var_pos = {v: i for i, v in enumerate(inst.model.vars)}
        for k, sl in enumerate(inst.slots):
            sort_pos = [j for j, d in enumerate(sl.var.index) if isinstance(d, SortDomain)]
            if len(sort_pos) == 1 and sl.var.index[sort_pos[0]].sort in self.elem_off:
                j = sort_pos[0]
                owner[k] = self.elem_off[sl.var.index[j].sort] + sl.index[j]
            roles.append((var_pos[sl.var], tuple(i for j, i in enumerate(sl.index) if j not in sort_pos)))
        role_id = {r: i for i, r in enumerate(sorted(set(roles)))}
        role = np.array([_splitmix(1 + role_id[r]) for r in roles], dtype=np.uint64)
        own = np.zeros((nslots, self.maxr), dtype=np.uint32)
        self.refs: list[tuple[int, int, np.ndarray, np.uint64, np.uint64]] = []
        for k, sl in enumerate(inst.slots):
            d = sl.var.dom
            size = int(lay.radix[k])
            for c in range(size):
                own[k, c] = _splitmix(int(role[k]) ^ (int(self.sig_class[k][c]) + 1) * 0x9E3779B97F4A7C15 % 2**64) >> 32
            ref = np.full(size, E, dtype=np.int64)
            if isinstance(d, SortDomain) and d.sort in self.elem_off:
                ref[:] = self.elem_off[d.sort] + np.arange(size)
            elif isinstance(d, UnionDomain):
                for c, srt in d.ctors:
                    if srt in self.elem_off:
                        off = d.ctor_offset(c, inst.sizes)
                        ref[off:off + inst.sizes[srt]] = self.elem_off[srt] + np.arange(inst.sizes[srt])
            if (ref < E).any():
                self.refs.append((k, int(owner[k]), ref, np.uint32(_splitmix(int(role[k]) + 1) >> 32),
                                  np.uint32(_splitmix(int(role[k]) + 2) >> 32)))
        self.own = own.reshape(-1)
        # runs of slots k0..k1-1 owned by the consecutive elements e0, e0+1, ...
        self.own_runs: list[tuple[int, int, int]] = []
        for k in range(nslots):
            if owner[k] < 0:
                continue
            if self.own_runs:
                k0, k1, e0 = self.own_runs[-1]
                if k1 == k and owner[k] == e0 + (k - k0) and inst.slots[k].var is inst.slots[k0].var:
                    self.own_runs[-1] = (k0, k + 1, e0)
                    continue
            self.own_runs.append((k, k + 1, int(owner[k])))
        # per refined sort and bit mask of tied neighbours: the position orders to try
        self._blocks_cache: dict[tuple[int, int], list[np.ndarray]] = {}
        # per refined sort, if they are few: the slots its renamings touch (indexed by it, or
        # naming its elements), with their bounds per word
        self.rel_slots: dict[Sort, tuple[np.ndarray, list[int]]] = {}
        for srt in self.lab_sorts:
            rel = []
            for k, sl in enumerate(inst.slots):
                d = sl.var.dom
                if (any(isinstance(x, SortDomain) and x.sort is srt for x in sl.var.index)
                        or (isinstance(d, SortDomain) and d.sort is srt)
                        or (isinstance(d, UnionDomain) and any(c_s is srt for _, c_s in d.ctors))):
                    rel.append(k)
            if len(rel) <= nslots // 2:
                words_of = lay.word[rel]
                bounds = [int(np.searchsorted(words_of, w)) for w in range(lay.nwords)] + [len(rel)]
                self.rel_slots[srt] = (np.array(rel, dtype=np.int64), bounds)
        # per refined sort: the rank of the transposition of elements a and b, at a * n + b
        self.swap_rank: dict[Sort, np.ndarray] = {}
        for srt in self.lab_sorts:
            n = inst.sizes[srt]
            t = np.zeros(n * n, dtype=np.int64)
            for a in range(n):
                for b in range(n):
                    order = list(range(n))
                    order[a], order[b] = order[b], order[a]
                    t[a * n + b] = self.rank_of_order[srt][sum(e * n ** p for p, e in enumerate(order))]
            self.swap_rank[srt] = t

    def _keys(self, flat_all: np.ndarray, S: np.ndarray) -> np.ndarray:
        """Per refined element and column: a key that renaming carries along (the key of
        element e of a state is the key of element pi(e) of its renaming by pi), from the
        element's own slots and, over REFINE_ROUNDS rounds, the keys of the elements its slots
        name and of those whose slots name it."""
        n = S.shape[1]
        E = self.nelem
        K = np.zeros((E + 1, n), dtype=np.uint32)
        for k0, k1, e0 in self.own_runs:
            K[e0:e0 + k1 - k0] += self.own[flat_all[k0:k1]]
        K[:E] = _mix(K[:E])
        if not self.refs:
            return K
        ar = np.arange(n, dtype=np.int64)
        tgts = [ref[S[k]] * n + ar for k, _, ref, _, _ in self.refs]
        for _ in range(REFINE_ROUNDS):
            A = K * np.uint32(0x2545F491)
            Kf, Af = K.reshape(-1), A.reshape(-1)
            for (k, o, ref, c_pull, c_push), t in zip(self.refs, tgts):
                if o >= 0:
                    A[o] += Kf[t] ^ c_pull
                    Af[t] += K[o] ^ c_push
                else:
                    Af[t] += c_push
            A[E] = 0
            K = _mix(A)
            K[E] = 0
        return K

    def _apply(self, gi: np.ndarray, flat: np.ndarray) -> list[np.ndarray]:
        """Packed words of the renamings ``gi`` (group positions, one per column) of the
        columns whose table offsets are ``flat``."""
        contrib = self.fused[flat + gi * self.L]
        b = self.word_bounds
        if len(b) == 2:
            return [contrib.sum(axis=0)]
        return list(np.add.reduceat(contrib, b[:-1], axis=0))

    def _block_orders(self, srt: Sort, mask: int) -> list[np.ndarray]:
        """The position orders that permute, within each block, the positions tied by
        ``mask`` (bit j: positions j and j+1 are in one block)."""
        key = (self.sorts.index(srt), mask)
        got = self._blocks_cache.get(key)
        if got is None:
            n = self.inst.sizes[srt]
            blocks, cur = [], [0]
            for j in range(n - 1):
                if mask >> j & 1:
                    cur.append(j + 1)
                else:
                    blocks.append(cur)
                    cur = [j + 1]
            blocks.append(cur)
            got = [np.array([p for blk in combo for p in blk], dtype=np.int64)
                   for combo in itertools.product(*[list(itertools.permutations(b)) for b in blocks])]
            self._blocks_cache[key] = got
        return got

    def canonical_words(self, slots: np.ndarray, words: list[np.ndarray] | None = None) -> list[np.ndarray]:
        """Canonical packed words of every column of a slot matrix (slots x states).

        Canonical labelling: every element of a fully symmetric sort gets a key that renaming
        carries along (:meth:`_keys`), and the candidates are the renamings that list each
        sort's elements in key order; the canonical form is the least (most significant word
        last) of the candidates' images.  Since renaming a state permutes its keys along, the
        candidates of every state of an orbit have the same images, so this is a canonical form,
        and exact.  Elements with equal keys make several candidates; where swapping two of them
        leaves the state unchanged, their order does not matter and one candidate is tried.
        With refined keys most states have a single candidate, so no search over the group is
        made.  ``words``: the columns' own packed words if the caller has them."""
        if not self.fast:
            return self.canonical_words_by_signature(slots, words)
        n = slots.shape[1]
        nw = self.layout.nwords
        slots = slots.astype(np.int64, copy=False)
        if not self.lab_sorts and self.rot_offsets == [0]:
            return words if words is not None else self.layout.pack_array(slots)
        flat_all = slots + self.row_off
        K = self._keys(flat_all, slots)
        orders: dict[Sort, np.ndarray] = {}
        base = np.zeros(n, dtype=np.int64)
        pattern = np.zeros(n, dtype=np.int64)
        shift = 0
        own_words = words
        for srt in self.lab_sorts:
            m = self.inst.sizes[srt]
            off = self.elem_off[srt]
            keys = K[off:off + m]
            order = np.argsort(keys.T, axis=1, kind="stable").T  # (m, n): element at each position
            orders[srt] = order
            base += self.rank_of_order[srt][(order * self.pos_weight[srt]).sum(axis=0)] * self.stride[srt]
            sk = np.take_along_axis(keys, order, axis=0)
            tie = sk[1:] == sk[:-1]  # (m - 1, n)
            shift += m - 1
            if not tie.any():
                continue
            # a tie whose swap leaves the state as it is needs no search
            bad = np.zeros_like(tie)
            for j in range(m - 1):
                cols = np.nonzero(tie[j])[0]
                if not cols.size:
                    continue
                gi = self.swap_rank[srt][order[j, cols] * m + order[j + 1, cols]] * self.stride[srt]
                same = np.ones(cols.size, dtype=bool)
                rel = self.rel_slots.get(srt)
                if rel is not None:
                    # only the slots the swap touches can change: compare their sums per word
                    fa = flat_all[rel[0]][:, cols]
                    sw = self.fused[fa + gi * self.L]
                    me = self.fused[fa]
                    for w in range(nw):
                        lo, hi = rel[1][w], rel[1][w + 1]
                        if hi > lo:
                            same &= sw[lo:hi].sum(axis=0) == me[lo:hi].sum(axis=0)
                else:
                    if own_words is None:
                        own_words = self.layout.pack_array(slots)
                    sw = self._apply(gi, flat_all[:, cols])
                    for w in range(nw):
                        same &= sw[w] == own_words[w][cols]
                bad[j, cols] = ~same
            # a block of ties with one swap that changes the state is searched whole
            f = np.zeros_like(tie)
            for j in range(m - 1):
                f[j] = tie[j] & (bad[j] | (f[j - 1] if j else False))
            g = np.zeros_like(tie)
            for j in reversed(range(m - 1)):
                g[j] = tie[j] & (f[j] | (g[j + 1] if j < m - 2 else False))
            for j in range(m - 1):
                pattern |= g[j].astype(np.int64) << (shift - (m - 1) + j)
        best: list[np.ndarray] | None = None
        searched = np.nonzero(pattern)[0]
        for rot in self.rot_offsets:
            cand = self._apply(base + rot, flat_all)
            best = cand if best is None else _lexmin(best, cand)
        if searched.size:
            pats = pattern[searched]
            for p in np.unique(pats):
                cols = searched[pats == p]
                fa = flat_all[:, cols]
                per_sort = []
                sh = 0
                for srt in self.lab_sorts:
                    m = self.inst.sizes[srt]
                    mask = int(p) >> sh & ((1 << (m - 1)) - 1)
                    sh += m - 1
                    order = orders[srt][:, cols]
                    ranks = [self.rank_of_order[srt][(order[sig] * self.pos_weight[srt]).sum(axis=0)] * self.stride[srt]
                             for sig in self._block_orders(srt, mask)]
                    per_sort.append(ranks)
                cur = [b[cols] for b in best]
                for combo in itertools.product(*per_sort):
                    gi = sum(combo)
                    for rot in self.rot_offsets:
                        cur = _lexmin(cur, self._apply(gi + rot, fa))
                for w in range(nw):
                    best[w][cols] = cur[w]
        return best

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
        """The canonical renaming of one state (the same as :meth:`canonical_words`)."""
        words = self.canonical_words(np.array(state, dtype=np.int64)[:, None])
        return self.layout.unpack(tuple(int(w[0]) for w in words))

    def canonical_brute(self, state: State) -> State:
        """The least renaming of ``state`` over the whole group: a canonical form by brute force,
        the reference the tests compare orbit counts with."""
        best = None
        for r in self.group:
            t = self.rename(state, r)
            key = self.layout.pack(t)[::-1]
            if best is None or key < best:
                best, best_t = key, t
        return best_t

    def canonical_words_brute(self, slots: np.ndarray) -> list[np.ndarray]:
        """The least renaming of every column over the whole group (vectorised brute force):
        the reference canonical form of the tests."""
        slots = slots.astype(np.int64, copy=False)
        flat_all = slots + self.row_off
        best = None
        for t in self.tables:
            contrib = t[flat_all]
            cand = [contrib[self.word_bounds[w]:self.word_bounds[w + 1]].sum(axis=0) for w in range(self.layout.nwords)]
            best = cand if best is None else _lexmin(best, cand)
        return best

    def canonical_by_signature(self, state: State) -> State:
        """One state's canonical form under the former algorithm (:meth:`canonical_words_by_signature`)."""
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
    def canonical_words_by_signature(self, slots: np.ndarray, words: list[np.ndarray] | None = None) -> list[np.ndarray]:
        """The former canonical form, kept as a reference (tests, ``benchmarks/canon.py``): the
        lexicographic minimum (most significant word last) over the renamings that sort the
        plain signatures, every renaming of the group tried over the whole batch.  ``words``,
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
