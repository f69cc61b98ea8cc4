"""Email of the daily run (``pipeline.md`` section 10).

- :func:`render_email`: subject, HTML body and plain-text body (headline, time,
  holdings table, trades, profit, links) from the run's objects.
- :func:`change_reason`: why an email is due — the holdings value differs from
  the last status line, or the suggested trades differ from those of the last
  email sent (remembered in ``<performance_store>/.pytaaa_email_state.json``).
- :func:`send_email`: SMTP with STARTTLS (``Email`` section: ``smtp_host``,
  ``smtp_port``, ``starttls``, ``login`` or ``From``; the password from
  ``PYTAAA_SMTP_PASSWORD`` or ``PW``).
- :func:`notify_if_changed`: the daily run's call: decide, send, remember.

A failure is logged and returned as an :class:`EmailResult`; nothing here
raises for a mail problem or aborts the run, and the password never appears in
a log line or a result (it is also scrubbed from server replies).

The optional key ``Email.web_url`` (the address where the user publishes the
``webpage`` folder) makes the email's links point there; without it they
point to the local file.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import math
import smtplib
import socket
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from pytaaa._io import atomic_write_text
from pytaaa.account.ledger import StatusEntry
from pytaaa.account.market import MarketStatus
from pytaaa.account.trades import PortfolioValue, TradePlan
from pytaaa.config import Config, EmailConfig
from pytaaa.model import Pick
from pytaaa.site.context import (
    MAIN_PAGE,
    TODAY_PAGE,
    as_datetime_text,
    holdings_note,
    template_env,
)

__all__ = [
    "EMAIL_STATE_FILE",
    "EmailResult",
    "render_email",
    "change_reason",
    "data_notes_for",
    "send_email",
    "notify_if_changed",
]

log = logging.getLogger(__name__)

EMAIL_STATE_FILE = ".pytaaa_email_state.json"


@dataclass(frozen=True)
class EmailResult:
    """What happened to the email: ``sent``, ``unchanged`` (nothing new),
    ``disabled`` (no or incomplete ``Email`` section) or ``failed``;
    ``detail`` is one line for the run summary (never a password)."""

    status: Literal["sent", "unchanged", "disabled", "failed"]
    detail: str

    @property
    def failed(self) -> bool:
        return self.status == "failed"

    def describe(self) -> str:
        """One line for the run summary: ``detail``, prefixed when no email went out."""
        return f"not sent: {self.detail}" if self.status == "disabled" else self.detail

    def __str__(self) -> str:
        return self.describe()


def _disabled(email: EmailConfig) -> EmailResult | None:
    """The ``disabled`` result naming why ``email`` cannot send, or None when it can."""
    if not email.enabled:
        return EmailResult("disabled", "Email.enabled is false")
    missing = [k for k, ok in (("Email.From", bool(email.From)),
                               ("Email.To", bool(email.recipients))) if not ok]
    if missing:
        return EmailResult("disabled", f"email not configured (no {' and no '.join(missing)})")
    return None


# --------------------------------------------------------------------------- body
def _site_urls(config: Config) -> tuple[str, str]:
    base = config.email.web_url
    if base and base.strip():
        base = base.strip()
        if not base.endswith("/"):
            base += "/"
        return base + quote(MAIN_PAGE), base + quote(TODAY_PAGE)
    webpage = Path(config.webpage)
    return (webpage / MAIN_PAGE).as_uri(), (webpage / TODAY_PAGE).as_uri()


def render_email(
    config: Config,
    *,
    portfolio: PortfolioValue | None,
    plan: TradePlan | None,
    picks: Sequence[Pick],
    market: MarketStatus | None,
    last_date: dt.date,
    now: dt.datetime,
    switching_note: str | None = None,
    data_notes: Sequence[str] = (),
) -> tuple[str, str, str]:
    """The email of a run: ``(subject, html, text)``.

    Reads the valued holdings, the trade plan, today's picks, the market
    status and the run's time; the links use ``Email.web_url`` when set.
    ``switching_note`` (a switching account) is the recommendation line;
    ``data_notes`` the data-quality lines of :func:`data_notes_for`.
    """
    n_trades = len(plan.trades) if plan is not None else 0
    stock_list = config.valuation.stockList
    if portfolio is not None:
        headline = (f"PyTAAA {stock_list}: holdings ${portfolio.total:,.2f}, "
                    f"{n_trades} trade{'s' if n_trades != 1 else ''} suggested")
    else:
        headline = f"PyTAAA {stock_list}: {n_trades} trades suggested"
    subject = f"{headline} ({last_date.isoformat()})"
    site_url, charts_url = _site_urls(config)
    ctx = {
        "headline": headline,
        "run_time": as_datetime_text(now),
        "last_date": last_date.isoformat(),
        "market_label": market.label if market is not None else "",
        "portfolio": portfolio,
        "plan": plan,
        "picks": list(picks),
        "holdings_note": holdings_note(portfolio),
        "site_url": site_url,
        "charts_url": charts_url,
        "switching_note": switching_note,
        "data_notes": list(data_notes),
    }
    env = template_env()
    html = env.get_template("email.html.j2").render(**ctx)
    text = env.get_template("email.txt.j2").render(**ctx)
    return subject, html, text


def data_notes_for(report: Any, portfolio: PortfolioValue | None,
                   picks: Sequence[Pick]) -> list[str]:
    """Data-quality lines for the email (``data-quality.md`` section 4): the
    store-wide findings of ``report`` and those of a held or picked symbol."""
    if report is None:
        return []
    touched = {p.symbol for p in picks}
    if portfolio is not None:
        touched |= {p.symbol for p in portfolio.positions}
    return [f"{f.symbol + ': ' if f.symbol else ''}{f.detail}" for f in report.findings
            if f.symbol == "" or f.symbol in touched]


# --------------------------------------------------------------------------- decision
def _read_state(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def change_reason(
    value: float,
    trades_signature: str,
    last_status: StatusEntry | None,
    state: dict,
) -> str | None:
    """Why an email is due, or None when nothing changed.

    Due when there is no previous status line, when ``value`` differs from the
    last status line's value by a cent or more, or when ``trades_signature``
    differs from the one stored in ``state`` by the last email sent.
    """
    if last_status is None:
        return "first status line"
    if not math.isfinite(value) or abs(round(value, 2) - round(last_status.value, 2)) >= 0.005:
        return "holdings value changed"
    if state.get("trades") != trades_signature:
        return "suggested trades changed"
    return None


# --------------------------------------------------------------------------- SMTP
def _scrub(text: str, secret: str | None, login: str | None) -> str:
    """``text`` with the password (plain and in its AUTH encodings) replaced by ``***``."""
    if not secret:
        return text
    forms = {secret, base64.b64encode(secret.encode()).decode()}
    if login:
        forms.add(base64.b64encode(f"\0{login}\0{secret}".encode()).decode())
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, "***")
    return text


def _describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        reply = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) \
            else str(exc.smtp_error)
        return f"login refused ({exc.smtp_code} {reply})"
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return f"the server does not offer STARTTLS ({exc})"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return f"recipients refused: {', '.join(sorted(exc.recipients))}"
    if isinstance(exc, smtplib.SMTPResponseException):
        reply = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) \
            else str(exc.smtp_error)
        return f"{type(exc).__name__} ({exc.smtp_code} {reply})"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error: {exc.reason or exc}"
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}"
    return f"{type(exc).__name__}: {exc}"


def _message(email: EmailConfig, subject: str, html: str, text: str | None) -> EmailMessage:
    sender = str(email.From)
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = ", ".join(email.recipients)
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=True)
    domain = sender.rpartition("@")[2].strip(" >") or "localhost"
    msg["Message-ID"] = make_msgid(domain=domain)
    msg.set_content(text or "This message is HTML; open it in a mail program that shows HTML.")
    msg.add_alternative(html, subtype="html")
    return msg


def send_email(
    email: EmailConfig,
    subject: str,
    html: str,
    *,
    text: str | None = None,
    timeout: float = 30.0,
    ssl_context: ssl.SSLContext | None = None,
) -> EmailResult:
    """Send one HTML email (with a plain-text alternative) as configured in ``email``.

    Connects to ``smtp_host:smtp_port``, upgrades with STARTTLS when
    ``starttls`` (``ssl_context`` defaults to the system's verified context),
    logs in when a password is set (``PYTAAA_SMTP_PASSWORD`` wins over ``PW``)
    and sends to every recipient.  Returns an :class:`EmailResult`; never
    raises for a network, TLS or SMTP problem (it is logged as a warning,
    without the password).
    """
    off = _disabled(email)
    if off is not None:
        return off
    password = email.password()
    user = email.login or email.From
    where = f"{email.smtp_host}:{email.smtp_port}"
    try:
        msg = _message(email, subject, html, text)
        with smtplib.SMTP(email.smtp_host, email.smtp_port, timeout=timeout,
                          local_hostname=socket.gethostname() or "localhost") as smtp:
            smtp.ehlo()
            if email.starttls:
                smtp.starttls(context=ssl_context or ssl.create_default_context())
                smtp.ehlo()
            if password:
                smtp.login(str(user), password)
            smtp.send_message(msg)
    except (smtplib.SMTPException, OSError, ValueError) as exc:
        detail = _scrub(f"email to {', '.join(email.recipients)} via {where} failed: "
                        f"{_describe(exc)}", password, user)
        log.warning("%s", detail)
        return EmailResult("failed", detail)
    detail = f"email sent to {', '.join(email.recipients)} via {where}"
    log.info("%s", detail)
    return EmailResult("sent", detail)


def notify_if_changed(
    config: Config,
    *,
    subject: str,
    html: str,
    text: str | None,
    value: float,
    trades_signature: str,
    last_status: StatusEntry | None,
    timeout: float = 30.0,
    ssl_context: ssl.SSLContext | None = None,
) -> EmailResult:
    """The daily run's email: send only when something changed, then remember it.

    Reads ``config.email``, the last status line (before this run's is
    appended) and ``<performance_store>/.pytaaa_email_state.json``; sends with
    :func:`send_email` when :func:`change_reason` gives a reason and, after a
    successful send, records the value and trades in that state file
    (atomically).  Returns an :class:`EmailResult`; never raises.
    """
    off = _disabled(config.email)
    if off is not None:
        return off
    state_path = Path(config.performance_store) / EMAIL_STATE_FILE
    reason = change_reason(value, trades_signature, last_status, _read_state(state_path))
    if reason is None:
        log.info("email not sent: holdings value and trades unchanged")
        return EmailResult("unchanged", "holdings value and trades unchanged: no email")
    log.info("sending email: %s", reason)
    result = send_email(config.email, subject, html, text=text, timeout=timeout,
                        ssl_context=ssl_context)
    if result.status == "sent":
        state = {"value": round(float(value), 2), "trades": trades_signature,
                 "sent_at": dt.datetime.now().isoformat(timespec="seconds")}
        try:
            atomic_write_text(state_path, json.dumps(state, indent=1) + "\n")
        except OSError as exc:
            log.warning("cannot record the email state in %s: %s", state_path, exc.strerror)
    return result
