"""A drawing for diagrams that carry none, so that the modeler can show them.

bpmn-js draws only what has BPMN DI (shapes and edges); the built-in diagrams are written by
hand without it. Each flow node gets a column from its longest path from the start, and a
row in its lane; lanes are bands of a pool; flows are orthogonal paths. Diagrams that
already carry a drawing are returned unchanged.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from lxml import etree

from procedures.bpmn.diagrams import BPMN, NS, called_processes, main_process, parse_xml

BPMNDI = "http://www.omg.org/spec/BPMN/20100524/DI"
DC = "http://www.omg.org/spec/DD/20100524/DC"
DI = "http://www.omg.org/spec/DD/20100524/DI"
COLUMN, ROW = 160, 120
POOL_X, POOL_Y, POOL_LABEL, LANE_LABEL = 100, 60, 30, 30
TASKS = frozenset({"task", "subProcess", "callActivity", "transaction"})


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    width: float
    height: float

    @property
    def middle(self) -> tuple[float, float]:
        return self.x + self.width / 2, self.y + self.height / 2


def with_layout(xml: str) -> str:
    """The diagram with a drawing: unchanged when it has one, else one computed."""
    root = parse_xml(xml.encode("utf-8"))
    if root.find(f"{{{BPMNDI}}}BPMNDiagram/{{{BPMNDI}}}BPMNPlane/*") is not None:
        return xml
    process, _ = main_process(root)
    if process is None:
        return xml
    for empty in root.findall(f"{{{BPMNDI}}}BPMNDiagram"):
        root.remove(empty)
    _draw(root, process)
    # Each sub-process is drawn on its own plane (the modeler's "drill down"), each called
    # process on a diagram of its own.
    for index, container in enumerate(_inner_containers(root, process), start=2):
        _draw_plane(root, container, index)
    text = etree.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + text + "\n"


def _size(tag: str) -> tuple[int, int] | None:
    if tag.endswith("Event"):
        return 36, 36
    if tag.endswith("Gateway"):
        return 50, 50
    if tag.endswith("Task") or tag in TASKS:
        return 100, 80
    return None


def _nodes(process: etree._Element) -> dict[str, etree._Element]:
    return {
        node.get("id", ""): node
        for node in process.iterchildren(f"{{{BPMN}}}*")
        if _size(etree.QName(node).localname) is not None and node.get("id")
    }


def _flows(process: etree._Element, nodes: dict[str, etree._Element]) -> list[tuple[str, str]]:
    """Each flow as (source, target), a boundary event standing for the task it sits on."""
    flows = []
    for flow in process.iterchildren(f"{{{BPMN}}}sequenceFlow"):
        source, target = flow.get("sourceRef", ""), flow.get("targetRef", "")
        if source in nodes and target in nodes:
            flows.append((nodes[source].get("attachedToRef") or source, target))
    return flows


def _columns(nodes: dict[str, etree._Element], flows: list[tuple[str, str]]) -> dict[str, int]:
    """The longest path from a start to each node; a depth-first walk cuts the loops."""
    after: dict[str, list[str]] = defaultdict(list)
    for source, target in flows:
        after[source].append(target)
    targets = {target for _, target in flows}
    starts = [node for node in nodes if node not in targets] or list(nodes)[:1]
    forward: list[tuple[str, str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for start in starts:
        stack = [(start, iter(after[start]))]
        state[start] = 1
        while stack:
            node, successors = stack[-1]
            following = next(successors, None)
            if following is None:
                state[node] = 2
                stack.pop()
            elif state.get(following) != 1:  # an edge back onto the path closes a loop
                forward.append((node, following))
                if following not in state:
                    state[following] = 1
                    stack.append((following, iter(after[following])))
    column = dict.fromkeys(nodes, 0)
    for _ in range(len(nodes)):  # relax until stable: at most one pass per node
        changed = False
        for source, target in forward:
            if column[target] < column[source] + 1:
                column[target], changed = column[source] + 1, True
        if not changed:
            break
    return column


def _lane_of(process: etree._Element) -> tuple[list[etree._Element], dict[str, str]]:
    """The leaf lanes in order, and the lane id of each flow node."""
    leaves = [
        lane
        for lane in process.iter(f"{{{BPMN}}}lane")
        if lane.find("bpmn:childLaneSet", NS) is None
    ]
    lane_of = {
        (ref.text or "").strip(): lane.get("id", "")
        for lane in leaves
        for ref in lane.iterfind("bpmn:flowNodeRef", NS)
    }
    return leaves, lane_of


def _draw(root: etree._Element, process: etree._Element) -> None:
    nodes = _nodes(process)
    flows = _flows(process, nodes)
    column = _columns(nodes, flows)
    lanes, lane_of = _lane_of(process)
    bands = [lane.get("id", "") for lane in lanes] + [""]  # "" holds the nodes outside a lane
    slots: dict[tuple[str, int], int] = defaultdict(int)
    slot_of: dict[str, int] = {}
    for node_id, node in nodes.items():
        if node.get("attachedToRef"):
            continue
        key = (lane_of.get(node_id, ""), column[node_id])
        slot_of[node_id] = slots[key]
        slots[key] += 1
    rows = {band: max([1] + [n for (b, _), n in slots.items() if b == band]) for band in bands}
    if not any(lane_of.get(node_id, "") == "" for node_id in slot_of):
        rows[""] = 0
    top: float = POOL_Y
    band_top: dict[str, float] = {}
    for band in bands:
        band_top[band] = top
        top += rows[band] * ROW
    left = POOL_X + POOL_LABEL + LANE_LABEL + 20
    width = POOL_LABEL + LANE_LABEL + 40 + (max(column.values(), default=0) + 1) * COLUMN
    boxes = _node_boxes(nodes, column, lane_of, slot_of, band_top, left)
    plane = _plane(root, process)
    participant = _participant(root, process)
    lane_height = sum(rows[band] for band in bands[:-1]) * ROW
    if participant is not None and lanes:
        _shape(plane, participant, Box(POOL_X, POOL_Y, width, lane_height), horizontal=True)
        for lane in lanes:
            band = lane.get("id", "")
            box = Box(POOL_X + POOL_LABEL, band_top[band], width - POOL_LABEL, rows[band] * ROW)
            _shape(plane, lane, box, horizontal=True)
    elif participant is not None:
        _shape(plane, participant, Box(POOL_X, POOL_Y, width, max(top - POOL_Y, ROW)), True)
    _draw_nodes(plane, process, nodes, boxes)


def _inner_containers(root: etree._Element, process: etree._Element) -> list[etree._Element]:
    containers = [*process.iter(f"{{{BPMN}}}subProcess")]
    for callee in called_processes(root, process, []):
        containers += [callee, *callee.iter(f"{{{BPMN}}}subProcess")]
    return containers


def _draw_plane(root: etree._Element, container: etree._Element, index: int) -> None:
    """A sub-process's or a called process's elements, in a row, on a plane of their own."""
    nodes = _nodes(container)
    flows = _flows(container, nodes)
    column = _columns(nodes, flows)
    slots: dict[int, int] = defaultdict(int)
    slot_of: dict[str, int] = {}
    for node_id, node in nodes.items():
        if not node.get("attachedToRef"):
            slot_of[node_id] = slots[column[node_id]]
            slots[column[node_id]] += 1
    boxes = _node_boxes(nodes, column, {}, slot_of, {"": POOL_Y}, POOL_X)
    diagram = etree.SubElement(root, f"{{{BPMNDI}}}BPMNDiagram", id=f"BPMNDiagram_{index}")
    plane = etree.SubElement(
        diagram, f"{{{BPMNDI}}}BPMNPlane", id=f"BPMNPlane_{index}",
        bpmnElement=container.get("id", ""),
    )  # fmt: skip
    _draw_nodes(plane, container, nodes, boxes)


def _draw_nodes(
    plane: etree._Element,
    container: etree._Element,
    nodes: dict[str, etree._Element],
    boxes: dict[str, Box],
) -> None:
    """The shapes of the nodes and the edges of the flows between them."""
    for node_id, box in boxes.items():
        _shape(plane, nodes[node_id], box)
    for flow in container.iterchildren(f"{{{BPMN}}}sequenceFlow"):
        source, target = boxes.get(flow.get("sourceRef", "")), boxes.get(flow.get("targetRef", ""))
        if source is not None and target is not None:
            _edge(plane, flow, _waypoints(source, target))


def _node_boxes(
    nodes: dict[str, etree._Element],
    column: dict[str, int],
    lane_of: dict[str, str],
    slot_of: dict[str, int],
    band_top: dict[str, float],
    left: float,
) -> dict[str, Box]:
    boxes: dict[str, Box] = {}
    for node_id, slot in slot_of.items():
        width, height = _size(etree.QName(nodes[node_id]).localname) or (100, 80)
        centre_x = left + column[node_id] * COLUMN + 50
        centre_y = band_top[lane_of.get(node_id, "")] + slot * ROW + ROW / 2
        boxes[node_id] = Box(centre_x - width / 2, centre_y - height / 2, width, height)
    on_host: dict[str, int] = defaultdict(int)
    for node_id, node in nodes.items():
        host = boxes.get(node.get("attachedToRef", ""))
        if node_id not in slot_of and host is not None:
            index = on_host[node.get("attachedToRef", "")]
            on_host[node.get("attachedToRef", "")] += 1
            x = host.x + host.width - 28 - index * 40
            boxes[node_id] = Box(x, host.y + host.height - 18, 36, 36)
    return boxes


def _waypoints(source: Box, target: Box) -> list[tuple[float, float]]:
    (sx, sy), (tx, ty) = source.middle, target.middle
    if target.x > source.x + source.width:  # forward: right side to left side
        start, end = (source.x + source.width, sy), (target.x, ty)
        if sy == ty:
            return [start, end]
        middle = (start[0] + end[0]) / 2
        return [start, (middle, sy), (middle, ty), end]
    below = max(source.y + source.height, target.y + target.height) + 25
    source_bottom, target_bottom = source.y + source.height, target.y + target.height
    return [(sx, source_bottom), (sx, below), (tx, below), (tx, target_bottom)]


def _plane(root: etree._Element, process: etree._Element) -> etree._Element:
    collaboration = root.find("bpmn:collaboration", NS)
    owner = collaboration if _participant(root, process) is not None else process
    assert owner is not None
    diagram = etree.SubElement(root, f"{{{BPMNDI}}}BPMNDiagram", id="BPMNDiagram_1")
    return etree.SubElement(
        diagram, f"{{{BPMNDI}}}BPMNPlane", id="BPMNPlane_1", bpmnElement=owner.get("id", "")
    )


def _participant(root: etree._Element, process: etree._Element) -> etree._Element | None:
    for participant in root.iterfind("bpmn:collaboration/bpmn:participant", NS):
        if participant.get("processRef") == process.get("id"):
            return participant
    return None


def _shape(
    plane: etree._Element, element: etree._Element, box: Box, horizontal: bool = False
) -> None:
    attributes = {"id": f"{element.get('id')}_di", "bpmnElement": element.get("id", "")}
    if horizontal:
        attributes["isHorizontal"] = "true"
    shape = etree.SubElement(plane, f"{{{BPMNDI}}}BPMNShape", attributes)
    etree.SubElement(
        shape, f"{{{DC}}}Bounds",
        x=_number(box.x), y=_number(box.y), width=_number(box.width), height=_number(box.height),
    )  # fmt: skip


def _edge(plane: etree._Element, flow: etree._Element, points: list[tuple[float, float]]) -> None:
    attributes = {"id": f"{flow.get('id')}_di", "bpmnElement": flow.get("id", "")}
    edge = etree.SubElement(plane, f"{{{BPMNDI}}}BPMNEdge", attributes)
    for x, y in points:
        etree.SubElement(edge, f"{{{DI}}}waypoint", x=_number(x), y=_number(y))


def _number(value: float) -> str:
    return str(round(value))
