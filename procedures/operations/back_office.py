"""Handing an accepted demande to the town's back-office software, with nothing typed again.

The demande is written as a JSON file into the object store under
`back-office/<procedure>/<number>.json`, where the back-office's import picks it up (a
folder on the filesystem backend, a bucket prefix on MinIO). Writing again replaces the
file atomically, so a retried step never produces two exports.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select

from accounts.models import Account, Role
from coffre.models import Foyer, FoyerMember, MemberRole
from procedures.models import ProcedureVersion
from procedures.operations.context import Operation, OperationContext, OperationError

PREFIX = "back-office"
FORMAT = "portail-famille/demande/v1"


def export_to_back_office(
    context: OperationContext, params: Mapping[str, Any]
) -> Mapping[str, Any]:
    """Write the demande, its form and the decisions taken so far as JSON for the back-office."""
    if context.vault is None:
        raise OperationError("exporting to the back-office needs the object store")
    demande = context.demande
    version = context.session.get(ProcedureVersion, demande.procedure_version_id)
    assert version is not None
    record = {
        "format": FORMAT,
        "demarche": version.code,
        "version": version.version,
        "numero": demande.number,
        "foyer": demande.foyer_id,
        "deposee_le": demande.submitted_at.isoformat() if demande.submitted_at else None,
        "exportee_le": context.clock.now().isoformat(),
        "donnees": _plain(context.data),
        **_identity(context, version),
    }
    key = f"{PREFIX}/{version.code}/{demande.number or demande.id}.json"
    body = json.dumps(record, ensure_ascii=False, indent=2, sort_keys=True).encode("utf-8")
    stored = context.vault.store.put(key, io.BytesIO(body))
    return {"fichier": key, "sha256": stored.sha256}


def _identity(context: OperationContext, version: ProcedureVersion) -> dict[str, Any]:
    """Who the demande is about, as the back office files them: the child named in the form,
    the foyer's adults, its address and the e-mail addresses of its accounts."""
    foyer = context.session.get(Foyer, context.demande.foyer_id)
    assert foyer is not None
    fields = json.loads(version.metadata_json).get("fields", [])
    child_ids = {
        int(value)
        for field in fields
        if field.get("type") == "child"
        and str(value := context.data.get(field.get("name", ""), "")).isdigit()
    }
    emails = context.session.scalars(
        select(Account.email).where(
            Account.foyer_id == foyer.id, Account.role == Role.FAMILLE, Account.is_active
        )
    )
    return {
        "enfants": [_person(m) for m in foyer.members if m.id in child_ids],
        "adultes": [_person(m) for m in foyer.members if m.role is MemberRole.ADULTE],
        "adresse": {
            "ligne": foyer.address_line,
            "code_postal": foyer.postal_code,
            "ville": foyer.city,
        },
        "telephone": foyer.phone,
        "courriels": sorted(emails),
    }


def _person(member: FoyerMember) -> dict[str, Any]:
    return {
        "nom": member.last_name,
        "prenom": member.first_name,
        "naissance": member.birth_date.isoformat() if member.birth_date else None,
        "ecole": member.school,
    }


def _plain(data: Mapping[str, Any]) -> dict[str, Any]:
    """The workflow data without the engine's own bookkeeping entries."""
    return {
        name: value
        for name, value in data.items()
        if not name.startswith("spiff__") and name != "demande_id"
    }


BACK_OFFICE_OPERATIONS: Mapping[str, Operation] = {
    "exporter_back_office": export_to_back_office,
}
