"""The callback context every handler receives: shared services and the update's language."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncEngine
from telegram.ext import Application, CallbackContext, ExtBot

from bot.config import Settings
from bot.crypto import Cipher
from bot.db import SessionFactory
from bot.i18n import choose_language, gettext_for, ngettext_for
from bot.metrics import Metrics
from bot.outbox import Outbox
from bot.services.error_summary import ErrorSummaries
from bot.services.notify import VolunteerNotifier
from bot.services.reports import ReportService
from bot.services.review import ReviewService
from bot.services.users import UserDirectory
from knowledge.model import KnowledgeBase

if TYPE_CHECKING:
    pass


@dataclass
class Services:
    """Long-lived dependencies shared by all handlers of one Application."""

    settings: Settings
    engine: AsyncEngine
    sessions: SessionFactory
    knowledge: KnowledgeBase
    cipher: Cipher
    reports: ReportService
    review: ReviewService
    users: UserDirectory
    metrics: Metrics
    errors: ErrorSummaries
    notifier: VolunteerNotifier | None = None
    outbox: Outbox | None = None


class JiynContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    """CallbackContext with the services and the language of the current update."""

    def __init__(
        self,
        application: Application[Any, Any, Any, Any, Any, Any],
        chat_id: int | None = None,
        user_id: int | None = None,
    ) -> None:
        super().__init__(application=application, chat_id=chat_id, user_id=user_id)
        self._language: str | None = None
        self._telegram_language: str | None = None
        self.saved_language: str | None = None

    @classmethod
    def from_update(cls, update: object, application: Application[Any, Any, Any, Any, Any, Any]):  # type: ignore[override]
        """Build the context and remember the Telegram client's language as a fallback."""
        context = super().from_update(update, application)
        user = getattr(update, "effective_user", None)
        context._telegram_language = user.language_code if user else None
        return context

    @property
    def services(self) -> Services:
        """The Application's shared services."""
        return self.application.bot_data["services"]

    @property
    def language(self) -> str:
        """The saved choice, else Telegram's language_code, else the configured default."""
        if self._language is not None:
            return self._language
        return choose_language(
            None, self._telegram_language, self.services.settings.default_language
        )

    @language.setter
    def language(self, value: str) -> None:
        self._language = value

    @property
    def gettext(self) -> Callable[[str], str]:
        """gettext of the update's language."""
        return gettext_for(self.language)

    @property
    def ngettext(self) -> Callable[[str, str, int], str]:
        """ngettext of the update's language."""
        return ngettext_for(self.language)
