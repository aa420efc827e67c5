"""The web explorer in a real browser: headless Chromium driven through ChromeDriver (both from
Debian's packages: `apt-get install chromium chromium-driver`; .ci/run installs them).

One scenario, as a user would go through it:

1. `lbrspec serve` starts on a free port; the page loads with the URL it printed;
2. choose the variant v7-write-path and load its shortest counterexample;
3. step forward to the violation: the invariant turns false, with its false conjunct marked;
4. take two steps by hand;
5. run a path query;
6. export the path as ITF and replay it with `lbrspec replay`.

Screenshots of the main views are written to $LBRSPEC_SCREENSHOTS (default build/screenshots/),
with the time each stage took (timings.json), so a person can look at them.  Skipped where
Chromium, ChromeDriver or Selenium are missing, unless LBRSPEC_REQUIRE_TOOLS is set (CI).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"

try:
    import selenium  # noqa: F401

    HAVE_SELENIUM = True
except ImportError:  # pragma: no cover - selenium is in the test extras
    HAVE_SELENIUM = False

missing = [n for n, ok in (("chromium", os.path.exists(CHROMIUM)), ("chromedriver", os.path.exists(CHROMEDRIVER)),
                           ("selenium", HAVE_SELENIUM)) if not ok]
if missing and os.environ.get("LBRSPEC_REQUIRE_TOOLS"):
    pytest.fail(f"LBRSPEC_REQUIRE_TOOLS is set and {', '.join(missing)} is missing "
                "(apt-get install chromium chromium-driver; pip install -e '.[test]')", pytrace=False)
pytestmark = [pytest.mark.long,
              pytest.mark.skipif(bool(missing), reason=f"{', '.join(missing)} not installed")]

SHOTS = Path(os.environ.get("LBRSPEC_SCREENSHOTS", ROOT / "build" / "screenshots"))


@pytest.fixture
def server():
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    p = subprocess.Popen([sys.executable, "-m", "lbrspec", "serve", "--port", "0", "--no-open", "--quiet"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    try:
        url = None
        t0 = time.time()
        while url is None and time.time() - t0 < 120:
            line = p.stdout.readline()
            if not line and p.poll() is not None:
                raise AssertionError(f"lbrspec serve ended: {p.stderr.read()}")
            if "open http" in line:
                url = line.split("open ", 1)[1].strip()
        assert url, "lbrspec serve printed no URL"
        yield url
    finally:
        p.send_signal(signal.SIGINT)
        try:
            assert p.wait(timeout=30) == 0
        finally:
            if p.poll() is None:
                p.kill()


@pytest.fixture
def browser(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
              "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
              "--window-size=1600,1300", f"--user-data-dir={tmp_path / 'profile'}"):
        opts.add_argument(a)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=opts)
    driver.set_script_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def _wait(driver, what, cond, timeout=180.0):
    t0 = time.time()
    while time.time() - t0 < timeout:
        try:
            if cond():
                return
        except Exception:  # the page is re-rendering: try again
            pass
        time.sleep(0.1)
    msg = driver.find_element("id", "message").text
    raise AssertionError(f"timed out waiting for {what} (page says: {msg!r})")


def _data(driver, key):
    return driver.execute_script(f"return document.body.dataset.{key};")


def _full_shot(driver, path: Path) -> None:
    h = driver.execute_script("return Math.max(document.body.scrollHeight, 1300);")
    driver.set_window_size(1600, min(int(h) + 40, 6000))
    driver.save_screenshot(str(path))
    driver.set_window_size(1600, 1300)


def test_explorer_scenario_v7_write_path(server, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    SHOTS.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    t_all = time.time()
    d = browser

    t = time.time()
    d.get(server)
    _wait(d, "the first view", lambda: _data(d, "length") == "0" and d.find_elements(By.CSS_SELECTOR, "#enabled button.step"))
    assert "guest_lbr" in d.find_element(By.ID, "title").text
    timings["load the page"] = time.time() - t
    _full_shot(d, SHOTS / "01-initial.png")

    # 2. the v7-write-path counterexample
    t = time.time()
    Select(d.find_element(By.ID, "variant")).select_by_value("v7-write-path")
    _wait(d, "the variant", lambda: "v7-write-path" in d.find_element(By.ID, "title").text)
    d.find_element(By.ID, "load-cex").click()
    _wait(d, "the counterexample", lambda: _data(d, "length") == "6")
    assert "shortest counterexample of no_kvm_access_after_reclaim" in d.find_element(By.ID, "source").text
    assert _data(d, "cursor") == "0" and _data(d, "violated") == ""
    timings["load the shortest counterexample"] = time.time() - t

    # 3. step to the violation
    t = time.time()
    for i in range(1, 7):
        d.find_element(By.ID, "forward").click()
        _wait(d, f"state {i}", lambda i=i: _data(d, "cursor") == str(i))
    assert "no_kvm_access_after_reclaim" in _data(d, "violated").split()
    inv = d.find_element(By.CSS_SELECTOR, 'li.inv.false[data-name="no_kvm_access_after_reclaim"]')
    assert inv.find_element(By.CSS_SELECTOR, "mark.false-conjunct").text == "owns(v, p)"
    assert inv.find_element(By.CSS_SELECTOR, ".conjunct-text").text == "ev[v0] = ACTIVE"
    assert "v = v0, p = p0" in inv.text
    # the last step's changes are highlighted, and the kvm diagram lights ACCESS
    changed = [e.text for e in d.find_elements(By.CSS_SELECTOR, "tr.changed td.slot")]
    assert "ev[v0]" in changed
    kvm = d.find_element(By.CSS_SELECTOR, 'figure.machine-diagram[data-machine="kvm"]')
    assert "pc[v0] = ACCESS" in kvm.find_element(By.TAG_NAME, "figcaption").text
    assert kvm.find_elements(By.CSS_SELECTOR, ".lit"), "no control state is lit"
    # the sequence diagram shows the race: the window after KVM's check, the IPI interrupting KVM
    seq = d.find_element(By.ID, "sequence")
    assert seq.find_elements(By.CSS_SELECTOR, "rect.region.race"), "no race window drawn"
    assert "race window" in seq.text and "interrupts KVM" in seq.text
    assert seq.find_elements(By.CSS_SELECTOR, "line.msg.interrupt.current"), "the IPI is not drawn as an interrupt"
    assert seq.find_elements(By.CSS_SELECTOR, "rect.activation")
    timings["step to the violation"] = time.time() - t
    _full_shot(d, SHOTS / "02-violation.png")
    h = d.execute_script("return document.body.scrollHeight;")
    d.set_window_size(1600, min(int(h) + 40, 6000))
    d.find_element(By.ID, "inv-pane").screenshot(str(SHOTS / "03-invariant-false.png"))
    d.find_element(By.ID, "machines-pane").screenshot(str(SHOTS / "04-machines.png"))
    d.find_element(By.ID, "sequence-pane").screenshot(str(SHOTS / "05-sequence.png"))
    d.set_window_size(1600, 1300)

    # 4. two steps by hand
    t = time.time()
    for n in (7, 8):
        d.execute_script("window.scrollTo(0, 0);")
        button = d.find_elements(By.CSS_SELECTOR, "#enabled button.step")[0]
        label = button.get_attribute("data-label")
        button.click()
        _wait(d, f"step {n}", lambda n=n: _data(d, "length") == str(n) and _data(d, "cursor") == str(n))
        assert d.find_elements(By.CSS_SELECTOR, "#path li")[-1].text == label
    timings["two steps by hand"] = time.time() - t

    # 5. a path query from here
    t = time.time()
    q = d.find_element(By.ID, "query")
    q.clear()
    q.send_keys("pc[v1] = WARNED")
    d.find_element(By.ID, "query-go").click()
    _wait(d, "the query", lambda: "holds after" in d.find_element(By.ID, "message").text)
    n = int(_data(d, "length"))
    assert n > 8 and _data(d, "cursor") == str(n)
    kvm = d.find_element(By.CSS_SELECTOR, 'figure.machine-diagram[data-machine="kvm"]')
    assert "pc[v1] = WARNED" in kvm.find_element(By.TAG_NAME, "figcaption").text
    timings["path query"] = time.time() - t
    _full_shot(d, SHOTS / "06-after-query.png")

    # 6. export as ITF (the page's own link, fetched by the page) and replay it
    t = time.time()
    href = d.find_element(By.ID, "export").get_attribute("href")
    text = d.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch(arguments[0]).then(r => r.text()).then(done, e => done('ERROR ' + e));", href)
    assert not text.startswith("ERROR"), text
    f = tmp_path / "path.itf.json"
    f.write_text(text)
    out = subprocess.run([sys.executable, "-m", "lbrspec", "replay", "--json", str(f)], capture_output=True,
                         text=True, timeout=300, cwd=ROOT)
    rep = json.loads(out.stdout)
    assert rep["replays"] is True and rep["steps_replayed"] == n and rep["variant"] == "v7-write-path"
    assert any(x["invariant"] == "no_kvm_access_after_reclaim" and x["state"] == 6 for x in rep["invariant_failures"])
    timings["export and replay"] = time.time() - t
    timings["whole scenario"] = time.time() - t_all
    (SHOTS / "timings.json").write_text(json.dumps({k: round(v, 2) for k, v in timings.items()}, indent=1) + "\n")
    for name in ("01-initial.png", "02-violation.png", "03-invariant-false.png", "04-machines.png",
                 "05-sequence.png", "06-after-query.png"):
        assert (SHOTS / name).stat().st_size > 5000, name
