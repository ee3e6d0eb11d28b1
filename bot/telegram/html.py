"""Telegram's HTML formatting: parse to plain text + message entities, validate, render as plain.

Follows the Bot API's "HTML style" rules. Offsets and lengths are in UTF-16 code units, as
Telegram counts them. Deliberately stricter than Telegram in two places, so that careless markup
fails in tests instead of showing up garbled on a phone: an unknown named entity such as
``&nbsp;`` and an attribute a tag does not support are errors (Telegram keeps the first as literal
text and ignores the second).
"""

from __future__ import annotations

import re
from typing import Any

# Tags that become one entity type and take no attributes.
_SIMPLE_TAGS: dict[str, str] = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
}
_ALLOWED_ATTRIBUTES: dict[str, frozenset[str]] = {
    **{tag: frozenset() for tag in _SIMPLE_TAGS},
    "span": frozenset({"class"}),
    "a": frozenset({"href"}),
    "code": frozenset({"class"}),
    "pre": frozenset(),
    "blockquote": frozenset({"expandable"}),
    "tg-emoji": frozenset({"emoji-id"}),
}
_NAMED_ENTITIES: dict[str, str] = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ENTITY_PATTERN = re.compile(r"&(#[0-9]+|#[xX][0-9A-Fa-f]+|[A-Za-z][A-Za-z0-9]*);")
_NAME_TOKEN_PATTERN = re.compile(r"[A-Za-z0-9.\-]*")
_TEXT_RUN_PATTERN = re.compile(r"[^<&]+")
_MENTION_URL_PATTERN = re.compile(r"tg://user\?id=([0-9]{1,19})$")
# Entities whose content Telegram keeps free of other entities.
_CODE_TYPES = frozenset({"code", "pre"})
_QUOTE_TYPES = frozenset({"blockquote", "expandable_blockquote"})


class TelegramHtmlError(ValueError):
    """Markup Telegram would refuse; `detail` is the text after "can't parse entities: "."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def utf16_len(text: str) -> int:
    """Length of `text` in UTF-16 code units, the unit of Telegram's entity offsets."""
    return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)


def clip_utf16(text: str, limit: int) -> str:
    """`text` cut to at most `limit` UTF-16 units (how Telegram counts), ending in "…" if cut."""
    if utf16_len(text) <= limit:
        return text
    kept: list[str] = []
    used = 1  # the ellipsis
    for char in text:
        used += utf16_len(char)
        if used > limit:
            break
        kept.append(char)
    return "".join(kept) + "…"


def utf16_to_index(text: str, utf16_offset: int) -> int:
    """Python string index of the character at `utf16_offset` UTF-16 code units into `text`."""
    units = 0
    for index, char in enumerate(text):
        if units >= utf16_offset:
            return index
        units += 2 if ord(char) > 0xFFFF else 1
    return len(text)


class _OpenTag:
    __slots__ = ("argument", "name", "start")

    def __init__(self, name: str, argument: str, start: int) -> None:
        self.name = name
        self.argument = argument
        self.start = start  # UTF-16 offset in the output text


class _Parser:
    """One pass over the markup, keeping a stack of open tags."""

    def __init__(self, markup: str) -> None:
        self.markup = markup
        self.position = 0
        self.output: list[str] = []
        self.output_units = 0
        self.open_tags: list[_OpenTag] = []
        # (entity, depth) in closing order; depth lets outer entities sort before inner ones.
        self.entities: list[tuple[dict[str, Any], int]] = []

    def byte_offset(self, index: int) -> int:
        return len(self.markup[:index].encode("utf-8"))

    def emit(self, text: str) -> None:
        self.output.append(text)
        self.output_units += utf16_len(text)

    def run(self) -> tuple[str, list[dict[str, Any]]]:
        markup = self.markup
        while self.position < len(markup):
            char = markup[self.position]
            if char == "<":
                if markup.startswith("</", self.position):
                    self.end_tag()
                else:
                    self.start_tag()
            elif char == "&":
                self.entity()
            else:
                run = _TEXT_RUN_PATTERN.match(markup, self.position)
                assert run is not None  # the current character is neither "<" nor "&"
                self.emit(run.group())
                self.position = run.end()
        if self.open_tags:
            name = self.open_tags[-1].name
            raise TelegramHtmlError(f'Can\'t find end tag corresponding to start tag "{name}"')
        return "".join(self.output), _finish_entities(self.entities)

    def entity(self) -> None:
        match = _ENTITY_PATTERN.match(self.markup, self.position)
        if match is None:
            # A lone "&" that starts no entity is kept as text, as Telegram does.
            self.emit("&")
            self.position += 1
            return
        self.emit(_decode_entity(match.group(1), self.byte_offset(self.position)))
        self.position = match.end()

    def start_tag(self) -> None:
        markup = self.markup
        begin = self.position
        index = begin + 1
        while index < len(markup) and not markup[index].isspace() and markup[index] != ">":
            index += 1
        if index >= len(markup):
            raise TelegramHtmlError(f"Unclosed start tag at byte offset {self.byte_offset(begin)}")
        name = markup[begin + 1 : index].lower()
        if name not in _ALLOWED_ATTRIBUTES:
            raise TelegramHtmlError(
                f'Unsupported start tag "{name}" at byte offset {self.byte_offset(begin)}'
            )
        attributes, index = self.attributes(name, begin, index)
        self.position = index + 1
        argument = ""
        if name == "span":
            if attributes.get("class") != "tg-spoiler":
                raise TelegramHtmlError(
                    f'Tag "span" must have class "tg-spoiler" at byte offset '
                    f"{self.byte_offset(begin)}"
                )
        elif name == "a":
            argument = attributes.get("href", "")
        elif name == "code":
            css_class = attributes.get("class", "")
            if css_class.startswith("language-"):
                argument = css_class.removeprefix("language-")
        elif name == "blockquote":
            argument = "expandable" if "expandable" in attributes else ""
        elif name == "tg-emoji":
            argument = attributes.get("emoji-id", "")
            if not argument.isdigit():
                raise TelegramHtmlError("Invalid custom emoji identifier specified")
        self.open_tags.append(_OpenTag(name, argument, self.output_units))

    def attributes(self, tag: str, begin: int, index: int) -> tuple[dict[str, str], int]:
        """Read `name="value"` pairs up to the closing ">"; returns them and the ">" index."""
        markup = self.markup
        found: dict[str, str] = {}
        while True:
            while index < len(markup) and markup[index].isspace():
                index += 1
            if index >= len(markup):
                raise TelegramHtmlError(
                    f"Unclosed start tag at byte offset {self.byte_offset(begin)}"
                )
            if markup[index] == ">":
                return found, index
            name_start = index
            while index < len(markup) and not markup[index].isspace() and markup[index] not in "=>":
                index += 1
            attribute = markup[name_start:index].lower()
            if not attribute:
                raise TelegramHtmlError(
                    f'Empty attribute name in the tag "{tag}" at byte offset '
                    f"{self.byte_offset(begin)}"
                )
            if attribute not in _ALLOWED_ATTRIBUTES[tag]:
                raise TelegramHtmlError(
                    f'Unsupported attribute "{attribute}" in the tag "{tag}" at byte offset '
                    f"{self.byte_offset(begin)}"
                )
            while index < len(markup) and markup[index].isspace():
                index += 1
            if attribute == "expandable" and (index >= len(markup) or markup[index] != "="):
                found[attribute] = ""
                continue
            if index >= len(markup) or markup[index] != "=":
                raise TelegramHtmlError(
                    f'Expected equal sign in declaration of an attribute of the tag "{tag}" '
                    f"at byte offset {self.byte_offset(begin)}"
                )
            index += 1
            while index < len(markup) and markup[index].isspace():
                index += 1
            if index < len(markup) and markup[index] in "'\"":
                quote = markup[index]
                closing = markup.find(quote, index + 1)
                if closing == -1:
                    raise TelegramHtmlError(
                        f"Unclosed start tag at byte offset {self.byte_offset(index)}"
                    )
                value = _decode_attribute(markup[index + 1 : closing], self.byte_offset(index))
                index = closing + 1
            else:
                token = _NAME_TOKEN_PATTERN.match(markup, index)
                assert token is not None  # the pattern matches the empty string
                value = token.group().lower()
                index = token.end()
            if index < len(markup) and not markup[index].isspace() and markup[index] != ">":
                raise TelegramHtmlError(
                    f"Unexpected end of attribute value at byte offset {self.byte_offset(index)}"
                )
            found[attribute] = value

    def end_tag(self) -> None:
        markup = self.markup
        begin = self.position
        if not self.open_tags:
            raise TelegramHtmlError(f"Unexpected end tag at byte offset {self.byte_offset(begin)}")
        index = begin + 2
        while index < len(markup) and not markup[index].isspace() and markup[index] != ">":
            index += 1
        name = markup[begin + 2 : index].lower()
        while index < len(markup) and markup[index].isspace():
            index += 1
        if index >= len(markup) or markup[index] != ">":
            raise TelegramHtmlError(f"Unclosed end tag at byte offset {self.byte_offset(begin)}")
        tag = self.open_tags[-1]
        # Telegram lets "</>" close whatever is open.
        if name and name != tag.name:
            raise TelegramHtmlError(
                f"Unmatched end tag at byte offset {self.byte_offset(begin)}, expected "
                f'"</{tag.name}>", found "</{name}>"'
            )
        self.open_tags.pop()
        self.position = index + 1
        self.close(tag)

    def close(self, tag: _OpenTag) -> None:
        length = self.output_units - tag.start
        depth = len(self.open_tags)
        entity: dict[str, Any] = {"offset": tag.start, "length": length}
        if tag.name in _SIMPLE_TAGS:
            entity["type"] = _SIMPLE_TAGS[tag.name]
        elif tag.name == "span":
            entity["type"] = "spoiler"
        elif tag.name == "a":
            if not tag.argument:
                return
            mention = _MENTION_URL_PATTERN.match(tag.argument)
            if mention:
                entity["type"] = "text_mention"
                entity["user"] = {"id": int(mention.group(1)), "is_bot": False, "first_name": ""}
            else:
                entity["type"] = "text_link"
                entity["url"] = tag.argument
        elif tag.name == "code":
            entity["type"] = "code"
            if tag.argument:
                entity["language"] = tag.argument
        elif tag.name == "pre":
            entity["type"] = "pre"
            language = self.inner_code_language(tag.start, length)
            if language:
                entity["language"] = language
        elif tag.name == "blockquote":
            entity["type"] = "expandable_blockquote" if tag.argument else "blockquote"
        else:  # tg-emoji
            entity["type"] = "custom_emoji"
            entity["custom_emoji_id"] = tag.argument
        self.entities.append((entity, depth))

    def inner_code_language(self, offset: int, length: int) -> str:
        """Language of a <code class="language-x"> that fills this <pre> exactly, if any."""
        for entity, _depth in reversed(self.entities):
            if entity["offset"] < offset:
                break
            if (
                entity["type"] == "code"
                and entity["offset"] == offset
                and entity["length"] == length
            ):
                return str(entity.get("language", ""))
        return ""


def _decode_entity(body: str, byte_offset: int) -> str:
    if body.startswith("#"):
        digits = body[1:]
        code_point = int(digits[1:], 16) if digits[:1] in ("x", "X") else int(digits)
        if code_point == 0 or code_point > 0x10FFFF or 0xD800 <= code_point <= 0xDFFF:
            raise TelegramHtmlError(
                f'Invalid character reference "&{body};" at byte offset {byte_offset}'
            )
        return chr(code_point)
    if body not in _NAMED_ENTITIES:
        raise TelegramHtmlError(
            f'Unsupported HTML entity "&{body};" at byte offset {byte_offset}; only &lt; &gt; '
            "&amp; &quot; and numeric entities are allowed"
        )
    return _NAMED_ENTITIES[body]


def _decode_attribute(value: str, byte_offset: int) -> str:
    return _ENTITY_PATTERN.sub(lambda match: _decode_entity(match.group(1), byte_offset), value)


def _finish_entities(collected: list[tuple[dict[str, Any], int]]) -> list[dict[str, Any]]:
    """Drop what Telegram drops (empty, inside code, nested quotes) and sort outer-first."""
    ordered = sorted(
        enumerate(collected), key=lambda item: (item[1][0]["offset"], item[1][1], item[0])
    )
    kept: list[dict[str, Any]] = []
    for _index, (entity, _depth) in ordered:
        if entity["length"] <= 0:
            continue
        end = entity["offset"] + entity["length"]
        container_types = {
            other["type"]
            for other in kept
            if other["offset"] <= entity["offset"] and end <= other["offset"] + other["length"]
        }
        if container_types & _CODE_TYPES:
            continue  # code and pre hold no other entities, including a <code> inside <pre>
        if entity["type"] in _QUOTE_TYPES and container_types & _QUOTE_TYPES:
            continue
        kept.append(entity)
    return kept


def parse_html(markup: str) -> tuple[str, list[dict[str, Any]]]:
    """Telegram-HTML to (plain text, message entities); raises TelegramHtmlError like Telegram."""
    return _Parser(markup).run()


def strip_message_text(
    text: str, entities: list[dict[str, Any]]
) -> tuple[str, list[dict[str, Any]]]:
    """Trim leading/trailing whitespace as Telegram does to a message, keeping entities aligned."""
    stripped_start = text[: len(text) - len(text.lstrip())]
    stripped = text.strip()
    shift = utf16_len(stripped_start)
    limit = utf16_len(stripped)
    adjusted: list[dict[str, Any]] = []
    for entity in entities:
        start = max(entity["offset"] - shift, 0)
        end = min(entity["offset"] + entity["length"] - shift, limit)
        if end > start:
            adjusted.append({**entity, "offset": start, "length": end - start})
    return stripped, adjusted


def render_plain(text: str, entities: list[dict[str, Any]] | None = None) -> str:
    """A message's text for a terminal: links as "text (url)", quoted lines prefixed "> "."""
    inserts: list[tuple[int, int, str]] = []  # (python index, order, text to insert)
    for order, entity in enumerate(entities or []):
        start = utf16_to_index(text, entity["offset"])
        end = utf16_to_index(text, entity["offset"] + entity["length"])
        if entity["type"] == "text_link" and entity.get("url") and entity["url"] != text[start:end]:
            inserts.append((end, order, f" ({entity['url']})"))
        elif entity["type"] in _QUOTE_TYPES:
            inserts.append((start, order, "> "))
            inserts.extend(
                (index + 1, order, "> ")
                for index in range(start, end)
                if text[index] == "\n" and index + 1 < end
            )
    pieces: list[str] = []
    previous = 0
    for index, _order, insert in sorted(inserts):
        pieces.append(text[previous:index])
        pieces.append(insert)
        previous = index
    pieces.append(text[previous:])
    return "".join(pieces)


def html_to_plain(markup: str) -> str:
    """Telegram-HTML as a terminal shows it (see render_plain); raises TelegramHtmlError."""
    text, entities = parse_html(markup)
    return render_plain(text, entities)
