"""Initialising the metadata store once: the init lock, and `flask init` on an empty database."""

from __future__ import annotations

import threading

import pytest
from flask import Flask
from sqlalchemy import inspect, select

from security.users import ensure_demo_users
from store import Store
from store import cli as store_cli
from store.models import User


def test_the_init_lock_makes_a_second_process_wait(store):
    entered = threading.Event()
    other = Store(store.url)  # another process's engine: its own connection or open file

    def initialise() -> None:
        with other.init_lock():
            entered.set()

    try:
        with store.init_lock():
            thread = threading.Thread(target=initialise)
            thread.start()
            assert not entered.wait(0.5)  # blocked while this one migrates and seeds
        assert entered.wait(10)
        thread.join(10)
    finally:
        other.dispose()


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_flask_init_migrates_and_seeds_an_empty_database_and_repeats_harmlessly(
    backend, tmp_path, request
):
    url = (
        f"sqlite:///{tmp_path / 'empty.db'}"
        if backend == "sqlite"
        else request.getfixturevalue("pg_database")
    )
    store = Store(url)  # not migrated
    try:
        assert "users" not in inspect(store.engine).get_table_names()
        server = Flask(__name__)
        store_cli.register(server, store, ensure_demo_users)
        runner = server.test_cli_runner()
        for _ in range(2):
            result = runner.invoke(args=["init"])
            assert result.exit_code == 0, result.output
            assert (
                result.output.strip()
                == f"Metadata store at revision {store.revision()}; 4 user(s)."
            )
        with store.session() as session:
            names = sorted(session.scalars(select(User.username)))
        assert names == ["admin", "analyst", "manager", "viewer"]
        assert store.revision() is not None
    finally:
        store.dispose()
