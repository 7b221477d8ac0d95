"""Settings: defaults, parsing, and one clear line (exit 2) for every bad value."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.settings import DEFAULT_TELEGRAM_BASE_URL, ConfigError, PanelConfig, Settings, load_settings

TOKEN = "123456:ABCdef-ghiJKL"
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No variable from the developer's shell or .env file may leak into these tests."""
    for name in list(os.environ):
        if name.startswith(("TELEGRAM_", "PANEL_", "PANELS", "SHOP_", "SANDBOX_", "DATABASE_", "ADMIN_", "ALLOWED_",
                            "PRICE_", "POLL_", "LOG_", "WEBHOOK_", "HTTP_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_defaults_mean_sandbox_mode() -> None:
    settings = load_settings(telegram_bot_token=TOKEN)
    assert settings.telegram_base_url == DEFAULT_TELEGRAM_BASE_URL
    assert settings.sandbox and settings.panel_api_key is None and settings.panels == ()
    assert settings.shop_currency is None and settings.sandbox_panels == 1
    assert settings.panel_timeout_seconds == 20
    assert settings.database_path == Path("data/bot.db")
    assert settings.admin_ids == frozenset() and settings.allowed_user_ids == frozenset()
    assert settings.price_markup_percent == Decimal(0)
    assert settings.poll_interval_seconds == 60
    assert settings.log_level == "INFO"
    assert settings.log_format == "text"
    assert not settings.webhook and settings.webhook_secret is None
    assert settings.http_listen == "127.0.0.1" and settings.http_server_port is None  # polling: no server


def test_webhook_mode_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEBHOOK_URL", "https://bot.example.com/tg/hook-1")
    monkeypatch.setenv("WEBHOOK_SECRET", "Abc_123-xyz")
    monkeypatch.setenv("LOG_FORMAT", "JSON")
    settings = load_settings(_env_file=None, telegram_bot_token=TOKEN)
    assert settings.webhook and settings.webhook_path == "/tg/hook-1"
    assert settings.http_server_port == 8080 and settings.http_listen == "127.0.0.1"
    assert settings.log_format == "json"
    assert settings.secrets() == [TOKEN, "Abc_123-xyz"]  # redacted from every log line
    assert "Abc_123-xyz" not in repr(settings)
    own_port = load_settings(_env_file=None, telegram_bot_token=TOKEN, http_port="9000", http_listen="10.0.0.5",
                             webhook_url="https://bot.example.com:8443/x", webhook_secret="s")
    assert (own_port.http_server_port, own_port.http_listen, own_port.webhook_path) == (9000, "10.0.0.5", "/x")
    assert load_settings(_env_file=None, telegram_bot_token=TOKEN, webhook_secret="s",
                         webhook_url="https://bot.example.com").webhook_path == "/"
    polling = load_settings(_env_file=None, telegram_bot_token=TOKEN, webhook_url="", http_port="9100")
    assert not polling.webhook and polling.webhook_secret is None and polling.http_server_port == 9100
    assert polling.secrets() == [TOKEN]  # a secret without a webhook is never used


def test_values_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("TELEGRAM_BASE_URL", "http://127.0.0.1:8081/bot")
    monkeypatch.setenv("PANEL_API_URL", "https://panel.example/api/v2")
    monkeypatch.setenv("PANEL_API_KEY", "secret-key")
    monkeypatch.setenv("ADMIN_IDS", "1, 22,333")
    monkeypatch.setenv("ALLOWED_USER_IDS", "44")
    monkeypatch.setenv("PRICE_MARKUP_PERCENT", "12.5")
    monkeypatch.setenv("DATABASE_URL", "sqlite:////srv/bot/bot.db")
    monkeypatch.setenv("LOG_LEVEL", "debug")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert not settings.sandbox
    assert settings.admin_ids == frozenset({1, 22, 333}) and settings.allowed_user_ids == frozenset({44})
    assert settings.price_markup_percent == Decimal("12.5")
    assert settings.database_path == Path("/srv/bot/bot.db")
    assert settings.log_level == "DEBUG"
    assert settings.secrets() == [TOKEN, "secret-key"]


def test_dotenv_file_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(f"TELEGRAM_BOT_TOKEN={TOKEN}\nPOLL_INTERVAL_SECONDS=30\nPANEL_API_URL=\n"
                                   "PANEL_LOW_BALANCE=\n")
    settings = load_settings()
    assert settings.poll_interval_seconds == 30 and settings.sandbox and settings.panel_low_balance is None


def test_the_example_env_file_is_valid() -> None:
    settings = load_settings(_env_file=Path(__file__).parents[1] / ".env.example")
    assert settings.sandbox and settings.panel_low_balance is None and settings.balance_check_minutes == 5


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({}, "TELEGRAM_BOT_TOKEN is not set"),
        ({"telegram_bot_token": "nonsense"}, "TELEGRAM_BOT_TOKEN does not look like a bot token"),
        ({"telegram_base_url": "ftp://x"}, "TELEGRAM_BASE_URL must be an http(s) URL"),
        ({"panel_api_url": "https://p.example/api/v2"}, "PANEL_API_KEY is required when PANEL_API_URL is set"),
        ({"panel_timeout_seconds": "soon"}, "PANEL_TIMEOUT_SECONDS input should be a valid number"),
        ({"panel_timeout_seconds": "0"}, "PANEL_TIMEOUT_SECONDS input should be greater than 0"),
        ({"admin_ids": "1,bob"}, "ADMIN_IDS must be numeric Telegram user ids separated by commas, not 'bob'"),
        ({"price_markup_percent": "-5"}, "PRICE_MARKUP_PERCENT input should be greater than or equal to 0"),
        ({"poll_interval_seconds": "0.5"}, "POLL_INTERVAL_SECONDS input should be greater than or equal to 1"),
        ({"database_url": "postgres://x"}, "DATABASE_URL must look like sqlite:///data/bot.db"),
        ({"log_level": "LOUD"}, "LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL"),
        ({"panel_low_balance": "-1"}, "PANEL_LOW_BALANCE input should be greater than or equal to 0"),
        ({"panel_low_balance": "lots"}, "PANEL_LOW_BALANCE input should be a valid decimal"),
        ({"topup_presets": "5,x"}, "TOPUP_PRESETS must be amounts separated by commas"),
        ({"topup_presets": "1e999999999"}, "TOPUP_PRESETS must be amounts from 0.01 to 1000000000"),
        ({"stars_per_unit": "0"}, "STARS_PER_UNIT input should be greater than 0"),
        ({"webhook_url": "https://b.example/hook"}, "WEBHOOK_SECRET is required when WEBHOOK_URL is set"),
        ({"webhook_url": "http://b.example/hook", "webhook_secret": "abc"}, "WEBHOOK_URL must be an https URL"),
        ({"webhook_url": "https:///hook", "webhook_secret": "abc"}, "WEBHOOK_URL must be an https URL"),
        ({"webhook_url": "https://b.example:8000/hook", "webhook_secret": "abc"},
         "WEBHOOK_URL may only use the port 443, 80, 88 or 8443"),
        ({"webhook_url": "https://b.example/metrics", "webhook_secret": "abc"},
         "WEBHOOK_URL must not use the path /metrics"),
        ({"webhook_url": "https://b.example/{hook}", "webhook_secret": "abc"},
         "WEBHOOK_URL may only use letters, digits and / _ . ~ - in its path"),
        ({"webhook_url": "https://b.example/hook", "webhook_secret": "has space"},
         "WEBHOOK_SECRET must be 1 to 256 characters of A-Z, a-z, 0-9, _ and -"),
        ({"webhook_url": "https://b.example/hook", "webhook_secret": "x" * 257},
         "WEBHOOK_SECRET must be 1 to 256 characters"),
        ({"http_port": "70000"}, "HTTP_PORT input should be less than or equal to 65535"),
        ({"http_port": "web"}, "HTTP_PORT input should be a valid integer"),
        ({"http_listen": "a b"}, "HTTP_LISTEN must be an IP address or a host name"),
        ({"log_format": "xml"}, "LOG_FORMAT must be text or json"),
        ({"shop_currency": "US"}, "SHOP_CURRENCY must be a 3-letter currency code such as USD"),
        ({"shop_currency": "US1"}, "SHOP_CURRENCY must be a 3-letter currency code"),
        ({"shop_currency": "ÄBC"}, "SHOP_CURRENCY must be a 3-letter currency code"),
        ({"sandbox_panels": "0"}, "SANDBOX_PANELS input should be greater than or equal to 1"),
        ({"sandbox_panels": "4"}, "SANDBOX_PANELS input should be less than or equal to 3"),
        ({"sandbox_panels": "two"}, "SANDBOX_PANELS input should be a valid integer"),
    ],
)
def test_bad_settings_name_the_variable(overrides: dict[str, str], expected: str) -> None:
    values = {"telegram_bot_token": TOKEN, **overrides} if overrides else {}
    with pytest.raises(ConfigError) as error:
        load_settings(_env_file=None, **values)
    message = str(error.value)
    assert expected in message
    assert "\n" not in message and "(see .env.example)" in message


def test_secrets_stay_out_of_reprs_and_errors() -> None:
    settings = load_settings(_env_file=None, telegram_bot_token=TOKEN, panel_api_url="https://p.example/api/v2",
                             panel_api_key="very-secret-panel-key")
    assert "very-secret-panel-key" not in repr(settings) and TOKEN not in repr(settings)
    with pytest.raises(ConfigError) as error:
        load_settings(_env_file=None, telegram_bot_token=TOKEN, panel_api_url="https://p.example/api/v2",
                      panel_api_key="very-secret-panel-key", panel_timeout_seconds="x")
    assert "very-secret-panel-key" not in str(error.value)
    with pytest.raises(ConfigError) as bad_token:
        load_settings(_env_file=None, telegram_bot_token="12345:")
    assert "12345:" not in str(bad_token.value)
    with pytest.raises(ConfigError) as bad_secret:
        load_settings(_env_file=None, telegram_bot_token=TOKEN, webhook_url="https://b.example/hook",
                      webhook_secret="almost-right-but-for-this!")
    assert "almost-right" not in str(bad_secret.value)


PANEL_KEY = "pk-7Qz9-never-shown-3141"  # appears in no message, whatever else is wrong


def panel(name: str = "alpha", **fields: object) -> dict[str, object]:
    return {"name": name, "url": f"https://{name}.example/api/v2", "key": PANEL_KEY, **fields}


def test_panels_list_with_defaults_applied(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PANEL_TIMEOUT_SECONDS", "15")
    monkeypatch.setenv("PANEL_MAX_CONCURRENCY", "4")
    monkeypatch.setenv("PANEL_LOW_BALANCE", "5")
    monkeypatch.setenv("PANELS", json.dumps([
        {"name": "alpha", "url": "https://alpha.example/api/v2", "key": "key-a"},
        {"name": "beta-2", "url": " http://10.0.0.7:8000/api ", "key": " key-b ", "timeout": 2.5,
         "concurrency": 30, "currency": "eur", "low_balance": "12.30"},
        {"name": "g_3", "url": "https://g.example/api", "key": "key-c", "currency": "USD", "low_balance": None,
         "timeout": None, "concurrency": "7"},
    ]))
    monkeypatch.setenv("SHOP_CURRENCY", " usd ")
    settings = load_settings(_env_file=None, telegram_bot_token=TOKEN)
    assert not settings.sandbox and settings.panel_api_url is None and settings.shop_currency == "USD"
    assert settings.panels == (
        PanelConfig(name="alpha", url="https://alpha.example/api/v2", key=SecretStr("key-a"), timeout=15,
                    concurrency=4, currency=None, low_balance=Decimal(5)),
        PanelConfig(name="beta-2", url="http://10.0.0.7:8000/api", key=SecretStr("key-b"), timeout=2.5,
                    concurrency=30, currency="EUR", low_balance=Decimal("12.30")),
        PanelConfig(name="g_3", url="https://g.example/api", key=SecretStr("key-c"), timeout=15,
                    concurrency=7, currency="USD", low_balance=None),
    )
    assert str(settings.panels[1].low_balance) == "12.30"  # exact: JSON numbers never go through float
    assert settings.secrets() == [TOKEN, "key-a", "key-b", "key-c"]  # redacted from every log line
    assert not any(key in repr(settings) for key in ("key-a", "key-b", "key-c"))


def test_the_single_panel_form_is_a_list_of_one_named_main() -> None:
    settings = load_settings(_env_file=None, telegram_bot_token=TOKEN, panel_api_url="https://p.example/api/v2",
                             panel_api_key="k-main", panel_timeout_seconds="9", panel_max_concurrency="3",
                             panel_low_balance="2.5", sandbox_panels="3")
    assert settings.panels == (PanelConfig(name="main", url="https://p.example/api/v2", key=SecretStr("k-main"),
                                           timeout=9, concurrency=3, currency=None, low_balance=Decimal("2.5")),)
    assert not settings.sandbox and settings.sandbox_panels == 3
    assert settings.secrets() == [TOKEN, "k-main"]


def test_panels_from_a_dotenv_file(tmp_path: Path) -> None:
    line = json.dumps([panel("alpha"), panel("beta", currency="gbp")])
    (tmp_path / ".env").write_text(f"TELEGRAM_BOT_TOKEN={TOKEN}\nPANEL_API_URL=\nPANELS='{line}'\nSHOP_CURRENCY=\n")
    settings = load_settings()
    assert [(p.name, p.currency) for p in settings.panels] == [("alpha", None), ("beta", "GBP")]
    assert settings.shop_currency is None


def test_the_example_of_panels_in_env_example_is_valid(tmp_path: Path) -> None:
    lines = (ROOT / ".env.example").read_text().splitlines()
    [example] = [line.removeprefix("# ") for line in lines if line.startswith("# PANELS=")]
    (tmp_path / ".env").write_text(f"TELEGRAM_BOT_TOKEN={TOKEN}\n{example}\n")
    assert [p.name for p in load_settings().panels] == ["alpha", "beta"]


def test_an_empty_panels_means_sandbox_mode() -> None:
    settings = load_settings(_env_file=None, telegram_bot_token=TOKEN, panels=" ")
    assert settings.sandbox and settings.panels == () and settings.secrets() == [TOKEN]


@pytest.mark.parametrize(
    ("entries", "expected"),
    [
        ([panel(), panel("beta", url="ftp://beta.example")], 'PANELS entry 2 ("beta"): url must be an http(s) URL'),
        ([panel(url="https://")], 'PANELS entry 1 ("alpha"): url must be an http(s) URL'),
        ([panel(url=7)], 'PANELS entry 1 ("alpha"): url must be an http(s) URL'),
        ([panel("Alpha")], 'PANELS entry 1 ("Alpha"): name must be lower-case'),
        ([panel("-a")], 'PANELS entry 1 ("-a"): name must be 1 to 16 characters of a-z, 0-9, _ and -'),
        ([panel("a" * 17)], "PANELS entry 1 (\"" + "a" * 17 + "\"): name must be 1 to 16 characters"),
        ([panel("a b")], 'PANELS entry 1 ("a b"): name must be 1 to 16 characters'),
        ([panel(name=3)], "PANELS entry 1: name must be 1 to 16 characters"),
        ([{"url": "https://a.example", "key": PANEL_KEY}], "PANELS entry 1: name is missing"),
        ([panel(), {"name": "b", "key": PANEL_KEY}], 'PANELS entry 2 ("b"): url is missing'),
        ([{"name": "a", "url": "https://a.example"}], 'PANELS entry 1 ("a"): key is missing'),
        ([panel(key="  ")], 'PANELS entry 1 ("alpha"): key must be the panel\'s API key (a non-empty string)'),
        ([panel(key=12345)], 'PANELS entry 1 ("alpha"): key must be the panel\'s API key'),
        ([panel(), panel("beta"), panel("beta")], 'PANELS entry 3 ("beta"): name is already used by entry 2'),
        ([panel(timout=5)], 'PANELS entry 1 ("alpha"): unknown key "timout" (the keys are name, url, key, timeout,'),
        ([panel(timeout=0)], 'PANELS entry 1 ("alpha"): timeout must be a number of seconds above 0 and at most 300'),
        ([panel(timeout=301)], 'PANELS entry 1 ("alpha"): timeout must be a number of seconds'),
        ([panel(timeout="soon")], 'PANELS entry 1 ("alpha"): timeout must be a number of seconds'),
        ([panel(timeout=True)], 'PANELS entry 1 ("alpha"): timeout must be a number of seconds'),
        ([panel(concurrency=0)], 'PANELS entry 1 ("alpha"): concurrency must be a whole number from 1 to 100'),
        ([panel(concurrency=101)], 'PANELS entry 1 ("alpha"): concurrency must be a whole number from 1 to 100'),
        ([panel(concurrency=2.5)], 'PANELS entry 1 ("alpha"): concurrency must be a whole number'),
        ([panel(currency="EURO")], 'PANELS entry 1 ("alpha"): currency must be a 3-letter code such as USD'),
        ([panel(currency="")], 'PANELS entry 1 ("alpha"): currency must be a 3-letter code'),
        ([panel(low_balance=-1)], 'PANELS entry 1 ("alpha"): low_balance must be an amount of at least 0'),
        ([panel(low_balance="NaN")], 'PANELS entry 1 ("alpha"): low_balance must be an amount of at least 0'),
        ([panel(low_balance="lots")], 'PANELS entry 1 ("alpha"): low_balance must be an amount of at least 0'),
        ([panel(), "beta"], "PANELS entry 2 must be a JSON object such as {"),
        ([], "PANELS must list at least one panel (leave PANELS empty to run the sandbox)"),
        ([panel(f"p{n}") for n in range(11)], "PANELS may list at most 10 panels"),
        ({"name": "a"}, "PANELS must be a JSON list of panels, e.g. [{"),
    ],
)
def test_a_bad_panels_entry_is_named_in_one_line(entries: object, expected: str,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PANELS", json.dumps(entries))
    with pytest.raises(ConfigError) as error:
        load_settings(_env_file=None, telegram_bot_token=TOKEN)
    message = str(error.value)
    assert message.startswith(f"Configuration error: {expected}")
    assert "\n" not in message and message.endswith("Fix it in the environment or in .env (see .env.example).")
    assert PANEL_KEY not in message


def test_a_panels_entry_bad_in_every_way_still_hides_its_key() -> None:
    everywhere = {field: PANEL_KEY for field in ("url", "timeout", "concurrency", "currency", "low_balance")}
    short_key = PANEL_KEY[:12]
    for entry, label in (
        ({"name": PANEL_KEY, "key": PANEL_KEY, **everywhere, PANEL_KEY: PANEL_KEY}, "PANELS entry 2: unknown key ("),
        ({"name": PANEL_KEY, "key": PANEL_KEY, **everywhere}, "PANELS entry 2: name must be"),
        ({"name": f"x{PANEL_KEY}", "key": PANEL_KEY, "url": PANEL_KEY}, "PANELS entry 2: name must be"),
        ({"name": "ok", "key": PANEL_KEY, "url": "https://a.example", "PK": 1}, 'PANELS entry 2 ("ok"): unknown key'),
        # A name or unknown key that holds a key (this entry's or another's) is not shown either.
        ({"name": short_key, "key": short_key, "url": "https://a.example", short_key: 1},
         "PANELS entry 2: unknown key ("),
        ({"name": "b", "key": "other", "url": "https://a.example", short_key.replace("-", "_"): 1},
         'PANELS entry 2 ("b"): unknown key "pk_7Qz9_neve"'),  # not a key: a name may be shown
        # Name and key swapped by mistake: the "name" is the secret, and is not repeated.
        ({"name": PANEL_KEY, "key": "beta", "url": "https://a.example"}, "PANELS entry 2: name must be"),
    ):
        with pytest.raises(ConfigError) as error:
            load_settings(_env_file=None, telegram_bot_token=TOKEN, panels=json.dumps([panel(), entry]))
        message = str(error.value)
        assert message.startswith(f"Configuration error: {label}") and "\n" not in message
        assert PANEL_KEY not in message and short_key not in message


@pytest.mark.parametrize(
    "broken",
    [
        f'[{{"name": "a", "url": "https://a.example", "key": "{PANEL_KEY}',  # cut short inside the key
        f'[{{"name": "a", "url": "https://a.example", "key": "{PANEL_KEY[:9]}"{PANEL_KEY[9:]}"}}]',  # a stray "
        f'[{{"name": "a", "url": "https://a.example", "key": "{PANEL_KEY[:9]}\n{PANEL_KEY[9:]}"}}]',  # a newline
        f'[{{"name": "a", "url": "https://a.example", "key": "{PANEL_KEY[:9]}\\x{PANEL_KEY[9:]}"}}]',  # \\x
        f"[{{'name': 'a', 'url': 'https://a.example', 'key': '{PANEL_KEY}'}}]",  # Python, not JSON
        f'{PANEL_KEY}',  # the key alone
    ],
)
def test_broken_panels_json_never_shows_the_text(broken: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_settings(_env_file=None, telegram_bot_token=TOKEN, panels=broken)
    message = str(error.value)
    assert message.startswith('Configuration error: PANELS must be a JSON list of panels, e.g. [{"name": "main"')
    assert "\n" not in message and "(the JSON breaks at line " in message
    assert not any(part in message for part in (PANEL_KEY, PANEL_KEY[:9], PANEL_KEY[9:]))


def test_panels_and_panel_api_url_together_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PANELS", json.dumps([panel()]))
    monkeypatch.setenv("PANEL_API_URL", "https://p.example/api/v2")
    monkeypatch.setenv("PANEL_API_KEY", "k")
    with pytest.raises(ConfigError) as error:
        load_settings(_env_file=None, telegram_bot_token=TOKEN)
    assert str(error.value).startswith("Configuration error: PANELS and PANEL_API_URL are both set")
    assert PANEL_KEY not in str(error.value) and "\n" not in str(error.value)
    monkeypatch.setenv("PANEL_API_URL", "")  # an empty PANEL_API_URL is not set: PANELS alone
    assert [p.name for p in load_settings(_env_file=None, telegram_bot_token=TOKEN).panels] == ["alpha"]


def test_shop_currency_is_upper_cased_and_empty_is_unset() -> None:
    assert load_settings(_env_file=None, telegram_bot_token=TOKEN, shop_currency="eur").shop_currency == "EUR"
    assert load_settings(_env_file=None, telegram_bot_token=TOKEN, shop_currency=" ").shop_currency is None


def run_bot(env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "PANEL_", "PANELS"))}
    return subprocess.run([sys.executable, "-m", "bot"], env={**clean, **env}, cwd=cwd, capture_output=True,
                          text=True, timeout=60, check=False)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "Configuration error: TELEGRAM_BOT_TOKEN is not set."),
        ({"TELEGRAM_BOT_TOKEN": TOKEN, "PANEL_API_URL": "https://p.example", "PANEL_API_KEY": "k",
          "PANEL_TIMEOUT_SECONDS": "abc"}, "Configuration error: PANEL_TIMEOUT_SECONDS"),
        ({"TELEGRAM_BOT_TOKEN": TOKEN, "PANELS": json.dumps([panel(), panel("beta", url="beta.example")])},
         'Configuration error: PANELS entry 2 ("beta"): url must be an http(s) URL.'),
    ],
)
def test_python_m_bot_exits_2_with_one_line(env: dict[str, str], expected: str, tmp_path: Path) -> None:
    result = run_bot({"PYTHONPATH": str(ROOT), **env}, tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().startswith(expected)
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert PANEL_KEY not in result.stderr + result.stdout
