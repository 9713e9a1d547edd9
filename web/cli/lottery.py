"""`flask procedures tirage`: allocate a course's places from the command line (a lottery
when over-subscribed), as the agents' « Tirages au sort » page does."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from coffre.clock import local_today
from procedures.errors import Incomplete, InvalidTransition, TaskConflict
from procedures.lottery import board, places
from web.runtime import runtime


@click.command("tirage")
@with_appcontext
@click.argument("course")
@click.option("--saison", default="", help="La saison, « 2027-2028 » (par défaut : la prochaine).")
@click.option("--graine", default="", help="La valeur publiée qui sert de graine au tirage.")
def lottery_command(course: str, saison: str, graine: str) -> None:
    """Allocate the places of COURSE to the demandes waiting for them: a place each when
    there are enough, otherwise a lottery seeded from the published value (--graine)."""
    rt = runtime()
    season = saison or board.current_season(local_today(rt.clock))
    with rt.sessions() as session:
        try:
            draw = places.allocate(session, rt.engine_context, course, season, graine, None)
        except Incomplete as exc:
            raise click.ClickException(" ".join(exc.problems)) from None
        except (InvalidTransition, TaskConflict) as exc:
            raise click.ClickException(f"{course} {season} : rien à attribuer ({exc})") from None
        order = " ".join(str(demande_id) for demande_id in places.order_of(draw))
    how = f"tirage au sort (graine {draw.seed})" if draw.lottery else "sans tirage"
    click.echo(f"{course} {season} : {draw.places} place(s), {how}")
    click.echo(f"ordre (demandes) : {order}")
