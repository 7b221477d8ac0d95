"""Telegram HTML typed by a person: keep the tags and entities Telegram knows, escape the rest.

An admin writing "today & tomorrow" or "<3" means the characters, not markup; Telegram refuses
a lone `&` or `<`. Real tags (<b>, <a href="…">, </i>…) and entities (&amp;, &#128512;) are
kept as written, so a malformed tag is still refused by Telegram with its own explanation.
"""

from __future__ import annotations

import re

TAGS = ("a", "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "tg-emoji", "code",
        "pre", "blockquote")
_NAMES = "|".join(re.escape(tag) for tag in sorted(TAGS, key=len, reverse=True))
_KEPT = re.compile(rf"</?(?:{_NAMES})(?=[\s>/])[^<>]*>|&(?:#\d{{1,7}}|#[xX][0-9a-fA-F]{{1,6}}|lt|gt|amp|quot);",
                   re.IGNORECASE)


def escape_stray(text: str) -> str:
    """"today & tomorrow <3 <b>sale</b>" → "today &amp; tomorrow &lt;3 <b>sale</b>"."""
    out: list[str] = []
    position = 0
    for match in _KEPT.finditer(text):
        out.append(_escape(text[position:match.start()]))
        out.append(match.group(0))
        position = match.end()
    out.append(_escape(text[position:]))
    return "".join(out)


def _escape(plain: str) -> str:
    return plain.replace("&", "&amp;").replace("<", "&lt;")
