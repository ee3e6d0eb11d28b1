"""Multilingual retrieval: a BM25F index over every article in all three languages, shared
concepts across languages, typo tolerance, entity boosts and a decision on whether a question is
in scope at all."""

from __future__ import annotations

import math
import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from knowledge.model import LANGUAGES, Article, KnowledgeBase
from knowledge.text import (
    QUESTION_WORDS,
    detect_language,
    fold_kazakh,
    is_stopword,
    kazakh_stem_candidates,
    latin_reading,
    normalize,
    script_of,
    stem,
    tokenize,
)

CONCEPTS_FILE = Path(__file__).resolve().parent / "concepts.yaml"

# BM25F parameters: field weights, length normalisation, saturation.
FIELD_WEIGHTS = {"title": 3.0, "keywords": 2.0, "questions": 2.0, "entity": 2.0, "body": 1.0}
B = 0.75
K1 = 1.2
CONCEPT_WEIGHT = 1.0
FUZZY_WEIGHT = 0.7
# Entity boosts are added to the score; about one strong, rare term's worth each.
CITY_WHERE_BOOST = 4.0
SANCTION_NUMBER_BOOST = 4.0
PERSON_BOOST = 6.0
CASE_YEAR_BOOST = 1.0
CASE_MONTH_BOOST = 2.5
# Past cases illustrate the rules; they answer only questions that point at the past (a year, a
# month, a person, "what happened"), so otherwise they rank below the rule articles.
CASE_PRIOR_WITHOUT_CUES = 0.7
# Likewise a city's venues answer questions that name a city; "where can I protest" without
# one is for the general article on designated places.
VENUES_PRIOR_WITHOUT_CITY = 0.7
# The scope decision: enough in-domain evidence (concept scopes, rare title/keyword words,
# entities), and the best article must cover enough of the question's content words.
MIN_EVIDENCE = 1.0
MIN_COVERAGE = 0.5
STRONG_NEGATIVE = -2.0  # other domains; weaker negative signs (neighbours, visas) count less
STRONG_EVIDENCE = 3.0  # e.g. three in-domain concepts: an assembly, a notification, the akimat
GENERIC_TOKEN_WEIGHT = 0.5
STRONG_TERM_EVIDENCE = 0.5
RARE_TERM_IDF = 2.5  # about: in at most 1 article in 12
ENTITY_EVIDENCE = 1.0
# Sample questions: how close the question is to one an article's editors wrote (0..1, an F1
# of the weighted words both share), squared and scaled to about three strong terms, is added to
# the article's score; a close match is also evidence that the question is in scope.
SAMPLE_WEIGHT = 12.0
SAMPLE_EVIDENCE = 1.0
SAMPLE_CLOSE = 0.6
SAMPLE_IN_SCOPE = 0.75  # how close a sample must be to count as evidence of the domain
SAMPLE_CANDIDATES = 10  # articles whose samples a question is compared with
SAMPLE_POWER = 2.0  # squared: a near-paraphrase counts far more than a loose overlap
# Confidence (0–1) that the best article answers the question: its closest sample question's
# similarity, or its lead over the runner-up (a lead of 10% of the score counts as much as a
# close sample). Below CLARIFY_BELOW, articles within CLARIFY_RATIO of the best one are offered
# as "Did you mean…" instead of a guess. bench.retrieval prints accuracy by confidence band.
MARGIN_SCALE = 6.0
SAMPLE_MARGIN = 0.05
CLARIFY_BELOW = SAMPLE_CLOSE
CLARIFY_RATIO = 0.9
MAX_CHOICES = 3
ASSEMBLY_CONCEPT = "assembly"
PROTEST_CONCEPT = "protest"
ABROAD_CONCEPT = "abroad"
FOREIGNER_CONCEPT = "foreigner"
COUNTRY_CONCEPT = "country"  # Kazakhstan named
MINOR_CONCEPT = "minor"
# "мне 17", "I'm 16", "16 years old", "17 жастамын": someone under 18 asks (a bare "15" is days)
_AGE_BEFORE = {"мне", "ему", "ей", "сын", "сына", "сыну", "дочь", "дочери", "дочке", "дочку",
               "i'm", "im", "aged", "son", "daughter", "жасым"}  # fmt: skip
_AGE_AFTER = ("жаста", "жасар", "jasta", "jasar", "zhasta", "yo")
OTHER_TRACK_PRIOR = 0.8
TRACKS = frozenset({"@form_notified", "@form_approved"})
# One shared object per combination of tracks (most sample words have none): the postings hold
# tens of thousands of them.
TRACK_SETS = {tracks: tracks for tracks in map(frozenset, ((), *([t] for t in TRACKS), TRACKS))}

# A message's clauses, and the words that make one a question ("…, who may be an organiser?")
_CLAUSE_BREAK = re.compile(r"[,;.!?\n]+")
_QUESTION_CUES = frozenset(fold_kazakh(word) for words in QUESTION_WORDS.values() for word in words)
_YEAR = re.compile(r"^(19[89]\d|20\d\d)$")


@dataclass(frozen=True)
class Reading:
    """One way to read a token: in a language, its normalised surface and candidate stems."""

    language: str
    surface: str
    stems: tuple[str, ...]


@dataclass
class QueryToken:
    """A token of the question, its readings and what it matched."""

    text: str
    readings: list[Reading]
    content: bool
    terms: list[str] = field(default_factory=list)
    concepts: set[str] = field(default_factory=set)
    corrected: str | None = None
    original_readings: list[Reading] = field(default_factory=list)

    @property
    def weight(self) -> float:
        """How much this token counts: typo-corrected tokens count less."""
        return FUZZY_WEIGHT if self.corrected else 1.0


@dataclass
class Query:
    """A question analysed for retrieval."""

    text: str
    language: str
    tokens: list[QueryToken]
    concepts: set[str]
    numbers: list[str]

    @property
    def years(self) -> list[int]:
        """Numbers in the question that look like years."""
        return [int(number) for number in self.numbers if _YEAR.match(number)]

    def has(self, *concepts: str) -> bool:
        """True when the question mentions any of these concepts."""
        return any(concept in self.concepts for concept in concepts)


@dataclass(frozen=True)
class Hit:
    """An article, its score for a question and its closest sample question's similarity."""

    article: Article
    score: float
    sample: float = 0.0


@dataclass(frozen=True)
class Sample:
    """An editor's sample question: its article and, per content word, the terms it matches
    (its stem and the concepts it belongs to) with the word's weight."""

    doc: int
    words: tuple[tuple[frozenset[str], float], ...]
    total: float


@dataclass
class SearchResult:
    """Ranked articles for a question, and whether the best one answers it."""

    query: Query
    hits: list[Hit]
    in_scope: bool
    evidence: float
    coverage: float

    @property
    def top(self) -> Article | None:
        """The answering article, or None when the question is out of scope."""
        return self.hits[0].article if self.in_scope and self.hits else None

    def answering_in_context(self) -> Article | None:
        """The best article for one part of a message already known to be in scope: the part
        itself needs only to be covered ("…and where in Almaty?")."""
        if self.hits and self.coverage >= MIN_COVERAGE:
            return self.hits[0].article
        return None

    @property
    def confidence(self) -> float:
        """How sure the engine is that the best article answers the question (0 when none)."""
        if not self.in_scope or not self.hits:
            return 0.0
        best = self.hits[0]
        if len(self.hits) < 2:
            return 1.0
        lead = 1 - self.hits[1].score / best.score
        # A close sample decides only when the other candidates' samples are clearly less close.
        rival = max(hit.sample for hit in self.hits[1:MAX_CHOICES])
        sample = best.sample if best.sample - rival >= SAMPLE_MARGIN else 0.0
        return min(1.0, max(sample, lead * MARGIN_SCALE))

    def close_calls(self) -> list[Article]:
        """The best article and those nearly as good, when nothing sets the best one apart
        (then the person chooses); empty when the best one is clear."""
        if len(self.hits) < 2 or self.confidence >= CLARIFY_BELOW:
            return []
        best = self.hits[0]
        close = [
            hit.article
            for hit in self.hits[1:MAX_CHOICES]
            if hit.score >= CLARIFY_RATIO * best.score
            and hit.article.id not in best.article.related
            and best.article.id not in hit.article.related
        ]
        return [best.article, *close] if close else []


PatternKey = tuple[str, str]  # ("s", stem), ("w", word) or ("p", prefix)


class ConceptDictionary:
    """Words of all three languages mapped to shared concept ids (data in concepts.yaml)."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.scope: dict[str, float] = {}
        self.vocabulary: dict[str, set[str]] = {lang: set() for lang in LANGUAGES}
        # Per language: pattern key -> concepts of one-word entries; phrases by their first key.
        self._single: dict[str, dict[PatternKey, set[str]]] = {
            lang: defaultdict(set) for lang in LANGUAGES
        }
        self._phrases: dict[str, dict[PatternKey, list[tuple[tuple[PatternKey, ...], str]]]] = {
            lang: defaultdict(list) for lang in LANGUAGES
        }
        self._stems: dict[str, set[str]] = {lang: set() for lang in LANGUAGES}
        self._words: set[str] = set()
        self._prefixes: dict[str, dict[str, set[str]]] = {
            lang: defaultdict(set) for lang in LANGUAGES
        }
        self._key_cache: dict[tuple[str, str, tuple[str, ...]], frozenset[PatternKey]] = {}
        # concept -> concepts it overrides on the same word ("unsanctioned" is no "sanctioned")
        self.excludes: dict[str, set[str]] = {}
        self.unranked: set[str] = set()
        for concept, spec in (data.get("concepts") or {}).items():
            self.scope[concept] = float(spec.get("scope", 0))
            if spec.get("rank") is False:
                self.unranked.add(concept)
            if spec.get("excludes"):
                self.excludes[concept] = set(spec["excludes"])
            for lang in LANGUAGES:
                for entry in spec.get(lang) or []:
                    self._add(concept, lang, str(entry))
        for city, names in (data.get("cities") or {}).items():
            self.add_city(city, names)
        unknown = set().union(*self.excludes.values()) - self.scope.keys()
        if unknown:
            raise ValueError(f"concepts.yaml: `excludes` names unknown concepts {sorted(unknown)}")

    def add_city(self, city: str, names: Iterable[str]) -> None:
        """Register a city's names (any language) under the concept `city:<key>`."""
        concept = f"city:{city}"
        self.scope.setdefault(concept, 0.0)
        for name in names:
            for lang in LANGUAGES:
                self._add(concept, lang, name)

    def _pattern_key(self, part: str, lang: str) -> PatternKey:
        if part.endswith("*") and len(part) > 1:
            prefix = _fold(part[:-1], lang)
            self._prefixes[lang][prefix[:2]].add(prefix)
            return ("p", prefix)
        exact = part.startswith("=") and len(part) > 1
        if exact:
            # "=әкім": this word as written, for short words whose stem other words share
            # (the Kazakh stemmer takes "әкім" and "ақысыз" to the same stem).
            part = part[1:]
        self.vocabulary[lang].add(_fold(part, lang))
        if lang == "en" or exact:
            # English has few forms and its stemmer merges too much ("parking" ~ "park"):
            # entries list their forms and match as written.
            self._words.add(_fold(part, lang))
            return ("w", _fold(part, lang))
        stemmed = stem(part, lang)
        self._stems[lang].add(stemmed)
        return ("s", stemmed)

    def _add(self, concept: str, lang: str, entry: str) -> None:
        parts = [part for part in normalize(entry).replace("-", " ").split() if part]
        if not parts:
            return
        keys = tuple(self._pattern_key(part, lang) for part in parts)
        if len(keys) == 1:
            self._single[lang][keys[0]].add(concept)
        else:
            self._phrases[lang][keys[0]].append((keys, concept))
        self._key_cache.clear()

    def keys(self, reading: Reading) -> frozenset[PatternKey]:
        """The pattern keys one reading of a token matches."""
        if reading.language not in self._single:
            return frozenset()
        cache_key = (reading.language, reading.surface, reading.stems)
        found = self._key_cache.get(cache_key)
        if found is None:
            lang = reading.language
            keys = {("s", c) for c in reading.stems if c in self._stems[lang]}
            if reading.surface in self._words:
                keys.add(("w", reading.surface))
            for prefix in self._prefixes[lang].get(reading.surface[:2], ()):
                if reading.surface.startswith(prefix):
                    keys.add(("p", prefix))
            found = frozenset(keys)
            self._key_cache[cache_key] = found
        return found

    def match(self, readings_by_position: list[list[Reading]]) -> list[set[str]]:
        """The concepts each token position takes part in (single words and phrases)."""
        keys_at = [
            {(reading.language, key) for reading in readings for key in self.keys(reading)}
            for readings in readings_by_position
        ]
        found: list[set[str]] = [set() for _ in readings_by_position]
        for position, keys in enumerate(keys_at):
            for lang, key in keys:
                found[position].update(self._single[lang].get(key, ()))
                for pattern, concept in self._phrases[lang].get(key, ()):
                    end = position + len(pattern)
                    if end <= len(keys_at) and all(
                        (lang, part) in keys_at[position + offset]
                        for offset, part in enumerate(pattern[1:], start=1)
                    ):
                        for covered in range(position, end):
                            found[covered].add(concept)
        for concepts in found:
            for concept in concepts & self.excludes.keys():  # a set: the loop sees a copy
                concepts -= self.excludes[concept]
        return found


def _fold(word: str, lang: str) -> str:
    return fold_kazakh(word) if lang == "kk" else word


@cache
def _concept_data() -> dict[str, Any]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(CONCEPTS_FILE.read_text(encoding="utf-8"), Loader=loader) or {}


def _content_reading(token: str, lang: str) -> Reading:
    if token.isdecimal():
        return Reading("num", token, (token,))
    if lang != "en" and script_of(token) == "latin":
        # Kazakh and Russian written in Latin letters ("mitingke ruqsat") are read in Cyrillic,
        # as questions typed that way are.
        token = latin_reading(token, lang)
    return Reading(lang, _fold(token, lang), (stem(token, lang),))


def _term(reading: Reading, candidate: str) -> str:
    return f"#{candidate}" if reading.language == "num" else f"{reading.language}:{candidate}"


class SearchIndex:
    """The index of one knowledge base; build once, query many times."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.concepts = ConceptDictionary(_concept_data())
        for article in kb.by_kind("venues"):
            if article.venue_list is not None:
                city = article.venue_list
                self.concepts.add_city(city.city, city.city_name.values())
        self.articles: list[Article] = [kb.articles[key] for key in sorted(kb.articles)]
        self.doc_of: dict[str, int] = {article.id: doc for doc, article in enumerate(self.articles)}
        self.postings: dict[str, dict[tuple[int, str], float]] = defaultdict(dict)
        # Per term, each article's best saturation over its languages: what scoring adds up.
        self.doc_saturation: dict[str, dict[int, float]] = {}
        self.strong_terms: list[set[str]] = [set() for _ in self.articles]
        self.idf: dict[str, float] = {}
        self.vocabulary: dict[str, Counter[str]] = {lang: Counter() for lang in LANGUAGES}
        self.stems: dict[str, set[str]] = {lang: set() for lang in LANGUAGES}
        # Name keys of the people in cases: surnames name a case; a first name is shared by
        # too many people ("Max" is no question about Maks Bokaev) and only adds to a surname.
        self.surnames: dict[str, set[int]] = defaultdict(set)
        self.first_names: dict[str, set[int]] = defaultdict(set)
        self.proper_names: set[str] = set()
        self._build()
        self.samples: list[Sample] = []
        # term -> (sample number, word position) of every sample word carrying that term
        # term -> article -> (sample number, word position, the word's track concepts) of every
        # sample word carrying that term: a question walks the samples of likely articles only
        self.sample_words_with: dict[str, dict[int, list[tuple[int, int, frozenset[str]]]]] = (
            defaultdict(lambda: defaultdict(list))
        )
        self._build_samples()
        self._fuzzy: dict[str, dict[str, set[str]]] = {
            lang: _deletion_index(set(self.vocabulary[lang]) | self.concepts.vocabulary[lang])
            for lang in LANGUAGES
        }
        # A token longer than every known word by more than the edit limit is no typo of one;
        # looking for candidates anyway costs cubic time (a 1000-letter token took 20 s).
        self._longest: dict[str, int] = {
            lang: max(map(len, index), default=0) for lang, index in self._fuzzy.items()
        }

    # -- building ---------------------------------------------------------------------------

    def _fields(self, article: Article, lang: str) -> dict[str, str]:
        text = article.text(lang) if lang in article.texts else None
        fields = {
            "title": text.title if text else "",
            "keywords": " ; ".join(text.keywords) if text else "",
            "questions": " ; ".join(text.questions) if text else "",
            "body": text.body if text else "",
        }
        entity = []
        if article.case is not None:
            entity.extend(article.case.people.get(lang, ()))
        if article.venue_list is not None:
            entity.append(article.venue_list.city_name.get(lang))
            entity.extend(venue.name.get(lang) for venue in article.venue_list.venues)
        if article.sanction is not None:
            entity.append(article.sanction.article)
        fields["entity"] = " ; ".join(entity)
        return fields

    def _build(self) -> None:
        field_lengths: dict[str, list[int]] = defaultdict(list)
        counts: dict[tuple[int, str], dict[str, Counter[str]]] = {}
        for doc, article in enumerate(self.articles):
            for lang in LANGUAGES:
                per_field: dict[str, Counter[str]] = {}
                for field_name, value in self._fields(article, lang).items():
                    terms = self._content_terms(value, lang)
                    per_field[field_name] = Counter(terms)
                    field_lengths[field_name].append(len(terms))
                    if field_name != "body":
                        self.strong_terms[doc].update(terms)
                counts[(doc, lang)] = per_field
            self._index_names(doc, article)
        average = {name: max(1.0, sum(v) / len(v)) for name, v in field_lengths.items() if v}
        document_frequency: Counter[str] = Counter()
        for (doc, lang), per_field in counts.items():
            pseudo: dict[str, float] = defaultdict(float)
            for field_name, counter in per_field.items():
                length = sum(counter.values())
                norm = 1 - B + B * length / average.get(field_name, 1.0)
                for term, tf in counter.items():
                    pseudo[term] += FIELD_WEIGHTS[field_name] * tf / norm
            for term, tf in pseudo.items():
                self.postings[term][(doc, lang)] = tf * (K1 + 1) / (K1 + tf)
        self.postings = dict(self.postings)  # lookups of unknown words must not add entries
        for term, posting in self.postings.items():
            best_per_doc: dict[int, float] = {}
            for (doc, _lang), saturation in posting.items():
                best_per_doc[doc] = max(best_per_doc.get(doc, 0.0), saturation)
            self.doc_saturation[term] = best_per_doc
            document_frequency[term] = len(best_per_doc)
        total = len(self.articles)
        self.idf = {
            term: math.log(1 + (total - df + 0.5) / (df + 0.5))
            for term, df in document_frequency.items()
        }
        self.typical_idf = statistics.median(self.idf.values()) if self.idf else 1.0

    def _word_terms(self, value: str, lang: str) -> list[frozenset[str]]:
        """Per content word of `value`: its stem term and concept terms (for sample matching)."""
        tokens = tokenize(value)
        readings = [[_content_reading(token, lang)] for token in tokens]
        concepts = self.concepts.match(readings)
        words = []
        for (reading,), found in zip(readings, concepts, strict=True):
            if reading.language != "num" and is_stopword(reading.surface, lang):
                continue
            ranked = found - self.concepts.unranked
            terms = {_term(reading, reading.stems[0]), *(f"@{concept}" for concept in ranked)}
            words.append(frozenset(terms))
        return words

    def _build_samples(self) -> None:
        for doc, article in enumerate(self.articles):
            for lang in LANGUAGES:
                text = article.texts.get(lang)
                for question in text.questions if text else ():
                    words = tuple(
                        (terms, self._term_weight(terms))
                        for terms in dict.fromkeys(self._word_terms(question, lang))
                    )
                    total = sum(weight for _terms, weight in words)
                    if not total:
                        continue
                    number = len(self.samples)
                    self.samples.append(Sample(doc, words, total))
                    for position, (terms, _weight) in enumerate(words):
                        for term in terms:
                            self.sample_words_with[term][doc].append(
                                (number, position, TRACK_SETS[terms & TRACKS])
                            )
        self.sample_words_with = {
            term: dict(per_doc) for term, per_doc in self.sample_words_with.items()
        }

    def _term_weight(self, terms: Iterable[str]) -> float:
        """A word's weight: the idf of its rarest term; a word the content never uses weighs as
        much as a typical word (it may be what the question is about, or just a filler)."""
        return max((self.idf.get(term, 0.0) for term in terms), default=0.0) or self.typical_idf

    def _content_terms(self, value: str, lang: str) -> list[str]:
        tokens = tokenize(value)
        readings = [[_content_reading(token, lang)] for token in tokens]
        concepts = self.concepts.match(readings)
        terms = []
        for (reading,), found in zip(readings, concepts, strict=True):
            if reading.language != "num":
                self.vocabulary[lang][reading.surface] += 1
                self.stems[lang].add(reading.stems[0])
            if reading.language == "num" or not is_stopword(reading.surface, lang):
                terms.append(_term(reading, reading.stems[0]))
            terms.extend(f"@{concept}" for concept in found - self.concepts.unranked)
        return terms

    def _index_names(self, doc: int, article: Article) -> None:
        if article.case is not None:
            for names in article.case.people.values():
                for name in names:
                    *first, last = tokenize(name) or [""]
                    for token, index in [
                        *((t, self.first_names) for t in first),
                        (last, self.surnames),
                    ]:
                        if len(token) >= 3:
                            for key in _name_keys(token):
                                index[key].add(doc)
        for lang in LANGUAGES:
            text = article.texts.get(lang)
            if text is None:
                continue
            # Capitalised words inside a sentence are proper names (people, organisations).
            for sentence in re.split(r"[.!?\n:;«»\"“”()]+", text.body):
                words = sentence.split()
                for word in words[1:]:
                    cleaned = word.strip(",'’-–—")
                    if len(cleaned) >= 4 and cleaned[0].isupper() and not cleaned.isupper():
                        self.proper_names.add(fold_kazakh(normalize(cleaned)))

    # -- queries ----------------------------------------------------------------------------

    def knows(self, word: str, lang: str) -> bool:
        """True when `word` (normalised, in `lang`) occurs in the content or the concepts."""
        surface = _fold(word, lang)
        if surface in self.vocabulary[lang] or surface in self.concepts.vocabulary[lang]:
            return True
        return stem(word, lang) in self.stems[lang]

    def analyze(self, question: str, language: str | None = None) -> Query:
        """Tokens, readings, concepts and terms of a question."""
        detected = language or detect_language(question, self.knows)
        tokens = tokenize(question)
        readings = [self._readings(token, detected) for token in tokens]
        concepts_at = self.concepts.match(readings)
        for position in _ages_under_18(tokens):
            concepts_at[position].add(MINOR_CONCEPT)
        query_tokens = []
        for token, token_readings, found in zip(tokens, readings, concepts_at, strict=True):
            content = not _is_function_word(token, detected, token_readings)
            query_token = QueryToken(token, token_readings, content, concepts=set(found))
            if content:
                query_token.terms = self._terms(token_readings)
                if not query_token.terms and not found and len(token) >= 5:
                    self._correct(query_token, detected)
                    if query_token.corrected and is_stopword(query_token.corrected, detected):
                        # "skolko" read as "сколько": a function word, not a topic
                        query_token.content = False
                        query_token.terms = []
            query_tokens.append(query_token)
        numbers = [token for token in tokens if token.isdecimal()]
        all_concepts = set().union(*(t.concepts for t in query_tokens)) if query_tokens else set()
        return Query(question, detected, query_tokens, all_concepts, numbers)

    def _readings(self, token: str, language: str) -> list[Reading]:
        script = script_of(token)
        if script == "digits":
            return [Reading("num", token, (token,))]
        if script == "latin":
            readings = [self._reading("en", token)]
            if language != "en" or not self.knows(token, "en"):
                for lang in ("kk", "ru") if language != "ru" else ("ru", "kk"):
                    readings.append(self._reading(lang, latin_reading(token, lang)))
            return readings
        return [self._reading("ru", token), self._reading("kk", token)]

    def _reading(self, lang: str, word: str) -> Reading:
        if lang == "kk":
            known = [c for c in kazakh_stem_candidates(word) if c in self.stems["kk"]]
            candidates = (known[0],) if known else (stem(word, "kk"),)
            return Reading("kk", fold_kazakh(word), candidates)
        return Reading(lang, word, (stem(word, lang),))

    def _terms(self, readings: list[Reading]) -> list[str]:
        terms = []
        for reading in readings:
            for candidate in reading.stems:
                term = _term(reading, candidate)
                if term in self.postings:
                    terms.append(term)
        return terms

    def _correct(self, query_token: QueryToken, language: str) -> None:
        """Typo tolerance: replace an unknown word by the closest known word of its script."""
        best: tuple[int, int, str, str] | None = None
        for reading in query_token.readings:
            if reading.language == "num":
                continue
            limit = 1 if len(reading.surface) < 8 else 2
            if len(reading.surface) > self._longest[reading.language] + limit:
                continue
            for candidate in _fuzzy_candidates(self._fuzzy[reading.language], reading.surface):
                distance = _edit_distance(reading.surface, candidate, limit)
                if distance > limit:
                    continue
                frequency = self.vocabulary[reading.language][candidate]
                key = (distance, -frequency, reading.language, candidate)
                if best is None or key < best:
                    best = key
        if best is None:
            return
        _, _, lang, word = best
        corrected = self._reading(lang, word)
        query_token.corrected = word
        query_token.original_readings = query_token.readings
        query_token.readings = [corrected]
        query_token.terms = self._terms([corrected])
        query_token.concepts = self.concepts.match([[corrected]])[0]

    def search(self, question: str, limit: int = 5, language: str | None = None) -> SearchResult:
        """Rank the articles for a question and decide whether the best one answers it."""
        query = self.analyze(question, language)
        scores: dict[int, float] = defaultdict(float)
        seen_terms: set[frozenset[str]] = set()
        for token in query.tokens:
            key = frozenset(token.terms)
            if not token.terms or key in seen_terms:
                continue
            seen_terms.add(key)
            best: dict[int, float] = {}
            for term in token.terms:
                self._add_best(best, term, self.idf.get(term, 0.0) * token.weight)
            for doc, value in best.items():
                scores[doc] += value
        for concept in query.concepts:
            term = f"@{concept}"
            best = {}
            self._add_best(best, term, self.idf.get(term, 0.0) * CONCEPT_WEIGHT)
            for doc, value in best.items():
                scores[doc] += value
        # Samples are compared with the articles the words already point to most (a sample that
        # is close shares the question's words, which its article's `questions` field holds):
        # walking every sample of a common word cost up to 10 ms a question.
        likely = sorted(scores, key=lambda doc: (-scores[doc], doc))[:SAMPLE_CANDIDATES]
        closeness = self._sample_closeness(query, likely)
        # A long message's question is often one clause of its story ("I work at the akimat.
        # Can I organise a picket, who may be an organiser?"): it is as close as its question.
        clause = _question_clause(question)
        if clause is not None:
            focus = self.analyze(clause, query.language)
            for doc, value in self._sample_closeness(focus, likely).items():
                closeness[doc] = max(closeness.get(doc, 0.0), value)
        for doc, value in closeness.items():
            scores[doc] += SAMPLE_WEIGHT * value**SAMPLE_POWER
        entity_docs = self._entity_boosts(query, scores)
        past = self._asks_about_past(query, entity_docs)
        names_city = any(concept.startswith("city:") for concept in query.concepts)
        for doc in list(scores):
            kind = self.articles[doc].kind
            if kind == "cases" and not past:
                scores[doc] *= CASE_PRIOR_WITHOUT_CUES
            elif kind == "venues" and not names_city:
                scores[doc] *= VENUES_PRIOR_WITHOUT_CITY
        self._prefer_the_asked_track(query, scores)
        ranked = sorted(scores.items(), key=lambda item: (-item[1], self.articles[item[0]].id))
        hits = [
            Hit(self.articles[doc], score, closeness.get(doc, 0.0))
            for doc, score in ranked[:limit]
            if score > 0
        ]
        evidence, coverage = self._scope(query, hits, entity_docs)
        # A long message says much besides its question ("…they are closing our village school,
        # we want to rally: how many days before do we notify the akimat?"): with strong
        # evidence of the domain, the best article need cover only the domain words.
        in_scope = (
            bool(hits)
            and evidence >= MIN_EVIDENCE
            and (
                coverage >= MIN_COVERAGE
                or (evidence >= STRONG_EVIDENCE and self._covers_domain(query, hits[0]))
            )
        )
        return SearchResult(query, hits, in_scope, evidence, coverage)

    def _sample_closeness(self, query: Query, docs: Iterable[int]) -> dict[int, float]:
        """Per article of `docs`, the similarity of the question to its closest sample question:
        an F1 of the weighted words they share (walking the postings of the question's terms
        in those articles only)."""
        words: dict[frozenset[str], float] = {}
        for token in query.tokens:
            if not token.content:
                continue
            terms = frozenset([*token.terms, *(f"@{concept}" for concept in token.concepts)])
            key = terms or frozenset([f"?{token.text}"])
            words[key] = max(words.get(key, 0.0), self._term_weight(terms) * token.weight)
        total = sum(words.values())
        if not total:
            return {}
        # For each sample: which of the question's words it has, which of its words were hit.
        question_hits: dict[int, set[int]] = defaultdict(set)
        sample_hits: dict[int, set[int]] = defaultdict(set)
        weights = list(words.values())
        docs = list(docs)
        for index, terms in enumerate(words):
            forms = terms & TRACKS
            for term in terms:
                per_doc = self.sample_words_with.get(term)
                if per_doc is None:
                    continue
                checks_track = bool(forms) and term == f"@{ASSEMBLY_CONCEPT}"
                for doc in docs:
                    for number, position, sample_forms in per_doc.get(doc, ()):
                        if checks_track and sample_forms and not forms & sample_forms:
                            continue  # a picket is not a march: the law treats them apart
                        question_hits[number].add(index)
                        sample_hits[number].add(position)
        best: dict[int, float] = {}
        for number, hit in question_hits.items():
            sample = self.samples[number]
            precision = sum(weights[index] for index in hit) / total
            recall = sum(sample.words[p][1] for p in sample_hits[number]) / sample.total
            value = 2 * precision * recall / (precision + recall)
            if value > best.get(sample.doc, 0.0):
                best[sample.doc] = value
        return best

    def _add_best(self, best: dict[int, float], term: str, weight: float) -> None:
        """Raise each article's entry in `best` to the term's weighted saturation in it."""
        for doc, saturation in self.doc_saturation.get(term, {}).items():
            value = weight * saturation
            if value > best.get(doc, 0.0):
                best[doc] = value

    def person_docs(self, token: QueryToken, index: dict[str, set[int]] | None = None) -> set[int]:
        """Cases naming a person by this token's surname (inflected forms too: "Жыланбаевым");
        with `index`, by the names in that index instead."""
        names = self.surnames if index is None else index
        docs: set[int] = set()
        for reading in token.original_readings or token.readings:
            if reading.language == "num" or len(reading.surface) < 3:
                continue
            for key in _name_keys(reading.surface):
                docs.update(names.get(key, ()))
        return docs

    def _asks_about_past(self, query: Query, entity_docs: set[int]) -> bool:
        if query.years or query.has("what_happened"):
            return True
        return any(self.articles[doc].kind == "cases" for doc in entity_docs)

    def _entity_boosts(self, query: Query, scores: dict[int, float]) -> set[int]:
        """Favour the article an entity in the question points to; returns those articles."""
        boosted: set[int] = set()
        cities = {c.split(":", 1)[1] for c in query.concepts if c.startswith("city:")}
        wants_place = query.has("where", "venue")
        person_hits: Counter[int] = Counter()
        first_name_hits: Counter[int] = Counter()
        for token in query.tokens:
            if token.content:
                person_hits.update(self.person_docs(token))
                first_name_hits.update(self.person_docs(token, self.first_names))
        for doc in person_hits:
            person_hits[doc] += first_name_hits[doc]
        months = {int(c.split("_")[1]) for c in query.concepts if c.startswith("month_")}
        years = set(query.years)
        asks_past = bool(years) or query.has("what_happened")
        for doc, article in enumerate(self.articles):
            boost = 0.0
            if article.venue_list is not None and wants_place and article.venue_list.city in cities:
                boost += CITY_WHERE_BOOST
            if article.sanction is not None and article.sanction.article in query.numbers:
                boost += SANCTION_NUMBER_BOOST
                boosted.add(doc)
            if person_hits[doc]:
                boost += PERSON_BOOST * min(2, person_hits[doc])
                boosted.add(doc)
            if article.case is not None and article.case.year in years:
                boost += CASE_YEAR_BOOST
                if article.case.month in months:
                    boost += CASE_MONTH_BOOST
                    boosted.add(doc)  # a month and a year name a case as well as a name does
            if article.case is not None and article.case.city in cities and asks_past:
                boosted.add(doc)  # "what happened in Zhanaozen?": the place names its cases
            if boost and (scores.get(doc, 0.0) > 0 or doc in boosted):
                scores[doc] += boost
        return boosted

    def _prefer_the_asked_track(self, query: Query, scores: dict[int, float]) -> None:
        """A question about a march or a demonstration (approval) is not answered by an article
        that speaks only of pickets, meetings and rallies (notification), and the other way."""
        asked = TRACKS & {f"@{concept}" for concept in query.concepts}
        if len(asked) != 1:
            return
        (wanted,) = asked
        (other,) = TRACKS - asked
        for doc in scores:
            if self._in_doc(other, doc) and not self._in_doc(wanted, doc):
                scores[doc] *= OTHER_TRACK_PRIOR

    def _covers_domain(self, query: Query, hit: Hit) -> bool:
        """True when the article has every concept of the question that alone shows the domain."""
        top = self.doc_of[hit.article.id]
        domain = [c for c in query.concepts if self.concepts.scope.get(c, 0.0) >= 1]
        return bool(domain) and all(self._in_doc(f"@{concept}", top) for concept in domain)

    def _in_doc(self, term: str, doc: int) -> bool:
        return any((doc, lang) in self.postings.get(term, {}) for lang in LANGUAGES)

    def _scope(self, query: Query, hits: list[Hit], entity_docs: set[int]) -> tuple[float, float]:
        """In-domain evidence of the question and how much of it the best article covers."""
        if not hits:
            return 0.0, 0.0
        top = self.doc_of[hits[0].article.id]
        concepts = set(query.concepts)
        if ABROAD_CONCEPT in concepts:
            if COUNTRY_CONCEPT not in concepts and not any(
                concept.startswith("city:") for concept in concepts
            ):
                # "a rally in Tashkent: do we need a permit under Uzbek law?": it is abroad
                return 0.0, 0.0
            # "I'm from Tashkent, may I rally in Almaty?": the place is here, the person a
            # foreigner
            concepts = (concepts - {ABROAD_CONCEPT}) | {FOREIGNER_CONCEPT}
        scopes = [self.concepts.scope.get(concept, 0.0) for concept in concepts]
        if PROTEST_CONCEPT not in query.concepts:
            if any(scope < 0 for scope in scopes):
                # "we invited 300 to a wedding: do we need the akimat's permission?" names
                # another kind of event and no protest: what it shares with ours does not count.
                return 0.0, 0.0
        else:
            # With a protest named, a weak sign of another domain ("we and our neighbours want
            # to rally") says who protests, not what about.
            scopes = [scope for scope in scopes if scope >= 0 or scope <= STRONG_NEGATIVE]
        evidence = sum(scopes)
        if top in entity_docs:
            evidence += ENTITY_EVIDENCE
        if hits[0].sample >= SAMPLE_IN_SCOPE:
            evidence += SAMPLE_EVIDENCE
        # A case's keywords tell its story (a village, its school, water): they show that a
        # question is ours only when it asks about the past ("what happened to…").
        story_counts = self.articles[top].kind != "cases" or self._asks_about_past(
            query, entity_docs
        )
        matched = total = 0.0
        for token in query.tokens:
            if not token.content:
                continue
            generic = bool(token.concepts) and all(
                self.concepts.scope.get(c, 0.0) == 0 for c in token.concepts
            )
            weight = GENERIC_TOKEN_WEIGHT if generic else 1.0
            total += weight
            hit_terms = [term for term in token.terms if self._in_doc(term, top)]
            hit_concepts = [c for c in token.concepts if self._in_doc(f"@{c}", top)]
            names_top = top in self.person_docs(token) or top in self.person_docs(
                token, self.first_names
            )
            if hit_terms or hit_concepts or names_top:
                matched += weight * token.weight
            # A rare word the best article has in its title or keywords (curated, in-domain
            # words) or a proper name it mentions is evidence too; concept words count above.
            if not token.concepts and token.text.isalpha() and not token.corrected:
                strong = story_counts and any(
                    t in self.strong_terms[top] and self.idf[t] >= RARE_TERM_IDF for t in hit_terms
                )
                proper = any(fold_kazakh(r.surface) in self.proper_names for r in token.readings)
                if strong or proper:
                    evidence += STRONG_TERM_EVIDENCE
        coverage = matched / total if total else 0.0
        return evidence, coverage


# Where a message asks a second question: a new sentence, or "and"/"и"/"және" before a
# question word ("how many days, and where in Almaty?").
_SENTENCE_BREAK = re.compile(r"(?<=[?!.])\s+|\s*[\n;]\s*")
_SECOND_QUESTION = re.compile(
    r"[,\s]+(?:и|а|а также|and|also|plus|және|әрі|тағы)\s+(?=(?:(?:за|в|на|до|о|об|с|через|"
    r"for|in|at|by|within|to)\s+)?(?:где|куда|когда|сколько|как|какой|какие|что|кто|можно|"
    r"нужно|надо|могут|может|ли|where|when|how|what|who|which|can|could|do|is|will|"
    r"қайда|қашан|қанша|қалай|қандай|кім|не)"
    r"\b)",
    re.IGNORECASE,
)
MIN_PART_WORDS = 2


def question_parts(question: str) -> list[str]:
    """The separate questions of a message (one part when it asks one thing)."""
    pieces = []
    for sentence in _SENTENCE_BREAK.split(question.strip()):
        pieces.extend(_SECOND_QUESTION.split(sentence))
    parts = [piece.strip(" ,.;") for piece in pieces if len(tokenize(piece)) >= MIN_PART_WORDS]
    return parts or [question]


def _question_clause(question: str) -> str | None:
    """The last clause that asks something, in a message of several clauses (else None)."""
    clauses = [clause for clause in _CLAUSE_BREAK.split(question) if len(tokenize(clause)) >= 2]
    if len(clauses) < 2:
        return None
    asking = [c for c in clauses if {fold_kazakh(t) for t in tokenize(c)} & _QUESTION_CUES]
    return asking[-1] if asking else None


def _ages_under_18(tokens: list[str]) -> list[int]:
    """Positions of numbers that give the age of someone under 18."""
    positions = []
    for position, token in enumerate(tokens):
        if not (token.isdecimal() and 10 <= int(token) < 18):
            continue
        before = tokens[position - 1] if position else ""
        after = tokens[position + 1 : position + 3]
        if (
            before in _AGE_BEFORE
            or (after and after[0].startswith(_AGE_AFTER))
            or after == ["years", "old"]
        ):
            positions.append(position)
    return positions


def _is_function_word(token: str, language: str, readings: list[Reading]) -> bool:
    if token.isdecimal():
        return False
    for reading in readings:
        if reading.language == language:
            return is_stopword(reading.surface, language)
    return is_stopword(token, language)


def _name_keys(word: str) -> set[str]:
    """Forms a name is found by: as written, and its Russian and Kazakh stems (all folded), so
    "Жыланбаевым", "Тулесовой" and "Төлесоваға" meet "Жыланбаев", "Тулесова", "Төлесова"."""
    return {fold_kazakh(word), fold_kazakh(stem(word, "ru")), stem(word, "kk")}


def _deletes(word: str) -> set[str]:
    return {word[:index] + word[index + 1 :] for index in range(len(word))}


def _deletion_index(words: Iterable[str]) -> dict[str, set[str]]:
    """Symmetric-delete index: each word and its one-letter deletions point to the word."""
    index: dict[str, set[str]] = defaultdict(set)
    for word in words:
        if len(word) < 4 or word.isdecimal():
            continue
        index[word].add(word)
        for variant in _deletes(word):
            index[variant].add(word)
    return index


def _fuzzy_candidates(index: dict[str, set[str]], word: str) -> set[str]:
    candidates: set[str] = set(index.get(word, ()))
    for variant in _deletes(word):
        candidates.update(index.get(variant, ()))
        if len(word) >= 8:
            for deeper in _deletes(variant):
                candidates.update(index.get(deeper, ()))
    return candidates


def _edit_distance(left: str, right: str, limit: int) -> int:
    """Damerau–Levenshtein distance (adjacent swaps count 1), stopping early above `limit`."""
    if abs(len(left) - len(right)) > limit:
        return limit + 1
    previous_previous: list[int] = []
    previous = list(range(len(right) + 1))
    for i, left_char in enumerate(left, start=1):
        current = [i] + [0] * len(right)
        for j, right_char in enumerate(right, start=1):
            cost = 0 if left_char == right_char else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if (
                i > 1
                and j > 1
                and left_char == right[j - 2]
                and left[i - 2] == right_char
                and previous_previous
            ):
                current[j] = min(current[j], previous_previous[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        previous_previous, previous = previous, current
    return previous[-1]


def index_for(kb: KnowledgeBase) -> SearchIndex:
    """The search index of a knowledge base, built on first use and kept with it."""
    index = kb.cache.get("search_index")
    if index is None:
        index = SearchIndex(kb)
        kb.cache["search_index"] = index
    return index


def search(kb: KnowledgeBase, question: str, limit: int = 5) -> SearchResult:
    """Rank the articles of `kb` for `question` (see SearchIndex.search)."""
    return index_for(kb).search(question, limit)
