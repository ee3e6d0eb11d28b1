"""The review journey's command menu entries: shown only in volunteers' and admins' own chats
(a per-chat scope, see handlers/review/team.py), on top of everyone's menu."""

from __future__ import annotations

from bot.core.i18n import N_

REVIEW_COMMANDS: tuple[tuple[str, str], ...] = (
    ("queue", N_("Reports to review")),
    ("stats", N_("Report statistics")),
    ("export", N_("Export reports as CSV and JSON")),
)
ADMIN_COMMANDS: tuple[tuple[str, str], ...] = (
    ("volunteer", N_("Add or remove volunteers")),
    ("invite", N_("Invite link for a new volunteer")),
)
