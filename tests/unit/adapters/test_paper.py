"""tron.adapters.paper: the paper broker rejects partial lots."""

from __future__ import annotations

from datetime import date

import pytest

from tests.support.days import at, embedded_deps
from tron.domain.models import Asset, OrderIntent, Purpose, Side

DAY = date(2026, 11, 23)


def test_paper_broker_rejects_partial_lots(tmp_path) -> None:
    from tron.ports import OrderRejected

    deps = embedded_deps(tmp_path)
    deps.clock.set(at(10, 0))
    fut = deps.market.instruments(Asset.FUTURES)[1]
    bad = OrderIntent(
        "x", DAY, Asset.FUTURES, fut.symbol, "NFO", Side.BUY, 64, Purpose.ENTRY, "orb", "", at(9, 59),
        segment="futures",
    )  # fmt: skip
    with pytest.raises(OrderRejected, match="not a multiple of the lot size 65"):
        deps.broker.place(bad)
    ok = OrderIntent(**{**bad.__dict__, "qty": 130})
    assert deps.broker.place(ok).filled_qty == 130
