"""A compact set of packed states: open addressing over int64 words, filled in batches.

The fast explorer keeps every reached state once, in discovery order, in flat int64 arrays
(one per word of the packing, 8 bytes per state per word), and finds them through a table of
int32 state numbers (4 bytes per slot) probed linearly.  The table grows by 1.5x when it is
85 % full, so it is always between 56 % and 85 % full: with one word per state the whole set
costs at most 8 + 4 / 0.56 = 15.1 bytes per stored state, and no Python object per state.

Inserting is vectorised over a batch: look every key up, number the new ones in batch order,
then place them; when several keys want the same empty slot in one round, all are written, the
one that stays wins and the others probe on.  (Placement never changes a state's number, so
the search stays deterministic.)
"""

from __future__ import annotations

import mmap
import tempfile

import numpy as np

_MIX = np.uint64(0x9E3779B97F4A7C15)
_MIX2 = np.uint64(0xBF58476D1CE4E5B9)
MAX_LOAD = 0.85
GROWTH = 1.5


def _hash(words: list[np.ndarray]) -> np.ndarray:
    h = np.zeros(len(words[0]), dtype=np.uint64)
    for w in words:
        x = w.view(np.uint64) ^ h
        x = x * _MIX
        x ^= x >> np.uint64(31)
        x = x * _MIX2
        h = x ^ (x >> np.uint64(29))
    return h


#: madvise(2) advice that writes pages back and frees them (Linux 5.4), where Python lacks the name
MADV_PAGEOUT = getattr(mmap, "MADV_PAGEOUT", 21)
_PAGE = mmap.PAGESIZE


class StateSet:
    """Packed states (``nwords`` int64 each), numbered 0, 1, 2... in insertion order.

    ``spill``: a directory in which to keep the stored words (not the table) in files, so that
    :meth:`page_out` can drop the states of cold layers from memory (they are read back from
    the file system when a lookup or a trace needs them).  The files are unlinked as soon as
    they are created: nothing is left in the directory, whatever way the process ends."""

    def __init__(self, nwords: int, capacity: int = 1 << 16, spill: str | None = None) -> None:
        self.nwords = nwords
        self.count = 0
        self.spill = spill
        self._files = [tempfile.TemporaryFile(dir=spill, prefix="lbrspec-spill-") for _ in range(nwords)] if spill else []
        self._maps: list[mmap.mmap] = []
        self._cap_store = max(1024, capacity)
        self.store = [self._alloc(w, self._cap_store, None) for w in range(nwords)]
        self.table = np.full(max(1024, int(capacity / 0.6)), -1, dtype=np.int32)
        #: the most bytes dropped from memory by one page_out, and how many times it was called
        self.paged_out = 0
        self.page_outs = 0

    def _alloc(self, w: int, cap: int, old: np.ndarray | None) -> np.ndarray:
        """Room for ``cap`` words of word ``w``, holding ``old``'s first ``count``."""
        if not self.spill:
            new = np.empty(cap, dtype=np.int64)
            if old is not None:
                new[: self.count] = old[: self.count]
            return new
        # the file only grows, and keeps what it held: map it again, larger, with no copy
        f = self._files[w]
        f.truncate(cap * 8)
        m = mmap.mmap(f.fileno(), cap * 8)
        if w < len(self._maps):
            self._maps[w] = m
        else:
            self._maps.append(m)
        return np.frombuffer(m, dtype=np.int64)

    def page_out(self, hi: int) -> int:
        """Drop the words of states ``0 .. hi-1`` from memory (spilled sets only); the bytes
        given back."""
        if not self.spill or hi <= 0:
            return 0
        length = (hi * 8) // _PAGE * _PAGE
        if length <= 0:
            return 0
        for m in self._maps:
            try:
                m.madvise(MADV_PAGEOUT, 0, length)
            except OSError:
                m.madvise(mmap.MADV_DONTNEED, 0, length)
        self.paged_out = max(self.paged_out, length * self.nwords)
        self.page_outs += 1
        return length * self.nwords

    # -- sizes ------------------------------------------------------------------------------
    def nbytes(self) -> int:
        """Bytes of the set itself: the used part of the stores plus the whole table."""
        return self.count * 8 * self.nwords + self.table.nbytes

    def words(self, lo: int = 0, hi: int | None = None) -> list[np.ndarray]:
        hi = self.count if hi is None else hi
        return [s[lo:hi] for s in self.store]

    def get(self, sid: int) -> tuple[int, ...]:
        return tuple(int(s[sid]) for s in self.store)

    # -- probing ----------------------------------------------------------------------------
    def _home(self, words: list[np.ndarray]) -> np.ndarray:
        h = _hash(words) >> np.uint64(32)
        return ((h * np.uint64(len(self.table))) >> np.uint64(32)).astype(np.int64)

    def lookup(self, words: list[np.ndarray]) -> np.ndarray:
        """State number of each key, or -1."""
        n = len(words[0])
        out = np.full(n, -1, dtype=np.int64)
        pos = self._home(words)
        pending = np.arange(n)
        size = len(self.table)
        while pending.size:
            cur = self.table[pos[pending]].astype(np.int64)
            empty = cur < 0
            occ = ~empty
            eq = occ.copy()
            idx_occ = np.nonzero(occ)[0]
            for w in range(self.nwords):
                eq[idx_occ] &= self.store[w][cur[idx_occ]] == words[w][pending[idx_occ]]
            out[pending[eq]] = cur[eq]
            again = occ & ~eq
            pending = pending[again]
            pos[pending] = (pos[pending] + 1) % size
        return out

    def add_new(self, words: list[np.ndarray]) -> np.ndarray:
        """Insert keys known to be absent and distinct; returns their new state numbers."""
        n = len(words[0])
        if self.count + n > MAX_LOAD * len(self.table):
            self._grow(self.count + n)
        if self.count + n > self._cap_store:
            self._grow_store(self.count + n)
        ids = np.arange(self.count, self.count + n, dtype=np.int64)
        for w in range(self.nwords):
            self.store[w][self.count:self.count + n] = words[w]
        self.count += n
        self._place(ids, self._home(words))
        return ids

    def _place(self, ids: np.ndarray, pos: np.ndarray) -> None:
        size = len(self.table)
        pending = np.arange(len(ids))
        while pending.size:
            p = pos[pending]
            free = self.table[p] < 0
            cand = pending[free]
            if cand.size:
                # several keys may want one empty slot: write them all, keep whoever landed
                self.table[pos[cand]] = ids[cand]
                won = self.table[pos[cand]] == ids[cand]
                done = np.zeros(len(ids), dtype=bool)
                done[cand[won]] = True
                pending = pending[~done[pending]]
            pos[pending] = (pos[pending] + 1) % size

    def _grow(self, need: int) -> None:
        size = len(self.table)
        while need > MAX_LOAD * size:
            size = int(size * GROWTH) + 1
        self.table = None  # type: ignore[assignment]  # the old table goes before the new one comes
        self.table = np.full(size, -1, dtype=np.int32)
        # placed a chunk at a time (a spilled set's chunks go back out as they are placed)
        step = 1 << 18
        for lo in range(0, self.count, step):
            hi = min(self.count, lo + step)
            self._place(np.arange(lo, hi, dtype=np.int64), self._home(self.words(lo, hi)))
            if self.spill and self.paged_out:
                self.page_out(hi)

    def _grow_store(self, need: int) -> None:
        cap = self._cap_store
        while cap < need:
            cap = int(cap * GROWTH) + 1
        for w in range(self.nwords):
            self.store[w] = self._alloc(w, cap, self.store[w])
        self._cap_store = cap
