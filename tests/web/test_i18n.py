from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from flask.testing import FlaskClient

from tests.factories import page_text

WEB = Path(__file__).parents[2] / "web"
CATALOGUE = WEB / "translations" / "fr" / "LC_MESSAGES" / "messages.po"
METHODS = [("**.py", "python"), ("**/templates/**.html", "jinja2")]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None}


def test_every_message_has_a_french_translation() -> None:
    with CATALOGUE.open("rb") as po:
        catalogue = read_po(po, locale="fr")
    # A plural message (ngettext) is known by its singular msgid, as extraction names it.
    translated = {
        m.id if isinstance(m.id, str) else m.id[0]
        for m in catalogue
        if m.id and m.string and all(m.string) and not m.fuzzy
    }

    used = {
        message if isinstance(message, str) else message[0]
        for _file, _line, message, _comments, _context in extract_from_dir(
            str(WEB), METHODS, keywords=KEYWORDS
        )
    }

    assert used, "no message extracted: the extraction settings are wrong"
    assert sorted(used - translated) == []


def test_pages_are_served_in_french(client: FlaskClient) -> None:
    page = page_text(client.get("/"))

    assert '<html lang="fr"' in page
    assert "Bienvenue sur le portail famille" in page
    assert "Se connecter" in page
