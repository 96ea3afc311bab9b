"""A minimal OpenID Connect provider on loopback, for sign-in round trips in a real browser.

It speaks the authorization-code flow that `st.login` uses: discovery document, an authorize
endpoint that signs in whoever the test says (no login form) and redirects back with a code,
a token endpoint that returns an RS256-signed ID token, and the key set to check it.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlparse

from joserfc import jwt
from joserfc.jwk import RSAKey

CLIENT_ID = "dashboard-test"
CLIENT_SECRET = "not-a-secret"


class Provider:
    """Start with `with Provider(port) as idp:`; set `idp.email` to choose who signs in next."""

    def __init__(self, port: int):
        self.port = port
        self.issuer = f"http://127.0.0.1:{port}"
        self.email: str | None = None
        self.key = RSAKey.generate_key(2048)
        self.key_id = "test-key"
        self.codes: dict[str, dict] = {}
        self.authorize_requests: list[dict] = []
        self._server: ThreadingHTTPServer | None = None

    @property
    def metadata_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    def secrets_toml(self, app_base_url: str) -> str:
        """The [auth] section of .streamlit/secrets.toml for an app at `app_base_url`."""
        return (
            "[auth]\n"
            f'redirect_uri = "{app_base_url}/oauth2callback"\n'
            f'cookie_secret = "{secrets.token_hex(16)}"\n'
            f'client_id = "{CLIENT_ID}"\n'
            f'client_secret = "{CLIENT_SECRET}"\n'
            f'server_metadata_url = "{self.metadata_url}"\n'
        )

    def __enter__(self) -> Provider:
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _json(self, body: dict, status: int = 200) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                url = urlparse(self.path)
                query = {k: v[-1] for k, v in parse_qs(url.query).items()}
                if url.path == "/.well-known/openid-configuration":
                    self._json(provider.discovery())
                elif url.path == "/jwks":
                    self._json(
                        {
                            "keys": [
                                dict(provider.key.as_dict(private=False), kid=provider.key_id, use="sig", alg="RS256")
                            ]
                        }
                    )
                elif url.path == "/authorize":
                    provider.authorize_requests.append(query)
                    if provider.email is None:
                        self._json({"error": "nobody to sign in"}, 400)
                        return
                    code = secrets.token_urlsafe(16)
                    provider.codes[code] = {"nonce": query.get("nonce"), "email": provider.email}
                    self.send_response(302)
                    self.send_header(
                        "Location", f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query['state']})}"
                    )
                    self.end_headers()
                else:
                    self._json({"error": "not found"}, 404)

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[-1] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                grant = provider.codes.pop(form.get("code", ""), None)
                if urlparse(self.path).path != "/token" or grant is None:
                    self._json({"error": "invalid_grant"}, 400)
                    return
                now = int(time.time())
                claims = {
                    "iss": provider.issuer,
                    "sub": grant["email"],
                    "aud": CLIENT_ID,
                    "iat": now,
                    "exp": now + 600,
                    "email": grant["email"],
                    "email_verified": True,
                    "name": grant["email"].split("@")[0],
                }
                if grant["nonce"]:
                    claims["nonce"] = grant["nonce"]
                id_token = jwt.encode({"alg": "RS256", "kid": provider.key_id}, claims, provider.key)
                self._json(
                    {
                        "access_token": secrets.token_urlsafe(16),
                        "token_type": "Bearer",
                        "expires_in": 600,
                        "id_token": id_token,
                    }
                )

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def discovery(self) -> dict:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "profile"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        }
