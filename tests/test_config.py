"""Configuration: defaults, validation, and the one-line error of the real command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.core.config import ConfigError, load_settings

GOOD_KEY = "M2Vh8mW2dGq0n1yXg9yX1o8Vb7mB8k0Qp2tV5h3w2yQ="


def _load(tmp_path: Path, **values: str):
    return load_settings(
        {"JIYN_DATA_DIR": str(tmp_path / "data"), **values}, env_file=tmp_path / "x"
    )


def test_defaults(tmp_path: Path) -> None:
    settings = _load(tmp_path)
    assert settings.bot_token is None
    assert settings.api_base_url == "https://api.telegram.org"
    assert settings.database_url.startswith("sqlite+aiosqlite:///")
    assert settings.database_url.endswith("data/jiyn.sqlite3")
    assert settings.default_language == "ru"
    assert str(settings.timezone) == "Asia/Almaty"
    assert settings.admin_ids == frozenset()


def test_generated_key_is_kept_in_the_data_dir(tmp_path: Path) -> None:
    first = _load(tmp_path)
    second = _load(tmp_path)
    assert first.encryption_keys == second.encryption_keys
    key_file = tmp_path / "data" / "encryption.key"
    assert (key_file.read_bytes().strip(),) == first.encryption_keys
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"


def test_values_are_parsed(tmp_path: Path) -> None:
    settings = _load(
        tmp_path,
        JIYN_BOT_TOKEN="123:abc-DEF_1",
        JIYN_API_BASE_URL="http://127.0.0.1:8081/",
        JIYN_DATABASE_URL="postgresql://u:secret@db/jiyn",
        JIYN_ADMIN_IDS="5, 7,",
        JIYN_VOLUNTEER_CHAT_ID="-1001234",
        JIYN_ENCRYPTION_KEY=GOOD_KEY,
        JIYN_DEFAULT_LANGUAGE="kk",
        JIYN_TIMEZONE="Asia/Aqtobe",
        JIYN_HEALTH_PORT="9464",
    )
    assert settings.api_base_url == "http://127.0.0.1:8081"
    assert settings.health_port == 9464
    assert settings.database_url == "postgresql+asyncpg://u:secret@db/jiyn"
    assert settings.admin_ids == {5, 7}
    assert settings.volunteer_chat_id == -1001234
    assert settings.default_language == "kk"
    assert "secret" not in repr(settings) and "123:abc" not in repr(settings)


def test_dotenv_file_is_read_and_environment_wins(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("JIYN_DEFAULT_LANGUAGE=en\nJIYN_TIMEZONE=Asia/Oral\n")
    settings = load_settings(
        {"JIYN_DATA_DIR": str(tmp_path), "JIYN_TIMEZONE": "Asia/Almaty"}, env_file=env_file
    )
    assert settings.default_language == "en"
    assert str(settings.timezone) == "Asia/Almaty"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("JIYN_BOT_TOKEN", "not a token"),
        ("JIYN_API_BASE_URL", "ftp://example"),
        ("JIYN_DATABASE_URL", "mysql://x/y"),
        ("JIYN_ADMIN_IDS", "12,abc"),
        ("JIYN_VOLUNTEER_CHAT_ID", "group"),
        ("JIYN_ENCRYPTION_KEY", "short"),
        ("JIYN_DEFAULT_LANGUAGE", "de"),
        ("JIYN_TIMEZONE", "Mars/Olympus"),
        ("JIYN_RETENTION_DAYS", "0"),
        ("JIYN_ENCRYPTION_KEY", GOOD_KEY + ",bad"),
        ("JIYN_HEALTH_PORT", "70000"),
        ("JIYN_HEALTH_PORT", "metrics"),
    ],
)
def test_wrong_values_name_the_variable(tmp_path: Path, variable: str, value: str) -> None:
    with pytest.raises(ConfigError) as raised:
        _load(tmp_path, **{variable: value})
    assert str(raised.value).startswith(variable + ":")
    assert "expected" in str(raised.value)


def _run_jiyn(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("JIYN_")}
    environment.update({"JIYN_DATA_DIR": str(tmp_path / "data"), **env})
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_configuration_error_is_one_line_with_exit_status_2(tmp_path: Path) -> None:
    result = _run_jiyn(tmp_path, "run", JIYN_ADMIN_IDS="12,abc", JIYN_BOT_TOKEN="1:a")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "JIYN_ADMIN_IDS" in lines[0] and "Traceback" not in result.stderr


def test_run_without_token_points_to_the_console(tmp_path: Path) -> None:
    result = _run_jiyn(tmp_path, "run")
    assert result.returncode == 2
    assert "JIYN_BOT_TOKEN" in result.stderr and "jiyn console" in result.stderr


def test_version(tmp_path: Path) -> None:
    result = _run_jiyn(tmp_path, "--version")
    assert result.returncode == 0
    assert result.stdout.startswith("jiyn ")


def test_db_upgrade_creates_the_sqlite_database(tmp_path: Path) -> None:
    result = _run_jiyn(tmp_path, "db", "upgrade")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "data" / "jiyn.sqlite3").stat().st_size > 0
