"""Storage faults give a clear message, not a traceback (issue 15): an unreadable key file or
data directory at start is a one-line configuration error (exit status 2) naming the file; an
SQLite database that turns read-only or fails with a disk I/O error while running is handled
like a database outage (the person is told, the draft is kept in memory and saved later)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def data_parent() -> Iterator[Path]:
    """A folder any user may enter (pytest's own tmp_path is private to root), so the bot can
    run as an unprivileged user, for whom file permissions mean something."""
    folder = Path(tempfile.mkdtemp(prefix="jiyn-storage-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        for path in (folder, *folder.rglob("*")):
            path.chmod(0o755 if path.is_dir() else 0o644)
        shutil.rmtree(folder)


def _unprivileged() -> list[str]:
    """A prefix that makes file modes bind the child: root reads and writes any file through
    two capabilities, which the child gives up (it stays root, so it can still run the venv)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: file modes cannot be tested")
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search", "--"]


def _run(data_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("JIYN_")}
    environment.update({"JIYN_DATA_DIR": str(data_dir), "PYTHONDONTWRITEBYTECODE": "1", **env})
    return subprocess.run(
        [*_unprivileged(), sys.executable, "-m", "bot.cli", *args],
        cwd=data_dir.parent,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("jiyn: configuration error: ")
    return lines[0]


def test_an_unreadable_key_file_is_a_one_line_error_naming_it(data_parent: Path) -> None:
    data_dir = data_parent / "data"
    data_dir.mkdir()
    key_file = data_dir / "encryption.key"
    key_file.write_bytes(Fernet.generate_key())
    key_file.chmod(0o000)
    line = _one_line_error(_run(data_dir, "db", "upgrade"))
    assert str(key_file) in line and "Permission denied" in line
    assert key_file.stat().st_size > 0  # and no new key written over it


def test_a_key_file_that_is_no_key_is_a_one_line_error(data_parent: Path) -> None:
    data_dir = data_parent / "data"
    data_dir.mkdir()
    (data_dir / "encryption.key").write_text("not a key\n")
    line = _one_line_error(_run(data_dir, "db", "upgrade"))
    assert "encryption.key" in line and "not an encryption key" in line


def test_a_key_file_that_is_a_folder_is_a_one_line_error(data_parent: Path) -> None:
    data_dir = data_parent / "data"
    (data_dir / "encryption.key").mkdir(parents=True)
    line = _one_line_error(_run(data_dir, "db", "upgrade"))
    assert "encryption.key" in line and "not a file" in line


@pytest.mark.parametrize("mode", [0o000, 0o500])
def test_an_unusable_data_directory_is_a_one_line_error_naming_it(
    data_parent: Path, mode: int
) -> None:
    data_dir = data_parent / "data"
    data_dir.mkdir()
    data_dir.chmod(mode)
    line = _one_line_error(_run(data_dir, "db", "upgrade"))
    assert "JIYN_DATA_DIR" in line and str(data_dir) in line
