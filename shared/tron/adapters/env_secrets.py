"""Secrets from the environment (TRON_SECRET_<NAME>), with puts kept in memory for the process."""

from __future__ import annotations

import os


class EnvSecrets:
    """The Secrets port on environment variables (``os.environ`` unless ``environ`` is given)."""

    def __init__(self, environ: dict[str, str] | None = None) -> None:
        self.environ = os.environ if environ is None else environ
        self._put: dict[str, str] = {}

    @staticmethod
    def var(name: str) -> str:
        """The variable a secret is read from: TRON_SECRET_ + the name upper-cased, "-" as "_"."""
        return "TRON_SECRET_" + name.upper().replace("-", "_")

    def get(self, name: str) -> str | None:
        """A value put in this process, else the environment's, else None (an empty value counts as unset)."""
        return self._put.get(name) or self.environ.get(self.var(name))

    def put(self, name: str, value: str) -> None:
        """Keep the value in memory for this process (the environment is not changed)."""
        self._put[name] = value
