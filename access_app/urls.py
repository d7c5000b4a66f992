from django.urls import path

from access_app import api

api_urlpatterns = [
    path("me", api.MeView.as_view(), name="me"),
    path("admin/api-keys", api.ApiKeyListView.as_view(), name="admin-api-keys"),
]
