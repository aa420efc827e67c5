"""``lbrspec serve``: the web explorer, a local page to step through the model's states."""

from __future__ import annotations

import ipaddress
import os
import secrets
import sys
import threading
import time

import click

from .. import runctl
from ..errors import InputError
from ..modelref import load_model
from .common import SizeFlags, instance_of, model_option, run_options, size_options, variant_option


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _can_open_browser() -> bool:
    return sys.platform in ("darwin", "win32") or bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


@click.command("serve")
@model_option
@variant_option
@size_options
@click.option("--port", type=int, default=8765, show_default=True, metavar="N",
              help="Port to listen on (0: any free port; the URL printed says which).")
@click.option("--host", type=str, default="127.0.0.1", show_default=True, metavar="ADDR",
              help="Address to listen on. Only a loopback address is accepted unless --allow-remote is given.")
@click.option("--allow-remote", is_flag=True,
              help="Accept a --host that is not a loopback address (anyone who can reach it and has the URL's token "
                   "can drive the explorer; there is no encryption).")
@click.option("--open/--no-open", "open_browser", default=None,
              help="Open the page in a browser (default: when a display is available).")
@click.option("--log", "log_requests", is_flag=True, help="Print one line per HTTP request on standard error.")
@run_options()
def serve_cmd(model_ref: str | None, variant: str | None, sizes: SizeFlags, port: int, host: str, allow_remote: bool,
              open_browser: bool | None, log_requests: bool, quiet: bool) -> None:
    """A local web explorer: step through the model's states in a browser.

    The page shows the current state machine by machine (what the last step changed is
    highlighted), the steps enabled in it (take one by clicking), back and forward along the
    path, random walks, every invariant's value (for a false one, its formula with the false
    conjunct marked and why), each machine's control states with the current ones lit, and the
    path as a sequence diagram.  It loads any variant's shortest counterexample, a lasso of a
    liveness property, or an ITF trace file, and steps through it; a query box finds the
    shortest path from the current state to a state where an expression holds, e.g.
    `pc[v0] = ACCESS and not owns(v0, cpu[v0])`; the path exports as ITF.

    The model and its sizes are chosen here, never from the page (a model file is Python).
    The server listens on 127.0.0.1, refuses requests whose Host is not local or whose Origin
    is not its own page, and needs the token in the URL it prints.  It runs until Ctrl-C,
    SIGTERM or --max-seconds, then exits 0.
    """
    if not 0 <= port <= 65535:
        raise InputError(f"--port must be 0 to 65535, got {port}")
    if not host or len(host) > 255:
        raise InputError("--host: an empty or over-long address")
    if not _loopback(host) and not allow_remote:
        raise InputError(f"--host {host}: not a loopback address; the explorer drives Python code on this machine, "
                         "so it listens on 127.0.0.1 unless --allow-remote is given")
    from ..serve.http import ExplorerServer
    from ..serve.session import Session

    source = load_model(model_ref)
    with runctl.phase("loading the model"):
        model = source.build(variant, liveness=True)
        inst = instance_of(source, model, sizes.for_model(model))  # refuses impossible sizes at once
        session = Session(source, model.variant.name, inst.sizes_by_name())
    token = secrets.token_urlsafe(18)
    log = (lambda line: click.echo(f"lbrspec serve: {line}", err=True)) if log_requests else None
    try:
        server = ExplorerServer(host, port, session, token, log=log)
    except OSError as e:
        hint = " (another program, or another lbrspec serve, uses it; --port 0 takes any free port)" \
            if e.errno in (98, 48, 10048) else ""
        raise InputError(f"cannot listen on {host}:{port}: {e.strerror or e}{hint}") from None
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True,
                              name="lbrspec-serve")
    thread.start()
    click.echo(f"lbrspec serve: {session.design.model.name} ({session.design.variant}), {inst.describe()}")
    click.echo(f"  open {server.url}")
    click.echo("  Ctrl-C stops the server.")
    sys.stdout.flush()
    if open_browser or (open_browser is None and _can_open_browser()):
        import webbrowser

        try:
            webbrowser.open(server.url)
        except Exception:  # no browser: the URL is printed
            pass
    reason = None
    try:
        while reason is None:
            reason = runctl.poll()
            if reason is None:
                time.sleep(0.1)
    except KeyboardInterrupt:  # the run's grace interrupt, or a second Ctrl-C
        reason = runctl.reason("interrupted")
    finally:
        server.shutdown()
        server.server_close()
    click.echo(f"lbrspec serve: stopped ({reason})", err=True)
