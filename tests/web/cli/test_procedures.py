"""`flask procedures check`: one line per problem, exit 1, never a traceback."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from procedures.catalogue import BUILT_IN
from tests.conftest import require
from tests.factories import make_service

CRECHE = (BUILT_IN / "creche.bpmn").read_text(encoding="utf-8")


def diagram(tmp_path: Path, name: str, content: str) -> Path:
    path = tmp_path / f"{name}.bpmn"
    path.write_text(content, encoding="utf-8")
    shutil.copy(BUILT_IN / "creche.toml", path.with_suffix(".toml"))
    return path


def check(app: Flask, *paths: Path) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(args=["procedures", "check", *map(str, paths)])
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def test_the_built_in_catalogue_passes(app: Flask) -> None:
    code, output = check(app)

    assert code == 0
    assert "creche.bpmn: ok" in output


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ("decision == 'refus'", "__import__('os').system('touch /tmp/pwned')"),
            "sequenceFlow « refus » : expression refusée",
        ),
        (("decision == 'attente'", "().__class__.__bases__"), "expression refusée"),
        (('name="Famille"', 'name="Parents"'), "lane « Parents » : ce couloir n'est rattaché"),
        (('id="notifier_famille"', 'id="effacer_disque"'), "opération de service inconnue"),
        (
            ("<bpmn:flowNodeRef>verifier_dossier</bpmn:flowNodeRef>", ""),
            "userTask « Vérifier la complétude du dossier » : tâche humaine hors de tout couloir",
        ),
        (
            (
                '<bpmn:endEvent id="End_refus"',
                '<bpmn:complexGateway id="Sub" /><bpmn:endEvent id="End_refus"',
            ),
            "complexGateway « Sub » : élément BPMN non pris en charge",
        ),
    ],
)
def test_each_problem_is_named_by_its_element(
    app: Flask, tmp_path: Path, change: tuple[str, str], expected: str
) -> None:
    assert change[0] in CRECHE
    path = diagram(tmp_path, "modifie", CRECHE.replace(change[0], change[1], 1))

    code, output = check(app, path)

    assert code == 1
    assert expected in output
    assert not Path("/tmp/pwned").exists()  # noqa: S108  (the path the hostile diagram targets)


@pytest.mark.parametrize(
    "content",
    [
        '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><d>&x;</d>',
        '<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaa">'
        '<!ENTITY b "&a;&a;&a;&a;">]><l>&b;</l>',
        "<bpmn:definitions",
        "plain text, not XML",
        "",
    ],
)
def test_hostile_or_broken_files_are_refused_cleanly(
    app: Flask, tmp_path: Path, content: str
) -> None:
    code, output = check(app, diagram(tmp_path, "hostile", content))

    assert code == 1
    assert "root:" not in output
    assert output.count("\n") >= 1


def test_a_missing_metadata_file_is_reported(app: Flask, tmp_path: Path) -> None:
    path = tmp_path / "seul.bpmn"
    path.write_text(CRECHE, encoding="utf-8")

    code, output = check(app, path)

    assert code == 1
    assert "seul.toml est attendu" in output


def test_an_element_named_like_an_operation_is_refused_by_name(app: Flask, tmp_path: Path) -> None:
    content = CRECHE.replace('id="notifier_depot"', 'id="notifier_famille"').replace(
        'targetRef="notifier_depot"', 'targetRef="notifier_famille"'
    )
    content = content.replace('sourceRef="notifier_depot"', 'sourceRef="notifier_famille"')
    content = content.replace(
        "<bpmn:flowNodeRef>notifier_depot</bpmn:flowNodeRef>",
        "<bpmn:flowNodeRef>notifier_famille</bpmn:flowNodeRef>",
    )

    code, output = check(app, diagram(tmp_path, "conflit", content))

    assert code == 1
    assert "serviceTask « Accuser réception » : l'identifiant « notifier_famille »" in output


# `flask procedures import FILE...`: a verdict line per file, `accepted FILE` or
# `refused FILE: reasons`; exit 0 when all are accepted, 1 when some are refused.

MIWG = Path(__file__).resolve().parents[3].parent / "shared" / "bpmn-corpus" / "miwg-reference"


def import_file(app: Flask, *paths: Path | str) -> tuple[int, list[str]]:
    result = app.test_cli_runner().invoke(args=["procedures", "import", *map(str, paths)])
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return result.exit_code, result.output.splitlines()


def test_import_accepts_a_diagram_the_engine_runs(app: Flask, db_session: Session) -> None:
    make_service(db_session, code="petite-enfance")
    db_session.flush()
    path = BUILT_IN / "creche.bpmn"

    code, lines = import_file(app, path)

    assert code == 0
    assert lines[0] == f"accepted {path}"
    assert "  processus « Pré-inscription en crèche » ; couloirs : " in lines[1]
    assert "  tâches humaines : " in lines[2]
    assert any("« Commission petite enfance » : à rattacher à un service" in x for x in lines)
    assert not any("« Famille » : à rattacher" in line for line in lines)


def test_import_refuses_a_miwg_model_naming_the_element(app: Flask) -> None:
    if not MIWG.is_dir():
        require(f"the MIWG reference models are missing: {MIWG}")

    code, lines = import_file(app, MIWG / "A.2.1.bpmn")

    assert code == 1
    [line] = lines
    assert line.startswith(f"refused {MIWG / 'A.2.1.bpmn'}: unsupported_language: sequenceFlow ")
    assert "langage d'expression non pris en charge « http://www.w3.org/1999/XPath »" in line
    assert "(id _To9Z7TOCEeSknpIVFCxNIQ)" in line


def test_import_of_the_whole_miwg_corpus_gives_a_verdict_per_file_and_a_count(
    app: Flask,
) -> None:
    if not MIWG.is_dir():
        require(f"the MIWG reference models are missing: {MIWG}")
    paths = sorted(MIWG.glob("*.bpmn"))

    code, lines = import_file(app, *paths)

    assert code == 1  # some are refused
    verdicts = [line for line in lines if not line.startswith("  ")]
    assert [v.split(" ", 2)[1].rstrip(":") for v in verdicts[:-1]] == [str(p) for p in paths]
    accepted = [v for v in verdicts if v.startswith("accepted ")]
    assert [Path(v.split(" ", 1)[1]).name for v in accepted] == ["A.1.0.bpmn", "C.9.1.bpmn"]
    assert verdicts[-1] == f"2 accepted, {len(paths) - 2} refused"


def test_import_of_accepted_files_only_exits_0(app: Flask) -> None:
    code, lines = import_file(app, BUILT_IN / "creche.bpmn", BUILT_IN / "signalement.bpmn")

    assert code == 0
    assert lines[-1] == "2 accepted, 0 refused"


def write(tmp_path: Path, name: str, content: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("binaire.bpmn", bytes(range(256)) * 40, "  malformed_xml: XML illisible"),
        ("vide.bpmn", b"", "  malformed_xml: XML illisible"),
        (
            "xxe.bpmn",
            b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            b'<d xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL">&x;</d>',
            "  doctype: les déclarations DOCTYPE et ENTITY sont refusées",
        ),
        ("image.svg", b'<svg xmlns="http://www.w3.org/2000/svg"/>', "  not_bpmn: "),
    ],
)
def test_import_refuses_broken_or_hostile_files(
    app: Flask, tmp_path: Path, name: str, content: bytes, reason: str
) -> None:
    path = write(tmp_path, name, content)
    code, lines = import_file(app, path)

    assert code == 1
    assert lines[0].startswith(f"refused {path}: {reason.strip()}")
    assert not any("root:" in line for line in lines)


def test_import_refuses_a_50_mb_file_by_its_size(app: Flask, tmp_path: Path) -> None:
    path = tmp_path / "enorme.bpmn"
    with path.open("wb") as file:
        file.write(CRECHE.encode("utf-8"))
        file.truncate(50 * 1024 * 1024)

    code, lines = import_file(app, path)

    assert (code, lines) == (
        1,
        [f"refused {path}: too_large: le fichier dépasse 5 Mo, ce n'est pas un diagramme"],
    )


@pytest.mark.parametrize("target", ["absent.bpmn", "."])
def test_import_refuses_what_is_not_a_readable_file(
    app: Flask, tmp_path: Path, target: str
) -> None:
    code, lines = import_file(app, tmp_path / target)

    assert code == 1
    assert lines[0].startswith(f"refused {tmp_path / target}: unreadable: ")
