"""A Dash-callback fuzzer: every registered callback gets malformed bodies and wrong-typed values;
the server answers each with a 2xx or 4xx, never a 5xx, and never shows a traceback.

Signed in as an admin (so callbacks run rather than stop at the door), and once more through an
embed link for the embed's own callbacks. The numbers are printed for the closing note.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from dash._utils import split_callback_id

HUGE = "x" * 20_000
BAD_VALUES: list[Any] = [
    None,
    "",
    HUGE,
    [1, "a", None],
    {"a": [1], "token": 5, "period": ["30d"]},
    10**30,
    -1,
    True,
    "2026-13-45",
    "../../etc/passwd",
    "\ud800",  # a lone surrogate (sent as the JSON escape \ud800)
]
WILDCARD = ("MATCH", "ALLSMALLER", "ALL")


def _concrete(id_: str) -> tuple[Any, bool]:
    """A pattern-matching id with its wildcards filled in, and whether it collects ALL."""
    if not id_.startswith("{"):
        return id_, False
    parsed = json.loads(id_)
    is_all = any(v == ["ALL"] for v in parsed.values())
    return {k: ("w" if isinstance(v, list) and v and v[0] in WILDCARD else v) for k, v in parsed.items()}, is_all  # fmt: skip


def _slot(spec: dict[str, str], value: Any) -> Any:
    id_, is_all = _concrete(spec["id"])
    item = {"id": id_, "property": spec["property"], "value": value}
    return [item] if is_all else item


def _outputs(key: str) -> list[dict[str, Any]] | dict[str, Any]:
    if "." not in key:  # a callback without outputs is keyed by a hash
        return []
    parsed = split_callback_id(key)
    as_list = isinstance(parsed, list)
    outs = [
        {"id": _concrete(o["id"])[0], "property": o["property"].split("@")[0]}
        for o in (parsed if as_list else [parsed])
    ]
    return outs if as_list else outs[0]


def _body(key: str, entry: dict[str, Any], values: list[Any]) -> dict[str, Any]:
    specs = entry["inputs"] + entry["state"]
    slots = [_slot(s, v) for s, v in zip(specs, values, strict=True)]
    n = len(entry["inputs"])
    return {
        "output": key,
        "outputs": _outputs(key),
        "inputs": slots[:n],
        "state": slots[n:],
        "changedPropIds": [
            f"{_concrete(entry['inputs'][0]['id'])[0]}.{entry['inputs'][0]['property']}"
        ]
        if entry["inputs"]
        else [],
    }


def bodies(key: str, entry: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """(what, body) pairs: wrong values in each slot, then broken structure."""
    n = len(entry["inputs"]) + len(entry["state"])
    for bad in BAD_VALUES:
        yield f"all={bad!r:.30}", _body(key, entry, [bad] * n)
        for i in range(n):
            values = [None] * n
            values[i] = bad
            yield f"slot{i}={bad!r:.30}", _body(key, entry, values)
    good = _body(key, entry, [None] * n)
    for field in ("output", "outputs", "inputs", "state", "changedPropIds"):
        yield f"missing {field}", {k: v for k, v in good.items() if k != field}
        for wrong in (None, 5, "x", {"a": 1}, [[1]]):
            yield f"{field}={wrong!r}", {**good, field: wrong}
    if good["inputs"]:
        yield "one input short", {**good, "inputs": good["inputs"][:-1]}
        yield "input without value", {**good, "inputs": [{"id": "x", "property": "y"}]}
    yield "unknown output", {**good, "output": "no-such.children"}
    yield "body is a list", [good]


def _send(client, url: str, body: Any, headers: dict[str, str]):
    text = json.dumps(body, ensure_ascii=True)  # a lone surrogate goes as the escape \ud800
    return client.post(url, data=text, content_type="application/json", headers=headers)


def _check(answer, what: str, problems: list[str]) -> None:
    text = answer.get_data(as_text=True)
    if answer.status_code >= 500 or "Traceback" in text or 'File "' in text:
        problems.append(f"{answer.status_code} {what}: {text[:200]!r}")


@pytest.fixture
def admin_client(app, login, client):
    client.get("/")  # Dash fills callback_map on the first request
    assert login("admin").status_code in (200, 302)
    return client


def test_no_callback_answers_5xx_to_malformed_input(app, admin_client, capsys):
    headers = {"Origin": "http://localhost", "Referer": "http://localhost/"}
    problems: list[str] = []
    sent = 0
    for key, entry in list(app.callback_map.items()):
        for what, body in bodies(key, entry):
            sent += 1
            _check(
                _send(admin_client, "/_dash-update-component", body, headers),
                f"{key[:80]} {what}",
                problems,
            )
    for what, raw in (("not JSON", "{"), ("empty", ""), ("deep", "[" * 5000 + "]" * 5000)):
        sent += 1
        answer = admin_client.post(
            "/_dash-update-component", data=raw, content_type="application/json", headers=headers
        )
        _check(answer, what, problems)
    with capsys.disabled():
        print(
            f"\ncallback fuzzer: {len(app.callback_map)} callbacks, {sent} requests, {len(problems)} problems"
        )
    assert not problems, "\n".join(problems[:60])


def test_no_embed_callback_answers_5xx_to_malformed_input(app, bearer, capsys):
    client = app.server.test_client()
    client.get("/")
    link = client.get("/api/dashboards/kpi_dashboard/embed", headers=bearer("admin")).get_json()
    token = link["token"]
    stranger = app.server.test_client()
    url = f"/embed/{token}/_dash-update-component"
    problems: list[str] = []
    sent = 0
    embed_keys = [
        k
        for k, e in app.callback_map.items()
        if getattr(e.get("callback"), "__module__", "") == "pages.embed"
    ]
    assert embed_keys
    for key in embed_keys:
        entry = app.callback_map[key]
        for what, body in bodies(key, entry):
            sent += 1
            _check(_send(stranger, url, body, {}), f"{key[:80]} {what}", problems)
        for period in (["30d"], {"a": 1}, 5, HUGE, None):
            body = _body(
                key,
                entry,
                [{"token": token, "period": period}]
                + [None] * (len(entry["inputs"]) + len(entry["state"]) - 1),
            )
            sent += 1
            _check(_send(stranger, url, body, {}), f"{key[:80]} period={period!r:.20}", problems)
    with capsys.disabled():
        print(
            f"\nembed callback fuzzer: {len(embed_keys)} callbacks, {sent} requests, {len(problems)} problems"
        )
    assert not problems, "\n".join(problems[:60])
