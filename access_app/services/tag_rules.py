"""How a newly proposed tag is treated: auto-approved, put up for approval, or forbidden."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from access_app.models import TagRule, TagRuleMode
from access_app.tags import tag_matches


@dataclass(frozen=True)
class TagTreatment:
    mode: str  # auto | manual | forbidden
    source: str  # what decided it, for the audit trail


def _specificity(pattern: str) -> int:
    """Exact tags beat affix patterns, longer affixes beat shorter, ``*`` comes last."""
    if "*" not in pattern:
        return 10_000
    return len(pattern.replace("*", ""))


def tags_treat(tags: list[str], rules: list[TagRule] | None = None) -> dict[str, TagTreatment]:
    """A forbidden match always wins; otherwise the most specific rule; else the default."""
    rules = list(TagRule.objects.all()) if rules is None else rules
    default = TagTreatment(settings.AGENTFIELD_TAG_APPROVAL, "AGENTFIELD_TAG_APPROVAL")
    treatments: dict[str, TagTreatment] = {}
    for tag in tags:
        matching = [rule for rule in rules if tag_matches(rule.pattern, tag)]
        forbidden = [rule for rule in matching if rule.mode == TagRuleMode.FORBIDDEN]
        if forbidden:
            treatments[tag] = TagTreatment("forbidden", f"tag rule {forbidden[0].pattern!r}")
            continue
        if not matching:
            treatments[tag] = default
            continue
        best = max(_specificity(rule.pattern) for rule in matching)
        modes = {rule.mode for rule in matching if _specificity(rule.pattern) == best}
        # Two equally specific rules that disagree: the careful one wins.
        mode = TagRuleMode.MANUAL if TagRuleMode.MANUAL in modes else TagRuleMode.AUTO
        pattern = next(r.pattern for r in matching if _specificity(r.pattern) == best)
        treatments[tag] = TagTreatment(str(mode), f"tag rule {pattern!r}")
    return treatments
