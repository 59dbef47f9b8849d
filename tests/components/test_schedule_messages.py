"""The schedule form's plain messages: an empty form's problems and field paths as labels."""

from __future__ import annotations

import pytest

from components.schedule_messages import (
    ADD_RECIPIENT,
    CHOOSE_FORMAT,
    CHOOSE_REPORT,
    empty_form_problems,
    field_label,
    plain_message,
)
from engine.schedule_service import FieldError
from engine.schedules import ScheduleError

FULL = {"report": "kpi_dashboard", "formats": ["pdf"], "recipients": {"email": "a@example.com"}}


def test_a_filled_form_has_no_problems():
    assert empty_form_problems(FULL) == []


def test_an_empty_form_lacks_a_report_recipients_and_a_format():
    empty = {"report": None, "formats": [], "recipients": {}}
    assert empty_form_problems(empty) == [CHOOSE_REPORT, ADD_RECIPIENT, CHOOSE_FORMAT]
    assert empty_form_problems({**FULL, "report": "  "}) == [CHOOSE_REPORT]


def test_recipients_kept_from_the_api_count_as_recipients():
    data = {**FULL, "recipients": {}}
    assert empty_form_problems(data) == [ADD_RECIPIENT]
    assert empty_form_problems(data, {"portal": ["analyst"]}) == []


@pytest.mark.parametrize(
    ("path", "label"),
    [
        ("recipients.email[0]", "E-mail address 1"),
        ("recipients.webhook[2]", "Webhook 3"),
        ("recipients.storage", "Storage folders"),
        ("recipients", "Recipients"),
        ("formats[1]", "Format 2"),
        ("filters.country", "Filter “country”"),
        ("starts_at", "Start date"),
        ("cron", "Cron expression"),
        ("something_new", "Something new"),
    ],
)
def test_field_paths_read_as_the_forms_labels(path, label):
    assert field_label(path) == label


def test_a_field_error_names_the_label_not_the_path():
    exc = FieldError("recipients.email[0]", "'bob' is not an e-mail address")
    assert str(exc) == "recipients.email[0]: 'bob' is not an e-mail address"  # the API's words
    assert plain_message(exc) == "E-mail address 1: 'bob' is not an e-mail address."


def test_other_errors_keep_their_message():
    assert plain_message(ScheduleError("Unknown time zone 'Mars/Base'.")) == (
        "Unknown time zone 'Mars/Base'."
    )
