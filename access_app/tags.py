"""Tag normalization and pattern matching, shared by approvals and policies."""

from __future__ import annotations

from collections.abc import Iterable


def normalize_tags(tags: Iterable[object] | None) -> list[str]:
    """Trim, lowercase, drop empties and duplicates; sorted so equal sets compare equal."""
    if not tags:
        return []
    return sorted({str(tag).strip().lower() for tag in tags if str(tag).strip()})


def tag_matches(pattern: str, tag: str) -> bool:
    """``*`` matches anything, ``prefix*`` and ``*suffix`` match by affix, else equality."""
    pattern = pattern.strip().lower()
    tag = tag.strip().lower()
    if pattern == "*":
        return True
    if pattern.endswith("*") and not pattern.startswith("*"):
        return tag.startswith(pattern[:-1])
    if pattern.startswith("*") and not pattern.endswith("*"):
        return tag.endswith(pattern[1:])
    return pattern == tag


def any_tag_matches(patterns: Iterable[str], tags: Iterable[str]) -> bool:
    tags = list(tags)
    return any(tag_matches(pattern, tag) for pattern in patterns for tag in tags)
