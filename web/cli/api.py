"""`flask api client ...`: API clients, created per entity with scopes, their secret shown once."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from interop import clients
from interop.clients import ClientError
from web.runtime import runtime

api_cli = AppGroup("api", help="The REST API: its clients.")
client_cli = AppGroup("client", help="API clients (OAuth 2 client credentials).")
api_cli.add_command(client_cli)


@client_cli.command("create")
@click.option("--entite", "entity", required=True, help="Le code (slug) de l'entité.")
@click.option(
    "--scopes", required=True,
    help=f"Les portées, séparées par des espaces ou des virgules : {', '.join(clients.SCOPES)}.",
)  # fmt: skip
@click.option("--nom", "name", default="Logiciel de gestion", help="Le nom du logiciel.")
def create(entity: str, scopes: str, name: str) -> None:
    """Create a client: prints its id and its secret, which is never shown again."""
    rt = runtime()
    with rt.sessions() as session:
        try:
            new = clients.create_client(
                session, rt.clock, entity_slug=entity, name=name, scopes=scopes
            )
        except ClientError as error:
            raise click.UsageError(str(error)) from None
        click.echo(f"client_id={new.client.client_id}")
        click.echo(f"client_secret={new.secret}")
        click.echo(f"scopes={new.client.scopes}")
    click.echo("Le secret n'est affiché qu'une fois : gardez-le dans le logiciel client.", err=True)


@client_cli.command("list")
def list_clients() -> None:
    """The clients: id, entity, scopes, state (secrets are never kept)."""
    rt = runtime()
    with rt.sessions() as session:
        for client in clients.clients_of(session):
            state = "révoqué" if client.revoked_at else "actif"
            click.echo(f"{client.client_id}\t{client.name}\t{client.scopes}\t{state}")


@client_cli.command("revoke")
@click.argument("client_id")
def revoke(client_id: str) -> None:
    """End a client: its tokens stop working at once."""
    rt = runtime()
    with rt.sessions() as session:
        try:
            clients.revoke_client(session, rt.clock, client_id)
        except ClientError as error:
            raise click.UsageError(str(error)) from None
    click.echo(f"Client {client_id} révoqué.")
