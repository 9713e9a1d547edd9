"""Reading and verifying a 2D-Doc, on PNGs and PDFs made with the tests' own authority."""

from __future__ import annotations

from datetime import date, timedelta
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
from coffre.inspection.two_d_doc_message import MalformedMessage, parse
from tests.two_d_doc import (
    GS,
    NOTICE_FIELDS,
    RS,
    US,
    fields_data,
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
    assert (found.doc_type, found.type_label) == ("28", "Avis d'impôt sur le revenu")
    assert (found.authority, found.certificate) == ("FR00", "0001")
    assert found.issued_on == found.signed_on == date(2026, 7, 31)
    by_name = {field.name: field.value for field in found.fields}
    assert by_name["rfr"] == "23456" and by_name["nb_parts"] == "2,5"
    assert by_name["declarant_1"] == "MARTIN CLAIRE"
    assert by_name["adresse"] == "12 RUE DES LILAS 69001 LYON"
    labels = [field.label for field in found.fields]
    assert "Revenu fiscal de référence" in labels and "Date de mise en recouvrement" in labels


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
    other_certificate = sign(message().replace("DC04FR000001", "DC04FR000002"), key)
    other_authority = sign(message().replace("DC04FR00", "DC04FR99"), key)

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


def test_fixed_length_fields_run_straight_into_the_next_identifier(trust: TrustList) -> None:
    signed = message()
    # 44 (13 characters) then 45 (4) then 46: no separator after a fixed-length value.
    assert "442526A12345678452025" + "46MARTIN CLAIRE" + GS + "471234567890123" in signed

    found = check(sign(signed, own_authority().key).encode("latin-1"), trust)

    assert found.valid
    by_id = {field.id: field.value for field in found.fields}
    assert by_id == NOTICE_FIELDS
    assert not any(field.truncated for field in found.fields)


def test_a_truncated_variable_field_ends_with_rs_and_says_so(trust: TrustList) -> None:
    fields = dict(NOTICE_FIELDS) | {"46": "MARTIN-DUPONT DE LA"}
    signed = message(fields, truncated=frozenset({"46"}))
    assert "46MARTIN-DUPONT DE LA" + RS + "47" in signed

    found = check(sign(signed, own_authority().key).encode("latin-1"), trust)

    assert found.valid
    declarant, number = (f for f in found.fields if f.id in ("46", "47"))
    assert (declarant.value, declarant.truncated) == ("MARTIN-DUPONT DE LA", True)
    assert (number.value, number.truncated) == ("1234567890123", False)


@pytest.mark.parametrize(
    ("version", "extra", "perimeter", "country"),
    [("02", "", None, None), ("03", "01", "01", None), ("04", "01FR", "01", "FR")],
)
def test_each_header_version_has_its_own_length(
    version: str, extra: str, perimeter: str | None, country: str | None
) -> None:
    header = f"DC{version}FR0000012345234528{extra}"
    parsed = parse((header + fields_data(NOTICE_FIELDS) + US + "AAAA").encode())

    assert (parsed.version, parsed.doc_type) == (version, "28")
    assert (parsed.perimeter, parsed.country) == (perimeter, country)
    assert parsed.issued_on == date(2000, 1, 1) + timedelta(days=0x2345)
    assert {f.id: f.value for f in parsed.fields} == NOTICE_FIELDS


@pytest.mark.parametrize(
    "fields",
    [
        {"46": "X" * 39},  # longer than its 38 characters
        {"41": "23456", "45": "202"},  # a fixed-length value cut short by the end
        {"43": ""},  # the number of shares has at least one character
    ],
    ids=["too-long", "fixed-cut-short", "too-short"],
)
def test_a_field_of_a_length_the_specification_refuses_is_unreadable(
    trust: TrustList, fields: dict[str, str]
) -> None:
    with pytest.raises(MalformedMessage):
        parse((message(fields) + US + "AAAA").encode())
    found = check(sign(message(fields), own_authority().key).encode("latin-1"), trust)
    assert not found.valid and found.problem == Problem.UNREADABLE
