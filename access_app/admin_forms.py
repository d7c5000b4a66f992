"""Forms of the Django admin: tag and policy lists edited as text, API key creation.

The JSON list fields (``ApiKey.tags``, ``CallerProfile.tags``, a policy's tags and
functions) are typed one item per line or comma-separated, checked item by item, and
stored as lists of strings; a policy's constraints are typed one per line.
"""

from __future__ import annotations

import json
import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from access_app.access import CONSTRAINT_OPERATORS
from access_app.models import AccessPolicy, ApiKey, CallerProfile, Role

# What a tag typed in the admin may hold (``access_app.tags`` only trims and lowercases):
# letters, digits and ``_ - . : / @``, starting with a letter or a digit. No spaces, no
# commas (they separate items), no ``*`` (a wildcard means something in a policy only).
TAG_RE = re.compile(r"^[a-z0-9][a-z0-9_.:/@-]*$")
# Function names keep their case (``tag_matches`` compares them lowercased).
FUNCTION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/@-]*$")
# The affix of a ``prefix*`` or ``*suffix`` pattern may start with any of them (``*:voice``).
AFFIX_RE = re.compile(r"^[A-Za-z0-9_.:/@-]+$")
ITEM_MAX = 200
ITEMS_MAX = 100

SEPARATED = "One per line, or separated by commas."
TAG_RULE = "letters, digits and _ - . : / @, starting with a letter or a digit, no spaces"
PATTERN_RULE = "A pattern is a tag, * (any), prefix* or *suffix; an empty list matches anything."


def _items(text: str) -> tuple[list[str], list[str]]:
    """The items of ``text`` and the errors of its empty ones (blank lines are skipped)."""
    items, errors = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = [part.strip() for part in line.split(",")]
        if any(not part for part in parts):
            errors.append(f"line {number}: an empty item (two commas, or one at an end)")
        items.extend(part for part in parts if part)
    return items, errors


class ListTextField(forms.CharField):
    """A list of short strings typed as text; ``to_python`` gives the list."""

    item_re = TAG_RE
    item_rule = TAG_RULE
    lowercase = True
    wildcards = False
    widget = forms.Textarea(attrs={"rows": 3, "cols": 60})

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("strip", False)
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return "\n".join(str(item) for item in value)
        return value

    def to_python(self, value: Any) -> list[str]:
        if isinstance(value, list | tuple):
            return list(value)
        items, errors = _items(str(value or ""))
        if errors:
            raise ValidationError(errors, code="empty_item")
        if self.lowercase:
            items = [item.lower() for item in items]
        unique = list(dict.fromkeys(items))
        return sorted(unique) if self.lowercase else unique

    def validate(self, value: list[str]) -> None:
        if self.required and not value:
            raise ValidationError(self.error_messages["required"], code="required")
        errors = [error for item in value if (error := self._item_error(item))]
        if len(value) > ITEMS_MAX:
            errors.append(f"at most {ITEMS_MAX} items")
        if errors:
            raise ValidationError(errors, code="invalid_item")

    def _item_error(self, item: str) -> str | None:
        if len(item) > ITEM_MAX:
            return f"{item[:40]!r}…: longer than {ITEM_MAX} characters"
        core, rule = item, self.item_re
        if self.wildcards and item != "*":
            if item.count("*") == 1 and (item.startswith("*") or item.endswith("*")):
                core, rule = item.strip("*"), AFFIX_RE
            elif "*" in item:
                return f"{item!r}: * goes alone, at the start or at the end, once"
        if not rule.match(core):
            if any(char.isspace() for char in item):
                return f"{item!r}: no spaces inside an item (separate items by commas)"
            return f"{item!r}: use {self.item_rule}"
        return None


class TagListField(ListTextField):
    """Caller tags of a key or a user: concrete tags, stored trimmed and lowercased."""


class TagPatternListField(ListTextField):
    """A policy's caller or target tags: tags or ``*`` patterns."""

    wildcards = True


class FunctionPatternListField(ListTextField):
    """A policy's allow or deny functions: target names or ``*`` patterns."""

    item_re = FUNCTION_RE
    item_rule = "letters, digits and _ - . : / @, starting with a letter or a digit"
    lowercase = False
    wildcards = True


def _constraint_value(text: str) -> Any:
    """A JSON value (``100``, ``"gold"``, ``true``), else the text as a string."""
    try:
        return json.loads(text)
    except ValueError:
        return text


# Longest operators first, so "<=" is not read as "<" followed by "=".
_OPERATORS = sorted(CONSTRAINT_OPERATORS, key=len, reverse=True)
_CONSTRAINT_RE = re.compile(
    r"^(?P<param>[A-Za-z_][A-Za-z0-9_.-]*)\s*(?P<op>"
    + "|".join(re.escape(op) for op in _OPERATORS)
    + r")\s*(?P<value>.+)$"
)


class ConstraintsField(forms.CharField):
    """``{param: {"operator", "value"}}`` typed one per line as ``param <= 100``."""

    widget = forms.Textarea(attrs={"rows": 3, "cols": 60})

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, dict):
            return "\n".join(
                f"{param} {rule.get('operator')} {json.dumps(rule.get('value'))}"
                for param, rule in sorted(value.items())  # jsonb keeps no key order
            )
        return value

    def to_python(self, value: Any) -> dict[str, dict[str, Any]]:
        if isinstance(value, dict):
            return value
        constraints: dict[str, dict[str, Any]] = {}
        errors = []
        for number, line in enumerate(str(value or "").splitlines(), start=1):
            if not line.strip():
                continue
            match = _CONSTRAINT_RE.match(line.strip())
            if match is None:
                errors.append(
                    f"line {number}: write 'parameter operator value', the operator one of "
                    + " ".join(CONSTRAINT_OPERATORS)
                )
            elif match["param"] in constraints:
                errors.append(f"line {number}: {match['param']!r} is constrained twice")
            else:
                constraints[match["param"]] = {
                    "operator": match["op"],
                    "value": _constraint_value(match["value"].strip()),
                }
        if errors:
            raise ValidationError(errors, code="invalid_constraint")
        return constraints


# --- Model forms ---------------------------------------------------------------------------

CALLER_TAGS_HELP = (
    f"The caller tags access policies match. {SEPARATED} Tags use {TAG_RULE}; they are "
    "stored lowercased."
)

POLICY_HELP = (
    "How a request is decided: enabled policies are tried from the highest priority down "
    "(then the oldest first); the first that applies decides. A policy applies when its "
    "caller tags meet the caller's tags and its target tags meet the target's approved "
    "tags (an empty list meets anything). Then: a deny function matching the target's "
    "name denies; allow functions, when any, must match or the next policy is tried; "
    "constraints that do not hold on the call's input deny; else the policy's action "
    "(allow or deny) decides. Patterns: a tag, * (any), prefix* or *suffix. When no "
    "policy applies, the request is refused (AGENTFIELD_DEFAULT_DENY, the default). "
    "Admin callers skip policies, never tag approval."
)


class CallerProfileForm(forms.ModelForm):
    tags = TagListField(help_text=CALLER_TAGS_HELP)

    class Meta:
        model = CallerProfile
        fields = ("tags",)


class ApiKeyChangeForm(forms.ModelForm):
    tags = TagListField(help_text=CALLER_TAGS_HELP)

    class Meta:
        model = ApiKey
        fields = ("name", "tags", "node_id", "node_claimed")

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("node_id", "").strip() and self.instance.role != Role.AGENT:
            self.add_error("node_id", "only agent keys can be bound to a node")
        return cleaned


class ApiKeyCreateForm(forms.ModelForm):
    """The fields ``api_key_create`` takes; the admin saves through it (the secret is
    shown once, only its hash stored)."""

    tags = TagListField(help_text=CALLER_TAGS_HELP)

    class Meta:
        model = ApiKey
        fields = ("name", "role", "tags", "node_id")

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("node_id", "").strip() and cleaned.get("role") != Role.AGENT:
            self.add_error("node_id", "only agent keys can be bound to a node")
        return cleaned


class AccessPolicyForm(forms.ModelForm):
    caller_tags = TagPatternListField(
        help_text=f"Patterns matched against the caller's tags. {SEPARATED} {PATTERN_RULE}"
    )
    target_tags = TagPatternListField(
        help_text=f"Patterns matched against the target's approved tags. {SEPARATED} {PATTERN_RULE}"
    )
    allow_functions = FunctionPatternListField(
        help_text="When any: the target's name (a reasoner, skill or session name, "
        "without the node) must match one, else the next policy is tried. "
        f"{SEPARATED} Patterns: a name, *, prefix* or *suffix."
    )
    deny_functions = FunctionPatternListField(
        help_text="A target name matching one of these is denied by this policy, whatever "
        f"its action. {SEPARATED}"
    )
    constraints = ConstraintsField(
        help_text="Conditions on the call's input, one per line: parameter operator value, "
        f'e.g. amount <= 100 or tier == "gold". Operators: {" ".join(CONSTRAINT_OPERATORS)}. '
        "The value is JSON (a number, a quoted string, true, false) or else text. A missing "
        "parameter or one that does not hold denies."
    )

    class Meta:
        model = AccessPolicy
        fields = AccessPolicy.EDITABLE_FIELDS
        help_texts = {
            "priority": "Higher is tried first; among equal priorities, the oldest first.",
            "action": "What this policy decides when it applies and none of its deny "
            "functions or constraints denied first.",
            "enabled": "Disabled policies are skipped.",
        }
