"""Telegram-HTML parsing: entities, UTF-16 offsets, the errors Telegram gives, plain rendering."""

from __future__ import annotations

import html
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.telegram.html import (
    TelegramHtmlError,
    html_to_plain,
    parse_html,
    render_plain,
    strip_message_text,
    utf16_len,
    utf16_to_index,
)


def entity(kind: str, offset: int, length: int, **extra: Any) -> dict[str, Any]:
    """An entity dict as the parser returns it."""
    return {"type": kind, "offset": offset, "length": length, **extra}


@pytest.mark.parametrize(
    ("tag", "kind"),
    [
        ("b", "bold"),
        ("strong", "bold"),
        ("i", "italic"),
        ("em", "italic"),
        ("u", "underline"),
        ("ins", "underline"),
        ("s", "strikethrough"),
        ("strike", "strikethrough"),
        ("del", "strikethrough"),
        ("tg-spoiler", "spoiler"),
        ("code", "code"),
        ("pre", "pre"),
        ("blockquote", "blockquote"),
    ],
)
def test_each_simple_tag_becomes_its_entity(tag: str, kind: str) -> None:
    assert parse_html(f"x <{tag}>word</{tag}> y") == ("x word y", [entity(kind, 2, 4)])


def test_tag_names_are_case_insensitive() -> None:
    assert parse_html("<B>bold</b>") == ("bold", [entity("bold", 0, 4)])


def test_spoiler_span_link_and_custom_emoji() -> None:
    text, entities = parse_html(
        '<span class="tg-spoiler">hidden</span> <a href="https://example.kz/?a=1&amp;b=2">site</a>'
        ' <tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>'
    )
    assert text == "hidden site 👍"
    assert entities == [
        entity("spoiler", 0, 6),
        entity("text_link", 7, 4, url="https://example.kz/?a=1&b=2"),
        entity("custom_emoji", 12, 2, custom_emoji_id="5368324170671202286"),
    ]


def test_unquoted_and_single_quoted_attribute_values() -> None:
    assert parse_html("<a href=https>x</a><a href='tg://resolve?domain=a'>y</a>") == (
        "xy",
        [
            entity("text_link", 0, 1, url="https"),
            entity("text_link", 1, 1, url="tg://resolve?domain=a"),
        ],
    )


def test_link_to_a_user_is_a_text_mention() -> None:
    _, entities = parse_html('<a href="tg://user?id=42">Aigerim</a>')
    assert entities == [
        entity("text_mention", 0, 7, user={"id": 42, "is_bot": False, "first_name": ""})
    ]


def test_link_without_href_keeps_text_without_entity() -> None:
    assert parse_html("<a>plain</a>") == ("plain", [])


def test_pre_with_code_language_is_one_pre_entity() -> None:
    assert parse_html('<pre><code class="language-python">x = 1</code></pre>') == (
        "x = 1",
        [entity("pre", 0, 5, language="python")],
    )


def test_pre_with_plain_code_and_standalone_code_language() -> None:
    assert parse_html("<pre><code>x</code></pre>") == ("x", [entity("pre", 0, 1)])
    # A language on a code outside pre is kept by the parser as Telegram keeps it: on code.
    assert parse_html('<code class="language-sh">ls</code>') == (
        "ls",
        [entity("code", 0, 2, language="sh")],
    )


def test_entities_inside_code_are_dropped() -> None:
    assert parse_html("<code>a <b>b</b></code>") == ("a b", [entity("code", 0, 3)])


def test_nested_blockquote_is_dropped_but_outer_kept() -> None:
    assert parse_html("<blockquote>a<blockquote>b</blockquote></blockquote>") == (
        "ab",
        [entity("blockquote", 0, 2)],
    )


def test_expandable_blockquote() -> None:
    assert parse_html("<blockquote expandable>long\nquote</blockquote>") == (
        "long\nquote",
        [entity("expandable_blockquote", 0, 10)],
    )


def test_nested_entities_are_sorted_outer_first() -> None:
    assert parse_html("<b>bold <i>both</i></b> <u><s>x</s></u>") == (
        "bold both x",
        [
            entity("bold", 0, 9),
            entity("italic", 5, 4),
            entity("underline", 10, 1),
            entity("strikethrough", 10, 1),
        ],
    )


def test_empty_tags_give_no_entity() -> None:
    assert parse_html("a<b></b>b") == ("ab", [])


def test_html_entities_are_decoded() -> None:
    assert parse_html("&lt;b&gt; &amp; &quot;q&quot; &#1179; &#x4E2D; &#X1F600;") == (
        '<b> & "q" қ 中 😀',
        [],
    )


def test_lone_ampersand_is_text_like_telegram() -> None:
    assert parse_html("Tom & Jerry &") == ("Tom & Jerry &", [])


def test_offsets_and_lengths_count_utf16_units() -> None:
    # 😀 is two UTF-16 code units; Cyrillic and Kazakh letters are one each.
    text, entities = parse_html("😀😀 <b>Сәлем 👋</b> <i>ok</i>")
    assert text == "😀😀 Сәлем 👋 ok"
    assert entities == [entity("bold", 5, 8), entity("italic", 14, 2)]


def test_newlines_are_kept() -> None:
    assert parse_html("a\n\n<b>b</b>\n") == ("a\n\nb\n", [entity("bold", 3, 1)])


@pytest.mark.parametrize(
    ("markup", "detail"),
    [
        ("<br>", 'Unsupported start tag "br" at byte offset 0'),
        ("a < b", 'Unsupported start tag "" at byte offset 2'),
        ("ж <", "Unclosed start tag at byte offset 3"),
        ("<b>open", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b><i>x</b></i>", ('Unmatched end tag at byte offset 7, expected "</i>", found "</b>"')),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("<b>x</b", "Unclosed end tag at byte offset 4"),
        ("&nbsp;", 'Unsupported HTML entity "&nbsp;" at byte offset 0'),
        (
            '<a href="x" target="_blank">x</a>',
            ('Unsupported attribute "target" in the tag "a" at byte offset 0'),
        ),
        ('<b class="x">x</b>', 'Unsupported attribute "class" in the tag "b" at byte offset 0'),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        ('<a href="x>y</a>', "Unclosed start tag at byte offset 8"),
        (
            "<a href>x</a>",
            ('Expected equal sign in declaration of an attribute of the tag "a" at byte offset 0'),
        ),
        ('<tg-emoji emoji-id="abc">👍</tg-emoji>', "Invalid custom emoji identifier specified"),
        ("&#0;", 'Invalid character reference "&#0;" at byte offset 0'),
    ],
)
def test_errors_are_reported_like_telegram(markup: str, detail: str) -> None:
    with pytest.raises(TelegramHtmlError) as caught:
        parse_html(markup)
    assert caught.value.detail.startswith(detail)


def test_empty_end_tag_closes_the_open_tag() -> None:
    assert parse_html("<b>x</>") == ("x", [entity("bold", 0, 1)])


def test_html_to_plain_shows_links_and_quotes() -> None:
    markup = (
        '<b>Rights</b>: <a href="https://adilet.zan.kz">law</a>\n'
        "<blockquote>line one\nline two</blockquote>\n"
        '<a href="https://x.kz">https://x.kz</a> 1 &lt; 2'
    )
    assert html_to_plain(markup) == (
        "Rights: law (https://adilet.zan.kz)\n> line one\n> line two\nhttps://x.kz 1 < 2"
    )


def test_render_plain_uses_utf16_offsets() -> None:
    text = "😀 link"
    rendered = render_plain(text, [entity("text_link", 3, 4, url="https://a.kz")])
    assert rendered == "😀 link (https://a.kz)"


def test_html_to_plain_refuses_invalid_markup() -> None:
    with pytest.raises(TelegramHtmlError):
        html_to_plain("<p>x</p>")


def test_strip_message_text_keeps_entities_aligned() -> None:
    text, entities = parse_html("\n  <b>😀 bold</b> tail  \n")
    assert strip_message_text(text, entities) == ("😀 bold tail", [entity("bold", 0, 7)])


def test_strip_message_text_clips_entities_in_whitespace() -> None:
    text, entities = parse_html("<b>  </b>x<i> </i>")
    assert strip_message_text(text, entities) == ("x", [])


def test_utf16_helpers() -> None:
    assert utf16_len("a😀ж") == 4
    assert utf16_to_index("a😀ж", 3) == 2
    assert utf16_to_index("a😀ж", 99) == 3


@given(st.text())
def test_escaped_text_parses_back_to_itself(text: str) -> None:
    assert parse_html(html.escape(text, quote=False)) == (text, [])


@given(st.text(), st.text(min_size=1), st.text())
def test_bold_entity_covers_exactly_the_tagged_text(before: str, inside: str, after: str) -> None:
    markup = f"{html.escape(before)}<b>{html.escape(inside)}</b>{html.escape(after)}"
    text, entities = parse_html(markup)
    assert text == before + inside + after
    assert entities == [entity("bold", utf16_len(before), utf16_len(inside))]
    start = utf16_to_index(text, entities[0]["offset"])
    end = utf16_to_index(text, entities[0]["offset"] + entities[0]["length"])
    assert text[start:end] == inside
