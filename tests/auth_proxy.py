"""A minimal authenticating reverse proxy on loopback, as `DASHBOARD_AUTH_MODE=header` expects in front of the app.

Like oauth2-proxy, it knows the user from a session cookie of its own (here simply `proxy_user=<e-mail>`,
which the test sets), removes any identity header the client sent, and adds its own to every request,
including the WebSocket upgrade that carries the Streamlit session. (A browser cannot add a header to a
WebSocket upgrade itself, so the tests need a proxy just as production does.)
"""

from __future__ import annotations

import asyncio
import threading
from http.cookies import SimpleCookie

SESSION_COOKIE = "proxy_user"


class AuthProxy:
    """`with AuthProxy(listen_port, app_port, header) as proxy:` then browse http://127.0.0.1:<listen_port>/."""

    def __init__(self, port: int, upstream_port: int, header: str, secret: tuple[str, str] | None = None):
        """`secret`: a (header, value) the proxy adds to every request, as DASHBOARD_PROXY_SECRET expects."""
        self.port, self.upstream_port, self.header, self.secret = port, upstream_port, header, secret
        self.seen_users: list[str | None] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> AuthProxy:
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._handle, "127.0.0.1", self.port), self._loop
        ).result(timeout=10)
        return self

    def __exit__(self, *exc) -> None:
        async def close():
            self._server.close()
            await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    def _rewrite(self, head: bytes) -> bytes:
        lines = head.decode("latin-1").split("\r\n")
        request_line, fields = lines[0], [line for line in lines[1:] if line]
        user = None
        kept = []
        for field in fields:
            name, _, value = field.partition(":")
            lowered = name.strip().lower()
            if lowered == self.header.lower() or (self.secret and lowered == self.secret[0].lower()):
                continue  # never trust an identity (or secret) header from the client
            if lowered == "cookie":
                cookie = SimpleCookie()
                cookie.load(value.strip())
                if SESSION_COOKIE in cookie:
                    user = cookie[SESSION_COOKIE].value
            if lowered == "connection" and "upgrade" not in value.lower():
                continue
            kept.append(field)
        if not any(f.lower().startswith("connection:") for f in kept):
            kept.append("Connection: close")  # one request per connection, so each one is rewritten
        if user:
            kept.append(f"{self.header}: {user}")
        if self.secret:
            kept.append(f"{self.secret[0]}: {self.secret[1]}")
        self.seen_users.append(user)
        return ("\r\n".join([request_line, *kept]) + "\r\n\r\n").encode("latin-1")

    async def _handle(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            head = await client_reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            client_writer.close()
            return
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        upstream_writer.write(self._rewrite(head))

        async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while data := await reader.read(65536):
                    writer.write(data)
                    await writer.drain()
            except ConnectionError:
                pass
            finally:
                try:
                    writer.close()
                except RuntimeError:
                    pass

        await asyncio.gather(pipe(client_reader, upstream_writer), pipe(upstream_reader, client_writer))
