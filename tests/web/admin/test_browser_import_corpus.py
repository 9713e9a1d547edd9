"""Every MIWG reference model the import accepts, uploaded through the import page in headless
Chromium and opened in the designer: bpmn-js draws it without an error or a warning, one shape
per flow node of the file, with no failed response and no console error."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from procedures.bpmn.diagrams import BPMN, NS
from tests.procedures.designer.test_importing import MIWG_EXPECTED, miwg_file
from tests.web.agents import sign_in_agent_in_browser
from tests.web.browser import ARTIFACTS, Portal, serve_portal, unexpected

ADMIN = "admin@bellerive.example"
ACCEPTED = sorted(name for name, (codes, _elements) in MIWG_EXPECTED.items() if not codes)
FLOW_NODE_TAGS = frozenset({"task", "subProcess", "callActivity", "transaction", "adHocSubProcess"})
SHAPES_ON_CANVAS = """() => Array.from(
  document.querySelectorAll("#designer-canvas .djs-element.djs-shape"),
  (shape) => shape.getAttribute("data-element-id"),
).filter((id) => !id.endsWith("_label"))"""
DRAWN_FLOW_NODES = """() => window.portailDesigner.modeler.get("elementRegistry")
  .filter((element) => element.type !== "label"
    && element.businessObject.$instanceOf("bpmn:FlowNode"))
  .map((element) => element.id)"""


@pytest.fixture
def portal(tmp_path: Path) -> Iterator[Portal]:
    with serve_portal(tmp_path / "var") as served:
        yield served


def parsed(content: bytes) -> etree._Element:
    return etree.fromstring(content, etree.XMLParser(resolve_entities=False, no_network=True))


def flow_node_ids(content: bytes) -> set[str]:
    """The ids of the file's flow nodes (events, activities, gateways), as BPMN defines them."""
    root = parsed(content)
    return {
        node.get("id", "")
        for process in root.iterfind("bpmn:process", NS)
        for node in process.iter(f"{{{BPMN}}}*")
        if etree.QName(node).localname.endswith(("Task", "Event", "Gateway"))
        or etree.QName(node).localname in FLOW_NODE_TAGS
    }


def container_ids(content: bytes) -> set[str]:
    """The pools and lanes: drawn as shapes too, but not flow nodes."""
    root = parsed(content)
    return {
        element.get("id", "")
        for tag in ("participant", "lane")
        for element in root.iter(f"{{{BPMN}}}{tag}")
    }


def import_through_the_page(page: Any, portal: Portal, code: str, path: Path) -> None:
    page.goto(portal.url + f"/admin/procedures/import?code={code}")
    page.set_input_files("#import-fichier", str(path))
    page.locator('form[enctype="multipart/form-data"] button[type=submit]').click()
    page.wait_for_url(portal.url + f"/admin/procedures/{code}/concepteur")


@pytest.mark.browser
def test_each_accepted_miwg_model_renders_in_the_designer(portal: Portal, browser: Any) -> None:
    assert ACCEPTED, "the table pins no accepted model"
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="fr-FR")
    page = context.new_page()
    failed: list[str] = []
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text) if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda error: console.append(str(error)))
    sign_in_agent_in_browser(page, portal.url, portal.app, ADMIN)
    ARTIFACTS.mkdir(exist_ok=True)

    for name in ACCEPTED:
        path = miwg_file(name)
        code = "miwg-" + path.stem.lower().replace(".", "-")
        import_through_the_page(page, portal, code, path)
        canvas = page.locator("#designer-canvas")
        page.wait_for_selector(
            "#designer-canvas[data-ready=true], #designer-canvas[data-import-error]"
        )
        page.screenshot(path=str(ARTIFACTS / f"import-miwg-{path.stem}.png"), full_page=True)

        assert canvas.get_attribute("data-import-error") is None, name
        assert canvas.get_attribute("data-import-warnings") == "0", name
        expected = flow_node_ids(path.read_bytes())
        assert expected, name
        assert set(page.evaluate(DRAWN_FLOW_NODES)) == expected, name
        shapes = page.evaluate(SHAPES_ON_CANVAS)
        flow_shapes = [shape for shape in shapes if shape not in container_ids(path.read_bytes())]
        assert sorted(flow_shapes) == sorted(expected), name  # one shape per flow node
        for node_id in expected:
            drawn = page.locator(f'.djs-element.djs-shape[data-element-id="{node_id}"]')
            assert drawn.count() == 1, f"{name}: {node_id} not drawn"
            assert drawn.bounding_box() is not None, f"{name}: {node_id} has no size"
    assert failed == [] and unexpected(console) == []
    context.close()
