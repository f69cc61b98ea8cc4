"""A loopback HTTP server for the web site (``pytaaa serve --json CFG [--port P]``).

A convenience for looking at the site in a browser (the pages also work
opened from disk).  Uses the standard library's HTTP server, bound to
127.0.0.1 only.  ``/`` serves the main page; folders are never listed; hidden
paths (any part starting with ``.``, such as the jobs' private ``.pytaaa/``
folder) and files reached through a symlink that leaves the folder are
answered with 404; a control character in the path (``%00``) with 400; the
jobs' ``.log`` files are served as ``text/plain``.  Requests are logged at
debug level through :mod:`logging`.  Ctrl-C or SIGTERM stops it cleanly.
"""

from __future__ import annotations

import functools
import http.server
import logging
import os
import urllib.parse
from pathlib import Path

from pytaaa.site.context import MAIN_PAGE

__all__ = ["SiteRequestHandler", "make_server"]

log = logging.getLogger(__name__)


class SiteRequestHandler(http.server.SimpleHTTPRequestHandler):
    """Static files of one folder, answered safely.

    ``/`` is the main page; a folder is never listed (404); hidden paths (a
    part starting with ``.``) and files whose real path leaves the folder (a
    symlink pointing out of it) are 404; a path with a NUL or another control
    character is 400; ``.log`` files are ``text/plain``; pages are not cached.
    """

    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map,
                      ".log": "text/plain; charset=utf-8", ".1": "text/plain; charset=utf-8",
                      ".params": "text/plain; charset=utf-8"}

    def _url_path(self) -> str:
        return urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)

    def send_head(self):  # noqa: ANN201 - the base class's signature
        path = self._url_path()
        if any(ord(c) < 0x20 or ord(c) == 0x7F for c in path):
            self.send_error(400, "Bad request")
            return None
        if any(part.startswith(".") for part in path.split("/") if part):
            self.send_error(404, "Not found")
            return None
        if path in ("", "/"):
            self.path = "/" + MAIN_PAGE
        root = os.path.realpath(self.directory)
        real = os.path.realpath(self.translate_path(self.path))
        if os.path.commonpath([root, real]) != root or not os.path.isfile(real):
            self.send_error(404, "Not found")
            return None
        return super().send_head()

    def list_directory(self, path):  # noqa: ANN001, ANN201 - the base class's signature
        self.send_error(404, "Not found")
        return None

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
