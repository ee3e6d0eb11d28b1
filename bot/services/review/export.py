"""Exports of reports as CSV and JSON. Personal fields are decrypted only when the caller's role
allows it (bot.services.review.access.sees_personal_exports); CSV cells are made safe to open in a
spreadsheet; file names are built by us, never from what someone typed."""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.core.crypto import Cipher
from bot.core.db import SessionFactory
from bot.core.models import Report, ReportEvent
from bot.core.text import typed
from bot.services.component import Component

PUBLIC_COLUMNS: tuple[str, ...] = (
    "code",
    "status",
    "urgent",
    "created_at",
    "occurred_at",
    "city",
    "people",
    "reporter_role",
    "outcome",
    "outcome_number",
    "outcome_date",
    "duplicate_of",
    "claimed",
    "closed_at",
    "personal_data_deleted",
)
PERSONAL_COLUMNS: tuple[str, ...] = (
    "town",
    "place",
    "latitude",
    "longitude",
    "detained_name",
    "police_unit",
    "details",
    "contact_phone",
    "contact_via_telegram",
    "consent_to_contact",
    "media_count",
    "notes",
)
# A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class ExportFilter:
    """Which reports to export: a range of filing dates (inclusive, local time), a city and a
    status; None means any."""

    start: date | None = None
    end: date | None = None
    city: str | None = None
    status: str | None = None

    def as_json(self) -> dict[str, str | None]:
        """The filter as JSON-friendly values."""
        return {
            "from": self.start.isoformat() if self.start else None,
            "to": self.end.isoformat() if self.end else None,
            "city": self.city,
            "status": self.status,
        }


@dataclass(frozen=True)
class Export:
    """The exported rows and whether they hold personal fields."""

    columns: tuple[str, ...]
    rows: list[dict[str, Any]]
    personal: bool


def _local_iso(moment: datetime | None, timezone: ZoneInfo) -> str | None:
    return moment.astimezone(timezone).isoformat(timespec="seconds") if moment else None


async def export_reports(
    sessions: SessionFactory,
    cipher: Cipher,
    timezone: ZoneInfo,
    selection: ExportFilter,
    *,
    personal: bool,
) -> Export:
    """The reports matching the filter, oldest first, as plain values."""

    def shown(token: bytes | None, *, one_line: bool = True) -> str | None:
        # Typed text is stored as `typed` keeps it; rows stored before it was are kept so here.
        return typed(cipher.decrypt(token), one_line=one_line)

    conditions: list[Any] = []
    if selection.start is not None:
        conditions.append(
            Report.created_at >= datetime.combine(selection.start, time(0), tzinfo=timezone)
        )
    if selection.end is not None:
        end = datetime.combine(selection.end + timedelta(days=1), time(0), tzinfo=timezone)
        conditions.append(Report.created_at < end)
    if selection.city == "other":
        conditions.append((Report.city.is_(None)) | (Report.city == "other"))
    elif selection.city is not None:
        conditions.append(Report.city == selection.city)
    if selection.status is not None:
        conditions.append(Report.status == selection.status)
    async with sessions() as session:
        reports = (
            await session.scalars(
                select(Report).where(*conditions).order_by(Report.created_at, Report.id)
            )
        ).all()
        originals = {r.duplicate_of_id for r in reports if r.duplicate_of_id is not None}
        codes: dict[int, str] = {}
        if originals:
            codes = dict(
                (
                    await session.execute(
                        select(Report.id, Report.code).where(Report.id.in_(originals))
                    )
                ).all()
            )
        notes: dict[int, list[str]] = {}
        if personal and reports:
            note_rows = (
                await session.scalars(
                    select(ReportEvent)
                    .where(
                        ReportEvent.action == "note",
                        ReportEvent.report_id.in_([r.id for r in reports]),
                        ReportEvent.detail_enc.is_not(None),
                    )
                    .order_by(ReportEvent.created_at, ReportEvent.id)
                )
            ).all()
            for note in note_rows:
                notes.setdefault(note.report_id, []).append(
                    shown(note.detail_enc, one_line=False) or ""
                )
    rows: list[dict[str, Any]] = []
    for report in reports:
        row: dict[str, Any] = {
            "code": report.code,
            "status": report.status,
            "urgent": report.urgent,
            "created_at": _local_iso(report.created_at, timezone),
            "occurred_at": _local_iso(report.occurred_at, timezone),
            "city": report.city,
            "people": report.people,
            "reporter_role": report.reporter_role,
            "outcome": report.outcome,
            "outcome_number": report.outcome_number,
            "outcome_date": report.outcome_date.isoformat() if report.outcome_date else None,
            "duplicate_of": codes.get(report.duplicate_of_id) if report.duplicate_of_id else None,
            "claimed": report.claimed_by_hash is not None,
            "closed_at": _local_iso(report.closed_at, timezone),
            "personal_data_deleted": report.purged_at is not None,
        }
        if personal:
            location = cipher.decrypt_json(report.location_enc) if report.location_enc else {}
            media = cipher.decrypt_json(report.media_enc) if report.media_enc else []
            row.update(
                {
                    "town": typed(location.get("town"), one_line=True),
                    "place": typed(location.get("place"), one_line=True),
                    "latitude": location.get("lat"),
                    "longitude": location.get("lon"),
                    "detained_name": shown(report.detained_name_enc),
                    "police_unit": shown(report.police_unit_enc),
                    "details": shown(report.details_enc, one_line=False),
                    "contact_phone": shown(report.contact_phone_enc),
                    "contact_via_telegram": report.contact_via_telegram,
                    "consent_to_contact": report.consent_to_contact,
                    "media_count": len(media),
                    "notes": notes.get(report.id, []),
                }
            )
        rows.append(row)
    columns = PUBLIC_COLUMNS + (PERSONAL_COLUMNS if personal else ())
    return Export(columns=columns, rows=rows, personal=personal)


def safe_cell(value: Any) -> str:
    """A CSV cell as text; one that a spreadsheet would run as a formula gets a leading quote."""
    if value is None:
        return ""
    if isinstance(value, bool):
        text = "yes" if value else "no"
    elif isinstance(value, list):
        text = "\n".join(str(item) for item in value)
    else:
        text = str(value)
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


def csv_bytes(export: Export) -> bytes:
    """The export as CSV, UTF-8 with a byte order mark so spreadsheets read Cyrillic right."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(export.columns)
    for row in export.rows:
        writer.writerow([safe_cell(row.get(column)) for column in export.columns])
    return buffer.getvalue().encode("utf-8-sig")


def json_bytes(export: Export, selection: ExportFilter, generated_at: datetime) -> bytes:
    """The export as a JSON document with the filter it was made with."""
    document = {
        "generated_at": generated_at.isoformat(timespec="seconds"),
        "filter": selection.as_json(),
        "personal_data": export.personal,
        "count": len(export.rows),
        "reports": [{column: row.get(column) for column in export.columns} for row in export.rows],
    }
    return json.dumps(_finite(document), ensure_ascii=False, indent=1, allow_nan=False).encode(
        "utf-8"
    )


def _finite(value: Any) -> Any:
    """The value with every NaN or infinite number replaced by null: JSON has no such
    numbers (json.dumps would write NaN or Infinity, which JSON readers refuse)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite(item) for item in value]
    return value


def file_name(selection: ExportFilter, generated_at: datetime, extension: str) -> str:
    """jiyn-reports-<from>-<to>.<ext>, from parsed dates only (nothing typed by a person)."""
    start = selection.start.strftime("%Y%m%d") if selection.start else "start"
    end = (selection.end or generated_at.date()).strftime("%Y%m%d")
    return f"jiyn-reports-{start}-{end}.{extension}"


class ExportService(Component):
    """Reports as files for volunteers (anonymous) and admins (with personal data)."""

    def __init__(self, sessions: SessionFactory, cipher: Cipher) -> None:
        self._sessions = sessions
        self._cipher = cipher

    async def export(
        self, timezone: ZoneInfo, selection: ExportFilter, *, personal: bool
    ) -> Export:
        """The selected reports, personal columns only when `personal`."""
        return await export_reports(
            self._sessions, self._cipher, timezone, selection, personal=personal
        )
