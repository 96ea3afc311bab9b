"""The command line of the contract: python -m dashboard.contract (see dashboard.contract)."""

from __future__ import annotations

import argparse
import difflib
import sys
from collections.abc import Sequence

from dashboard.contract.document import render
from dashboard.contract.rules import CONTRACT_PATH, REPO_DIR


def suggest(name: str, choices: Sequence[str]) -> str:
    """' (did you mean X?)' for a close match, else ''."""
    close = difflib.get_close_matches(name.lower(), list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dashboard.contract", description="Write the data contract document."
    )
    shown = CONTRACT_PATH.relative_to(REPO_DIR) if CONTRACT_PATH.is_relative_to(REPO_DIR) else CONTRACT_PATH
    parser.add_argument("--check", action="store_true", help=f"exit 1 if {shown} is stale (for CI and tests)")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = CONTRACT_PATH.read_text(encoding="utf-8") if CONTRACT_PATH.exists() else None
        if current != text:
            print(f"error: {shown} is stale: run `python -m dashboard.contract` and commit it", file=sys.stderr)
            return 1
        print(f"{shown} is up to date.")
        return 0
    CONTRACT_PATH.parent.mkdir(parents=True, exist_ok=True)
    CONTRACT_PATH.write_text(text, encoding="utf-8")
    print(f"Wrote {shown}.")
    return 0
