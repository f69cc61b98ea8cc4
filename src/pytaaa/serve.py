"""``pytaaa serve --json CFG [--port P]``: serve the web site on localhost.

A convenience for looking at the site in a browser (the pages also work
opened from disk).  Uses the standard library's HTTP server, bound to
127.0.0.1 only; hidden paths (any part starting with ``.``, such as the jobs'
private ``.pytaaa/`` folder) are answered with 404.  Requests are logged at
debug level through :mod:`logging`.  Ctrl-C or SIGTERM stops it cleanly.
"""

from __future__ import annotations

import functools
import http.server
import logging
import signal
import sys
import threading
import urllib.parse
from pathlib import Path
from types import FrameType

import click

from .web_context import MAIN_PAGE

__all__ = ["SiteRequestHandler", "make_server", "serve"]

log = logging.getLogger(__name__)


class SiteRequestHandler(http.server.SimpleHTTPRequestHandler):
    """Static files of one folder; hidden paths are 404; no caching of pages."""

    def _hidden(self) -> bool:
        path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
        return any(part.startswith(".") for part in path.split("/") if part)

    def send_head(self):  # noqa: ANN201 - the base class's signature
        if self._hidden():
            self.send_error(404, "Not found")
            return None
        return super().send_head()

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - base API
        log.debug("%s %s", self.address_string(), format % args)


def make_server(webpage: Path, port: int = 8000, host: str = "127.0.0.1"
                ) -> http.server.ThreadingHTTPServer:
    """A threading HTTP server for the folder ``webpage`` on ``host:port``.

    ``port`` 0 picks a free port (read it from ``server.server_address``).
    Raises ``FileNotFoundError`` when ``webpage`` is not a folder and
    ``OSError`` when the port cannot be bound.
    """
    webpage = Path(webpage)
    if not webpage.is_dir():
        raise FileNotFoundError(f"web site folder not found: {webpage}")
    handler = functools.partial(SiteRequestHandler, directory=str(webpage))
    server = http.server.ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


@click.command("serve")
@click.option("--json", "json_path", required=True, type=click.Path(dir_okay=False),
              help="PyTAAA JSON config file (its Valuation.webpage is served).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535),
              help="Port on 127.0.0.1 (0 picks a free one).")
def serve(json_path: str, port: int) -> None:
    """Serve the web site on http://127.0.0.1:PORT/ until Ctrl-C."""
    from .config import ConfigError, load_config

    try:
        cfg = load_config(json_path)
    except ConfigError as err:
        for line in str(err).splitlines():
            click.echo(f"error: {line}", err=True)
        sys.exit(2)
    webpage = Path(cfg.webpage)
    try:
        server = make_server(webpage, port)
    except FileNotFoundError as exc:
        click.echo(f"error: {exc} (run `pytaaa run --json {json_path}` first)", err=True)
        sys.exit(2)
    except OSError as exc:
        click.echo(f"error: cannot listen on 127.0.0.1:{port}: {exc.strerror}", err=True)
        sys.exit(1)
    host, real_port = server.server_address[:2]
    if not (webpage / MAIN_PAGE).exists():
        click.echo(f"note: {webpage / MAIN_PAGE} does not exist yet", err=True)
    click.echo(f"Serving {webpage} at http://{host}:{real_port}/{MAIN_PAGE} (Ctrl-C to stop)",
               err=True)

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    previous = signal.signal(signal.SIGTERM, _stop)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.server_close()
    click.echo("stopped", err=True)


if __name__ == "__main__":
    serve()
