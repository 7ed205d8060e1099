"""A local OpenID metadata + JWKS endpoint and a signer of Bot Framework-shaped JWTs.

    with OpenIdServer() as idp:
        settings = Settings(teams_app_id=APP_ID, teams_openid_metadata_url=idp.metadata_url, ...)
        header = f"Bearer {idp.token(audience=APP_ID, service_url=fake.service_url)}"

The server runs in its own thread on purpose: botbuilder 4.17 fetches the metadata and keys with
the blocking `requests` library from inside the event loop, so a server on the test's own loop
could never answer it (the test would hang).

Tokens are RS256, carry a `kid` the JWKS lists (with the `msteams` endorsement), issuer
`https://api.botframework.com`, the audience you give, a `serviceurl` claim and a 1-hour expiry.
`stranger_token` signs with a key the JWKS does not list.

`StaticBotCredentials` is the bot's outbound side: the token Entra ID would issue to the bot
(MSAL only talks to https authorities, so tests cannot point it at a loopback token endpoint);
the fake Bot Connector checks it (`FakeConnector(bot_token=...)`).
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from botframework.connector.auth import AppCredentials, ServiceClientCredentialsFactory
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

ISSUER = "https://api.botframework.com"


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class OpenIdServer:
    def __init__(self, *, kid: str = "test-key-1") -> None:
        self.kid = kid
        self.key = _new_key()
        self.stranger = _new_key()
        self.requests: list[str] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""

    def __enter__(self) -> OpenIdServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append(self.path)
                if self.path == "/v1/.well-known/openidconfiguration":
                    body = server.metadata()
                elif self.path == "/v1/.well-known/keys":
                    body = server.jwks()
                else:
                    self.send_error(404)
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    @property
    def metadata_url(self) -> str:
        """What goes in TEAMS_OPENID_METADATA_URL."""
        return f"{self.base_url}/v1/.well-known/openidconfiguration"

    def metadata(self) -> dict[str, Any]:
        return {
            "issuer": ISSUER,
            "authorization_endpoint": "https://invalid.botframework.com",
            "jwks_uri": f"{self.base_url}/v1/.well-known/keys",
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        }

    def jwks(self) -> dict[str, Any]:
        jwk = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        jwk.update({"kid": self.kid, "use": "sig", "alg": "RS256", "endorsements": ["msteams"]})
        return {"keys": [jwk]}

    def token(
        self,
        *,
        audience: str,
        service_url: str,
        issuer: str = ISSUER,
        expires_in: float = 3600.0,
        key: rsa.RSAPrivateKey | None = None,
        kid: str | None = None,
    ) -> str:
        now = int(time.time())
        claims = {
            "iss": issuer,
            "aud": audience,
            "serviceurl": service_url,
            "nbf": now - 60,
            "iat": now - 60,
            "exp": now + int(expires_in),
        }
        return jwt.encode(
            claims, key or self.key, algorithm="RS256", headers={"kid": kid or self.kid}
        )

    def stranger_token(self, *, audience: str, service_url: str) -> str:
        """Signed by a key the JWKS does not list, under a kid it does not know."""
        return self.token(
            audience=audience, service_url=service_url, key=self.stranger, kid="unknown-key"
        )


class _StaticToken(AppCredentials):  # type: ignore[misc]
    def __init__(self, app_id: str, token: str) -> None:
        super().__init__(app_id=app_id)
        self._token = token

    def get_access_token(self, force_refresh: bool = False) -> str:
        return self._token


class StaticBotCredentials(ServiceClientCredentialsFactory):  # type: ignore[misc]
    def __init__(self, app_id: str, token: str) -> None:
        self.app_id = app_id
        self.token = token

    async def is_valid_app_id(self, app_id: str) -> bool:
        return app_id == self.app_id

    async def is_authentication_disabled(self) -> bool:
        return False

    async def create_credentials(
        self, app_id: str, oauth_scope: str, login_endpoint: str, validate_authority: bool
    ) -> AppCredentials:
        return _StaticToken(app_id, self.token)
