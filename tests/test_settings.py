"""Settings: the seed's defaults, typed values, and one clear line for a bad value."""

import pytest

from settings import FEATURES, RENAMED, Settings, SettingsError, describe

# The seed's "Required Variables" (SEED.md), with its defaults. Its placeholders for keys and ids
# ("your-posthog-api-key"...) are examples, not defaults: unset here. PDF_GENERATOR_URL's
# http://pdf-service:3000 is a deployment's address: empty here means the in-process Chromium.
SEED = {
    "ENABLE_POSTHOG_ANALYTICS": True,
    "ENABLE_LOOKER_STUDIO": True,
    "ENABLE_PDF_EXPORT": True,
    "ENABLE_EXCEL_EXPORT": True,
    "ENABLE_SCHEDULED_REPORTS": True,
    "ENABLE_REAL_TIME_REPORTS": True,
    "ENABLE_CUSTOM_REPORTS": True,
    "ENABLE_DASHBOARD_BUILDER": True,
    "POSTHOG_API_KEY": "",
    "POSTHOG_PROJECT_ID": "",
    "POSTHOG_HOST": "https://app.posthog.com",
    "LOOKER_STUDIO_API_KEY": "",
    "LOOKER_STUDIO_PROJECT_ID": "",
    "LOOKER_STUDIO_DATASET_ID": "",
    "LOOKER_STUDIO_SERVICE_ACCOUNT": "",
    "REPORT_CACHE_TTL": 3600,
    "REPORT_MAX_ROWS": 100000,
    "REPORT_TIMEOUT_SECONDS": 300,
    "REPORT_CONCURRENT_LIMIT": 10,
    "PDF_GENERATOR_URL": "",
    "EXCEL_EXPORT_ENABLED": True,
    "IMAGE_EXPORT_FORMAT": "png",
    "API_EXPORT_FORMATS": ("json", "xml", "csv"),
    "EMAIL_DELIVERY_ENABLED": True,
    "WEBHOOK_DELIVERY_ENABLED": True,
    "FILE_STORAGE_ENABLED": True,
    "REPORT_PORTAL_ENABLED": True,
}


def test_the_seeds_variables_exist_with_its_defaults(tmp_path):
    s = Settings.from_env({"INSTANCE_PATH": str(tmp_path)})
    assert {name: getattr(s, name.lower()) for name in SEED} == SEED
    assert all(s.enabled(feature) for feature in FEATURES)


def test_defaults_offer_pdf_excel_images_and_the_seeds_data_formats(tmp_path):
    s = Settings.from_env({"INSTANCE_PATH": str(tmp_path)})
    assert s.export_formats == ("pdf", "excel", "csv", "json", "xml", "png", "svg", "jpg")


@pytest.mark.parametrize(
    ("env", "fmt", "message"),
    [
        (
            {"ENABLE_PDF_EXPORT": "false"},
            "pdf",
            "PDF export is turned off (ENABLE_PDF_EXPORT=false).",
        ),
        (
            {"EXCEL_EXPORT_ENABLED": "false"},
            "excel",
            "Excel export is turned off (EXCEL_EXPORT_ENABLED=false).",
        ),
        (
            {"ENABLE_EXCEL_EXPORT": "false", "EXCEL_EXPORT_ENABLED": "false"},
            "excel",
            "Excel export is turned off (ENABLE_EXCEL_EXPORT=false and EXCEL_EXPORT_ENABLED=false).",
        ),
        (
            {"API_EXPORT_FORMATS": "json,csv"},
            "xml",
            "XML export is turned off (API_EXPORT_FORMATS=json,csv).",
        ),
    ],
)
def test_a_format_turned_off_names_its_variable(tmp_path, env, fmt, message):
    s = Settings.from_env({"INSTANCE_PATH": str(tmp_path), **env})
    assert s.format_off(fmt) == message
    assert fmt not in s.export_formats
    assert "png" in s.export_formats  # images have no switch


@pytest.mark.parametrize("old", sorted(RENAMED))
def test_an_old_name_stops_start_up_naming_the_new_one(tmp_path, old):
    with pytest.raises(SettingsError) as err:
        Settings.from_env({"INSTANCE_PATH": str(tmp_path), old: "true"})
    assert str(err.value) == f"{old} is no longer read: use {RENAMED[old]} instead"


def test_old_names_map_to_the_seeds(tmp_path):
    assert RENAMED["ENABLE_SCHEDULING"] == "ENABLE_SCHEDULED_REPORTS"
    assert RENAMED["STORAGE_DELIVERY_ENABLED"] == "FILE_STORAGE_ENABLED"
    assert RENAMED["ENABLE_REAL_TIME"] == "ENABLE_REAL_TIME_REPORTS"
    names = {name for name, _, _ in describe()}
    assert not names & set(RENAMED)
    for new in RENAMED.values():
        assert set(new.replace(",", " ").replace(" and ", " ").split()) <= names


def test_an_old_name_stops_the_app_with_one_line(tmp_path):
    import subprocess
    import sys

    from settings import PROJECT_ROOT

    proc = subprocess.run(
        [sys.executable, "app.py"],
        cwd=PROJECT_ROOT,
        env={"PATH": "/usr/bin:/bin", "INSTANCE_PATH": str(tmp_path), "ENABLE_SCHEDULING": "false"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "Configuration error: ENABLE_SCHEDULING is no longer read: use ENABLE_SCHEDULED_REPORTS instead"
    )


def test_defaults_are_the_seeds(tmp_path):
    s = Settings.from_env({"INSTANCE_PATH": str(tmp_path)})
    assert (
        s.report_cache_ttl,
        s.report_max_rows,
        s.report_timeout_seconds,
        s.report_concurrent_limit,
    ) == (3600, 100000, 300, 10)
    assert s.image_export_format == "png"
    assert s.report_timezone == "UTC"
    assert s.database_url == f"sqlite:///{tmp_path / 'nexpo.db'}"
    assert s.warehouse_url == f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    assert s.enable_caching is True and s.redis_url == ""


def test_values_are_typed(tmp_path):
    s = Settings.from_env(
        {
            "INSTANCE_PATH": str(tmp_path),
            "REPORT_MAX_ROWS": "500",
            "ENABLE_CACHING": "false",
            "ENABLE_PDF_EXPORT": "off",
            "API_EXPORT_FORMATS": "csv, JSON",
            "IMAGE_EXPORT_FORMAT": "JPEG",
        }
    )
    assert s.report_max_rows == 500
    assert s.enable_caching is False and s.enable_pdf_export is False
    assert s.api_export_formats == ("csv", "json")
    assert s.image_export_format == "jpg"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"REPORT_MAX_ROWS": "abc"}, "REPORT_MAX_ROWS='abc': expected an integer >= 1"),
        ({"REPORT_CACHE_TTL": "-5"}, "REPORT_CACHE_TTL='-5': expected an integer >= 0"),
        (
            {"IMAGE_EXPORT_FORMAT": "gif"},
            "IMAGE_EXPORT_FORMAT='gif': expected one of png, svg, jpg",
        ),
        (
            {"API_EXPORT_FORMATS": "csv,docx"},
            "API_EXPORT_FORMATS='csv,docx': expected a comma list of json, xml, csv (unknown: docx)",
        ),
        (
            {"API_EXPORT_FORMATS": "pdf,csv"},
            "API_EXPORT_FORMATS='pdf,csv': pdf is turned on and off by ENABLE_PDF_EXPORT; "
            "list only json, xml, csv",
        ),
        (
            {"API_EXPORT_FORMATS": "csv,png"},
            "API_EXPORT_FORMATS='csv,png': images are always offered",
        ),
        (
            {"PDF_GENERATOR_URL": "pdf-service:3000"},
            "PDF_GENERATOR_URL='pdf-service:3000': expected a URL starting with http or https",
        ),
        (
            {"REPORT_TIMEZONE": "Mars/Base"},
            "REPORT_TIMEZONE='Mars/Base': expected an IANA time zone",
        ),
        ({"ENABLE_PDF_EXPORT": "maybe"}, "ENABLE_PDF_EXPORT='maybe': expected true or false"),
        (
            {"REPORT_PORTAL_ENABLED": "2"},
            "REPORT_PORTAL_ENABLED='2': expected true or false",
        ),
        (
            {"DATABASE_URL": "mysql://x"},
            "DATABASE_URL='mysql://x': expected a URL starting with sqlite or postgresql",
        ),
        ({"PORT": "70000"}, "PORT='70000': expected a port number 1-65535"),
    ],
)
def test_bad_value_names_the_variable_and_what_it_accepts(tmp_path, env, message):
    with pytest.raises(SettingsError) as err:
        Settings.from_env({"INSTANCE_PATH": str(tmp_path), **env})
    assert str(err.value).startswith(message)
    assert "\n" not in str(err.value)


def test_secrets_are_required_outside_demo_mode(tmp_path):
    with pytest.raises(SettingsError, match="SECRET_KEY is empty"):
        Settings.from_env({"INSTANCE_PATH": str(tmp_path), "DEMO_MODE": "false"})


def test_demo_secret_is_random_and_kept_across_restarts(tmp_path):
    first = Settings.from_env({"INSTANCE_PATH": str(tmp_path)})
    second = Settings.from_env({"INSTANCE_PATH": str(tmp_path)})
    assert len(first.secret_key) >= 32 and first.secret_key == second.secret_key
    assert first.secret_key != first.embed_secret


def test_env_example_lists_every_variable():
    from settings import PROJECT_ROOT

    text = (PROJECT_ROOT / ".env.example").read_text()
    missing = [name for name, _, _ in describe() if f"{name}=" not in text]
    assert missing == []


def test_env_example_is_the_generated_one():
    """`make env-example` writes it from settings.py; a variable added there must be added here."""
    from settings import PROJECT_ROOT, env_example

    assert (PROJECT_ROOT / ".env.example").read_text() == env_example()


def test_bad_value_stops_start_up_with_one_line(tmp_path):
    import subprocess
    import sys

    from settings import PROJECT_ROOT

    proc = subprocess.run(
        [sys.executable, "app.py"],
        cwd=PROJECT_ROOT,
        env={"PATH": "/usr/bin:/bin", "INSTANCE_PATH": str(tmp_path), "REPORT_MAX_ROWS": "abc"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert (
        proc.stderr.strip()
        == "Configuration error: REPORT_MAX_ROWS='abc': expected an integer >= 1"
    )
