from django.urls import path

from access_app import api, auth_views, views

api_urlpatterns = [
    path("me", api.MeView.as_view(), name="me"),
    path("admin/api-keys", api.ApiKeyListView.as_view(), name="admin-api-keys"),
    path("nodes/register", api.NodeRegisterView.as_view(), name="node-register"),
    path("nodes", api.NodeListView.as_view(), name="node-list"),
    path("nodes/<str:node_id>", api.NodeDetailView.as_view(), name="node-detail"),
    path("nodes/<str:node_id>/heartbeat", api.NodeHeartbeatView.as_view(), name="node-heartbeat"),
    path("nodes/<str:node_id>/shutdown", api.NodeShutdownView.as_view(), name="node-shutdown"),
    path("admin/agents/pending", api.PendingAgentsView.as_view(), name="admin-agents-pending"),
    path("admin/agents/approved", api.ApprovedAgentsView.as_view(), name="admin-agents-approved"),
    path("admin/agents/<str:node_id>/approve-tags", api.ApproveTagsView.as_view()),
    path("admin/agents/<str:node_id>/reject-tags", api.RejectTagsView.as_view()),
    path("admin/agents/<str:node_id>/tag-decision", api.TagDecisionChangeView.as_view()),
    path("admin/policies", api.PolicyListView.as_view(), name="policy-list"),
    path("admin/policies/<int:policy_id>", api.PolicyDetailView.as_view(), name="policy-detail"),
]

page_urlpatterns = [
    path("approvals/", views.approvals, name="approvals"),
    path("approvals/decide", views.approvals_decide, name="approvals-decide"),
]

# Mounted at the site's root: the product's sign-in (decision 0031).
auth_urlpatterns = [
    path("login/", auth_views.ProductLoginView.as_view(), name="login"),
    path("login/key", auth_views.api_key_login, name="login-key"),
    path("logout/", auth_views.ProductLogoutView.as_view(), name="logout"),
]
