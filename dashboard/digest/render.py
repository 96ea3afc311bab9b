"""The digest rendered: HTML for mail clients (tables, inline styles, nothing loaded from anywhere) and plain text."""

from __future__ import annotations

from html import escape

from dashboard.digest.content import footer_lines, sections, sponsor_names, stale_note, subject
from dashboard.digest.document import BREAK, Bullets, Chip, Link, Run, Table, Tile
from dashboard.digest.model import Digest
from dashboard.formats import CHIP_COLOURS
from dashboard.formats import day as _day

# --- HTML for mail clients ----------------------------------------------------------------------

FONT = "font-family:Arial,Helvetica,sans-serif;"
INK, MUTED, RULE, BRAND = "#263238", "#607d8b", "#e0e6e8", "#0f5c6e"


def _html_runs(runs: list[Run]) -> str:
    out = []
    for run in runs:
        if isinstance(run, Link):
            out.append(f'<a href="{escape(run.href, quote=True)}" style="color:{BRAND};font-weight:bold;text-decoration:none;">{escape(run.text)}</a>')
        elif isinstance(run, Chip):
            bg, fg = CHIP_COLOURS[run.health]
            out.append(
                f'<span style="background-color:{bg};color:{fg};padding:1px 7px;border-radius:9px;font-size:12px;'
                f'{"white-space:nowrap;" if len(run.word) <= 12 else ""}">'
                f"&#9679;&nbsp;{escape(run.word)}</span>"
            )
        elif run == BREAK:
            out.append("<br>")
        else:
            out.append(escape(run))
    return "".join(out)


def _html_table(table: Table) -> str:
    def align(i: int) -> str:
        return "right" if i in table.numeric else "left"

    head = "".join(
        f'<th align="{align(i)}" style="{FONT}font-size:12px;color:{MUTED};font-weight:bold;text-align:{align(i)};'
        f'padding:6px 3px;border-bottom:2px solid {RULE};">{escape(h)}</th>'
        for i, h in enumerate(table.headers)
    )
    body = []
    for row in table.rows:
        cells = []
        for i, cell in enumerate(row):
            wrap = "overflow-wrap:anywhere;" if table.break_words else ""
            note = f'<br><span style="color:{MUTED};font-size:12px;{wrap}">{escape(cell.note)}</span>' if cell.note else ""
            runs = _html_runs(cell.runs)
            # Only the first column's code (a trial's) never breaks: everything else wraps when the screen is narrow
            # (a phone), and the table layout keeps it on one line where there is room.
            if i == 0:
                runs = f'<span style="white-space:nowrap;">{runs}</span>'
            cells.append(
                f'<td align="{align(i)}" valign="top" style="{FONT}font-size:13px;color:{INK};text-align:{align(i)};'
                f'padding:6px 3px;border-bottom:1px solid {RULE};">{runs}{note}</td>'
            )
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" '
        f'style="border-collapse:collapse;width:100%;margin:4px 0 12px 0;"><tr>{head}</tr>{"".join(body)}</table>'
    )


def _html_tiles(tiles: list[Tile]) -> str:
    # Fluid tiles: three to a row in a wide window, two on a phone (each at least 140 px), with no media query (mail
    # clients drop style sheets): inline blocks that wrap like words.
    cells = "".join(
        f'<div style="display:inline-block;vertical-align:top;box-sizing:border-box;width:32%;min-width:140px;'
        f'margin:0 1% 6px 0;{FONT}padding:10px 8px;border:1px solid {RULE};background-color:#f8fafb;">'
        f'<div style="font-size:11px;color:{MUTED};text-transform:uppercase;letter-spacing:0.5px;">{escape(t.label)}</div>'
        f'<div style="font-size:22px;font-weight:bold;margin:4px 0 2px 0;">'
        f'<a href="{escape(t.href, quote=True)}" style="color:{INK};text-decoration:none;">{escape(t.value)}</a></div>'
        f'<div style="font-size:12px;color:{MUTED};">{escape(t.note)}</div></div>'
        for t in tiles
    )
    return f'<div style="margin:4px 0 6px 0;">{cells}</div>'


def _html_block(block) -> str:
    if isinstance(block, Table):
        return _html_table(block)
    if isinstance(block, Bullets):
        items = "".join(f'<li style="margin:0 0 6px 0;">{_html_runs(item)}</li>' for item in block.items)
        return f'<ul style="{FONT}font-size:14px;line-height:1.45;color:{INK};margin:0 0 4px 0;padding-left:20px;">{items}</ul>'
    if block and isinstance(block[0], Tile):
        return _html_tiles(block)
    return f'<p style="{FONT}font-size:14px;line-height:1.45;color:{INK};margin:6px 0 6px 0;">{_html_runs(block)}</p>'


def render_html(d: Digest) -> str:
    """The digest as an e-mail-ready HTML document."""
    title = subject(d)
    parts = []
    stale = stale_note(d)
    if stale:
        parts.append(
            f'<tr><td style="{FONT}font-size:13px;color:#7a5c00;background-color:#fff4d6;padding:10px 18px;">&#9888; {escape(stale)}</td></tr>'
        )
    for section in sections(d):
        more = (
            f'<td align="right" style="{FONT}font-size:12px;white-space:nowrap;"><a href="{escape(section.href, quote=True)}" '
            f'style="color:{BRAND};text-decoration:none;">Open in the dashboard &#8250;</a></td>'
            if section.href else "<td></td>"
        )
        heading = (
            '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" style="width:100%;"><tr>'
            f'<td style="{FONT}font-size:17px;font-weight:bold;color:{BRAND};padding:0 0 4px 0;">{escape(section.title)}</td>'
            f"{more}</tr></table>"
        )
        body = "".join(_html_block(b) for b in section.blocks)
        parts.append(f'<tr><td style="padding:18px 16px 6px 16px;border-top:1px solid {RULE};">{heading}{body}</td></tr>')
    footer = "".join(
        f'<p style="{FONT}font-size:12px;line-height:1.45;color:{MUTED};margin:0 0 6px 0;">{_html_runs(p)}</p>' for p in footer_lines(d)
    )
    header = (
        f'<tr><td style="{FONT}background-color:{BRAND};color:#ffffff;padding:20px 18px;">'
        f'<div style="font-size:12px;letter-spacing:1px;text-transform:uppercase;color:#cfe3e8;">Trial portfolio status</div>'
        f'<div style="font-size:22px;font-weight:bold;margin:4px 0;color:#ffffff;">{escape(sponsor_names(d) or "No sponsor")}</div>'
        f'<div style="font-size:14px;color:#e6f0f2;">As of {escape(_day(d.as_of))} &middot; changes since {escape(_day(d.since))} &middot; '
        f'<a href="{escape(d.link("portfolio"), quote=True)}" style="color:#ffffff;font-weight:bold;">Open the dashboard</a></div>'
        "</td></tr>"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title></head>"
        f'<body style="margin:0;padding:0;background-color:#eef2f3;">'
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" style="background-color:#eef2f3;">'
        '<tr><td align="center" style="padding:16px 0;">'
        '<table role="presentation" width="720" cellpadding="0" cellspacing="0" border="0" '
        'style="width:100%;max-width:720px;background-color:#ffffff;border:1px solid #dfe5e8;">'
        f"{header}{''.join(parts)}"
        f'<tr><td style="padding:14px 18px 18px 18px;border-top:1px solid {RULE};background-color:#f8fafb;">{footer}</td></tr>'
        "</table></td></tr></table></body></html>\n"
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
    lines = [f"TRIAL PORTFOLIO STATUS — {sponsor_names(d)}", f"As of {_day(d.as_of)} · changes since {_day(d.since)}",
             f"Dashboard: {d.link('portfolio')}", ""]
    stale = stale_note(d)
    if stale:
        lines += [f"! {stale}", ""]
    for section in sections(d):
        lines.append(section.title.upper() + (f"  <{section.href}>" if section.href else ""))
        for block in section.blocks:
            if isinstance(block, Table):
                for row in block.rows:
                    cells = [_text_runs(c.runs) + (f" — {c.note}" if c.note else "") for c in row]
                    lines.append("- " + " · ".join(f"{h}: {v}" if i else v for i, (h, v) in enumerate(zip(block.headers, cells))))
            elif isinstance(block, Bullets):
                lines += ["- " + _text_runs(item) for item in block.items]
            elif block and isinstance(block[0], Tile):
                lines += [f"- {t.label}: {t.value} ({t.note})" for t in block]
            else:
                lines.append(_text_runs(block))
        lines.append("")
    lines += [_text_runs(p) for p in footer_lines(d)]
    return "\n".join(lines) + "\n"
