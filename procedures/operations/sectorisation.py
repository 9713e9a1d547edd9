"""School catchment areas (sectorisation scolaire): the public school of a foyer's street.

The town keeps them in `workflows_bpmn/secteurs_scolaires.toml`, one entry per school with
its streets. Streets are compared by their words once normalised (case, accents,
punctuation and common abbreviations ignored), and found anywhere in the address line, so
"Rés. Les Pins, 12 bis Rue des LILAS" is in the secteur of "rue des Lilas". The file is
read at each assignment, so the town's edits apply without a restart.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coffre.models import Foyer
from procedures.history import EngineContext, record_event
from procedures.operations.context import Operation, OperationContext, OperationError, child_of

SECTORISATION_FILE = (
    Path(__file__).resolve().parents[2] / "workflows_bpmn" / "secteurs_scolaires.toml"
)
# Street types and saints as families abbreviate them.
ABBREVIATIONS = {
    "all": "allee", "av": "avenue", "ave": "avenue", "bd": "boulevard", "bld": "boulevard",
    "ch": "chemin", "chem": "chemin", "imp": "impasse", "pl": "place", "qu": "quai",
    "rte": "route", "sq": "square", "st": "saint", "ste": "sainte",
}  # fmt: skip
LIGATURES = str.maketrans({"œ": "oe", "æ": "ae"})  # NFKD leaves them whole


def words(text: str) -> tuple[str, ...]:
    """The normalised words of a street or address: lowercase, no accents or punctuation."""
    decomposed = unicodedata.normalize("NFKD", text.casefold().translate(LIGATURES))
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    return tuple(ABBREVIATIONS.get(word, word) for word in re.findall(r"[a-z0-9]+", plain))


@dataclass(frozen=True)
class Sectorisation:
    """Which school each street belongs to, for the addresses of one town."""

    default_school: str
    schools: Mapping[tuple[str, ...], str]  # normalised street words -> school name
    town: tuple[str, ...] = ()  # normalised commune name; empty: any
    postal_codes: frozenset[str] = field(default_factory=frozenset)  # empty: any

    def school_for(self, address_line: str, postal_code: str = "", city: str = "") -> str | None:
        """The school of the longest known street in the address; None outside the secteurs."""
        if not self._in_town(postal_code, city):
            return None
        address = words(address_line)
        found = [street for street in self.schools if _contains(address, street)]
        return self.schools[max(found, key=len)] if found else None

    def _in_town(self, postal_code: str, city: str) -> bool:
        # A blank postal code or city is not held against the family: the street decides.
        code = postal_code.strip()
        if self.postal_codes and code and code not in self.postal_codes:
            return False
        return not (self.town and city.strip() and words(city) != self.town)


def _contains(address: tuple[str, ...], street: tuple[str, ...]) -> bool:
    size = len(street)
    return any(address[i : i + size] == street for i in range(len(address) - size + 1))


def parse_sectorisation(text: str) -> Sectorisation:
    """Read the sectorisation file; OperationError naming every problem in it."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise OperationError(f"sectorisation illisible : {exc}") from None
    problems: list[str] = []
    schools: dict[tuple[str, ...], str] = {}
    for entry in raw.get("ecoles", []):
        _add_school(entry, schools, problems)
    default = raw.get("ecole_par_defaut")
    if not isinstance(default, str) or not default.strip():
        problems.append("« ecole_par_defaut » est obligatoire")
    if problems:
        raise OperationError("sectorisation : " + " ; ".join(problems))
    return Sectorisation(
        default_school=str(default).strip(),
        schools=schools,
        town=words(str(raw.get("commune", ""))),
        postal_codes=frozenset(str(code).strip() for code in raw.get("codes_postaux", [])),
    )


def _add_school(entry: Any, schools: dict[tuple[str, ...], str], problems: list[str]) -> None:
    name = entry.get("nom") if isinstance(entry, Mapping) else None
    if not isinstance(name, str) or not name.strip():
        problems.append("une école sans « nom »")
        return
    name = name.strip()
    streets = entry.get("rues", [])
    if not isinstance(streets, list):
        problems.append(f"{name} : « rues » doit être une liste entre crochets")
        return
    for street in streets:
        key = words(str(street))
        if not key:
            problems.append(f"{name} : une rue sans nom")
        elif schools.get(key, name) != name:
            problems.append(f"« {street} » est rattachée à {schools[key]} et à {name}")
        else:
            schools[key] = name


def read_sectorisation(path: Path | None = None) -> Sectorisation:
    """The town's sectorisation as its file says now."""
    try:
        return parse_sectorisation((path or SECTORISATION_FILE).read_text(encoding="utf-8"))
    except OSError as exc:
        raise OperationError(f"sectorisation introuvable ({exc.strerror})") from None


def assign_school(context: OperationContext, params: Mapping[str, Any]) -> Mapping[str, Any]:
    """Propose the school of the foyer's address; an agent confirms or overrides it, having
    read the proposal in the demande's history (an internal line)."""
    sectorisation = read_sectorisation()
    foyer = context.session.get(Foyer, context.demande.foyer_id)
    school = (
        sectorisation.school_for(foyer.address_line, foyer.postal_code, foyer.city)
        if foyer is not None
        else None
    )
    if school is None:
        _note(
            context,
            "L'adresse du foyer n'est dans aucun secteur scolaire : indiquez l'école retenue "
            "en validant l'affectation.",
        )
        return {"ecole": sectorisation.default_school, "secteur_trouve": False}
    _note(
        context,
        f"École du secteur de l'adresse du foyer : {school}. Laissez « École retenue » vide "
        "pour la confirmer.",
    )
    return {"ecole": school, "secteur_trouve": True}


def _note(context: OperationContext, text: str) -> None:
    """What the agent who validates the assignment reads in the history: the proposal
    lives in the workflow's data, which no page shows."""
    ctx = EngineContext(clock=context.clock, base_url=context.base_url, vault=context.vault)
    record_event(context.session, ctx, context.demande, None, "ecole_proposee", text, internal=True)


def keep_school(context: OperationContext, params: Mapping[str, Any]) -> Mapping[str, Any]:
    """The registration validated: the school the agent kept (the catchment area's unless
    typed otherwise) goes on the child's file, and the family reads it in its history."""
    typed = context.data.get("ecole")
    proposed = context.data.get("affectation")
    school = typed.strip() if isinstance(typed, str) else ""
    if not school and isinstance(proposed, Mapping):
        school = str(proposed.get("ecole") or "")
    if not school:
        raise OperationError("aucune école retenue ni proposée")
    member = child_of(context)
    member.school = school
    kept = f"École retenue pour {member.first_name} : {school}."
    ctx = EngineContext(clock=context.clock, base_url=context.base_url, vault=context.vault)
    record_event(context.session, ctx, context.demande, None, "ecole_retenue", kept)
    return {"ecole": school}


SCHOOL_OPERATIONS: Mapping[str, Operation] = {
    "affecter_ecole": assign_school,
    "retenir_ecole": keep_school,
}
