"""Updates waiting for the bot: long polling (getUpdates) and webhooks (setWebhook, delivery,
getWebhookInfo)."""

from __future__ import annotations

import asyncio
import contextlib
import copy
from typing import Any

import aiohttp

from bot.localapi.protocol import (
    _OPT_IN_UPDATE_TYPES,
    _SECRET_TOKEN_PATTERN,
    POLLING_CONFLICT,
    WEBHOOK_CONFLICT,
    JsonDict,
    _ApiError,
    _bad,
    _dumps,
    _is_int,
    _now,
    _update_type,
    _Webhook,
)
from bot.localapi.validation import Validation


class UpdatesAndWebhooks(Validation):
    """Updates waiting for the bot: long polling (getUpdates) and webhooks (setWebhook, delivery,
    getWebhookInfo)."""

    def _queue(self, payload: JsonDict) -> JsonDict:
        update = {"update_id": self._next_update_id, **payload}
        self._next_update_id += 1
        self._updates.append(update)
        self._wake_updates()
        return copy.deepcopy(update)

    def _deliverable(self) -> list[JsonDict]:
        """Pending updates, after dropping the types the bot does not want (for good)."""
        allowed = self._allowed_updates
        self._updates = [
            update
            for update in self._updates
            if (
                _update_type(update) in allowed
                if allowed
                else _update_type(update) not in _OPT_IN_UPDATE_TYPES
            )
        ]
        return self._updates

    def _set_allowed_updates(self, value: Any) -> None:
        if value is None:
            return
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise _bad("can't parse allowed_updates JSON array")
        self._allowed_updates = list(value)

    async def _get_updates(self, params: JsonDict) -> list[JsonDict]:
        if self._webhook is not None:
            raise _ApiError(409, WEBHOOK_CONFLICT)
        offset = params.get("offset") or 0
        limit = params.get("limit") or 100
        timeout = params.get("timeout") or 0
        if not (_is_int(offset) and _is_int(limit) and isinstance(timeout, int | float)):
            raise _bad("wrong parameter in getUpdates request")
        limit = min(max(limit, 1), 100)
        self._set_allowed_updates(params.get("allowed_updates"))
        if offset > 0:
            self._updates = [update for update in self._updates if update["update_id"] >= offset]
        elif offset < 0:
            self._updates = self._updates[offset:]
        self._poll_generation += 1
        generation = self._poll_generation
        self._wake_updates()  # an older long poll still waiting now ends with a conflict
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(float(timeout), 0.0)
        while True:
            if self._closing.is_set():
                return []
            if generation != self._poll_generation:
                raise _ApiError(409, POLLING_CONFLICT)
            if self._webhook is not None:
                raise _ApiError(409, WEBHOOK_CONFLICT)
            ready = self._deliverable()
            if ready:
                return copy.deepcopy(ready[:limit])
            remaining = deadline - loop.time()
            if remaining <= 0:
                return []
            signal = self._update_signal
            self._polls_waiting += 1
            try:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(signal.wait(), remaining)
            finally:
                self._polls_waiting -= 1

    async def _set_webhook(self, params: JsonDict) -> bool:
        url = params.get("url")
        if url is None:
            raise _bad("url is empty")
        if not isinstance(url, str):
            raise _bad("bad webhook: wrong url")
        if url == "":
            return await self._delete_webhook(params)
        if not url.startswith(("http://", "https://")):
            raise _bad("bad webhook: An HTTPS URL must be provided for webhook")
        secret_token = params.get("secret_token") or None
        if secret_token is not None and not (
            isinstance(secret_token, str) and _SECRET_TOKEN_PATTERN.fullmatch(secret_token)
        ):
            raise _bad("secret token contains unallowed characters")
        max_connections = params.get("max_connections") or 40
        if not _is_int(max_connections) or not 1 <= max_connections <= 100:
            raise _bad("bad webhook: max_connections must be between 1 and 100")
        self._set_allowed_updates(params.get("allowed_updates"))
        if params.get("drop_pending_updates"):
            self._updates.clear()
        await self._stop_webhook_delivery()
        self._webhook = _Webhook(url, secret_token, max_connections)
        self._webhook_task = asyncio.create_task(self._deliver_to_webhook())
        self._wake_updates()  # a waiting getUpdates now ends with a conflict
        return True

    async def _delete_webhook(self, params: JsonDict) -> bool:
        await self._stop_webhook_delivery()
        self._webhook = None
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    async def _get_webhook_info(self, params: JsonDict) -> JsonDict:
        info: JsonDict = {
            "url": self._webhook.url if self._webhook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._deliverable()),
        }
        if self._webhook is not None:
            info["max_connections"] = self._webhook.max_connections
            info["ip_address"] = "127.0.0.1"
            if self._allowed_updates:
                info["allowed_updates"] = list(self._allowed_updates)
            if self._webhook.last_error_date is not None:
                info["last_error_date"] = self._webhook.last_error_date
                info["last_error_message"] = self._webhook.last_error_message
        return info

    async def _stop_webhook_delivery(self) -> None:
        task, self._webhook_task = self._webhook_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _deliver_to_webhook(self) -> None:
        """POST pending updates one by one, in order, retrying each until it gets a 2xx."""
        backoff = 0.05
        while not self._closing.is_set() and self._webhook is not None:
            webhook = self._webhook
            ready = self._deliverable()
            if not ready:
                await self._update_signal.wait()
                continue
            update = ready[0]
            headers = {"Content-Type": "application/json"}
            if webhook.secret_token:
                headers["X-Telegram-Bot-Api-Secret-Token"] = webhook.secret_token
            error: str | None = None
            assert self._client is not None  # created by start()
            try:
                async with self._client.post(
                    webhook.url,
                    data=_dumps(update).encode("utf-8"),
                    headers=headers,
                    timeout=aiohttp.ClientTimeout(total=10),
                ) as response:
                    await response.read()
                    if not 200 <= response.status < 300:
                        error = (
                            f"Wrong response from the webhook: {response.status} {response.reason}"
                        )
            except (aiohttp.ClientError, TimeoutError) as exc:
                error = f"Connection failed: {exc or type(exc).__name__}"
            if error is None:
                self._updates = [
                    pending
                    for pending in self._updates
                    if pending["update_id"] != update["update_id"]
                ]
                backoff = 0.05
                continue
            webhook.last_error_date = _now()
            webhook.last_error_message = error
            await self._sleep(backoff)
            backoff = min(backoff * 2, 1.0)
