"""PTB persistence backed by our own tables. Only conversations are persisted, and the report
drafts table is their source of truth: handlers write the step in the same transaction as the
answer, so even a crash between two periodic flushes loses nothing."""

from __future__ import annotations

from typing import Any

from telegram.ext import BasePersistence, PersistenceInput
from telegram.ext._utils.types import ConversationDict, ConversationKey

from bot.services.report.reports import ReportService

REPORT_CONVERSATION = "report"


class DatabasePersistence(BasePersistence[dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    """Restores the report conversation from the drafts table at start; stores nothing else."""

    def __init__(self, reports: ReportService) -> None:
        super().__init__(
            store_data=PersistenceInput(
                bot_data=False, chat_data=False, user_data=False, callback_data=False
            ),
            update_interval=60,
        )
        self.reports = reports

    async def get_conversations(self, name: str) -> ConversationDict:
        """The state of every conversation in progress, read from the drafts."""
        if name != REPORT_CONVERSATION:
            return {}
        states = await self.reports.conversation_states()
        return {key: step for key, step in states.items() if step > 0}

    async def update_conversation(
        self, name: str, key: ConversationKey, new_state: object | None
    ) -> None:
        """Nothing to do: the handlers saved the step with the answer already."""

    async def get_user_data(self) -> dict[int, dict[Any, Any]]:
        """Not persisted."""
        return {}

    async def get_chat_data(self) -> dict[int, dict[Any, Any]]:
        """Not persisted."""
        return {}

    async def get_bot_data(self) -> dict[Any, Any]:
        """Not persisted."""
        return {}

    async def get_callback_data(self) -> None:
        """Not persisted."""
        return None

    async def update_user_data(self, user_id: int, data: dict[Any, Any]) -> None:
        """Not persisted."""

    async def update_chat_data(self, chat_id: int, data: dict[Any, Any]) -> None:
        """Not persisted."""

    async def update_bot_data(self, data: dict[Any, Any]) -> None:
        """Not persisted."""

    async def update_callback_data(self, data: Any) -> None:
        """Not persisted."""

    async def drop_chat_data(self, chat_id: int) -> None:
        """Not persisted."""

    async def drop_user_data(self, user_id: int) -> None:
        """Not persisted."""

    async def refresh_user_data(self, user_id: int, user_data: dict[Any, Any]) -> None:
        """Not persisted."""

    async def refresh_chat_data(self, chat_id: int, chat_data: dict[Any, Any]) -> None:
        """Not persisted."""

    async def refresh_bot_data(self, bot_data: dict[Any, Any]) -> None:
        """Not persisted."""

    async def flush(self) -> None:
        """Nothing buffered."""
