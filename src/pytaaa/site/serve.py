"""A loopback HTTP server for the web site (``pytaaa serve --json CFG [--port P]``).

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
import urllib.parse
from pathlib import Path

__all__ = ["SiteRequestHandler", "make_server"]

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
