"""RFC 3161 timestamps of the checkpoints, from a real timestamping authority on loopback."""

from __future__ import annotations

import base64
import io
import json
import socket
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.orm import Session

from coffre.clock import FrozenClock
from coffre.journal import chain as journal
from coffre.journal.anchoring import Anchoring, Written, write_checkpoint
from coffre.journal.audit import Auditor, audit
from coffre.journal.timestamping import (
    TimestampAuthority,
    TimestampError,
    check_timestamp,
    load_roots,
)
from coffre.models import Foyer
from stockage import FilesystemStore
from tests.tsa import LoopbackTsa, tsa, write_authority  # noqa: F401  (fixture)

pytestmark = pytest.mark.usefixtures("db_session")


@pytest.fixture
def signing_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def anchoring_with(
    store: FilesystemStore, key: Ed25519PrivateKey, authority: LoopbackTsa
) -> Anchoring:
    roots = load_roots(authority.ca_file)
    return Anchoring(store, key, TimestampAuthority(url=authority.url, roots=roots))


def write(session: Session, clock: FrozenClock, foyer: Foyer, anchoring: Anchoring) -> Written:
    journal.record(session, clock, "document.read", foyer_id=foyer.id)
    session.commit()
    clock.advance(timedelta(hours=1))
    written = write_checkpoint(session, clock, anchoring)
    assert written is not None
    return written


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_checkpoint_is_timestamped_and_the_token_verifies(
    db_session: Session,
    clock: FrozenClock,
    foyer: Foyer,
    store: FilesystemStore,
    signing_key: Ed25519PrivateKey,
    tsa: LoopbackTsa,  # noqa: F811
) -> None:
    anchoring = anchoring_with(store, signing_key, tsa)

    written = write(db_session, clock, foyer, anchoring)

    checkpoint = written.checkpoint
    assert checkpoint.timestamp is not None
    assert len(tsa.requests) == 1
    auditor = Auditor(store, signing_key.public_key(), load_roots(tsa.ca_file))
    report = audit(db_session, auditor)
    assert report.intact, report.problems
    assert report.timestamped_at is not None
    assert check_timestamp(checkpoint.timestamp, checkpoint.payload) == report.timestamped_at


def test_a_token_moved_to_another_checkpoint_is_reported(
    db_session: Session,
    clock: FrozenClock,
    foyer: Foyer,
    store: FilesystemStore,
    signing_key: Ed25519PrivateKey,
    tsa: LoopbackTsa,  # noqa: F811
) -> None:
    anchoring = anchoring_with(store, signing_key, tsa)
    older = write(db_session, clock, foyer, anchoring).checkpoint
    newer = write(db_session, clock, foyer, anchoring).checkpoint
    document = json.loads(store.open(newer.key).read())
    assert older.timestamp is not None
    document["timestamp"] = base64.b64encode(older.timestamp).decode()
    store.put(newer.key, io.BytesIO(json.dumps(document).encode()))

    report = audit(db_session, Auditor(store, signing_key.public_key()))

    assert [str(problem) for problem in report.problems] == [
        f"timestamp: checkpoint {newer.key}: the timestamp is for another checkpoint "
        "(digest differs)"
    ]


def test_a_token_of_an_authority_the_town_does_not_trust_is_refused(
    tmp_path: Path,
    db_session: Session,
    clock: FrozenClock,
    foyer: Foyer,
    store: FilesystemStore,
    signing_key: Ed25519PrivateKey,
    tsa: LoopbackTsa,  # noqa: F811
) -> None:
    untrusted = Anchoring(store, signing_key, TimestampAuthority(url=tsa.url))
    write(db_session, clock, foyer, untrusted)
    # A look-alike authority: the same names, another key.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    other_root = load_roots(write_authority(elsewhere))

    report = audit(db_session, Auditor(store, signing_key.public_key(), other_root))

    [problem] = report.problems
    assert problem.kind == "timestamp"
    assert "signature does not verify" in problem.detail


def test_an_unreachable_authority_leaves_the_checkpoint_without_a_timestamp(
    db_session: Session,
    clock: FrozenClock,
    foyer: Foyer,
    store: FilesystemStore,
    signing_key: Ed25519PrivateKey,
) -> None:
    secret_url = f"http://user:s3cret@127.0.0.1:{closed_port()}/tsa"
    anchoring = Anchoring(store, signing_key, TimestampAuthority(url=secret_url))

    written = write(db_session, clock, foyer, anchoring)

    assert written.checkpoint.timestamp is None
    error = written.timestamp_error
    assert error is not None
    assert error.startswith("the timestamping authority is unreachable")
    assert "s3cret" not in error
    assert audit(db_session, Auditor(store, signing_key.public_key())).intact


def test_an_answer_that_is_not_a_timestamp_is_refused() -> None:
    with pytest.raises(TimestampError, match="not an RFC 3161 response"):
        check_timestamp(b"<html>proxy error</html>", b"payload")
