"""`flask procedures tirage`: allocate a course's places from the command line (a lottery
when over-subscribed), as the agents' « Tirages au sort » page does."""

from __future__ import annotations

import re

import click
from flask.cli import with_appcontext

from coffre.clock import local_today
from procedures.errors import Incomplete, InvalidTransition, TaskConflict
from procedures.lottery import board, places
from procedures.operations.ecole import read_courses
from web.runtime import runtime

SEASON = re.compile(r"\d{4}-\d{4}")


@click.command("tirage")
@with_appcontext
@click.argument("course")
@click.option("--saison", default="", help="La saison, « 2027-2028 » (par défaut : la prochaine).")
@click.option("--graine", default="", help="La valeur publiée qui sert de graine au tirage.")
def lottery_command(course: str, saison: str, graine: str) -> None:
    """Allocate the places of COURSE to the demandes waiting for them: a place each when
    there are enough, otherwise a lottery seeded from the published value (--graine)."""
    courses = read_courses()
    if course not in courses:
        known = ", ".join(sorted(courses))
        raise click.ClickException(f"cours inconnu « {course} » (cours connus : {known})")
    rt = runtime()
    season = saison or board.current_season(local_today(rt.clock))
    if not SEASON.fullmatch(season) or int(season[5:]) != int(season[:4]) + 1:
        raise click.ClickException(f"saison illisible « {season} » (attendu : 2027-2028)")
    with rt.sessions() as session:
        try:
            draw = places.allocate(session, rt.engine_context, course, season, graine, None)
        except Incomplete as exc:
            raise click.ClickException(" ".join(exc.problems)) from None
        except InvalidTransition:
            raise click.ClickException(
                f"{course} {season} : aucune demande de ce cours n'attend de place"
            ) from None
        except TaskConflict:
            raise click.ClickException(
                f"{course} {season} : les places viennent d'être attribuées par ailleurs"
            ) from None
        order = " ".join(str(demande_id) for demande_id in places.order_of(draw))
    how = f"tirage au sort (graine {draw.seed})" if draw.lottery else "sans tirage"
    click.echo(f"{course} {season} : {draw.places} place(s), {how}")
    click.echo(f"ordre (demandes) : {order}")
