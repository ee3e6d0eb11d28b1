"""The knowledge base: content loading and validation, multilingual search, answer composition.

    kb = load_knowledge()                       # knowledge/content, validated, cached
    reply = answer_question(kb, "Где в Алматы можно провести митинг?")
    reply.html, reply.buttons, reply.topic      # Telegram HTML, inline buttons, article id

Modules: model (records), loader (load + validate), text (normalisation, transliteration,
stemming, language), search (index, ranking, scope), answer (intents, Reply), cli (ask, check).
"""

from __future__ import annotations

from knowledge.answer import Reply, ReplyButton, answer_question, article_reply, to_plain
from knowledge.loader import load_knowledge, read_knowledge, validate
from knowledge.model import Article, KnowledgeBase, KnowledgeError, MciTable, Source, Venue

__all__ = [
    "Article",
    "KnowledgeBase",
    "KnowledgeError",
    "MciTable",
    "Reply",
    "ReplyButton",
    "Source",
    "Venue",
    "answer_question",
    "article_reply",
    "load_knowledge",
    "read_knowledge",
    "to_plain",
    "validate",
]
