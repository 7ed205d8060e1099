"""The gateway half of the Discord fake: a websocket speaking Discord's gateway protocol (v10).

What it does, as Discord documents it:
- on connect: HELLO (op 10) with the heartbeat interval; HEARTBEAT (op 1) → HEARTBEAT_ACK (op 11);
- IDENTIFY (op 2) → READY (the bot user, the application, every guild of its shard as
  unavailable, a session id and `resume_gateway_url`), then one GUILD_CREATE per guild; a bad
  token closes with 4004, a shard outside the count with 4010;
- dispatches (op 0) carry a per-session sequence number; `dispatch()` sends an event to the
  sessions whose shard owns the guild (`(guild_id >> 22) % shard_count`; DMs go to shard 0);
- RESUME (op 6) with a known session replays what that session missed after the client's last
  sequence (plus `resume_overlap` events it already had, the at-least-once delivery a bot must
  survive), then RESUMED; an unknown session gets INVALID_SESSION (op 9, false);
- `?compress=zlib-stream`: one zlib context per connection, each payload ends in Z_SYNC_FLUSH.

`drop()` closes every connection with 4000 (a close Discord clients resume after).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

if TYPE_CHECKING:
    from tests.fakes.discord_api import FakeDiscord

HELLO, HEARTBEAT, IDENTIFY, RESUME, RECONNECT, INVALID_SESSION, HEARTBEAT_ACK = (
    10,
    1,
    2,
    6,
    7,
    9,
    11,
)
DISPATCH = 0


@dataclass
class Session:
    session_id: str
    shard: tuple[int, int]
    intents: int
    log: list[tuple[int, str, dict[str, Any]]] = field(default_factory=list)
    """(seq, event name, data) of every dispatch sent to this session."""
    ws: web.WebSocketResponse | None = None
    compressor: Any = None

    @property
    def seq(self) -> int:
        return self.log[-1][0] if self.log else 0


class FakeGateway:
    def __init__(self, api: FakeDiscord, *, heartbeat_interval_ms: int = 41_250) -> None:
        self.api = api
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.sessions: dict[str, Session] = {}
        self.identifies: list[dict[str, Any]] = []
        self.resumes: list[dict[str, Any]] = []
        self.heartbeats = 0
        self.resume_overlap = 0
        self._ids = itertools.count(1)
        self._ready = asyncio.Event()

    # --- controls -------------------------------------------------------------------------

    async def wait_ready(self, sessions: int = 1, within: float = 10.0) -> None:
        async with asyncio.timeout(within):
            while len([s for s in self.sessions.values() if s.ws is not None]) < sessions:  # noqa: ASYNC110
                await asyncio.sleep(0.01)

    async def dispatch(self, event: str, data: dict[str, Any], *, guild_id: str | None) -> None:
        for session in list(self.sessions.values()):
            if self._owns(session, guild_id):
                await self._send_dispatch(session, event, data)

    async def drop(self, code: int = 4000) -> None:
        """Close every open connection as a network failure would; events dispatched meanwhile
        wait in the session log for the client's RESUME."""
        for session in self.sessions.values():
            ws, session.ws = session.ws, None
            if ws is not None:
                await ws.close(code=code, message=b"dropped by the fake")

    async def close(self) -> None:
        await self.drop(code=1001)

    # --- the websocket --------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        compress = request.query.get("compress", "")
        if compress not in ("", "zlib-stream"):
            await ws.close(code=4000, message=b"the fake speaks only zlib-stream")
            return ws
        compressor = zlib.compressobj() if compress else None
        await self._send(
            ws, compressor, {"op": HELLO, "d": {"heartbeat_interval": self.heartbeat_interval_ms}}
        )
        session: Session | None = None
        async for msg in ws:
            if msg.type is not WSMsgType.TEXT:
                break
            payload = json.loads(msg.data)
            op, data = payload.get("op"), payload.get("d")
            if op == HEARTBEAT:
                self.heartbeats += 1
                await self._send(ws, compressor, {"op": HEARTBEAT_ACK})
            elif op == IDENTIFY:
                session = await self._identify(ws, compressor, data)
            elif op == RESUME:
                session = await self._resume(ws, compressor, data)
            if ws.closed:
                break
        if session is not None and session.ws is ws:
            session.ws = None
        return ws

    async def _identify(
        self, ws: web.WebSocketResponse, compressor: Any, data: dict[str, Any]
    ) -> Session | None:
        self.identifies.append(data)
        if data.get("token") != self.api.token:
            await ws.close(code=4004, message=b"Authentication failed.")
            return None
        shard_id, shard_count = data.get("shard") or [0, 1]
        if shard_id >= shard_count or shard_count != self.api.shard_count:
            await ws.close(code=4010, message=b"Invalid shard.")
            return None
        session = Session(
            session_id=f"fake-session-{next(self._ids)}",
            shard=(shard_id, shard_count),
            intents=int(data.get("intents") or 0),
            ws=ws,
            compressor=compressor,
        )
        self.sessions[session.session_id] = session
        guilds = [g for g in self.api.guilds.values() if self._owns(session, g["id"])]
        await self._send_dispatch(
            session,
            "READY",
            {
                "v": 10,
                "user": self.api.bot_user,
                "guilds": [{"id": g["id"], "unavailable": True} for g in guilds],
                "session_id": session.session_id,
                "resume_gateway_url": self.api.gateway_url,
                "shard": [shard_id, shard_count],
                "application": {"id": self.api.application_id, "flags": 0},
                "private_channels": [],
                "relationships": [],
                "presences": [],
                "user_settings": {},
                "geo_ordered_rtc_regions": [],
            },
        )
        for g in guilds:
            await self._send_dispatch(session, "GUILD_CREATE", self.api.guild_payload(g["id"]))
        return session

    async def _resume(
        self, ws: web.WebSocketResponse, compressor: Any, data: dict[str, Any]
    ) -> Session | None:
        self.resumes.append(data)
        session = self.sessions.get(str(data.get("session_id")))
        if session is None or data.get("token") != self.api.token:
            await self._send(ws, compressor, {"op": INVALID_SESSION, "d": False})
            return None
        session.ws, session.compressor = ws, compressor
        after = int(data.get("seq") or 0) - self.resume_overlap
        for seq, event, payload in list(session.log):
            if seq > after:
                await self._send(
                    ws, compressor, {"op": DISPATCH, "t": event, "s": seq, "d": payload}
                )
        await self._send_dispatch(session, "RESUMED", {})
        return session

    # --- sending --------------------------------------------------------------------------

    def _owns(self, session: Session, guild_id: str | None) -> bool:
        shard_id, count = session.shard
        return (int(guild_id) >> 22) % count == shard_id if guild_id else shard_id == 0

    async def _send_dispatch(self, session: Session, event: str, data: dict[str, Any]) -> None:
        seq = session.seq + 1
        session.log.append((seq, event, data))
        if session.ws is not None and not session.ws.closed:
            await self._send(
                session.ws, session.compressor, {"op": DISPATCH, "t": event, "s": seq, "d": data}
            )

    @staticmethod
    async def _send(ws: web.WebSocketResponse, compressor: Any, payload: dict[str, Any]) -> None:
        text = json.dumps(payload)
        if compressor is None:
            await ws.send_str(text)
        else:
            await ws.send_bytes(
                compressor.compress(text.encode()) + compressor.flush(zlib.Z_SYNC_FLUSH)
            )
