"""storyaudio studio: a browser workspace to write, edit, validate, audition and render a script.

``storyaudio studio [--project DIR] [--host 127.0.0.1] [--port 7860] [--auth USER:PASS]`` calls :func:`serve`.
The package splits in three: ``table`` (the page's rows as lists, pure), ``engine`` (every call into the
library, no Gradio) and ``app`` (the Gradio page). Gradio is an optional extra (``storyaudio[studio]``) and is
imported only when the studio starts.

Safety: the studio listens on 127.0.0.1 unless told otherwise, and another address needs ``--auth``; it never
opens a public share link; Gradio's analytics are off and its uploads and file cache live in the project's
``.studio/`` folder, so nothing the page does reads or writes outside the project folder.
"""

from __future__ import annotations

import ipaddress
import os
import sys
from pathlib import Path

from ..errors import UserError

__all__ = ["serve", "parse_auth", "is_local", "INSTALL_HINT", "DEFAULT_PROJECT"]

INSTALL_HINT = "pip install 'storyaudio[studio]'"
DEFAULT_PROJECT = Path("outputs/studio")


def parse_auth(auth: str | None) -> tuple[str, str] | None:
    """``USER:PASS`` as a pair (None when not given)."""
    if auth is None:
        return None
    user, colon, password = auth.partition(":")
    if not colon or not user.strip() or not password:
        raise UserError("--auth must be USER:PASS (e.g. --auth editor:'a long passphrase').")
    return user.strip(), password


def is_local(host: str) -> bool:
    """Whether ``host`` is this machine only (a loopback address or 'localhost')."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False


def serve(project: str | os.PathLike = DEFAULT_PROJECT, host: str = "127.0.0.1", port: int = 7860,
          auth: str | None = None, block: bool = True):
    """Start the studio on ``host:port`` for the project folder ``project`` (created when missing).

    Raises UserError (exit code 2 in the CLI) for a missing Gradio, a non-local ``host`` without ``auth``, a bad
    ``auth`` or ``port``, a project folder that cannot be written, or a port already in use. With
    ``block=False`` it returns the running Blocks (``.close()`` stops it)."""
    credentials = parse_auth(auth)
    if not is_local(host) and credentials is None:
        raise UserError(f"--host {host} lets other machines open the studio: give --auth USER:PASS as well, or "
                        "keep the default --host 127.0.0.1.")
    if not 1 <= int(port) <= 65535:
        raise UserError(f"--port {port}: use a port from 1 to 65535 (default 7860).")
    from . import engine

    proj = engine.Project(project)
    # Before Gradio is imported: no analytics or version check, and its uploads and served-file copies stay
    # in the project.
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    os.environ["GRADIO_TEMP_DIR"] = str(proj.state_dir / "gradio")
    try:
        from . import app
    except ImportError as exc:
        if (exc.name or "").split(".")[0] in ("gradio", "gradio_client"):
            raise UserError(f"the studio needs Gradio, which is not installed: {INSTALL_HINT}") from None
        raise
    try:
        demo = app.launch(proj, host, int(port), credentials, block=False)
    except OSError as exc:
        raise UserError(f"cannot listen on {host}:{port} ({exc}). Fix: pass another --port, or stop what uses "
                        "that one.") from None
    print(f"storyaudio studio: {demo.local_url} (project {proj.root}). Stop it with Ctrl+C.", file=sys.stderr,
          flush=True)
    if block:
        try:
            demo.block_thread()
        finally:
            demo.close()
    return demo
