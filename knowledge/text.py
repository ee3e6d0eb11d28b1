"""Text handling for retrieval: normalisation, scripts and transliteration, language, stemming."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from functools import lru_cache

import snowballstemmer

# Typographic apostrophes all become "'", which the older Kazakh Latin alphabet uses as a letter.
_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "`": "'", "´": "'", "ʻ": "'"})
# Thousands separators inside numbers: "216 250", "216,250", "216.250" -> "216250".
_THOUSANDS = re.compile(r"(?<=\d)[\s\u00a0\u202f\u2009,.](?=\d{3}(?!\d))")
_TOKEN = re.compile(r"[^\W_]+(?:'[^\W_]+)*", re.UNICODE)
_LATIN_LETTERS = re.compile(r"[a-z]")

KAZAKH_LETTERS = frozenset("әғқңөұүһі")
# Kazakh letters folded onto their Russian look-alikes, so "откизу" (typed without the Kazakh
# keyboard), "өткізу" and the Latin "otkizu" meet; ы/і/й merge because Latin typing confuses them.
_KAZAKH_FOLD = str.maketrans(
    {"ә": "а", "ғ": "г", "қ": "к", "ң": "н", "ө": "о", "ұ": "у", "ү": "у", "һ": "х",
     "і": "и", "ы": "и", "й": "и", "ё": "е", "э": "е", "ь": "", "ъ": ""}
)  # fmt: skip

# Latin Kazakh: the 2021 alphabet (ä ğ ñ ö ū ü ş ı), the 2018 acute one (á ǵ ń ó ú ý),
# the 2017 apostrophe one (a' g' n' …) and informal ASCII ("qalai", "sh", "ch", "zh").
_KK_LATIN_MULTI: tuple[tuple[str, str], ...] = (
    ("shch", "щ"), ("a'", "ә"), ("g'", "ғ"), ("n'", "ң"), ("o'", "ө"), ("u'", "ү"),
    ("y'", "ұ"), ("i'", "й"), ("s'", "ш"), ("c'", "ч"), ("sh", "ш"), ("ch", "ч"),
    ("zh", "ж"), ("gh", "ғ"), ("kh", "х"), ("ts", "ц"), ("yu", "ю"), ("ya", "я"),
)  # fmt: skip
_KK_LATIN_SINGLE = {
    "a": "а", "ä": "ә", "á": "ә", "b": "б", "c": "с", "ç": "ч", "d": "д", "e": "е", "é": "е",
    "f": "ф", "g": "г", "ğ": "ғ", "ǵ": "ғ", "h": "һ", "i": "і", "ı": "ы", "ì": "і", "j": "ж",
    "k": "к", "l": "л", "m": "м", "n": "н", "ñ": "ң", "ń": "ң", "o": "о", "ö": "ө", "ó": "ө",
    "p": "п", "q": "қ", "r": "р", "s": "с", "ş": "ш", "t": "т", "u": "у", "ū": "ұ", "ý": "ұ",
    "ü": "ү", "ú": "ү", "v": "в", "w": "у", "x": "х", "y": "ы", "z": "з", "'": "",
}  # fmt: skip
KAZAKH_LATIN_MARKS = frozenset("äğñöūüşıáǵńóúýç")

# Russian typed in Latin letters (informal translit: "shtraf za miting").
_RU_LATIN_MULTI: tuple[tuple[str, str], ...] = (
    ("shch", "щ"), ("sch", "щ"), ("zh", "ж"), ("kh", "х"), ("ch", "ч"), ("sh", "ш"),
    ("ts", "ц"), ("tz", "ц"), ("yu", "ю"), ("ju", "ю"), ("iu", "ю"), ("ya", "я"), ("ja", "я"),
    ("yo", "е"), ("jo", "е"), ("ye", "е"), ("ck", "к"), ("ph", "ф"),
)  # fmt: skip
_RU_LATIN_SINGLE = {
    "a": "а", "b": "б", "c": "ц", "d": "д", "e": "е", "f": "ф", "g": "г", "h": "х", "i": "и",
    "j": "ж", "k": "к", "l": "л", "m": "м", "n": "н", "o": "о", "p": "п", "q": "к", "r": "р",
    "s": "с", "t": "т", "u": "у", "v": "в", "w": "в", "x": "кс", "y": "ы", "z": "з", "'": "ь",
}  # fmt: skip
_RU_VOWELS = frozenset("аеиоуыэюяё")

# Function words: cues for language detection and words too common to search for.
STOPWORDS: dict[str, frozenset[str]] = {
    "ru": frozenset(
        """и в во на с со к ко по о об обо от до из за для у при без над под про что чтобы как
        где когда куда откуда почему зачем кто какой какая какое какие каком какую каких каким
        сколько ли не нет да а но или если то же бы это этот эта эти этого тот та те я меня мне
        мной мы нас нам нами ты тебя тебе вы вас вам он она оно они его ее их им ему ей мой моя
        мое мои моего моей моих наш наша наши свой свою своих собой себе себя можно нужно надо
        есть был была было были будет будут быть еще уже только так там тут здесь чем через после
        перед также тоже хочу хотим хотел хотела подскажите подскажи ребят ребята привет
        здравствуйте сам сама который которая которое которые которого которой которых которым
        все всё весь всех очень может могут могу можем мог могла должен должна должны ну вот
        чего кого кому такое такой сейчас потом просто ли либо
        год года году лет вообще пожалуйста плиз короче типа вообщем""".split()
    ),
    "kk": frozenset(
        """мен сен ол біз сіз сендер олар менің мені маған менде меннен бізге біздің бізді сізге
        сіздің не неге қалай қанша қай қайда қашан кім кімге кімнің қандай неше ма ме ба бе па
        пе ғой да де та те және үшін деген бар жоқ керек болады бола болған болса ала алады
        ғана осы сол бұл мына әр барлық еді екен туралы бойынша дейін кейін бірақ немесе егер
        онда сонда иә емес арқылы қарай бері тағы өз өзі шын жылы жыл сәлем салем
        рахмет сау болыңыз ала алады алса алсам алсақ алып алмай алмайды алу алуға әлде кімнен
        кімді""".split()
    ),
    "en": frozenset(
        """the a an is are was were be been being am do does did i me my mine we us our you your
        he him his she her they them their it its this that these those what which who whom whose
        when where why how much many can could may might must should would will shall to of in on
        at by for with about from into over under after before and or but if then than so not no
        yes any some there here have has had get got just also please tell know want need there's
        i'm what's it's don't can't year years whats hows pls im""".split()
    ),
}
_KK_STOP_FOLDED = frozenset(word.translate(_KAZAKH_FOLD) for word in STOPWORDS["kk"])
# Kazakh verbs of "do / be / can" in any form ("істеймін", "болады", "алады") carry no topic.
_KK_STOP_STEMS = frozenset({"ист", "истеи", "бол", "болад", "жаса", "жасаи"})

# Folded Kazakh suffixes with the sounds they may follow (Kazakh suffixes change their first
# consonant to agree with the stem's last sound, so the condition tells a case ending from the
# end of a root: "азамат-ы" is a possessive, not "азама-ты").
_V = "аеиоуэюя"  # vowels after folding (й folds into и)
_T = "пфктсшщхцчгбвд"  # voiceless, plus the voiced stops that devoice at the end of a stem
_D = "бвгджзлмнр"  # voiced consonants
_C = _T + _D
_ANY = _V + _C
_KK_SUFFIX_RULES: dict[str, str] = {
    "лар": _V + "р", "лер": _V + "р", "дар": "лмнзж", "дер": "лмнзж", "тар": _T, "тер": _T,
    "нин": _V + "мн", "дин": _D, "тин": _T,
    "га": _V + _D, "ге": _V + _D, "ка": _T, "ке": _T, "на": _V, "не": _V,
    "да": _V + _D, "де": _V + _D, "та": _T, "те": _T, "нда": _V, "нде": _V,
    "даги": _V + _D, "деги": _V + _D, "таги": _T, "теги": _T,
    "дан": _V + "бвгдзжлр", "ден": _V + "бвгдзжлр", "тан": _T, "тен": _T,
    "нан": _V + "мн", "нен": _V + "мн",
    "ни": _V, "ди": _V + _D, "ти": _T, "н": _V,
    "мен": _ANY, "бен": _ANY, "пен": _ANY, "менен": _ANY,
    "си": _V, "и": _C, "им": _C, "м": _V, "ин": _C,
    "миз": _V, "имиз": _C, "иниз": _C, "низ": _V,
    "ган": _V + _D, "ген": _V + _D, "кан": _T, "кен": _T,
    "у": _ANY, "уши": _ANY, "ип": _C, "п": _V, "а": _C, "е": _C,
    "са": _ANY, "се": _ANY, "ма": _ANY, "ме": _ANY, "мак": _ANY, "мек": _ANY,
    "атин": _C, "етин": _C, "итин": _V, "ил": _C, "сиз": _ANY, "ши": _ANY,
}  # fmt: skip
_KK_SUFFIXES: tuple[str, ...] = tuple(sorted(_KK_SUFFIX_RULES, key=len, reverse=True))
KK_MIN_STEM = 3
_KK_VOWELS = frozenset(_V)
_KK_DEVOICE = {"г": "к", "б": "п"}

_SNOWBALL = {
    "ru": snowballstemmer.stemmer("russian"),
    "en": snowballstemmer.stemmer("english"),
}


def normalize(text: str) -> str:
    """Lower-case, ё→е, unify apostrophes, join thousands separators, NFC-compose accents."""
    text = unicodedata.normalize("NFC", text).translate(_APOSTROPHES).lower()
    # "İ".lower() is "i" + a combining dot; drop the dot.
    text = text.replace("ё", "е").replace("i\u0307", "i")
    return _THOUSANDS.sub("", text)


def tokenize(text: str) -> list[str]:
    """Normalised word tokens (letters and digits; a Latin apostrophe letter stays inside)."""
    return _TOKEN.findall(normalize(text))


def script_of(token: str) -> str:
    """'cyrillic', 'latin', 'digits' or 'other' for one normalised token."""
    if token.isdecimal():
        return "digits"
    cyrillic = sum(1 for char in token if "\u0400" <= char <= "\u04ff")
    if cyrillic:
        return "cyrillic"
    if any(char.isalpha() for char in token):
        return "latin"
    return "other"


def has_kazakh_letters(text: str) -> bool:
    """True when the text uses letters that only the Kazakh Cyrillic alphabet has."""
    return any(char in KAZAKH_LETTERS for char in text.lower())


def _apply_rules(word: str, multi: tuple[tuple[str, str], ...], single: dict[str, str]) -> str:
    out = []
    index = 0
    while index < len(word):
        for latin, cyrillic in multi:
            if word.startswith(latin, index):
                out.append(cyrillic)
                index += len(latin)
                break
        else:
            char = word[index]
            out.append(single.get(char, char))
            index += 1
    return "".join(out)


@lru_cache(maxsize=8192)
def kazakh_latin_to_cyrillic(word: str) -> str:
    """Convert one Latin-script Kazakh word (any of the alphabets, or informal) to Cyrillic."""
    return _apply_rules(normalize(word), _KK_LATIN_MULTI, _KK_LATIN_SINGLE)


@lru_cache(maxsize=8192)
def russian_latin_to_cyrillic(word: str) -> str:
    """Convert one Russian word typed in Latin letters ("zaderzhali") to Cyrillic."""
    word = normalize(word)
    # Endings first: "-iy/-yy/-oy/-ey/-ay" are -ий/-ый/-ой/-ей/-ай, "-iya" is -ия.
    for ending, cyrillic in (("iya", "ия"), ("ia", "ия"), ("iy", "ий"), ("yy", "ый"), ("ij", "ий")):
        if word.endswith(ending) and len(word) > len(ending) + 1:
            return russian_latin_to_cyrillic(word[: -len(ending)]) + cyrillic
    converted = _apply_rules(word, _RU_LATIN_MULTI, _RU_LATIN_SINGLE)
    # A "y" after a vowel is й ("moy", "kakoy"), not ы.
    chars = list(converted)
    for index in range(1, len(chars)):
        if chars[index] == "ы" and chars[index - 1] in _RU_VOWELS:
            chars[index] = "й"
    return "".join(chars)


def fold_kazakh(word: str) -> str:
    """Fold Kazakh letters onto Russian look-alikes (ә→а, қ→к, і/ы/й→и …) for robust matching."""
    return word.translate(_KAZAKH_FOLD)


def _kazakh_strips(form: str) -> list[str]:
    """Every form one suffix shorter than `form`, longest suffix first."""
    return [
        form[: -len(suffix)]
        for suffix in _KK_SUFFIXES
        if form.endswith(suffix)
        and len(form) - len(suffix) >= KK_MIN_STEM
        and form[-len(suffix) - 1] in _KK_SUFFIX_RULES[suffix]
        and any(char in _KK_VOWELS for char in form[: -len(suffix)])
    ]


def _devoice(form: str) -> str:
    return form[:-1] + _KK_DEVOICE[form[-1]] if form and form[-1] in _KK_DEVOICE else form


@lru_cache(maxsize=32768)
def stem_kazakh(word: str) -> str:
    """Folded Kazakh stem: strip case, possessive, plural and verbal suffixes, right to left."""
    stem = fold_kazakh(word)
    for _ in range(5):
        shorter = _kazakh_strips(stem)
        if not shorter:
            break
        stem = shorter[0]
    # A final ғ/б turns into қ/п when nothing follows ("әкімдігі" ~ "әкімдік").
    return _devoice(stem)


@lru_cache(maxsize=32768)
def kazakh_stem_candidates(word: str) -> tuple[str, ...]:
    """Every stem some segmentation of the word gives, longest first (suffixes are ambiguous:
    "қатыса" is қатыс-а, not қаты-са); a search picks the one its vocabulary knows."""
    seen: set[str] = set()
    frontier = [fold_kazakh(word)]
    for _ in range(6):
        next_frontier = []
        for form in frontier:
            for variant in {form, _devoice(form)}:
                if variant not in seen:
                    seen.add(variant)
                    next_frontier.extend(_kazakh_strips(variant))
        frontier = next_frontier
        if not frontier:
            break
    return tuple(sorted(seen, key=lambda form: (-len(form), form)))


@lru_cache(maxsize=32768)
def stem(word: str, language: str) -> str:
    """The stem of a normalised word in `language` (kk stems are folded)."""
    if word.isdecimal():
        return word
    if language == "kk":
        return stem_kazakh(word)
    stemmer = _SNOWBALL.get(language)
    return stemmer.stemWord(word) if stemmer is not None else word


# Words that make a sentence a question (Kazakh question particles too).
QUESTION_WORDS = {
    "en": {"why", "how", "what", "who", "whom", "whose", "which", "when", "where", "were", "was",
           "did", "are"},
    "ru": {"почему", "зачем", "как", "что", "кто", "кого", "кому", "какой", "какие", "сколько",
           "когда", "где", "куда", "откуда", "чей", "чья", "ли"},
    "kk": {"неге", "калаи", "не", "кім", "ким", "кандаи", "канша", "кашан", "каида", "неликтен",
           "неше", "кимге", "каидан", "кашанга", "ма", "ме", "ба", "бе", "па", "пе"},
}  # fmt: skip


def is_stopword(word: str, language: str) -> bool:
    """True for function words of `language` (Kazakh compared folded)."""
    if language == "kk":
        folded = fold_kazakh(word)
        return folded in _KK_STOP_FOLDED or (
            folded[:3] in {"ист", "бол", "жас"}
            and any(stem in _KK_STOP_STEMS for stem in kazakh_stem_candidates(word))
        )
    return word in STOPWORDS.get(language, frozenset())


Lexicon = Callable[[str, str], bool]


def latin_reading(token: str, language: str) -> str:
    """How a Latin token reads in `language`: itself for English, Cyrillic for kk/ru."""
    if language == "kk":
        return kazakh_latin_to_cyrillic(token)
    if language == "ru":
        return russian_latin_to_cyrillic(token)
    return token


# An apostrophe inside a Latin word marks Kazakh Latin (o'z, a'kim) unless it is English's.
_ENGLISH_CONTRACTIONS = ("'s", "'t", "'m", "'d", "'re", "'ve", "'ll")


def detect_language(text: str, lexicon: Lexicon | None = None) -> str:
    """Guess the language of a question: 'kk', 'ru' or 'en'.

    Kazakh-only letters decide at once; otherwise each reading of the words (as Kazakh, as
    Russian, as English; Latin words transliterated) is scored by function words and, when a
    `lexicon(word, language)` is given, by how many words the knowledge base knows.
    """
    tokens = [token for token in tokenize(text) if not token.isdecimal()]
    if not tokens:
        return "ru"
    if has_kazakh_letters(text):
        return "kk"
    cyrillic = [token for token in tokens if script_of(token) == "cyrillic"]
    latin = [token for token in tokens if script_of(token) == "latin"]
    if len(cyrillic) >= len(latin):
        scores = {
            "ru": _reading_score(cyrillic, "ru", lexicon) + 0.5,  # the usual Cyrillic case
            "kk": _reading_score(cyrillic, "kk", lexicon) + _kazakh_shape_bonus(cyrillic),
        }
        return max(scores, key=lambda language: scores[language])
    if any(char in KAZAKH_LATIN_MARKS for token in latin for char in token) or any(
        "'" in token[1:] and not token.endswith(_ENGLISH_CONTRACTIONS) for token in latin
    ):
        return "kk"
    # A word English knows ("picket", "Kokshetau") is no sign of Russian or Kazakh in Latin
    # letters, even when its transliteration is a word there too.
    not_english = [t for t in latin if lexicon is None or not lexicon(t, "en")]
    kazakh_readings = [kazakh_latin_to_cyrillic(token) for token in not_english]
    scores = {
        "en": _reading_score(latin, "en", lexicon) + 0.5,
        "ru": _reading_score([russian_latin_to_cyrillic(t) for t in not_english], "ru", lexicon),
        "kk": _reading_score(kazakh_readings, "kk", lexicon)
        + _kazakh_shape_bonus(kazakh_readings)
        + (1.0 if any("q" in token for token in latin) else 0.0),
    }
    return max(scores, key=lambda language: scores[language])


def _reading_score(tokens: list[str], language: str, lexicon: Lexicon | None) -> float:
    score = 0.0
    for token in tokens:
        if is_stopword(token, language):
            score += 1.0
        elif lexicon is not None and lexicon(token, language):
            score += 0.6
    return score


# Endings typical of Kazakh words and rare at the end of Russian ones (folded forms).
_KAZAKH_ENDINGS = ("ге", "ка", "ке", "дан", "ден", "тан", "тен", "нан", "нен", "ди", "ти", "нин",
                   "дин", "тин", "лар", "лер", "дар", "дер", "тар", "тер", "уге", "уга", "ип",
                   "ап", "еп")  # fmt: skip


def _kazakh_shape_bonus(tokens: list[str]) -> float:
    """Kazakh typed without Kazakh letters still shows Kazakh endings."""
    hits = sum(
        1
        for token in tokens
        if len(token) >= 4 and fold_kazakh(token).endswith(_KAZAKH_ENDINGS) and "ь" not in token
    )
    return 0.4 * hits
