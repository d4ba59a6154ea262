"""Order postbacks with Kite's checksum."""

from __future__ import annotations

from decimal import Decimal

from tests.support.kite_client import place
from tests.support.kite_sim import running_kite_sim
from tron.sim.kite.engine import Liquidity


def test_postbacks_carry_kites_checksum() -> None:
    import hashlib
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    got: list[dict] = []

    class Receiver(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            got.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/postback"
        with running_kite_sim(
            postback_url=url, liquidity=Liquidity(equity=Decimal("100000")), capital=Decimal("50000000")
        ) as ks:
            kite = ks.client()
            book = sum(a["quantity"] for a in kite.quote("NSE:INFY")["NSE:INFY"]["depth"]["sell"])
            partial = place(kite, qty=book + 50)
            rejected = place(kite, qty=1, side="SELL", product="CNC")  # RMS: no holdings to sell (REJECTED)
            assert ks.sim.postbacks is not None and ks.sim.postbacks.drain()
            ks.advance(minutes=1)
            kite.orders()
            assert ks.sim.postbacks.drain()
    finally:
        server.shutdown()
        server.server_close()
    by = [(p["order_id"], p["status"]) for p in got]
    assert by == [(partial, "UPDATE"), (rejected, "REJECTED"), (partial, "COMPLETE")]
    for p in got:
        expected = hashlib.sha256((p["order_id"] + p["order_timestamp"] + "sim-secret").encode()).hexdigest()
        assert p["checksum"] == expected and p["app_id"] == "sim" and p["user_id"] == "SIM001"
    assert got[0]["unfilled_quantity"] == 50 and got[-1]["filled_quantity"] == book + 50
