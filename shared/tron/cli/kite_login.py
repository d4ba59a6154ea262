"""`tron kite-login`: the daily Kite login from a terminal (:func:`cmd_kite_login`)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from tron.cli.args import json_option
from tron.cli.errors import CommandError


def cmd_kite_login(args: argparse.Namespace) -> int:
    """Print the login URL, or exchange ``--request-token`` and store the session; the exit code.

    Without --request-token it prints Kite's login URL for the configured app (the secret kite_api_key,
    else kite.api_key). Log in there; Kite redirects to the app's redirect URL with `?request_token=…`;
    then `tron kite-login --request-token T` exchanges it (api secret from the secret `kite_api_secret`,
    i.e. TRON_SECRET_KITE_API_SECRET on the embedded backend) against kite.root and stores the access token
    as a new version of `kite_access_token` (Secret Manager on the gcp backend). On the embedded backend a
    stored secret lives only in this process, so --print-token prints an
    `export TRON_SECRET_KITE_ACCESS_TOKEN=…` line for your shell; nothing else ever prints the token. A
    failed exchange is a CommandError (exit 2 for a refused token, 1 otherwise), unless --json prints it.
    """
    import logging
    import tempfile

    from tron.adapters.clock import RealClock
    from tron.adapters.kite import app_api_key
    from tron.bootstrap import embedded, gcp
    from tron.config.settings import load_settings
    from tron.services.kite_login import ACCESS_TOKEN_SECRET, login, login_url

    logging.getLogger("tron").addHandler(logging.NullHandler())  # this command prints its own outcome
    settings = load_settings()
    with tempfile.TemporaryDirectory() as tmp:
        deps: Any = (
            gcp(settings, RealClock())
            if settings.backend == "gcp"
            else embedded(settings, root=Path(tmp), log_to_archive=False)[0]
        )
        if not args.request_token:
            print(
                f"Log in to Kite here, then run `tron kite-login --request-token <request_token>`:\n"
                f"{login_url(app_api_key(deps.secrets, settings.kite.api_key))}"
            )
            return 0
        status, body = login(deps, args.request_token)
        token = deps.secrets.get(ACCESS_TOKEN_SECRET) if status == 200 else None
    if args.json:
        print(json.dumps(body))
    elif status == 200:
        print(
            f"Kite login for {body['user_id']}: access token stored as {body['stored_as']} "
            f"({settings.backend} backend), valid until {body['valid_until']}"
        )
    else:
        raise CommandError(f"kite login failed: {body['error']}", 2 if status == 400 else 1)
    if status == 200 and args.print_token and settings.backend == "embedded":
        print(f"export TRON_SECRET_KITE_ACCESS_TOKEN={token}")
    return 0 if status == 200 else (2 if status == 400 else 1)


def register(sub: Any) -> None:
    """Add `tron kite-login` to the tron CLI."""
    p = sub.add_parser(
        "kite-login",
        parents=[json_option("print the answer as JSON")],
        help="the daily Kite login: print the login URL, or store a session",
    )
    p.add_argument("--request-token", help="the request_token Kite put on the redirect URL")
    p.add_argument(
        "--print-token",
        action="store_true",
        help="embedded backend: print an export line with the access token (it is kept nowhere else)",
    )
    p.set_defaults(func=cmd_kite_login)
