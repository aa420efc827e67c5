"""lbrspec serve: the explorer's session (no browser), its HTTP access rules, and the command.

The browser itself is driven by tests/test_explorer_browser.py; here every operation of the
page is checked through :class:`~lbrspec.serve.session.Session` and a real server on a free
port, against what the other engines compute.
"""

from __future__ import annotations

import functools
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest

from lbrspec.cli import main
from lbrspec.errors import InputError
from lbrspec.explicit.evaluate import holds
from lbrspec.explicit.replay import replay
from lbrspec.modelref import load_model
from lbrspec.serve.control import control_var
from lbrspec.serve.http import ExplorerServer
from lbrspec.serve.session import Session
from lbrspec.trace.itf import from_itf

from conftest import checked_all


@functools.lru_cache(maxsize=None)
def _source():
    return load_model()


def _session(variant: str | None = None) -> Session:
    return Session(_source(), variant, {})


@functools.lru_cache(maxsize=None)
def _explored() -> Session:
    """One session whose v7-write-path counterexamples are found once (loading one again is then
    instant): the tests below start from it with load_counterexample, which resets the path."""
    s = Session(_source(), None, {"vCPU": 1, "pCPU": 1})  # the race needs one of each: quick to find
    s.load_counterexample("v7-write-path")
    return s


def _v7() -> Session:
    s = _explored()
    s.load_counterexample("v7-write-path")
    return s


# -- the session ------------------------------------------------------------------------------------
def test_initial_view_lists_the_enabled_steps_the_compiled_model_has():
    s = _session()
    v = s.view()
    assert v["model"] == "guest_lbr" and v["variant"] == "v8" and v["cursor"] == 0 and v["length"] == 0
    assert len(v["enabled"]) == len(s.design.comp.successors(s.state)) > 0
    assert all(i["value"] for i in v["invariants"]), "v8's initial state satisfies every invariant"
    assert "v7-write-path" in v["variants"] and "never-free" in v["variants"]
    names = {m["name"] for m in v["machines"]}
    assert {"kvm", "vcpu_event", "host", "lbr_hw"} <= names


@pytest.mark.long
def test_v7_write_path_counterexample_is_the_checkers_and_ends_false_at_the_marked_conjunct():
    s = _session()  # the default sizes, as `lbrspec check --variant v7-write-path` runs it
    s.load_counterexample("v7-write-path")
    want = checked_all("v7-write-path").violation_of("no_kvm_access_after_reclaim").trace
    v = s.view()
    assert v["length"] == len(want) == 6
    assert v["steps"] == [st.label() for st in want.steps]
    assert all(i["value"] for i in v["invariants"]), "the first state of the counterexample is fine"
    for _ in range(6):
        s.forward()
    v = s.view()
    assert v["cursor"] == 6
    bad = {i["name"]: i for i in v["invariants"] if not i["value"]}
    inv = bad["no_kvm_access_after_reclaim"]
    ex = inv["explanation"]
    assert ex["conjunct"] == "ev[v0] = ACTIVE"
    assert ex["bindings"] == [["v", "v0"], ["p", "p0"]]
    a, b = ex["anchor"]
    assert ex["formula"][a:b] == "owns(v, p)"
    # the last step changed the event: the page highlights what it changed
    changed = {x["slot"] for m in v["machines"] for x in m["vars"] if x["before"] is not None}
    assert "ev[v0]" in changed and "hu[h0]" in changed
    # the kvm machine's control diagram lights ACCESS for v0
    kvm = next(c for c in v["control"] if c["machine"] == "kvm")
    assert {"member": "pc[v0]", "value": "ACCESS", "before": None} in kvm["members"]
    # the sequence diagram ends with the violated property
    assert "no_kvm_access_after_reclaim" in v["sequence"]["items"][-1]["text"]


def test_steps_by_hand_back_forward_and_the_dropped_future():
    s = _session()
    first = s.view()["enabled"][0]
    s.take(first["id"])
    second = s.view()["enabled"][0]
    s.take(second["id"])
    v = s.view()
    assert v["length"] == 2 and v["steps"] == [first["label"], second["label"]]
    s.back()
    s.back()
    s.back()  # stays at 0
    assert s.view()["cursor"] == 0
    s.forward()
    assert s.view()["cursor"] == 1
    other = [e for e in s.view()["enabled"] if e["label"] != second["label"]][0]
    s.take(other["id"])  # a new step from state 1 drops the old state 2
    v = s.view()
    assert v["length"] == 2 and v["steps"][1] == other["label"]
    with pytest.raises(InputError, match="not enabled"):
        s.take(10**6)
    with pytest.raises(InputError, match="not on the path"):
        s.goto(7)


def test_random_walks_are_seeded_and_stop_at_a_violation():
    a, b = _session("v7-write-path"), _session("v7-write-path")
    a.random_walk(200, seed=4)
    b.random_walk(200, seed=4)
    assert a.view()["steps"] == b.view()["steps"]
    v = a.view()
    bad = [i["name"] for i in v["invariants"] if not i["value"]]
    # either it stopped at a violation, or it walked all 200 steps without one
    assert (bad and "stopped" in v["message"]) or (v["length"] == 200 and not bad)
    with pytest.raises(InputError):
        a.random_walk(0)


def test_export_replays_and_loads_back():
    s = _v7()
    s.goto(6)
    s.take(s.view()["enabled"][0]["id"])
    obj = s.export_itf()
    tr = from_itf(json.loads(json.dumps(obj)))
    assert len(tr) == 7 and tr.variant == "v7-write-path"
    res = replay(s.design.inst, tr)
    assert res.ok
    t = Session(_source(), None, {"vCPU": 1, "pCPU": 1})
    t.load_itf(obj, "path.itf.json")
    assert t.view()["steps"] == s.view()["steps"] and t.view()["variant"] == "v7-write-path"


def test_itf_of_another_model_or_size_is_refused_with_the_reason():
    s = _v7()
    obj = s.export_itf()
    other = json.loads(json.dumps(obj))
    other["#meta"]["model"] = "peterson"
    with pytest.raises(InputError, match="model 'peterson'"):
        s.load_itf(other)
    with pytest.raises(InputError, match="sizes are chosen when the server starts"):
        _session().load_itf(obj)  # a 1x1 trace, and this session runs 2x2
    broken = json.loads(json.dumps(obj))
    broken["states"][3]["pc"] = broken["states"][0]["pc"]
    with pytest.raises(InputError, match="not a behaviour"):
        s.load_itf(broken)
    with pytest.raises(InputError):
        s.load_itf([1, 2, 3])


def test_unknown_variant_and_unviolated_property_are_refused():
    s = _v7()
    with pytest.raises(InputError, match="no variant 'no-such'"):
        s.load_counterexample("no-such")
    with pytest.raises(InputError, match="single_owner is not violated"):
        s.load_counterexample("v7-write-path", "single_owner")


def _with_capability(s: Session) -> Session:
    """Start from the first initial state where the guest has the LBR capability."""
    inst = s.design.inst
    k = next(i for i in range(inst.initial_count()) if inst.decode(inst.initial_state(i))["cap"] is True)
    s.reset(k)
    assert s.view()["initial"]["index"] == k
    return s


def test_query_extends_the_path_by_a_shortest_path_to_a_state_where_it_holds():
    s = _with_capability(_session())
    s.query("pc[v0] = ACCESS")
    v = s.view()
    # KVM reaches its access after: scheduled in, VM-entry, the intercepted access, the check
    assert v["length"] == 4 and "query" in v["message"]
    assert v["steps"][-1].startswith("kvm_lbr_check(")
    from lbrspec.lang.parse import parse_expr
    e = parse_expr("pc[v0] = ACCESS", s.design.model)
    assert holds(e, s.design.inst, s.state)
    assert not any(holds(e, s.design.inst, st) for st in s.path.states[:-1])
    # from there, on: the path grows from the cursor
    s.query("pc[v1] = WARNED and pc[v0] = ACCESS")
    assert s.view()["length"] > 4
    n = s.view()["length"]
    s.query("cap or not cap")
    assert s.view()["length"] == n and "already holds" in s.view()["message"]


def test_query_errors_are_one_line_and_nothing_is_evaluated_as_python():
    s = _session()
    for text, msg in (("pc[v0] = ", "query"), ("__import__('os').system('true')", "query"),
                      ("pc = ACCESS", "index"), ("pc[v7] = IDLE", "v7")):
        with pytest.raises(InputError, match=msg) as e:
            s.query(text)
        assert "\n" not in str(e.value)
    assert s.view()["length"] == 0


def test_query_that_no_state_satisfies_says_so_or_says_undetermined():
    s = _session()
    # without the capability KVM never gets to an access: the search covers everything
    assert s.view()["invariants"] and s.design.inst.decode(s.state)["cap"] is False
    with pytest.raises(InputError, match="no state reachable from here satisfies it"):
        s.query("pc[v0] = ACCESS")
    s = _with_capability(_session())
    with pytest.raises(InputError, match="undetermined"):
        s.query("ev_counter[v0] != NA", max_states=2000)


def test_control_variables_are_chosen_from_the_model():
    m = _source().build("v8")
    assert control_var(m, "kvm").name == "pc"
    assert control_var(m, "vcpu_event").name == "ev"


# -- the HTTP side --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def server():
    srv = ExplorerServer("127.0.0.1", 0, _session(), "tok-" + "x" * 20)
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def _req(srv, path, *, method="GET", body=None, headers=None, token=True):
    h = {"Host": f"127.0.0.1:{srv.port}"}
    if token:
        h["X-Lbrspec-Token"] = srv.token
    if body is not None:
        h["Content-Type"] = "application/json"
    h.update(headers or {})
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"http://127.0.0.1:{srv.port}{path}", data=data, method=method, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def test_the_page_names_its_script_with_the_token_and_forbids_framing(server):
    code, headers, body = _req(server, f"/?token={server.token}", token=False)
    assert code == 200
    assert f"/app.js?token={server.token}".encode() in body and b"__TOKEN__" not in body
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY" and headers["Referrer-Policy"] == "no-referrer"
    code, _, js = _req(server, f"/app.js?token={server.token}", token=False)
    assert code == 200 and b"/api/" in js


@pytest.mark.parametrize("headers,why", [
    ({"Host": "evil.example:80"}, b"Host"),
    ({"Host": "127.0.0.1:1"}, b"Host"),
    ({"Origin": "http://evil.example"}, b"Origin"),
    ({"Origin": "null"}, b"Origin"),
    ({"Sec-Fetch-Site": "cross-site"}, b"cross-site"),
    ({"X-Lbrspec-Token": "wrong"}, b"token"),
])
def test_requests_from_elsewhere_are_refused(server, headers, why):
    for path, method, body in (("/api/view", "GET", None), ("/api/back", "POST", {}), (f"/?token={server.token}", "GET", None)):
        code, _, out = _req(server, path, method=method, body=body, headers=headers)
        assert code == 403, (path, headers)
        assert why in out


def test_no_token_no_page(server):
    code, _, out = _req(server, "/", token=False)
    assert code == 403 and b"token" in out
    code, _, out = _req(server, "/api/view", token=False)
    assert code == 403


def test_api_takes_json_only_and_answers_errors_in_one_line(server):
    code, _, out = _req(server, "/api/back", method="POST", body=None, headers={"Content-Type": "text/plain"})
    assert code == 415
    code, _, out = _req(server, "/api/step", method="POST", body={"id": "x"})
    assert code == 400 and json.loads(out)["error"] == "'id' must be an integer"
    code, _, out = _req(server, "/api/nope", method="POST", body={})
    assert code == 404
    code, _, out = _req(server, "/api/variant", method="POST", body={"variant": "nope"})
    assert code == 400 and "no variant 'nope'" in json.loads(out)["error"]
    code, _, out = _req(server, "/api/itf", method="POST", body={"trace": {"states": "x"}})
    assert code == 400
    # the own origin is accepted
    code, _, out = _req(server, "/api/back", method="POST", body={},
                        headers={"Origin": f"http://127.0.0.1:{server.port}", "Sec-Fetch-Site": "same-origin"})
    assert code == 200 and json.loads(out)["model"] == "guest_lbr"


def test_export_endpoint_gives_an_itf_file(server):
    code, headers, out = _req(server, "/api/export.itf.json")
    assert code == 200 and "attachment" in headers["Content-Disposition"]
    assert from_itf(json.loads(out)).model == "guest_lbr"


# -- the command ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("args,msg", [
    (["--host", "0.0.0.0"], "not a loopback address"),
    (["--port", "70000"], "--port must be"),
    (["--port", "-1"], "--port must be"),
    (["--vcpus", "0"], "at least 1"),
    (["--variant", "nope"], "unknown variant"),
])
def test_serve_refuses_bad_options_in_one_line(args, msg, capsys):
    assert main(["serve", "--no-open", *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and msg in err[0]


@pytest.mark.long
def test_serve_runs_until_sigterm_and_exits_0():
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    p = subprocess.Popen([sys.executable, "-m", "lbrspec", "serve", "--port", "0", "--no-open", "--quiet"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = ""
        t0 = time.time()
        while "open http" not in line and time.time() - t0 < 60:
            line = p.stdout.readline()
        url = line.split("open ", 1)[1].strip()
        with urllib.request.urlopen(url, timeout=30) as r:
            assert r.status == 200
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=30) == 0
        assert "stopped (interrupted by SIGTERM)" in p.stderr.read()
    finally:
        if p.poll() is None:
            p.kill()


# -- every shipped model, and a user's own -----------------------------------------------------------
def _walk_export_replay(source, variant=None):
    s = Session(source, variant, {})
    v = s.view()
    assert v["model"] == s.design.model.name and len(v["invariants"]) == len(s.design.model.invariants)
    s.random_walk(25, seed=3, stop_at_violation=False)
    v = s.view()
    assert v["length"] >= 1 or not v["enabled"]
    tr = from_itf(json.loads(json.dumps(s.export_itf())))
    assert replay(s.design.inst, tr).ok
    assert v["sequence"]["lanes"] and isinstance(v["control"], list)
    return s


@pytest.mark.long
@pytest.mark.parametrize("name", ["upstream_lbr", "peterson", "dining_philosophers", "tcommit", "twophase",
                                  "twopc_btm", "lock", "simple_allocator", "teaching_concurrency"])
def test_every_shipped_model_can_be_explored(name):
    _walk_export_replay(load_model(name))


def test_a_user_model_file_can_be_explored(tmp_path):
    from test_model_protocol import MUTEX

    f = tmp_path / "mutex.py"
    f.write_text(MUTEX)
    source = load_model(str(f))
    s = _walk_export_replay(source, "no-lock")
    s.load_counterexample("no-lock")
    s.goto(s.view()["length"])
    bad = [i for i in s.view()["invariants"] if not i["value"]]
    assert [i["name"] for i in bad] == ["mutual_exclusion"] and bad[0]["explanation"]["conjunct"]
    s.reset()
    s.query("exists p: proc. true")
    assert "already holds" in s.view()["message"]


def test_a_lasso_loads_and_forward_goes_round_its_loop():
    s = Session(_source(), None, {"vCPU": 1, "pCPU": 1})
    s.load_lasso("never-free")
    v = s.view()
    assert v["loop"] is not None and "unused_event_is_freed" in v["source"]
    n, loop = v["length"], v["loop"]
    assert s.path.states[n] == s.path.states[loop], "a lasso's last state is its loop state again"
    s.goto(n)
    s.forward()
    assert s.view()["cursor"] == loop
    with pytest.raises(InputError, match="no liveness property is violated"):
        s.load_lasso("v8")
