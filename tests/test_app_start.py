"""A fresh deploy starts: four gunicorn workers on an empty instance folder (SQLite) and on an empty
PostgreSQL database migrate, seed and make their secrets once, then all answer."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, text

from settings import PROJECT_ROOT

WORKERS = 4
GUNICORN = Path(sys.executable).with_name("gunicorn")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def start_gunicorn(tmp_path: Path) -> Iterator:
    started: list[subprocess.Popen] = []

    def start(instance: Path, **env: str) -> tuple[str, Path]:
        port, log = _free_port(), tmp_path / "gunicorn.log"
        # Empty values win over a .env file: the defaults of a first deploy, secrets made under
        # instance/ and the metadata in instance/nexpo.db unless DATABASE_URL is given.
        blank = dict.fromkeys(("SECRET_KEY", "EMBED_SECRET", "DATABASE_URL", "REDIS_URL"), "")
        environ = {**os.environ, **blank, "INSTANCE_PATH": str(instance), "DEMO_MODE": "true",
                   "LOG_LEVEL": "info", **env}  # fmt: skip
        command = [str(GUNICORN), "-w", str(WORKERS), "-b", f"127.0.0.1:{port}", "--timeout", "120",
                   "--access-logfile", "-", "--access-logformat", "%(p)s %(s)s %(U)s",
                   "app:server"]  # fmt: skip
        with open(log, "wb") as out:
            started.append(subprocess.Popen(command, cwd=PROJECT_ROOT, env=environ, stdout=out,
                                            stderr=subprocess.STDOUT))  # fmt: skip
        return f"http://127.0.0.1:{port}", log

    yield start
    for process in started:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_healthy(base: str, log: Path, timeout: float = 90) -> None:
    ends = time.monotonic() + timeout
    while time.monotonic() < ends:
        try:
            if requests.get(f"{base}/health", timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        if "Shutting down: Master" in log.read_text(errors="replace"):
            break
        time.sleep(0.5)
    pytest.fail(f"gunicorn never answered /health; its log:\n{log.read_text(errors='replace')}")


def _signed_in(base: str) -> requests.Session:
    """A session signed in as the demo admin through the login form."""
    client = requests.Session()
    client.headers["Origin"] = base  # a browser's same-origin form post
    page = client.get(f"{base}/login", timeout=30)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token, page.text[:500]
    answer = client.post(f"{base}/login", timeout=30, allow_redirects=False,
                         data={"csrf_token": token.group(1), "username": "admin",
                               "password": "nexpo-demo", "next": "/"},
                         headers={"Referer": f"{base}/login"})  # fmt: skip
    assert answer.status_code == 302, answer.text[:500]
    return client


def _check_all_workers_answer(base: str, log: Path) -> None:
    _wait_healthy(base, log)
    # The session cookie is signed with the secret made under instance/: every worker must accept
    # the one another worker signed, so they all read the same secret.
    client = _signed_in(base)
    paths = ["/health", "/api/templates", "/login"] * 14
    with ThreadPoolExecutor(8) as pool:  # concurrent, so that busy sync workers pass requests on
        answers = list(pool.map(lambda p: client.get(f"{base}{p}", timeout=60), paths))
    assert [a.status_code for a in answers] == [200] * len(paths), [
        (p, a.status_code) for p, a in zip(paths, answers, strict=True) if a.status_code != 200
    ]
    text_log = log.read_text(errors="replace")
    booted = set(re.findall(r"Booting worker with pid: (\d+)", text_log))
    answered = set(re.findall(r"^<(\d+)> \d{3} /", text_log, re.MULTILINE))
    assert len(booted) == WORKERS, text_log  # a worker that died would have been replaced
    assert answered == booted, text_log
    assert "Traceback" not in text_log and "Worker exiting" not in text_log, text_log


def _usernames(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return sorted(conn.execute(text("SELECT username FROM users")).scalars())
    finally:
        engine.dispose()


def test_four_workers_start_on_an_empty_sqlite_instance_folder(tmp_path, start_gunicorn):
    instance = tmp_path / "instance"  # does not exist yet
    base, log = start_gunicorn(instance)
    _check_all_workers_answer(base, log)
    assert _usernames(f"sqlite:///{instance / 'nexpo.db'}") == [
        "admin", "analyst", "manager", "viewer"
    ]  # fmt: skip
    secrets = sorted(p.name for p in instance.iterdir() if p.name.startswith((".secret", ".embed")))
    assert secrets == [".embed_secret", ".secret_key"]  # no candidate files left behind
    assert len((instance / ".secret_key").read_text().strip()) >= 32


@pytest.mark.postgres
def test_four_workers_start_on_an_empty_postgresql_database(tmp_path, start_gunicorn, pg_database):
    base, log = start_gunicorn(tmp_path / "instance", DATABASE_URL=pg_database)
    _check_all_workers_answer(base, log)
    assert _usernames(pg_database) == ["admin", "analyst", "manager", "viewer"]
