"""The translation catalogs: extract, update and check them (`python -m bot.catalogs …`).

    python -m bot.catalogs update     # texts.py → bot/locales/messages.pot → every locale's .po
    python -m bot.catalogs check      # what CI runs (tests/test_catalogs.py): exit 1 on a problem
    python -m bot.catalogs add xx     # start the catalog of a new locale (then translate it)

The same with Babel's command line, for those who know it:

    pybabel extract -k _ -k N_:1,2 -k C_:1c,2 --no-location -o bot/locales/messages.pot bot/texts.py
    pybabel update -i bot/locales/messages.pot -d bot/locales --no-fuzzy-matching

A catalog passes when it has every text of bot/texts.py, none fuzzy or empty, each with the same
named placeholders as the English, as many plural forms as its language has, and the same HTML
tags. English is the source; a locale is offered to users once its catalog exists.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po, write_po

from bot.i18n import DOMAIN, LOCALES_DIR, SOURCE

TEXTS = Path(__file__).parent / "texts.py"
TEMPLATE = LOCALES_DIR / f"{DOMAIN}.pot"
KEYWORDS = {"_": None, "N_": (1, 2), "C_": ((1, "c"), 2)}
# The languages of the shop's customers (the languages issue); a catalog for each.
LOCALES = ("ru", "uz_Latn", "tr", "fa", "ar", "id", "pt_BR", "es", "hi")

_PLACEHOLDER = re.compile(r"(?<!\{)\{(\w*)(?:[!:][^{}]*)?\}(?!\})")
_TAG = re.compile(r"</?([a-zA-Z][\w-]*)[^<>]*>")


def checked() -> tuple[str, ...]:
    """The catalogs CI checks: the shop's languages, and any other catalog there is (a locale is
    offered to users as soon as its catalog exists, so it must be complete too)."""
    return tuple(sorted(set(LOCALES) | {p.parent.parent.name for p in LOCALES_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po")}))


def extract() -> Catalog:
    """Every text of bot/texts.py, as a template."""
    template = Catalog(locale=SOURCE, project="smm-storefront-bot", fuzzy=False)
    for _line, message, _comments, context in extract_from_file("python", TEXTS, keywords=KEYWORDS):
        template.add(message, context=context)
    return template


def _catalog_path(locale: str) -> Path:
    return LOCALES_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


def update(locales: tuple[str, ...]) -> None:
    """Write the template, and bring each locale's catalog in line with it (new texts empty)."""
    template = extract()
    LOCALES_DIR.mkdir(parents=True, exist_ok=True)
    with TEMPLATE.open("wb") as out:
        write_po(out, template, omit_header=False, no_location=True, width=120)
    for locale in locales:
        path = _catalog_path(locale)
        if path.exists():
            with path.open("rb") as po:
                catalog = read_po(po, locale=locale)
        else:
            catalog = Catalog(locale=locale, project="smm-storefront-bot")
        catalog.update(template, no_fuzzy_matching=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as out:
            write_po(out, catalog, no_location=True, width=120, ignore_obsolete=True)


def problems(locale: str, template: Catalog | None = None) -> list[str]:
    """What is wrong with one locale's catalog (empty: nothing)."""
    template = template or extract()
    path = _catalog_path(locale)
    if not path.exists():
        return [f"{locale}: no catalog at {path}"]
    with path.open("rb") as po:
        catalog = read_po(po, locale=locale)
    found: list[str] = []
    for source in template:
        if not source.id:
            continue
        message = catalog.get(source.id, context=source.context)
        where = f"{locale}: {_short(source)}"
        if message is None:
            found.append(f"{where}: missing")
            continue
        if message.fuzzy:
            found.append(f"{where}: fuzzy")
        found += [f"{where}: {problem}" for problem in _message_problems(source, message, catalog.num_plurals)]
    return found


def _message_problems(source: Message, message: Message, plurals: int) -> list[str]:
    english = source.id if isinstance(source.id, tuple) else (source.id,)
    translated = message.string if isinstance(message.string, tuple | list) else (message.string,)
    if source.pluralizable and len(translated) != plurals:
        return [f"{len(translated)} plural forms, the language has {plurals}"]
    found = []
    wanted_names = set(_PLACEHOLDER.findall(english[-1]))
    wanted_tags = Counter(tag.lower() for tag in _TAG.findall(english[-1]))
    for form in translated:
        if not form:
            found.append("empty")
            continue
        names = set(_PLACEHOLDER.findall(form))
        if names != wanted_names:
            found.append(f"placeholders {sorted(names)} instead of {sorted(wanted_names)}")
        if Counter(tag.lower() for tag in _TAG.findall(form)) != wanted_tags:
            found.append("HTML tags differ from the English")
    return found


def _short(message: Message) -> str:
    text = message.id[0] if isinstance(message.id, tuple) else message.id
    return repr(text[:60] + ("…" if len(text) > 60 else ""))


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "check"
    if command == "update":
        update(LOCALES)
        return 0
    if command == "add" and len(argv) == 2:
        update((argv[1],))
        return 0
    if command == "check":
        template = extract()
        locales = checked()
        found = [problem for locale in locales for problem in problems(locale, template)]
        print("\n".join(found[:200]) or f"every catalog complete ({len(template)} texts, {len(locales)} locales)")
        return 1 if found else 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
