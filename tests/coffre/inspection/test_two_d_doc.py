"""Reading and verifying a 2D-Doc, on PNGs and PDFs made with the tests' own authority."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from coffre.inspection.two_d_doc import (
    Problem,
    TrustList,
    barcodes,
    check,
    load_trust_list,
    read,
)
from tests.two_d_doc import (
    NOTICE_FIELDS,
    make_authority,
    message,
    own_authority,
    pdf,
    png,
    sign,
)

PNG, PDF = "image/png", "application/pdf"


@pytest.fixture(scope="module")
def trust(tmp_path_factory: pytest.TempPathFactory) -> TrustList:
    return load_trust_list(own_authority().write(tmp_path_factory.mktemp("trust")))


def valid_2d_doc() -> str:
    return sign(message(), own_authority().key)


@pytest.mark.parametrize("kind", ["png", "pdf"])
def test_a_signed_tax_notice_is_authentic_with_its_fields(trust: TrustList, kind: str) -> None:
    content = png(valid_2d_doc()) if kind == "png" else pdf(valid_2d_doc())

    found = read(content, PNG if kind == "png" else PDF, trust)

    assert found is not None and found.valid and found.problem is None
    assert (found.doc_type, found.type_label) == ("0001", "Avis d'imposition")
    assert (found.authority, found.certificate) == ("FR00", "0001")
    assert found.issued_on == found.signed_on == date(2026, 7, 31)
    by_name = {field.name: field.value for field in found.fields}
    assert by_name["rfr"] == "23456" and by_name["nb_parts"] == "2.5"
    assert by_name["nom"] == "MARTIN" and by_name["adresse"] == "12 RUE DES LILAS"
    labels = [field.label for field in found.fields]
    assert "Revenu fiscal de référence" in labels


def test_a_document_without_a_barcode_has_no_2d_doc(trust: TrustList) -> None:
    assert read(pdf(None), PDF, trust) is None


def test_a_datamatrix_that_is_not_a_2d_doc_is_ignored(trust: TrustList) -> None:
    assert read(png("https://example.org/facture/42"), PNG, trust) is None


def test_a_file_that_cannot_be_rendered_has_no_2d_doc(trust: TrustList) -> None:
    assert list(barcodes(b"%PDF-1.7\nnot really", PDF)) == []
    assert list(barcodes(b"\x89PNG\r\n\x1a\nbroken", PNG)) == []


def test_altered_data_breaks_the_signature(trust: TrustList) -> None:
    altered = valid_2d_doc().replace("23456", "13456")  # a lower income

    found = read(png(altered), PNG, trust)

    assert found is not None and not found.valid and found.problem == Problem.SIGNATURE
    assert found.fields == ()  # nothing of an unproven 2D-Doc is kept


def test_a_2d_doc_signed_with_another_key_is_not_valid(trust: TrustList) -> None:
    forged = sign(message(), make_authority().key)  # same authority and certificate ids

    found = check(forged.encode("latin-1"), trust)

    assert not found.valid and found.problem == Problem.SIGNATURE


def test_an_unknown_certificate_or_authority_is_not_valid(trust: TrustList) -> None:
    key = own_authority().key
    other_certificate = sign(message().replace("DC03FR000001", "DC03FR000002"), key)
    other_authority = sign(message().replace("DC03FR00", "DC03FR99"), key)

    assert check(other_certificate.encode(), trust).problem == Problem.UNKNOWN_CERTIFICATE
    assert check(other_authority.encode(), trust).problem == Problem.UNKNOWN_AUTHORITY


def test_a_signing_certificate_the_authority_did_not_issue_is_not_trusted(
    tmp_path: Path,
) -> None:
    impostor = make_authority()  # its own "FR00" authority and "0001" certificate
    directory = own_authority().write(tmp_path / "trust")
    (directory / "impostor.pem").write_bytes(impostor.signer.public_bytes(Encoding.PEM))
    trust = load_trust_list(directory)

    assert len(trust.signers[("FR00", "0001")]) == 1
    found = check(sign(message(), impostor.key).encode(), trust)
    assert found.problem == Problem.SIGNATURE


def test_a_malformed_2d_doc_is_not_valid(trust: TrustList) -> None:
    signed = message()
    bad_date = sign(signed[:12] + "ZZZZ" + signed[16:], own_authority().key)
    assert check(b"DC03FR00\x1fAAAA", trust).problem == Problem.UNREADABLE  # too short
    assert check(bad_date.encode(), trust).problem == Problem.UNREADABLE
    assert check((signed + "\x1f!!").encode(), trust).problem == Problem.UNREADABLE


def test_the_bundled_ants_list_does_not_know_the_test_authority() -> None:
    ants = load_trust_list(None)

    assert {"FR01", "FR03", "FR05"} <= ants.authorities.keys()
    assert "FR00" not in ants.authorities
    assert check(valid_2d_doc().encode(), ants).problem == Problem.UNKNOWN_AUTHORITY


def test_fields_keep_their_order_and_unknown_ids(trust: TrustList) -> None:
    fields = dict(NOTICE_FIELDS) | {"ZZ": "valeur"}
    found = check(sign(message(fields), own_authority().key).encode(), trust)

    assert found.valid
    assert [field.id for field in found.fields] == list(fields)
    assert found.fields[-1].label == "ZZ"
