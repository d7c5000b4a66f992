"""Session instances and their event log (the replay surface)."""

from __future__ import annotations

import hashlib

from django.db import models


class SessionStatus(models.TextChoices):
    CREATED = "created"
    CONNECTING = "connecting"
    ACTIVE = "active"
    ENDED = "ended"
    FAILED = "failed"
    EXPIRED = "expired"


class Transport(models.TextChoices):
    """How a session's client reaches the control plane (not the field's ``choices``: the
    capability matrix in ``agentfield.contract`` decides which are valid)."""

    WEBRTC = "webrtc"
    WEBSOCKET = "websocket"
    # Turn-based: no runtime holds the call between turns, nothing goes stale, and no
    # runtime tells the handler that the session ended.
    AUDIO_TURNS = "audio_turns"


LIVE_STATUSES = (SessionStatus.CREATED, SessionStatus.CONNECTING, SessionStatus.ACTIVE)


def hash_client_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class SessionInstance(models.Model):
    session_id = models.CharField(max_length=64, unique=True)
    target = models.ForeignKey(
        "access_app.Target", on_delete=models.PROTECT, related_name="session_instances"
    )
    target_name = models.CharField(max_length=300, db_index=True)
    node_id = models.CharField(max_length=200)
    provider = models.CharField(max_length=50)
    transport = models.CharField(max_length=50)
    # webrtc: "relay" (our aiortc peer) or "direct" (browser to provider, our sideband);
    # "" for the other transports. Copied from the definition at start.
    media = models.CharField(max_length=10, blank=True)
    model = models.CharField(max_length=200, blank=True)
    voice = models.CharField(max_length=100, blank=True)
    modalities = models.JSONField(default=list)
    instructions = models.TextField(blank=True)
    turn_detection = models.JSONField(null=True, blank=True)
    handler = models.BooleanField(default=False)
    # The session target's approved tags at start: the caller tags of its tool calls.
    tags = models.JSONField(default=list)
    tool_targets = models.JSONField(default=dict)
    metadata = models.JSONField(default=dict, blank=True)
    owner = models.CharField(max_length=100, db_index=True)
    owner_name = models.CharField(max_length=200, blank=True)
    caller_tags = models.JSONField(default=list)
    client_secret_hash = models.CharField(max_length=64, unique=True)
    client_secret_expires_at = models.DateTimeField()
    status = models.CharField(
        max_length=12, choices=SessionStatus.choices, default=SessionStatus.CREATED
    )
    created_at = models.DateTimeField(auto_now_add=True)
    connected_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=300, blank=True)
    # While created or connecting: the connect deadline. Once active: the end of its time.
    expires_at = models.DateTimeField(db_index=True)
    # Refreshed by the live runtime; a stale one means the process holding the call died.
    last_seen_at = models.DateTimeField(null=True, blank=True)
    turns = models.PositiveIntegerField(default=0)
    tool_calls = models.PositiveIntegerField(default=0)
    audio_in_ms = models.PositiveBigIntegerField(default=0)
    audio_out_ms = models.PositiveBigIntegerField(default=0)
    # Turn-based audio: the bounded conversation (neutral messages, ``services/turns.py``)
    # and the claim of the one turn running now.
    history = models.JSONField(default=list, blank=True)
    turn_started_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["owner", "-created_at"]),
            models.Index(fields=["status", "expires_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.session_id} ({self.target_name}, {self.status})"

    @property
    def is_live(self) -> bool:
        return self.status in LIVE_STATUSES


class SessionEvent(models.Model):
    """One entry of the replay log; ``id`` is the ``seq`` clients page with."""

    session = models.ForeignKey(SessionInstance, on_delete=models.CASCADE, related_name="events")
    type = models.CharField(max_length=50)
    at = models.DateTimeField(auto_now_add=True)
    data = models.JSONField(default=dict)
    execution_id = models.CharField(max_length=64, blank=True, db_index=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["session", "id"])]

    def __str__(self) -> str:
        return f"{self.session_id}#{self.pk} {self.type}"


class AgentLink(models.Model):
    """A node's open agent link (section 7): where handler turns are delivered."""

    node = models.OneToOneField(
        "access_app.AgentNode", on_delete=models.CASCADE, related_name="link"
    )
    channel_name = models.CharField(max_length=200)
    connected_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"link {self.node_id} via {self.channel_name}"
