"""The status digest: key figures, what changed and what slipped, as an e-mail in which every line links into the dashboard.

    python -m dashboard.digest --as-of DATE [--since DATE] [--sponsor CODE] (--user EMAIL | --all-sponsors) --out FILE.html
    python -m dashboard.digest --as-of DATE [--since DATE] [--sponsor CODE] [--user EMAIL [--to ADDR]] --send [--out FILE.html]

A digest is built for one user's access (their grants in the access table; --sponsor narrows
them), as of a date and compared with an earlier one (--since, default a week before). Its
figures come from the pages' own query functions (queries/) and health and metric functions
(dashboard.health, dashboard.metrics), so a number in the e-mail is the number its link opens
on. The HTML is for mail clients: tables for layout, inline styles, no scripts, and nothing
loaded from anywhere (no images, fonts or style sheets).

--send mails one digest per recipient, each built for that recipient's own access: every user of
the access table (only --user, with --user), or --to ADDR with --user saying whose access applies.
It sends through the DASHBOARD_SMTP_* settings. With --out as well, each recipient's HTML is kept
beside FILE (FILE's name with the address added).

Exit codes: 0 done, 1 a database or mail server error, 2 a usage error.

The package, by responsibility: model (the figures, now and then), document (sections, tiles, tables, runs),
content (what it says, in words; milestones its milestone section, phrases its small words), render (HTML for mail clients, and text), mail (recipients, SMTP), cli.
"""

from dashboard.digest.cli import main
from dashboard.digest.content import sections, sponsor_names, subject
from dashboard.digest.mail import MailError, Recipient, message, recipients, send
from dashboard.digest.model import Digest, build_digest
from dashboard.digest.render import render_html, render_text

__all__ = [
    "Digest",
    "MailError",
    "Recipient",
    "build_digest",
    "main",
    "message",
    "recipients",
    "render_html",
    "render_text",
    "sections",
    "send",
    "sponsor_names",
    "subject",
]
