"""The `tron` command: one module per command group, the parser and error rule in app.py."""

from tron.cli.app import main

__all__ = ["main"]
