"""Settings: defaults, parsing, and one clear line (exit 2) for every bad value."""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from bot.settings import DEFAULT_TELEGRAM_BASE_URL, ConfigError, Settings, load_settings

TOKEN = "123456:ABCdef-ghiJKL"
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No variable from the developer's shell or .env file may leak into these tests."""
    for name in list(os.environ):
        if name.startswith(("TELEGRAM_", "PANEL_", "DATABASE_", "ADMIN_", "ALLOWED_", "PRICE_", "POLL_", "LOG_",
                            "WEBHOOK_", "HTTP_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_defaults_mean_sandbox_mode() -> None:
    settings = load_settings(telegram_bot_token=TOKEN)
    assert settings.telegram_base_url == DEFAULT_TELEGRAM_BASE_URL
    assert settings.sandbox and settings.panel_api_key is None
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


def run_bot(env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "PANEL_"))}
    return subprocess.run([sys.executable, "-m", "bot"], env={**clean, **env}, cwd=cwd, capture_output=True,
                          text=True, timeout=60, check=False)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "Configuration error: TELEGRAM_BOT_TOKEN is not set."),
        ({"TELEGRAM_BOT_TOKEN": TOKEN, "PANEL_API_URL": "https://p.example", "PANEL_API_KEY": "k",
          "PANEL_TIMEOUT_SECONDS": "abc"}, "Configuration error: PANEL_TIMEOUT_SECONDS"),
    ],
)
def test_python_m_bot_exits_2_with_one_line(env: dict[str, str], expected: str, tmp_path: Path) -> None:
    result = run_bot({"PYTHONPATH": str(ROOT), **env}, tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().startswith(expected)
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
