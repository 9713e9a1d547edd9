"""School transport (transport scolaire): what the town's lines say of a demande, and the pass.

The town keeps its lines in `workflows_bpmn/transport_scolaire_lignes.toml`: each line with
its stops and the schools it serves, and each neighbourhood (quartier) with its streets and
its distance by road to each school. `etudier_transport` reads the stop and school chosen
on the form and the foyer's address, and says whether the stop's line serves the school
and how far the home is from it; the diagram's decision table (`transport_scolaire.dmn`)
applies the town's distance rule to that. `delivrer_carte_transport` issues the pass as a
PDF into the family's vault, laid out as the town's certificates are.

The file is read at each demande, so the town's edits apply without a restart.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select

from accounts.models import Service
from coffre.clock import local_today
from coffre.models import Document, Foyer, FoyerMember
from notifications.templates import date_fr
from procedures.history import EngineContext, record_event
from procedures.operations.attestations import DOCUMENT_TYPE, Certificate, deposit_certificate
from procedures.operations.context import Operation, OperationContext, OperationError, child_of
from procedures.operations.sectorisation import Sectorisation, words

LINES_FILE = (
    Path(__file__).resolve().parents[2] / "workflows_bpmn" / "transport_scolaire_lignes.toml"
)
PASS_TITLE = "Carte de transport scolaire"  # noqa: S105  (a bus pass, not a password)
# Registrations made from May on are for the school year starting in September.
NEXT_YEAR_FROM_MONTH = 5


@dataclass(frozen=True)
class Stop:
    code: str
    name: str
    line: str  # the line's name
    schools: frozenset[str]  # the schools its line serves


@dataclass(frozen=True)
class Network:
    """The town's school lines and the distance of each neighbourhood to each school."""

    stops: Mapping[str, Stop]  # stop code -> stop
    neighbourhoods: Sectorisation  # a street -> its neighbourhood's name
    distances: Mapping[str, Mapping[str, float]]  # neighbourhood -> school -> km

    def distance_km(self, foyer: Foyer, school: str) -> float | None:
        """How far the foyer's home is from the school, None when its street is not listed."""
        found = self.neighbourhoods.school_for(foyer.address_line, foyer.postal_code, foyer.city)
        return None if found is None else self.distances[found].get(school)


def parse_network(text: str) -> Network:
    """Read the lines file; OperationError naming every problem in it."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise OperationError(f"lignes de transport illisibles : {exc}") from None
    problems: list[str] = []
    stops: dict[str, Stop] = {}
    for line in _tables(raw, "lignes", problems):
        _add_line(line, stops, problems)
    streets: dict[tuple[str, ...], str] = {}
    distances: dict[str, dict[str, float]] = {}
    for area in _tables(raw, "quartiers", problems):
        _add_neighbourhood(area, streets, distances, problems)
    if problems:
        raise OperationError("lignes de transport : " + " ; ".join(problems))
    neighbourhoods = Sectorisation(
        default_school="",
        schools=streets,
        town=words(str(raw.get("commune", ""))),
        postal_codes=frozenset(str(code).strip() for code in raw.get("codes_postaux", [])),
    )
    return Network(stops, neighbourhoods, distances)


def _tables(raw: Mapping[str, Any], key: str, problems: list[str]) -> list[Mapping[str, Any]]:
    entries = raw.get(key, [])
    if not isinstance(entries, list) or not all(isinstance(e, Mapping) for e in entries):
        problems.append(f"« {key} » doit être une liste de tables [[{key}]]")
        return []
    return entries


def _add_line(line: Mapping[str, Any], stops: dict[str, Stop], problems: list[str]) -> None:
    name = str(line.get("nom", "")).strip()
    schools = line.get("ecoles", [])
    if not name or not isinstance(schools, list) or not schools:
        problems.append(f"ligne « {name or '?'} » : un « nom » et des « ecoles » sont attendus")
        return
    for stop in line.get("arrets", []):
        code = str(stop.get("code", "")).strip() if isinstance(stop, Mapping) else ""
        if not code or not str(stop.get("nom", "")).strip():
            problems.append(f"{name} : un arrêt sans « code » ou sans « nom »")
        elif code in stops:
            problems.append(f"l'arrêt « {code} » figure deux fois")
        else:
            stops[code] = Stop(code, str(stop["nom"]).strip(), name, frozenset(map(str, schools)))


def _add_neighbourhood(
    area: Mapping[str, Any],
    streets: dict[tuple[str, ...], str],
    distances: dict[str, dict[str, float]],
    problems: list[str],
) -> None:
    name = str(area.get("nom", "")).strip()
    table = area.get("distances_km", {})
    if not name or not isinstance(table, Mapping):
        problems.append(f"quartier « {name or '?'} » : un « nom » et des « distances_km »")
        return
    if not all(isinstance(km, int | float) and km >= 0 for km in table.values()):
        problems.append(f"{name} : chaque distance est un nombre de kilomètres")
        return
    distances[name] = {str(school): float(km) for school, km in table.items()}
    for street in area.get("rues", []):
        key = words(str(street))
        if not key:
            problems.append(f"{name} : une rue sans nom")
        elif streets.get(key, name) != name:
            problems.append(f"« {street} » est dans les quartiers {streets[key]} et {name}")
        else:
            streets[key] = name


def read_network(path: Path | None = None) -> Network:
    """The town's lines as their file says now."""
    try:
        return parse_network((path or LINES_FILE).read_text(encoding="utf-8"))
    except OSError as exc:
        raise OperationError(f"lignes de transport introuvables ({exc.strerror})") from None


def study_transport(context: OperationContext, params: Mapping[str, Any]) -> Mapping[str, Any]:
    """What the decision table needs: whether the chosen stop's line serves the chosen
    school, whether the foyer's street is listed, and the home's distance to the school."""
    network = read_network()
    school = str(context.data.get("ecole", ""))
    stop = network.stops.get(str(context.data.get("arret", "")))
    foyer = context.session.get(Foyer, context.demande.foyer_id)
    assert foyer is not None  # a foreign key guarantees it
    distance = network.distance_km(foyer, school)
    study = {
        "ecole": school,
        "ligne": stop.line if stop else "",
        "arret": stop.name if stop else "",
        "dessert_ecole": stop is not None and school in stop.schools,
        "rue_connue": distance is not None,
        "distance_km": distance,
    }
    record_event(
        context.session,
        EngineContext(clock=context.clock, base_url=context.base_url, vault=context.vault),
        context.demande,
        None,
        "transport_etudie",
        _situation(study),
        internal=True,  # for the agent who validates; the family reads the decision
    )
    return study


def _situation(study: Mapping[str, Any]) -> str:
    """What the agent reads in the history: the home's distance and the stop's line."""
    if study["rue_connue"]:
        km = f"{study['distance_km']:.1f}".replace(".", ",")
        home = f"Domicile à {km} km de l'école « {study['ecole']} »."
    else:
        home = "Rue du foyer absente du fichier des lignes : distance à vérifier."
    if not study["arret"]:
        return f"{home} Arrêt inconnu du fichier des lignes."
    serves = "dessert" if study["dessert_ecole"] else "ne dessert pas"
    return f"{home} Arrêt « {study['arret']} » sur la « {study['ligne']} », qui {serves} l'école."


def pass_valid_until(today: date) -> date:
    """The last day of the school year the pass is for (the coming one from May on)."""
    return date(today.year + (today.month >= NEXT_YEAR_FROM_MONTH), 8, 31)


def issue_pass(context: OperationContext, params: Mapping[str, Any]) -> Mapping[str, Any]:
    """Issue the child's transport pass into the family's vault, once per step.

    `params["service"]` names the issuing service, whose entity signs the pass.
    """
    if context.vault is None:
        raise OperationError("issuing a transport pass needs the vault")
    reference = context.demande.number or str(context.demande.id)
    filename = f"carte-transport-{reference}-{context.step_id[:8]}.pdf"
    issued = context.session.scalar(
        select(Document.id).where(
            Document.foyer_id == context.demande.foyer_id,
            Document.type_code == DOCUMENT_TYPE,
            Document.original_name == filename,
        )
    )
    if issued is not None:
        return {"delivree": True, "document_id": issued}
    child = child_of(context)
    today = local_today(context.clock)
    until = pass_valid_until(today)
    card = Certificate(
        town=_town(context, params),
        title=PASS_TITLE,
        paragraphs=_pass_text(context.data, child, until),
        reference=reference,
        issued_on=today,
        issued_at=context.clock.now(),
    )
    document = deposit_certificate(context, card, child, filename)
    return {"delivree": True, "document_id": document.id, "valable_jusqu_au": until.isoformat()}


def _pass_text(data: Mapping[str, Any], child: FoyerMember, until: date) -> tuple[str, ...]:
    study = data.get("transport")
    study = study if isinstance(study, Mapping) else {}
    return (
        f"Élève : {child.first_name} {child.last_name}",
        f"École : {study.get('ecole') or data.get('ecole', '')}",
        f"Ligne : {study.get('ligne', '')}",
        f"Arrêt de montée et de descente : {study.get('arret', '')}",
        f"Valable jusqu'au {date_fr(until)}.",
        "Présentez cette carte au conducteur, sur votre téléphone ou imprimée. Le transport "
        "est facturé chaque mois avec les autres prestations de la ville, selon votre "
        "quotient familial.",
    )


def _town(context: OperationContext, params: Mapping[str, Any]) -> str:
    service = context.session.scalar(select(Service).where(Service.code == params.get("service")))
    if service is None:
        raise OperationError(f"unknown issuing service {params.get('service')!r}")
    return service.entity.name


TRANSPORT_OPERATIONS: Mapping[str, Operation] = {
    "etudier_transport": study_transport,
    "delivrer_carte_transport": issue_pass,
}
