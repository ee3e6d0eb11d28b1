"""From a question to a Reply: intents (detention alarm, MCI sum, article, no answer) and
Telegram-HTML composition in the user's language."""

from __future__ import annotations

import functools
import html
import re
from dataclasses import dataclass, field
from datetime import date

from babel.dates import format_date
from babel.numbers import format_decimal

from bot.core.i18n import gettext_for, ngettext_for
from knowledge.loader import UNCERTAIN_MARK
from knowledge.model import Article, KnowledgeBase, MciYear, Source
from knowledge.search import (
    MAX_CHOICES,
    MIN_EVIDENCE,
    Query,
    QueryToken,
    SearchIndex,
    SearchResult,
    index_for,
    question_parts,
)
from knowledge.text import QUESTION_WORDS, fold_kazakh

TELEGRAM_LIMIT = 4096
MAX_RELATED_BUTTONS = 3
BUTTON_LABEL_LIMIT = 40
DETENTION_ARTICLE_ID = "if-detained"
MCI_ARTICLE_ID = "mci"
MAX_SOURCES_IN_LINE = 3
MAX_PARTS = 3
PLACE_CASES_RATIO = 0.75  # another case of the place this close is offered beside the best
ELLIPSIS_WORDS = 4  # a question this short may ask about the statement before it
# What a detention message may also ask about, answered beside the alarm (not venues: "detained
# in Almaty" names a place, it does not ask where to gather).
ALSO_WITH_DETENTION = ("rights", "help", "sanctions", "cases")
# Concepts of questions that share words with ours but are not about assemblies (concepts.yaml).
OTHER_DOMAINS = (
    "other_meeting",
    "other_offence",
    "other_complaint",
    "neighbours",
    "migration_papers",
    "celebration",
    "abroad",
)
NOTIFY_ARTICLE_ID = "notification-procedure"
FINES_ARTICLE_ID = "koap-488"
# The part of the detention article shown first: its opening paragraphs up to the first list.
DETENTION_STEPS_LIMIT = 1200

_TAG = re.compile(r"<[^>]+>")
_BULLET = re.compile(r"^\s*(?:[•\-–*]|\d+[.)])\s+", re.MULTILINE)


@dataclass(frozen=True)
class ReplyButton:
    """An inline button: exactly one of callback_data, url or switch_inline_query is set."""

    label: str
    callback_data: str | None = None
    url: str | None = None
    switch_inline_query: str | None = None


@dataclass
class Reply:
    """What the bot sends back: Telegram HTML, buttons, and what it is based on."""

    language: str
    topic: str | None
    kind: str  # "article" | "computed" | "detention" | "no_answer"
    html: str
    buttons: list[list[ReplyButton]] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)
    confidence: float | None = None  # for an article found by search: SearchResult.confidence


def to_plain(reply: Reply) -> str:
    """The reply's text without HTML tags, entities unescaped (for the CLI and logs)."""
    return html.unescape(_TAG.sub("", reply.html))


def answer_question(
    kb: KnowledgeBase, question: str, language: str | None = None, *, today: date | None = None
) -> Reply:
    """Answer a free-text question; `language` None means: reply in the question's language.

    A message that asks two things gets both: the main answer (the detention alarm, a computed
    MCI sum or an article) and the direct answer of the article the other part asks about."""
    index = index_for(kb)
    result = index.search(question)
    reply_language = language or result.query.language
    today = today or date.today()
    parts = _part_answers(index, question, result)
    if is_detention_report(result.query):
        asked = [result.top, *(article for _query, article in parts)]
        also = next(
            (a for a in asked if a is not None and a.kind in ALSO_WITH_DETENTION
             and a.id != DETENTION_ARTICLE_ID),
            None,
        )  # fmt: skip
        return detention_reply(kb, reply_language, result, also=also)
    mci_request = parse_mci_request(result.query, today)
    if mci_request is not None and kb.mci is not None:
        count, year = mci_request
        also = next(
            (a for query, a in parts if "mci" not in query.concepts and a.id != MCI_ARTICLE_ID),
            None,
        )
        return mci_reply(kb, count, year, reply_language, also=also)
    distinct = list({article.id: article for _query, article in parts}.values())
    if len(distinct) >= 2:
        return two_part_reply(kb, distinct[0], distinct[1], reply_language)
    # "the fine for a rally in 2025 in tenge": the article's MCI sums at that year's rate
    year = result.query.years[0] if len(result.query.years) == 1 else None
    if result.top is None and distinct:
        # No one article covers the whole message, but its only answerable part has one.
        reply = article_reply(kb, distinct[0].id, reply_language, year=year)
        if reply is not None:
            return reply
    if result.top is not None:
        choices = result.close_calls() or _cases_of_the_place(result)
        if choices:
            return clarify_reply(choices, reply_language)
        reply = article_reply(kb, result.top.id, reply_language, year=year)
        if reply is not None:
            reply.confidence = result.confidence
            return reply
    return no_answer_reply(reply_language, kb)


def _cases_of_the_place(result: SearchResult) -> list[Article]:
    """"What happened in Zhanaozen?" when two cases took place there (2011, 2022) and the
    question names no year: the cases of that place nearly as close as the best, to choose."""
    top = result.top
    if top is None or top.case is None or result.query.years:
        return []
    if f"city:{top.case.city}" not in result.query.concepts:
        return []
    best = result.hits[0].score
    same_place = [
        hit.article
        for hit in result.hits[1:MAX_CHOICES]
        if hit.article.case is not None
        and hit.article.case.city == top.case.city
        and hit.score >= PLACE_CASES_RATIO * best
    ]
    return [top, *same_place] if same_place else []


def _part_answers(
    index: SearchIndex, question: str, result: SearchResult
) -> list[tuple[Query, Article]]:
    """For a message that asks several things, each part's query and the article answering it
    (the message as a whole must be about assemblies, though no one article covers all of it;
    each part needs only its own article)."""
    pieces = question_parts(question)
    about_assemblies = result.evidence >= MIN_EVIDENCE or is_detention_report(result.query)
    if len(pieces) < 2 or not about_assemblies:
        return []
    # The time carries over: "how many died and how many were detained in January 2022?" (a
    # place does not: "where in Shymkent, and how many days before?" asks a general rule).
    # Other numbers stay in their part: "fined 50 MCI, and can I appeal?".
    years = {str(year) for year in result.query.years}
    context = [
        token.text
        for token in result.query.tokens
        if token.text in years or any(c.startswith("month_") for c in token.concepts)
    ]
    answers = []
    follows_question = False
    story = ""
    for piece in pieces[:MAX_PARTS]:
        missing = [word for word in context if word not in piece]
        part = index.search(" ".join([piece, *missing]), language=result.query.language)
        # "…a yurt at a rally? And a speaker with a microphone": the rest of the question
        continues = follows_question and _starts_with_conjunction(part.query)
        follows_question = _is_question(piece, part.query)
        if not (follows_question or continues):
            story = piece
            continue  # "I work for a regional paper." says who asks; it asks nothing
        if story and _points_back(part.query):
            # "The akimat refused our rally with no real reason. Is that even legal?": a short
            # question about "this" asks about the statement before it
            part = index.search(f"{story} {piece}", language=result.query.language)
        story = ""
        article = part.answering_in_context()
        if article is not None:
            answers.append((part.query, article))
    return answers


# -- intents ------------------------------------------------------------------------------------

# Cues of a detention happening now or just now, as opposed to a question about the rules.
_PERSONAL = {
    "en": {"i", "me", "my", "we", "us", "our", "i'm", "im", "mine"},
    "ru": {"я", "меня", "мне", "мы", "нас", "нам", "мой", "моя", "мое", "мои", "моего", "мою",
           "моих", "моей", "моему", "наш", "наша", "наши", "нашего", "нашу", "наших"},
    "kk": {"мен", "мени", "бизди", "биз", "менин", "биздин", "маган", "бизге"},
}  # fmt: skip
_RELATIVE_ROOTS = {
    "en": ("sister", "brother", "friend", "husband", "wife", "son", "daughter", "mom", "mum",
           "dad", "father", "mother", "parent", "colleague", "neighbo", "cousin", "relative",
           "partner", "boyfriend", "girlfriend", "uncle", "aunt"),
    "ru": ("брат", "сестр", "муж", "жен", "сын", "доч", "друг", "подруг", "мам", "пап", "отц",
           "отец", "мать", "матер", "родител", "коллег", "сосед", "знаком", "родствен", "дяд",
           "тет", "парн", "девушк"),
    "kk": ("ага", "ини", "апке", "карындас", "синли", "дос", "куиеу", "аиел", "ул", "киз", "аке",
           "ана", "бауир", "туис", "бала", "жолдас", "кариндас"),
}  # fmt: skip
_URGENT = {
    "en": {"now", "just", "urgent", "urgently", "help", "sos", "currently", "right", "quick"},
    "ru": {"сейчас", "только", "срочно", "помогите", "помощь", "sos", "прямо", "быстрее"},
    "kk": {"казир", "жана", "тез", "комектесиниз", "комектесиндер", "комек", "дал"},
}  # fmt: skip
_HYPOTHETICAL = {
    "en": {"if", "when", "can", "could", "may", "might", "would", "whether", "case", "will",
           "not", "don't", "won't", "so", "avoid"},
    "ru": {"если", "ли", "вдруг", "случае", "могут", "может", "можно", "имеют", "вправе", "когда",
           "чтобы", "чтоб", "не"},
    "kk": {"егер", "бола", "ма", "ме", "ба", "бе", "па", "пе", "мүмкін", "мумкин"},
}  # fmt: skip
_POINTING = {
    "en": {"this", "that", "it"},
    "ru": {"это", "так", "такое", "этом"},
    "kk": {"бұл", "осы", "ол", "мұндай"},
}  # fmt: skip
_CONJUNCTIONS = {
    "en": {"and", "also", "plus", "or"},
    "ru": {"и", "а", "также", "ещё", "еще", "или"},
    "kk": {"және", "тағы", "әрі", "немесе"},
}  # fmt: skip
# Finite-verb endings of a detention word (not the noun "задержание"/"detention"/"ұстау").
_RU_VERB_ENDINGS = ("ли", "ла", "л", "ют", "ет", "ят", "ит", "ат", "ан", "ана", "аны", "ано",
                    "ен", "ена", "ены", "ся", "сь")  # fmt: skip
_EN_EVENT_FORMS = re.compile(r"(ed|ing)$|^(taken|took|held|caught|got|put|thrown|threw|shoved)$")
# "put in a police van": the verb may stand a few words before the detention phrase.
EN_VERB_WINDOW = 3
_KK_PAST_ENDINGS = ("ди", "ти", "дим", "тим", "дик", "тик", "диниз", "тиниз", "жатир")
_KK_AUXILIARIES = {"алди", "кетти", "акетти", "жатир", "жатирмиз", "отир", "алип"}
_KK_CONDITIONAL = ("са", "се", "саниз", "сениз", "сам", "сем", "сак", "сек")


def _folded(token: QueryToken) -> str:
    return fold_kazakh(token.text)


def _surface(token: QueryToken, language: str) -> str:
    """The token as read in `language` (Latin words transliterated; Kazakh folded)."""
    for reading in token.readings:
        if reading.language == language:
            return fold_kazakh(reading.surface) if language == "kk" else reading.surface
    return _folded(token) if language == "kk" else token.text


def _event_at(token: QueryToken, surfaces: list[str], position: int, language: str) -> str:
    """'event' for a finite detention verb, 'conditional' for -са/-се, '' otherwise."""
    if not token.concepts & {"detention", "arrest"}:
        return ""
    following = surfaces[position + 1] if position + 1 < len(surfaces) else ""
    kk_word = _surface(token, "kk")
    if any(reading.language == "kk" for reading in token.readings):
        if kk_word.endswith(_KK_CONDITIONAL) or following.endswith(_KK_CONDITIONAL):
            return "conditional"
        if kk_word.endswith(_KK_PAST_ENDINGS) or following in _KK_AUXILIARIES:
            return "event"
        if following.endswith(_KK_PAST_ENDINGS) and len(following) <= 7:
            return "event"
    if any(reading.language == "ru" for reading in token.readings):
        ru_word = _surface(token, "ru")
        if ru_word.endswith(_RU_VERB_ENDINGS) and not ru_word.endswith(("ние", "ния")):
            return "event"
    if language == "en":
        window = surfaces[max(0, position - EN_VERB_WINDOW) : position + 1]
        if any(_EN_EVENT_FORMS.search(word) for word in window):
            return "event"
    return ""


def is_detention_report(query: Query) -> bool:
    """True when the message says someone is being or was just detained (not a rules question).

    Looks at grammar cues, not phrases: a detention verb in a finite past or present form, no
    condition or modal before it ("if", "can", "если", "егер", -са/-се), not about past years,
    and someone concrete (I, my sister, меня, досым) or urgency, or not a question at all.
    """
    language = query.language
    tokens = query.tokens
    surfaces = [_surface(token, language) for token in tokens]
    hypothetical = _cues(_HYPOTHETICAL, language)
    event = False
    for position, token in enumerate(tokens):
        found = _event_at(token, surfaces, position, language)
        if found == "conditional":
            return False
        if found == "event":
            before = surfaces[:position]
            if hypothetical & set(before):
                return False
            if language == "kk" and any(
                len(word) > 4 and word.endswith(_KK_CONDITIONAL) for word in before
            ):
                return False  # "пикетке шықсам, қамауға ала ма?": a condition, not an event
            event = True
            break
    if not event or query.years:
        return False
    if _asks_about_others(query.text, tokens[position].text, language):
        return False
    words = set(surfaces) | {token.text for token in tokens}
    personal = bool(words & _cues(_PERSONAL, language)) or any(
        _is_own_relative(word, language) for word in surfaces
    )
    if not personal and query.has("how_much", "what_happened"):
        return False
    urgent = bool(words & _cues(_URGENT, language))
    asking = "?" in query.text or bool(words & _cues(QUESTION_WORDS, language))
    return personal or urgent or not asking


# A sentence opening with these asks about what happened, it does not report it ("Were people
# detained at the embassy?", "Have journalists been jailed?").
_QUESTION_OPENERS = {
    "en": {"have", "has", "had", "were", "was", "are", "is", "do", "does", "did", "can", "could",
           "will", "would", "how", "what", "why", "who", "when", "which", "whom"},
    "ru": {"почему", "зачем", "кого", "кто", "сколько", "правда", "были", "был", "была"},
    "kk": set(),
}  # fmt: skip


def _asks_about_others(text: str, verb: str, language: str) -> bool:
    """True when the sentence holding the detention verb is a question about others."""
    for sentence in re.split(r"(?<=[.!?])\s+", text):
        words = sentence.lower().split()
        if verb.lower() in (w.strip(",.!?;:") for w in words):
            opener = words[0].strip(",.!?;:") if words else ""
            personal = set(w.strip(",.!?;:") for w in words) & _PERSONAL[language]
            return opener in _QUESTION_OPENERS[language] and not personal
    return False


def _is_question(text: str, query: Query) -> bool:
    """True when a sentence asks something: a question mark or a question word."""
    if "?" in text:
        return True
    words = {_surface(token, query.language) for token in query.tokens}
    return bool(words & _cues(QUESTION_WORDS, query.language))


def _points_back(query: Query) -> bool:
    """A short question about "this"/"that" ("это законно?", "is that allowed?", "бұл заңды ма")."""
    words = {_surface(token, query.language) for token in query.tokens}
    return len(query.tokens) <= ELLIPSIS_WORDS and bool(words & _cues(_POINTING, query.language))


def _starts_with_conjunction(query: Query) -> bool:
    """True for "and …", "а с флагом", "тағы …": a part that goes on from the one before."""
    first = next(iter(query.tokens), None)
    return first is not None and _surface(first, query.language) in _cues(
        _CONJUNCTIONS, query.language
    )


def _is_own_relative(word: str, language: str) -> bool:
    """ "my brother", "досым", "сестру": someone close to the writer. In Kazakh the root must
    carry "my" (-м/-ым: "әйелім", not "әйелдер", women in general)."""
    for root in _RELATIVE_ROOTS[language]:
        if word.startswith(root) and len(word) > 2:
            rest = word[len(root) :]
            if language != "kk" or rest.startswith(("м", "им")):
                return True
    return False


def _cues(table: dict[str, set[str]], language: str) -> set[str]:
    """A cue list in the form token surfaces have (Kazakh folded)."""
    words = table[language]
    return {fold_kazakh(word) for word in words} if language == "kk" else words


_LAST_YEAR = re.compile(r"(прошл\w* год|last year|былтыр|өткен жыл|откен жил)")
_THIS_YEAR = re.compile(r"(этом году|текущ\w* год|this year|current|биыл|осы жыл|биил)")


def parse_mci_request(query: Query, today: date) -> tuple[int, int] | None:
    """(count, year) when the question asks what an MCI amount is in tenge, else None.

    "30 МРП в 2026 году" → (30, 2026); "2026 жылы 50 АЕК" → (50, 2026); "How much is the MCI
    in 2024?" → (1, 2024). "What is the MCI?" and questions about fines in MCI without an
    amount are left to the articles.
    """
    if "mci" not in query.concepts or query.has(*OTHER_DOMAINS):
        return None  # "how many MCI is the state duty for a divorce" is not ours to compute
    tokens = query.tokens
    count: int | None = None
    for position, token in enumerate(tokens):
        if "mci" not in token.concepts:
            continue
        for neighbour in (position - 1, position + 1):
            if 0 <= neighbour < len(tokens):
                text = tokens[neighbour].text
                if text.isdecimal() and int(text) not in query.years and int(text) > 0:
                    count = int(text)
                    break
        if count is not None:
            break
    years = query.years
    lowered = query.text.lower()
    if years:
        year = years[0]
    elif _LAST_YEAR.search(lowered):
        year = today.year - 1
    else:
        year = today.year
    if count is None:
        # Without an amount, only "how much is the MCI (in a year)" is a computation; "what is
        # the MCI" or "fines in MCI for a rally" are for the articles.
        asks_value = (
            bool(years) or query.has("how_much", "tenge") or bool(_THIS_YEAR.search(lowered))
        )
        # "MCI 2022 for fines": fines are what the MCI is for; with a year named, the value.
        own = {"mci", "tenge", "how_much", *(("fine",) if years else ())}
        other_domain = {
            concept
            for concept in query.concepts
            if concept not in own and not concept.startswith("city:")
        }
        if other_domain or not asks_value:
            return None
        count = 1
    return count, year


# -- composing ------------------------------------------------------------------------------------


def _escape(text: str) -> str:
    return html.escape(text, quote=True)


def _format_number(value: int, language: str) -> str:
    return format_decimal(value, locale=language)


@functools.lru_cache(maxsize=4096)
def _format_day(day: date, language: str) -> str:
    # Every answer shows a few fixed dates (sources, "checked on"); Babel is slow at them.
    return format_date(day, format="long", locale=language)


def _source_date(value: str, language: str) -> str:
    if value == "n.d.":
        _ = gettext_for(language)
        return _("n.d.")
    try:
        return _format_day(date.fromisoformat(value), language)
    except ValueError:
        return value


def _shorten(label: str, limit: int = BUTTON_LABEL_LIMIT) -> str:
    label = " ".join(label.split())
    if len(label) <= limit:
        return label
    cut = label[: limit - 1].rsplit(" ", 1)[0].rstrip(",.;:–- ")
    return f"{cut or label[: limit - 1]}…"


def _source_when(value: str, language: str) -> str:
    """A source's date, short: the year alone, or the day when it is known."""
    if value == "n.d.":
        _ = gettext_for(language)
        return _("n.d.")
    if len(value) == 10:
        return _source_date(value, language)
    return value[:4]


def sources_line(sources: list[Source], language: str) -> str:
    """One compact line naming the sources (publisher, date), each linked to its document."""
    if not sources:
        return ""
    _ = gettext_for(language)
    ngettext = ngettext_for(language)
    shown: list[str] = []
    seen: set[str] = set()
    for source in sources:
        publisher = source.publisher_in(language)
        if publisher in seen:
            continue
        seen.add(publisher)
        shown.append(
            f'<a href="{_escape(source.url)}">{_escape(publisher)}</a>, '
            f"{_escape(_source_when(source.date, language))}"
        )
    kept = shown[:MAX_SOURCES_IN_LINE]
    line = _escape(_("Sources:")) + " " + "; ".join(kept)
    if len(shown) > len(kept):
        more = len(shown) - len(kept)
        line += " " + _escape(
            ngettext("and {count} more", "and {count} more", more).format(count=more)
        )
    return line


def sources_list(sources: list[Source], language: str, budget: int = TELEGRAM_LIMIT) -> str:
    """Every source with its title in `language` and its date; drops sources from the end to
    stay within `budget` characters."""
    _ = gettext_for(language)
    ngettext = ngettext_for(language)
    lines = [
        f'• <a href="{_escape(source.url)}">{_escape(source.title_in(language))}</a> '
        f"({_escape(source.publisher_in(language))}, "
        f"{_escape(_source_date(source.date, language))})"
        for source in sources
    ]
    heading = "<b>" + _escape(_("Sources:")) + "</b>"
    kept = list(lines)
    while kept:
        omitted = len(lines) - len(kept)
        tail = []
        if omitted:
            more = ngettext("…and {count} more source", "…and {count} more sources", omitted)
            tail.append(_escape(more.format(count=omitted)))
        block = "\n".join([heading, *kept, *tail])
        if len(block) <= budget:
            return block
        kept.pop()
    return heading if len(heading) <= budget else ""


def _checked_text(checked: date | None, language: str) -> str:
    if checked is None:
        return ""
    _ = gettext_for(language)
    return _escape(_("Checked on {date}").format(date=_format_day(checked, language)))


def _footer(sources: list[Source], checked: date | None, language: str) -> str:
    """The last lines of an answer: where it comes from and when it was checked."""
    parts = [sources_line(sources, language), _checked_text(checked, language)]
    text = "\n".join(part for part in parts if part)
    return f"<i>{text}</i>" if text else ""


def _uncertain_line(language: str) -> str:
    _ = gettext_for(language)
    text = _(
        "⚠️ marks what our sources do not confirm. Check it with a lawyer or the official source."
    )
    return f"<i>{_escape(text)}</i>"


def uncertain_mark(language: str) -> str:
    """The warning shown right after a statement its sources do not confirm."""
    _ = gettext_for(language)
    return f"⚠️ <i>{_escape(_('(not confirmed)'))}</i>"


def render_text(text: str, language: str) -> str:
    """Content text as Telegram HTML: escaped, with each [?] shown as a warning in place."""
    return _escape(text).replace(UNCERTAIN_MARK, uncertain_mark(language))


def plain_text(text: str, language: str) -> str:
    """Content text for surfaces without HTML (inline descriptions, pins): [?] as a warning."""
    _ = gettext_for(language)
    return text.replace(UNCERTAIN_MARK, "⚠️ " + _("(not confirmed)"))


def _assemble(parts: list[str], footer: str) -> str:
    """Join the parts and the footer, cutting the last parts to stay under Telegram's limit."""
    head = "\n\n".join(part for part in parts if part)
    room = TELEGRAM_LIMIT - len(footer) - 2
    if len(head) > room:
        head = head[: room - 1].rsplit("\n", 1)[0] + "…"
        head = _TAG.sub("", head) if head.count("<") != head.count(">") else head
    return "\n\n".join(part for part in (head, footer) if part)


def _has_uncertain(article: Article, language: str) -> bool:
    return article.uncertain or UNCERTAIN_MARK in article.text(language).body


def _related_buttons(kb: KnowledgeBase, article: Article, language: str) -> list[list[ReplyButton]]:
    rows = []
    for related_id in article.related:
        related = kb.get(related_id)
        if related is None:
            continue
        label = _shorten(related.text(language).title)
        rows.append([ReplyButton(label, callback_data=f"kb:show:{related.id}")])
        if len(rows) == MAX_RELATED_BUTTONS:
            break
    return rows


def _feedback_row(article_id: str) -> list[ReplyButton]:
    return [
        ReplyButton("👍", callback_data=f"kb:fb:{article_id}:up"),
        ReplyButton("👎", callback_data=f"kb:fb:{article_id}:down"),
    ]


def _article_parts(article: Article, language: str) -> list[str]:
    """The direct answer in bold, then the details, then the uncertainty note."""
    text = article.text(language)
    lead, _sep, details = text.body.partition("\n\n")
    parts = [
        f"<b>{render_text(lead.strip(), language)}</b>",
        render_text(details.strip(), language),
    ]
    if _has_uncertain(article, language):
        parts.append(_uncertain_line(language))
    return parts


def _sources_button(article: Article, language: str) -> ReplyButton:
    _ = gettext_for(language)
    return ReplyButton("📚 " + _("All sources"), callback_data=f"kb:src:{article.id}")


def article_reply(
    kb: KnowledgeBase, article_id: str, language: str, *, year: int | None = None
) -> Reply | None:
    """The full answer of one article in `language`, or None when there is no such article;
    with `year`, a sanctions article's sums in MCI are also given in tenge of that year."""
    article = kb.get(article_id)
    if article is None:
        return None
    sources = list(article.sources)
    parts = _article_parts(article, language)
    if year is not None and article.kind == "sanctions":
        parts.insert(2, _sums_in_year(kb, article, language, year))  # after the details
    html_text = _assemble(parts, _footer(sources, article.checked, language))
    buttons = [
        *_related_buttons(kb, article, language),
        [_sources_button(article, language), *_feedback_row(article.id)],
    ]
    return Reply(language, article.id, "article", html_text, buttons, sources)


def _also_section(article: Article, language: str) -> str:
    """Another article's direct answer, under its title, for the other part of a message."""
    text = article.text(language)
    return f"<b>{_escape(text.title)}</b>\n{render_text(text.lead, language)}"


def _also_button(article: Article, language: str) -> list[ReplyButton]:
    label = _shorten(article.text(language).title)
    return [ReplyButton(label, callback_data=f"kb:show:{article.id}")]


def two_part_reply(kb: KnowledgeBase, first: Article, second: Article, language: str) -> Reply:
    """A message asking two things: the first article in full, then the second's direct
    answer with a button to read it all."""
    parts = [*_article_parts(first, language), _also_section(second, language)]
    sources = list(dict.fromkeys([*first.sources, *second.sources]))
    html_text = _assemble(parts, _footer(sources, first.checked, language))
    buttons = [
        _also_button(second, language),
        *_related_buttons(kb, first, language)[:1],
        [_sources_button(first, language), *_feedback_row(first.id)],
    ]
    return Reply(language, first.id, "article", html_text, buttons, sources)


def clarify_reply(choices: list[Article], language: str) -> Reply:
    """Two or three topics are about equally close: the closest one's direct answer, said to be
    a guess, then "Did you mean…" with a button for each (the closest first)."""
    _ = gettext_for(language)
    closest = choices[0]
    parts = [
        "<i>" + _escape(_("I am not sure which topic you mean. The closest:")) + "</i>",
        _also_section(closest, language),
        "<b>" + _escape(_("Did you mean one of these?")) + "</b>",
    ]
    if _has_uncertain(closest, language) and UNCERTAIN_MARK in closest.text(language).lead:
        parts.insert(2, _uncertain_line(language))
    sources = list(closest.sources)
    html_text = _assemble(parts, _footer(sources, closest.checked, language))
    buttons = [
        [ReplyButton(_shorten(article.text(language).title), callback_data=f"kb:show:{article.id}")]
        for article in choices
    ]
    return Reply(language, closest.id, "clarify", html_text, buttons, sources)


def sources_reply(kb: KnowledgeBase, article_id: str, language: str) -> Reply | None:
    """The full list of an article's sources, titles in `language`."""
    article = kb.get(article_id)
    if article is None:
        return None
    _ = gettext_for(language)
    title = "<b>" + _escape(article.text(language).title) + "</b>"
    footer = _footer([], article.checked, language)
    budget = TELEGRAM_LIMIT - len(title) - len(footer) - 4
    block = sources_list(list(article.sources), language, budget)
    html_text = "\n\n".join(part for part in (title, block, footer) if part)
    return Reply(language, article.id, "sources", html_text, [], list(article.sources))


def _split_steps(body: str) -> tuple[str, str]:
    """The first steps of an article (paragraphs up to its first list) and the rest."""
    paragraphs = [p for p in re.split(r"\n\s*\n", body.strip()) if p.strip()]
    steps: list[str] = []
    for paragraph in paragraphs:
        if steps and len("\n\n".join([*steps, paragraph])) > DETENTION_STEPS_LIMIT:
            break
        steps.append(paragraph)
        if _BULLET.search(paragraph):
            break
    rest = paragraphs[len(steps) :]
    return "\n\n".join(steps), "\n\n".join(rest)


def detention_reply(
    kb: KnowledgeBase,
    language: str,
    result: SearchResult | None = None,
    also: Article | None = None,
) -> Reply:
    """The alarm answer: first steps at once, the report button first, then the rest."""
    _ = gettext_for(language)
    article = kb.get(DETENTION_ARTICLE_ID)
    if article is None and result is not None:
        article = next((hit.article for hit in result.hits if hit.article.kind == "rights"), None)
    report_row = [ReplyButton(_("Report a detention"), callback_data="report:start")]
    heading = "<b>" + _escape(_("If someone is being detained now")) + "</b>"
    prompt = _escape(_("Press “Report a detention” below: volunteers will see your report."))
    if article is None:
        html_text = "\n\n".join([heading, prompt])
        return Reply(language, None, "detention", html_text, [report_row], [])
    text = article.text(language)
    steps, rest = _split_steps(text.body)
    parts = [heading, render_text(steps, language), prompt]
    if also is not None:
        parts.append(_also_section(also, language))
    if rest:
        parts.append(f"<b>{_escape(text.title)}</b>\n{render_text(rest, language)}")
    if _has_uncertain(article, language):
        parts.append(_uncertain_line(language))
    html_text = _assemble(parts, _footer(list(article.sources), article.checked, language))
    buttons = [
        report_row,
        *([_also_button(also, language)] if also is not None else []),
        *_related_buttons(kb, article, language),
        [_sources_button(article, language)],
    ]
    return Reply(language, article.id, "detention", html_text, buttons, list(article.sources))


_MCI_SUM = re.compile(r"\b(\d{1,3})\s*(?:МРП|АЕК|MCI)\b")


def _sums_in_year(kb: KnowledgeBase, article: Article, language: str, year: int) -> str:
    """Each MCI sum the article names, in tenge at `year`'s rate ("" when the table has no
    such year or the article names no sum)."""
    entry = kb.mci.year(year) if kb.mci is not None else None
    counts = sorted({int(count) for count in _MCI_SUM.findall(article.text(language).body)})
    if entry is None or not counts:
        return ""
    lines = [_mci_lines(entry, count, language)[0] for count in counts]
    if entry.status == "uncertain":
        lines[0] += " " + uncertain_mark(language)
    return "\n".join(lines)


def _mci_lines(entry: MciYear, count: int, language: str) -> list[str]:
    _ = gettext_for(language)
    year = str(entry.year)
    if len(entry.periods) == 1:
        value = entry.periods[0].value
        lines = [
            "<b>"
            + _escape(
                _("{count} MCI in {year} = {amount} tenge").format(
                    count=_format_number(count, language),
                    year=year,
                    amount=_format_number(count * value, language),
                )
            )
            + "</b>"
        ]
        if count != 1:
            lines.append(
                _escape(
                    _("1 MCI in {year} = {value} tenge.").format(
                        year=year, value=_format_number(value, language)
                    )
                )
            )
        return lines
    lines = [
        "<b>"
        + _escape(
            _("{count} MCI in {year}:").format(count=_format_number(count, language), year=year)
        )
        + "</b>"
    ]
    for period in entry.periods:
        lines.append(
            "• "
            + _escape(
                _("from {date}: {amount} tenge (1 MCI = {value} tenge)").format(
                    date=_format_day(period.start, language),
                    amount=_format_number(count * period.value, language),
                    value=_format_number(period.value, language),
                )
            )
        )
    return lines


def mci_reply(
    kb: KnowledgeBase, count: int, year: int, language: str, also: Article | None = None
) -> Reply:
    """A computed answer: `count` MCI in tenge in `year` (each period when a year has several)."""
    _ = gettext_for(language)
    table = kb.mci
    entry = table.year(year) if table is not None else None
    buttons: list[list[ReplyButton]] = []
    mci_article = kb.get(MCI_ARTICLE_ID)
    if mci_article is not None:
        label = _shorten(mci_article.text(language).title)
        buttons.append([ReplyButton(label, callback_data=f"kb:show:{mci_article.id}")])
    if entry is None:
        known = [item.year for item in table.years] if table is not None else []
        message = _("Our table has no MCI value for {year}.").format(year=year)
        parts = [f"<b>{_escape(message)}</b>"]
        if known:
            listed = _("Years in the table: {years}.").format(years=", ".join(map(str, known)))
            parts.append(_escape(listed))
        parts.append(_escape(_("We do not guess the values of other years.")))
        html_text = _assemble(parts, _footer([], table.checked if table else None, language))
        return Reply(language, MCI_ARTICLE_ID, "computed", html_text, buttons, [])
    lines = _mci_lines(entry, count, language)
    if entry.status == "uncertain":
        lines[0] += " " + uncertain_mark(language)
    parts = ["\n".join(lines)]
    if entry.note is not None and entry.note.get(language):
        parts.append(_escape(entry.note.get(language)))
    if also is not None:
        parts.append(_also_section(also, language))
        buttons.insert(0, _also_button(also, language))
    if entry.status == "uncertain":
        parts.append(_uncertain_line(language))
    footer = _footer(list(entry.sources), table.checked if table else None, language)
    html_text = _assemble(parts, footer)
    buttons.append(_feedback_row(MCI_ARTICLE_ID))
    return Reply(language, MCI_ARTICLE_ID, "computed", html_text, buttons, list(entry.sources))


def no_answer_reply(language: str, kb: KnowledgeBase | None = None) -> Reply:
    """ "I have no answer", a hint to rephrase, and the topic menu."""
    _ = gettext_for(language)
    html_text = "\n\n".join(
        [
            "<b>" + _escape(_("Sorry, I have no answer to that.")) + "</b>",
            _escape(
                _(
                    "I answer questions about peaceful assemblies in Kazakhstan: how to notify "
                    "the akimat or apply for approval and the deadlines; where assemblies may be "
                    "held; fines and arrests; what to do if you or a relative are detained and how "
                    "to appeal; past cases; where to find a lawyer."
                )
            ),
            _escape(_("Try asking in other words, or choose a topic below.")),
        ]
    )
    topics = [
        (_("How to notify the akimat"), NOTIFY_ARTICLE_ID),
        (_("Where to hold an assembly"), "menu:venues"),
        (_("Fines and arrests"), FINES_ARTICLE_ID),
        (_("If you are detained"), "menu:rights"),
        (_("Report a detention"), "menu:report"),
    ]
    buttons = [
        [ReplyButton(label, callback_data=target if ":" in target else f"kb:show:{target}")]
        for label, target in topics
        if ":" in target or (kb is not None and kb.get(target) is not None)
    ]
    return Reply(language, None, "no_answer", html_text, buttons, [])
