"""Who gets the digest and how it is sent: recipients by their access, the message, SMTP."""

from __future__ import annotations

import argparse
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from sqlalchemy import Connection, select

from dashboard import access, cli
from dashboard.db import UsageError
from dashboard.digest.content import subject
from dashboard.digest.model import Digest
from dashboard.digest.render import render_html, render_text
from dashboard.schema import sponsor, user_access
from dashboard.settings import Settings

# --- Recipients and mail ----------------------------------------------------------------------


@dataclass(frozen=True)
class Recipient:
    """Who gets a digest (`address`) and whose access it is built for (`user`; None = every sponsor)."""

    address: str | None
    user: str | None
    grants: tuple[access.Grant, ...]


class MailError(Exception):
    """The mail server could not be reached or refused the messages (exit code 1)."""


def recipients(conn: Connection, args: argparse.Namespace, sponsor_code: str | None) -> list[Recipient]:
    """Who gets a digest, each with the grants it is built for."""
    if not args.send:
        user = None if args.all_sponsors else args.user
        return [Recipient(None, user, tuple(cli.grants_of(conn, user, sponsor_code)))]
    if args.user is not None:
        return [
            Recipient(
                args.to or args.user.strip().lower(), args.user, tuple(cli.grants_of(conn, args.user, sponsor_code))
            )
        ]
    query = select(user_access.c.user_email).distinct().order_by(user_access.c.user_email)
    if sponsor_code is not None:
        query = query.join(sponsor, sponsor.c.sponsor_id == user_access.c.sponsor_id).where(
            sponsor.c.sponsor_code == sponsor_code
        )
    emails = list(conn.execute(query).scalars())
    if not emails:
        raise UsageError(
            "no user in the access table is granted " + (f"sponsor {sponsor_code!r}" if sponsor_code else "any sponsor")
        )
    return [Recipient(email, email, tuple(access.granted_sponsors(conn, email))) for email in emails]


def message(d: Digest, to: str, settings: Settings) -> EmailMessage:
    """The digest as one e-mail: a text part and an HTML part (multipart/alternative)."""
    msg = EmailMessage()
    msg["Subject"] = subject(d)
    msg["From"] = settings.mail_from
    msg["To"] = to
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(domain=settings.mail_from.rpartition("@")[2] or None)
    msg.set_content(render_text(d))
    msg.add_alternative(render_html(d), subtype="html")
    return msg


def send(messages: list[EmailMessage], settings: Settings) -> None:
    """Send the messages through the SMTP settings, in one session."""
    where = f"{settings.smtp_host}:{settings.smtp_port}"
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=60) as smtp:
            if settings.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
            if settings.smtp_user:
                password = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
                smtp.login(settings.smtp_user, password)
            for msg in messages:
                smtp.send_message(msg)
    except smtplib.SMTPAuthenticationError as exc:
        raise MailError(
            f"the mail server {where} refused the login of {settings.smtp_user!r}: {exc.smtp_code}"
        ) from None
    except smtplib.SMTPRecipientsRefused as exc:
        raise MailError(f"the mail server {where} refused the recipient(s) {', '.join(exc.recipients)}") from None
    except smtplib.SMTPException as exc:
        raise MailError(f"the mail server {where} failed: {str(exc).strip() or type(exc).__name__}") from None
    except (OSError, ssl.SSLError) as exc:
        raise MailError(f"cannot reach the mail server {where}: {exc.strerror or exc}") from None
