"""Where Kite may be reached from: quotes and the login from the real API, orders only to a simulator."""

from __future__ import annotations

from pathlib import Path

import pytest

from tron.adapters.env_secrets import EnvSecrets
from tron.adapters.kite import app_api_key
from tron.config.settings import KITE_API, ConfigError, load_settings

SIM = "http://127.0.0.1:8123"


def test_paper_fills_on_real_kite_quotes_are_allowed(tmp_path: Path) -> None:
    s = load_settings(data_dir=tmp_path, market_data="kite", kite={"root": KITE_API})
    assert s.broker == "paper" and not s.kite.simulated


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"market_data": "kite"}, r"market_data 'kite' needs kite\.root"),
        ({"broker": "kite", "kite": {"root": SIM}}, r"broker 'kite' trades on Kite's quotes"),
        (
            {"market_data": "kite", "broker": "kite", "kite": {"root": KITE_API}},
            r"broker 'kite' sends orders only to a loopback Kite simulator",
        ),
        ({"kite": {"root": "https://kite.example.com"}}, r"kite\.root.*api\.kite\.trade or a loopback"),
        ({"mode": "live", "market_data": "kite", "kite": {"root": KITE_API}}, r"live.*refused in this build"),
    ],
)
def test_orders_never_reach_the_real_api(tmp_path: Path, overrides: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(data_dir=tmp_path, **overrides)


def test_the_api_key_secret_wins_over_the_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    s = load_settings(data_dir=tmp_path, kite={"api_key": "fromconfig"})
    monkeypatch.delenv("TRON_SECRET_KITE_API_KEY", raising=False)
    assert app_api_key(EnvSecrets(), s.kite.api_key) == "fromconfig"
    monkeypatch.setenv("TRON_SECRET_KITE_API_KEY", "fromsecret")
    assert app_api_key(EnvSecrets(), s.kite.api_key) == "fromsecret"


def test_a_session_reads_the_api_key_secret_on_first_use_not_at_start() -> None:
    from tron.adapters.kite import KiteSession

    secrets = EnvSecrets({})
    made: list[str] = []
    session = KiteSession("fromconfig", secrets, KITE_API, client_factory=lambda key, **kw: made.append(key))
    secrets.put("kite_access_token", "tok")
    secrets.put("kite_api_key", "fromsecret")  # stored after the session was built, before its first call
    session.client()
    assert made == ["fromsecret"]
