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
    }
    key = f"{PREFIX}/{version.code}/{demande.number or demande.id}.json"
    body = json.dumps(record, ensure_ascii=False, indent=2, sort_keys=True).encode("utf-8")
    stored = context.vault.store.put(key, io.BytesIO(body))
    return {"fichier": key, "sha256": stored.sha256}


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
