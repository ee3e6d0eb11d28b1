"""What the bot keeps, and shows to others, of text a person typed."""

from __future__ import annotations

from typing import overload

# Characters that change the direction of the text around them (embeddings, overrides,
# isolates, and the invisible marks LRM, RLM and ALM): typed into a name they can make the rest
# of a line on a volunteer's card read in another order.
BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
# Shown in their place: visible, so a reader sees that something was there, and neutral in
# direction, so the text around it reads in the order it was typed.
REPLACEMENT = "\ufffd"
# Control characters but tab and newline (C0 with NUL, ESC and carriage return; DEL; C1): nothing
# a person means to write, and a terminal (`jiyn kb gaps`) acts on some of them.
CONTROLS = "".join(chr(code) for code in (*range(0x20), *range(0x7F, 0xA0)) if code not in (9, 10))

_TABLE: dict[int, str | None] = {
    **{ord(char): None for char in CONTROLS},
    **{ord(char): REPLACEMENT for char in BIDI_CONTROLS},
}


@overload
def typed(text: str, *, one_line: bool = False) -> str: ...


@overload
def typed(text: None, *, one_line: bool = False) -> None: ...


def typed(text: str | None, *, one_line: bool = False) -> str | None:
    """The text without control characters (but tab and newline) and with every bidi control
    replaced by U+FFFD; None stays None. Applying it again changes nothing.

    `one_line` is for fields a card shows on one line (a name, a police unit, a place): a line
    break typed into one would start what looks like another field, so every run of white space
    (line and paragraph separators too) becomes one space."""
    if text is None:
        return None
    kept = text.translate(_TABLE)
    return " ".join(kept.split()) if one_line else kept
