"""Importing third-party `.bpmn` files: accepted, or refused with reasons naming each element."""

from __future__ import annotations

import io
import re
import resource
import socket
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from procedures.catalogue import BUILT_IN, built_in_codes, read_built_in, read_decisions
from procedures.designer.importing import (
    MAX_IMPORT_BYTES,
    ImportResult,
    import_diagram,
    import_stream,
)
from tests.conftest import require

REPO = Path(__file__).resolve().parents[3]
MIWG = REPO.parent / "shared" / "bpmn-corpus" / "miwg-reference"
CRECHE = (BUILT_IN / "creche.bpmn").read_bytes()

# What each reference model of the OMG interchange suite gets, pinned: the reason codes, and
# elements the refusal must name (bpmn:<tag>). Only A.1.0 runs as is on our engine.
MIWG_EXPECTED: dict[str, tuple[set[str], set[str]]] = {
    "A.1.0.bpmn": (set(), set()),
    "A.2.0.bpmn": ({"engine_refused"}, set()),  # a gateway's flow without a condition
    "A.2.1.bpmn": ({"unsupported_language"}, set()),
    "A.3.0.bpmn": ({"engine_refused"}, set()),  # a sub-process without a start event
    "A.4.0.bpmn": ({"engine_refused"}, set()),  # a task with two outgoing flows
    "A.4.1.bpmn": ({"engine_refused"}, set()),
    "B.1.0.bpmn": ({"unknown_called_element", "unsupported_element"}, {"globalTask"}),
    "B.2.0.bpmn": (
        {"unsafe_expression", "unsupported_element"},
        {"conditionalEventDefinition", "globalUserTask", "linkEventDefinition"},
    ),
    "C.1.0.bpmn": ({"unsupported_language"}, set()),
    "C.1.1.bpmn": ({"unsafe_expression"}, set()),
    "C.2.0.bpmn": ({"engine_refused"}, set()),
    "C.3.0.bpmn": ({"unsafe_expression"}, set()),
    "C.4.0.bpmn": ({"engine_refused"}, set()),
    "C.5.0.bpmn": ({"engine_refused"}, set()),
    "C.6.0.bpmn": ({"unsafe_expression", "unsupported_element"}, {"compensateEventDefinition"}),
    "C.7.0.bpmn": ({"engine_refused"}, set()),  # a service task naming no operation
    "C.8.0.bpmn": ({"unsafe_expression"}, set()),
    "C.8.1.bpmn": ({"unsupported_language"}, set()),
    "C.9.0.bpmn": ({"unknown_called_element", "unsupported_language"}, set()),
    "C.9.1.bpmn": (set(), set()),
    "C.9.2.bpmn": ({"unknown_called_element", "unsupported_language"}, set()),
}


def miwg_file(name: str) -> Path:
    if not MIWG.is_dir():
        require(f"the MIWG reference models are missing: {MIWG}")
    return MIWG / name


def imported(data: bytes, services: list[str] | None = None) -> ImportResult:
    return import_diagram(data, filename="essai.bpmn", services=services)


def test_the_pinned_list_is_the_whole_miwg_folder() -> None:
    miwg_file("A.1.0.bpmn")
    assert {path.name for path in MIWG.glob("*.bpmn")} == set(MIWG_EXPECTED)


@pytest.mark.parametrize("name", sorted(MIWG_EXPECTED))
def test_each_miwg_model_is_accepted_or_refused_naming_what_is_not_supported(name: str) -> None:
    content = miwg_file(name).read_bytes()
    codes, elements = MIWG_EXPECTED[name]

    result = import_diagram(content, filename=name, services=[])

    assert result.accepted is (not codes)
    assert {reason.code for reason in result.reasons} == codes
    named = {
        match
        for reason in result.reasons
        for match in re.findall(r"\(bpmn:(\w+)\)", reason.message)
        if reason.code == "unsupported_element"
    }
    assert elements <= named
    for reason in result.reasons:
        assert reason.message.strip()
        assert not reason.element_id or reason.element_id.encode() in content
    if result.accepted:
        assert result.xml is not None
        assert imported(result.xml.encode("utf-8")).accepted


def test_an_accepted_import_is_normalised_and_lists_what_it_found() -> None:
    content = miwg_file("A.1.0.bpmn").read_bytes()

    result = imported(content)

    assert result.accepted
    assert result.xml is not None
    assert result.xml.startswith("<?xml version='1.0' encoding='UTF-8'?>")
    assert 'isExecutable="true"' in result.xml
    assert "made_executable" in {warning.code for warning in result.warnings}
    assert "<!--" not in result.xml
    assert "BPMNDiagram" in result.xml  # the layout stays, for the modeler
    assert [process.id for process in result.processes] == ["WFP-6-"]


def test_a_refusal_names_the_element_and_its_id() -> None:
    content = miwg_file("A.3.0.bpmn").read_bytes()

    result = imported(content)

    assert not result.accepted
    assert result.xml is None
    [reason] = result.reasons
    assert reason.code == "engine_refused"
    assert reason.element_id == "_1ae31d1b-2559-4f78-a3ec-47986a49db48"
    assert reason.message == (
        "bpmn:subProcess « Collapsed\nSub-Process » : refusé par le moteur : le sous-processus "
        "doit avoir exactement un événement de début : ajoutez-le à l'intérieur "
        "(id _1ae31d1b-2559-4f78-a3ec-47986a49db48)"
    )


@pytest.mark.parametrize("code", built_in_codes())
def test_the_built_in_diagrams_are_accepted(code: str) -> None:
    definition, content = read_built_in(code)

    result = imported(content, services=sorted(set(definition.lanes.values())))

    assert result.accepted, result.reasons
    lanes = {lane.name: lane.service for process in result.processes for lane in process.lanes}
    assert set(lanes) == set(definition.lanes)
    # Without services, lanes are not matched; decision tables are added apart, in the
    # designer, so a diagram calling one shipped beside it is told to add it.
    missing = ["decision_missing"] if read_decisions(BUILT_IN / f"{code}.bpmn") else []
    assert [warning.code for warning in imported(content).warnings] == missing


def test_lanes_named_after_a_service_are_matched_the_others_are_to_map() -> None:
    content = CRECHE.replace(b'name="Accueil petite enfance"', b'name="Petite-Enfance"')

    result = imported(content, services=["petite-enfance", "ecoles"])

    assert result.accepted
    lanes = {lane.name: lane.service for lane in result.processes[0].lanes}
    assert lanes["Petite-Enfance"] == "petite-enfance"
    assert lanes["Famille"] == "famille"
    [unmapped] = [w for w in result.warnings if w.code == "lane_without_service"]
    assert unmapped.element_id == "Lane_commission"
    assert "Commission petite enfance" in unmapped.message
    assert imported(CRECHE, services=["ecoles"]).warnings[0].code == "lane_without_service"


@pytest.mark.parametrize(
    ("old", "new", "code", "text"),
    [
        (
            b"decision == 'refus'",
            b"__import__('os').system('touch /tmp/pwned')",
            "unsafe_expression",
            "sequenceFlow « refus » : expression refusée",
        ),
        (b"decision == 'refus'", b"${decision == 'refus'}", "unsupported_language", "« JUEL »"),
        (b"decision == 'refus'", b"= decision", "unsupported_language", "« FEEL »"),
        (
            b'<bpmn:endEvent id="End_refus"',
            b'<bpmn:complexGateway id="Gateway_1" /><bpmn:endEvent id="End_refus"',
            "unsupported_element",
            "complexGateway « Gateway_1 » : élément BPMN non pris en charge (bpmn:complexGateway)",
        ),
        (b'id="notifier_famille"', b'id="effacer_disque"', "unknown_operation", "effacer_disque"),
        (
            b'targetRef="End_refus"',
            b'targetRef="ailleurs"',
            "broken_flow",
            "flux sans origine ou sans destination dans le processus",
        ),
        (
            b'id="End_refus"',
            b'id="verifier_dossier"',
            "duplicate_id",
            "l'identifiant « verifier_dossier » est en double",
        ),
    ],
)
def test_what_the_engine_cannot_run_is_refused_by_code(
    old: bytes, new: bytes, code: str, text: str
) -> None:
    assert old in CRECHE

    result = imported(CRECHE.replace(old, new, 1))

    assert not result.accepted
    assert code in {reason.code for reason in result.reasons}
    assert any(text in reason.message for reason in result.reasons)
    assert not Path("/tmp/pwned").exists()  # noqa: S108  (the path the hostile condition targets)


def test_a_pool_standing_for_a_partner_is_accepted_beside_the_executable_one() -> None:
    participants = (
        b'<bpmn:collaboration id="Collab"><bpmn:participant id="P1" name="Mairie" '
        b'processRef="creche" /><bpmn:participant id="P2" name="CAF" />'
        b'<bpmn:messageFlow id="Vers_CAF" sourceRef="P1" targetRef="P2" /></bpmn:collaboration>'
    )
    content = CRECHE.replace(b"<bpmn:process ", participants + b"<bpmn:process ", 1)

    result = imported(content)

    assert result.accepted, result.reasons
    assert [process.id for process in result.processes] == ["creche"]


def test_two_executable_pools_run_the_larger_and_keep_the_other_as_a_participant() -> None:
    partner = (
        b'<bpmn:process id="caf" name="CAF" isExecutable="true">'
        b'<bpmn:startEvent id="caf_start" /></bpmn:process>'
    )
    content = CRECHE.replace(b"<bpmn:process ", partner + b"<bpmn:process ", 1)

    result = imported(content)

    assert result.accepted, result.reasons
    [warning] = [w for w in result.warnings if w.code == "made_not_executable"]
    assert warning.element_id == "caf"
    assert "« CAF » : marqué non exécutable" in warning.message
    assert 'isExecutable="false"' in (result.xml or "")


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"", "malformed_xml"),
        (b"plain text, not XML", "malformed_xml"),
        (b"<bpmn:definitions", "malformed_xml"),
        (b"\xff\xfe\x00\x01garbage", "malformed_xml"),
        (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>', "not_bpmn"),
        (
            b'<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"/>',
            "no_process",
        ),
        (b"<a>&unknown;</a>", "malformed_xml"),
    ],
)
def test_broken_files_are_refused_with_a_code(content: bytes, code: str) -> None:
    result = imported(content)

    assert not result.accepted
    assert result.reasons[0].code == code


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A loopback port that would see any request an entity made."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.setblocking(False)
    yield server
    server.close()


def encoded(text: str, encoding: str) -> bytes:
    """`text` after an XML declaration; in UTF-7 every markup character is shifted, so no
    byte reads `<!DOCTYPE` and only the parsed document tells it holds a DTD."""
    declaration = f'<?xml version="1.0" encoding="{encoding.upper()}"?>'
    if encoding == "utf-7":
        for char, shifted in (("<", "+ADw-"), (">", "+AD4-"), ("[", "+AFs-"), ("]", "+AF0-")):
            text = text.replace(char, shifted)
        return declaration.encode() + text.encode("ascii")
    return (declaration + text).encode(encoding)


def xxe(target: str, encoding: str = "utf-8") -> bytes:
    text = (
        f'<!DOCTYPE d [<!ENTITY x SYSTEM "{target}">]>'
        '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">'
        '<bpmn:process id="p"><bpmn:documentation>&x;</bpmn:documentation></bpmn:process>'
        "</bpmn:definitions>"
    )
    return encoded(text, encoding)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "utf-16-be", "utf-7"])
def test_external_entities_are_refused_without_reading_a_file_or_a_url(
    tmp_path: Path, listener: socket.socket, encoding: str
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET-MARKER-4242", encoding="utf-8")
    passwd = Path("/etc/passwd").read_text(encoding="utf-8").splitlines()[0]
    port = listener.getsockname()[1]
    targets = [
        "file:///etc/passwd",
        secret.as_uri(),
        "http://127.0.0.1:1/",
        f"http://127.0.0.1:{port}/",
    ]

    results = [imported(xxe(target, encoding)) for target in targets]

    for result in results:
        assert not result.accepted
        assert [reason.code for reason in result.reasons] == ["doctype"]
        shown = repr(result) + (result.xml or "")
        assert passwd not in shown
        assert "SECRET-MARKER" not in shown
    with pytest.raises(BlockingIOError):
        listener.accept()  # nobody called


def billion_laughs(encoding: str = "utf-8") -> bytes:
    entities = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
    ]
    text = (
        f"<!DOCTYPE lolz [{''.join(entities)}]>"
        '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">'
        "<bpmn:documentation>&lol9;</bpmn:documentation></bpmn:definitions>"
    )
    return encoded(text, encoding)


@pytest.mark.parametrize(
    ("encoding", "code"),
    [
        ("utf-8", "doctype"),
        ("utf-16", "doctype"),
        ("utf-32", "doctype"),
        ("utf-7", "malformed_xml"),  # past the byte scan: libxml2's amplification guard stops it
    ],
)
def test_billion_laughs_is_refused_quickly_in_bounded_memory(encoding: str, code: str) -> None:
    content = billion_laughs(encoding)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB, C allocations too
    tracemalloc.start()
    started = time.monotonic()
    try:
        result = imported(content)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert not result.accepted
    assert [reason.code for reason in result.reasons] == [code]
    assert time.monotonic() - started < 2
    assert peak < 50 * 1024 * 1024
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before < 50 * 1024


def test_a_50_mb_file_is_refused_by_size_reading_only_past_the_limit(tmp_path: Path) -> None:
    huge = tmp_path / "huge.bpmn"
    with huge.open("wb") as file:
        file.write(CRECHE)
        file.truncate(50 * 1024 * 1024)

    with huge.open("rb") as stream:
        result = import_stream(stream, filename=huge.name, services=None)
        read = stream.tell()

    assert [reason.code for reason in result.reasons] == ["too_large"]
    assert "5 Mo" in result.reasons[0].message
    assert read == MAX_IMPORT_BYTES + 1


def test_a_file_just_under_the_limit_is_parsed() -> None:
    padding = b"<!--" + b" " * (MAX_IMPORT_BYTES - len(CRECHE) - 8) + b"-->"
    content = CRECHE.replace(b"<bpmn:definitions", padding + b"<bpmn:definitions", 1)
    assert len(content) <= MAX_IMPORT_BYTES

    assert import_stream(io.BytesIO(content), filename="grand.bpmn", services=None).accepted


CORPUS = sorted(MIWG.glob("*.bpmn")) + [BUILT_IN / f"{code}.bpmn" for code in built_in_codes()]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4096))
def test_random_bytes_never_raise(content: bytes) -> None:
    result = imported(content)

    assert isinstance(result, ImportResult)
    assert result.accepted is (result.xml is not None)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    content = bytearray(draw(st.sampled_from(CORPUS)).read_bytes())
    for _ in range(draw(st.integers(1, 4))):
        start = draw(st.integers(0, len(content)))
        end = draw(st.integers(start, min(len(content), start + 64)))
        payload = draw(
            st.one_of(
                st.binary(max_size=16),
                st.sampled_from(
                    [b"<", b">", b"/>", b"&", b'"', b"<bpmn:subProcess>", b"</bpmn:process>", b""]
                ),
                st.just(bytes(content[start:end]) * 2),  # duplicate a piece
            )
        )
        content[start:end] = payload
    return bytes(content)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_diagrams_never_raise(content: bytes) -> None:
    result = imported(content, services=["petite-enfance"])

    assert isinstance(result, ImportResult)
    assert result.accepted is (result.xml is not None)
    assert result.accepted or result.reasons
