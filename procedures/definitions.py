"""A procedure's metadata: what the family fills and provides, who handles which lane.

Built-in procedures keep it in `workflows_bpmn/<code>.toml` beside `<code>.bpmn`; a
published version stores it as JSON. Problems are reported in French, one per line.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

FAMILY_LANE = "famille"  # a lane mapped to this handles tasks the family does itself
# A closed demande past its retention period: its answers and history erased, the demande
# kept (number, procedure, status, dates), or the demande deleted with all that names it.
RETENTION_ANONYMISE = "anonymiser"
RETENTION_DELETE = "supprimer"
RETENTION_RULES = (RETENTION_ANONYMISE, RETENTION_DELETE)
# From when the retention period counts: the demande's closing, or the day the child it is
# about leaves for school (31 August of the year the child turns 3: a crèche's file is kept
# while the child attends, then for the period), whichever is later.
RETENTION_FROM_CLOSING = "cloture"
RETENTION_FROM_SCHOOL = "entree_ecole"
RETENTION_STARTS = (RETENTION_FROM_CLOSING, RETENTION_FROM_SCHOOL)
# What may complete a step instead of an agent (`[tasks.<id>] completed_by`): the draw of a
# course's places and its waiting list (procedures.lottery).
COMPLETERS = frozenset({"tirage"})
FIELD_TYPES = frozenset({"text", "date", "choice", "child", "children", "number", "boolean"})
# What a field may take from the file of the child chosen in the form (`from_child`): the
# PAI flag fills a yes/no field, the allergies it covers a text field.
CHILD_FILE = {"pai": "boolean", "allergies": "text"}


class DefinitionError(Exception):
    """The metadata is unusable; `problems` are French sentences."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Condition:
    """A document asked only when a field of the family's form holds one of `values` (the
    reason chosen decides which proof the decision needs, and no other is asked)."""

    field: str
    values: tuple[str, ...]

    def holds(self, answers: Mapping[str, Any]) -> bool:
        return str(answers.get(self.field) or "") in self.values


@dataclass(frozen=True)
class FormField:
    name: str
    label: str
    type: str
    required: bool = True
    choices: tuple[str, ...] = ()  # the values stored and branched on
    help: str = ""
    choice_labels: Mapping[str, str] = field(default_factory=dict)  # value -> French label
    from_child: str = ""  # a key of CHILD_FILE: pre-filled from the chosen child's file
    # Shown, checked and kept only when another field's answer is one of these values (the
    # address fields of a change of situation, for a move): required then, absent otherwise.
    when: Condition | None = None


@dataclass(frozen=True)
class RequiredDocument:
    type: str
    count: int = 1
    max_age_months: int | None = None  # issued less than N months before submission
    valid_until_season: bool = False  # must still be valid when the season starts
    member: str | None = None  # "child": one for the child named in the form
    any_of: tuple[str, ...] = ()  # other types accepted instead of `type`
    when: Condition | None = None  # None: asked whatever the answers

    @property
    def types(self) -> tuple[str, ...]:
        """Every document type that satisfies this requirement."""
        return (self.type, *self.any_of)

    def applies(self, answers: Mapping[str, Any]) -> bool:
        """Whether the family's answers call for this document."""
        return self.when is None or self.when.holds(answers)


@dataclass(frozen=True)
class TaskSettings:
    sla_hours: int | None = None  # working hours
    timeout_days: int | None = None  # calendar days, then completed with timeout_data
    timeout_data: Mapping[str, Any] = field(default_factory=dict)
    form: tuple[FormField, ...] = ()
    # What completes the step instead of an agent (one of COMPLETERS): no agent may claim,
    # complete or put it on hold by hand, which would bypass it.
    completed_by: str | None = None


@dataclass(frozen=True)
class Window:
    opens: tuple[int, int]  # (month, day)
    closes: tuple[int, int]

    def is_open(self, day: date) -> bool:
        key = (day.month, day.day)
        if self.opens <= self.closes:
            return self.opens <= key <= self.closes
        return key >= self.opens or key <= self.closes


@dataclass(frozen=True)
class Definition:
    code: str
    title: str
    description: str
    fields: tuple[FormField, ...]
    documents: tuple[RequiredDocument, ...]
    lanes: Mapping[str, str]  # lane name -> service code, or FAMILY_LANE
    tasks: Mapping[str, TaskSettings]
    ends: Mapping[str, str]  # end event id -> final status
    window: Window | None = None
    retention_days: int = 365 * 5
    # What becomes of a closed demande once its retention period has passed.
    retention_rule: str = RETENTION_ANONYMISE
    retention_from: str = RETENTION_FROM_CLOSING
    season_start: tuple[int, int] | None = None
    # When last year's accepted demandes may be renewed for the season starting next.
    renewal: Window | None = None
    # Accepted demandes handed to the back office as a file in the object store ("json" or
    # "csv", `interop.handover`); every procedure's acceptance is also a webhook event.
    back_office: str | None = None
    # The first day families see the procedure and may file it (ISO date; None: at once).
    opens_on: str | None = None

    def task(self, spec_id: str) -> TaskSettings:
        return self.tasks.get(spec_id, TaskSettings())

    def open_on(self, today: date) -> bool:
        """Whether families may see and file the procedure on `today`: from its opening
        date, and within its yearly window."""
        if self.opens_on is not None and today < date.fromisoformat(self.opens_on):
            return False
        return self.window is None or self.window.is_open(today)


def load_definition(text: str) -> Definition:
    """Parse TOML metadata; raise DefinitionError listing every problem."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DefinitionError([f"métadonnées illisibles : {exc}"]) from None
    return definition_from_dict(raw)


def definition_from_dict(raw: Mapping[str, Any]) -> Definition:
    """Build a Definition from a dict (TOML or stored JSON)."""
    problems: list[str] = []
    # A diagram without human tasks has no lane: its table is there, empty. `ends` may be
    # missing while the draft is drawn: the check before publishing names each end to map.
    for key in ("code", "title", "lanes"):
        if key not in raw if key == "lanes" else not raw.get(key):
            problems.append(f"la clé « {key} » est obligatoire")
    fields = tuple(_field(item, problems) for item in raw.get("fields", []))
    tasks = {
        spec_id: _task(spec_id, item, problems) for spec_id, item in raw.get("tasks", {}).items()
    }
    documents = tuple(_document(item, problems) for item in raw.get("documents", []))
    rule = str(raw.get("retention_rule", RETENTION_ANONYMISE))
    if rule not in RETENTION_RULES:
        problems.append(
            f"« retention_rule » vaut « {RETENTION_ANONYMISE} » ou « {RETENTION_DELETE} », "
            f"pas « {rule} »"
        )
    start = str(raw.get("retention_from", RETENTION_FROM_CLOSING))
    if start not in RETENTION_STARTS:
        problems.append(
            f"« retention_from » vaut « {RETENTION_FROM_CLOSING} » ou « {RETENTION_FROM_SCHOOL} », "
            f"pas « {start} »"
        )
    if problems:
        raise DefinitionError(problems)
    return Definition(
        code=str(raw["code"]),
        title=str(raw["title"]),
        description=str(raw.get("description", "")),
        fields=fields,
        documents=documents,
        lanes=dict(raw["lanes"]),
        tasks=tasks,
        ends=dict(raw.get("ends") or {}),
        window=_window(raw.get("window")),
        retention_days=int(raw.get("retention_days", 365 * 5)),
        retention_rule=rule,
        retention_from=start,
        season_start=_month_day(raw["season_start"]) if raw.get("season_start") else None,
        renewal=_window(raw.get("renewal")),
        back_office=_back_office(raw.get("back_office")),
        opens_on=_opening(raw.get("opens_on")),
    )


def _opening(value: Any) -> str | None:
    """The opening date, a TOML date (`opens_on = 2027-01-04`) or its ISO text."""
    if value is None:
        return None
    try:
        return date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise DefinitionError(
            [f"opens_on : « {value} » n'est pas une date (attendu : AAAA-MM-JJ)"]
        ) from None


BACK_OFFICE_FORMATS = ("json", "csv")


def _back_office(value: Any) -> str | None:
    if value is None:
        return None
    if value not in BACK_OFFICE_FORMATS:
        raise DefinitionError(
            [f"back_office : « {value} » inconnu (attendu : {', '.join(BACK_OFFICE_FORMATS)})"]
        )
    return str(value)


def _field(item: Mapping[str, Any], problems: list[str]) -> FormField:
    name = str(item.get("name", ""))
    kind = item.get("type", "text")
    if kind not in FIELD_TYPES:
        problems.append(f"champ « {name} » : type inconnu « {kind} »")
    if kind == "choice" and not item.get("choices"):
        problems.append(f"champ « {name} » : une liste de choix est attendue")
    choices, labels = _choices(name, item, problems)
    from_child = str(item.get("from_child", ""))
    if from_child and CHILD_FILE.get(from_child) != kind:
        problems.append(
            f"champ « {name} » : from_child vaut « pai » (case à cocher) ou « allergies » "
            f"(texte), pas « {from_child} » sur un champ {kind}"
        )
    return FormField(
        name=name,
        label=str(item.get("label", name)),
        type=kind,
        required=bool(item.get("required", True)),
        choices=choices,
        help=str(item.get("help", "")),
        choice_labels=labels,
        from_child=from_child,
        when=parse_condition(item.get("when"), f"champ « {name} »", problems),
    )


def _choices(
    name: str, item: Mapping[str, Any], problems: list[str]
) -> tuple[tuple[str, ...], dict[str, str]]:
    """The values and their labels: each choice is a value, or a `{ value, label }` table.

    A `choice_labels` table (value -> label) is read too: it is how the stored JSON keeps them.
    """
    values: list[str] = []
    labels = {str(k): str(v) for k, v in dict(item.get("choice_labels", {})).items()}
    for choice in item.get("choices", ()):
        if isinstance(choice, Mapping):
            if not choice.get("value"):
                problems.append(f"champ « {name} » : un choix sans « value »")
                continue
            values.append(str(choice["value"]))
            if choice.get("label"):
                labels[values[-1]] = str(choice["label"])
        else:
            values.append(str(choice))
    for unknown in sorted(set(labels) - set(values)):
        problems.append(f"champ « {name} » : libellé d'un choix inconnu « {unknown} »")
    return tuple(values), labels


def _document(item: Mapping[str, Any], problems: list[str]) -> RequiredDocument:
    when = parse_condition(item.get("when"), f"justificatif « {item.get('type', '')} »", problems)
    return RequiredDocument(**{**item, "any_of": tuple(item.get("any_of", ())), "when": when})


def parse_condition(raw: Any, subject: str, problems: list[str]) -> Condition | None:
    """`when = { field = "motif", values = ["garde"] }` (TOML, or as stored in JSON) on a
    document or a field; `subject` names it in the problem."""
    if raw is None:
        return None
    values = raw.get("values") if isinstance(raw, Mapping) else None
    if (
        not isinstance(raw, Mapping)
        or not isinstance(raw.get("field"), str)
        or not raw["field"]
        or not isinstance(values, list | tuple)
        or not values
    ):
        problems.append(
            f'{subject} : « when » s\'écrit {{ field = "nom_du_champ", values = ["valeur", …] }}'
        )
        return None
    return Condition(field=raw["field"], values=tuple(str(value) for value in values))


def _task(spec_id: str, item: Mapping[str, Any], problems: list[str]) -> TaskSettings:
    completer = item.get("completed_by")
    if completer is not None and completer not in COMPLETERS:
        problems.append(
            f"étape « {spec_id} » : « completed_by » vaut "
            + " ou ".join(f"« {code} »" for code in sorted(COMPLETERS))
        )
    return TaskSettings(
        completed_by=completer,
        sla_hours=item.get("sla_hours"),
        timeout_days=item.get("timeout_days"),
        timeout_data=dict(item.get("timeout_data", {})),
        form=tuple(_field(form_item, problems) for form_item in item.get("form", [])),
    )


def _window(raw: Mapping[str, Any] | None) -> Window | None:
    if not raw:
        return None
    return Window(_month_day(raw["opens"]), _month_day(raw["closes"]))


def _month_day(value: str | Sequence[int]) -> tuple[int, int]:
    """ "MM-DD" as written in TOML, or (month, day) as stored in JSON."""
    month, day = value.split("-") if isinstance(value, str) else value
    return int(month), int(day)
