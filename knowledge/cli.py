"""`jiyn ask` and `jiyn kb check`, as functions the argparse CLI calls."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import TextIO

from knowledge.answer import Reply, answer_question, to_plain
from knowledge.loader import content_warnings, load_knowledge, read_knowledge
from knowledge.model import KnowledgeBase, KnowledgeError


def _one_line(text: str) -> str:
    # A reply per line: paragraphs joined by " | ", lines inside a paragraph by " / ".
    paragraphs = [" / ".join(p.split("\n")) for p in text.strip().split("\n\n") if p.strip()]
    return " | ".join(paragraphs)


def _reply_record(question: str, reply: Reply) -> dict[str, object]:
    return {
        "question": question,
        "reply_language": reply.language,
        "topic": reply.topic,
        "text": to_plain(reply),
        "buttons": [button.label for row in reply.buttons for button in row],
        "sources": [source.url for source in reply.sources],
    }


def _write_reply(question: str, reply: Reply, as_json: bool, single: bool, out: TextIO) -> None:
    if as_json:
        out.write(json.dumps(_reply_record(question, reply), ensure_ascii=False) + "\n")
    elif single:
        out.write(to_plain(reply).rstrip() + "\n")
        labels = [button.label for row in reply.buttons for button in row]
        if labels:
            out.write("\n" + " · ".join(f"[{label}]" for label in labels) + "\n")
    else:
        out.write(_one_line(to_plain(reply)) + "\n")


def ask_command(
    question: str,
    language: str | None,
    as_json: bool,
    stdin: TextIO = sys.stdin,
    stdout: TextIO = sys.stdout,
    kb: KnowledgeBase | None = None,
) -> int:
    """Answer QUESTION (or, for "-", every line of stdin) as the bot would, HTML stripped."""
    try:
        knowledge = kb or load_knowledge()
    except KnowledgeError as error:
        stdout.write(f"{error}\n")
        return 2
    if question != "-":
        reply = answer_question(knowledge, question, language)
        _write_reply(question, reply, as_json, single=True, out=stdout)
        return 0
    for line in stdin:
        text = line.strip()
        if not text:
            continue
        reply = answer_question(knowledge, text, language)
        _write_reply(text, reply, as_json, single=False, out=stdout)
    return 0


def check_command(
    stdout: TextIO = sys.stdout,
    path: Path | None = None,
    max_age_days: int = 180,
    today: date | None = None,
) -> int:
    """Validate the content; print every problem (exit 1) or a one-line summary (exit 0).
    Warnings (stale checks, undated sources) are printed but do not fail the check."""
    kb, problems = read_knowledge(path)
    for warning in content_warnings(kb, today or date.today(), max_age_days):
        stdout.write(f"warning: {warning}\n")
    if problems:
        for problem in problems:
            stdout.write(f"{problem}\n")
        stdout.write(f"{len(problems)} problem(s) found\n")
        return 1
    years = len(kb.mci.years) if kb.mci is not None else 0
    stdout.write(f"ok: {len(kb.articles)} articles, {len(kb.venues)} venues, {years} MCI years\n")
    return 0

