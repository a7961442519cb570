"""Settings: environment, then TOML, then defaults; secrets hidden; wrong values named."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.settings import SettingsError, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    import os

    for key in list(os.environ):
        if key.startswith("GPS_ADMIN_"):
            monkeypatch.delenv(key)
    toml = tmp_path / "gps.toml"
    toml.write_text('ami_port = 6000\nhttp_port = 9000\n[line]\nqueue = "file-queue"\n')
    monkeypatch.setenv("GPS_ADMIN_CONFIG_FILE", str(toml))
    return toml


def test_environment_beats_file_beats_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GPS_ADMIN_AMI_PORT", "7000")
    settings = load_settings()
    assert settings.ami_port == 7000  # environment
    assert settings.http_port == 9000  # file
    assert settings.line.queue == "file-queue"  # file, nested
    assert settings.ami_host == "127.0.0.1"  # default


def test_secrets_never_appear_in_repr_or_str(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GPS_ADMIN_AMI_SECRET", "s3cr3t-ami")
    monkeypatch.setenv("GPS_ADMIN_DATABASE_URL", "postgresql://u:db-pass@h/d")
    settings = load_settings()
    assert settings.ami_secret.get_secret_value() == "s3cr3t-ami"
    for text in (repr(settings), str(settings)):
        assert "s3cr3t-ami" not in text and "db-pass" not in text


@pytest.mark.parametrize(
    ("env", "value", "named"),
    [
        ("GPS_ADMIN_AMI_PORT", "70000", "GPS_ADMIN_AMI_PORT"),
        ("GPS_ADMIN_AMI_PORT", "abc", "GPS_ADMIN_AMI_PORT"),
        ("GPS_ADMIN_HTTP_PORT", "-1", "GPS_ADMIN_HTTP_PORT"),
        ("GPS_ADMIN_LOG_LEVEL", "LOUD", "GPS_ADMIN_LOG_LEVEL"),
        ("GPS_ADMIN_HOURS__TIMEZONE", "Mars/Olympus", "GPS_ADMIN_HOURS__TIMEZONE"),
        ("GPS_ADMIN_NO_SUCH_SETTING", "1", "GPS_ADMIN_NO_SUCH_SETTING"),
    ],
)
def test_a_wrong_value_stops_with_the_setting_named(
    monkeypatch: pytest.MonkeyPatch, env: str, value: str, named: str
) -> None:
    monkeypatch.setenv(env, value)
    with pytest.raises(SettingsError, match=named):
        load_settings()


def test_a_wrong_value_in_the_file_is_named(clean_env: Path) -> None:
    clean_env.write_text('[hours.week]\nmon = [{ start = "08:00:00", end = "08:00:00" }]\n')
    with pytest.raises(SettingsError, match="GPS_ADMIN_HOURS__WEEK__MON"):
        load_settings()


def test_a_missing_config_file_is_an_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GPS_ADMIN_CONFIG_FILE", str(tmp_path / "nope.toml"))
    with pytest.raises(SettingsError, match="GPS_ADMIN_CONFIG_FILE"):
        load_settings()


def test_broken_toml_is_an_error(clean_env: Path) -> None:
    clean_env.write_text("ami_port = = 3\n")
    with pytest.raises(SettingsError, match="cannot read settings"):
        load_settings()
