"""tron.config.settings: a bad value names its key and what is allowed; per-asset risk overrides; the
slippage band per segment; where Kite may be reached from (quotes and the login from the real API, orders
only to a simulator)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import cast

import pytest

from tron.config.settings import KITE_API, ConfigError, load_settings
from tron.domain.models import Asset
from tron.domain.risk import RiskLimits

SIM = "http://127.0.0.1:8123"


def test_bad_config_names_the_key_and_what_is_allowed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ConfigError, match=r"risk\.entry_cutoff.*between 09:15 and 15:10"):
        load_settings(risk={"entry_cutoff": "15:25"})
    monkeypatch.setenv("TRON_RISK__DAILY_LOSS_LIMIT", "-5")
    with pytest.raises(ConfigError, match=r"risk\.daily_loss_limit: Input should be greater than 0"):
        load_settings()
    monkeypatch.delenv("TRON_RISK__DAILY_LOSS_LIMIT")
    with pytest.raises(ConfigError, match=r"config key mode.*'paper' or 'live'"):
        load_settings(mode="yolo")
    with pytest.raises(ConfigError, match=r"mode 'live' sends orders through broker 'kite'"):
        load_settings(mode="live")
    cfg = tmp_path / "tron.yaml"
    cfg.write_text("risk:\n  max_open_positions: lots\n")
    monkeypatch.setenv("TRON_CONFIG", str(cfg))
    with pytest.raises(ConfigError, match=r"risk\.max_open_positions"):
        load_settings()


def test_per_asset_risk_overrides_and_bad_keys(tmp_path) -> None:
    s = load_settings(data_dir=tmp_path)
    env = s.envelope()
    assert env[Asset.FUTURES].risk_per_trade_pct == Decimal("1.0")
    assert env[Asset.FUTURES].capital == s.risk.capital * s.assets[Asset.FUTURES].capital_pct / 100
    assert all(e.account == s.risk.capital for e in env.values())
    with pytest.raises(ConfigError, match="max_sector_pct"):
        load_settings(data_dir=tmp_path, assets={"futures": {"risk": {"max_sector_pct": 0}}})
    with pytest.raises(ConfigError, match="risk_per_trad"):
        load_settings(data_dir=tmp_path, assets={"futures": {"risk": {"risk_per_trad": 1}}})


def test_the_band_is_a_setting_per_segment_stored_with_the_plan() -> None:
    s = load_settings(risk={"stop_slippage_bps": {"futures": 5}})
    env = s.envelope()[Asset.FUTURES]
    assert env.stop_slippage_bps["futures"] == Decimal("5") and env.stop_slippage_bps["options"] == 650
    assert RiskLimits.from_doc(env.to_doc()) == env
    old = {k: v for k, v in env.to_doc().items() if k != "stop_slippage_bps"}  # a plan stored before it
    assert RiskLimits.from_doc(old).stop_slippage_bps["futures"] == Decimal("12")
    with pytest.raises(ConfigError, match=r"risk\.stop_slippage_bps.*between 0 and 5000"):
        load_settings(risk={"stop_slippage_bps": {"futures": -1}})
    with pytest.raises(ConfigError, match=r"risk\.stop_slippage_bps"):
        load_settings(risk={"stop_slippage_bps": {"crypto": 5}})


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
            r"broker 'kite' sends orders to https://api.kite.trade only with mode 'live'",
        ),
        ({"kite": {"root": "https://kite.example.com"}}, r"kite\.root.*api\.kite\.trade or a loopback"),
        (
            {"mode": "live", "market_data": "kite", "kite": {"root": KITE_API}},
            r"mode 'live' sends orders through",
        ),
        (
            {"mode": "live", "market_data": "kite", "broker": "kite", "kite": {"root": KITE_API}},
            r"mode 'live' on https://api.kite.trade needs live.static_ips",
        ),
        ({"live": {"static_ips": ["not-an-ip"]}}, r"live\.static_ips\.0"),
    ],
)
def test_orders_never_reach_the_real_api_unless_live(tmp_path: Path, overrides: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(data_dir=tmp_path, **overrides)


def test_live_on_the_real_api_with_the_static_ip_is_accepted(tmp_path: Path) -> None:
    live = {"mode": "live", "market_data": "kite", "broker": "kite", "live": {"static_ips": ["203.0.113.7"]}}
    s = load_settings(data_dir=tmp_path, kite={"root": KITE_API}, **live)
    assert (s.mode, s.broker, str(s.live.static_ips[0])) == ("live", "kite", "203.0.113.7")


@pytest.mark.parametrize("algo_id", ["", "has space", "x" * 21, "TRON-1", "ALGO'; DROP"])
def test_a_bad_algo_id_names_the_key(tmp_path: Path, algo_id: str) -> None:
    with pytest.raises(ConfigError, match=r"kite\.algo_id.*1–20 letters or digits"):
        load_settings(data_dir=tmp_path, kite={"algo_id": algo_id})


def test_a_shadow_broker_fills_on_paper_with_the_algo_id(tmp_path: Path) -> None:
    from tron.adapters.kite.shadow import ShadowBroker
    from tron.bootstrap import paper_broker
    from tron.ports import Clock

    s = load_settings(data_dir=tmp_path, broker="shadow", kite={"algo_id": "TRON42"})
    broker = paper_broker(s, store=None, market=None, clock=cast(Clock, None))
    assert isinstance(broker, ShadowBroker) and broker.algo_id == "TRON42"


@pytest.mark.parametrize(
    ("guardrails", "message"),
    [
        ({"max_order_value": {"crypto": 5}}, r"guardrails\.max_order_value.*not a segment"),
        ({"max_order_qty": {"options": 0}}, r"guardrails\.max_order_qty.*must be positive"),
        ({"freeze_qty": {"NIFTY": -1}}, r"guardrails\.freeze_qty.*must be positive"),
        ({"max_orders_per_day": 5000}, r"guardrails\.max_orders_per_day"),
        ({"allowlist": {"bonds": ["X"]}}, r"guardrails\.allowlist"),
    ],
)
def test_bad_guardrails_name_the_key(tmp_path: Path, guardrails: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(data_dir=tmp_path, guardrails=guardrails)


def test_guardrails_reach_the_services(tmp_path: Path) -> None:
    from tron.bootstrap import service_config

    s = load_settings(
        data_dir=tmp_path, guardrails={"allowlist": {"stocks": ["INFY"]}, "max_orders_per_day": 50}
    )
    g = service_config(s).guardrails
    assert g.allowlist == {"stocks": frozenset({"INFY"})} and g.max_orders_per_day == 50
    assert g.freeze_qty == {"NIFTY": 1800}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"template": "straddle_9"}, r"options\.template.*not one of .*straddle_920"),
        ({"template": "missing.yaml"}, r"options\.template.*missing\.yaml does not exist"),
        (
            {"templates": {"mine": {"legs": [{"side": "SELL", "type": "XX"}]}}},
            r"options\.templates.*mine\.legs\.0\.type",
        ),
        ({"template": "mine", "templates": {"mine": {"legs": "x"}}}, r"options\.templates.*mine\.legs"),
    ],
)
def test_a_bad_options_structure_names_the_key(tmp_path: Path, options: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(data_dir=tmp_path, options=options)


def test_a_template_of_the_config_wins_over_a_shipped_one(tmp_path: Path) -> None:
    from tron.bootstrap import service_config

    mine = {"entry": "09:40", "legs": [{"side": "BUY", "type": "PE", "strike": "ATM", "sl": "20%"}]}
    s = load_settings(
        data_dir=tmp_path, options={"template": "long_option", "templates": {"long_option": mine}}
    )
    spec = service_config(s).structure
    assert spec is not None and spec.legs[0].option_type == "PE" and f"{spec.entry:%H:%M}" == "09:40"
    assert service_config(load_settings(data_dir=tmp_path)).structure is None
