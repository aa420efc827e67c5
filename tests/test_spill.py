"""``lbrspec check --spill DIR``: the stored states live in files in DIR (unlinked at once) and
cold layers are paged out of memory; the search is the same, and nothing is left in DIR."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import model
from lbrspec.explicit.hashset import StateSet
from lbrspec.explicit.instance import Instance
from lbrspec.explicit.vexplore import explore_vector


def _summary(r):
    return (r.verdict, r.states, r.transitions, r.depth, r.complete, r.deadlocks,
            None if r.violation is None else (r.violation.names, r.violation.state_id, r.violation.trace),
            [(v.prop, v.trace) for v in r.violations])


def test_a_spilled_state_set_pages_out_and_reads_back(tmp_path):
    s = StateSet(2, capacity=1024, spill=str(tmp_path))
    rng = np.random.default_rng(3)
    keys = np.unique(rng.integers(0, 2**62, 300_000))
    rng.shuffle(keys)
    words = [keys, keys ^ 12345]
    for lo in range(0, keys.size, 50_000):
        s.add_new([w[lo:lo + 50_000] for w in words])
        assert s.page_out(s.count) > 0
    assert os.listdir(tmp_path) == []
    assert (s.lookup(words) == np.arange(keys.size)).all()
    assert s.get(1234) == (int(keys[1234]), int(keys[1234] ^ 12345))
    assert (s.lookup([words[0] + 1, words[1]]) < 0).all()


@pytest.mark.parametrize("variant,workers", [("v8", 1), ("v8-posted", 2)])
@pytest.mark.long
def test_spilling_every_batch_changes_nothing(tmp_path, variant, workers):
    inst = Instance(model(variant), {"vCPU": 2, "pCPU": 1, "host_user": 1})
    kw = dict(symmetry=True, prune_violations=True, stop_at_violation=False, batch_size=2000)
    plain = explore_vector(inst, **kw)
    spilled = explore_vector(inst, spill=str(tmp_path), spill_at=1, workers=workers, **kw)
    assert spilled.store.set.paged_out > 0
    assert _summary(spilled) == _summary(plain)
    assert os.listdir(tmp_path) == []


def _check(*args):
    p = subprocess.run([sys.executable, "-m", "lbrspec", "check", "--json", *args], capture_output=True, text=True,
                       timeout=600)
    return p.returncode, json.loads(p.stdout)


@pytest.mark.long
def test_a_small_memory_ceiling_with_spill_gives_the_full_count(tmp_path):
    """Without symmetry the 2x2 instance stores 4.1 million states; with a ceiling of 300 MiB
    and --spill the cold layers are paged out as the ceiling nears (half of it), and the count is that of
    the run without any limit."""
    code0, free = _check("--no-symmetry")
    code1, spilled = _check("--no-symmetry", "--spill", str(tmp_path), "--max-memory", "300")
    assert code0 == code1 == 0
    assert spilled["states"] == free["states"] and spilled["verdict"] == "holds"
    assert spilled["spilled_bytes"] > 0 and spilled["spill_page_outs"] > 0
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.long
def test_nothing_is_left_in_the_spill_directory_after_a_signal(tmp_path, sig):
    p = subprocess.Popen([sys.executable, "-m", "lbrspec", "check", "--vcpus", "3", "--pcpus", "3", "--quiet",
                          "--spill", str(tmp_path), "--workers", "2"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    time.sleep(6)
    p.send_signal(sig)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 3 and "Traceback" not in err, (out[-300:], err)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("make", ["missing", "file", "empty"])
def test_a_bad_spill_directory_is_one_line_and_exit_2(tmp_path, make):
    path = {"missing": str(tmp_path / "nope"), "file": str(tmp_path / "f"), "empty": ""}[make]
    (tmp_path / "f").write_text("x")
    p = subprocess.run([sys.executable, "-m", "lbrspec", "check", "--spill", path, "--max-states", "10"],
                       capture_output=True, text=True, timeout=120)
    lines = [x for x in p.stderr.splitlines() if x.strip()]
    assert p.returncode == 2 and len(lines) == 1 and lines[0].startswith("lbrspec: error: --spill"), p.stderr
