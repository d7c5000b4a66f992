"""Callers (API keys, browser users' profiles)."""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings
from django.db import models


class Role(models.TextChoices):
    ADMIN = "admin", "admin"
    CALLER = "caller", "caller"
    AGENT = "agent", "agent"


def hash_secret(secret: str) -> str:
    """API keys are 256-bit random tokens, so one SHA-256 is enough (no stretching)."""
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiKey(models.Model):
    """A hashed API key. The visible ``prefix`` finds the row; the hash proves the key."""

    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    key_hash = models.CharField(max_length=64)
    role = models.CharField(max_length=10, choices=Role.choices)
    tags = models.JSONField(default=list, blank=True, help_text="Caller tags.")
    node_id = models.CharField(
        max_length=200, blank=True, default="", help_text="Agent keys only: the node it may act as."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…, {self.role})"

    def matches(self, secret: str) -> bool:
        return hmac.compare_digest(self.key_hash, hash_secret(secret))

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class CallerProfile(models.Model):
    """A browser user's caller tags, edited in the Django admin."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="caller_profile"
    )
    tags = models.JSONField(default=list, blank=True, help_text="Caller tags.")

    def __str__(self) -> str:
        return f"caller profile of {self.user}"
