"""The workflow page: the execution DAG drawn as server-side SVG (``executions_app.dag``)."""

from __future__ import annotations

from django.http import Http404
from django.shortcuts import render

from access_app.principals import page_principal, principal_required
from executions_app.dag import dag_layout
from executions_app.selectors import workflow_executions_for


@principal_required
def workflow_page(request, workflow_id: str):
    executions = workflow_executions_for(principal=page_principal(request), workflow_id=workflow_id)
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
