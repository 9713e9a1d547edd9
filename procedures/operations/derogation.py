"""School outside the catchment area (dérogation scolaire): the commission and the directors.

The town keeps, in `workflows_bpmn/secteurs_scolaires.toml`, the e-mail address of each
school's director (`directeur`) and the dates its commission meets (`[derogations]`).
`preparer_derogation` finds the school of the foyer's secteur and the commission that will
examine the demande: the first one at least `delai_jours` days after it was filed (the
diagram's timer waits until that morning; with no date ahead, the demande goes to the
service at once and the agents read why). `informer_directeurs` e-mails the commission's
decision to the directors of both schools: who the child is and which school it goes to,
never the family's reason (it may be medical).

The file is read at each demande, so the town's edits apply without a restart.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from coffre.clock import PARIS, local_today
from coffre.models import Foyer, FoyerMember
from notifications import outbox
from notifications.templates import DEROGATION_TEMPLATE, date_fr
from procedures.history import EngineContext, record_event
from procedures.operations.context import Operation, OperationContext, OperationError, child_of
from procedures.operations.sectorisation import SECTORISATION_FILE, read_sectorisation

# The commission's step opens in the agents' inbox on the morning it meets.
COMMISSION_OPENS = time(8, 0)
ACCEPTED = "accorder"  # the commission's decision, as its agent's form stores it


@dataclass(frozen=True)
class DerogationRules:
    """The directors' addresses and the commission's dates, as the town set them."""

    directors: Mapping[str, str]  # school name -> its director's e-mail address
    commissions: tuple[date, ...]  # sorted
    notice_days: int  # a demande filed closer to a commission waits for the next one

    def next_commission(self, filed_on: date) -> date | None:
        """The commission that examines a demande filed on `filed_on` (None: none set)."""
        earliest = filed_on + timedelta(days=self.notice_days)
        return next((day for day in self.commissions if day >= earliest), None)


def parse_rules(text: str) -> DerogationRules:
    """Read the directors and the commission's dates; OperationError naming every problem."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise OperationError(f"sectorisation illisible : {exc}") from None
    problems: list[str] = []
    directors = {}
    for school in raw.get("ecoles", []):
        address = school.get("directeur") if isinstance(school, Mapping) else None
        if address is None:
            continue
        if not isinstance(address, str) or "@" not in address:
            problems.append(f"{school.get('nom', '?')} : « directeur » est une adresse e-mail")
        else:
            directors[str(school.get("nom", "")).strip()] = address.strip()
    settings = raw.get("derogations", {})
    dates = settings.get("commissions", []) if isinstance(settings, Mapping) else None
    if not isinstance(dates, list) or not all(isinstance(d, date) for d in dates):
        problems.append("« commissions » est une liste de dates AAAA-MM-JJ")
        dates = []
    notice = settings.get("delai_jours", 0) if isinstance(settings, Mapping) else 0
    if not isinstance(notice, int) or notice < 0:
        problems.append("« delai_jours » est un nombre de jours")
        notice = 0
    if problems:
        raise OperationError("sectorisation : " + " ; ".join(problems))
    return DerogationRules(directors, tuple(sorted(dates)), notice)


def read_rules(path: Path | None = None) -> DerogationRules:
    """The town's rules as its file says now."""
    try:
        return parse_rules((path or SECTORISATION_FILE).read_text(encoding="utf-8"))
    except OSError as exc:
        raise OperationError(f"sectorisation introuvable ({exc.strerror})") from None


def prepare(context: OperationContext, params: Mapping[str, Any]) -> Mapping[str, Any]:
    """The school of the foyer's secteur, and when the commission examines the demande
    (`seance`, the instant the diagram's timer waits for)."""
    foyer = context.session.get(Foyer, context.demande.foyer_id)
    assert foyer is not None  # a foreign key guarantees it
    secteur = read_sectorisation().school_for(foyer.address_line, foyer.postal_code, foyer.city)
    asked = str(context.data.get("ecole", ""))
    same = secteur == asked
    day = None if same else read_rules().next_commission(local_today(context.clock))
    if day is None:
        seance = context.clock.now()
    else:
        seance = datetime.combine(day, COMMISSION_OPENS, PARIS).astimezone(UTC)
        _history(context, "commission_prevue", _scheduled(day), internal=False)
    _history(context, "derogation_preparee", _situation(secteur, asked, day, same))
    return {
        "ecole_secteur": secteur or "",
        "ecole_demandee": asked,
        "meme_ecole": same,
        "commission": day.isoformat() if day else "",
        "seance": seance.isoformat(),
    }


def _scheduled(day: date) -> str:
    return (
        f"Votre demande sera examinée par la commission des dérogations scolaires du "
        f"{date_fr(day)}. Vous serez informé de sa décision ici et par courriel."
    )


def _situation(secteur: str | None, asked: str, day: date | None, same: bool) -> str:
    """What the agents read: the two schools, and when the commission meets."""
    home = f"École du secteur : {secteur}." if secteur else "Adresse hors des secteurs connus."
    if same:
        return f"{home} C'est l'école demandée : aucune dérogation n'est nécessaire."
    when = (
        f"Commission du {date_fr(day)}."
        if day
        else "Aucune date de commission à venir dans secteurs_scolaires.toml : à décider "
        "sans attendre (ajoutez les dates de l'année)."
    )
    return f"{home} École demandée : {asked}. {when}"


def inform_directors(context: OperationContext, params: Mapping[str, Any]) -> Mapping[str, Any]:
    """E-mail the commission's decision to the director of the school asked for and of the
    secteur's school (once per step and school); the agents read who was told."""
    study = context.data.get("derogation")
    study = study if isinstance(study, Mapping) else {}
    schools = [s for s in (study.get("ecole_demandee"), study.get("ecole_secteur")) if s]
    directors = read_rules().directors
    child = child_of(context)
    accepted = context.data.get("decision") == ACCEPTED
    informed = []
    for school in dict.fromkeys(schools):
        address = directors.get(str(school))
        if address is None:
            continue
        outbox.enqueue(
            context.session, context.clock, key=f"step:{context.step_id}:{school}",
            recipient=address, template=DEROGATION_TEMPLATE,
            context=_message(context, study, child, accepted=accepted),
        )  # fmt: skip
        informed.append(str(school))
    missing = [str(s) for s in dict.fromkeys(schools) if str(s) not in informed]
    _history(context, "directeurs_informes", _told(informed, missing))
    return {"directeurs_informes": informed}


def _message(
    context: OperationContext, study: Mapping[str, Any], child: FoyerMember, *, accepted: bool
) -> dict[str, str]:
    asked, secteur = str(study.get("ecole_demandee", "")), str(study.get("ecole_secteur", ""))
    born = f", né(e) le {date_fr(child.birth_date)}" if child.birth_date else ""
    return {
        "reference": context.demande.number or str(context.demande.id),
        "enfant": f"{child.first_name} {child.last_name}{born}",
        "ecole_demandee": asked,
        "ecole_secteur": secteur or "hors des secteurs de la commune",
        "decision": "accordée" if accepted else "refusée",
        "suite": (
            f"L'enfant sera accueilli au {asked}."
            if accepted
            else "L'enfant relève de l'école de son secteur."
        ),
    }


def _told(informed: list[str], missing: list[str]) -> str:
    told = "Décision envoyée à la direction : " + ", ".join(informed) + "." if informed else ""
    if missing:
        told += (
            " Pas d'adresse de direction pour : " + ", ".join(missing) + " (à informer à la main)."
        )
    return told.strip()


def _history(context: OperationContext, kind: str, comment: str, internal: bool = True) -> None:
    record_event(
        context.session,
        EngineContext(clock=context.clock, base_url=context.base_url, vault=context.vault),
        context.demande,
        None,
        kind,
        comment,
        internal=internal,
    )


DEROGATION_OPERATIONS: Mapping[str, Operation] = {
    "preparer_derogation": prepare,
    "informer_directeurs": inform_directors,
}
