"""Typed answers to questions that have buttons: which button a person meant, in Kazakh
(Cyrillic or Latin script), Russian or English, with case endings, typos and extra words.

Everything is folded into one rough Latin spelling first (алматыда, Almaty and Almatı meet as
"almatida"), so one table of answers per question serves the three languages and both Kazakh
scripts; endings are stripped and small typos forgiven word by word."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

_CYRILLIC_TO_LATIN = {
    "а": "a", "ә": "a", "б": "b", "в": "v", "г": "g", "ғ": "g", "д": "d", "е": "e", "ё": "e",
    "ж": "zh", "з": "z", "и": "i", "й": "i", "к": "k", "қ": "k", "л": "l", "м": "m", "н": "n",
    "ң": "n", "о": "o", "ө": "o", "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ұ": "u",
    "ү": "u", "ф": "f", "х": "h", "һ": "h", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "sh",
    "ъ": "", "ы": "i", "і": "i", "ь": "", "э": "e", "ю": "iu", "я": "ia",
}  # fmt: skip
# Latin-script Kazakh (2017-2021 alphabets) and common transliterations, onto the same letters.
_LATIN_FOLD = {
    "ı": "i", "ş": "sh", "ç": "ch", "ǵ": "g", "ğ": "g", "ń": "n", "ñ": "n", "á": "a", "ä": "a",
    "ó": "o", "ö": "o", "ú": "u", "ü": "u", "ū": "u", "ý": "i", "y": "i", "j": "zh", "q": "k",
    "x": "h", "w": "v",
}  # fmt: skip
_DIGRAPHS = (("kh", "h"), ("gh", "g"))
_WORD = re.compile(r"[a-z0-9]+")
# Case endings, longest first: Kazakh locative, dative, ablative, genitive, accusative and
# possessive, then Russian noun endings. Only stripped from words long enough to keep a stem of
# 3 letters.
SUFFIXES = (
    "nnan", "nnen", "ndagi", "dagi", "tagi", "dan", "den", "tan", "ten", "nan", "nen", "nda",
    "nde", "nin", "din", "tin", "gha", "ga", "ge", "ka", "ke", "na", "ne", "da", "de", "ta",
    "te", "di", "ti", "ni", "mi", "im", "om", "em", "ia", "iu", "a", "e", "u", "i",
)  # fmt: skip
MIN_STEM = 3
# Answers are short; the words after these in a long message are not read (it keeps a long
# message from costing much).
MAX_WORDS = 12


def fold(text: str) -> str:
    """Lower-case rough Latin spelling of any Kazakh, Russian or English text."""
    text = unicodedata.normalize("NFC", text).casefold()
    letters = []
    for char in text:
        if char in _CYRILLIC_TO_LATIN:
            letters.append(_CYRILLIC_TO_LATIN[char])
        elif char in _LATIN_FOLD:
            letters.append(_LATIN_FOLD[char])
        else:
            letters.append(char)
    folded = "".join(letters)
    # Other accented Latin letters lose their marks (é → e).
    folded = unicodedata.normalize("NFKD", folded)
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    for digraph, single in _DIGRAPHS:
        folded = folded.replace(digraph, single)
    return folded


def words(text: str) -> list[str]:
    """The folded words of a text; digits are words too, other characters separate them."""
    return _WORD.findall(fold(text))


def _stems(word: str) -> set[str]:
    stems = {word}
    for suffix in SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= MIN_STEM:
            stems.add(word[: -len(suffix)])
    return stems


def _typos_allowed(word: str) -> int:
    if len(word) >= 8:
        return 2
    return 1 if len(word) >= 5 else 0


def _within(a: str, b: str, limit: int) -> bool:
    """Whether the edit distance between a and b is at most `limit`."""
    if abs(len(a) - len(b)) > limit:
        return False
    if limit == 0:
        return a == b
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i]
        for j, char_b in enumerate(b, 1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b))
            )
        if min(current) > limit:
            return False
        previous = current
    return previous[-1] <= limit


def word_matches(typed: str, expected: str) -> int:
    """0 if the typed word is not the expected one; 2 if it is, ending aside; 1 with a typo
    (never in the first letter: people rarely miss it, and forgiving it confuses names)."""
    stems = _stems(typed)
    if expected in stems:
        return 2
    limit = _typos_allowed(expected)
    if limit and typed[0] == expected[0] and any(_within(s, expected, limit) for s in stems):
        return 1
    return 0


@dataclass(frozen=True)
class Phrase:
    """One way of giving an answer, as folded words."""

    key: str
    words: tuple[str, ...]


class Answers:
    """The answers of one question: each key with the phrases that mean it."""

    def __init__(self, table: Mapping[str, Iterable[str]], *, exclusive: bool = False) -> None:
        """exclusive: a text in which phrases of two different keys are found means neither
        (e.g. "yes no"); otherwise the longest phrase found wins."""
        self.exclusive = exclusive
        self.phrases: list[Phrase] = []
        for key, phrases in table.items():
            for phrase in phrases:
                folded = tuple(words(phrase))
                if folded:
                    self.phrases.append(Phrase(key, folded))

    def _score(
        self, typed: Sequence[str], phrase: Phrase, found: dict[tuple[int, str], int]
    ) -> tuple[int, int] | None:
        """(letters matched, exactness) of the phrase's best place in the text."""
        size = len(phrase.words)
        best: tuple[int, int] | None = None
        for start in range(len(typed) - size + 1):
            quality = 0
            for offset, expected in enumerate(phrase.words):
                position = (start + offset, expected)
                if position not in found:
                    found[position] = word_matches(typed[start + offset], expected)
                if not found[position]:
                    break
                quality += found[position]
            else:
                score = (sum(len(w) for w in phrase.words), quality)
                if best is None or score > best:
                    best = score
        return best

    def match(self, text: str, *, whole: bool = False, first_wins: bool = False) -> str | None:
        """The key the text means, or None if it means none or two different ones equally.
        whole: the text must be the phrase alone (for questions that also take free text).
        first_wins: an equal tie goes to the key listed first (e.g. the bigger town)."""
        typed = words(text)[:MAX_WORDS]
        if not typed:
            return None
        scored: list[tuple[tuple[int, int], int, str]] = []
        found: dict[tuple[int, str], int] = {}  # (typed word's position, expected word) → match
        for order, phrase in enumerate(self.phrases):
            if whole and len(phrase.words) != len(typed):
                continue
            score = self._score(typed, phrase, found)
            if score is not None:
                scored.append((score, -order, phrase.key))
        if not scored:
            return None
        scored.sort(reverse=True)
        best_score, _order, best_key = scored[0]
        rivals = {key for score, _o, key in scored if self.exclusive or score == best_score}
        if len(rivals) > 1 and not first_wins:
            return None
        return best_key
