#!/usr/bin/env python3
"""A small OpenID Connect provider that Netra's single sign-on tests run against.

This is a test fixture, not a mock: it implements the real authorization-code flow with PKCE (RFC 6749 §4.1,
RFC 7636 S256 only, OpenID Connect Core §3.1) and signs RS256 ID tokens with authlib.jose, so the client under test
does discovery, the redirect, the token exchange and the signature check exactly as it would with a real provider.
What a test provider has no use for is left out: there is no login form (the "user" signs in at once as the
`login_hint` of the authorization request), no consent screen, no refresh tokens and no userinfo endpoint.

    provider.py --port PORT [--host 127.0.0.1] [--verbose]

The issuer is http://HOST:PORT. `--port 0` binds an ephemeral port. Once it listens it prints the single line
`READY http://HOST:PORT` to stdout; it stops cleanly on SIGTERM or SIGINT. Requests are logged to stderr only with
--verbose, so a parent that does not drain stderr cannot block it.

Standard endpoints: GET /.well-known/openid-configuration, GET /authorize, POST /token, GET /jwks.
Test control endpoints (the only provider-specific part):
    POST /test/clients   {"client_id", "client_secret", "redirect_uris": [...]}   registers a client (201)
    POST /test/rotate    new signing key; only it is published in /jwks from then on  -> {"kid"}
    POST /test/misbehave {"next_id_token": MODE}: the next ID token only is bad, MODE one of MISBEHAVIOURS
    GET  /test/stats     {"discovery", "jwks", "tokens_issued"}: how often each was fetched or issued
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import secrets
import signal
import threading
import time
import warnings
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote_plus, urlencode, urlsplit, urlunsplit

# authlib >= 1.7 deprecates authlib.jose for joserfc; it stays until authlib 2.0 (oidc.sh pins authlib below 2).
# authlib.deprecate comes first: importing it adds an "always" filter that would override ours.
import authlib.deprecate  # noqa: F401

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="authlib.jose module is deprecated")
    from authlib.jose import JsonWebKey, Key, jwt

CODE_LIFETIME = 60  # seconds an authorization code may be exchanged
TOKEN_LIFETIME = 300  # seconds the ID and access tokens are valid
MISBEHAVIOURS = ("expired", "unknown_key", "wrong_audience", "wrong_issuer", "wrong_nonce", "unverified_email")


class OAuthError(Exception):
    """An OAuth 2.0 error response: {"error", "error_description"} with an HTTP status."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error, self.description, self.status = error, description, status


@dataclass(frozen=True)
class Client:
    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...]


@dataclass
class AuthorizationCode:
    client_id: str
    redirect_uri: str
    scope: str
    nonce: str | None
    code_challenge: str
    email: str
    expires_at: float
    used: bool = False


def new_key() -> Key:
    return JsonWebKey.generate_key("RSA", 2048, options={"kid": secrets.token_hex(8)}, is_private=True)


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode("ascii")


def single_values(query: str) -> dict[str, str]:
    """Form or query parameters; RFC 6749 §3.1 forbids repeating one."""
    values = parse_qs(query, keep_blank_values=True)
    repeated = [name for name, value in values.items() if len(value) > 1]
    if repeated:
        raise OAuthError("invalid_request", f"parameter repeated: {', '.join(repeated)}")
    return {name: value[0] for name, value in values.items()}


def with_query(uri: str, params: dict[str, str]) -> str:
    parts = urlsplit(uri)
    query = "&".join(part for part in (parts.query, urlencode(params)) if part)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


class Provider:
    """All the provider's state, guarded by one lock."""

    def __init__(self, issuer: str) -> None:
        self.issuer = issuer
        self.lock = threading.Lock()
        self.key = new_key()
        self.clients: dict[str, Client] = {}
        self.codes: dict[str, AuthorizationCode] = {}
        self.misbehaviour: str | None = None
        self.stats = {"discovery": 0, "jwks": 0, "tokens_issued": 0}

    def discovery(self) -> dict[str, Any]:
        with self.lock:
            self.stats["discovery"] += 1
        return {
            "issuer": self.issuer, "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token", "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"], "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["public"], "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"], "scopes_supported": ["openid", "email", "profile"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "claims_supported": ["iss", "sub", "aud", "iat", "exp", "nonce", "email", "email_verified", "name"],
        }

    def jwks(self) -> dict[str, Any]:
        with self.lock:
            self.stats["jwks"] += 1
            return {"keys": [self.key.as_dict(is_private=False, alg="RS256", use="sig")]}

    def register(self, body: dict[str, Any]) -> dict[str, Any]:
        client_id, secret, uris = body.get("client_id"), body.get("client_secret"), body.get("redirect_uris")
        if not (isinstance(client_id, str) and client_id and isinstance(secret, str) and secret
                and isinstance(uris, list) and uris and all(isinstance(uri, str) for uri in uris)):
            raise OAuthError("invalid_client_metadata", "need client_id, client_secret and redirect_uris (strings)")
        with self.lock:
            self.clients[client_id] = Client(client_id, secret, tuple(uris))
        return {"client_id": client_id, "redirect_uris": uris}

    def rotate(self) -> dict[str, Any]:
        key = new_key()
        with self.lock:
            self.key = key
        return {"kid": key.kid}

    def misbehave(self, body: dict[str, Any]) -> dict[str, Any]:
        mode = body.get("next_id_token")
        if mode not in MISBEHAVIOURS:
            raise OAuthError("invalid_request", f"next_id_token must be one of {', '.join(MISBEHAVIOURS)}")
        with self.lock:
            self.misbehaviour = mode
        return {"next_id_token": mode}

    def current_stats(self) -> dict[str, int]:
        with self.lock:
            return dict(self.stats)

    def authorize(self, params: dict[str, str]) -> str:
        """The Location to redirect to. Raises OAuthError (answered with 400) when that cannot be trusted."""
        with self.lock:
            client = self.clients.get(params.get("client_id", ""))
        if client is None:
            raise OAuthError("invalid_request", "unknown client_id")
        redirect_uri = params.get("redirect_uri", "")
        if redirect_uri not in client.redirect_uris:
            raise OAuthError("invalid_request", "redirect_uri is not registered for this client")
        state = {"state": params["state"]} if "state" in params else {}

        def refuse(error: str, description: str) -> str:
            return with_query(redirect_uri, {"error": error, "error_description": description, **state})

        if params.get("response_type") != "code":
            return refuse("unsupported_response_type", "only response_type=code is supported")
        if "openid" not in params.get("scope", "").split():
            return refuse("invalid_scope", "scope must contain openid")
        if not params.get("code_challenge") or params.get("code_challenge_method") != "S256":
            return refuse("invalid_request", "PKCE is required: code_challenge with code_challenge_method=S256")
        email = params.get("login_hint", "")
        if "@" not in email:
            return refuse("login_required", "this test provider signs in the login_hint, which must be an email")
        code = secrets.token_urlsafe(32)
        with self.lock:
            now = time.time()
            self.codes = {key: value for key, value in self.codes.items() if value.expires_at > now}
            self.codes[code] = AuthorizationCode(client.client_id, redirect_uri, params["scope"],
                                                 params.get("nonce"), params["code_challenge"], email,
                                                 now + CODE_LIFETIME)
        return with_query(redirect_uri, {"code": code, **state})

    def token(self, form: dict[str, str], authorization: str | None) -> dict[str, Any]:
        client = self.authenticate(form, authorization)
        if form.get("grant_type") != "authorization_code":
            raise OAuthError("unsupported_grant_type", "only grant_type=authorization_code is supported")
        if not form.get("code_verifier"):
            raise OAuthError("invalid_request", "code_verifier is required (PKCE)")
        with self.lock:
            grant = self.codes.get(form.get("code", ""))
            if grant is None or grant.expires_at <= time.time():
                raise OAuthError("invalid_grant", "unknown or expired authorization code")
            if grant.used:
                raise OAuthError("invalid_grant", "authorization code already used")
            if grant.client_id != client.client_id:
                raise OAuthError("invalid_grant", "authorization code was issued to another client")
            grant.used = True  # one attempt per code, even a failing one
            if form.get("redirect_uri") != grant.redirect_uri:
                raise OAuthError("invalid_grant", "redirect_uri differs from the authorization request's")
            if not hmac.compare_digest(s256(form["code_verifier"]), grant.code_challenge):
                raise OAuthError("invalid_grant", "code_verifier does not match code_challenge")
            misbehaviour, self.misbehaviour = self.misbehaviour, None
            key = self.key
        id_token = self.id_token(client.client_id, grant, key, misbehaviour)
        with self.lock:
            self.stats["tokens_issued"] += 1
        return {"access_token": secrets.token_urlsafe(32), "token_type": "Bearer", "expires_in": TOKEN_LIFETIME,
                "id_token": id_token, "scope": grant.scope}

    def authenticate(self, form: dict[str, str], authorization: str | None) -> Client:
        """client_secret_basic (RFC 6749 §2.3.1: both halves form-urlencoded) or client_secret_post, not both."""
        if authorization and authorization.lower().startswith("basic "):
            if "client_secret" in form:
                raise OAuthError("invalid_request", "use one client authentication method, not two")
            try:
                decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8")
                client_id, secret = (unquote_plus(part) for part in decoded.split(":", 1))
            except ValueError as error:
                raise OAuthError("invalid_client", "malformed Basic credentials", 401) from error
            if form.get("client_id", client_id) != client_id:
                raise OAuthError("invalid_request", "client_id differs from the Basic credentials")
        else:
            client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        with self.lock:
            client = self.clients.get(client_id)
        if client is None or not hmac.compare_digest(secret.encode(), client.client_secret.encode()):
            raise OAuthError("invalid_client", "client authentication failed", 401)
        return client

    def id_token(self, client_id: str, grant: AuthorizationCode, key: Key, misbehaviour: str | None) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer, "sub": hashlib.sha256(grant.email.encode()).hexdigest()[:16], "aud": client_id,
            "iat": now, "exp": now + TOKEN_LIFETIME, "email": grant.email, "email_verified": True,
            "name": grant.email.split("@")[0].replace(".", " ").title(),
        }
        if grant.nonce is not None:
            claims["nonce"] = grant.nonce
        overrides: dict[str, dict[str, Any]] = {
            "expired": {"iat": now - 900, "exp": now - 600}, "wrong_audience": {"aud": "someone-else"},
            "wrong_issuer": {"iss": "http://evil.example"}, "wrong_nonce": {"nonce": "not-the-nonce"},
            "unverified_email": {"email_verified": False}}
        claims.update(overrides.get(misbehaviour or "", {}))
        if misbehaviour == "unknown_key":
            key = new_key()  # never published, and its random kid is not in /jwks
        header = {"alg": "RS256", "typ": "JWT", "kid": key.kid}
        token: bytes = jwt.encode(header, claims, key)
        return token.decode("ascii")


class Handler(BaseHTTPRequestHandler):
    server_version = "NetraTestOIDC/1"
    provider: Provider  # set on the subclass that serve() makes
    verbose = False

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        routes = {"/.well-known/openid-configuration": self.provider.discovery, "/jwks": self.provider.jwks,
                  "/test/stats": self.provider.current_stats}
        try:
            if parts.path == "/authorize":
                self.respond(302, None, {"Location": self.provider.authorize(single_values(parts.query))})
            elif parts.path in routes:
                self.respond(200, routes[parts.path]())
            else:
                raise OAuthError("not_found", f"no GET {parts.path}", 404)
        except OAuthError as error:
            self.refuse(error)

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        try:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode("utf-8")
            if path == "/token":
                response = self.provider.token(single_values(body), self.headers.get("Authorization"))
                self.respond(200, response, {"Cache-Control": "no-store", "Pragma": "no-cache"})
                return
            actions = {"/test/clients": self.provider.register, "/test/rotate": lambda _: self.provider.rotate(),
                       "/test/misbehave": self.provider.misbehave}
            if path not in actions:
                raise OAuthError("not_found", f"no POST {path}", 404)
            document = json.loads(body or "{}")  # a ValueError if it is not JSON, answered as invalid_request
            if not isinstance(document, dict):
                raise OAuthError("invalid_request", "the body must be a JSON object")
            self.respond(201 if path == "/test/clients" else 200, actions[path](document))
        except (OAuthError, ValueError) as error:
            self.refuse(error if isinstance(error, OAuthError) else OAuthError("invalid_request", str(error)))

    def refuse(self, error: OAuthError) -> None:
        headers = {"WWW-Authenticate": 'Basic realm="netra-test-oidc"'} if error.status == 401 else {}
        self.respond(error.status, {"error": error.error, "error_description": error.description}, headers)

    def respond(self, status: int, document: Any, headers: dict[str, str] | None = None) -> None:
        payload = b"" if document is None else json.dumps(document).encode("utf-8")
        self.send_response(status)
        content_type = {} if document is None else {"Content-Type": "application/json"}
        for name, value in {**(headers or {}), **content_type, "Content-Length": str(len(payload))}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        if self.verbose:
            super().log_message(format, *args)


def serve(host: str, port: int, verbose: bool) -> None:
    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    issuer = f"http://{host}:{server.server_address[1]}"
    handler = type("BoundHandler", (Handler,), {"provider": Provider(issuer), "verbose": verbose})
    server.RequestHandlerClass = handler
    stop = lambda *_: threading.Thread(target=server.shutdown, daemon=True).start()  # noqa: E731
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"READY {issuer}", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="OpenID Connect provider for Netra's tests")
    parser.add_argument("--port", type=int, required=True, help="0 binds an ephemeral port")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--verbose", action="store_true", help="log each request to stderr")
    arguments = parser.parse_args()
    serve(arguments.host, arguments.port, arguments.verbose)
