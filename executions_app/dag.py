"""A workflow's executions as a graph: its root and parent -> child edges (the DAG route),
and its drawing as server-side SVG (the workflow page)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from executions_app.models import Execution

BOX_WIDTH, BOX_HEIGHT = 240, 64
COLUMN_GAP, ROW_GAP, MARGIN = 60, 24, 16


@dataclass
class WorkflowDag:
    """The executions of one workflow, in start order."""

    workflow_id: str
    executions: list[Execution]
    root_execution_id: str | None = field(init=False)
    linked: list[Execution] = field(init=False)  # executions whose parent is in the workflow

    def __post_init__(self) -> None:
        ids = {e.execution_id for e in self.executions}
        roots = [e for e in self.executions if e.parent_execution_id not in ids]
        self.root_execution_id = roots[0].execution_id if roots else None
        self.linked = [e for e in self.executions if e.parent_execution_id in ids]


def _boxes(executions: list[Execution]) -> tuple[dict[str, dict[str, Any]], dict[int, int]]:
    """Columns by depth, rows in start order: each execution's box, and rows per depth."""
    rows_per_depth: dict[int, int] = {}
    boxes = {}
    for execution in executions:
        row = rows_per_depth.get(execution.depth, 0)
        rows_per_depth[execution.depth] = row + 1
        boxes[execution.execution_id] = {
            "execution": execution,
            "x": MARGIN + execution.depth * (BOX_WIDTH + COLUMN_GAP),
            "y": MARGIN + row * (BOX_HEIGHT + ROW_GAP),
        }
    return boxes, rows_per_depth


def _edge_path(parent: dict[str, Any], child: dict[str, Any]) -> str:
    """A curve from the parent's right side to the child's left side."""
    x1, y1 = parent["x"] + BOX_WIDTH, parent["y"] + BOX_HEIGHT // 2
    x2, y2 = child["x"], child["y"] + BOX_HEIGHT // 2
    mid = (x1 + x2) // 2
    return f"M{x1},{y1} C{mid},{y1} {mid},{y2} {x2},{y2}"


def dag_layout(executions: list[Execution]) -> dict[str, Any]:
    """What ``executions/workflow.html`` draws: boxes, edge paths and the canvas size."""
    boxes, rows_per_depth = _boxes(executions)
    edges = [
        _edge_path(boxes[box["execution"].parent_execution_id], box)
        for box in boxes.values()
        if box["execution"].parent_execution_id in boxes
    ]
    width = MARGIN * 2 + (max(rows_per_depth) + 1) * (BOX_WIDTH + COLUMN_GAP) - COLUMN_GAP
    height = MARGIN * 2 + max(rows_per_depth.values()) * (BOX_HEIGHT + ROW_GAP) - ROW_GAP
    return {
        "boxes": list(boxes.values()),
        "edges": edges,
        "width": width,
        "height": height,
        "box_width": BOX_WIDTH,
        "box_height": BOX_HEIGHT,
    }
