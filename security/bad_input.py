"""Bad input ends in a 4xx: a body-size limit, well-formed Dash callback requests, safe paths."""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import unquote

import dash
from dash._utils import split_callback_id, stringify_id
from dash.exceptions import UnsupportedRelativePath
from flask import Flask, Response, jsonify, request
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.routing import IntegerConverter, Map

log = logging.getLogger(__name__)

CALLBACK_SUFFIX = "/_dash-update-component"
MAX_ID = 2**63 - 1  # the largest BIGINT; SQLite and PostgreSQL overflow above it
MAX_JSON_DEPTH = 64  # far beyond any body this app takes; deeper ones are refused, not recursed
WILDCARDS = (["MATCH"], ["ALL"], ["ALLSMALLER"])
# What a callback raises when the renderer sent values it never sends (a list for a dropdown's
# value, a store without its keys): the request's fault, answered 400 and logged for operators.
INPUT_ERRORS = (
    TypeError,
    KeyError,
    IndexError,
    ValueError,
    AttributeError,
    OverflowError,
    ValidationError,
    UnsupportedRelativePath,
)


class CallbackBodyError(Exception):
    """A /_dash-update-component body that does not fit the callback it names."""

    def __init__(self, user_message: str) -> None:
        super().__init__(user_message)
        self.user_message = user_message


def bad_request(message: str, status: int = 400, code: str = "bad_request") -> Response:
    response = jsonify(error=code, message=message)
    response.status_code = status
    return response


def _matches(declared: str, sent: Any) -> bool:
    """Whether a sent component id fits a declared one (a pattern id may fill its wildcards)."""
    if not declared.startswith("{"):
        return sent == declared
    pattern = json.loads(declared)
    if not isinstance(sent, dict) or set(sent) != set(pattern):
        return False
    for key, want in pattern.items():
        value = sent[key]
        if want in WILDCARDS:
            if not isinstance(value, str | int | float | bool) or isinstance(value, bool):
                return False
        elif value != want:
            return False
    return True


def _slots(field: str, declared: list[dict[str, str]], sent: Any) -> list[str]:
    """Check `inputs` or `state` against the callback's declaration; the sent prop ids."""
    if not isinstance(sent, list) or len(sent) != len(declared):
        raise CallbackBodyError(f"{field}: expected a list of {len(declared)} items")
    prop_ids = []
    for i, (want, item) in enumerate(zip(declared, sent, strict=True)):
        collects = want["id"].startswith("{") and ["ALL"] in json.loads(want["id"]).values()
        collects = collects or (want["id"].startswith("{") and ["ALLSMALLER"] in json.loads(want["id"]).values())  # fmt: skip
        items = item if collects and isinstance(item, list) else [item]
        if collects != isinstance(item, list):
            raise CallbackBodyError(
                f"{field}.{i}: expected {'a list' if collects else 'an object'}"
            )
        for one in items:
            if not isinstance(one, dict) or one.get("property") != want["property"]:
                raise CallbackBodyError(f"{field}.{i}: expected {{id, property, value}}")
            if not _matches(want["id"], one.get("id")):
                raise CallbackBodyError(f"{field}.{i}: not this callback's component")
            prop_ids.append(f"{stringify_id(one['id'])}.{one['property']}")
    return prop_ids


def _outputs(key: str, entry: dict[str, Any], sent: Any) -> None:
    """Check `outputs`: as many as the callback declares, each {id, property} (a list for ALL)."""
    if entry.get("no_output"):
        return
    declared = split_callback_id(key)
    many = isinstance(declared, list)
    declared = declared if many else [declared]
    items = sent if many else [sent]
    if not isinstance(items, list) or len(items) != len(declared):
        raise CallbackBodyError(f"outputs: expected {len(declared)} outputs")
    for i, (want, item) in enumerate(zip(declared, items, strict=True)):
        for one in item if isinstance(item, list) else [item]:
            if not isinstance(one, dict) or not _matches(want["id"], one.get("id")):
                raise CallbackBodyError(f"outputs.{i}: not this callback's output")
            sent_property = one.get("property")
            if not isinstance(sent_property, str) or (
                sent_property.split("@")[0] != want["property"].split("@")[0]
            ):
                raise CallbackBodyError(f"outputs.{i}: not this callback's output")


def check_callback_body(app: dash.Dash, body: Any) -> None:
    """Refuse (CallbackBodyError) a callback request whose shape does not fit its callback."""
    if not isinstance(body, dict):
        raise CallbackBodyError("body: expected a JSON object")
    output = body.get("output")
    entry = app.callback_map.get(output) if isinstance(output, str) else None
    if entry is None:
        raise CallbackBodyError("output: not a callback of this app")
    _outputs(output, entry, body.get("outputs"))
    sent = _slots("inputs", entry["inputs"], body.get("inputs"))
    _slots("state", entry.get("state", []), body.get("state", []))
    changed = body.get("changedPropIds", [])
    if not isinstance(changed, list) or any(c not in sent for c in changed):
        raise CallbackBodyError("changedPropIds: expected prop ids of this callback's inputs")


def json_problem(value: Any) -> str | None:
    """What is wrong with a parsed JSON value, walked iteratively (no recursion): nesting deeper
    than MAX_JSON_DEPTH, or a string with a lone surrogate (no UTF-8 text can hold one)."""
    stack: list[tuple[Any, str, int]] = [(value, "body", 0)]
    while stack:
        item, where, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            return f"body: JSON nested deeper than {MAX_JSON_DEPTH} levels"
        if isinstance(item, str):
            if not _encodable(item):
                return f"{where}: contains an invalid character (a lone surrogate such as \\ud800)"
        elif isinstance(item, dict):
            for key, child in item.items():
                if not _encodable(key):
                    return f"{where}: a key contains an invalid character (a lone surrogate)"
                stack.append((child, key if where == "body" else f"{where}.{key}", depth + 1))
        elif isinstance(item, list):
            stack.extend((c, f"{where}.{i}", depth + 1) for i, c in enumerate(item))
    return None


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _json_refusal() -> Response | None:
    """A 400 for a JSON body nested too deeply or with a lone surrogate (parsed once, cached)."""
    if not request.is_json or not request.content_length:
        return None
    try:
        body = request.get_json(silent=True)
    except RecursionError:
        request._cached_json = (None, None)  # later get_json() calls must not recurse again
        return bad_request(f"body: JSON nested deeper than {MAX_JSON_DEPTH} levels")
    problem = json_problem(body)
    return bad_request(problem) if problem else None


def _is_callback_request() -> bool:
    return request.method == "POST" and request.path.endswith(CALLBACK_SUFFIX)


class BoundedInt(IntegerConverter):
    """`<int:id>` matching only ids a database column can hold; a larger one is a 404."""

    def __init__(self, url_map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(url_map, *args, **kwargs)


def init_server(server: Flask, max_content_length: int) -> None:
    """Before any route is added: bounded integer ids, the body-size limit, JSON bodies checked
    once (depth, lone surrogates), no '..' under component suites, errors without tracebacks."""
    server.url_map.converters["int"] = BoundedInt
    server.config["MAX_CONTENT_LENGTH"] = max_content_length

    @server.before_request
    def _refuse_bad_input() -> Response | None:
        if "/_dash-component-suites/" in request.path and ".." in unquote(request.full_path):
            return bad_request("path: '..' is not allowed here", 404, "not_found")
        return _json_refusal()

    @server.errorhandler(RequestEntityTooLarge)
    def _too_large(_exc: RequestEntityTooLarge) -> Response:
        return bad_request(
            f"The request body is larger than {max_content_length:,} bytes.", 413, "too_large"
        )

    @server.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response | HTTPException:
        if isinstance(exc, HTTPException):
            if request.path.startswith("/api/"):  # routing errors too: JSON, like the API's own
                code = (exc.name or "error").lower().replace(" ", "_")
                return bad_request(exc.description or "", exc.code or 500, code)
            return exc
        if _is_callback_request() and isinstance(exc, INPUT_ERRORS):
            log.warning("callback %s refused its input", request.path, exc_info=exc)
            return bad_request("This update could not be applied: its input is not valid.")
        log.error("unexpected error on %s %s", request.method, request.path, exc_info=exc)
        if request.path.startswith("/api/") or _is_callback_request():
            return bad_request("Something went wrong on the server.", 500, "internal_error")
        return Response("Something went wrong on the server.", 500, mimetype="text/plain")


def init_app(app: dash.Dash) -> None:
    """After sign-in is checked: a callback request must fit the callback it names (else 400)."""

    @app.server.before_request
    def _refuse_bad_callback() -> Response | None:
        if not _is_callback_request():
            return None
        try:
            check_callback_body(app, request.get_json(silent=True))
        except CallbackBodyError as exc:
            return bad_request(f"This update was refused: {exc.user_message}.")
        return None
