"""PII masking per the seed's privacy table: email partial, phone last 4, name initials, address city.

Who sees masked data is the policy's call (`security.policy.masks_pii`: every role but admin, and
every embed); `mask_frame` applies it to a metric result, so every view and every export that goes
through `engine.generate` shows the same masked values.

Rules (the seed's words, and the choices where it is silent):

- email: the first 3 characters of the local part + "***@" + the domain
  ("ana.analyst@nexpo.example" -> "ana***@nexpo.example"). A local part of 3 characters or fewer
  keeps one character less than its length, so the whole local part is never shown
  ("ab@x.io" -> "a***@x.io", "a@x.io" -> "***@x.io"). Without an "@" the value is "***".
- phone: "***" + the last 4 digits ("+1 (555) 123-4567" -> "***4567"); 4 digits or fewer: "***".
- name: initials of each word, upper-cased ("Ana Analyst" -> "A. A.", "josé garcía-lópez" ->
  "J. G."); Unicode letters are kept (NFC-normalised first).
- address: the city only. A mapping with a "city" key gives that; a string "street, [postcode]
  city[, region][, country]" gives the first part after the street with its postcode-like
  (digit-bearing) words dropped ("Hauptstraße 5, 10115 Berlin, Germany" -> "Berlin"). A one-part
  string cannot be told apart from a street: "***".
- None, NaN and empty strings stay as they are.

Which columns are PII: `pii_columns(columns, declared)` — an explicit `declared` mapping (a metric
or widget can declare `{"contact": "email"}`, or `{"x": None}` to clear a match) wins over the name
patterns in `PII_PATTERNS`: email / *_email / email_address; phone / mobile / *_phone /
phone_number; full_name / first_name / last_name / contact_name / customer_name / person_name /
display_name (bare `name` and `account_name` are not matched: in this warehouse they name plans and
companies); address / street_address / billing_address / shipping_address / postal_address /
home_address / mailing_address.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal

import numpy as np
import pandas as pd

from security.policy import masks_pii
from security.users import Principal

PiiKind = Literal["email", "phone", "name", "address"]
MASK = "***"

PII_PATTERNS: tuple[tuple[re.Pattern[str], PiiKind], ...] = (
    (re.compile(r"^(.*_)?e?mail(_address)?$"), "email"),
    (re.compile(r"^(.*_)?(phone(_number)?|mobile|telephone)$"), "phone"),
    (re.compile(r"^(.*_)?(full|first|last|given|family|contact|customer|person|display)_name$"), "name"),
    (re.compile(r"^((street|billing|shipping|postal|home|mailing)_)?address$"), "address"),
)  # fmt: skip


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return None
    return unicodedata.normalize("NFC", str(value)).strip()


def mask_email(value: Any) -> Any:
    """ "ana.analyst@nexpo.example" -> "ana***@nexpo.example"; None stays None."""
    text = _text(value)
    if not text:
        return value
    local, at, domain = text.rpartition("@")
    if not at or not local or not domain:
        return MASK
    keep = min(3, len(local) - 1)
    return f"{local[:keep]}{MASK}@{domain}"


def mask_phone(value: Any) -> Any:
    """ "+1 (555) 123-4567" -> "***4567"; fewer than 5 digits -> "***"; None stays None."""
    text = _text(value)
    if not text:
        return value
    digits = re.sub(r"\D", "", text)
    return f"{MASK}{digits[-4:]}" if len(digits) > 4 else MASK


def mask_name(value: Any) -> Any:
    """ "Ana Analyst" -> "A. A."; "Łukasz żółw" -> "Ł. Ż."; None stays None."""
    text = _text(value)
    if not text:
        return value
    initials = []
    for word in text.split():
        letter = next((ch for ch in word if ch.isalnum()), None)
        if letter is not None:
            upper = letter.upper()
            initials.append(f"{upper if len(upper) == 1 else letter}.")
    return " ".join(initials) or MASK


def mask_address(value: Any) -> Any:
    """The city only: {"city": "Berlin", ...} or "Hauptstraße 5, 10115 Berlin, Germany" -> "Berlin"."""
    if isinstance(value, Mapping):
        city = _text(value.get("city"))
        return city or MASK
    text = _text(value)
    if not text:
        return value
    parts = [p.strip() for p in re.split(r"[,\n;]", text) if p.strip()]
    for part in parts[1:]:
        words = [w for w in part.split() if not any(ch.isdigit() for ch in w)]
        if words:
            return " ".join(words)
    return MASK


MASKERS: dict[str, Callable[[Any], Any]] = {
    "email": mask_email,
    "phone": mask_phone,
    "name": mask_name,
    "address": mask_address,
}


def pii_kind(column: str) -> PiiKind | None:
    """The PII kind a column name matches in PII_PATTERNS, or None."""
    name = column.strip().lower()
    if name in ("ip_address", "mac_address"):
        return None
    for pattern, kind in PII_PATTERNS:
        if pattern.match(name):
            return kind
    return None


def pii_columns(
    columns: Iterable[Any], declared: Mapping[str, str | None] | None = None
) -> dict[str, str]:
    """`{column: kind}` of the PII among `columns`: `declared` first, then the name patterns."""
    declared = declared or {}
    found: dict[str, str] = {}
    for column in columns:
        if not isinstance(column, str):
            continue
        kind = declared[column] if column in declared else pii_kind(column)
        if kind is not None:
            if kind not in MASKERS:
                raise ValueError(f"unknown PII kind {kind!r} for column {column!r}")
            found[column] = kind
    return found


def mask_series(series: pd.Series, kind: str) -> pd.Series:
    """`series` masked as `kind`; nulls kept. Each distinct value is masked once (pd.factorize)."""
    masker = MASKERS[kind]
    try:
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
    except TypeError:  # unhashable values (address mappings): one call per row
        values = [masker(v) for v in series]
        return pd.Series(values, index=series.index, name=series.name, dtype=object)
    masked = np.array([masker(u) for u in uniques] + [None], dtype=object)
    values = masked[codes]  # code -1 picks the trailing None, then the original null is restored
    out = pd.Series(values, index=series.index, name=series.name, dtype=object)
    nulls = codes == -1
    if nulls.any():
        out[nulls] = series[nulls].astype(object)
    return out


def mask_frame(
    frame: pd.DataFrame,
    principal: Principal,
    pii: Mapping[str, str] | None = None,
    *,
    enabled: bool = True,
) -> pd.DataFrame:
    """`frame` with its PII columns masked for `principal`; the input is never modified.

    Args:
        frame: a metric result (may come straight from the query cache, so it is copied).
        principal: who will see it; admins see it unmasked.
        pii: `{column: kind}`; None detects PII columns by name (`pii_columns`).
        enabled: settings.enable_pii_masking.
    Returns:
        The same frame when nothing is masked, else a masked copy.
    """
    if frame is None or not masks_pii(principal, enabled=enabled):
        return frame
    columns = pii_columns(frame.columns) if pii is None else dict(pii)
    columns = {c: k for c, k in columns.items() if c in frame.columns}
    if not columns:
        return frame
    masked = frame.copy()
    for column, kind in columns.items():
        masked[column] = mask_series(frame[column], kind)
    return masked
