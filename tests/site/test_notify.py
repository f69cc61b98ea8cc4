"""Email against a real SMTP server (aiosmtpd) on 127.0.0.1.

Most sends use ``starttls: false`` on loopback; STARTTLS itself is exercised
against a server with a self-signed certificate made in the test
(``cryptography``), and ``starttls: true`` against a server that does not
offer it (a clear failure, no password sent).
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import logging
import socket
from pathlib import Path

import pytest
from _site_data import NOW, make_analysis, make_config, site_inputs
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from pytaaa.account.ledger import StatusEntry
from pytaaa.site.notify import (
    EMAIL_STATE_FILE,
    notify_if_changed,
    render_email,
    send_email,
)

USER = "me@example.com"
SECRET = "s3cret-Pa55"
RECIPIENTS = ["me@example.com", "spouse@example.org"]


class _Handler:
    def __init__(self) -> None:
        self.envelopes: list = []
        self.auth_attempts = 0

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, N802
        self.envelopes.append(envelope)
        return "250 Message accepted"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def smtp_server():
    handler = _Handler()

    def authenticator(server, session, envelope, mechanism, auth_data):  # noqa: ANN001
        handler.auth_attempts += 1
        ok = (isinstance(auth_data, LoginPassword) and auth_data.login == USER.encode()
              and auth_data.password == SECRET.encode())
        return AuthResult(success=ok, handled=False)

    controller = Controller(handler, hostname="127.0.0.1", port=_free_port(),
                            authenticator=authenticator, auth_require_tls=False)
    controller.start()
    yield handler, controller.port
    controller.stop()


@pytest.fixture()
def run(tmp_path: Path, smtp_server, monkeypatch: pytest.MonkeyPatch):
    """Config pointing at the test server plus the email of the hand-made run."""
    monkeypatch.delenv("PYTAAA_SMTP_PASSWORD", raising=False)
    handler, port = smtp_server
    cfg = make_config(tmp_path, From=USER, To="me@example.com; spouse@example.org",
                      PW=SECRET, smtp_host="127.0.0.1", smtp_port=port, starttls=False,
                      web_url="https://example.org/pytaaa")
    analysis = make_analysis()
    kw = site_inputs(analysis)
    subject, html, text = render_email(cfg, portfolio=kw["portfolio"], plan=kw["plan"],
                                       picks=analysis.picks, market=kw["market"],
                                       last_date=analysis.last_date, now=NOW)
    return cfg, handler, kw, subject, html, text


def _send(cfg, kw, subject, html, text, last_status, value=None, trades=None):
    return notify_if_changed(
        cfg, subject=subject, html=html, text=text,
        value=kw["portfolio"].total if value is None else value,
        trades_signature=kw["plan"].signature() if trades is None else trades,
        last_status=last_status, timeout=10)


def test_email_sent_with_subject_recipients_and_body(run) -> None:
    cfg, handler, kw, subject, html, text = run
    result = _send(cfg, kw, subject, html, text, last_status=None)
    assert result.status == "sent", result.detail
    assert len(handler.envelopes) == 1
    env = handler.envelopes[0]
    assert env.mail_from == USER and env.rcpt_tos == RECIPIENTS
    msg = email.message_from_bytes(env.original_content, policy=email.policy.default)
    total = kw["portfolio"].total
    assert msg["Subject"] == (
        f"PyTAAA Naz100: holdings ${total:,.2f}, 2 trades suggested (2024-03-25)")
    assert msg["To"] == "me@example.com, spouse@example.org"
    body_html = msg.get_body(("html",)).get_content()
    body_text = msg.get_body(("plain",)).get_content()
    for needle in ("<table", "BBB", "BRK/B", "SELL", "lifetime profit",
                   "https://example.org/pytaaa/pyTAAAweb.html", "2024-03-28 17:45:00"):
        assert needle in body_html
    assert "SELL 20 BBB @ 37.20" in body_text
    assert SECRET not in env.original_content.decode()
    assert (Path(cfg.performance_store) / EMAIL_STATE_FILE).exists()


def test_no_email_when_value_and_trades_unchanged(run) -> None:
    cfg, handler, kw, subject, html, text = run
    assert _send(cfg, kw, subject, html, text, last_status=None).status == "sent"
    last = StatusEntry(dt.datetime(2024, 3, 28, 9), round(kw["portfolio"].total, 2), 1, 1.0)
    result = _send(cfg, kw, subject, html, text, last_status=last)
    assert result.status == "unchanged"
    assert len(handler.envelopes) == 1
    # the value moved: sent
    assert _send(cfg, kw, subject, html, text, last_status=last,
                 value=last.value + 1).status == "sent"
    # same value, different trades: sent
    assert _send(cfg, kw, subject, html, text, last_status=last,
                 trades="BUY 1 ZZZ").status == "sent"
    assert len(handler.envelopes) == 3


def test_refused_login_reported_without_password(
    run, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    cfg, handler, kw, subject, html, text = run
    wrong = "wr0ng-Secret"
    monkeypatch.setenv("PYTAAA_SMTP_PASSWORD", wrong)  # the environment wins over PW
    with caplog.at_level(logging.INFO):
        result = _send(cfg, kw, subject, html, text, last_status=None)
    assert result.status == "failed" and result.failed
    assert "login refused (535" in result.detail
    assert "127.0.0.1" in result.detail
    assert handler.auth_attempts >= 1 and handler.envelopes == []  # smtplib tries PLAIN, LOGIN
    for secret in (wrong, SECRET):
        assert secret not in result.detail
        assert secret not in caplog.text
    assert "login refused" in caplog.text
    assert not (Path(cfg.performance_store) / EMAIL_STATE_FILE).exists()


def test_environment_password_used(run, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg, handler, kw, subject, html, text = run
    cfg = cfg.model_copy(update={"email": cfg.email.model_copy(update={"PW": "stale"})})
    monkeypatch.setenv("PYTAAA_SMTP_PASSWORD", SECRET)
    assert _send(cfg, kw, subject, html, text, last_status=None).status == "sent"
    assert len(handler.envelopes) == 1


def test_starttls_required_but_not_offered(run) -> None:
    cfg, handler, kw, subject, html, text = run
    result = send_email(cfg.email.model_copy(update={"starttls": True}), subject, html,
                        text=text, timeout=10)
    assert result.status == "failed"
    assert "does not offer STARTTLS" in result.detail
    assert handler.auth_attempts == 0 and handler.envelopes == []


def test_unreachable_server_is_reported(run) -> None:
    cfg, _handler, kw, subject, html, text = run
    dead = cfg.email.model_copy(update={"smtp_port": _free_port()})
    result = send_email(dead, subject, html, text=text, timeout=5)
    assert result.status == "failed" and "Connection refused" in result.detail


def test_not_configured_is_disabled(tmp_path: Path) -> None:
    cfg = make_config(tmp_path)
    result = notify_if_changed(cfg, subject="s", html="<p>x</p>", text="x", value=1.0,
                               trades_signature="", last_status=None)
    assert result.status == "disabled"
    assert "Email.From" in result.describe() and "Email.To" in result.describe()


def test_switched_off_email_names_enabled_false(tmp_path: Path) -> None:
    cfg = make_config(tmp_path, From="me@example.org", To="you@example.org", enabled=False)
    result = notify_if_changed(cfg, subject="s", html="<p>x</p>", text="x", value=1.0,
                               trades_signature="", last_status=None)
    assert result.status == "disabled"
    assert result.describe() == "not sent: Email.enabled is false"
    assert str(result) == result.describe()


def test_missing_recipient_is_named(tmp_path: Path) -> None:
    cfg = make_config(tmp_path, From="me@example.org")
    result = notify_if_changed(cfg, subject="s", html="<p>x</p>", text="x", value=1.0,
                               trades_signature="", last_status=None)
    assert result.describe() == "not sent: email not configured (no Email.To)"


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key, as PEM files."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_starttls_with_a_real_certificate_and_login(tmp_path: Path, monkeypatch) -> None:
    import ssl

    monkeypatch.delenv("PYTAAA_SMTP_PASSWORD", raising=False)
    cert, key = _self_signed(tmp_path)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    handler = _Handler()
    logins: list[bytes] = []

    def authenticator(server, session, envelope, mechanism, auth_data):  # noqa: ANN001
        logins.append(auth_data.login)
        return AuthResult(success=auth_data.password == SECRET.encode(), handled=False)

    controller = Controller(handler, hostname="127.0.0.1", port=_free_port(),
                            tls_context=server_ctx, require_starttls=True,
                            authenticator=authenticator, auth_required=True)
    controller.start()
    try:
        cfg = make_config(tmp_path, From=USER, To="me@example.com", PW=SECRET,
                          smtp_host="127.0.0.1", smtp_port=controller.port, starttls=True)
        client_ctx = ssl.create_default_context(cafile=str(cert))
        ok = send_email(cfg.email, "over TLS", "<p>hi</p>", text="hi", timeout=10,
                        ssl_context=client_ctx)
        assert ok.status == "sent", ok.detail
        assert logins == [USER.encode()] and len(handler.envelopes) == 1
        # the system's trust store does not know the test certificate: a clear failure
        bad = send_email(cfg.email, "over TLS", "<p>hi</p>", text="hi", timeout=10)
        assert bad.status == "failed" and "certificate" in bad.detail.lower()
        assert SECRET not in bad.detail and len(handler.envelopes) == 1
    finally:
        controller.stop()


def test_email_lists_data_findings_that_touch_a_holding_or_a_pick(tmp_path: Path) -> None:
    """data-quality.md 4: the email names findings of held or picked symbols and the
    store-wide ones, not the others."""
    import datetime as _dt

    from pytaaa.data.check import CheckReport, Finding
    from pytaaa.site.notify import data_notes_for

    cfg = make_config(tmp_path)
    analysis = make_analysis()
    kw = site_inputs(analysis)
    held = next(p.symbol for p in kw["portfolio"].positions if p.symbol != "CASH")
    day = _dt.date(2026, 11, 27)
    report = CheckReport((
        Finding("", "partial update", day, day, 2, "2 of 9 symbols have no quote for 2026-11-27"),
        Finding(held, "gap", day, day, 1, "1 day without a quote"),
        Finding("ZZZZ", "gap", day, day, 1, "1 day without a quote (not held)"),
    ), 9, 100, day)
    notes = data_notes_for(report, kw["portfolio"], analysis.picks)
    assert notes == ["2 of 9 symbols have no quote for 2026-11-27",
                     f"{held}: 1 day without a quote"]
    _subject, html, text = render_email(cfg, portfolio=kw["portfolio"], plan=kw["plan"],
                                        picks=analysis.picks, market=kw["market"],
                                        last_date=analysis.last_date, now=NOW, data_notes=notes)
    assert 'id="data-quality"' in html and f"{held}: 1 day without a quote" in html
    assert "Data quality:\n- 2 of 9 symbols" in text and "not held" not in text
