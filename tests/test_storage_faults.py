"""Storage faults give a clear message, not a traceback (issue 15): an unreadable key file or
data directory at start is a one-line configuration error (exit status 2) naming the file; an
SQLite database that turns read-only or fails with a disk I/O error while running is handled
like a database outage (the person is told, the draft is kept in memory and saved later)."""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import event

from bot.core.migrate import upgrade_database
from bot.localapi.server import LocalBotApi
from handlers.report.conversation import ReportStep
from tests.support.databases import sqlite_failing
from tests.support.harness import Person, make_settings, run_unpaced
from tests.support.processes import (
    DATABASE_DOWN,
    NAME,
    PLACE,
    draft_rows,
    start_report_until_count,
    until,
)
from tests.support.review import (
    VOLUNTEER_ID,
    Reviewer,
    add_people,
    audit_entries,
    file_report,
    make_volunteer,
    review_bot,
    said,
)

DATABASE_UNAVAILABLE = "database is not answering right now, so this could not be done"

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


# A read session and a unit of work on an SQLite database that cannot be written.
READ_ONLY_CHILD = """
import asyncio, sys
from sqlalchemy import func, select
from bot.core.db import DATABASE_ERRORS, create_engine, create_session_factory
from bot.core.models import JobState

async def main() -> None:
    engine = create_engine(sys.argv[1])
    sessions = create_session_factory(engine)
    async with sessions() as session:
        print("read", await session.scalar(select(func.count()).select_from(JobState)))
    try:
        async with sessions.begin() as session:
            session.add(JobState(name="x", last_key="y"))
    except DATABASE_ERRORS as error:
        print("write refused:", "readonly" in str(error))
    await engine.dispose()

asyncio.run(main())
"""


def test_sqlite_reads_work_while_the_write_lock_cannot_be_taken(data_parent: Path) -> None:
    """What the "readonly" fault of sqlite_failing stands for, on real files: with the WAL's
    files read-only, SQLite refuses the write lock (BEGIN IMMEDIATE: "attempt to write a
    readonly database") but still reads. A read session (a deferred BEGIN) reads; a unit of
    work is refused with the error the bot treats as an outage."""
    folder = data_parent / "db"
    folder.mkdir()
    database = folder / "jiyn.sqlite3"
    url = f"sqlite+aiosqlite:///{database}"
    upgrade_database(url)
    keeper = sqlite3.connect(database)  # keeps the -wal and -shm files in place
    try:
        keeper.execute("SELECT count(*) FROM job_state").fetchall()
        for suffix in ("-wal", "-shm"):
            Path(f"{database}{suffix}").chmod(0o444)
        result = subprocess.run(
            [*_unprivileged(), sys.executable, "-c", READ_ONLY_CHILD, url],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        keeper.close()
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["read 0", "write refused: True"], result.stdout


# ------------------------------------------------------------------ SQLite failing while running


@pytest.mark.parametrize("kind", ["readonly", "io"])
async def test_sqlite_failing_mid_report_is_an_outage_the_draft_is_saved_later(
    api: LocalBotApi, tmp_path: Path, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    database = tmp_path / "jiyn.sqlite3"
    url = f"sqlite+aiosqlite:///{database}"
    await asyncio.to_thread(upgrade_database, url)
    async with run_unpaced(api, make_settings(api, url, tmp_path)) as bot:
        person = Person(bot, api.user(7_901_234_567, language_code="en"))
        await start_report_until_count(person)
        reports = bot.application.bot_data["services"].reports
        opened: list[object] = []
        engine = bot.application.bot_data["services"].engine.sync_engine
        event.listen(engine, "connect", lambda *_args: opened.append(1))
        with sqlite_failing(bot, kind):
            calls = await person.taps("report:count:2-5")
            told = person.texts(calls)
            assert DATABASE_DOWN in told  # the person is told...
            assert "name" in told.lower()  # ...and the report goes on
            calls = await person.says(NAME)
            assert "police" in person.texts(calls).lower()
            assert reports.unsaved_drafts == 1
            # Outside the report too: told the database is down, not "something went wrong".
            asker = Person(bot, api.user(7_901_234_568, language_code="en"))
            await asker.says("/language")
            calls = await asker.taps("lang:set:ru")
            assert DATABASE_UNAVAILABLE in asker.texts(calls), asker.texts(calls)
            assert "went wrong" not in asker.texts(calls)
            calls = await person.says("/myreports")
            if kind == "io":
                assert DATABASE_UNAVAILABLE in person.texts(calls), person.texts(calls)
            else:  # a read works on a file that cannot be written (the draft is no report)
                assert "not sent any reports" in person.texts(calls), person.texts(calls)
        assert not [c for c in api.refused_calls() if c.method != "answerCallbackQuery"]
        await until(lambda: reports.unsaved_drafts == 0, "the kept draft to be saved")
        # The failed connection was dropped and the file opened again (a connection that had
        # opened it read-only would stay read-only).
        assert opened
        [(step, data)] = await draft_rows(url)
        assert step == ReportStep.POLICE
        assert data.people == "2-5" and data.name == NAME and data.place == PLACE
    failures = [r for r in caplog.records if r.exc_info and "OperationalError" in str(r.exc_info)]
    assert not failures, "a storage fault logged as a handler failure with a traceback"


async def test_the_queue_is_shown_while_the_sqlite_file_cannot_be_written(
    api: LocalBotApi, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A read does not depend on a write: /queue and its buttons work while the database can
    be read but not written (their audit entry, written after the view, is skipped with one
    warning line each), and the audit log is written again once the file is writable."""
    database = tmp_path / "jiyn.sqlite3"
    url = f"sqlite+aiosqlite:///{database}"
    await asyncio.to_thread(upgrade_database, url)
    people = add_people(api)
    async with review_bot(api, url, tmp_path) as bot:
        await make_volunteer(bot, VOLUNTEER_ID)
        _report_id, code = await file_report(bot, people["reporter"], urgent=True)
        volunteer = Reviewer(bot, people["volunteer"])
        audited = len(await audit_entries(bot))
        with sqlite_failing(bot, "readonly"):
            shown = said(await volunteer.says("/queue"))
            assert code in shown and "Review queue" in shown, shown
            shown = said(await volunteer.taps("q:l:all:*:0"))
            assert code in shown and "Review queue: all" in shown, shown
        assert len(await audit_entries(bot)) == audited
        skipped = [r for r in caplog.records if "not written to the audit log" in r.getMessage()]
        assert len(skipped) == 2 and not any(r.exc_info for r in skipped)
        assert DATABASE_UNAVAILABLE not in said(api.calls)
        assert code in said(await volunteer.says("/queue"))
        [entry] = (await audit_entries(bot))[audited:]
        assert entry.action == "queue" and entry.allowed
    failures = [r for r in caplog.records if r.exc_info and "OperationalError" in str(r.exc_info)]
    assert not failures, "a storage fault logged as a handler failure with a traceback"
