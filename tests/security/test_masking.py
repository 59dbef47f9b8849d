"""PII masking: the seed's four rules on examples, None-safety, column detection and frames per role."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from security.masking import (
    mask_address,
    mask_email,
    mask_frame,
    mask_name,
    mask_phone,
    pii_columns,
)
from security.users import Principal

ADMIN = Principal(1, "ada", "admin")
ANALYST = Principal(3, "ana", "analyst")


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("ana.analyst@nexpo.example", "ana***@nexpo.example"),
        ("  Max.Manager@Nexpo.Example ", "Max***@Nexpo.Example"),
        ("abc@x.io", "ab***@x.io"),  # a short local part is never shown whole
        ("ab@x.io", "a***@x.io"),
        ("a@x.io", "***@x.io"),
        ("zoë.åberg@exämple.de", "zoë***@exämple.de"),
        ("not-an-email", "***"),
        ("@nexpo.example", "***"),
        ("", ""),
        (None, None),
    ],
)
def test_mask_email_keeps_three_characters_and_the_domain(value, masked):
    assert mask_email(value) == masked


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("+1 (555) 123-4567", "***4567"),
        ("+49 30 1234 5678", "***5678"),
        ("555-0199", "***0199"),
        (4915112345678, "***5678"),
        ("1234", "***"),  # four digits would be the whole number
        ("n/a", "***"),
        (None, None),
    ],
)
def test_mask_phone_keeps_the_last_four_digits(value, masked):
    assert mask_phone(value) == masked


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("Ana Analyst", "A. A."),
        ("josé garcía-lópez", "J. G."),
        ("Łukasz Żółw", "Ł. Ż."),
        ("Zoë  van der Berg", "Z. V. D. B."),
        ("Cher", "C."),
        ("山田 太郎", "山. 太."),
        ("(test) Ana", "T. A."),
        ("ß", "ß."),  # upper-casing would make two letters: kept as is
        ("---", "***"),
        (None, None),
    ],
)
def test_mask_name_gives_initials(value, masked):
    assert mask_name(value) == masked


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("12 Main St, Springfield, IL 62704, USA", "Springfield"),
        ("Hauptstraße 5, 10115 Berlin, Germany", "Berlin"),
        ("10 Downing St\nLondon SW1A 2AA", "London"),
        ("Rua Augusta 100, 1100-053 Lisboa", "Lisboa"),
        ({"street": "12 Main St", "city": "Springfield", "zip": "62704"}, "Springfield"),
        ({"street": "12 Main St"}, "***"),
        ("12 Main St", "***"),  # one part: cannot tell a street from a city
        (None, None),
    ],
)
def test_mask_address_keeps_the_city_only(value, masked):
    assert mask_address(value) == masked


def test_pii_columns_by_name_and_by_declaration():
    columns = [
        "email",
        "billing_email",
        "email_address",
        "phone",
        "mobile",
        "phone_number",
        "full_name",
        "customer_name",
        "address",
        "shipping_address",
        "ip_address",
        "name",
        "account_name",
        "mrr",
        0,
    ]
    assert pii_columns(columns) == {
        "email": "email",
        "billing_email": "email",
        "email_address": "email",
        "phone": "phone",
        "mobile": "phone",
        "phone_number": "phone",
        "full_name": "name",
        "customer_name": "name",
        "address": "address",
        "shipping_address": "address",
    }
    declared = pii_columns(
        ["contact", "email", "account_name"], {"contact": "email", "email": None}
    )
    assert declared == {"contact": "email"}
    with pytest.raises(ValueError, match="unknown PII kind"):
        pii_columns(["x"], {"x": "ssn"})


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "email": ["ana.analyst@nexpo.example", None, "ana.analyst@nexpo.example", "bo@x.io"],
            "full_name": ["Ana Analyst", "Bo Li", float("nan"), "Åsa Öberg"],
            "phone": ["+1 555 123 4567", None, None, "555 987 6543"],
            "mrr": [10.0, 20.0, 30.0, 40.0],
        }
    )


def test_mask_frame_masks_detected_columns_for_non_admins_and_keeps_nulls():
    frame = _frame()
    masked = mask_frame(frame, ANALYST)
    assert masked["email"].tolist()[0::2] == ["ana***@nexpo.example", "ana***@nexpo.example"]
    assert masked["email"].tolist()[3] == "b***@x.io"
    assert pd.isna(masked["email"].iloc[1])
    assert masked["full_name"].tolist()[0::3] == ["A. A.", "Å. Ö."]
    assert math.isnan(masked["full_name"].iloc[2])
    assert masked["phone"].tolist()[0::3] == ["***4567", "***6543"]
    assert masked["mrr"].tolist() == [10.0, 20.0, 30.0, 40.0]
    # the input (possibly a cached result) is untouched
    assert frame["email"].iloc[0] == "ana.analyst@nexpo.example"


def test_mask_frame_leaves_admins_and_disabled_masking_unmasked():
    frame = _frame()
    assert mask_frame(frame, ADMIN) is frame
    assert mask_frame(frame, ANALYST, enabled=False) is frame


def test_mask_frame_with_declared_columns_only_masks_those():
    frame = pd.DataFrame({"contact": ["ana.analyst@nexpo.example"], "email": ["x@y.zz"]})
    masked = mask_frame(frame, ANALYST, {"contact": "email", "missing": "phone"})
    assert masked.to_dict("records") == [{"contact": "ana***@nexpo.example", "email": "x@y.zz"}]


def test_mask_frame_handles_address_mappings_and_empty_frames():
    frame = pd.DataFrame({"address": [{"city": "Porto"}, None, "1 Rua X, Porto"]})
    assert mask_frame(frame, ANALYST)["address"].tolist() == ["Porto", None, "Porto"]
    empty = pd.DataFrame({"email": pd.Series([], dtype=object)})
    assert mask_frame(empty, ANALYST).empty


def test_mask_frame_on_many_rows_matches_the_scalar_rule():
    emails = [f"user{i % 50}@nexpo.example" for i in range(5000)]
    masked = mask_frame(pd.DataFrame({"email": emails}), ANALYST)["email"]
    assert masked.tolist() == [mask_email(e) for e in emails]
