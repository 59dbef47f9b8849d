"""The schedules page's tables: the schedules with their actions, and a schedule's run history."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import dash_bootstrap_components as dbc
from dash import html

from components.schedule_form import IDS

STATE_COLORS = {
    "succeeded": "success",
    "sent": "success",
    "failed": "danger",
    "skipped": "secondary",
    "queued": "info",
    "running": "primary",
    "pending": "info",
}


def _button(label: str, action: str, schedule_id: int, color: str = "secondary") -> dbc.Button:
    return dbc.Button(
        label,
        id={"type": IDS.ACTION, "action": action, "id": schedule_id},
        size="sm",
        color=color,
        outline=True,
        className="me-1",
    )


def _local(iso: str | None, tz: str) -> str:
    if not iso:
        return "—"
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(ZoneInfo(tz))
    return f"{moment:%a %d %b %Y %H:%M} {moment.tzname()}"


def _badge(state: str) -> dbc.Badge:
    return dbc.Badge(state, color=STATE_COLORS.get(state, "secondary"), className="me-1")


def schedule_table(items: list[dict[str, Any]]) -> Any:
    """The schedules with their next run, last run and action buttons, or a note when none."""
    if not items:
        return html.P(
            "No schedules yet. “New schedule” sends a report by e-mail, webhook or to storage "
            "on a daily, weekly, monthly or cron rhythm.",
            className="text-secondary",
            id="sched-empty",
        )
    rows = []
    for s in items:
        last = s.get("last_run")
        rows.append(
            html.Tr(
                [
                    html.Td(
                        [
                            html.Div(html.Strong(s["name"])),
                            html.Small(s["report"], className="text-secondary"),
                        ]
                    ),
                    html.Td(s["description"]),
                    html.Td(
                        "paused"
                        if s["paused"]
                        else (s["next_runs"][0] if s["next_runs"] else "ended"),
                        className="small",
                    ),
                    html.Td(", ".join(s["formats"]), className="small"),
                    html.Td(
                        ", ".join(f"{len(v)} {k}" for k, v in s["recipients"].items())
                        or "portal only",
                        className="small",
                    ),
                    html.Td(
                        _badge(last["state"])
                        if last
                        else html.Span("—", className="text-secondary")
                    ),
                    html.Td(
                        [
                            _button("Edit", "edit", s["id"]),
                            _button("Resume", "resume", s["id"], "success")
                            if s["paused"]
                            else _button("Pause", "pause", s["id"], "warning"),
                            _button("Run now", "run", s["id"], "primary"),
                            _button("History", "history", s["id"]),
                            _button("Delete", "delete", s["id"], "danger"),
                        ],
                        className="text-nowrap",
                    ),
                ],
                id=f"sched-row-{s['id']}",
            )
        )
    head = html.Thead(
        html.Tr(
            [
                html.Th(h)
                for h in ("Schedule", "When", "Next run", "Formats", "Recipients", "Last run", "")
            ]
        )
    )
    return dbc.Table(
        [head, html.Tbody(rows)], hover=True, size="sm", className="align-middle", id="sched-table"
    )


def run_history(schedule: dict[str, Any], runs: list[dict[str, Any]], total: int) -> html.Div:
    """A schedule's latest runs: due time, state, duration, files and every delivery."""
    tz = schedule["timezone"]
    title = html.H2(f"Run history · {schedule['name']}", className="h5")
    if not runs:
        return html.Div([title, html.P("No runs yet.", className="small text-secondary")])
    rows = []
    for run in runs:
        deliveries = [
            html.Div(
                [
                    _badge(d["state"]),
                    html.Span(f"{d['channel']} → {d['recipient']}", className="me-1"),
                    html.Small(
                        f"({d['attempts']} attempt{'s' if d['attempts'] != 1 else ''})",
                        className="text-secondary",
                    )
                    if d["attempts"]
                    else None,
                    html.Div(d["error"], className="small text-danger") if d["error"] else None,
                ],
                className="mb-1 sched-delivery",
            )
            for d in run["deliveries"]
        ]
        files = [
            html.Span(
                f"{f['name']} (deleted after the retention period)",
                className="d-block small text-secondary text-decoration-line-through",
                title=f"Deleted on {f['purged_at'][:10]}",
            )
            if f.get("purged_at")
            else html.A(f["name"], href=f["url"], className="d-block small", target="_blank")
            for f in run["files"]
        ]
        took = f"{run['duration_ms'] / 1000:.1f} s" if run["duration_ms"] is not None else "—"
        rows.append(
            html.Tr(
                [
                    html.Td(
                        [
                            html.Div(_local(run["due_at"], tz)),
                            html.Small(run["trigger"], className="text-secondary"),
                        ]
                    ),
                    html.Td(
                        [
                            _badge(run["state"]),
                            html.Div(run["error"], className="small text-danger sched-run-error")
                            if run["error"]
                            else None,
                        ]
                    ),
                    html.Td(took, className="small"),
                    html.Td(files or html.Span("—", className="text-secondary")),
                    html.Td(deliveries or html.Span("—", className="text-secondary")),
                ],
                id=f"sched-run-{run['id']}",
            )
        )
    head = html.Thead(
        html.Tr([html.Th(h) for h in ("Due", "State", "Took", "Files", "Deliveries")])
    )
    more = (
        html.P(f"Showing the latest 25 of {total} runs.", className="small text-secondary")
        if total > 25
        else None
    )
    return html.Div(
        [
            title,
            dbc.Table(
                [head, html.Tbody(rows)],
                size="sm",
                className="align-middle",
                id="sched-history-table",
            ),
            more,
        ]
    )
