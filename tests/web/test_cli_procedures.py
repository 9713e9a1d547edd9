"""`flask procedures check`: one line per problem, exit 1, never a traceback."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from flask import Flask

from procedures.catalogue import BUILT_IN

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
                '<bpmn:subProcess id="Sub" /><bpmn:endEvent id="End_refus"',
            ),
            "subProcess « Sub » : élément BPMN non pris en charge",
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
