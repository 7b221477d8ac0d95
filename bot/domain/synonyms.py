"""The words customers search with, mapped to the words panels name their services with.

Panels name services in English ("Instagram Followers [Real]"); customers type their own words
("seguidores", "подписчики", "takipçi"). SYNONYMS lists, per concept (a platform or a kind of
service) and per language, the words that mean it; CATALOGUE_WORDS gives, per concept, what to
look for in a service's name. A term ending in "*" is a stem: any word starting with it matches
("подписчик*" takes "подписчики", "подписчиков"); other terms match the whole word only (so "ig"
is Instagram but "igual" is not). A term with a space is a phrase of two typed words ("me gusta").

Both sides are compared folded (`fold`): case, accents and the usual keyboard variants set aside
(ç/c, ё/е, Arabic/Persian yeh and kaf, the Uzbek apostrophes), so "comentários" and
"comentarios" are one word. The languages issue extends the table; nothing else changes then.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from functools import lru_cache

# What a service's (folded) name contains when it is about the concept.
CATALOGUE_WORDS: Mapping[str, tuple[str, ...]] = {
    "followers": ("follower",),
    "likes": ("like",),
    "views": ("view",),
    "comments": ("comment",),
    "members": ("member",),
    "subscribers": ("subscriber",),
    "instagram": ("instagram",),
    "youtube": ("youtube",),
    "telegram": ("telegram",),
    "tiktok": ("tiktok", "tik tok"),
}

# concept → language → terms. Where a word means several concepts (a Russian "подписчик" follows
# an Instagram account, subscribes to a channel and joins a Telegram channel) it is listed in each.
SYNONYMS: Mapping[str, Mapping[str, tuple[str, ...]]] = {
    "followers": {
        "en": ("follower*",),
        "ru": ("подписчик*", "фолловер*", "фоловер*"),
        "uz": ("obunachi*", "kuzatuvchi*", "обуначи*", "кузатувчи*"),
        "tr": ("takipçi*",),
        "fa": ("فالوور*", "فالور*", "دنبال‌کننده*", "دنبال کننده"),
        "ar": ("متابع*", "فولوور*", "فلورز*"),
        "id": ("pengikut*",),
        "pt": ("seguidor*",),
        "es": ("seguidor*",),
        "hi": ("फॉलोअर*", "फॉलोवर*", "फ़ॉलोअर*", "अनुयायी*"),
    },
    "likes": {
        "en": ("like*",),
        "ru": ("лайк*",),
        "uz": ("layk*", "лайк*", "yoqtirish*"),
        "tr": ("beğen*",),
        "fa": ("لایک*",),
        "ar": ("لايك*", "إعجاب*", "اعجاب*"),
        "id": ("suka", "disukai"),
        "pt": ("curtida*", "curtir"),
        "es": ("me gusta",),
        "hi": ("लाइक*", "पसंद"),
    },
    "views": {
        "en": ("view*",),
        "ru": ("просмотр*",),
        "uz": ("ko'rish*", "korish*", "prosmotr*", "кўриш*", "просмотр*"),
        "tr": ("izlenme*", "görüntülenme*"),
        "fa": ("بازدید*", "ویو*"),
        "ar": ("مشاهد*",),
        "id": ("tayangan*", "penonton*", "ditonton"),
        "pt": ("visualizaç*", "visualizac*", "visualizaçõ*"),
        "es": ("visualizacion*", "vista*", "reproduccion*"),
        "hi": ("व्यू*", "दृश्य*"),
    },
    "comments": {
        "en": ("comment*",),
        "ru": ("коммент*", "комент*"),
        "uz": ("izoh*", "sharh*", "изоҳ*", "изох*", "коммент*"),
        "tr": ("yorum*",),
        "fa": ("کامنت*", "نظر", "نظرات"),
        "ar": ("تعليق*", "كومنت*"),
        "id": ("komentar*",),
        "pt": ("comentari*",),
        "es": ("comentario*",),
        "hi": ("कमेंट*", "टिप्पणी*", "टिप्पणियां"),
    },
    "members": {
        "en": ("member*",),
        "ru": ("участник*", "мембер*", "подписчик*"),
        "uz": ("a'zo*", "аъзо*", "obunachi*", "обуначи*"),
        "tr": ("üye", "üyeler*", "üyesi", "abone*"),
        "fa": ("عضو", "اعضا*", "ممبر*"),
        "ar": ("عضو", "أعضاء*", "اعضاء*"),
        "id": ("anggota*",),
        "pt": ("membro*",),
        "es": ("miembro*", "suscriptor*"),
        "hi": ("सदस्य*", "मेंबर*", "मेम्बर*"),
    },
    "subscribers": {
        "en": ("subscriber*", "subs"),
        "ru": ("подписчик*", "сабскрайбер*", "сабы"),
        "uz": ("obunachi*", "обуначи*"),
        "tr": ("abone*",),
        "fa": ("سابسکرایب*", "مشترک*"),
        "ar": ("مشترك*",),
        "id": ("pelanggan*",),
        "pt": ("inscrito*", "assinante*"),
        "es": ("suscriptor*",),
        "hi": ("सब्सक्राइबर*", "सब्सक्राइब*"),
    },
    "instagram": {
        "en": ("instagram*", "insta", "ig"),
        "ru": ("инст*",),
        "uz": ("instagram*", "инстаграм*"),
        "tr": ("instagram*",),
        "fa": ("اینستاگرام*", "اینستا*"),
        "ar": ("انستغرام*", "انستقرام*", "انستجرام*", "انستا*"),
        "id": ("instagram*",),
        "pt": ("instagram*",),
        "es": ("instagram*",),
        "hi": ("इंस्टाग्राम*", "इंस्टा*"),
    },
    "youtube": {
        "en": ("youtube*", "yt"),
        "ru": ("ютуб*", "ютьюб*", "ютюб*"),
        "uz": ("youtube*", "ютуб*"),
        "tr": ("youtube*",),
        "fa": ("یوتیوب*",),
        "ar": ("يوتيوب*",),
        "id": ("youtube*",),
        "pt": ("youtube*",),
        "es": ("youtube*",),
        "hi": ("यूट्यूब*", "युट्यूब*"),
    },
    "telegram": {
        "en": ("telegram*", "tg"),
        "ru": ("телеграм*", "телега*", "тг"),
        "uz": ("telegram*", "телеграм*"),
        "tr": ("telegram*",),
        "fa": ("تلگرام*",),
        "ar": ("تيليجرام*", "تليجرام*", "تلغرام*", "تلجرام*"),
        "id": ("telegram*",),
        "pt": ("telegram*",),
        "es": ("telegram*",),
        "hi": ("टेलीग्राम*", "टेलिग्राम*"),
    },
    "tiktok": {
        "en": ("tiktok*", "tik tok"),
        "ru": ("тикток*", "тик ток"),
        "uz": ("tiktok*", "тикток*"),
        "tr": ("tiktok*",),
        "fa": ("تیک‌تاک*", "تیک تاک"),
        "ar": ("تيكتوك*", "تيك توك"),
        "id": ("tiktok*",),
        "pt": ("tiktok*",),
        "es": ("tiktok*",),
        "hi": ("टिकटॉक*", "टिक टॉक"),
    },
}

# Marks set aside when folding: Latin/Cyrillic accents, Arabic vowel marks and tatweel, the
# Devanagari nukta, and the joiners Persian writes inside words.
_MARKS = re.compile("[\u0300-\u036f\u0610-\u061a\u064b-\u065f\u0670\u0640\u093c\u200c\u200d]")
_VARIANTS = str.maketrans({"ي": "ی", "ى": "ی", "ك": "ک", "ı": "i", "‘": "'", "’": "'", "ʻ": "'", "ʼ": "'",
                           "`": "'", "´": "'"})


def fold(text: str) -> str:
    """`text` as search compares it: case, accents and keyboard variants set aside."""
    return _MARKS.sub("", unicodedata.normalize("NFKD", text.casefold())).translate(_VARIANTS)


def _index(table: Mapping[str, Mapping[str, Sequence[str]]]) -> tuple[dict[str, set[str]], dict[str, set[str]],
                                                                       frozenset[str]]:
    exact: dict[str, set[str]] = {}
    stems: dict[str, set[str]] = {}
    phrases: set[str] = set()
    for concept, languages in table.items():
        for terms in languages.values():
            for term in terms:
                stem = term.endswith("*")
                folded = fold(term.removesuffix("*"))
                if " " in folded:
                    phrases.add(folded)
                (stems if stem else exact).setdefault(folded, set()).add(concept)
    return exact, stems, frozenset(phrases)


_EXACT, _STEMS, _PHRASES = _index(SYNONYMS)


@lru_cache(maxsize=4096)
def concepts_of(word: str) -> frozenset[str]:
    """The concepts a folded typed word (or phrase) means; empty for a word the table lacks."""
    forms = [word]
    if word.startswith("ال") and len(word) > 4:  # the Arabic article: "المتابعين" is "متابعين"
        forms.append(word[2:])
    found: set[str] = set()
    for form in forms:
        found |= _EXACT.get(form, set())
        # a stem is a prefix of the word: try each prefix length once (a word is short)
        for end in range(1, len(form) + 1):
            found |= _STEMS.get(form[:end], set())
    return frozenset(found)


def typed_words(query: str) -> list[str]:
    """The folded words of a query, a known two-word phrase ("me gusta") kept as one."""
    words = fold(query).split()
    joined: list[str] = []
    i = 0
    while i < len(words):
        pair = f"{words[i]} {words[i + 1]}" if i + 1 < len(words) else ""
        if pair in _PHRASES:
            joined.append(pair)
            i += 2
        else:
            joined.append(words[i])
            i += 1
    return joined


def query_terms(query: str) -> list[frozenset[str]]:
    """Per typed word, the strings one of which a matching service's folded name contains: the
    word itself, and the catalogue's words for what it means."""
    terms = []
    for word in typed_words(query):
        wanted = {word}
        for concept in concepts_of(word):
            wanted.update(CATALOGUE_WORDS[concept])
        terms.append(frozenset(wanted))
    return terms


def matches(terms: Sequence[frozenset[str]], folded_name: str) -> bool:
    """Every typed word is in the name, as itself or as a word it means."""
    return all(any(t in folded_name for t in alternatives) for alternatives in terms)
