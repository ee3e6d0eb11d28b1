"""The baseline: plain BM25 over each article's text in all three languages.

No stemming, no concepts, no transliteration, no typo tolerance: lower-case word tokens only.
The top-1 article answers; below a score threshold the question counts as out of scope.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass

from knowledge.model import LANGUAGES, KnowledgeBase

K1 = 1.2
B = 0.75
_WORD = re.compile(r"\w+", re.UNICODE)


def simple_tokens(text: str) -> list[str]:
    """Lower-case word tokens, nothing else."""
    return _WORD.findall(text.lower())


@dataclass(frozen=True)
class BaselineHit:
    """The best article for a question and its BM25 score."""

    article_id: str
    score: float


class Bm25Baseline:
    """BM25 (Robertson/Spärck Jones idf, k1=1.2, b=0.75) over one document per article."""

    def __init__(self, kb: KnowledgeBase, threshold: float = 0.0) -> None:
        self.threshold = threshold
        self.ids: list[str] = sorted(kb.articles)
        self.postings: dict[str, dict[int, int]] = defaultdict(dict)
        self.lengths: list[int] = []
        for doc, article_id in enumerate(self.ids):
            article = kb.articles[article_id]
            parts = []
            for lang in LANGUAGES:
                text = article.texts.get(lang)
                if text is not None:
                    parts.extend([text.title, " ".join(text.keywords), text.body])
            counts = Counter(simple_tokens(" ".join(parts)))
            self.lengths.append(sum(counts.values()))
            for term, tf in counts.items():
                self.postings[term][doc] = tf
        total = len(self.ids)
        self.average_length = sum(self.lengths) / total if total else 1.0
        self.idf = {
            term: math.log(1 + (total - len(docs) + 0.5) / (len(docs) + 0.5))
            for term, docs in self.postings.items()
        }

    def scores(self, question: str) -> dict[int, float]:
        """BM25 score of every article that shares a word with the question."""
        scores: dict[int, float] = defaultdict(float)
        for term in set(simple_tokens(question)):
            for doc, tf in self.postings.get(term, {}).items():
                norm = K1 * (1 - B + B * self.lengths[doc] / self.average_length)
                scores[doc] += self.idf[term] * tf * (K1 + 1) / (tf + norm)
        return scores

    def best(self, question: str) -> BaselineHit | None:
        """The top-1 article, regardless of the threshold."""
        scores = self.scores(question)
        if not scores:
            return None
        doc = max(scores, key=lambda d: (scores[d], -d))
        return BaselineHit(self.ids[doc], scores[doc])

    def answer(self, question: str) -> str | None:
        """The answering article id, or None when the best score is below the threshold."""
        hit = self.best(question)
        return hit.article_id if hit is not None and hit.score >= self.threshold else None
