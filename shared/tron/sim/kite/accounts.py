"""Session, user, margins and portfolio routes of the simulated account."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tron.sim.kite.auth import Sessions, checksum
from tron.sim.kite.margins import Margins
from tron.sim.kite.portfolio import Portfolio
from tron.sim.kite.protocol import (
    ORDER_TYPES,
    PRODUCTS,
    KiteError,
    Request,
    as_float,
    fmt,
    input_error,
    opt_int,
)
from tron.sim.kite.venue import Venue


class AccountRoutes:
    """/session, /user and /portfolio. Called under the simulator's lock, after the day was advanced."""

    def __init__(
        self, venue: Venue, sessions: Sessions, user_id: str, portfolio: Portfolio, margins: Margins
    ) -> None:
        self.venue = venue
        self.sessions = sessions
        self.user_id = user_id
        self.portfolio = portfolio
        self.margins = margins

    # ------------------------------------------------------------------ session and user
    def session_token(self, req: Request) -> dict[str, Any]:
        """POST /session/token: exchange a single-use request token (with its checksum) for a session."""
        api_key = req.param("api_key") or ""
        request_token = req.param("request_token") or ""
        check = req.param("checksum") or ""
        if not api_key or not request_token or not check:
            raise input_error("Missing `api_key`, `request_token` or `checksum`.")
        if api_key != self.sessions.api_key:
            raise KiteError(403, "TokenException", "Invalid `api_key`.")
        if check != checksum(api_key, request_token, self.sessions.api_secret):
            raise KiteError(403, "TokenException", "Invalid `checksum`.")
        if request_token in self.sessions.used_request_tokens:
            raise KiteError(403, "TokenException", "Token is invalid or has expired.")
        self.sessions.used_request_tokens.add(request_token)
        s = self.sessions.create(self.venue.clock.now())
        return {
            **self._user(),
            "api_key": self.sessions.api_key,
            "access_token": s.access_token,
            "public_token": s.public_token,
            "refresh_token": "",
            "enctoken": "",
            "login_time": fmt(s.login_time),
        }

    def session_delete(self, req: Request) -> bool:
        """DELETE /session/token: log the access token out."""
        token = req.param("access_token") or ""
        if req.param("api_key") != self.sessions.api_key or not token:
            raise input_error("Missing `api_key` or `access_token`.")
        self.sessions.invalidate(token)
        return True

    def _user(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "user_type": "individual",
            "email": "sim@example.invalid",
            "user_name": "TRON Simulator",
            "user_shortname": "TRON",
            "broker": "ZERODHA",
            "exchanges": ["NSE", "NFO"],
            "products": list(PRODUCTS),
            "order_types": list(ORDER_TYPES),
            "avatar_url": None,
            "meta": {"demat_consent": "physical"},
        }

    def profile(self, req: Request) -> dict[str, Any]:
        """GET /user/profile."""
        return self._user()

    def user_margins(self, req: Request, segment: str | None = None) -> dict[str, Any]:
        """GET /user/margins[/segment]: cash, margin used and M2M (the commodity segment is disabled)."""
        if segment is not None and segment not in ("equity", "commodity"):
            raise input_error("Invalid segment. Valid segments are `equity` and `commodity`.")
        net, utilised, realised, unrealised = self.margins.available()
        option_premium = Decimal(0)
        for p in self.portfolio.positions.values():
            if p.inst.is_option and p.quantity > 0:
                option_premium += p.average_price * p.quantity
        equity: dict[str, Any] = {
            "enabled": True,
            "net": as_float(net),
            "available": {
                "adhoc_margin": 0,
                "cash": as_float(self.portfolio.capital + realised),
                "opening_balance": as_float(self.portfolio.capital),
                "live_balance": as_float(net),
                "collateral": 0,
                "intraday_payin": 0,
            },
            "utilised": {
                "debits": as_float(utilised - min(unrealised, Decimal(0))),
                "exposure": 0,
                "m2m_realised": as_float(-realised),
                "m2m_unrealised": as_float(-unrealised),
                "option_premium": as_float(option_premium),
                "payout": 0,
                "span": as_float(utilised),
                "holding_sales": 0,
                "turnover": 0,
                "liquid_collateral": 0,
                "stock_collateral": 0,
                "delivery": 0,
            },
        }
        commodity = {
            "enabled": False,
            "net": 0,
            "available": {k: 0 for k in equity["available"]},
            "utilised": {k: 0 for k in equity["utilised"]},
        }
        if segment == "equity":
            return equity
        if segment == "commodity":
            return commodity
        return {"equity": equity, "commodity": commodity}

    # ------------------------------------------------------------------ portfolio
    def positions(self, req: Request) -> dict[str, Any]:
        """GET /portfolio/positions: net (with overnight quantities) and today's, marked to the last price."""
        self.margins.pnl()
        rows = [p.to_kite() for p in self.portfolio.positions.values()]
        day = []
        for p in self.portfolio.positions.values():
            if p.buy_quantity + p.sell_quantity > abs(p.overnight_quantity):  # traded today
                r = p.to_kite()
                r["overnight_quantity"] = 0
                day.append(r)
        return {"net": rows, "day": day}

    def convert(self, req: Request) -> bool:
        """PUT /portfolio/positions: convert (part of) an open position between products: MIS ↔ CNC for
        equity, MIS ↔ NRML for F&O; refused (and undone) if the funds do not cover it."""
        names = (
            "exchange",
            "tradingsymbol",
            "transaction_type",
            "position_type",
            "quantity",
            "old_product",
            "new_product",
        )
        v = {n: req.param(n) for n in names}
        missing = [n for n in names if not v[n]]
        if missing:
            raise input_error(f"Missing `{missing[0]}`.")
        inst = self.venue.catalog().by_key.get(f"{v['exchange']}:{v['tradingsymbol']}")
        if inst is None:
            raise input_error(f"Invalid `tradingsymbol`: {v['exchange']}:{v['tradingsymbol']}.")
        qty = opt_int(v["quantity"], "quantity") or 0
        old, new = str(v["old_product"]), str(v["new_product"])
        allowed = (
            {("MIS", "NRML"), ("NRML", "MIS")} if inst.is_derivative else {("MIS", "CNC"), ("CNC", "MIS")}
        )
        if (old, new) not in allowed:
            raise input_error(f"Cannot convert {old} to {new} for {inst.key}.")
        pos = self.portfolio.positions.get((inst.exchange, inst.tradingsymbol, old))
        side = v["transaction_type"]
        have = pos.open_quantity if pos else 0
        if qty <= 0 or side not in ("BUY", "SELL") or (have > 0) != (side == "BUY") or qty > abs(have):
            raise input_error(f"No open {side} {old} position of {qty} in {inst.key} to convert.")
        if inst.is_derivative and qty % inst.lot_size:
            raise input_error(f"Quantity should be a multiple of the lot size ({inst.lot_size}).")
        assert pos is not None
        avg = pos.take_out(qty)
        target = self.portfolio.position(inst, new)
        target.apply(str(side), qty, avg)
        if self.margins.available()[0] < 0:
            target.take_out(qty)
            pos.apply(str(side), qty, avg)
            raise input_error("Insufficient funds to convert the position.")
        return True

    def holdings(self, req: Request) -> list[dict[str, Any]]:
        """GET /portfolio/holdings: delivery holdings at today's last price."""
        out = []
        for sym, h in self.portfolio.holdings.items():
            inst = h.inst
            last = self.margins.ltp(inst)
            avg = h.cost / h.quantity if h.quantity else Decimal(0)
            out.append(
                {
                    "tradingsymbol": sym,
                    "exchange": inst.exchange,
                    "instrument_token": inst.instrument_token,
                    "isin": "",
                    "product": "CNC",
                    "price": 0,
                    "quantity": h.quantity,
                    "used_quantity": 0,
                    "t1_quantity": 0,
                    "realised_quantity": h.quantity,
                    "authorised_quantity": 0,
                    "authorised_date": None,
                    "opening_quantity": h.quantity,
                    "collateral_quantity": 0,
                    "collateral_type": "",
                    "discrepancy": False,
                    "average_price": as_float(avg),
                    "last_price": float(last),
                    "close_price": float(last),
                    "pnl": as_float((last - avg) * h.quantity),
                    "day_change": 0.0,
                    "day_change_percentage": 0.0,
                }
            )
        return out
