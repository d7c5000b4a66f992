"""DRF's JSON parser with the strict reader's checks."""

from __future__ import annotations

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from foundation.strict_json import MAX_JSON_DEPTH, UntrustedJSONError, check_untrusted


class StrictJSONParser(JSONParser):
    """DRF's JSON parser, plus the checks above (a 400 ``parse_error``, never a 500)."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(
                f"JSON parse error - JSON may nest at most {MAX_JSON_DEPTH} levels deep"
            ) from None
        try:
            check_untrusted(data)
        except UntrustedJSONError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        return data
