"""The journal's anchoring as the settings describe it: signing key, public key, TSA."""

from __future__ import annotations

from cryptography.x509 import Certificate

from coffre.journal.anchoring import Anchoring
from coffre.journal.audit import Auditor
from coffre.journal.signing_key import load_public_key, load_signing_key
from coffre.journal.timestamping import TimestampAuthority, load_roots
from stockage import ObjectStore
from web.settings import Settings


def anchoring_from(settings: Settings, store: ObjectStore) -> Anchoring | None:
    """What writes checkpoints; None on an auditor's copy (no JOURNAL_KEY_FILE)."""
    if settings.journal_key_file is None:
        return None
    tsa = None
    if settings.tsa_url:
        tsa = TimestampAuthority(url=settings.tsa_url, roots=_tsa_roots(settings))
    return Anchoring(store=store, signing_key=load_signing_key(settings.journal_key_file), tsa=tsa)


def auditor_from(settings: Settings, store: ObjectStore) -> Auditor:
    """What checks checkpoints: JOURNAL_PUBLIC_KEY_FILE, or the public half of the signing key."""
    if settings.journal_public_key_file is not None:
        public_key = load_public_key(settings.journal_public_key_file)
    else:
        assert settings.journal_key_file is not None  # load_settings guarantees one of them
        public_key = load_signing_key(settings.journal_key_file).public_key()
    return Auditor(store=store, public_key=public_key, tsa_roots=_tsa_roots(settings))


def _tsa_roots(settings: Settings) -> tuple[Certificate, ...]:
    return load_roots(settings.tsa_ca_file) if settings.tsa_ca_file else ()
