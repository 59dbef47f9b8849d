"""Settings: the seed's defaults, typed values, and one clear line for a bad value."""

import pytest

from settings import Settings, SettingsError, describe


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
            "API_EXPORT_FORMATS": "csv, JSON",
            "IMAGE_EXPORT_FORMAT": "JPEG",
        }
    )
    assert s.report_max_rows == 500
    assert s.enable_caching is False
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
            "API_EXPORT_FORMATS='csv,docx': expected a comma list of pdf, excel, csv, json, xml, png, svg, jpg (unknown: docx)",
        ),
        (
            {"REPORT_TIMEZONE": "Mars/Base"},
            "REPORT_TIMEZONE='Mars/Base': expected an IANA time zone",
        ),
        ({"ENABLE_EXPORTS": "maybe"}, "ENABLE_EXPORTS='maybe': expected true or false"),
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
