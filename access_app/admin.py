from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from access_app.models import ApiKey, CallerProfile


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("name", "prefix", "role", "tags", "node_id", "created_at", "revoked_at")
    list_filter = ("role",)
    search_fields = ("name", "prefix", "node_id")
    readonly_fields = ("prefix", "key_hash", "created_at", "last_used_at")
    fields = (
        "name",
        "role",
        "tags",
        "node_id",
        "prefix",
        "key_hash",
        "created_at",
        "last_used_at",
        "revoked_at",
    )

    def has_add_permission(self, request) -> bool:
        # Keys are created with `manage.py create_api_key`, which shows the key once.
        return False


class CallerProfileInline(admin.StackedInline):
    model = CallerProfile
    can_delete = False
    verbose_name_plural = "caller tags"


User = get_user_model()
admin.site.unregister(User)


@admin.register(User)
class UserWithTagsAdmin(UserAdmin):
    inlines = [CallerProfileInline]
