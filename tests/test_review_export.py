"""/export and /stats end to end: the files' content, personal fields only for admins, CSV cells
safe to open in a spreadsheet, filters, file names we choose, the audit entry; the statistics
and their chart."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.localapi.server import LocalBotApi, UploadedFile
from bot.services.report.reports import DraftData
from bot.services.review.export import PERSONAL_COLUMNS, PUBLIC_COLUMNS, safe_cell
from handlers.review.reports import ExportArguments, known_town, parse_export_arguments
from tests.support.review import (
    ADMIN_ID,
    PERSONAL,
    REPORTER_ID,
    VOLUNTEER_ID,
    Reviewer,
    actor,
    add_people,
    audit_entries,
    documents,
    file_report,
    make_volunteer,
    read_csv,
    review_bot,
    said,
    services,
)

FORMULAS = {
    "name": '=HYPERLINK("http://evil.example","click")',
    "police": "@SUM(A1:A9)",
    "details": "+7 cmd|' /C calc'!A0",
    "place": "-2+3",
}






async def test_volunteers_get_anonymous_files_and_admins_personal_ones(
    api: LocalBotApi, database_url: str, tmp_path: Path
) -> None:
    people = add_people(api)
    async with review_bot(api, database_url, tmp_path) as bot:
        await make_volunteer(bot, VOLUNTEER_ID)
        _almaty_id, almaty = await file_report(bot, people["reporter"], city="almaty")
        _astana_id, astana = await file_report(bot, people["reporter"], city="astana", people="7")
        formula_code = await services(bot).reports.submit(
            REPORTER_ID, REPORTER_ID, "kk", DraftData(role="self", city="almaty", **FORMULAS), None
        )

        volunteer = Reviewer(bot, people["volunteer"])
        calls = await volunteer.says("/export 2000-01-01")
        files = documents(calls)
        today = datetime.now(ZoneInfo("Asia/Almaty")).strftime("%Y%m%d")
        assert set(files) == {
            f"jiyn-reports-20000101-{today}.csv",
            f"jiyn-reports-20000101-{today}.json",
        }
        csv_data = files[f"jiyn-reports-20000101-{today}.csv"]
        rows = read_csv(csv_data)
        assert list(rows[0]) == list(PUBLIC_COLUMNS)
        assert [row["code"] for row in rows] == [almaty, astana, formula_code]
        assert rows[1]["city"] == "astana" and rows[1]["people"] == "7"
        raw = b"".join(files.values()).decode("utf-8-sig")
        for secret in (*PERSONAL.values(), *FORMULAS.values()):
            assert secret not in raw
        document = json.loads(files[f"jiyn-reports-20000101-{today}.json"])
        assert document["personal_data"] is False and document["count"] == 3
        assert "without personal data" in said(calls)

        admin = Reviewer(bot, people["admin"])
        await admin.says("/export")
        files = documents(await admin.taps("ex:30"))
        [csv_name] = [name for name in files if name.endswith(".csv")]
        [json_name] = [name for name in files if name.endswith(".json")]
        rows = read_csv(files[csv_name])
        assert list(rows[0]) == list(PUBLIC_COLUMNS + PERSONAL_COLUMNS)
        assert rows[0]["detained_name"] == PERSONAL["name"]
        assert rows[0]["contact_phone"] == "'" + PERSONAL["phone"]  # "+7..." would be a formula
        formula_row = rows[2]
        for column, value in (
            ("detained_name", FORMULAS["name"]),
            ("police_unit", FORMULAS["police"]),
            ("details", FORMULAS["details"]),
            ("place", FORMULAS["place"]),
        ):
            assert formula_row[column] == "'" + value, column
        document = json.loads(files[json_name])
        assert document["personal_data"] is True
        assert document["reports"][2]["detained_name"] == FORMULAS["name"]  # JSON stays exact

        entries = [e for e in await audit_entries(bot) if e.action == "export"]
        assert [(actor(bot, e), e.allowed) for e in entries] == [
            (VOLUNTEER_ID, True),
            (ADMIN_ID, True),
        ]
        cipher = services(bot).cipher
        details = [cipher.decrypt_json(e.detail_enc) for e in entries]
        assert [(d["personal"], d["count"]) for d in details] == [(False, 3), (True, 3)]


async def test_export_filters_by_city_status_and_dates(
    api: LocalBotApi, database_url: str, tmp_path: Path
) -> None:
    people = add_people(api)
    async with review_bot(api, database_url, tmp_path) as bot:
        await make_volunteer(bot, VOLUNTEER_ID)
        first_id, first = await file_report(bot, people["reporter"], city="almaty")
        await file_report(bot, people["reporter"], city="almaty")
        await file_report(bot, people["reporter"], city="astana")
        volunteer = Reviewer(bot, people["volunteer"])
        await volunteer.opens(first_id)
        await volunteer.taps(f"rv:claim:{first_id}")
        await volunteer.taps(f"rv:verify:{first_id}")

        files = documents(await volunteer.says("/export almaty verified"))
        [rows] = [read_csv(data) for name, data in files.items() if name.endswith(".csv")]
        assert [(r["code"], r["status"], r["city"]) for r in rows] == [
            (first, "verified", "almaty")
        ]
        assert all(name.startswith("jiyn-reports-start-") for name in files)

        files = documents(await volunteer.says("/export 2000-01-01 2000-12-31"))
        [rows] = [read_csv(data) for name, data in files.items() if name.endswith(".csv")]
        assert rows == []

        calls = await volunteer.says("/export ../../etc/passwd")
        assert not documents(calls) and "/export 2026-11-01" in said(calls)


async def test_stats_counts_and_a_chart(
    api: LocalBotApi, database_url: str, tmp_path: Path
) -> None:
    people = add_people(api)
    async with review_bot(api, database_url, tmp_path) as bot:
        await make_volunteer(bot, VOLUNTEER_ID)
        first_id, _first = await file_report(bot, people["reporter"], city="almaty")
        await file_report(bot, people["reporter"], city="almaty")
        await file_report(bot, people["reporter"], city="astana")
        volunteer = Reviewer(bot, people["volunteer"])
        await volunteer.opens(first_id)
        await volunteer.taps(f"rv:claim:{first_id}")
        await volunteer.taps(f"rv:out:{first_id}")
        await volunteer.taps(f"rv:oc:{first_id}:released")

        calls = await volunteer.says("/stats")
        text = said([c for c in calls if c.method == "sendMessage"])
        assert "Total: 3" in text
        assert "Almaty 2" in text and "Astana 1" in text
        assert "new 2" in text and "in review 1" in text
        assert "released 1" in text and "not recorded 2" in text
        [photo] = [c for c in calls if c.method == "sendPhoto"]
        upload = photo.params["photo"]
        assert isinstance(upload, UploadedFile) and upload.data.startswith(b"\x89PNG\r\n\x1a\n")

        calls = await volunteer.taps("st:7")
        assert [c for c in calls if c.method == "sendPhoto"]
        calls = await volunteer.says("/stats 1000")
        assert "at most 366" in said(calls)


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+1", "'=1+1"),
        ("+77011234567", "'+77011234567"),
        ("-5", "'-5"),
        ("@cmd", "'@cmd"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("Абай 1", "Абай 1"),
        (None, ""),
        (True, "yes"),
        (3, "3"),
        (["a", "=b"], "a\n=b"),
    ],
)
def test_csv_cells_never_start_a_formula(value: object, cell: str) -> None:
    assert safe_cell(value) == cell


def test_export_arguments_are_read_in_any_order() -> None:
    known = known_town
    today = date(2026, 11, 22)
    selection = parse_export_arguments(["verified", "01.11.2026", "almaty"], known, today)
    assert (selection.start, selection.end) == (date(2026, 11, 1), today)
    assert (selection.city, selection.status) == ("almaty", "verified")
    selection = parse_export_arguments(["2026-11-20", "2026-11-01"], known, today)
    assert (selection.start, selection.end) == (date(2026, 11, 1), date(2026, 11, 20))
    # Towns by key or by name in any language, as the gazetteer spells them.
    for word, key in (("zhanaozen", "zhanaozen"), ("Жаңаөзен", "zhanaozen"), ("Актау", "aktau")):
        assert parse_export_arguments([word], known, today).city == key
    wrong_arguments = (
        ["paris"],
        ["2026-13-01"],
        ["verified", "closed"],
        ["<script>"],
        ["9999-12-31"],  # a day later is past the calendar's end
        ["31.12.9999", "01.01.0001"],
        ["0001-01-01"],
    )
    for wrong in wrong_arguments:
        with pytest.raises(ExportArguments):
            parse_export_arguments(wrong, known, today)
