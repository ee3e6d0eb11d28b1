"""`jiyn console`: chat with the real bot in a terminal, through a local Bot API server."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import replace
from typing import Any, TextIO

from bot.core.config import Settings
from bot.core.i18n import LANGUAGES
from bot.localapi.server import ApiCall, LocalBotApi
from bot.telegram.html import html_to_plain

CONSOLE_TOKEN = "7000000001:LocalConsoleToken"

BANNER = """\
Jiyn console: you are talking to the real bot through a local Bot API server (no network).
  type text to send it, /start for the menu, a number to press a button
  /loc LAT LON   send a location (e.g. /loc 43.238 76.945)
  /lang kk|ru|en change your Telegram app language (/language changes the bot's choice)
  /quit          leave (Ctrl-D works too)
"""


class ConsoleChat:
    """Prints what the bot sends and turns what the person types into Telegram updates."""

    def __init__(self, api: LocalBotApi, user: dict[str, Any], out: TextIO) -> None:
        self.api = api
        self.user = user
        self.out = out
        # The buttons on screen, by number: those of the newest inline keyboard and of the reply
        # keyboard in force, numbered apart (two messages with buttons, such as "Send my
        # location" and an inline "Skip", must not both show [1]).
        self.choices: dict[int, tuple[str, dict[str, Any], Any]] = {}

    def _print(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def _number_buttons(self, message: dict[str, Any], markup: dict[str, Any] | None) -> None:
        if not markup:
            return
        rows = markup.get("inline_keyboard") or markup.get("keyboard")
        if not rows:
            if markup.get("remove_keyboard"):
                self._drop("reply")
            return
        kind = "inline" if "inline_keyboard" in markup else "reply"
        if kind == "reply":
            self.choices = {}  # a reply keyboard comes with a new question
        else:
            self._drop("inline")  # the newest inline keyboard replaces the older one
        number = max(self.choices, default=0)
        for row in rows:
            labels = []
            for button in row:
                button = {"text": button} if isinstance(button, str) else button
                number += 1
                self.choices[number] = (kind, message, button)
                labels.append(f"[{number}] {button.get('text', '')}")
            self._print("   " + "   ".join(labels))

    def _drop(self, kind: str) -> None:
        self.choices = {n: choice for n, choice in self.choices.items() if choice[0] != kind}

    def on_call(self, call: ApiCall) -> None:
        """Render one Bot API call of the bot, if it shows something to the person."""
        if call.cancelled or call.method == "getUpdates":
            return
        if not call.ok:
            self._print(f"   (the Bot API refused {call.method}: {call.description})")
            return
        params, result = call.params, call.result
        if call.method in ("sendMessage", "editMessageText"):
            prefix = "bot (edited)" if call.method == "editMessageText" else "bot"
            text = params.get("text", "")
            if params.get("parse_mode") == "HTML":
                text = html_to_plain(text)
            self._print(f"\n{prefix}: {text}")
            self._number_buttons(
                result if isinstance(result, dict) else {}, params.get("reply_markup")
            )
        elif call.method == "editMessageReplyMarkup":
            self._number_buttons(
                result if isinstance(result, dict) else {}, params.get("reply_markup")
            )
        elif call.method == "sendVenue":
            self._print(
                f"\nbot: 📍 {params.get('title')} — {params.get('address')} "
                f"({params.get('latitude')}, {params.get('longitude')})"
            )
        elif call.method == "sendLocation":
            self._print(f"\nbot: 📍 {params.get('latitude')}, {params.get('longitude')}")
        elif call.method in ("sendPhoto", "sendDocument"):
            caption = params.get("caption") or ""
            if params.get("parse_mode") == "HTML":
                caption = html_to_plain(caption)
            self._print(f"\nbot: [{call.method[4:].lower()}] {caption}")
        elif call.method == "answerCallbackQuery" and params.get("text"):
            self._print(f"   ({params['text']})")

    async def handle_line(self, line: str) -> bool:
        """Act on one typed line; False means the person wants to leave."""
        text = line.strip()
        if not text:
            return True
        if text in ("/quit", "/exit"):
            return False
        if text.startswith("/loc"):
            parts = text.split()
            try:
                latitude, longitude = float(parts[1]), float(parts[2])
            except (IndexError, ValueError):
                self._print("   usage: /loc LAT LON, e.g. /loc 43.238 76.945")
                return True
            self.api.send_location(self.user, latitude, longitude)
            return True
        if text.startswith("/lang"):
            parts = text.split()
            if len(parts) != 2 or parts[1] not in LANGUAGES:
                self._print("   usage: /lang kk|ru|en")
                return True
            self.user = self.api.user(
                self.user["id"], first_name=self.user["first_name"], language_code=parts[1]
            )
            self._print(f"   (your Telegram app language is now {parts[1]})")
            return True
        if text.isdecimal() and int(text) in self.choices:
            kind, message, button = self.choices[int(text)]
            if kind == "inline" and button.get("callback_data"):
                self.api.press_button(self.user, message, button["callback_data"])
            elif kind == "inline":
                self._print(f"   (this button opens {button.get('url') or 'another chat'})")
            elif button.get("request_location"):
                self._print("   (send your location with /loc LAT LON)")
            elif button.get("request_contact"):
                self.api.send_contact(self.user, "+77000000000", self.user["first_name"])
            else:
                self.api.send_text(self.user, button.get("text", ""))
            return True
        self.api.send_text(self.user, text)
        return True


async def _console(settings: Settings, user_id: int, language_code: str) -> int:
    from bot.app import build_application
    from bot.runner import polling

    api = LocalBotApi()
    await api.start()
    console_settings = replace(settings, api_base_url=api.base_url)
    application = build_application(console_settings, token=CONSOLE_TOKEN)
    chat = ConsoleChat(
        api, api.user(user_id, first_name="You", language_code=language_code), sys.stdout
    )
    api.subscribe(chat.on_call)
    loop = asyncio.get_running_loop()
    try:
        async with polling(application, poll_timeout=1):
            print(BANNER)
            chat.api.send_text(chat.user, "/start")
            while True:
                line = await loop.run_in_executor(None, sys.stdin.readline)
                if not line or not await chat.handle_line(line):
                    break
                # Let the bot answer before the next prompt.
                await asyncio.sleep(0.3)
    finally:
        await api.stop()
    return 0


def run_console(settings: Settings, *, user_id: int, language_code: str) -> int:
    """Run the console chat until the person quits."""
    try:
        return asyncio.run(_console(settings, user_id, language_code))
    except KeyboardInterrupt:
        return 0
