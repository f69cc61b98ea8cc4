"""``pytaaa serve --json CFG [--port P]``: serve the web site on http://127.0.0.1:PORT/."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from types import FrameType

import click

from pytaaa.cli._common import load_config_or_exit
from pytaaa.site.context import MAIN_PAGE
from pytaaa.site.serve import make_server

__all__ = ["serve"]


@click.command("serve")
@click.option("--json", "json_path", required=True, type=click.Path(dir_okay=False),
              help="PyTAAA JSON config file (its Valuation.webpage is served).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535),
              help="Port on 127.0.0.1 (0 picks a free one).")
def serve(json_path: str, port: int) -> None:
    """Serve the web site on http://127.0.0.1:PORT/ until Ctrl-C."""
    cfg = load_config_or_exit(json_path)
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

