"""The report conversation's steps (persisted: report_drafts.step stores their values), the
order of the questions, and what people type instead of pressing a button."""

from __future__ import annotations

import re
from enum import IntEnum

from bot.core.gazetteer import OTHER
from bot.core.matching import Answers
from bot.core.models import PEOPLE_RANGES, UNKNOWN_PEOPLE
from bot.services.report import reports as limits


class ReportStep(IntEnum):
    """Where the person is in the report conversation (0 = paused, not restored on restart)."""

    PAUSED = 0
    ROLE = 1
    WHEN = 2
    WHEN_CUSTOM = 3
    WHERE = 4
    CITY = 5
    COUNT = 6
    NAME = 7
    POLICE = 8
    DETAILS = 9
    MEDIA = 10
    CONTACT = 11
    CONSENT = 12
    SUMMARY = 13
    # "Continue or start over?" about an unfinished draft. Never saved: after a restart the
    # person is simply at the draft's step.
    RESUME = 14


ROLES = ("now", "self", "witness", "relative")
COUNT_CHOICES = ("1", *PEOPLE_RANGES)
# What people type instead of pressing a button, per question, in kk/ru/en (matched after
# folding scripts, endings and typos: bot.core.matching).
ROLE_ANSWERS = Answers(
    {
        "now": [
            "меня задерживают", "задерживают меня", "меня сейчас задерживают",
            "мені ұстап жатыр", "мені қазір ұстап жатыр", "ұстап жатыр",
            "I am being detained", "being detained", "they are detaining me",
        ],
        "self": [
            "меня задержали", "задержали меня", "я был задержан", "я была задержана",
            "мені ұстады", "мені ұстаған", "мен ұсталдым", "I was detained", "detained me",
        ],
        "witness": [
            "видел", "видела", "видели", "свидетель", "очевидец", "я видел задержание",
            "көрдім", "куәгер", "куәмін", "witness", "I saw", "saw",
        ],
        "relative": [
            "родственник", "родственница", "родные", "друг", "подруга", "знакомый", "брат",
            "сестра", "мама", "мать", "папа", "отец", "сын", "дочь", "муж", "жена",
            "туыс", "туысым", "туысқаным", "досым", "ағам", "інім", "әпкем", "қарындасым",
            "анам", "әкем", "ұлым", "қызым", "күйеуім", "әйелім", "relative", "friend",
            "family", "brother", "sister", "mother", "mom", "father", "dad", "son", "daughter",
            "husband", "wife",
        ],
    }
)  # fmt: skip
WHEN_ANSWERS = Answers(
    {
        "now": [
            "сейчас", "прямо сейчас", "только что", "қазір", "дәл қазір", "жаңа ғана",
            "now", "right now", "just now",
        ],
        "today": ["сегодня", "сегодня днём", "бүгін", "today", "earlier today", "this morning"],
        "custom": [
            "другой день", "другое время", "вчера", "позавчера", "кеше", "басқа күн",
            "басқа уақыт", "another day", "other day", "another time", "yesterday",
        ],
    }
)  # fmt: skip
COUNT_ANSWERS = Answers(
    {
        "1": ["один", "одна", "одного", "одну", "бір", "біреу", "one"],
        "2-5": [
            "2-5", "несколько", "двое", "трое", "бірнеше", "екеу", "үшеу", "a few", "few",
            "several", "couple",
        ],
        "6-20": ["6-20", "десяток", "около десяти", "ондаған", "about ten", "a dozen"],
        "20+": [
            "20+", "больше 20", "более 20", "больше двадцати", "много", "очень много",
            "толпа", "сотни", "20-дан көп", "көп", "өте көп", "жиырмадан көп",
            "more than 20", "over 20", "many", "a lot", "lots", "dozens", "hundreds",
        ],
        UNKNOWN_PEOPLE: [
            "не знаю", "неизвестно", "не уверен", "білмеймін", "белгісіз",
            "I don't know", "don't know", "unknown", "not sure",
        ],
    }
)  # fmt: skip
YES_NO_ANSWERS = Answers(
    {
        "yes": [
            "да", "ага", "конечно", "можно", "пусть", "иә", "ия", "әрине", "болады",
            "yes", "yeah", "yep", "sure", "ok", "okay", "of course",
        ],
        "no": [
            "нет", "не надо", "не нужно", "нельзя", "не звоните", "жоқ", "керек емес",
            "болмайды", "no", "nope", "don't",
        ],
    },
    exclusive=True,
)  # fmt: skip
# A typed "skip" is read only when it is the whole message: the free-text questions take
# anything, and a sentence that contains "I don't know" is an answer.
SKIP_PHRASES = [
    "пропустить", "пропуск", "дальше", "далее", "не знаю", "неизвестно", "нет", "никак",
    "өткізу", "өткізіп жіберу", "келесі", "білмеймін", "белгісіз", "жоқ",
    "skip", "next", "I don't know", "don't know", "unknown", "no", "none", "n/a",
]  # fmt: skip
SKIP_ANSWERS = Answers({"skip": SKIP_PHRASES})
DONE_ANSWERS = Answers(
    {
        "done": [
            "готово", "всё", "все", "хватит", "достаточно", "больше нет", "болды", "дайын",
            "бітті", "болдым", "done", "finished", "that's all", "ready", *SKIP_PHRASES,
        ]
    }
)  # fmt: skip
CONTACT_ANSWERS = Answers(
    {
        "telegram": [
            "здесь", "тут", "в чате", "через бота", "через чат", "телеграм", "в телеграме",
            "только через этот чат", "осында", "осы чатта", "бот арқылы", "телеграм арқылы",
            "here", "this chat", "in this chat", "telegram", "through the bot",
            "only through this chat",
        ]
    }
)  # fmt: skip
OTHER_TOWN_ANSWERS = Answers(
    {
        OTHER: [
            "другой город", "другой", "другое", "другой населённый пункт", "село", "посёлок",
            "басқа", "басқа қала", "ауыл", "another town", "other", "another", "village",
        ]
    }
)  # fmt: skip
SUMMARY_ANSWERS = Answers(
    {
        "confirm": [
            "отправить", "отправляй", "отправь", "всё верно", "верно", "да", "жіберу",
            "жібер", "жіберіңіз", "дұрыс", "иә", "send", "send it", "confirm", "yes",
            "correct",
        ],
        "when": ["когда", "время", "дата", "қашан", "уақыт", "күні", "when", "time", "date"],
        "where": ["где", "место", "город", "қайда", "орын", "қала", "where", "place", "city"],
        "count": ["сколько", "количество", "қанша", "how many", "count", "number"],
        "name": ["имя", "фио", "аты", "есімі", "name"],
        "police": ["полиция", "отдел полиции", "полиция бөлімі", "police"],
        "details": [
            "что случилось", "описание", "подробности", "не болды", "сипаттама",
            "what happened", "details",
        ],
        "media": ["фото", "видео", "голосовое", "сурет", "photo", "photos", "video", "media"],
        "contact": ["контакт", "телефон", "связь", "байланыс", "contact", "phone"],
    }
)  # fmt: skip
RESUME_ANSWERS = Answers(
    {
        "continue": [
            "продолжить", "продолжаю", "продолжим", "жалғастыру", "жалғастырамын",
            "continue", "go on", "resume",
        ],
        "restart": [
            "заново", "начать заново", "сначала", "новое", "басынан", "қайта бастау", "жаңадан",
            "start over", "restart", "new", "from the start",
        ],
    },
    exclusive=True,
)  # fmt: skip
PHONE_PATTERN = re.compile(r"^\+?[0-9][0-9 ()\-]{8,18}[0-9]$")
EDITABLE = {
    "when": ReportStep.WHEN,
    "where": ReportStep.WHERE,
    "count": ReportStep.COUNT,
    "name": ReportStep.NAME,
    "police": ReportStep.POLICE,
    "details": ReportStep.DETAILS,
    "media": ReportStep.MEDIA,
    "contact": ReportStep.CONTACT,
}
NEXT_STEP = {
    ReportStep.WHEN: ReportStep.WHERE,
    ReportStep.WHEN_CUSTOM: ReportStep.WHERE,
    ReportStep.WHERE: ReportStep.COUNT,
    ReportStep.CITY: ReportStep.COUNT,
    ReportStep.COUNT: ReportStep.NAME,
    ReportStep.NAME: ReportStep.POLICE,
    ReportStep.POLICE: ReportStep.DETAILS,
    ReportStep.DETAILS: ReportStep.MEDIA,
    ReportStep.MEDIA: ReportStep.CONTACT,
    ReportStep.CONTACT: ReportStep.CONSENT,
    ReportStep.CONSENT: ReportStep.SUMMARY,
}


def parse_people(text: str) -> str | None:
    """How many people a typed answer says: a number as digits ("3", "3 человека"), a range
    or "unknown" in words; None if it says none of these or a number out of range."""
    text = text.strip()
    # isdecimal, not isdigit: "²" is a digit that int() refuses.
    if text.isdecimal():
        number = int(text)
        return str(number) if 1 <= number <= limits.MAX_PEOPLE else None
    choice = COUNT_ANSWERS.match(text)
    if choice is not None:
        return choice
    numbers = re.findall(r"(?<![\d.,])[0-9]+(?![\d.,])", text)
    if len(numbers) == 1 and 1 <= int(numbers[0]) <= limits.MAX_PEOPLE:
        return str(int(numbers[0]))
    return None
