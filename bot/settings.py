"""Configuration from the environment and a `.env` file (pydantic-settings).

`load_settings()` either returns valid Settings or raises ConfigError whose one-line message
names the variable and how to fix it; `python -m bot` prints that line and exits with 2.
Secrets are SecretStr, so neither a repr nor a validation error ever shows them.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qsl, unquote, urlsplit

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_TELEGRAM_BASE_URL = "https://api.telegram.org/bot"

IdList = Annotated[frozenset[int], NoDecode]
AmountList = Annotated[tuple[Decimal, ...], NoDecode]
MAX_PANELS = 10
SHOWN_NAME_LIMIT = 20  # a bad name is quoted back up to this long (names are ≤ 16; keys are longer)
MAIN_PANEL = "main"  # the name of the one panel PANEL_API_URL + PANEL_API_KEY configure
_PANEL_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,15}")
_PANEL_KEYS = ("name", "url", "key", "timeout", "concurrency", "currency", "low_balance")
_CURRENCY = re.compile(r"[A-Za-z]{3}")  # ASCII letters only: re's [A-Za-z] is not Unicode-aware
_PANELS_EXAMPLE = '[{"name": "main", "url": "https://panel.example/api/v2", "key": "..."}]'
DEFAULT_HTTP_PORT = 8080  # the webhook server's port when HTTP_PORT is not set
# Telegram's rule for a webhook's secret_token; also what lets it travel in a header unquoted.
_WEBHOOK_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
# Paths the HTTP server answers itself (bot/http_server.py): the webhook cannot take one of them.
WEBHOOK_PORTS = (443, 80, 88, 8443)  # the only ports Telegram delivers webhooks to
RESERVED_HTTP_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


class ConfigError(Exception):
    """A setting is missing or invalid; the message is one line meant for the operator."""


@dataclass(frozen=True)
class PanelConfig:
    """One SMM panel the shop buys from: an entry of PANELS, or PANEL_API_URL + PANEL_API_KEY as `main`."""

    name: str  # short and unique: it goes into ids, callback data and admin texts
    url: str
    key: SecretStr
    timeout: float  # seconds before a request counts as timed out
    concurrency: int  # most requests in flight to this panel at once
    currency: str | None  # 3 upper-case letters; None: learned from the panel's balance
    low_balance: Decimal | None  # admins are alerted below it, in the panel's currency; None: no alert


PanelList = Annotated[tuple[PanelConfig, ...], NoDecode]  # NoDecode: _panel_list reads the JSON itself


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore",
                                      case_sensitive=False, hide_input_in_errors=True)

    telegram_bot_token: SecretStr
    telegram_base_url: str = DEFAULT_TELEGRAM_BASE_URL
    panel_api_url: str | None = None
    panel_api_key: SecretStr | None = None
    panel_timeout_seconds: float = Field(default=20.0, gt=0, le=300)
    panel_max_concurrency: int = Field(default=10, ge=1, le=100)
    panel_low_balance: Decimal | None = Field(default=None, ge=0)
    # Several panels (JSON, see .env.example); declared after the PANEL_* defaults its entries fall back on.
    panels: PanelList = ()
    shop_currency: str | None = None  # the wallets' currency; None: the first panel's
    sandbox_panels: int = Field(default=1, ge=1, le=3)  # simulated panels in sandbox mode
    database_url: str = "sqlite:///data/bot.db"
    database_pool_size: int = Field(default=10, ge=1, le=200)  # PostgreSQL connections per instance
    # Work one instance claimed (an update, a message, a poll) is another's after this long unheard of.
    claim_seconds: float = Field(default=60.0, ge=10, le=3600)  # (renewed every third of it, at most every s)
    admin_ids: IdList = frozenset()
    allowed_user_ids: IdList = frozenset()
    price_markup_percent: Decimal = Field(default=Decimal(0), ge=0, le=10000)
    price_decimals: int = Field(default=2, ge=0, le=6)  # customer prices are rounded up to these
    poll_interval_seconds: float = Field(default=60, ge=1, le=86400)
    conversation_timeout_seconds: float = Field(default=900, ge=1, le=86400)
    catalogue_refresh_minutes: int = Field(default=60, ge=1, le=10080)
    balance_check_minutes: int = Field(default=5, ge=1, le=1440)
    stars_per_unit: Decimal | None = Field(default=None, gt=0, le=1_000_000)
    topup_presets: AmountList = (Decimal(5), Decimal(10), Decimal(25), Decimal(50))
    manual_topup_text: str | None = None
    support_contact: str | None = None
    log_level: str = "INFO"
    redis_url: SecretStr | None = None  # several instances share Telegram's limits through it
    redis_prefix: str = "smmbot:"
    log_format: str = "text"
    # Webhook mode (bot/webhook.py): Telegram posts updates to WEBHOOK_URL, served on HTTP_LISTEN:HTTP_PORT.
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    http_listen: str = "127.0.0.1"
    http_port: int | None = Field(default=None, ge=0, le=65535)  # 0: any free port (tests)

    @field_validator("telegram_bot_token")
    @classmethod
    def _token_shape(cls, value: SecretStr) -> SecretStr:
        token = value.get_secret_value().strip()
        bot_id, _, secret = token.partition(":")
        if not (bot_id.isdigit() and len(secret) >= 5):
            raise ValueError("does not look like a bot token (digits, a colon, then the secret, from @BotFather)")
        return SecretStr(token)

    @field_validator("telegram_base_url", "panel_api_url")
    @classmethod
    def _http_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        value = (value or "").strip()
        if not value:  # an empty line in .env means "not set"
            return DEFAULT_TELEGRAM_BASE_URL if info.field_name == "telegram_base_url" else None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an http(s) URL")
        return value

    @field_validator("panel_low_balance", "stars_per_unit", "manual_topup_text", "support_contact", "webhook_url",
                     "webhook_secret", "http_port", "shop_currency", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("panels", mode="before")
    @classmethod
    def _panel_list(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, str) and not value.strip():
            return ()  # an empty line in .env means "not set"
        if isinstance(value, tuple | list) and all(isinstance(item, PanelConfig) for item in value):
            return tuple(value)
        defaults = {name: info.data.get(name, cls.model_fields[name].default)
                    for name in ("panel_timeout_seconds", "panel_max_concurrency", "panel_low_balance")}
        return _parse_panels(value, defaults)

    @field_validator("shop_currency")
    @classmethod
    def _shop_currency(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not _CURRENCY.fullmatch(value.strip()):
            raise ValueError("must be a 3-letter currency code such as USD")
        return value.strip().upper()

    @field_validator("manual_topup_text", "support_contact")
    @classmethod
    def _text_length(cls, value: str | None) -> str | None:
        if value is not None and len(value.strip()) > 2000:
            raise ValueError("is too long: at most 2000 characters")
        return value.strip() if value is not None else None

    @field_validator("topup_presets", mode="before")
    @classmethod
    def _amount_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            items = [item.strip() for item in value.replace(";", ",").split(",") if item.strip()]
            amounts = []
            for item in items:
                try:
                    amount = Decimal(item)
                except ArithmeticError:
                    raise ValueError(f"must be amounts separated by commas, e.g. 5,10,25 (not {item!r})") from None
                if not amount.is_finite() or not Decimal("0.01") <= amount <= 10**9 \
                        or amount != amount.quantize(Decimal("0.01")):
                    raise ValueError(f"must be amounts from 0.01 to 1000000000 with at most 2 decimals (not {item!r})")
                amounts.append(amount)
            if len(amounts) > 8:
                raise ValueError("may list at most 8 amounts")
            return tuple(amounts)
        return value

    @field_validator("admin_ids", "allowed_user_ids", mode="before")
    @classmethod
    def _id_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            items = [item.strip() for item in value.replace(";", ",").split(",") if item.strip()]
            bad = [item for item in items if not item.lstrip("-").isdigit()]
            if bad:
                raise ValueError(f"must be numeric Telegram user ids separated by commas, not {bad[0]!r}")
            return frozenset(int(item) for item in items)
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        value = value.strip()
        if value.startswith("sqlite:///") and len(value) > len("sqlite:///"):
            return value
        if value.startswith(("postgresql://", "postgres://")) and len(value.split("://", 1)[1]) > 1:
            return value
        raise ValueError("must look like sqlite:///data/bot.db (relative), sqlite:////abs/path.db,"
                         " or postgresql://user:password@host:5432/dbname")

    @field_validator("redis_url", mode="before")
    @classmethod
    def _redis_url(cls, value: Any) -> Any:
        text = value.get_secret_value() if isinstance(value, SecretStr) else value
        if text is None or (isinstance(text, str) and not text.strip()):
            return None  # empty: one instance, limits counted in the process
        if not isinstance(text, str):
            return value
        text = text.strip()
        parts = urlsplit(text)
        if parts.scheme not in ("redis", "rediss") or not parts.hostname:
            raise ValueError("must be a redis:// (or rediss://) URL, e.g. redis://127.0.0.1:6379/0")
        try:
            parts.port  # noqa: B018 - raises for a port that is not a number
        except ValueError:
            raise ValueError("has a port that is not a number") from None
        return text

    @field_validator("redis_prefix")
    @classmethod
    def _redis_prefix(cls, value: str) -> str:
        if not value or len(value) > 64 or any(char.isspace() for char in value):
            raise ValueError("must be 1 to 64 characters without spaces, e.g. smmbot:")
        return value

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ValueError("must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return level

    @field_validator("log_format")
    @classmethod
    def _log_format(cls, value: str) -> str:
        fmt = value.strip().lower()
        if fmt not in ("text", "json"):
            raise ValueError("must be text or json")
        return fmt

    @field_validator("webhook_url")
    @classmethod
    def _webhook_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        parts = urlsplit(value)
        if parts.scheme != "https" or not parts.hostname:
            raise ValueError("must be an https URL (Telegram posts updates over HTTPS only)")
        if parts.port not in (None, *WEBHOOK_PORTS):
            raise ValueError("may only use the port 443, 80, 88 or 8443 (the ones Telegram posts to)")
        if not re.fullmatch(r"[A-Za-z0-9/_.~-]*", parts.path):  # served as a fixed route (bot/http_server.py)
            raise ValueError("may only use letters, digits and / _ . ~ - in its path")
        if (parts.path or "/") in RESERVED_HTTP_PATHS:
            raise ValueError(f"must not use the path {parts.path} (the bot's HTTP server answers it itself)")
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _webhook_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not _WEBHOOK_SECRET.fullmatch(value.get_secret_value().strip()):
            raise ValueError("must be 1 to 256 characters of A-Z, a-z, 0-9, _ and - (Telegram's rule)")
        return SecretStr(value.get_secret_value().strip()) if value is not None else None

    @field_validator("http_listen")
    @classmethod
    def _http_listen(cls, value: str) -> str:
        value = value.strip() or "127.0.0.1"
        if not re.fullmatch(r"[A-Za-z0-9.:_-]+", value):
            raise ValueError("must be an IP address or a host name, e.g. 127.0.0.1 or 0.0.0.0")
        return value

    @model_validator(mode="after")
    def _webhook_secret_with_url(self) -> Settings:
        if self.webhook_url and self.webhook_secret is None:
            raise ValueError("WEBHOOK_SECRET is required when WEBHOOK_URL is set")
        if not self.webhook_url:
            self.webhook_secret = None  # polling: no request is ever checked against it
        return self

    @model_validator(mode="after")
    def _panel_key_with_url(self) -> Settings:
        if self.panels and self.panel_api_url:
            raise ValueError("PANELS and PANEL_API_URL are both set: keep one of them (PANELS can list every panel)")
        if self.panel_api_url and not (self.panel_api_key and self.panel_api_key.get_secret_value().strip()):
            raise ValueError("PANEL_API_KEY is required when PANEL_API_URL is set")
        if not self.panel_api_url:
            self.panel_api_key = None  # a key without a panel would never be used: sandbox mode
        elif self.panel_api_key is not None:  # the single form: a list of one panel
            self.panels = (PanelConfig(name=MAIN_PANEL, url=self.panel_api_url, key=self.panel_api_key,
                                       timeout=self.panel_timeout_seconds, concurrency=self.panel_max_concurrency,
                                       currency=None, low_balance=self.panel_low_balance),)
        return self

    @property
    def sandbox(self) -> bool:
        """No panel configured: the bot runs the built-in sandbox panels and buys nothing."""
        return not self.panels

    @property
    def database_path(self) -> Path:
        """sqlite:///data/bot.db → data/bot.db (relative to the working directory);
        sqlite:////srv/bot.db → /srv/bot.db."""
        return Path(self.database_url.removeprefix("sqlite:///"))

    @property
    def webhook(self) -> bool:
        """Webhook mode: updates come in on the bot's HTTP server instead of by long polling."""
        return self.webhook_url is not None

    @property
    def webhook_path(self) -> str:
        """https://bot.example.com/tg/hook → /tg/hook: where the HTTP server takes updates."""
        return urlsplit(self.webhook_url or "").path or "/"

    @property
    def http_server_port(self) -> int | None:
        """The HTTP server's port; None: no server (polling without HTTP_PORT)."""
        if self.http_port is None and self.webhook:
            return DEFAULT_HTTP_PORT
        return self.http_port

    @property
    def log_level_number(self) -> int:
        return logging.getLevelName(self.log_level)

    def secrets(self) -> list[str]:
        """Values that must never appear in a log line."""
        values = [self.telegram_bot_token.get_secret_value(), *_password_of(self.database_url)]
        for panel in self.panels:  # the single form's PANEL_API_KEY is the key of its panel `main`
            values += [panel.key.get_secret_value(), *_password_of(panel.url)]
        if self.redis_url is not None:
            values += _password_of(self.redis_url.get_secret_value())
        if self.webhook_secret is not None:
            values.append(self.webhook_secret.get_secret_value())
        return [value for value in values if value]


def _password_of(url: str) -> list[str]:
    """A URL's password as written, and decoded (as a library might print it)."""
    if "://" not in url:
        return []
    parts = urlsplit(url)
    found = [parts.password or "", *(value for name, value in parse_qsl(parts.query) if name.lower() == "password")]
    return sorted({form for password in found if password for form in (password, unquote(password))})


def _parse_panels(value: Any, defaults: dict[str, Any]) -> tuple[PanelConfig, ...]:
    """PANELS → its panels, or ValueError naming the first bad entry by position and name.

    No message ever quotes a value from the JSON except a panel's name (and an unknown key's
    name), and not even those when one contains a key: the JSON carries the panels' keys."""
    if isinstance(value, str):
        try:
            value = json.loads(value, parse_float=Decimal)  # 12.30 stays exactly 12.30
        except ValueError as exc:  # its message has a position only, never the text
            where = f" (the JSON breaks at line {exc.lineno}, column {exc.colno})" \
                if isinstance(exc, json.JSONDecodeError) else ""
            raise ValueError(f"must be a JSON list of panels, e.g. {_PANELS_EXAMPLE}{where}") from None
    if not isinstance(value, list):
        raise ValueError(f"must be a JSON list of panels, e.g. {_PANELS_EXAMPLE}")
    if not value:
        raise ValueError("must list at least one panel (leave PANELS empty to run the sandbox)")
    if len(value) > MAX_PANELS:
        raise ValueError(f"may list at most {MAX_PANELS} panels")
    keys = [entry["key"].strip() for entry in value
            if isinstance(entry, dict) and isinstance(entry.get("key"), str) and entry["key"].strip()]

    def shown(text: Any) -> str | None:
        """`text` quoted for a message, or None when it is not fit to be shown."""
        if not (isinstance(text, str) and 0 < len(text) <= 40 and text.isprintable()):
            return None
        return None if any(key in text for key in keys) else json.dumps(text, ensure_ascii=False)

    panels: list[PanelConfig] = []
    first_entry_of: dict[str, int] = {}
    for number, entry in enumerate(value, start=1):
        if not isinstance(entry, dict):
            raise ValueError(f"entry {number} must be a JSON object such as {_PANELS_EXAMPLE[1:-1]}")
        # Named only by something of a name's length (a key pasted as the name is not repeated).
        raw_name = entry.get("name")
        name = shown(raw_name) if isinstance(raw_name, str) and len(raw_name) <= SHOWN_NAME_LIMIT else None
        label = f"entry {number} ({name})" if name else f"entry {number}"
        try:
            panel = _panel_entry(entry, defaults, shown)
        except ValueError as exc:
            raise ValueError(f"{label}: {exc}") from None
        if panel.name in first_entry_of:
            raise ValueError(f"{label}: name is already used by entry {first_entry_of[panel.name]}")
        first_entry_of[panel.name] = number
        panels.append(panel)
    return tuple(panels)


def _panel_entry(entry: dict[str, Any], defaults: dict[str, Any], shown: Callable[[Any], str | None]) -> PanelConfig:
    unknown = [key for key in entry if key not in _PANEL_KEYS]
    if unknown:
        key = shown(unknown[0]) if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,19}", str(unknown[0])) else None
        raise ValueError(f"unknown key{f' {key}' if key else ''} (the keys are {', '.join(_PANEL_KEYS)})")
    for required in ("name", "url", "key"):
        if entry.get(required) is None:
            raise ValueError(f"{required} is missing")
    name = entry["name"]
    if not isinstance(name, str) or not _PANEL_NAME.fullmatch(name.lower()):
        raise ValueError("name must be 1 to 16 characters of a-z, 0-9, _ and -, starting with a letter or digit")
    if not _PANEL_NAME.fullmatch(name):
        raise ValueError("name must be lower-case")
    url = entry["url"].strip() if isinstance(entry["url"], str) else ""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("url must be an http(s) URL")
    key = entry["key"].strip() if isinstance(entry["key"], str) else ""
    if not key:
        raise ValueError("key must be the panel's API key (a non-empty string)")
    timeout = _number(entry.get("timeout"), defaults["panel_timeout_seconds"])
    if timeout is None or not 0 < timeout <= 300:
        raise ValueError("timeout must be a number of seconds above 0 and at most 300")
    concurrency = entry.get("concurrency")
    if concurrency is None:
        concurrency = defaults["panel_max_concurrency"]
    elif isinstance(concurrency, str) and concurrency.strip().isdigit():
        concurrency = int(concurrency)
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or not 1 <= concurrency <= 100:
        raise ValueError("concurrency must be a whole number from 1 to 100")
    currency = entry.get("currency")  # absent or null: learned from the panel's balance
    if currency is not None and not (isinstance(currency, str) and _CURRENCY.fullmatch(currency.strip())):
        raise ValueError("currency must be a 3-letter code such as USD")
    if "low_balance" not in entry:
        low_balance = defaults["panel_low_balance"]
    elif entry["low_balance"] is None:
        low_balance = None  # null: no low-balance alert for this panel
    elif (low_balance := _amount(entry["low_balance"])) is None:
        raise ValueError('low_balance must be an amount of at least 0, e.g. 10 or "10.50", or null for no alert')
    return PanelConfig(name=name, url=url, key=SecretStr(key), timeout=timeout, concurrency=concurrency,
                       currency=currency.strip().upper() if currency is not None else None, low_balance=low_balance)


def _number(value: Any, default: float) -> float | None:
    """A JSON number (or numeric string) as a float; null or absent: the default; None: not a finite number."""
    if value is None:
        return default
    amount = _amount(value, minimum=None)
    return float(amount) if amount is not None else None


def _amount(value: Any, minimum: Decimal | None = Decimal(0)) -> Decimal | None:
    """A JSON number or numeric string as a finite Decimal (at least `minimum`); None otherwise."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        return None
    try:
        amount = Decimal(str(value).strip())  # str(): 0.1 given as a float is 0.1, not 0.1000000000000000055…
    except (InvalidOperation, ValueError):
        return None
    if not amount.is_finite() or (minimum is not None and amount < minimum):
        return None
    return amount


def load_settings(**overrides: Any) -> Settings:
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None


def _describe(exc: ValidationError) -> str:
    error = exc.errors()[0]
    loc = [str(part) for part in error["loc"]]
    variable = loc[0].upper() if loc else ""
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "missing":
        return (f"Configuration error: {variable} is not set. Set it in the environment or in .env "
                f"(see .env.example).")
    if not variable:  # a check across fields: its message names the variables itself
        return f"Configuration error: {message}. Set it in the environment or in .env (see .env.example)."
    return (f"Configuration error: {variable} {message.lower() if message[:1].isupper() else message}. "
            f"Fix it in the environment or in .env (see .env.example).")
