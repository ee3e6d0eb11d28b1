"""Composing replies: articles, computed MCI sums, detention alarms, no answer, HTML safety."""

from __future__ import annotations

import html
import re
import shutil
from datetime import date
from pathlib import Path

import pytest
import yaml
from babel.dates import format_date
from babel.numbers import format_decimal

from knowledge.answer import (
    TELEGRAM_LIMIT,
    Reply,
    answer_question,
    article_reply,
    clarify_reply,
    is_detention_report,
    no_answer_reply,
    sources_reply,
    to_plain,
)
from knowledge.loader import load_knowledge
from knowledge.model import KnowledgeBase
from knowledge.search import index_for

FIXTURES = Path(__file__).parent / "fixtures" / "knowledge"
TODAY = date(2026, 11, 22)
ALLOWED_TAGS = re.compile(r"</?(b|i|a)(\s[^>]*)?>")


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    """The fixture knowledge base."""
    return load_knowledge(FIXTURES)


def ask(kb: KnowledgeBase, question: str, language: str | None = None) -> Reply:
    """Answer with a fixed "today"."""
    return answer_question(kb, question, language, today=TODAY)


def callbacks(reply: Reply) -> list[str | None]:
    """Every button's callback_data, row by row."""
    return [button.callback_data for row in reply.buttons for button in row]


def only_allowed_tags(markup: str) -> bool:
    """True when the markup has no tags but <b>, <i> and <a href>."""
    return all(ALLOWED_TAGS.fullmatch(tag) for tag in re.findall(r"<[^>]*>", markup))


# -- computed MCI answers ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "language", "count", "value"),
    [
        ("Сколько в тенге 30 МРП в 2026 году?", "ru", 30, 4325),
        ("2026 жылы 50 АЕК қанша теңге?", "kk", 50, 4325),
        ("How much is 50 MCI in tenge in 2026?", "en", 50, 4325),
        ("сколько будет 20 мрп", "ru", 20, 4325),  # no year: the current one
        ("100 AEK qansha tenge", "kk", 100, 4325),
        ("What is 10 MCI in 2024?", "en", 10, 3692),
    ],
)
def test_mci_amounts_are_computed_in_the_users_locale(
    kb: KnowledgeBase, question: str, language: str, count: int, value: int
) -> None:
    reply = ask(kb, question)
    assert (reply.kind, reply.topic, reply.language) == ("computed", "mci", language)
    assert format_decimal(count * value, locale=language) in reply.html
    assert format_decimal(value, locale=language) in reply.html
    assert reply.sources and reply.sources[0].url.startswith("https://example.org/mci/")
    checked = format_date(date(2026, 1, 15), format="long", locale=language)
    assert checked in to_plain(reply)


def test_mci_year_with_two_values_gives_each_period(kb: KnowledgeBase) -> None:
    reply = ask(kb, "Сколько стоит 10 МРП в 2020 году?")
    text = to_plain(reply)
    assert format_decimal(26510, locale="ru") in text and format_decimal(27780, locale="ru") in text
    assert format_date(date(2020, 4, 1), format="long", locale="ru") in text
    assert "Два значения." in text  # the year's note


def test_mci_uncertain_year_says_so(kb: KnowledgeBase) -> None:
    reply = ask(kb, "How much is 30 MCI in 2024?")
    first_line = to_plain(reply).splitlines()[0]
    assert first_line.startswith("30 MCI in 2024") and "⚠️ (not confirmed)" in first_line
    assert "uncertain" not in to_plain(ask(kb, "How much is 30 MCI in 2026?"))


def test_mci_year_missing_from_the_table_is_not_extrapolated(kb: KnowledgeBase) -> None:
    reply = ask(kb, "30 МРП в 2031 году сколько тенге?")
    text = to_plain(reply)
    assert reply.kind == "computed"
    assert "2031" in text and "нет МРП" in text
    joined = re.sub(r"(?<=\d)[\s\u00a0\u202f](?=\d{3}\b)", "", text)
    assert not re.search(r"\d{5,}", joined)  # no sum was invented
    assert "2020, 2024, 2026" in text


def test_mci_current_year_comes_from_today(kb: KnowledgeBase) -> None:
    reply = answer_question(kb, "how much is 2 MCI", today=date(2024, 3, 1))
    assert format_decimal(2 * 3692, locale="en") in reply.html


def test_questions_about_fines_in_mci_are_not_computed(kb: KnowledgeBase) -> None:
    assert ask(kb, "Какой штраф в МРП за пикет?").kind != "computed"
    assert ask(kb, "What is the MCI?").kind != "computed"


# -- detention ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "language"),
    [
        ("They detained my brother at the picket", "en"),
        ("Police are arresting people at the square right now", "en"),
        ("меня задерживают", "ru"),
        ("брата забрали в автозак", "ru"),
        ("Задержали отца на митинге, помогите", "ru"),
        ("ұстап алды", "kk"),
        ("Досымды полиция ұстады", "kk"),
        ("Мені қазір ұстап жатыр", "kk"),
        ("meni ustap aldy", "kk"),
        ("menya zaderzhali", "ru"),
    ],
)
def test_detention_reports_raise_the_alarm(kb: KnowledgeBase, message: str, language: str) -> None:
    reply = ask(kb, message)
    assert reply.kind == "detention"
    assert reply.language == language
    assert reply.buttons[0][0].callback_data == "report:start"
    assert (
        reply.buttons[0][0].label
        == {
            "en": "Report a detention",
            "ru": "Сообщить о задержании",
            "kk": "Ұстау туралы хабарлау",
        }[language]
    )


@pytest.mark.parametrize(
    "question",
    [
        "what are my rights if detained?",
        "What should I do if they detain me at a rally?",
        "Can the police detain me for a single picket?",
        "How long can I be detained without a court?",
        "Why was Sarybayeva detained?",
        "Что делать, если задержат на митинге?",
        "Могут ли задержать за одиночный пикет?",
        "Сколько людей задержали в 2022 году?",
        "Задержание: какие у меня права?",
        "Егер полиция ұстаса, не істеймін?",
        "Ұстау туралы хаттамада не жазылады?",
    ],
)
def test_questions_about_detention_are_not_alarms(kb: KnowledgeBase, question: str) -> None:
    assert not is_detention_report(index_for(kb).analyze(question))
    assert ask(kb, question).kind != "detention"


def test_detention_reply_puts_the_first_steps_first(kb: KnowledgeBase) -> None:
    reply = ask(kb, "меня задерживают")
    text = to_plain(reply)
    steps = text.index("Скажите, что вам нужен адвокат.")
    assert steps < text.index("Арест назначает только суд.")
    assert text.index("Нажмите «Сообщить о задержании»") < text.index("Арест назначает")
    assert reply.topic == "if-detained"
    assert [b.callback_data for b in reply.buttons[1]] == ["kb:show:notice-period"]


# -- article replies ----------------------------------------------------------------------------


def test_article_reply_starts_with_the_direct_answer_then_sources_checked_and_buttons(
    kb: KnowledgeBase,
) -> None:
    reply = article_reply(kb, "notice-period", "ru")
    assert reply is not None and reply.kind == "article"
    assert reply.html.startswith("<b>О пикете или митинге акимат уведомляют")
    text = to_plain(reply)
    assert "за 5 рабочих дней" in text
    # One compact line: the publisher in the reply's language, linked to the document.
    assert "Источники: Пример закона, " in text
    assert '<a href="https://example.org/law/notice">Пример закона</a>' in reply.html
    assert "Проверено: " + format_date(date(2026, 1, 15), format="long", locale="ru") in text
    assert callbacks(reply) == [
        "kb:show:march-approval",
        "kb:show:if-detained",
        "kb:src:notice-period",
        "kb:fb:notice-period:up",
        "kb:fb:notice-period:down",
    ]
    assert reply.buttons[0][0].label == "Согласование шествия"
    assert [s.url for s in reply.sources] == ["https://example.org/law/notice"]


def test_the_sources_button_lists_titles_in_the_readers_language(kb: KnowledgeBase) -> None:
    for language, title in [
        ("ru", "Пример закона, статья об уведомлении"),
        ("kk", "Мысал заң, хабарлама туралы бап"),
        ("en", "Example law text, notice article"),
    ]:
        reply = sources_reply(kb, "notice-period", language)
        assert reply is not None and title in to_plain(reply)
    assert sources_reply(kb, "no-such-article", "ru") is None


def test_uncertain_statements_are_flagged_where_they_stand(kb: KnowledgeBase) -> None:
    for language, flag in [
        ("en", "before ⚠️ (not confirmed)"),
        ("ru", "дней ⚠️ (не подтверждено)"),
        ("kk", "бұрын беріледі ⚠️ (расталмаған)"),
    ]:
        reply = article_reply(kb, "march-approval", language)
        assert reply is not None and flag in to_plain(reply)
    notice = article_reply(kb, "notice-period", "en")
    assert notice is not None and "⚠️" not in to_plain(notice)


def test_reply_language_can_differ_from_the_question(kb: KnowledgeBase) -> None:
    reply = ask(kb, "Где в Караганде можно провести митинг?", "en")
    assert reply.language == "en" and reply.topic == "venues-karaganda"
    assert to_plain(reply).startswith("Test square, up to 300 people ⚠️ (not confirmed)")


def test_unknown_article_id_gives_none(kb: KnowledgeBase) -> None:
    assert article_reply(kb, "no-such-article", "ru") is None


def test_related_button_labels_fit_a_phone(tmp_path: Path) -> None:
    content = tmp_path / "content"
    shutil.copytree(FIXTURES, content)
    path = content / "rules" / "march-approval.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["en"]["title"] = "A very long title about the approval of marches and demonstrations"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    reply = article_reply(load_knowledge(content), "notice-period", "en")
    assert reply is not None
    label = reply.buttons[0][0].label
    assert len(label) <= 40 and label.endswith("…")


def test_long_articles_stay_under_the_telegram_limit(tmp_path: Path) -> None:
    content = tmp_path / "content"
    shutil.copytree(FIXTURES, content)
    path = content / "rules" / "notice-period.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["en"]["body"] = "Notify the akimat 5 working days before.\n\n" + "In time. " * 600
    sources = [
        {"url": f"https://example.org/source/{n}", "title": f"Source {n} " * 3, "date": "2020"}
        for n in range(60)
    ]
    data["sources"] = sources
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    register_path = content / "sources.yaml"
    register = yaml.safe_load(register_path.read_text(encoding="utf-8"))
    register["sources"] += [
        {
            "url": source["url"],
            "publisher": {lang: f"Publisher {n}" for lang in ("kk", "ru", "en")},
            "title": {lang: source["title"] for lang in ("kk", "ru", "en")},
        }
        for n, source in enumerate(sources)
    ]
    register_path.write_text(yaml.safe_dump(register, allow_unicode=True), encoding="utf-8")
    kb = load_knowledge(content)
    reply = article_reply(kb, "notice-period", "en")
    assert reply is not None
    assert len(reply.html) <= TELEGRAM_LIMIT
    assert "and 57 more" in reply.html  # three publishers named, the rest counted
    assert "Checked on" in reply.html  # the footer survives
    listing = sources_reply(kb, "notice-period", "en")
    assert listing is not None and len(listing.html) <= TELEGRAM_LIMIT
    assert re.search(r"…and \d+ more sources", listing.html)


# -- no answer ----------------------------------------------------------------------------------


MENU_LABELS = {
    "ru": [
        "Где проводить собрание",
        "Штрафы и аресты",
        "Если вас задержали",
        "Сообщить о задержании",
    ],
    "en": [
        "Where to hold an assembly",
        "Fines and arrests",
        "If you are detained",
        "Report a detention",
    ],
    "kk": [
        "Жиналысты қай жерде өткізуге болады",
        "Айыппұл мен қамақ",
        "Ұстаса не істеу керек",
        "Ұстау туралы хабарлау",
    ],
}
TOPICS_LINE = {
    "ru": "Я отвечаю на вопросы о мирных собраниях",
    "en": "I answer questions about peaceful assemblies",
    "kk": "Мен Қазақстандағы бейбіт жиналыстар туралы сұрақтарға жауап беремін",
}


@pytest.mark.parametrize(
    ("question", "language"),
    [
        ("погода в караганде завтра", "ru"),
        ("best pizza in karaganda", "en"),
        ("Ертең ауа райы қандай?", "kk"),
    ],
)
def test_out_of_scope_gets_no_answer_and_the_topic_menu(
    kb: KnowledgeBase, question: str, language: str
) -> None:
    reply = ask(kb, question)
    assert (reply.kind, reply.topic, reply.language) == ("no_answer", None, language)
    # The fixture base has koap-488 but no notification-procedure: no button to a missing article.
    assert callbacks(reply) == ["menu:venues", "kb:show:koap-488", "menu:rights", "menu:report"]
    assert [button.label for row in reply.buttons for button in row] == MENU_LABELS[language]
    assert TOPICS_LINE[language] in to_plain(reply)


# -- HTML safety --------------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["kk", "ru", "en"])
def test_content_is_escaped(kb: KnowledgeBase, language: str) -> None:
    reply = article_reply(kb, "markup-sample", language)
    assert reply is not None
    assert "<script>" not in reply.html and "&lt;script&gt;" in reply.html
    assert "5 &lt; 10 &amp;" in reply.html
    assert only_allowed_tags(reply.html)
    text = to_plain(reply)
    assert "<script>alert(1)</script>" in text and "5 < 10 & '" in text
    assert '<Example> & "Co"' in text or '<Мысал> & "Ко"' in text or '<Пример> & "Ко"' in text
    url = 'https://example.org/search?q=a&b="c"'
    assert 'href="' + html.escape(url) + '"' in reply.html
    listing = sources_reply(kb, "markup-sample", "en")
    assert listing is not None and only_allowed_tags(listing.html)
    assert 'Sources <with> "quotes" & ampersands' in to_plain(listing)


def test_replies_parse_as_telegram_html(kb: KnowledgeBase) -> None:
    telegram_html = pytest.importorskip("bot.telegram.html")
    replies = [article_reply(kb, key, lang) for key in kb.articles for lang in ("kk", "ru", "en")]
    replies += [ask(kb, "меня задерживают"), ask(kb, "10 МРП в 2020 году"), no_answer_reply("kk")]
    for reply in replies:
        assert reply is not None
        text, entities = telegram_html.parse_html(reply.html)
        assert text.strip()
        assert {entity["type"] for entity in entities} <= {"bold", "italic", "text_link"}
    sample = article_reply(kb, "markup-sample", "en")
    assert sample is not None
    _text, entities = telegram_html.parse_html(sample.html)
    assert 'https://example.org/search?q=a&b="c"' in [e.get("url") for e in entities]


def test_to_plain_strips_tags_and_unescapes() -> None:
    reply = Reply(
        "en", None, "article", '<b>A &amp; B</b>\n<a href="https://x.org/?a=1&amp;b=2">link</a>'
    )
    assert to_plain(reply) == "A & B\nlink"


def test_did_you_mean_gives_the_closest_answer_as_a_guess_and_a_button_per_topic(
    kb: KnowledgeBase,
) -> None:
    choices = [kb.articles["notice-period"], kb.articles["koap-488"]]
    reply = clarify_reply(choices, "en")
    text = to_plain(reply)
    assert text.startswith("I am not sure which topic you mean. The closest:")
    assert "Notify the akimat of a picket or rally at least 5 working days" in text
    assert "Did you mean one of these?" in text
    assert callbacks(reply) == ["kb:show:notice-period", "kb:show:koap-488"]
    assert (reply.kind, reply.topic) == ("clarify", "notice-period")


def test_a_sum_in_one_part_does_not_steer_the_other_part() -> None:
    # "50" belongs to the fine; carried into "can I still appeal?" it hid the appeal article
    reply = answer_question(
        load_knowledge(),
        "got fined 50 MCI for a picket. how much is that in tenge and can I still appeal?",
        today=date(2026, 11, 22),
    )
    assert reply.kind == "computed"
    assert "216,250" in reply.html
    assert "kb:show:appeal-sanction" in [b.callback_data for row in reply.buttons for b in row]


def test_a_part_that_goes_on_from_a_question_is_answered_too() -> None:
    real_kb = load_knowledge()
    reply = answer_question(real_kb, "можно поставить юрту на митинге? и колонку с микрофоном")
    second = real_kb.articles["rights-during-assembly"].text("ru").title
    assert reply.topic != "rights-during-assembly" and html.escape(second) in reply.html
    # a statement that only says who asks is still no question
    plain = answer_question(real_kb, "Я журналист. И работаю в Алматы.")
    assert plain.kind == "no_answer"


def test_the_mci_of_a_named_year_for_fines_is_its_value() -> None:
    reply = answer_question(load_knowledge(), "мрп 2022 для штрафов", today=date(2026, 11, 22))
    assert reply.kind == "computed" and "3 063" in html.unescape(reply.html).replace("\u00a0", " ")



@pytest.mark.parametrize(
    "message", ["меня тащат в автобус, что говорить", "брата пакуют в машину на площади"]
)
def test_being_dragged_into_a_bus_is_a_detention(message: str) -> None:
    assert answer_question(load_knowledge(), message).kind == "detention"


def test_a_fine_asked_for_a_year_is_given_in_that_years_tenge() -> None:
    real_kb = load_knowledge()
    reply = answer_question(real_kb, "какой штраф за митинг в 2025 году в тенге")
    plain = html.unescape(reply.html).replace("\u00a0", " ").replace("\u202f", " ")
    assert reply.topic == "koap-488" and "50 МРП в 2025 году = 196 600 тенге" in plain
    # without a year the article stands as written
    assert "2025 году =" not in html.unescape(answer_question(real_kb, "штраф за митинг").html)


@pytest.mark.parametrize(
    "message",
    [
        "что сделать заранее, чтобы нас не забрали на митинге",
        "how do we make sure we are not detained at the rally",
    ],
)
def test_a_wish_not_to_be_detained_is_no_detention(message: str) -> None:
    assert answer_question(load_knowledge(), message).kind != "detention"


def test_a_short_question_about_this_asks_about_the_statement_before_it() -> None:
    real_kb = load_knowledge()
    message = "акимат отказал нам в митинге без всякой причины. это законно? и куда жаловаться"
    reply = answer_question(real_kb, message)
    grounds = real_kb.articles["refusal-grounds"].text("ru").title
    assert reply.topic == "refusal-grounds" or html.escape(grounds) in reply.html


def test_the_cases_of_one_place_are_offered_when_no_year_tells_them_apart() -> None:
    real_kb = load_knowledge()
    reply = answer_question(real_kb, "what happened in Zhanaozen?")
    shown = {b.callback_data for row in reply.buttons for b in row}
    assert reply.kind == "clarify"
    assert {"kb:show:case-zhanaozen-2011", "kb:show:case-zhanaozen-2022"} <= shown
    dated = answer_question(real_kb, "what happened in Zhanaozen in 2011?")
    assert (dated.kind, dated.topic) == ("article", "case-zhanaozen-2011")
