"""Site middleware that can sit in an async chain: WhiteNoise, the Content-Security-Policy.

WhiteNoise's middleware is sync only. One sync middleware makes Django run the whole chain
in a thread and every async view through ``async_to_sync`` from it, so a view that waits
(the sync execute route, an audio turn) holds that thread for as long as it waits. This
subclass serves static files as WhiteNoise does and hands every other request on, on the
event loop.
"""

from __future__ import annotations

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from whitenoise.middleware import WhiteNoiseMiddleware


class StaticFilesMiddleware(WhiteNoiseMiddleware):
    sync_capable = True
    async_capable = True

    def __init__(self, get_response, *args, **kwargs) -> None:
        super().__init__(get_response, *args, **kwargs)
        self._async = iscoroutinefunction(get_response)
        if self._async:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self._async:
            return self._acall(request)
        return super().__call__(request)

    async def _acall(self, request):
        if self.autorefresh:
            static_file = await sync_to_async(self.find_file)(request.path_info)
        else:
            static_file = self.files.get(request.path_info)
        if static_file is not None:
            return await sync_to_async(self.serve)(static_file, request)
        return await self.get_response(request)


def content_security_policy(request) -> str:
    """The pages' policy: everything from this origin only, no inline script or style.

    The voice page needs its own script, ``fetch`` to this origin and WebRTC (which CSP
    does not govern); ``connect-src`` names this origin's WebSocket scheme too, for
    browsers where ``'self'`` does not cover ws/wss yet. ``blob:`` media for recordings.
    """
    connect = "'self'"
    try:
        host = request.get_host()
    except Exception:  # DisallowedHost: the answer is a 400 anyway
        host = ""
    if host:
        connect += f" {'wss' if request.is_secure() else 'ws'}://{host}"
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "media-src 'self' blob:",
            f"connect-src {connect}",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


class ContentSecurityPolicyMiddleware:
    """Sets ``Content-Security-Policy`` on every response that does not set its own
    (decision 0018). No I/O: runs on the event loop under ASGI."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response) -> None:
        self.get_response = get_response
        self._async = iscoroutinefunction(get_response)
        if self._async:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self._async:
            return self._acall(request)
        return self._with_policy(request, self.get_response(request))

    async def _acall(self, request):
        return self._with_policy(request, await self.get_response(request))

    def _with_policy(self, request, response):
        if "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = content_security_policy(request)
        return response
