"""``marble token``: create, list and revoke API tokens (works while a server runs)."""

from __future__ import annotations

from typing import Annotated

import typer

from marble_graph.cli.context import (
    FormatOption,
    check_format,
    err_console,
    print_json,
    print_table,
    state,
)
from marble_graph.tokens import Scope, TokenStore, open_token_store, parse_brains, parse_scopes

app = typer.Typer(
    help="API tokens for the server: created once, stored hashed.", no_args_is_help=True
)

ALL_SCOPES = ",".join(s.value for s in Scope)


def _tokens(ctx: typer.Context) -> TokenStore:
    # Only the SQL store: the graph database may be held by a running server.
    cli = state(ctx)
    config = cli.config()
    home = cli.home(config)
    home.root.mkdir(parents=True, exist_ok=True)
    return open_token_store(config.storage.metadata_url or home.metadata_url)


@app.command()
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="A name to recognise the token by.")],
    scopes: Annotated[
        str, typer.Option("--scopes", "-s", help=f"Comma-separated scopes of {ALL_SCOPES}.")
    ] = "read,infer",
    brains: Annotated[
        str | None,
        typer.Option(
            "--brains",
            "-b",
            help="Comma-separated brains the token is limited to (default: every brain). "
            "A name may be of a brain not created yet; the token can use it once it exists. "
            "Other brains answer the token as if they did not exist.",
        ),
    ] = None,
    replace: Annotated[
        bool, typer.Option("--replace", help="Revoke an active token of the same name first.")
    ] = False,
    fmt: FormatOption = "table",
) -> None:
    """Create a token and print it: this is the only time it is shown."""
    check_format(fmt, ("table", "json"))
    store = _tokens(ctx)
    wanted = parse_scopes(scopes)
    limit = parse_brains(brains)
    if replace and any(t.name == name for t in store.list()):
        store.revoke(name)
    token, info = store.create(name, wanted, limit)
    if fmt == "json":
        print_json({**info.as_dict(), "token": token})
        return
    err_console.print(
        f"created token {name!r} with scopes {', '.join(s.value for s in info.scopes)} "
        f"for {_brains_text(info.brains)}; store it now, it cannot be shown again:"
    )
    typer.echo(token)


@app.command("list")
def list_tokens(
    ctx: typer.Context,
    all_: Annotated[bool, typer.Option("--all", help="Include revoked tokens.")] = False,
    fmt: FormatOption = "table",
) -> None:
    """List tokens (names, scopes, brains and dates; never the tokens themselves)."""
    check_format(fmt, ("table", "json"))
    tokens = _tokens(ctx).list(include_revoked=all_)
    if fmt == "json":
        print_json([t.as_dict() for t in tokens])
        return
    rows = [
        [
            t.name,
            ",".join(s.value for s in t.scopes),
            ",".join(t.brains) if t.brains is not None else "(all)",
            t.created_at,
            t.last_used_at,
            t.revoked_at,
        ]
        for t in tokens
    ]
    print_table("API tokens", ["name", "scopes", "brains", "created", "last used", "revoked"], rows)


@app.command()
def revoke(
    ctx: typer.Context, name: Annotated[str, typer.Argument(help="Name of the token.")]
) -> None:
    """Revoke a token; a running server stops accepting it within a few seconds."""
    _tokens(ctx).revoke(name)
    err_console.print(f"revoked token {name!r}")


def _brains_text(brains: tuple[str, ...] | None) -> str:
    return "every brain" if brains is None else f"brains {', '.join(brains)} only"
