"""Packing states into 64-bit words: the compact state encoding of the fast explorer.

A state of an instance is a tuple of slot codes, slot ``k`` taking values ``0..radix[k]-1``.
:class:`Layout` packs it as a *mixed-radix* number: slot ``k`` contributes
``code * weight[k]`` to word ``word[k]``, where ``weight[k]`` is the product of the radices of
the slots before it in the same word.  Whole variables are kept in one word (so a slot index
computed at run time, ``sel[cpu[v]]``, always lands in a known word) and each word stays below
``2**63``, so numpy's int64 arithmetic never overflows.

Mixed radix wastes no bits (the 3-vCPU, 2-pCPU guest-LBR instance needs 58.3 bits, 65 as bit
fields) and makes an update additive: writing ``new`` over ``old`` in slot ``k`` adds
``(new - old) * weight[k]`` to its word.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import InstanceTooLarge
from .instance import Instance, State

WORD_LIMIT = 2**63


@dataclass
class Layout:
    """The packing of one instance's states into ``nwords`` int64 words."""

    radix: np.ndarray  # per slot
    weight: np.ndarray  # per slot, int64
    word: np.ndarray  # per slot: which word
    nwords: int
    bits: float  # information content: log2 of the product of all radices

    @classmethod
    def of(cls, inst: Instance) -> "Layout":
        radix = [max(1, r) for r in inst.slot_size]
        weight = [0] * len(radix)
        word = [0] * len(radix)
        w, acc = 0, 1
        for var in inst.model.vars:
            base = inst.base[var]
            n = math.prod(d.size(inst.sizes) for d in var.index)
            prod = math.prod(radix[base:base + n])
            if prod >= WORD_LIMIT:
                raise InstanceTooLarge(f"variable {var.name} alone needs more than 63 bits")
            if acc * prod >= WORD_LIMIT:
                w, acc = w + 1, 1
            for k in range(base, base + n):
                weight[k] = acc
                word[k] = w
                acc *= radix[k]
        bits = sum(math.log2(r) for r in radix)
        return cls(
            radix=np.array(radix, dtype=np.int64),
            weight=np.array(weight, dtype=np.int64),
            word=np.array(word, dtype=np.int64),
            nwords=w + 1,
            bits=bits,
        )

    def pack(self, state: State) -> tuple[int, ...]:
        out = [0] * self.nwords
        for k, c in enumerate(state):
            out[int(self.word[k])] += int(c) * int(self.weight[k])
        return tuple(out)

    def unpack(self, words: tuple[int, ...] | list[int]) -> State:
        return tuple(int(words[int(self.word[k])]) // int(self.weight[k]) % int(self.radix[k]) for k in range(len(self.radix)))

    def unpack_array(self, words: list[np.ndarray], dtype: type = np.int64) -> np.ndarray:
        """Slot matrix (slots x states) of packed states given as one array per word."""
        n = len(words[0])
        out = np.empty((len(self.radix), n), dtype=dtype)
        k = 0
        for w in range(self.nwords):
            q = words[w].view(np.uint64) if words[w].dtype == np.int64 else words[w].astype(np.uint64)
            while k < len(self.radix) and int(self.word[k]) == w:
                r = np.uint64(self.radix[k])
                nq = q // r
                out[k] = q - nq * r
                q = nq
                k += 1
        return out

    def pack_array(self, slots: np.ndarray) -> list[np.ndarray]:
        """Words of a slot matrix (slots x states)."""
        words = []
        for w in range(self.nwords):
            sel = self.word == w
            words.append((slots[sel].astype(np.int64) * self.weight[sel][:, None]).sum(axis=0))
        return words
