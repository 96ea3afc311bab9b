"""The digest rendered: HTML for mail clients (tables, inline styles, nothing loaded from anywhere) and plain text."""

from __future__ import annotations

from pathlib import Path

import jinja2

from dashboard.digest.content import footer_lines, sections, sponsor_names, stale_note, subject
from dashboard.digest.document import BREAK, Bullets, Chip, Link, Run, Table, Tile
from dashboard.digest.model import Digest
from dashboard.formats import CHIP_COLOURS
from dashboard.formats import day as _day

# --- HTML for mail clients ----------------------------------------------------------------------

FONT = "font-family:Arial,Helvetica,sans-serif;"
INK, MUTED, RULE, BRAND = "#263238", "#607d8b", "#e0e6e8", "#0f5c6e"

# The e-mail's HTML comes from a template with autoescape on: every value from the data is written as text.
_TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).resolve().parent / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)
_TEMPLATES.tests.update(
    link=lambda x: isinstance(x, Link),
    chip=lambda x: isinstance(x, Chip),
    table=lambda x: isinstance(x, Table),
    bullets=lambda x: isinstance(x, Bullets),
    tile=lambda x: isinstance(x, Tile),
)
_TEMPLATES.globals.update(
    FONT=FONT, INK=INK, MUTED=MUTED, RULE=RULE, BRAND=BRAND, BREAK=BREAK, CHIP_COLOURS=CHIP_COLOURS
)


def render_html(d: Digest) -> str:
    """The digest as an e-mail-ready HTML document (templates/email.html)."""
    return (
        _TEMPLATES.get_template("email.html").render(
            title=subject(d),
            sponsors=sponsor_names(d),
            as_of=_day(d.as_of),
            since=_day(d.since),
            portfolio_link=d.link("portfolio"),
            stale=stale_note(d),
            sections=sections(d),
            footer=footer_lines(d),
        )
        + "\n"
    )


# --- Plain text, the other half of the e-mail ----------------------------------------------------


def _text_runs(runs: list[Run]) -> str:
    out = []
    for run in runs:
        if isinstance(run, Link):
            out.append(f"{run.text} <{run.href}>")
        elif isinstance(run, Chip):
            out.append(f"[{run.word}]")
        elif run == BREAK:
            out.append("; ")
        else:
            out.append(run)
    return "".join(out).strip()


def render_text(d: Digest) -> str:
    """The digest as plain text (the e-mail's text part), links written out."""
    lines = [
        f"TRIAL PORTFOLIO STATUS — {sponsor_names(d)}",
        f"As of {_day(d.as_of)} · changes since {_day(d.since)}",
        f"Dashboard: {d.link('portfolio')}",
        "",
    ]
    stale = stale_note(d)
    if stale:
        lines += [f"! {stale}", ""]
    for section in sections(d):
        lines.append(section.title.upper() + (f"  <{section.href}>" if section.href else ""))
        for block in section.blocks:
            if isinstance(block, Table):
                for row in block.rows:
                    cells = [_text_runs(c.runs) + (f" — {c.note}" if c.note else "") for c in row]
                    lines.append(
                        "- " + " · ".join(f"{h}: {v}" if i else v for i, (h, v) in enumerate(zip(block.headers, cells)))
                    )
            elif isinstance(block, Bullets):
                lines += ["- " + _text_runs(item) for item in block.items]
            elif block and isinstance(block[0], Tile):
                lines += [f"- {t.label}: {t.value} ({t.note})" for t in block]
            else:
                lines.append(_text_runs(block))
        lines.append("")
    lines += [_text_runs(p) for p in footer_lines(d)]
    return "\n".join(lines) + "\n"
