"""lbrspec compare: the shared properties mean what each model's own property means, the table
is computed (and docs/compare.md is what it generates), and bad input is one line."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from lbrspec import compare as C
from lbrspec.cli import main
from lbrspec.cli.compare import markdown
from lbrspec.errors import InputError
from lbrspec.explicit.instance import Instance
from lbrspec.explicit.replay import replay
from lbrspec.explicit.vexplore import explore_vector
from lbrspec.modelref import load_model
from lbrspec_models import guest_lbr, lbr_common, upstream_lbr

ROOT = Path(__file__).resolve().parent.parent
SIZES = {"vCPU": 1, "pCPU": 2, "host_user": 1}

#: Each model's own property that says the same as a shared one (a test-side cross-check: the
#: comparison never reads this).  Only exact counterparts are listed: upstream's I1 is an "iff"
#: and its I6 covers more than the WARN, so they have none.
COUNTERPART = {
    "guest_lbr": {
        "kvm_never_touches_unowned_lbr": "no_kvm_access_after_reclaim",
        "passthrough_only_when_owned": "passthrough_implies_ownership",
        "guest_never_reads_foreign": "guest_sees_only_its_own",
        "host_never_samples_guest": "host_sees_no_guest_branches",
        "host_pinned_keeps_lbr": "host_priority",
        "no_release_while_guest_uses_lbr": "no_free_with_debugctl_lbr",
        "host_never_warns": "host_no_warn",
        "host_never_oopses": "host_no_oops",
        "host_never_sleeps_in_atomic": "host_no_sleep_in_atomic",
    },
    "upstream_lbr": {
        "kvm_never_touches_unowned_lbr": "kvm_touches_lbr_only_when_active",
        "guest_never_reads_foreign": "guest_reads_own_or_zero",
        "host_never_samples_guest": "host_sees_no_guest_branches",
        "host_pinned_keeps_lbr": "host_pinned_wins",
        "guest_records_survive_resched": "records_kept_across_resched",
        "no_release_while_guest_uses_lbr": "release_only_with_debugctl_lbr_clear",
        "host_never_oopses": "host_no_oops",
    },
}


def own_alone(source, variant: str, prop: str) -> tuple[str, int | None]:
    """The model's own property checked alone (every other property left out)."""
    model = source.build(variant)
    model = dataclasses.replace(model, invariants=(model.invariant(prop),), goals=())
    r = explore_vector(Instance(model, SIZES), symmetry=True, check_deadlock=False, stop_at_violation=True)
    assert r.complete or r.violation is not None
    return ("violated", len(r.violation.trace)) if r.violation is not None else ("holds", None)


@pytest.fixture(scope="module")
def table():
    designs = C.parse_designs(["guest_lbr", "upstream_lbr"], load_model)
    return C.run(designs, C.common_sizes(designs, {}))


def test_the_models_share_one_catalogue_defined_once():
    assert guest_lbr.OBSERVATIONS is lbr_common.OBSERVATIONS
    assert upstream_lbr.OBSERVATIONS is lbr_common.OBSERVATIONS
    assert len(lbr_common.OBSERVATIONS) == 10


def test_without_observe_a_model_has_no_ghost_of_the_comparison():
    for mod in (guest_lbr, upstream_lbr):
        m = mod.build(mod.DEFAULT_VARIANT)
        assert not [v.name for v in m.vars if v.name.startswith("seen_")]
        assert not {i.name for i in m.invariants} & set(lbr_common.OBSERVATIONS)


def test_every_observation_is_declared_or_its_gap_explained():
    for name in ("guest_lbr", "upstream_lbr"):
        src = load_model(name)
        for variant in C.compare_designs(src):
            yes, reasons = C.applicable(C.Design(src, variant), list(lbr_common.OBSERVATIONS))
            assert set(yes) | set(reasons) == set(lbr_common.OBSERVATIONS)
            for obs in reasons:
                assert obs in src.module.OBSERVATION_GAPS, (name, variant, obs)


@pytest.mark.long
def test_the_default_table(table):
    """What the comparison finds on 1x2x1 (the merged design's I7, I8, I3 and branch leak; v8 as
    posted breaks what its findings say; the fixed v8 breaks nothing)."""
    short = {(o, d.label): table.cell(o, d).short() for o in table.observations for d in table.designs}
    assert {o for (o, lab), s in short.items() if lab == "guest_lbr:v8" and s.startswith("violated")} == set()
    assert {o for (o, lab), s in short.items() if lab == "upstream_lbr:upstream" and s.startswith("violated")} == {
        "guest_never_reads_foreign", "host_never_samples_guest", "host_pinned_keeps_lbr",
        "guest_records_survive_resched"}
    assert short[("host_pinned_keeps_lbr", "upstream_lbr:proposal-host-pinned-first")] == "holds"
    assert short[("guest_records_survive_resched", "upstream_lbr:upstream")] == "violated (10)"
    assert short[("host_never_sleeps_in_atomic", "guest_lbr:v8-posted")] == "violated (5)"
    assert short[("host_never_sleeps_in_atomic", "upstream_lbr:upstream")] == "n.a."
    assert table.complete
    assert "kvm_never_touches_unowned_lbr" not in table.differing()


@pytest.mark.long
def test_each_cell_agrees_with_the_models_own_property_checked_alone(table):
    checked = 0
    for d in table.designs:
        for obs, own in COUNTERPART[d.source.name].items():
            cell = table.cell(obs, d)
            if cell.status == "n.a.":  # v8's fused WARN: its own host_no_warn cannot fail there either
                assert (d.label, obs) == ("guest_lbr:v8", "host_never_warns")
                continue
            assert (cell.status, cell.length) == own_alone(d.source, d.variant, own), (d.label, obs, own)
            checked += 1
    assert checked == 8 + 9 + 4 * 7


@pytest.mark.parametrize("model,variant", [
    ("guest_lbr", "v7-write-path"), ("guest_lbr", "guest-first-come"), ("guest_lbr", "v8-posted-release-at-sched-in"),
    ("guest_lbr", "v8-posted-release-reads-current-vmcs"), ("upstream_lbr", "before-67b45af946ec"),
])
@pytest.mark.long
def test_a_known_bad_design_breaks_the_shared_property_as_its_own(model, variant):
    src = load_model(model)
    expected = src.all_variants()[variant].expected
    obs = {own: o for o, own in COUNTERPART[model].items()}[expected]
    cell = C.check_cell(C.Design(src, variant), obs, SIZES)
    assert cell.status == "violated"
    assert (cell.status, cell.length) == own_alone(src, variant, expected)


@pytest.mark.long
def test_a_counterexample_replays_on_the_model_it_came_from(table):
    for d in table.designs:
        for obs in table.observations:
            cell = table.cell(obs, d)
            if cell.trace is None:
                continue
            model = d.source.build(d.variant, observe=(obs,))
            r = replay(Instance(model, SIZES), cell.trace)
            assert r.ok, (d.label, obs)
            assert obs in {n for _, n in r.invariant_failures}


@pytest.mark.long


def test_docs_compare_md_is_what_the_comparison_generates(table):
    assert (ROOT / "docs" / "compare.md").read_text() == markdown(table), (
        "docs/compare.md is stale: run `lbrspec compare -o docs/compare.md`")


@pytest.mark.long
def test_cli_json_trace_dir_and_replay(tmp_path, capsys):
    code = main(["compare", "--quiet", "--json", "--design", "upstream_lbr:upstream", "--only", "host_pinned_keeps_lbr",
                 "--only", "host_never_oopses", "--trace-dir", str(tmp_path)])
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    cells = {o["name"]: o["cells"]["upstream_lbr:upstream"] for o in data["observations"]}
    assert cells["host_pinned_keeps_lbr"]["status"] == "violated"
    assert cells["host_pinned_keeps_lbr"]["trace_length"] == 6
    assert cells["host_never_oopses"]["status"] == "holds"
    files = sorted(tmp_path.iterdir())
    assert [f.name for f in files] == ["host_pinned_keeps_lbr.upstream_lbr.upstream.itf.json"]
    assert main(["replay", str(files[0]), "--model", "upstream_lbr"]) == 1  # replays; I8 fails at the same state
    out = capsys.readouterr().out
    assert "host_pinned_wins in state 6" in out


def test_an_exhausted_budget_is_undetermined_not_holds(capsys):
    code = main(["compare", "--quiet", "--design", "upstream_lbr:upstream", "--only", "host_never_oopses",
                 "--max-states", "100"])
    assert code == 3
    assert "UNDETERMINED: host_never_oopses" in capsys.readouterr().out


@pytest.mark.parametrize("argv,message", [
    (["--design", "upstream_lbr:nope"], "has no variant 'nope'"),
    (["--design", "upstream_lbr:"], "give MODEL:VARIANT or MODEL"),
    (["--only", "nonsense"], "unknown observation(s) nonsense"),
    (["--design", "peterson"], "takes no part in comparisons"),
    (["--size", "cores=2"], "unknown sort(s) cores"),
    (["--trace-dir", "/nonexistent/dir"], "not a directory"),
    (["--max-seconds", "0"], "--max-seconds must be positive"),
])
@pytest.mark.long
def test_bad_input_is_one_line_and_exit_2(argv, message, capsys):
    assert main(["compare", "--quiet", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert len(err.strip().splitlines()) == 1


def test_models_with_another_catalogue_are_refused():
    designs = C.parse_designs(["upstream_lbr:upstream"], load_model)
    other = dataclasses.replace(designs[0], source=load_model("twophase"))
    with pytest.raises(InputError, match="takes no part"):
        C.observations_of([other])
