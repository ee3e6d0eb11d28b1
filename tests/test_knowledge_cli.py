"""`jiyn ask` and `jiyn kb check` as functions (knowledge/cli.py)."""

from __future__ import annotations

import io
import json
import shutil
from datetime import date
from pathlib import Path

import pytest
import yaml

from knowledge.cli import ask_command, check_command
from knowledge.loader import load_knowledge
from knowledge.model import KnowledgeBase

FIXTURES = Path(__file__).parent / "fixtures" / "knowledge"


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    """The fixture knowledge base."""
    return load_knowledge(FIXTURES)


def test_ask_prints_the_reply_without_html(kb: KnowledgeBase) -> None:
    out = io.StringIO()
    assert ask_command("Где в Караганде провести митинг?", None, False, stdout=out, kb=kb) == 0
    text = out.getvalue()
    assert text.startswith("Тестовая площадь, до 300 человек ⚠️ (не подтверждено).\n")
    assert "<b>" not in text and "<i>" not in text
    assert "[Срок уведомления]" in text and "[👍]" in text


def test_ask_json_reports_topic_language_buttons_and_sources(kb: KnowledgeBase) -> None:
    out = io.StringIO()
    assert (
        ask_command("How long before a picket must I notify?", None, True, stdout=out, kb=kb) == 0
    )
    record = json.loads(out.getvalue())
    assert record["question"] == "How long before a picket must I notify?"
    assert record["reply_language"] == "en"
    assert record["topic"] == "notice-period"
    assert record["text"].startswith("Notify the akimat of a picket or rally at least 5 working")
    assert record["buttons"][:2] == ["Approval of a march", "What to do if detained"]
    assert record["sources"] == ["https://example.org/law/notice"]


def test_ask_language_option_overrides_detection(kb: KnowledgeBase) -> None:
    out = io.StringIO()
    ask_command("How long before a picket must I notify?", "kk", True, stdout=out, kb=kb)
    assert json.loads(out.getvalue())["reply_language"] == "kk"


def test_ask_reads_one_question_per_line_from_stdin(kb: KnowledgeBase) -> None:
    stdin = io.StringIO("меня задерживают\n\nбест пицца в караганде\n30 MCI in 2026\n")
    out = io.StringIO()
    assert ask_command("-", None, False, stdin=stdin, stdout=out, kb=kb) == 0
    lines = out.getvalue().splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("Если кого-то задерживают сейчас")
    assert lines[1].startswith("Извините")
    assert "129,750" in lines[2]


def test_ask_json_from_stdin_gives_one_object_per_line(kb: KnowledgeBase) -> None:
    stdin = io.StringIO("погода завтра\nHow much is 10 MCI in 2020?\n")
    out = io.StringIO()
    ask_command("-", None, True, stdin=stdin, stdout=out, kb=kb)
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["topic"] for r in records] == [None, "mci"]
    assert records[0]["buttons"][0] == "Где проводить собрание"


def test_check_reports_ok_with_counts_and_warns_about_undated_sources() -> None:
    out = io.StringIO()
    assert check_command(out, FIXTURES, today=date(2026, 2, 1)) == 0
    assert out.getvalue() == (
        "warning: rules/march-approval.yaml: source https://example.org/law/approval has no date\n"
        "ok: 7 articles, 2 venues, 3 MCI years\n"
    )


def test_check_warns_about_articles_checked_long_ago() -> None:
    out = io.StringIO()
    assert check_command(out, FIXTURES, max_age_days=90, today=date(2026, 11, 28)) == 0
    stale = [line for line in out.getvalue().splitlines() if "check it again" in line]
    assert len(stale) == 7  # every fixture article was checked on 2026-01-15
    assert "warning: rules/notice-period.yaml: checked 2026-01-15 (317 days ago)" in out.getvalue()


def test_check_lists_problems_and_fails(tmp_path: Path) -> None:
    content = tmp_path / "content"
    shutil.copytree(FIXTURES, content)
    path = content / "rules" / "notice-period.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["related"] = ["missing-one"]
    data["status"] = "draft"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    out = io.StringIO()
    assert check_command(out, content) == 1
    lines = out.getvalue().splitlines()
    assert any("related id 'missing-one' does not exist" in line for line in lines)
    assert any("status 'draft'" in line for line in lines)
    assert lines[-1] == "2 problem(s) found"


def test_check_passes_on_the_real_content() -> None:
    out = io.StringIO()
    assert check_command(out) == 0, out.getvalue()
    assert out.getvalue().splitlines()[-1].startswith("ok: ")
