"""Time from navigation to every widget of a dashboard drawn, in Chromium (issue 4, item 8).

Starts the app (this file with --serve: app.py's app plus two bench-only routes) on the large
demo warehouse with a fresh INSTANCE_PATH, logs in once as analyst, then for each run:

- cold: the query cache is cleared in the running app (GET /_bench/reset empties the diskcache
  under <instance>/cache and the counters), then the dashboard URL is opened;
- warm: the same URL is opened again (query cache filled by the cold load).

The app process, its DuckDB connections and the browser's HTTP cache (JS bundles) stay warm
across runs; one discarded load before the runs warms them. With --cold-restart each cold load
instead starts a new app process on a new instance folder (and logs in again).

The time is measured in the page: performance.now() (ms since the navigation's timeOrigin) at the
first poll, from Python every --poll-ms (default 20 ms), that finds every widget drawn: a chart
with .main-svg, a card with [data-testid=metric-value], a grid with .ag-row, or the widget's own
error / "No data" message (reported), and no loading container in the widget. The poll interval
plus one CDP round trip (~1-3 ms) bounds the error (the figure is late by at most that).

Server side, the bench routes record every widget computation (engine.generate._widget: start,
elapsed, error) and every SQL execution (SQLSource.execute), so the script prints per-widget
server time and how many SQL statements a cold load ran against how many fetches the widgets made.

Usage:
    .venv/bin/python bench/bench_dashboard.py [--runs 5] [--dashboard revenue_analytics]
        [--warehouse duckdb:////work/main/instance/warehouse-large.duckdb] [--cold-restart]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from exports.chromium import CHROMIUM_ARGS  # noqa: E402 - the product's own flags

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
DEFAULT_WAREHOUSE = f"duckdb:///{ROOT}/instance/warehouse-large.duckdb"

# Per widget body: "drawn" / "error" / "empty" when done, null while loading or not yet rendered.
POLL_JS = """(ids) => {
    const now = performance.now();
    const states = {};
    for (const id of ids) {
        const key = JSON.stringify({type: 'widget-body', widget: id});
        const el = document.getElementById(key);
        let s = null;
        if (el && !el.closest('[data-dash-is-loading="true"]')
               && !el.querySelector('[data-dash-is-loading="true"]')) {
            if (el.querySelector('.main-svg, [data-testid=metric-value], .ag-row')) s = 'drawn';
            else if (el.querySelector('.widget-error')) s = 'error';
            else if (el.childElementCount && /No data/.test(el.innerText)) s = 'empty';
        }
        states[id] = s;
    }
    return {now, states};
}"""

NAV_JS = """() => {
    const nav = performance.getEntriesByType('navigation')[0] || {};
    const res = performance.getEntriesByType('resource');
    const cb = res.filter(r => r.name.includes('_dash-update-component'));
    return {
        timeOrigin: performance.timeOrigin,
        responseEnd: nav.responseEnd, domContentLoaded: nav.domContentLoadedEventEnd,
        load: nav.loadEventEnd,
        layout: (res.find(r => r.name.includes('_dash-layout')) || {}).responseEnd,
        callbacks: cb.length,
        firstCallbackStart: cb.length ? Math.min(...cb.map(r => r.startTime)) : null,
        lastCallbackEnd: cb.length ? Math.max(...cb.map(r => r.responseEnd)) : null,
    };
}"""


# ---------------------------------------------------------------------------------------------
# Server side (--serve): app.py's app with bench-only hooks


def serve() -> None:
    from flask import jsonify

    import app as app_module
    import engine.generate as generate
    from datasources.sql import SQLSource
    from engine import services
    from settings import Settings

    lock = threading.Lock()
    widgets: list[dict] = []
    executions: list[dict] = []

    original_widget = generate._widget

    def timed_widget(widget, *args, **kwargs):
        started = time.time()
        result = original_widget(widget, *args, **kwargs)
        with lock:
            widgets.append(
                {
                    "widget": widget.id,
                    "start": started,
                    "ms": result.elapsed_ms,
                    "error": result.error,
                    # generate()'s pool (the page's prefetch) or a widget's own request
                    "prefetch": threading.current_thread().name.startswith("widget"),
                }
            )
        return result

    generate._widget = timed_widget

    original_execute = SQLSource.execute

    def counted_execute(self, query, *, timeout=None):
        started = time.time()
        try:
            return original_execute(self, query, timeout=timeout)
        finally:
            with lock:
                executions.append(
                    {
                        "start": started,
                        "ms": (time.time() - started) * 1000,
                        "sql": " ".join(query.text.split())[:160],
                        "key": hashlib.sha1(query.key("").encode()).hexdigest()[:12],
                        "thread": threading.current_thread().name,
                    }
                )

    SQLSource.execute = counted_execute

    settings = Settings.from_env()
    dash_app = app_module.create_app(settings)
    server = dash_app.server

    # The widget callback's drawing (figure or grid built from the result) and its whole request.
    page = next(m for m in list(sys.modules.values()) if hasattr(m, "update_widget"))
    original_body = page.widget_body

    def timed_body(result, *args, **kwargs):
        started = time.perf_counter()
        try:
            return original_body(result, *args, **kwargs)
        finally:
            with lock:
                bodies.append(
                    {"widget": result.widget.id, "ms": (time.perf_counter() - started) * 1000}
                )

    page.widget_body = timed_body
    bodies: list[dict] = []
    requests: list[dict] = []

    @server.before_request
    def bench_request_start():
        from flask import g, request

        if request.path.endswith("_dash-update-component"):
            g.bench_started = time.perf_counter()

    @server.after_request
    def bench_request_end(response):
        from flask import g, request

        if "bench_started" in g:
            body = request.get_json(silent=True) or {}
            # A widget's request names its body in `state` (State(IDS.body(MATCH), "id")).
            ids = [s.get("id") for s in body.get("state", []) if isinstance(s, dict)]
            widget = next(
                (
                    i["widget"]
                    for i in ids
                    if isinstance(i, dict) and i.get("type") == "widget-body"
                ),
                None,
            )
            with lock:
                requests.append(
                    {
                        "widget": widget,
                        "output": str(body.get("output", ""))[:80],
                        "ms": (time.perf_counter() - g.bench_started) * 1000,
                        "bytes": response.calculate_content_length() or 0,
                    }
                )
        return response

    @server.get("/_bench/stats")
    def bench_stats():
        cache = services.current().sources.cache
        with lock:
            return jsonify(
                cache=cache.stats.as_dict(),
                widgets=list(widgets),
                executions=list(executions),
                bodies=list(bodies),
                requests=list(requests),
            )

    @server.get("/_bench/reset")
    def bench_reset():
        cache = services.current().sources.cache
        if cache.backend is not None:
            cache.backend._cache.clear()  # diskcache.Cache under <instance>/cache
        for name in ("hits", "misses", "coalesced", "backend_errors"):
            setattr(cache.stats, name, 0)
        with lock:
            for records in (widgets, executions, bodies, requests):
                records.clear()
        return jsonify(ok=True)

    dash_app.run(host="127.0.0.1", port=settings.port, debug=False)


# ---------------------------------------------------------------------------------------------
# Driver


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """This file with --serve in a subprocess, on a fresh instance folder."""

    def __init__(self, warehouse: str, concurrent_limit: int | None) -> None:
        self.instance = Path(tempfile.mkdtemp(prefix="bench-dashboard-"))
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "WAREHOUSE_URL": warehouse,
            "INSTANCE_PATH": str(self.instance),
            "PORT": str(self.port),
            "SCHEDULER_ENABLED": "false",
            "LOG_LEVEL": "warning",
        }
        if concurrent_limit:
            env["REPORT_CONCURRENT_LIMIT"] = str(concurrent_limit)
        self.log = (self.instance / "server.log").open("w")
        started = time.monotonic()
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--serve"],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError((self.instance / "server.log").read_text()[-2000:])
            try:
                urllib.request.urlopen(self.base + "/health", timeout=1)
                break
            except OSError:
                if time.monotonic() - started > 90:
                    self.stop()
                    raise RuntimeError("the app did not answer /health in 90 s") from None
                time.sleep(0.1)
        self.startup_s = time.monotonic() - started

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()
        shutil.rmtree(self.instance, ignore_errors=True)


def login(context, base: str, user: str, password: str) -> None:
    page = context.new_page()
    page.goto(base + "/login")
    page.fill("#username", user)
    page.fill("#password", password)
    page.click("#login-submit")
    page.wait_for_url(lambda url: "/login" not in url, timeout=30_000)
    page.close()


def measure(
    page, url: str, widget_ids: list[str], poll_s: float, timeout_s: float, *, also=None
) -> dict:
    """Open `url` and poll until every widget is done; ms from the navigation's time origin.

    `also`: another page (another user) that opens the same URL at the same moment."""
    page.goto(url, wait_until="commit")
    if also is not None:
        also.goto(url, wait_until="commit")
    deadline = time.monotonic() + timeout_s
    first_done: dict[str, float] = {}
    while True:
        try:
            polled = page.evaluate(POLL_JS, widget_ids)
        except Exception:  # the document is being replaced (commit came before the new context)
            polled = None
        if polled:
            for wid, state in polled["states"].items():
                if state and wid not in first_done:
                    first_done[wid] = polled["now"]
            if all(polled["states"].values()):
                nav = page.evaluate(NAV_JS)
                return {
                    "ms": polled["now"],
                    "states": polled["states"],
                    "widget_ms": first_done,
                    "nav": nav,
                }
        if time.monotonic() > deadline:
            states = polled["states"] if polled else {}
            raise TimeoutError(f"not drawn after {timeout_s:.0f} s: {states}")
        time.sleep(poll_s)


def server_stats(context, base: str) -> dict:
    return context.request.get(base + "/_bench/stats").json()


def reset(context, base: str) -> None:
    response = context.request.get(base + "/_bench/reset")
    assert response.ok, response.status


def widget_ids_of(key: str) -> list[str]:
    from engine.templates import builtin_dashboards

    spec = builtin_dashboards().get(key)
    if spec is None:
        raise SystemExit(f"no built-in dashboard {key!r}")
    return [w.id for w in spec.widgets]


def fmt_s(values: list[float]) -> str:
    if not values:
        return "-"
    return (
        f"{statistics.median(values) / 1000:.2f} s "
        f"(min {min(values) / 1000:.2f}, max {max(values) / 1000:.2f})"
    )


def load_average() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--dashboard", default="revenue_analytics")
    parser.add_argument("--period", default=None, help="e.g. 30d (default: the spec's)")
    parser.add_argument("--warehouse", default=DEFAULT_WAREHOUSE)
    parser.add_argument("--poll-ms", type=float, default=20.0)
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--cold-restart", action="store_true", help="new app process per cold run")
    parser.add_argument("--concurrent-limit", type=int, default=None)
    parser.add_argument("--user", default="analyst")
    parser.add_argument("--password", default="nexpo-demo")
    parser.add_argument(
        "--second-user",
        default="admin",
        help="after the runs, this user (same row scope) opens it with --user at once; '' skips",
    )
    parser.add_argument("--json", type=Path, default=None, help="write every run's details here")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    widget_ids = widget_ids_of(args.dashboard)
    path = f"/dashboards/{args.dashboard}" + (f"?period={args.period}" if args.period else "")
    poll_s = args.poll_ms / 1000
    print(f"load average at start: {load_average()}")
    cold: list[dict] = []
    warm: list[dict] = []
    both: dict | None = None
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        server = Server(args.warehouse, args.concurrent_limit)
        print(f"app up in {server.startup_s:.1f} s on {server.base} ({server.instance})")

        def new_context(srv: Server):
            ctx = browser.new_context(viewport={"width": 1400, "height": 1000}, bypass_csp=True)
            login(ctx, srv.base, args.user, args.password)
            return ctx, ctx.new_page()

        context, page = new_context(server)
        try:
            # Warm-up, not counted: imports, DuckDB connections, JS bundles in the HTTP cache.
            measure(page, server.base + path, widget_ids, poll_s, args.timeout)
            for run in range(args.runs):
                if args.cold_restart:
                    context.close()
                    server.stop()
                    server = Server(args.warehouse, args.concurrent_limit)
                    context, page = new_context(server)
                else:
                    reset(context, server.base)
                before = server_stats(context, server.base)
                result = measure(page, server.base + path, widget_ids, poll_s, args.timeout)
                time.sleep(0.2)  # let the last callbacks' records land
                after = server_stats(context, server.base)
                result["server"] = _delta(before, after)
                result["load"] = load_average()
                cold.append(result)
                before = after
                result = measure(page, server.base + path, widget_ids, poll_s, args.timeout)
                time.sleep(0.2)
                after = server_stats(context, server.base)
                result["server"] = _delta(before, after)
                result["load"] = load_average()
                warm.append(result)
                print(
                    f"run {run + 1}: cold {cold[-1]['ms'] / 1000:.2f} s, "
                    f"warm {warm[-1]['ms'] / 1000:.2f} s (load {result['load']})"
                )
            if args.second_user:
                # Two users with the same row scope open the dashboard at once, on a cold cache.
                other = browser.new_context(
                    viewport={"width": 1400, "height": 1000}, bypass_csp=True
                )
                login(other, server.base, args.second_user, args.password)
                other_page = other.new_page()
                reset(context, server.base)
                before = server_stats(context, server.base)
                both = measure(
                    page, server.base + path, widget_ids, poll_s, args.timeout, also=other_page
                )
                measure(other_page, server.base + path, widget_ids, poll_s, args.timeout)
                time.sleep(0.2)
                both["server"] = _delta(before, server_stats(context, server.base))
                other.close()
        finally:
            context.close()
            server.stop()
            browser.close()

    report(args, cold, warm, widget_ids)
    if both:
        execs = both["server"]["executions"]
        cache = both["server"]["cache"]
        print(
            f"\ntwo users ({args.user} and {args.second_user}) opening it at once, cold:"
            f" {args.user}'s page drawn in {both['ms'] / 1000:.2f} s; SQL executions {len(execs)}"
            f" (distinct {len({e['key'] for e in execs})}); fetches: hits {cache['hits']},"
            f" misses {cache['misses']}, coalesced {cache['coalesced']}"
        )
    if args.json:
        args.json.write_text(
            json.dumps({"cold": cold, "warm": warm, "two_users": both}, indent=1, default=str)
        )


def _delta(before: dict, after: dict) -> dict:
    out = {"cache": {k: after["cache"][k] - before["cache"].get(k, 0) for k in after["cache"]}}
    for name in ("widgets", "executions", "bodies", "requests"):
        out[name] = after[name][len(before[name]) :]
    return out


def report(args: argparse.Namespace, cold: list[dict], warm: list[dict], ids: list[str]) -> None:
    mode = "new app process per run" if args.cold_restart else "query cache cleared in the app"
    print()
    print(
        f"{args.dashboard}: {len(ids)} widgets, {len(cold)} runs, poll every {args.poll_ms:.0f} ms"
    )
    print(f"cold = {mode}; warm = the same URL again")
    print(f"load average at end: {load_average()}")
    print()
    print("| load | navigation -> all widgets drawn: median (min, max) | target |")
    print("|---|---|---|")
    print(f"| cold | {fmt_s([r['ms'] for r in cold])} | < 3 s |")
    print(f"| warm | {fmt_s([r['ms'] for r in warm])} | < 1.5 s |")
    print()
    for label, runs in (("cold", cold), ("warm", warm)):
        nav = [r["nav"] for r in runs]
        print(
            f"{label}: HTML {statistics.median(n['responseEnd'] for n in nav):.0f} ms, "
            f"DOMContentLoaded {statistics.median(n['domContentLoaded'] for n in nav):.0f} ms, "
            f"_dash-layout {statistics.median((n['layout'] or 0) for n in nav):.0f} ms, "
            f"first widget request {statistics.median((n['firstCallbackStart'] or 0) for n in nav):.0f} ms, "
            f"last callback response {statistics.median((n['lastCallbackEnd'] or 0) for n in nav):.0f} ms, "
            f"callbacks {nav[0]['callbacks']}"
        )
    print()
    print(
        "per widget, medians in ms: drawn = first poll that saw it drawn; request = its"
        " _dash-update-component request in the server; compute = engine.generate._widget in"
        " that request (waits for a prefetch's running query); body = building its figure/grid"
    )
    print()
    print(
        "| widget | cold: drawn | cold: request | cold: compute | warm: drawn | warm: request"
        " | warm: compute | body |"
    )
    print("|---|---|---|---|---|---|---|---|")

    def med(values: list[float]) -> str:
        return f"{statistics.median(values):.0f}" if values else "-"

    for wid in ids:
        cells = []
        for runs in (cold, warm):
            srv = [r["server"] for r in runs]
            cells += [
                med([r["widget_ms"][wid] for r in runs if wid in r["widget_ms"]]),
                med([q["ms"] for s in srv for q in s["requests"] if q["widget"] == wid]),
                med(
                    [
                        w["ms"]
                        for s in srv
                        for w in s["widgets"]
                        if w["widget"] == wid and not w["prefetch"]
                    ]
                ),
            ]
        cells.append(
            med([b["ms"] for r in cold + warm for b in r["server"]["bodies"] if b["widget"] == wid])
        )
        states = {r["states"].get(wid) for r in cold + warm}
        note = "" if states == {"drawn"} else f" ({', '.join(sorted(map(str, states)))})"
        print(f"| {wid}{note} | " + " | ".join(cells) + " |")
    prefetched = [w["ms"] for r in cold for w in r["server"]["widgets"] if w["prefetch"]]
    if prefetched:
        print(
            f"cold, prefetch started by the page layout: {len(prefetched) // len(cold)} widgets,"
            f" slowest {max(prefetched):.0f} ms"
        )
    print()
    for label, runs in (("cold", cold), ("warm", warm)):
        execs = [len(r["server"]["executions"]) for r in runs]
        caches = [r["server"]["cache"] for r in runs]
        fetches = [c["hits"] + c["misses"] + c["coalesced"] for c in caches]
        distinct = [len({e["key"] for e in r["server"]["executions"]}) for r in runs]
        print(
            f"{label}: SQL executions per load {statistics.median(execs):.0f} "
            f"(distinct statement+parameters {statistics.median(distinct):.0f}); "
            f"query fetches by the widgets {statistics.median(fetches):.0f} "
            f"= hits {statistics.median(c['hits'] for c in caches):.0f} + "
            f"misses {statistics.median(c['misses'] for c in caches):.0f} + "
            f"coalesced {statistics.median(c['coalesced'] for c in caches):.0f}"
        )
    if cold:
        last = cold[-1]["server"]["executions"]
        print()
        print("slowest SQL executions of the last cold load (ms, thread, statement start):")
        for e in sorted(last, key=lambda e: -e["ms"])[:12]:
            print(f"  {e['ms']:7.0f}  {e['thread']:<22} {e['sql'][:110]}")


if __name__ == "__main__":
    if "--serve" in sys.argv:
        serve()
    else:
        main()
