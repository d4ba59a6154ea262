"""Order postbacks: Kite POSTs an order's JSON to the app's postback URL when it completes, is cancelled or
rejected, or is updated by a partial fill or a modification (status "UPDATE"), with
checksum = sha256(order_id + order_timestamp + api_secret).

Sent from one daemon thread, outside the simulator's lock and in order; a receiver that is down only loses
its postbacks (as with Kite, postbacks are best effort: the order book stays the source of truth)."""

from __future__ import annotations

import hashlib
import json
import queue
import threading
import urllib.request
from typing import Any

SENT_FOR = ("COMPLETE", "CANCELLED", "REJECTED", "UPDATE")


def checksum(order_id: str, order_timestamp: str, api_secret: str) -> str:
    return hashlib.sha256((order_id + order_timestamp + api_secret).encode()).hexdigest()


class Postbacks:
    def __init__(self, url: str, api_key: str, api_secret: str, timeout: float = 5.0) -> None:
        self.url = url
        self.api_key = api_key
        self.api_secret = api_secret
        self.timeout = timeout
        self.sent = 0
        self.failed = 0
        self._queue: queue.Queue[dict[str, Any]] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="kite-sim-postbacks", daemon=True)
        self._thread.start()

    def send(self, order: dict[str, Any], user_id: str, status: str) -> None:
        """Queue a postback for an order as it now is (status is UPDATE for partial fills and modifies)."""
        body = {
            **order,
            "status": status,
            "user_id": user_id,
            "app_id": self.api_key,
            "unfilled_quantity": order["pending_quantity"],
            "checksum": checksum(order["order_id"], order["order_timestamp"] or "", self.api_secret),
        }
        self._queue.put(body)

    def _run(self) -> None:
        while True:
            body = self._queue.get()
            req = urllib.request.Request(
                self.url,
                data=json.dumps(body).encode(),
                headers={"Content-Type": "application/json"},
                method="POST",
            )
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                    resp.read()
                self.sent += 1
            except OSError:
                self.failed += 1
            finally:
                self._queue.task_done()

    def drain(self, timeout: float = 5.0) -> bool:
        """Wait until everything queued has been sent (or failed); False on timeout."""
        done = threading.Event()

        def wait() -> None:
            self._queue.join()
            done.set()

        threading.Thread(target=wait, daemon=True).start()
        return done.wait(timeout)
