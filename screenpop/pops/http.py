"""The desk's websocket (`/ws`): the pops and their updates reach the browser through the hub."""

from __future__ import annotations

from aiohttp import web

from screenpop.web.hub import Hub
from screenpop.web.openapi import Operations, declare, operation

OPERATIONS: Operations = {
    "/ws": {
        "get": operation(
            "Websocket of the desk: screen pops and updates (pop, answered, consulting, consultation_ended, "
            "transferred, ended, ring_ended, presence); the browser acknowledges each {type: ack, id}",
            errors=(403,),
        )
    },
}


def setup(app: web.Application, hub: Hub) -> None:
    app.router.add_get("/ws", hub.handle)
    declare(app, OPERATIONS)
