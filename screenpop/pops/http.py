"""The desk's websocket (`/ws`): the pops and their updates reach the browser through the hub.

A browser opens it with the advisor's session cookie whatever page asks (SameSite stops only other *sites*, and
another port of the same host is the same site), so the handshake's `Origin` must be one the pages are served from
(`Settings.origins`): any other, or none, is refused with 403 before the upgrade.
"""

from __future__ import annotations

import logging
from collections.abc import Set

from aiohttp import hdrs, web

from screenpop.pops.errors import ForeignOrigin
from screenpop.web.hub import Hub
from screenpop.web.openapi import Operations, declare, operation

log = logging.getLogger(__name__)

OPERATIONS: Operations = {
    "/ws": {
        "get": operation(
            "Websocket of the desk: screen pops and updates (pop, answered, consulting, consultation_ended, "
            "transferred, ended, ring_ended, presence); the browser acknowledges each {type: ack, id}. Only from "
            "the service's own pages (Origin checked)",
            errors=(403,),
        )
    },
}


def setup(app: web.Application, hub: Hub, origins: Set[str]) -> None:
    """`/ws` for the pages served from `origins` (scheme://host[:port], lowercase)."""

    async def websocket(request: web.Request) -> web.StreamResponse:
        origin = request.headers.get(hdrs.ORIGIN, "")
        if origin.rstrip("/").lower() not in origins:
            log.warning("websocket refused: origin %r is not the service's (from %s)", origin[:200], request.remote)
            raise ForeignOrigin()
        return await hub.handle(request)

    app.router.add_get("/ws", websocket)
    declare(app, OPERATIONS)
