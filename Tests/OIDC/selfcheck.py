#!/usr/bin/env python3
"""Self-check of the test OpenID Connect provider (provider.py beside this file).

Starts the provider on an ephemeral port, walks the authorization-code + PKCE flow with urllib only (redirects are
read, never followed), verifies each ID token's signature against /jwks with authlib, and checks the refusals, key
rotation, every misbehaviour mode, the stats and the SIGTERM exit. Prints one line per check; exits 1 if any fails.

    .data/venv-oidc/bin/python Tests/OIDC/selfcheck.py     (scripts/lib/oidc.sh's ensure_oidc_venv makes the venv)
"""
from __future__ import annotations

import base64
import hashlib
import json
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import authlib.deprecate  # noqa: E402,F401 - first: it adds an "always" filter that would override ours

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="authlib.jose module is deprecated")
    from authlib.jose import JsonWebKey, jwt
    from authlib.jose.errors import ExpiredTokenError, JoseError

PROVIDER = Path(__file__).with_name("provider.py")
REDIRECT = "http://127.0.0.1:9/auth/oidc/callback"
CLIENT_ID, SECRET = "netra-test", "s3cr3t:with/special+chars é"  # exercises RFC 6749 §2.3.1 form-encoding


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any) -> None:
        return None  # urllib then raises HTTPError(302), whose Location we read


OPENER = urllib.request.build_opener(NoRedirect)


class Checker:
    def __init__(self, issuer: str) -> None:
        self.issuer, self.failures, self.fetched = issuer, 0, {"discovery": 0, "jwks": 0, "tokens_issued": 0}

    def check(self, name: str, test: Callable[[], None]) -> None:
        try:
            test()
            print(f"ok    {name}")
        except Exception as error:  # noqa: BLE001 - report every failing check, then go on
            self.failures += 1
            print(f"FAIL  {name}: {type(error).__name__}: {error}")

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], Any]:
        request = urllib.request.Request(self.issuer + path, data=body, method=method, headers=headers or {})
        try:
            with OPENER.open(request, timeout=10) as response:
                status, response_headers, raw = response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            status, response_headers, raw = error.code, dict(error.headers), error.read()
        return status, response_headers, json.loads(raw) if raw else None

    def json(self, method: str, path: str, document: Any = None) -> tuple[int, Any]:
        body = None if document is None else json.dumps(document).encode()
        status, _, response = self.request(method, path, body, {"Content-Type": "application/json"})
        return status, response

    def discovery(self) -> dict[str, Any]:
        self.fetched["discovery"] += 1
        document: dict[str, Any] = self.json("GET", "/.well-known/openid-configuration")[1]
        return document

    def jwks(self) -> dict[str, Any]:
        self.fetched["jwks"] += 1
        document: dict[str, Any] = self.json("GET", "/jwks")[1]
        return document

    def authorize(self, **overrides: str | None) -> tuple[int, dict[str, list[str]], dict[str, str]]:
        """(status, query of the Location, the request's parameters)."""
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        params = {"response_type": "code", "client_id": CLIENT_ID, "redirect_uri": REDIRECT,
                  "scope": "openid email profile", "state": "st ate/&=é+" + secrets.token_hex(4),
                  "nonce": secrets.token_hex(8), "code_challenge": challenge, "code_challenge_method": "S256",
                  "login_hint": "ada.lovelace@example.com", **overrides}
        sent = {name: value for name, value in params.items() if value is not None}
        status, headers, _ = self.request("GET", "/authorize?" + urlencode(sent))
        location = headers.get("Location", "")
        if location and not location.startswith(REDIRECT + "?"):
            raise AssertionError(f"redirected elsewhere: {location}")
        return status, parse_qs(urlsplit(location).query), {**sent, "code_verifier": verifier}

    def exchange(self, sent: dict[str, str], basic: bool = True, **overrides: str) -> tuple[int, dict[str, Any]]:
        form = {"grant_type": "authorization_code", "code": sent["code"], "redirect_uri": sent["redirect_uri"],
                "code_verifier": sent["code_verifier"], **overrides}
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if basic:
            pair = f"{quote(CLIENT_ID, safe='')}:{quote(form.pop('client_secret', SECRET), safe='')}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        else:
            form = {"client_id": CLIENT_ID, "client_secret": SECRET, **form}
        status, _, response = self.request("POST", "/token", urlencode(form).encode(), headers)
        if status == 200:
            self.fetched["tokens_issued"] += 1
        return status, response

    def sign_in(self, email: str = "ada.lovelace@example.com") -> tuple[dict[str, Any], dict[str, str]]:
        status, query, sent = self.authorize(login_hint=email)
        assert status == 302 and query["state"] == [sent["state"]], (status, query)
        status, token = self.exchange({**sent, "code": query["code"][0]})
        assert status == 200, token
        return token, sent


def verify(id_token: str, jwks: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(header, claims) once the signature checks out against the published keys; raises otherwise."""
    claims = jwt.decode(id_token, JsonWebKey.import_key_set(jwks))
    return dict(claims.header), dict(claims)


def refused(result: tuple[int, Any], status: int, error: str) -> None:
    assert result[0] == status and result[1]["error"] == error, result


def succeeded(result: tuple[int, Any], status: int = 200) -> None:
    assert result[0] == status, result


def equal(actual: Any, expected: Any) -> None:
    assert actual == expected, f"{actual!r} != {expected!r}"


def run(c: Checker) -> None:
    def discovery() -> None:
        d = c.discovery()
        expected = {"issuer": c.issuer, "authorization_endpoint": c.issuer + "/authorize",
                    "token_endpoint": c.issuer + "/token", "jwks_uri": c.issuer + "/jwks",
                    "response_types_supported": ["code"], "subject_types_supported": ["public"],
                    "id_token_signing_alg_values_supported": ["RS256"], "code_challenge_methods_supported": ["S256"],
                    "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
                    "scopes_supported": ["openid", "email", "profile"]}
        assert {name: d.get(name) for name in expected} == expected, d
    c.check("discovery document", discovery)
    c.check("register a client (201)", lambda: succeeded(c.json("POST", "/test/clients", {
        "client_id": CLIENT_ID, "client_secret": SECRET, "redirect_uris": [REDIRECT]}), 201))

    def not_redirected(**overrides: str) -> Callable[[], None]:
        def test() -> None:
            status, query, _ = c.authorize(**overrides)
            assert status == 400 and not query, (status, query)
        return test
    c.check("unknown client: 400, no redirect", not_redirected(client_id="nobody"))
    c.check("unregistered redirect_uri: 400, no redirect", not_redirected(redirect_uri=REDIRECT + "/x"))

    def redirected_error(error: str, **overrides: str | None) -> Callable[[], None]:
        def test() -> None:
            status, query, sent = c.authorize(**overrides)
            assert status == 302 and query.get("error") == [error] and query["state"] == [sent["state"]], query
        return test
    c.check("no code_challenge: error=invalid_request, state kept", redirected_error("invalid_request",
                                                                                      code_challenge=None))
    c.check("code_challenge_method=plain: invalid_request", redirected_error("invalid_request",
                                                                             code_challenge_method="plain"))
    c.check("scope without openid: invalid_scope", redirected_error("invalid_scope", scope="email profile"))
    c.check("response_type=token: unsupported_response_type",
            redirected_error("unsupported_response_type", response_type="token"))

    first: dict[str, Any] = {}

    def full_flow() -> None:
        status, query, sent = c.authorize()
        assert status == 302 and query["state"] == [sent["state"]] and len(query["code"]) == 1, query
        sent["code"] = query["code"][0]
        status, token = c.exchange(sent)
        assert status == 200, token
        assert (token["token_type"], token["expires_in"], token["scope"]) == ("Bearer", 300,
                                                                              "openid email profile"), token
        header, claims = verify(token["id_token"], c.jwks())
        assert header["alg"] == "RS256" and header["kid"], header
        assert (claims["iss"], claims["aud"], claims["nonce"]) == (c.issuer, CLIENT_ID, sent["nonce"]), claims
        assert (claims["email"], claims["email_verified"], claims["name"]) == (
            "ada.lovelace@example.com", True, "Ada Lovelace"), claims
        assert claims["exp"] - claims["iat"] == 300 and abs(claims["iat"] - time.time()) < 5, claims
        first.update(sent=sent, claims=claims, kid=header["kid"], id_token=token["id_token"])
    c.check("authorize + token (Basic) + ID token signature verified against /jwks", full_flow)
    c.check("replayed code: 400 invalid_grant", lambda: refused(c.exchange(first["sent"]), 400, "invalid_grant"))

    def fresh(**overrides: str) -> dict[str, str]:
        status, query, sent = c.authorize(**overrides)
        assert status == 302, query
        return {**sent, "code": query["code"][0]}
    c.check("wrong code_verifier: invalid_grant",
            lambda: refused(c.exchange(fresh(), code_verifier=secrets.token_urlsafe(48)), 400, "invalid_grant"))
    c.check("other redirect_uri at /token: invalid_grant",
            lambda: refused(c.exchange(fresh(), redirect_uri=REDIRECT + "/x"), 400, "invalid_grant"))
    c.check("wrong client_secret: 401 invalid_client",
            lambda: refused(c.exchange(fresh(), client_secret="nope"), 401, "invalid_client"))
    c.check("client_secret_post works", lambda: succeeded(c.exchange(fresh(), basic=False)))
    c.check("missing code_verifier: invalid_request",
            lambda: refused(c.exchange(fresh(), code_verifier=""), 400, "invalid_request"))

    def stable_subject() -> None:
        same = verify(c.sign_in()[0]["id_token"], c.jwks())[1]
        other = verify(c.sign_in("grace@example.com")[0]["id_token"], c.jwks())[1]
        assert same["sub"] == first["claims"]["sub"] != other["sub"] and other["email"] == "grace@example.com"
    c.check("sub is stable per email", stable_subject)

    def rotation() -> None:
        status, rotated = c.json("POST", "/test/rotate")
        keys = c.jwks()
        assert status == 200 and rotated["kid"] != first["kid"], rotated
        assert [key["kid"] for key in keys["keys"]] == [rotated["kid"]], keys
        assert all(keys["keys"][0][name] for name in ("n", "e")) and keys["keys"][0]["kty"] == "RSA"
        assert (keys["keys"][0]["alg"], keys["keys"][0]["use"]) == ("RS256", "sig") and "d" not in keys["keys"][0]
        assert verify(c.sign_in()[0]["id_token"], keys)[0]["kid"] == rotated["kid"]
        try:
            verify(first["id_token"], keys)
        except (JoseError, ValueError):
            return
        raise AssertionError("a token signed with the old key still verifies against the new /jwks")
    c.check("rotation publishes only the new kid; new tokens use it", rotation)

    def misbehaving(mode: str, expect: Callable[[str, dict[str, str], dict[str, Any]], None]) -> Callable[[], None]:
        def test() -> None:
            assert c.json("POST", "/test/misbehave", {"next_id_token": mode}) == (200, {"next_id_token": mode})
            token, sent = c.sign_in()
            expect(token["id_token"], sent, c.jwks())
            after = verify(c.sign_in()[0]["id_token"], c.jwks())[1]
            assert (after["iss"], after["aud"], after["email_verified"]) == (c.issuer, CLIENT_ID, True), after
        return test

    def expired(token: str, _: dict[str, str], keys: dict[str, Any]) -> None:
        claims = jwt.decode(token, JsonWebKey.import_key_set(keys))
        assert claims["exp"] < time.time() - 500 and claims["iat"] < claims["exp"], dict(claims)
        try:
            claims.validate()
        except ExpiredTokenError:
            return
        raise AssertionError("validate() accepted the expired token")

    def unknown_key(token: str, _: dict[str, str], keys: dict[str, Any]) -> None:
        kid = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))["kid"]
        assert kid and kid not in [key["kid"] for key in keys["keys"]], kid
        try:
            verify(token, keys)
        except (JoseError, ValueError):
            return
        raise AssertionError("verified against /jwks")

    def claim(name: str, value: Any) -> Callable[[str, dict[str, str], dict[str, Any]], None]:
        def expect(token: str, sent: dict[str, str], keys: dict[str, Any]) -> None:
            claims = verify(token, keys)[1]
            assert claims[name] == value and all(claims[other] == normal for other, normal in {
                "iss": c.issuer, "aud": CLIENT_ID, "nonce": sent["nonce"], "email_verified": True}.items()
                if other != name), claims
        return expect
    c.check("misbehave expired: exp in the past, signature valid", misbehaving("expired", expired))
    c.check("misbehave unknown_key: kid not in /jwks, does not verify", misbehaving("unknown_key", unknown_key))
    c.check("misbehave wrong_audience", misbehaving("wrong_audience", claim("aud", "someone-else")))
    c.check("misbehave wrong_issuer", misbehaving("wrong_issuer", claim("iss", "http://evil.example")))
    c.check("misbehave wrong_nonce", misbehaving("wrong_nonce", claim("nonce", "not-the-nonce")))
    c.check("misbehave unverified_email", misbehaving("unverified_email", claim("email_verified", False)))
    c.check("misbehave with an unknown mode: 400", lambda: refused(
        c.json("POST", "/test/misbehave", {"next_id_token": "nonsense"}), 400, "invalid_request"))
    c.check("stats count discovery, jwks and tokens",
            lambda: equal(c.json("GET", "/test/stats"), (200, c.fetched)))


def main() -> int:
    process = subprocess.Popen([sys.executable, str(PROVIDER), "--port", "0"], stdout=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline().strip() if process.stdout else ""
        if not line.startswith("READY http://127.0.0.1:"):
            print(f"FAIL  provider did not start: {line!r}")
            return 1
        print(f"ok    started: {line}")
        checker = Checker(line.split(" ", 1)[1])
        run(checker)
        process.send_signal(signal.SIGTERM)
        checker.check("exits with 0 on SIGTERM", lambda: equal(process.wait(timeout=5), 0))
        print("all checks passed" if checker.failures == 0 else f"{checker.failures} check(s) failed")
        return 1 if checker.failures else 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


if __name__ == "__main__":
    sys.exit(main())
