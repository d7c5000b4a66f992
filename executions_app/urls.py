from django.urls import path

from executions_app import api, views

api_urlpatterns = [
    path("execute/async/<str:target>", api.ExecuteAsyncView.as_view(), name="execute-async"),
    path("execute/<str:target>", api.ExecuteSyncView.as_view(), name="execute-sync"),
    path("executions/batch-status", api.BatchStatusView.as_view(), name="execution-batch"),
    path(
        "executions/<str:execution_id>", api.ExecutionDetailView.as_view(), name="execution-detail"
    ),
    path(
        "executions/<str:execution_id>/status",
        api.ExecutionStatusCallbackView.as_view(),
        name="execution-status",
    ),
    path(
        "executions/<str:execution_id>/logs",
        api.ExecutionLogsView.as_view(),
        name="execution-logs",
    ),
    path("workflow/executions/events", api.WorkflowEventsView.as_view(), name="workflow-events"),
    path(
        "executions/<str:execution_id>/provenance",
        api.ProvenanceView.as_view(),
        name="execution-provenance",
    ),
    path("provenance/public-key", api.ProvenanceKeyView.as_view(), name="provenance-key"),
    path("workflows/<str:workflow_id>/dag", api.WorkflowDagView.as_view(), name="workflow-dag"),
]

page_urlpatterns = [
    path("workflows/<str:workflow_id>/", views.workflow_page, name="workflow-page"),
]
