"""``marble serve``: run the REST + GraphQL server under uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer

from marble_graph.cli.context import err_console, state
from marble_graph.service import BrainService


def serve(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="Bind address (default: server.host).")] = None,
    port: Annotated[int | None, typer.Option(help="TCP port (default: server.port).")] = None,
    dev: Annotated[
        bool | None, typer.Option("--dev/--no-dev", help="GraphiQL and verbose errors.")
    ] = None,
) -> None:
    """Serve the brains of this data home over HTTP (this process owns the database)."""
    # Imported here: the engine and the other commands never need the web stack.
    import uvicorn

    from marble_server import create_app, load_settings

    cli = state(ctx)
    config = cli.config()
    settings = load_settings(
        config,
        home=cli.home(config).root,
        config=cli.config_path(),
        host=host,
        port=port,
        dev_mode=dev,
    )
    # Fail at once, in one line (exit 4), when another process holds the data
    # home, rather than inside the server's startup with a traceback.
    home = cli.home(config)
    BrainService.ensure_home_available(config, home)
    base = f"http://{settings.host}:{settings.port}"
    err_console.print(f"MARBLE server on {base}")
    err_console.print(f"  REST docs: {base}/docs")
    graphiql = " (GraphiQL)" if settings.dev_mode else ""
    err_console.print(f"  GraphQL:   {base}/graphql{graphiql}")
    err_console.print("  Tokens:    marble token create NAME --scopes read,infer,train,admin")
    uvicorn.run(
        create_app(settings, config),
        host=settings.host,
        port=settings.port,
        log_level="info",
        access_log=settings.access_log,
        timeout_graceful_shutdown=30,
    )
