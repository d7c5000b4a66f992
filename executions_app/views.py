"""The workflow page: the execution DAG drawn as server-side SVG."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render

from access_app.principals import Principal
from executions_app.selectors import workflow_executions_for

BOX_WIDTH, BOX_HEIGHT = 240, 64
COLUMN_GAP, ROW_GAP, MARGIN = 60, 24, 16


def dag_layout(executions) -> dict:
    """Columns by depth, rows in start order; edges from a parent's right to a child's left."""
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
    edges = []
    for box in boxes.values():
        parent = boxes.get(box["execution"].parent_execution_id)
        if parent:
            x1, y1 = parent["x"] + BOX_WIDTH, parent["y"] + BOX_HEIGHT // 2
            x2, y2 = box["x"], box["y"] + BOX_HEIGHT // 2
            mid = (x1 + x2) // 2
            edges.append(f"M{x1},{y1} C{mid},{y1} {mid},{y2} {x2},{y2}")
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


@login_required
def workflow_page(request, workflow_id: str):
    executions = workflow_executions_for(
        principal=Principal.from_user(request.user), workflow_id=workflow_id
    )
    if not executions:
        raise Http404("workflow not found")
    sessions = sorted({e.session_id for e in executions if e.session_id})
    return render(
        request,
        "executions/workflow.html",
        {
            "workflow_id": workflow_id,
            "executions": executions,
            "sessions": sessions,
            "layout": dag_layout(executions),
        },
    )
