from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from access_app.urls import api_urlpatterns as access_api
from access_app.urls import auth_urlpatterns as access_auth
from access_app.urls import page_urlpatterns as access_pages
from agentfield_site import health
from executions_app.urls import api_urlpatterns as executions_api
from executions_app.urls import page_urlpatterns as executions_pages
from sessions_app.urls import api_urlpatterns as sessions_api
from sessions_app.urls import page_urlpatterns as sessions_pages

handler400 = "foundation.errors.bad_request"
handler404 = "foundation.errors.page_not_found"
handler500 = "foundation.errors.server_error"

api_v1 = [*access_api, *executions_api, *sessions_api]

urlpatterns = [
    path("", include(sessions_pages)),
    path("", include(access_auth)),
    path("healthz", health.healthz, name="healthz"),
    path("api/v1/", include(api_v1)),
    path("access/", include(access_pages)),
    path("", include(executions_pages)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("admin/", admin.site.urls),
]
