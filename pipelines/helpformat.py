"""One ``--help`` style for every ``pagemill`` command."""

from __future__ import annotations

import argparse


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
