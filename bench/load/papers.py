"""The bench families' papers: small real PDFs and JPEGs, deposited through the vault.

Every deposit goes through `Vault.deposit` (inspection, per-foyer key, segment encryption,
object store, journal), as a family's upload does. Four kinds of foyer (by number) hold the
papers of the procedures they will start; 2.5 documents a foyer on average.
"""

from __future__ import annotations

import io
from datetime import date, timedelta

from PIL import Image, ImageDraw
from sqlalchemy import select
from sqlalchemy.orm import Session

from coffre.clock import local_today
from coffre.models import Document, FoyerMember, MemberRole
from coffre.vault import Upload, Vault
from demo.seed import demo_pdf

# foyer kind (number % 4) -> the papers of its foyer; each paper (type, format, whose).
PAPERS = {
    0: [("justificatif_domicile", "pdf", None), ("avis_imposition", "pdf", None),
        ("carnet_vaccination", "jpg", "child")],
    1: [("carnet_vaccination", "jpg", "child"), ("attestation_assurance", "pdf", None)],
    2: [("justificatif_domicile", "pdf", None), ("livret_famille", "pdf", None),
        ("carnet_vaccination", "jpg", "child")],
    3: [("carnet_vaccination", "jpg", "child"), ("attestation_assurance", "pdf", None)],
}  # fmt: skip
# How long before today each type was issued: recent enough for every procedure.
ISSUED_DAYS_AGO = {
    "justificatif_domicile": 20,
    "avis_imposition": 100,
    "carnet_vaccination": 900,
    "attestation_assurance": 40,
    "livret_famille": 3000,
}


def papers_of(number: int) -> list[tuple[str, str, str | None]]:
    return PAPERS[number % 4]


def photo_jpeg(text: str) -> bytes:
    """A small photographed-page JPEG (about 10 kB) showing one line of text."""
    image = Image.new("RGB", (360, 480), (246, 243, 236))
    draw = ImageDraw.Draw(image)
    draw.rectangle((20, 20, 340, 460), outline=(90, 90, 140), width=3)
    draw.text((34, 40), text, fill=(20, 20, 60))
    for line in range(8):
        draw.line((34, 90 + 40 * line, 320, 90 + 40 * line), fill=(180, 180, 200), width=2)
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=70)
    return out.getvalue()


def deposit_papers(session: Session, vault: Vault, foyer_id: int, number: int) -> int:
    """Deposit the foyer's papers it does not hold yet; how many were deposited."""
    held = set(
        session.scalars(select(Document.type_code).where(Document.foyer_id == foyer_id)).all()
    )
    child = session.scalar(
        select(FoyerMember.id)
        .where(FoyerMember.foyer_id == foyer_id, FoyerMember.role == MemberRole.ENFANT)
        .order_by(FoyerMember.id)
        .limit(1)
    )
    today = local_today(vault.clock)
    deposited = 0
    for type_code, kind, whose in papers_of(number):
        if type_code in held:
            continue
        vault.deposit(session, _upload(foyer_id, number, type_code, kind, whose, child, today))
        deposited += 1
    return deposited


def _upload(
    foyer_id: int,
    number: int,
    type_code: str,
    kind: str,
    whose: str | None,
    child: int | None,
    today: date,
) -> Upload:
    text = f"{type_code} - foyer {number:06d} (document de banc d'essai)"
    content = photo_jpeg(text) if kind == "jpg" else demo_pdf(text)
    return Upload(
        foyer_id=foyer_id,
        type_code=type_code,
        filename=f"{type_code}.{kind}",
        stream=io.BytesIO(content),
        issued_on=today - timedelta(days=ISSUED_DAYS_AGO[type_code]),
        member_id=child if whose == "child" else None,
    )
