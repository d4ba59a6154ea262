"""tron.domain.models: deterministic intent ids, Kite-sized order tags, intent messages that validate."""

from __future__ import annotations

from datetime import date

import pytest

from tests.support.days import at
from tron.domain.models import Asset, OrderIntent, Purpose, Side, intent_id, order_tag

DAY = date(2026, 11, 23)


def test_intent_ids_are_deterministic_and_tags_fit_kite() -> None:
    a = intent_id(DAY, Asset.STOCKS, "orb", "M&M", Purpose.ENTRY, at(9, 31))
    assert a == intent_id(DAY, Asset.STOCKS, "orb", "M&M", Purpose.ENTRY, at(9, 31))
    assert a == "20261123-stocks-orb-M&M-entry-0931"
    tag = order_tag(a)
    assert len(tag) <= 20 and tag.isalnum() and tag != order_tag(a + "x")


def test_intent_messages_validate() -> None:
    it = OrderIntent(
        "id", DAY, Asset.STOCKS, "INFY", "NSE", Side.BUY, 10, Purpose.ENTRY, "orb", "r", at(9, 40)
    )
    assert OrderIntent.from_dict(it.to_dict()) == it
    with pytest.raises(ValueError, match="missing field 'qty'"):
        OrderIntent.from_dict({k: v for k, v in it.to_dict().items() if k != "qty"})
    with pytest.raises(ValueError, match="qty must be positive"):
        OrderIntent.from_dict({**it.to_dict(), "qty": 0})
    with pytest.raises(ValueError, match="timezone"):
        OrderIntent.from_dict({**it.to_dict(), "decided_at": "2026-11-23T09:40:00"})
