"""Telegram's HTML parse mode, as tdlib parses it (the only one the bot uses): text and entities,
lengths in UTF-16 code units, and Telegram's own wording for markup it refuses."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

__all__ = ["EntityParseError", "parse_html", "strip", "utf16_len"]

def utf16_len(text: str) -> int:
    """Telegram measures text in UTF-16 code units, not code points."""
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(text: str, index: int) -> int:
    """Telegram reports parse errors as UTF-8 byte offsets into the source text."""
    return len(text[:index].encode("utf-8"))


class EntityParseError(ValueError):
    """The text is not valid markup; the message follows Telegram's wording."""


# --------------------------------------------------------------------------- markup parsers

_SPACES = " \t\r\n\v\f"
_HTML_TAGS = frozenset(
    {"a", "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler",
     "tg-emoji", "code", "pre", "blockquote"}
)
_HTML_ENTITY_TYPES = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline",
    "ins": "underline", "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough",
    "span": "spoiler", "tg-spoiler": "spoiler", "code": "code", "pre": "pre",
}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ENTITY_RE = re.compile(r"&(?:#x([0-9a-fA-F]{1,8})|#([0-9]{1,8})|([a-zA-Z]+));?")


def _decode_entity(src: str, i: int) -> tuple[str, int] | None:
    """Decode the character reference at ``src[i] == "&"`` like tdlib: (char, next index)."""
    m = _ENTITY_RE.match(src, i)
    if m is None:
        return None
    hex_code, dec_code, name = m.groups()
    if name is not None:
        char = _NAMED_ENTITIES.get(name)
        return None if char is None else (char, m.end())
    code = int(hex_code, 16) if hex_code is not None else int(dec_code)
    if code == 0 or code >= 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return None
    return chr(code), m.end()


@dataclass
class _Open:
    tag: str
    attrs: dict[str, str]
    start: int  # UTF-16 offset in the plain text
    language: str = ""


def parse_html(src: str, *, strict_ampersand: bool = True) -> tuple[str, list[dict[str, Any]]]:
    """Parse Telegram-flavoured HTML into (plain text, entities), as strictly as tdlib does.

    ``strict_ampersand`` additionally rejects a ``&`` that starts no entity (Telegram keeps it
    literally, but the Bot API docs require escaping it, and html.escape() would have done so).
    """
    out: list[str] = []
    units = 0
    stack: list[_Open] = []
    entities: list[dict[str, Any]] = []
    i, n = 0, len(src)

    def fail(message: str) -> EntityParseError:
        return EntityParseError(message)

    while i < n:
        c = src[i]
        if c == "&":
            decoded = _decode_entity(src, i)
            if decoded is None:
                if strict_ampersand:
                    raise fail(f"Character entity expected at byte offset {_byte_offset(src, i)}")
                decoded = ("&", i + 1)
            out.append(decoded[0])
            units += utf16_len(decoded[0])
            i = decoded[1]
            continue
        if c != "<":
            out.append(c)
            units += utf16_len(c)
            i += 1
            continue
        begin, at = i, _byte_offset(src, i)
        i += 1
        if i < n and src[i] == "/":  # an end tag
            if not stack:
                raise fail(f"Unexpected end tag at byte offset {at}")
            i += 1
            name_start = i
            while i < n and src[i] not in _SPACES and src[i] != ">":
                i += 1
            end_name = src[name_start:i].lower()
            while i < n and src[i] in _SPACES:
                i += 1
            if i >= n or src[i] != ">":
                raise fail(f"Unclosed end tag at byte offset {at}")
            i += 1
            opened = stack.pop()
            if end_name and end_name != opened.tag:
                raise fail(
                    f'Unmatched end tag at byte offset {at}, expected "</{opened.tag}>", '
                    f'found "</{end_name}>"'
                )
            _close_html_entity(opened, units, stack, entities, "".join(out))
            continue
        while i < n and src[i] not in _SPACES and src[i] != ">":
            i += 1
        if i >= n:
            raise fail(f"Unclosed start tag at byte offset {at}")
        tag = src[begin + 1 : i].lower()
        if tag not in _HTML_TAGS:
            raise fail(f'Unsupported start tag "{tag}" at byte offset {at}')
        attrs: dict[str, str] = {}
        while True:
            while i < n and src[i] in _SPACES:
                i += 1
            if i >= n:
                raise fail(f"Unclosed start tag at byte offset {at}")
            if src[i] == ">":
                i += 1
                break
            name_start = i
            while i < n and src[i] not in _SPACES and src[i] not in "=>":
                i += 1
            attr = src[name_start:i]
            if not attr:
                raise fail(f'Empty attribute name in the tag "{tag}" at byte offset {at}')
            while i < n and src[i] in _SPACES:
                i += 1
            if i >= n or src[i] != "=":
                if tag == "blockquote" and attr.lower() == "expandable":
                    attrs["expandable"] = ""
                    continue
                raise fail(
                    f'Expected equal sign in declaration of an attribute of the tag "{tag}" '
                    f"at byte offset {at}"
                )
            i += 1
            while i < n and src[i] in _SPACES:
                i += 1
            if i >= n:
                raise fail(f"Unclosed start tag at byte offset {at}")
            value: list[str] = []
            if src[i] in "'\"":
                quote = src[i]
                i += 1
                while i < n and src[i] != quote:
                    decoded = _decode_entity(src, i) if src[i] == "&" else None
                    value.append(decoded[0] if decoded else src[i])
                    i = decoded[1] if decoded else i + 1
                if i >= n:
                    raise fail(f"Unclosed start tag at byte offset {at}")
                i += 1
            else:  # an unquoted name token: letters, digits, periods and hyphens
                token_start = i
                while i < n and ((src[i].isascii() and src[i].isalnum()) or src[i] in ".-"):
                    i += 1
                value.append(src[token_start:i].lower())
                if i < n and src[i] not in _SPACES and src[i] != ">":
                    raise fail(
                        f"Unexpected end of name token at byte offset {_byte_offset(src, i)}"
                    )
            attrs[attr.lower()] = "".join(value)
        if tag == "span" and attrs.get("class") != "tg-spoiler":
            raise fail(f'Tag "span" must have class "tg-spoiler" at byte offset {at}')
        stack.append(_Open(tag, attrs, units))
    if stack:
        raise fail(f'Can\'t find end tag corresponding to start tag "{stack[-1].tag}"')
    return "".join(out), _sorted(entities)


def _close_html_entity(
    opened: _Open, end: int, stack: list[_Open], entities: list[dict[str, Any]], text: str
) -> None:
    """Turn a closed tag into an entity (tdlib drops empty ones; <pre><code> merges)."""
    length = end - opened.start
    if length <= 0:
        return
    entity: dict[str, Any] = {"offset": opened.start, "length": length}
    tag = opened.tag
    if tag == "code":
        language = opened.attrs.get("class", "")
        parent = stack[-1] if stack else None
        if parent is not None and parent.tag == "pre" and parent.start == opened.start:
            parent.language = language.removeprefix("language-") if language else ""
            return
    if tag == "a":
        entity["type"] = "text_link"
        entity["url"] = opened.attrs.get("href") or _utf16_slice(text, opened.start, end)
    elif tag == "blockquote":
        entity["type"] = "expandable_blockquote" if "expandable" in opened.attrs else "blockquote"
    elif tag == "tg-emoji":
        if not opened.attrs.get("emoji-id"):
            return
        entity["type"] = "custom_emoji"
        entity["custom_emoji_id"] = opened.attrs["emoji-id"]
    else:
        entity["type"] = _HTML_ENTITY_TYPES[tag]
        if tag == "pre" and opened.language:
            entity["language"] = opened.language
    entities.append(entity)


def _utf16_slice(text: str, start: int, end: int) -> str:
    raw = text.encode("utf-16-le")
    return raw[start * 2 : end * 2].decode("utf-16-le")


def _sorted(entities: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(entities, key=lambda e: (e["offset"], -e["length"]))


def strip(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Telegram trims leading/trailing whitespace; entities are shifted and clipped to match."""
    stripped = text.strip(_SPACES)
    if stripped == text:
        return text, entities
    lead = utf16_len(text[: len(text) - len(text.lstrip(_SPACES))])
    total = utf16_len(stripped)
    result: list[dict[str, Any]] = []
    for entity in entities:
        start = max(0, entity["offset"] - lead)
        end = min(total, entity["offset"] + entity["length"] - lead)
        if end > start:
            result.append({**entity, "offset": start, "length": end - start})
    return stripped, result
