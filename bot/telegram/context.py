"""The callback context every handler receives: shared services and the update's language."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from telegram.ext import Application, CallbackContext, ExtBot

from bot.core.config import Settings
from bot.core.crypto import Cipher
from bot.core.db import SessionFactory
from bot.core.i18n import choose_language, gettext_for, ngettext_for
from bot.services.ask.feedback import FeedbackService
from bot.services.ask.gaps import GapService
from bot.services.component import Component
from bot.services.error_summary import ErrorSummaries
from bot.services.report.reports import ReportService
from bot.services.review.access import AccessService
from bot.services.review.export import ExportService
from bot.services.review.notify import VolunteerNotifier
from bot.services.review.stats import StatsService
from bot.services.review.workflow import ReviewService
from bot.services.users import UserDirectory
from bot.telegram.metrics import Metrics
from bot.telegram.outbox import Outbox
from knowledge.model import KnowledgeBase


@dataclass
class Services:
    """Long-lived dependencies shared by all handlers of one Application. The services are
    components (bot.services.component): the Application initializes them before the first
    update and shuts them down after the last. Handlers call the services; the engine, the
    session factory and the cipher are here for the wiring (health, metrics) and the tests."""

    settings: Settings
    engine: AsyncEngine
    sessions: SessionFactory
    knowledge: KnowledgeBase
    cipher: Cipher
    errors: ErrorSummaries
    users: UserDirectory
    access: AccessService
    feedback: FeedbackService
    gaps: GapService
    reports: ReportService
    review: ReviewService
    exports: ExportService
    stats: StatsService
    metrics: Metrics
    # Made when the Application starts (it sends through the bot), only with a volunteer chat.
    notifier: VolunteerNotifier | None = None
    outbox: Outbox | None = None

    def components(self) -> list[Component]:
        """The services in the order they start (they stop in the reverse order)."""
        found: list[Component] = [
            self.errors,
            self.users,
            self.access,
            self.feedback,
            self.gaps,
            self.reports,
            self.review,
            self.exports,
            self.stats,
        ]
        if self.outbox is not None:
            found.append(self.outbox)
        if self.notifier is not None:
            found.append(self.notifier)
        return found

    async def initialize(self) -> None:
        """Start every service."""
        for component in self.components():
            await component.initialize()

    async def shutdown(self) -> None:
        """Stop every service, the last started first."""
        for component in reversed(self.components()):
            await component.shutdown()


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
    def from_update(
        cls, update: object, application: Application[Any, Any, Any, Any, Any, Any]
    ) -> JiynContext:
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


JiynApplication = Application[Any, JiynContext, dict[Any, Any], dict[Any, Any], dict[Any, Any], Any]
