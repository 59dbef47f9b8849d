"""Portal delivery: the run lands in the user's report history, once."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from delivery.portal import PortalChannel, PortalDeliveryError
from engine.schedules import Recipient
from store.models import PortalItem, Schedule, ScheduleRun, User
from tests.delivery.helpers import make_bundle


def test_portal_records_the_run_in_the_users_history_once(store, tmp_path):
    with store.session() as s:
        user = User(username="ana", password_hash="x")
        schedule = Schedule(name="Weekly revenue", report_ref="revenue_analytics", cron="0 9 * * 1")
        s.add_all([user, schedule])
        s.flush()
        run = ScheduleRun(
            schedule_id=schedule.id, due_at=datetime(2026, 3, 30, 7, tzinfo=UTC), state="running"
        )
        s.add(run)
        s.flush()
        user_id, run_id = user.id, run.id
    bundle = make_bundle(tmp_path)
    bundle = type(bundle)(**{**bundle.__dict__, "run_id": run_id})

    channel = PortalChannel(store)
    channel.send(bundle, Recipient("portal", "ana"))
    channel.send(bundle, Recipient("portal", str(user_id)))  # same user by id: no second row

    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(PortalItem)) == 1
        item = s.scalar(select(PortalItem))
        assert (item.user_id, item.run_id, item.title) == (
            user_id,
            run_id,
            "Weekly revenue — Mar 23 – Mar 29, 2026 (Europe/Berlin)",
        )
        assert item.files[0]["name"] == "revenue.csv"
    with pytest.raises(PortalDeliveryError, match="no user 'bob'"):
        channel.send(bundle, Recipient("portal", "bob"))
