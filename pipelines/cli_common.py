"""What the ``pagemill`` commands share on their command lines: one ``--help`` style, and the
options that open encrypted PDFs (``run`` reads them; ``eval`` reads them again)."""

from __future__ import annotations

import argparse
from collections.abc import Callable

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_STRICT = 3
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what shells report for Ctrl-C


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Each option's default in its help, unless the help already says what the default is or
    there is none worth saying (``None``, or an on/off flag): "(default: None)" after
    "(default: one per CPU)" reads as a contradiction. Descriptions and epilogs keep their line
    breaks (preset lists, truth layouts, examples)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if "(default:" in text or action.default is None or isinstance(action.default, bool):
            return text
        return super()._get_help_string(action)


def add_password_options(parser: argparse.ArgumentParser, description: str | None = None) -> None:
    """``--password``, ``--password-file`` and ``--password-map`` (resolved with
    :func:`pipelines.config.passwords`)."""
    secrets = parser.add_argument_group("encrypted PDFs", description)
    secrets.add_argument(
        "--password",
        default=None,
        help="password for encrypted PDFs (prefer --password-file: argv is visible)",
    )
    secrets.add_argument(
        "--password-file",
        default=None,
        help="file whose first line is the password (default: $PAGEMILL_PASSWORD if set)",
    )
    secrets.add_argument(
        "--password-map",
        default=None,
        metavar="JSON",
        help='per-document passwords: a JSON file of {"pattern": "password"}; a shell pattern '
        'matches the path or its end ("invoices/*.pdf", "report.pdf"); first match wins, other '
        "files get the password above",
    )


def number(
    kind: type[int] | type[float] = int, low: float | None = None, high: float | None = None
) -> Callable[[str], int | float]:
    """An argparse ``type`` that also checks the range, so ``--dpi -5`` is a usage error (exit 2)
    before any work, not error rows in the output."""

    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected {'a whole number' if kind is int else 'a number'}, got {text!r}"
            ) from None
        if (
            value != value
            or (low is not None and value < low)
            or (high is not None and value > high)
        ):
            if low is not None and high is not None:
                bounds = f"between {low:g} and {high:g}"
            elif low is not None:
                bounds = f"at least {low:g}"
            else:
                bounds = f"at most {high:g}"
            raise argparse.ArgumentTypeError(f"must be {bounds}, got {text}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its own messages
    return parse


def add_price_options(parser: argparse.ArgumentParser | argparse._ArgumentGroup, what: str) -> None:
    """``--price-per-core-hour`` / ``--price-per-gpu-hour``, shared by ``run`` and ``status``."""
    parser.add_argument(
        "--price-per-core-hour",
        type=number(float, 0),
        default=None,
        metavar="PRICE",
        help=f"what a CPU core-hour costs you: {what}",
    )
    parser.add_argument(
        "--price-per-gpu-hour",
        type=number(float, 0),
        default=None,
        metavar="PRICE",
        help="what a GPU-hour costs you (with model backends on GPUs)",
    )
