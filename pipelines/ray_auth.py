"""Ray 2.60's token authentication, from a client's side.

A head started with ``ray start --head`` turns token authentication on when a token exists on
that machine (``~/.ray/auth_token``, which every local ``ray.init()`` writes), and Ray's own
clients send the token only when ``RAY_AUTH_MODE=token`` is set: a client given an explicit
address never turns it on by itself. So ``ray job submit --address ...`` and ``ray.init(address=
...)`` against a default head fail until the user finds that variable. pagemill's clients
(``run --address``, ``submit``) turn token mode on whenever a token is at hand and the user has
not chosen a mode; a server without authentication ignores the token, so this costs nothing when
auth is off. Without a token, a rejection is explained: where the token is and how to pass it.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from pathlib import Path

MODE = "RAY_AUTH_MODE"
TOKEN = "RAY_AUTH_TOKEN"
TOKEN_PATH = "RAY_AUTH_TOKEN_PATH"
HOW_TO = (
    f"`ray get-auth-token` on the head prints its token: pass it as {TOKEN}=... (or "
    f"{TOKEN_PATH}=FILE, or copy it to ~/.ray/auth_token); a head started with "
    f"{MODE}=disabled needs none"
)
# Ray logs a warning when a local cluster turns token auth on by default: ours is private to the
# run, so that warning says nothing the user can act on.
_SETUP_LOGGER = "ray._private.authentication.authentication_token_setup"


def default_token_path() -> Path:
    return Path.home() / ".ray" / "auth_token"


def token_available(environ: MutableMapping[str, str] = os.environ) -> bool:
    """A token is where Ray's loader looks: the variable, the file it names, the default file."""
    if environ.get(TOKEN, "").strip():
        return True
    named = environ.get(TOKEN_PATH)
    path = Path(named) if named else default_token_path()
    try:
        return bool(path.read_text(encoding="utf-8").strip())
    except OSError:
        return False


def prepare_client(environ: MutableMapping[str, str] = os.environ) -> str:
    """Before connecting to a cluster by address: turn token mode on when a token is at hand and
    the user chose no mode. Returns the mode in effect (``token`` or ``disabled``)."""
    chosen = environ.get(MODE)
    if chosen:
        return chosen.lower()
    if token_available(environ):
        environ[MODE] = "token"
        if environ is os.environ:
            _refresh_ray_config()
        return "token"
    return "disabled"


def _refresh_ray_config() -> None:
    """Ray reads ``RAY_AUTH_MODE`` into a cached config when ``ray`` is imported; what Ray does
    itself when it turns token mode on for a new local cluster (``_enable_token_auth``) is to
    re-read it, so do the same."""
    if "ray._raylet" in sys.modules:
        from ray._raylet import Config

        Config.initialize("")


@contextmanager
def quiet_local_setup() -> Iterator[None]:
    """Silence Ray's notice that a new local cluster has token authentication on."""
    logger = logging.getLogger(_SETUP_LOGGER)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)
