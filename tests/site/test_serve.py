"""The loopback server of `pytaaa serve`: main page at `/`, no folder listings, no way out of
the web folder (symlinks, NUL bytes), logs as plain text."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytaaa.site.serve import make_server


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    web = tmp_path / "web"
    web.mkdir()
    (web / "pyTAAAweb.html").write_text("<html>main page</html>")
    (web / "plot_generation.log").write_text("[10:00:00] ok\n")
    (web / "sub").mkdir()
    (web / "sub" / "a.txt").write_text("a")
    (web / ".pytaaa").mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("password")
    (web / "link_to_outside").symlink_to(outside)
    (web / "secret_link.txt").symlink_to(outside / "secret.txt")
    (web / "inside_link.html").symlink_to(web / "pyTAAAweb.html")
    server = make_server(web, 0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield web, server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def get(port: int, path: str) -> tuple[int, str, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.putrequest("GET", path, skip_accept_encoding=True)
        conn.endheaders()
        resp = conn.getresponse()
        return resp.status, resp.getheader("Content-Type") or "", resp.read()
    finally:
        conn.close()


def test_root_is_the_main_page(served: tuple[Path, int]) -> None:
    status, ctype, body = get(served[1], "/")
    assert status == 200 and body == b"<html>main page</html>" and ctype.startswith("text/html")


@pytest.mark.parametrize("path", ["/sub/", "/sub", "/link_to_outside/", "/.pytaaa/"])
def test_folders_are_never_listed(served: tuple[Path, int], path: str) -> None:
    status, _ctype, body = get(served[1], path)
    assert status == 404 and b"Directory listing" not in body and b"a.txt" not in body


@pytest.mark.parametrize("path", ["/%00", "/pyTAAAweb.html%00.png", "/a%0d%0aX:%20y"])
def test_control_characters_in_the_path_are_400(served: tuple[Path, int], path: str) -> None:
    assert get(served[1], path)[0] == 400
    assert get(served[1], "/")[0] == 200  # the server still answers


@pytest.mark.parametrize("path", ["/link_to_outside/secret.txt", "/secret_link.txt",
                                  "/link_to_outside/../outside/secret.txt"])
def test_symlinks_out_of_the_web_folder_are_404(served: tuple[Path, int], path: str) -> None:
    status, _ctype, body = get(served[1], path)
    assert status == 404 and b"password" not in body


def test_files_inside_and_links_inside_are_served(served: tuple[Path, int]) -> None:
    assert get(served[1], "/sub/a.txt")[:1] == (200,)
    assert get(served[1], "/inside_link.html")[2] == b"<html>main page</html>"
    status, ctype, body = get(served[1], "/plot_generation.log")
    assert status == 200 and ctype == "text/plain; charset=utf-8" and body == b"[10:00:00] ok\n"
