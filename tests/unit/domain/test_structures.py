"""tron.domain.structures: the spec of a multi-leg structure (parsed with the key named on a bad one), the
strikes its legs pick, the structure's greeks, and its worst case (naked shorts refused, defined risk)."""

from __future__ import annotations

from datetime import date, time
from decimal import Decimal
from typing import Any

import pytest

from tests.support.days import at
from tron.config.settings import shipped_templates
from tron.domain.charges import order_charges
from tron.domain.contracts import RATE, days_to_expiry, implied_vol
from tron.domain.models import Asset, Instrument, Side
from tron.domain.options import greeks
from tron.domain.structures import (
    Amount,
    HeldLeg,
    Lock,
    Move,
    PlannedLeg,
    Reentry,
    StrikeRule,
    Trail,
    Wait,
    defined_risk,
    expiry_for,
    naked_short,
    parse_spec,
    pick_strike,
    structure_greeks,
    structure_worst_loss,
)

DAY = date(2026, 11, 23)
EXPIRY = date(2026, 12, 1)
SPOT = 24_410.0


def option(kind: str, strike: float, expiry: date = EXPIRY) -> Instrument:
    return Instrument(
        f"NIFTY{expiry:%y%m%d}{strike:.0f}{kind}",
        "NFO",
        Asset.OPTIONS,
        lot_size=65,
        segment="options",
        expiry=expiry,
        strike=strike,
        option_type=kind,
        underlying="NIFTY 50",
    )


CHAIN = [option(k, 24_000 + 50 * n) for n in range(17) for k in ("CE", "PE")]


def premium(i: Instrument) -> float:
    days = days_to_expiry(at(9, 20), EXPIRY)
    return round(greeks(i.option_type, SPOT, i.strike or 0, days, RATE, 0.13).price, 2)


PREMIUMS = {i.symbol: premium(i) for i in CHAIN}


# ---------------------------------------------------------------------------------------------- the spec
@pytest.mark.parametrize(
    "name", ["straddle_920", "strangle_30sl", "iron_condor", "bull_call_spread", "long_option"]
)
def test_every_shipped_template_parses_and_round_trips(name: str) -> None:
    spec = parse_spec(name, shipped_templates()[name])
    assert parse_spec(name, spec.to_doc()) == spec


def test_a_spec_reads_as_traders_write_it() -> None:
    spec = parse_spec(
        "s",
        {
            "entry": "09:20",
            "exit": "15:10",
            "mtm_sl": 4000,
            "legs": [
                {"side": "sell", "type": "ce", "strike": "OTM2", "sl": "30%", "target": 40},
                {"side": "SELL", "type": "PE", "strike": {"delta": 0.2}, "lots": 2, "expiry": "next"},
            ],
        },
    )
    ce, pe = spec.legs
    assert (ce.side, ce.option_type, ce.strike, ce.sl and ce.sl.of(200), ce.target and ce.target.of(200)) == (
        Side.SELL,
        "CE",
        StrikeRule("atm", 2),
        60.0,
        40.0,
    )
    assert (pe.strike, pe.lots, pe.expiry) == (StrikeRule("delta", 0.2), 2, "next")
    assert spec.mtm_sl == Amount(Decimal("4000.00")) and spec.window_end.isoformat() == "09:25:00"
    assert spec.shorts() == [0, 1] and spec.hedges() == []


def test_the_management_rules_read_as_traders_write_them() -> None:
    spec = parse_spec(
        "s",
        {
            "mtm_sl": "1.5%",
            "lock": {"at": 3000, "keep": 1000, "every": 500, "by": 250},
            "move_sl_to_cost": True,
            "reentry": {"on": "sl", "mode": "at_cost", "max": 2, "until": "14:00"},
            "legs": [
                {"side": "SELL", "type": "CE", "sl": "30%", "trail": {"every": "10%", "by": "5%"}},
                {"side": "SELL", "type": "PE", "sl": 40, "wait": "-10%"},
            ],
        },
    )
    assert spec.mtm_sl == Amount(Decimal("1.5"), True) and spec.mtm_sl.of(Decimal("200000")) == Decimal(
        "3000.00"
    )
    assert spec.lock == Lock(
        Amount(Decimal("3000.00")),
        Amount(Decimal("1000.00")),
        Amount(Decimal("500.00")),
        Amount(Decimal("250.00")),
    )
    assert spec.move_sl_to_cost and spec.reentry == Reentry("sl", "at_cost", 2, time(14, 0))
    assert spec.legs[0].trail == Trail(Move(10, True), Move(5, True))
    assert spec.legs[1].wait == Wait(Move(10, True), up=False) and spec.legs[1].sl == Move(40)


LEG = {"side": "SELL", "type": "CE", "strike": "ATM", "sl": "25%"}


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"legs": []}, r"s\.legs: 1 to 6 legs"),
        ({"legs": [LEG], "stop": 5}, r"s: unknown key\(s\) stop"),
        ({"legs": [{**LEG, "side": "SHORT"}]}, r"s\.legs\.0\.side: BUY or SELL"),
        ({"legs": [{**LEG, "type": "FUT"}]}, r"s\.legs\.0\.type: CE or PE"),
        ({"legs": [{**LEG, "strike": "OTM-1"}]}, r"s\.legs\.0\.strike: ATM, OTMn or ITMn"),
        ({"legs": [{**LEG, "strike": {"delta": 1.5}}]}, r"s\.legs\.0\.strike"),
        ({"legs": [{**LEG, "strike": {"premium": 50, "delta": 0.2}}]}, r"s\.legs\.0\.strike"),
        ({"legs": [{**LEG, "sl": "-5%"}]}, r"s\.legs\.0\.sl: premium points"),
        ({"legs": [{**LEG, "sl": "25 %x"}]}, r"s\.legs\.0\.sl"),
        ({"legs": [{**LEG, "lots": 0}]}, r"s\.legs\.0\.lots: a whole number"),
        ({"legs": [{**LEG, "lots": True}]}, r"s\.legs\.0\.lots"),
        ({"legs": [{**LEG, "expiry": "weekly"}]}, r"s\.legs\.0\.expiry: one of current, next, monthly"),
        ({"legs": [{**LEG, "tag": "x"}]}, r"s\.legs\.0: unknown key\(s\) tag"),
        ({"legs": [LEG], "entry": "9.20"}, r"s\.entry: a time HH:MM"),
        ({"legs": [LEG], "entry": "15:00", "exit": "14:00"}, r"needs 09:15 <= entry < entry_until <= exit"),
        ({"legs": [LEG], "exit": "15:25"}, r"TRON's F&O square-off starts then"),
        ({"legs": [LEG], "mtm_sl": -100}, r"s\.mtm_sl: positive rupees"),
        ({"legs": [LEG], "mtm_target": "lots"}, r"s\.mtm_target: rupees"),
        ({"legs": [LEG], "expiry_day": "yes"}, r"s\.expiry_day: true or false"),
        ({"legs": [LEG, LEG]}, r"two legs pick the same contract"),
        (
            {"legs": [LEG, {"side": "BUY", "type": "CE", "strike": "OTM4", "sl": "50%"}]},
            r"s\.legs\.1: a bought CE covering a sold one has no stop or target of its own",
        ),
        ("legs", r"s: a structure is a mapping"),
        ({"legs": [LEG], "mtm_sl": "150%"}, r"s\.mtm_sl: rupees, or percent of the structure's margin"),
        ({"legs": [LEG], "lock": {"at": 1000}}, r"s\.lock: \{at: MTM, keep: MTM"),
        ({"legs": [LEG], "lock": {"at": 1000, "keep": 2000}}, r"s\.lock\.keep: below at"),
        ({"legs": [LEG], "lock": {"at": 1000, "keep": 500, "every": 100}}, r"every and by go together"),
        ({"legs": [LEG], "reentry": {"mode": "twice"}}, r"s\.reentry\.mode: immediate, at_cost or reverse"),
        ({"legs": [LEG], "reentry": {"max": 11}}, r"s\.reentry\.max: 1–10"),
        ({"legs": [LEG], "reentry": {"on": "stop"}}, r"s\.reentry\.on: sl, target or any"),
        ({"legs": [{**LEG, "trail": {"every": "10%"}}]}, r"s\.legs\.0\.trail: \{every"),
        (
            {"legs": [{**LEG, "sl": None, "trail": {"every": 5, "by": 2}}]},
            r"trail: a trailing stop needs the leg's sl",
        ),
        ({"legs": [{**LEG, "wait": "10%"}]}, r"s\.legs\.0\.wait: the premium's move up or down"),
    ],
)
def test_a_bad_spec_names_the_key(doc: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_spec("s", doc)


# ---------------------------------------------------------------------------------------------- strikes
def leg(strike: Any, kind: str = "CE") -> Any:
    return parse_spec("s", {"legs": [{"side": "SELL", "type": kind, "strike": strike, "sl": "20%"}]}).legs[0]


@pytest.mark.parametrize(
    ("strike", "kind", "want"),
    [
        ("ATM", "CE", 24_400),
        ("ATM", "PE", 24_400),
        ("OTM2", "CE", 24_500),
        ("OTM2", "PE", 24_300),
        ("ITM1", "CE", 24_350),
        ("ITM1", "PE", 24_450),
        ({"spot_pct": 1}, "CE", 24_650),  # 24,654 → the strike nearest
        ({"spot_pct": -1}, "PE", 24_150),
    ],
)
def test_strike_rules_pick_the_listed_strike(strike: Any, kind: str, want: float) -> None:
    inst = pick_strike(leg(strike, kind), CHAIN, PREMIUMS, SPOT, at(9, 20))
    assert inst is not None and (inst.option_type, inst.strike) == (kind, want)


def test_a_premium_rule_picks_the_nearest_premium_and_a_delta_rule_the_nearest_delta() -> None:
    inst = pick_strike(leg({"premium": 60}), CHAIN, PREMIUMS, SPOT, at(9, 20))
    calls = [i for i in CHAIN if i.option_type == "CE"]
    assert inst == min(calls, key=lambda i: abs(PREMIUMS[i.symbol] - 60))
    inst = pick_strike(leg({"delta": 0.25}, "PE"), CHAIN, PREMIUMS, SPOT, at(9, 20))
    days = days_to_expiry(at(9, 20), EXPIRY)

    def d(i: Instrument) -> float:
        vol = implied_vol("PE", SPOT, i.strike or 0, days, PREMIUMS[i.symbol])
        return abs(greeks("PE", SPOT, i.strike or 0, days, RATE, vol).delta)

    puts = [i for i in CHAIN if i.option_type == "PE"]
    assert inst == min(puts, key=lambda i: abs(d(i) - 0.25)) and 0.15 < d(inst) < 0.35


def test_a_strike_beyond_the_listed_chain_is_none() -> None:
    assert pick_strike(leg("OTM12"), CHAIN, PREMIUMS, SPOT, at(9, 20)) is None
    assert pick_strike(leg({"premium": 50}), CHAIN, {}, SPOT, at(9, 20)) is None  # no premium to read


def test_expiries_skip_today_unless_the_structure_trades_on_expiry_days() -> None:
    listed = [date(2026, 12, 1), date(2026, 12, 8), date(2026, 12, 29)]
    today = date(2026, 12, 1)
    assert expiry_for("current", listed, date(2026, 12, 29), today, False) == date(2026, 12, 8)
    assert expiry_for("current", listed, date(2026, 12, 29), today, True) == today
    assert expiry_for("next", listed, date(2026, 12, 29), today, False) == date(2026, 12, 29)
    assert expiry_for("monthly", listed, date(2026, 12, 29), today, False) == date(2026, 12, 29)
    with pytest.raises(ValueError, match="no next expiry"):
        expiry_for("next", listed[:1], None, date(2026, 11, 23), False)


# ---------------------------------------------------------------------------------------------- greeks and risk
def planned(side: Side, kind: str, strike: float, stop_pct: float | None = None) -> PlannedLeg:
    i = option(kind, strike)
    p = PREMIUMS[i.symbol]
    stop = None if stop_pct is None else round(p * (1 - side.sign * stop_pct / 100), 2)
    return PlannedLeg(i, side, 65, p, stop)


def test_the_structure_greeks_are_the_sum_of_its_legs() -> None:
    legs = [HeldLeg(option("CE", 24_400), -65, 180.0), HeldLeg(option("PE", 24_300), -130, 120.0)]
    g = structure_greeks(legs, SPOT, at(11, 0))
    days = days_to_expiry(at(11, 0), EXPIRY)
    want = {k: 0.0 for k in ("delta", "gamma", "theta", "vega")}
    for h in legs:
        k = h.inst.strike or 0
        one = greeks(
            h.inst.option_type, SPOT, k, days, RATE, implied_vol(h.inst.option_type, SPOT, k, days, h.premium)
        )
        for name in want:
            want[name] += h.qty * getattr(one, name)
    assert g.to_doc() == {k: round(v, 4) for k, v in want.items()}
    assert (
        g.theta > 0 and g.vega < 0 and g.gamma < 0
    )  # a short premium structure earns decay, fears volatility


def test_a_short_without_a_stop_or_a_cover_is_naked() -> None:
    straddle = [planned(Side.SELL, "CE", 24_400), planned(Side.SELL, "PE", 24_400)]
    assert naked_short(straddle) is not None
    with pytest.raises(ValueError, match="sold without a stop"):
        structure_worst_loss(straddle, DAY, {})
    stopped = [planned(Side.SELL, "CE", 24_400, 25), planned(Side.SELL, "PE", 24_400, 25)]
    assert naked_short(stopped) is None
    condor = [
        planned(Side.BUY, "CE", 24_700),
        planned(Side.BUY, "PE", 24_100),
        planned(Side.SELL, "CE", 24_500),
        planned(Side.SELL, "PE", 24_300),
    ]
    assert naked_short(condor) is None and naked_short(condor[1:]) is not None


def charges_in(legs: list[PlannedLeg]) -> Decimal:
    return sum(
        (order_charges("options", p.side, Decimal(str(p.premium)), p.qty, DAY).total for p in legs),
        Decimal(0),
    )


def test_a_condor_loses_at_most_its_wider_wing_less_the_credit() -> None:
    condor = [
        planned(Side.BUY, "CE", 24_700),
        planned(Side.BUY, "PE", 24_100),
        planned(Side.SELL, "CE", 24_500),
        planned(Side.SELL, "PE", 24_300),
    ]
    credit = sum(Decimal(str(p.premium)) * 65 * (1 if p.side is Side.SELL else -1) for p in condor)
    assert defined_risk(condor, DAY) == (200 * 65 - credit + charges_in(condor)).quantize(Decimal("0.01"))
    assert structure_worst_loss(condor, DAY, {}) == defined_risk(condor, DAY)


def test_a_debit_spread_loses_at_most_its_debit() -> None:
    spread = [planned(Side.BUY, "CE", 24_400), planned(Side.SELL, "CE", 24_600)]
    debit = Decimal(str(spread[0].premium - spread[1].premium)) * 65
    assert defined_risk(spread, DAY) == (debit + charges_in(spread)).quantize(Decimal("0.01"))


def test_stopped_legs_lose_their_stops_and_band_or_the_wings_if_smaller() -> None:
    stopped = [planned(Side.SELL, "CE", 24_400, 25), planned(Side.SELL, "PE", 24_400, 25)]
    band = {p.inst.symbol: Decimal("2.00") for p in stopped}
    worst = structure_worst_loss(stopped, DAY, band)
    exits = sum(
        (order_charges("options", Side.BUY, Decimal(str(p.stop)), 65, DAY).total for p in stopped), Decimal(0)
    )
    at_stops = sum((Decimal(str(p.stop)) - Decimal(str(p.premium)) + 2) * 65 for p in stopped if p.stop)
    assert worst == (at_stops + charges_in(stopped) + exits).quantize(Decimal("0.01"))
    covered = [*stopped, planned(Side.BUY, "CE", 24_450), planned(Side.BUY, "PE", 24_350)]
    wings = defined_risk(covered, DAY)
    assert wings is not None and structure_worst_loss(covered, DAY, band) <= wings


def test_a_bare_on_key_in_yaml_still_means_on() -> None:
    """YAML 1.1 reads `on:` as true: `reentry: {on: target}` is what the trader wrote."""
    import yaml

    doc = yaml.safe_load("legs: [{side: SELL, type: CE, sl: 20%}]\nreentry: {on: target, mode: immediate}\n")
    spec = parse_spec("s", doc)
    assert spec.reentry == Reentry("target", "immediate", 1, time(14, 30))
    with pytest.raises(ValueError, match=r"s: unknown key\(s\) True"):
        parse_spec("s", {**doc, True: 1})
