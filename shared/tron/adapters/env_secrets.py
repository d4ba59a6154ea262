"""Secrets from the environment (TRON_SECRET_<NAME>), with puts kept in memory for the process."""

from __future__ import annotations

import os


class EnvSecrets:
    def __init__(self, environ: dict[str, str] | None = None) -> None:
        self.environ = os.environ if environ is None else environ
        self._put: dict[str, str] = {}

    @staticmethod
    def var(name: str) -> str:
        return "TRON_SECRET_" + name.upper().replace("-", "_")

    def get(self, name: str) -> str | None:
        return self._put.get(name) or self.environ.get(self.var(name))

    def put(self, name: str, value: str) -> None:
        self._put[name] = value
