"""The web explorer's HTTP side: a local server for one page and its JSON API.

Who may talk to it.  The server drives a model that is Python code on the user's machine, so
only the page it serves may use it, and only from this machine:

* it listens on 127.0.0.1 unless told otherwise;
* a request whose ``Host`` is not this server's local address is refused (a web page that
  resolves its own host name to 127.0.0.1, DNS rebinding, cannot reach it);
* a request that carries an ``Origin`` (browsers send one with every POST and with cross-site
  requests) must come from the server's own page, and ``Sec-Fetch-Site``, where a browser sends
  it, must say the request is from the same origin or typed by the user;
* every request carries the run's token, a random string printed in the URL the server opens
  (``?token=`` on the page and its script, the ``X-Lbrspec-Token`` header on the API), so even a
  local program that guesses the port cannot use it without the URL;
* an API call must send JSON (``Content-Type: application/json``), which a cross-site form
  cannot, and the answers forbid framing, sniffing, caching and referrers.

The model, its sizes and the server's address come from the command line only; the page can
choose among the model's variants, load traces (data, never code) and ask queries (parsed by
lbrspec's own expression parser, never evaluated as Python).
"""

from __future__ import annotations

import hmac
import json
import sys
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

from ..errors import InputError, LbrspecError
from .session import Session

#: The largest request body accepted (an uploaded ITF trace).
MAX_BODY = 8 * 2**20
STATIC = {"/": ("index.html", "text/html; charset=utf-8"),
          "/app.js": ("app.js", "text/javascript; charset=utf-8"),
          "/style.css": ("style.css", "text/css; charset=utf-8")}
HEADERS = {
    "Content-Security-Policy": ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                                "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
                                "frame-ancestors 'none'"),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Cross-Origin-Resource-Policy": "same-origin",
}


def _static(name: str) -> bytes:
    return resources.files("lbrspec.serve").joinpath("static", name).read_bytes()


class ExplorerServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, host: str, port: int, session: Session, token: str, log: Callable[[str], None] | None = None):
        self.session = session
        self.token = token
        self.log = log
        super().__init__((host, port), Handler)
        self.port = self.server_address[1]
        names = {host, "127.0.0.1", "localhost"} if host in ("127.0.0.1", "localhost") else {host}
        if host in ("::1", "[::1]"):
            names = {"[::1]", "localhost"}
        self.hosts = {f"{h}:{self.port}" for h in names}
        self.origins = {f"http://{h}" for h in self.hosts}

    @property
    def url(self) -> str:
        host = self.server_address[0]
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}/?token={self.token}"


class Refused(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class Handler(BaseHTTPRequestHandler):
    server: ExplorerServer
    server_version = "lbrspec-serve"
    sys_version = ""
    protocol_version = "HTTP/1.1"

    # -- plumbing -------------------------------------------------------------------------------------
    def log_message(self, format: str, *args: Any) -> None:
        if self.server.log is not None:
            self.server.log(format % args)

    def _send(self, status: int, body: bytes, ctype: str, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in {**HEADERS, **(extra or {})}.items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, obj: Any, extra: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(obj, ensure_ascii=False).encode(), "application/json; charset=utf-8", extra)

    def _check(self, api: bool) -> dict[str, list[str]]:
        srv = self.server
        host = self.headers.get("Host", "")
        if host not in srv.hosts:
            raise Refused(403, f"refused: Host {host[:80]!r} is not this server ({', '.join(sorted(srv.hosts))})")
        origin = self.headers.get("Origin")
        if origin is not None and origin not in srv.origins:
            raise Refused(403, f"refused: Origin {origin[:80]!r} is not this server's page")
        site = self.headers.get("Sec-Fetch-Site")
        if site is not None and site not in ("same-origin", "none"):
            raise Refused(403, f"refused: a {site[:20]} request (only this server's page may call it)")
        query = parse_qs(urlsplit(self.path).query)
        token = self.headers.get("X-Lbrspec-Token") or (query.get("token") or [""])[0]
        if not hmac.compare_digest(token.encode(), srv.token.encode()):
            raise Refused(403, "refused: missing or wrong token (open the URL lbrspec serve printed)")
        return query

    def _guard(self, fn: Callable[[], None], api: bool) -> None:
        try:
            fn()
        except Refused as e:
            self._json(e.status, {"error": str(e)})
        except (InputError, LbrspecError) as e:
            self._json(400, {"error": str(e)})
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception as e:  # a bug: the page gets one line, the log the details
            if self.server.log is not None:
                self.server.log("".join(traceback.format_exception(e)))
            else:
                print("".join(traceback.format_exception(e)), file=sys.stderr)
            self._json(500, {"error": f"internal error: {type(e).__name__}: {e}"})

    # -- GET ----------------------------------------------------------------------------------------------
    def do_GET(self) -> None:
        self._guard(self._get, api=False)

    def do_HEAD(self) -> None:
        self._guard(self._get, api=False)

    def _get(self) -> None:
        route = urlsplit(self.path).path
        if route == "/favicon.ico":  # browsers ask without the token
            self._send(204, b"", "image/x-icon")
            return
        self._check(api=route.startswith("/api/"))
        if route in STATIC:
            name, ctype = STATIC[route]
            body = _static(name)
            if name == "index.html":  # the page names its script and style with the token
                body = body.replace(b"__TOKEN__", self.server.token.encode())
            self._send(200, body, ctype)
        elif route == "/api/view":
            self._json(200, self.server.session.view())
        elif route == "/api/export.itf.json":
            obj = self.server.session.export_itf()
            self._send(200, json.dumps(obj, indent=1, ensure_ascii=False).encode(), "application/json; charset=utf-8",
                       {"Content-Disposition": 'attachment; filename="path.itf.json"'})
        else:
            raise Refused(404, f"no such page: {route[:80]}")

    # -- POST ---------------------------------------------------------------------------------------------
    def do_POST(self) -> None:
        self._guard(self._post, api=True)

    def _body(self) -> dict[str, Any]:
        ctype = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if ctype != "application/json":
            raise Refused(415, "refused: the API takes JSON (Content-Type: application/json)")
        try:
            n = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            raise Refused(400, "bad Content-Length") from None
        if n < 0 or n > MAX_BODY:
            raise Refused(413, f"request body of {n:,} bytes; at most {MAX_BODY:,}")
        raw = self.rfile.read(n)
        try:
            obj = json.loads(raw.decode("utf-8")) if raw else {}
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
            raise InputError(f"the request is not JSON: {str(e)[:120]}") from None
        if not isinstance(obj, dict):
            raise InputError("the request must be a JSON object")
        return obj

    def _post(self) -> None:
        route = urlsplit(self.path).path
        self._check(api=True)
        if not route.startswith("/api/") or route[5:] not in OPS:
            raise Refused(404, f"no such operation: {route[:80]}")
        body = self._body()
        s = self.server.session
        OPS[route[5:]](s, body)
        self._json(200, s.view())


def _int(body: dict[str, Any], key: str, default: int | None = None) -> int:
    v = body.get(key, default)
    if isinstance(v, bool) or not isinstance(v, int):
        raise InputError(f"{key!r} must be an integer")
    return v


def _str(body: dict[str, Any], key: str, default: str | None = None, limit: int = 2000) -> str:
    v = body.get(key, default)
    if not isinstance(v, str):
        raise InputError(f"{key!r} must be a string")
    if len(v) > limit:
        raise InputError(f"{key!r} is longer than {limit:,} characters")
    return v


def _opt_str(body: dict[str, Any], key: str) -> str | None:
    return _str(body, key) if body.get(key) not in (None, "") else None


OPS: dict[str, Callable[[Session, dict[str, Any]], None]] = {
    "step": lambda s, b: s.take(_int(b, "id")),
    "back": lambda s, b: s.back(),
    "forward": lambda s, b: s.forward(),
    "goto": lambda s, b: s.goto(_int(b, "cursor")),
    "reset": lambda s, b: s.reset(_int(b, "initial", 0)),
    "random": lambda s, b: s.random_walk(_int(b, "steps", 20), b.get("seed") if isinstance(b.get("seed"), int)
                                         and not isinstance(b.get("seed"), bool) else None,
                                         bool(b.get("stop_at_violation", True))),
    "variant": lambda s, b: s.set_variant(_str(b, "variant")),
    "counterexample": lambda s, b: s.load_counterexample(_str(b, "variant", s.design.variant), _opt_str(b, "property")),
    "lasso": lambda s, b: s.load_lasso(_str(b, "variant", s.design.variant), _opt_str(b, "property")),
    "itf": lambda s, b: s.load_itf(b.get("trace"), _str(b, "name", "uploaded trace", limit=200)),
    "query": lambda s, b: s.query(_str(b, "expr")),
}
