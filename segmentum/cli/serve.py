"""``segmentum serve`` and ``segmentum keys``: the web app and its API keys."""

from __future__ import annotations

import ipaddress
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from segmentum.cli.output import console, out
from segmentum.cli.output import fail as _fail
from segmentum.data.errors import SegmentumError

keys_app = typer.Typer(help="Create, list and revoke the web app's API keys.", no_args_is_help=True)
_PROJECT = Annotated[
    Path, typer.Option("--project", "-p", help="The project file (or its folder).")
]


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _project_folder(project_file: Path) -> Path:
    from segmentum.project import Project

    return Project.load(project_file).folder


def serve(
    project_file: Annotated[Path, typer.Argument(help="The project file.")] = Path(
        "segmentum.toml"
    ),
    host: Annotated[str, typer.Option(help="Address to listen on (loopback by default).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    run_id: Annotated[
        str | None, typer.Option("--run", help="Serve this run instead of the newest.")
    ] = None,
    public: Annotated[
        bool,
        typer.Option(
            "--public",
            help="Allow a --host other than loopback (anyone who can reach it sees the "
            "sign-in page; every route still needs a key).",
        ),
    ] = False,
    get: Annotated[
        str | None,
        typer.Option(
            "--get",
            help="Do not listen: send one GET request for this path through the app "
            "in-process (e.g. /api/v1/runs), print the body and exit (1 on a status of "
            "400 or more). For scripts.",
        ),
    ] = None,
    key: Annotated[
        str | None,
        typer.Option(
            "--key",
            envvar="SEGMENTUM_KEY",
            help="API key sent with --get (default: the SEGMENTUM_KEY environment variable).",
        ),
    ] = None,
) -> None:
    """Start the web app and scoring API over a project's runs (needs the ``app`` extra).

    Every route except /health and /login needs a key: create one with ``segmentum keys
    create --scope read`` (``score`` for the scoring API). ``--get PATH`` sends one request
    without starting a server.
    """
    if get is not None:
        _get_once(project_file, run_id, get, key)
        return
    if not _is_loopback(host) and not public:
        console.print(
            f"[bold red]Error:[/] --host {escape(host)} is not a loopback address; add "
            "--public to listen there on purpose."
        )
        raise typer.Exit(2)
    try:
        import uvicorn

        from segmentum.app import create_app
    except ImportError as exc:
        console.print(
            f"[bold red]Error:[/] {exc}. Install the app extra: pip install 'segmentum[app]'"
        )
        raise typer.Exit(2) from None
    from segmentum.app.keys import key_file_warnings

    try:
        exposed = key_file_warnings(_project_folder(project_file))  # before the app opens it
        application = create_app(project_file, run_id)
    except SegmentumError as exc:
        _fail(exc)
        return
    for warning in exposed:
        console.print(f"[bold yellow]Warning:[/] {escape(warning)}", soft_wrap=True)
    if not _is_loopback(host):
        console.print(
            f"[bold yellow]Warning:[/] listening on {escape(host)}: reachable from other "
            "machines. Put it behind HTTPS before real keys travel over a network."
        )
    console.print(f"segmentum serving {project_file} at http://{host}:{port}/ (Ctrl+C stops)")
    uvicorn.run(application, host=host, port=port, log_level="warning")


def _get_once(project_file: Path, run_id: str | None, path: str, key: str | None) -> None:
    """``serve --get``: one request through the real app, no socket."""
    if not path.startswith("/"):
        console.print(f"[bold red]Error:[/] --get {escape(path)}: a path starts with '/'.")
        raise typer.Exit(2)
    try:
        from fastapi.testclient import TestClient

        from segmentum.app import create_app
    except ImportError as exc:
        console.print(
            f"[bold red]Error:[/] {exc}. Install the app extra: pip install 'segmentum[app]'"
        )
        raise typer.Exit(2) from None
    try:
        application = create_app(project_file, run_id)
    except SegmentumError as exc:
        _fail(exc)
        return
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    with TestClient(application, raise_server_exceptions=False) as client:
        response = client.get(path, headers=headers, follow_redirects=False)
    sys.stdout.write(response.text)
    if response.text and not response.text.endswith("\n"):
        sys.stdout.write("\n")
    sys.stdout.flush()
    if response.status_code >= 400:
        console.print(f"[bold red]HTTP {response.status_code}[/] for GET {escape(path)}")
        raise typer.Exit(1)


@keys_app.command("create")
def keys_create(
    scope: Annotated[str, typer.Option(help="read (pages, data), score (scoring API) or admin.")],
    name: Annotated[str, typer.Option(help="What the key is for (shown by `keys list`).")] = "",
    project_file: _PROJECT = Path("segmentum.toml"),
) -> None:
    """Create a key. It is printed once, alone on the last line, and never stored."""
    from segmentum.app.keys import KeyStore

    try:
        record, key = KeyStore(_project_folder(project_file)).create(scope, name)
    except SegmentumError as exc:
        _fail(exc)
        return
    out.print(
        f"Created key {record.key_id} ({escape(record.name)}, scope {record.scope}). "
        "Copy it now: it is not shown again.",
        highlight=False,
    )
    print(key)


@keys_app.command("list")
def keys_list(project_file: _PROJECT = Path("segmentum.toml")) -> None:
    """List the keys (ids, names, scopes; never the keys themselves)."""
    from segmentum.app.keys import KeyStore

    try:
        keys = KeyStore(_project_folder(project_file)).list()
    except SegmentumError as exc:
        _fail(exc)
        return
    table = Table(show_header=True)
    for col in ("key_id", "name", "scope", "created_at", "revoked_at"):
        table.add_column(col, no_wrap=col == "key_id")
    for key in keys:
        table.add_row(key.key_id, escape(key.name), key.scope, key.created_at, key.revoked_at or "")
    out.print(table)


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id, as `keys list` shows it.")],
    project_file: _PROJECT = Path("segmentum.toml"),
) -> None:
    """Revoke a key; a running server refuses it from its next request on."""
    from segmentum.app.keys import KeyStore

    try:
        record = KeyStore(_project_folder(project_file)).revoke(key_id)
    except SegmentumError as exc:
        _fail(exc)
        return
    out.print(f"Revoked key {record.key_id} ({escape(record.name)}) at {record.revoked_at}.")
