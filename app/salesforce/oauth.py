"""The OAuth 2.0 web server flow with PKCE against Salesforce's login hosts, and the client
credentials flow at an org's My Domain.

Why authlib only in pieces: authlib's httpx integration (`AsyncOAuth2Client`) *is* an
`httpx.AsyncClient`, so using it would open a connection pool per flow. Every outbound call of
this service goes through the ONE shared client (`Services.http`) instead. authlib still
does the protocol work it is good at, framework-independently:

- `authlib.common.security.generate_token` for `state` and the PKCE `code_verifier`,
- `authlib.oauth2.rfc7636.create_s256_code_challenge` for the S256 challenge,
- `authlib.oauth2.rfc6749.parameters.prepare_grant_uri` for the authorization URL,
- `authlib.oauth2.rfc6749.parameters.prepare_token_request` for the token request body.

The shared client then sends the requests, always with an explicit timeout. Every URL a token
is sent to (token answer `instance_url` and `id`, My Domain login hosts) must pass
`app.salesforce.hosts.ensure_allowed`. No function here logs a token, code, state or verifier.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
from authlib.common.security import generate_token
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri, prepare_token_request
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from app.config import Settings
from app.salesforce.errors import (
    ApiDisabled,
    OAuthError,
    SalesforceError,
    SalesforceUnavailable,
    UnusableGrant,
    error_from_response,
    token_error,
)
from app.salesforce.hosts import checked_host, ensure_allowed, instance_origin, my_domain_host
from app.salesforce.values import same_id

SCOPES = ("api", "refresh_token", "id")
# RFC 7636 wants 43..128 characters of [A-Za-z0-9-._~]; generate_token uses letters and digits.
CODE_VERIFIER_LENGTH = 96
STATE_LENGTH = 48


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    url: str
    state: str = field(repr=False)
    code_verifier: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class TokenAnswer:
    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    instance_url: str
    identity_url: str
    scopes: list[str]


@dataclass(frozen=True, slots=True)
class Identity:
    organization_id: str
    user_id: str
    username: str
    display_name: str | None
    email: str | None


async def post_token_request(
    http: httpx.AsyncClient, token_url: str, form: dict[str, str], timeout: float
) -> dict[str, Any]:
    """POST to Salesforce's token endpoint; typed errors for every failure."""
    try:
        response = await http.post(
            token_url, data=form, headers={"Accept": "application/json"}, timeout=timeout
        )
    except httpx.HTTPError as exc:
        raise SalesforceUnavailable(f"token endpoint unreachable: {type(exc).__name__}") from exc
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code >= 500:
        raise SalesforceUnavailable(f"token endpoint answered {response.status_code}")
    if response.status_code != 200 or not isinstance(body, dict) or "access_token" not in body:
        error = (
            str(body.get("error") or f"http_{response.status_code}")
            if isinstance(body, dict)
            else ""
        )
        description = str(body.get("error_description") or "") if isinstance(body, dict) else ""
        raise token_error(error or "invalid_response", description, response.status_code)
    return body


async def refresh_access_token(
    http: httpx.AsyncClient, settings: Settings, login_url: str, refresh_token: str
) -> dict[str, Any]:
    """The refresh-token grant: Salesforce's token answer (a new access token, maybe a
    rotated refresh token and another `instance_url`). InvalidGrant when the grant is dead;
    LoginRestricted, ClientRejected, TokenRateLimited for the other refusals."""
    return await post_token_request(
        http,
        f"{ensure_allowed(login_url, settings)}/services/oauth2/token",
        {
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": settings.salesforce_client_id,
            "client_secret": settings.salesforce_client_secret,
        },
        settings.salesforce_timeout_seconds,
    )


def login_url_for(settings: Settings, environment: str, my_domain: str | None) -> str:
    """The login host to authorize against: the org's My Domain when given, else the
    production or sandbox login host. A Lightning or setup host (`acme.lightning.force.com`,
    `acme.my.salesforce-setup.com`) stands for its My Domain (`acme.my.salesforce.com`).
    Raises ValueError when `my_domain` is not a bare host of Salesforce's (nor one of
    SALESFORCE_EXTRA_ALLOWED_HOSTS): the URL is built from checked hostname characters only."""
    if not my_domain:
        configured = (
            settings.salesforce_sandbox_login_url
            if environment == "sandbox"
            else settings.salesforce_login_url
        )
        return configured.rstrip("/")
    value = my_domain.strip()
    scheme, sep, rest = value.partition("://")
    if not sep:
        scheme, rest = "", value
    elif scheme.lower() not in {"https", "http"}:
        raise ValueError("give the My Domain host only, e.g. acme.my.salesforce.com")
    rest = rest[:-1] if rest.endswith("/") else rest
    try:
        netloc = checked_host(rest, allow_port=True)
    except ValueError:
        raise ValueError("give the My Domain host only, e.g. acme.my.salesforce.com") from None
    if netloc in settings.extra_allowed_hosts:
        # An explicitly allowed non-Salesforce host (an emulator): keep the configured scheme.
        scheme = scheme.lower() or urlsplit(settings.salesforce_login_url).scheme
        return f"{scheme}://{netloc}"
    host, _, port = netloc.partition(":")
    if port not in {"", "443"} or scheme.lower() not in {"", "https"}:
        raise ValueError("must be a Salesforce domain such as acme.my.salesforce.com")
    try:
        return ensure_allowed(f"https://{my_domain_host(host)}", settings)
    except SalesforceError as exc:
        raise ValueError("must be a Salesforce domain such as acme.my.salesforce.com") from exc


def authorization_request(settings: Settings, login_url: str) -> AuthorizationRequest:
    """A fresh authorization URL with a random single-use `state` and an S256 PKCE pair."""
    state = generate_token(STATE_LENGTH)
    code_verifier = generate_token(CODE_VERIFIER_LENGTH)
    url = prepare_grant_uri(
        f"{login_url.rstrip('/')}/services/oauth2/authorize",
        client_id=settings.salesforce_client_id,
        response_type="code",
        redirect_uri=settings.oauth_redirect_uri,
        scope=list(SCOPES),
        state=state,
        code_challenge=create_s256_code_challenge(code_verifier),
        code_challenge_method="S256",
    )
    return AuthorizationRequest(url=url, state=state, code_verifier=code_verifier)


async def exchange_code(
    http: httpx.AsyncClient, settings: Settings, login_url: str, code: str, code_verifier: str
) -> TokenAnswer:
    """Authorization code + PKCE verifier -> tokens. Raises OAuthError/InvalidGrant for a
    refused code, SalesforceUnavailable when the endpoint fails, HostNotAllowed when the answer
    points outside Salesforce's domains."""
    token_url = ensure_allowed(login_url, settings) + "/services/oauth2/token"
    body = prepare_token_request(
        "authorization_code",
        redirect_uri=settings.oauth_redirect_uri,
        code=code,
        code_verifier=code_verifier,
        client_id=settings.salesforce_client_id,
        client_secret=settings.salesforce_client_secret,
    )
    answer = await post_token_request(
        http, token_url, dict(parse_qsl(body)), settings.salesforce_timeout_seconds
    )
    # From here on Salesforce has issued a grant: a refused answer carries what to revoke.
    grant_token = str(answer.get("refresh_token") or answer["access_token"])
    try:
        identity_url = str(answer.get("id") or "")
        instance_url = str(answer.get("instance_url") or "")
        if not identity_url or not instance_url:
            raise SalesforceUnavailable("the token answer lacks `id` or `instance_url`")
        _check_signature(answer, settings.salesforce_client_secret)
        return TokenAnswer(
            access_token=str(answer["access_token"]),
            refresh_token=str(answer["refresh_token"]) if answer.get("refresh_token") else None,
            instance_url=instance_origin(instance_url, settings),
            identity_url=ensure_allowed(identity_url, settings),
            scopes=str(answer.get("scope") or "").split(),
        )
    except SalesforceError as exc:
        raise UnusableGrant(exc.message, token=grant_token, cause=exc) from exc


async def client_credentials_token(
    http: httpx.AsyncClient,
    settings: Settings,
    login_url: str,
    client_id: str,
    client_secret: str,
) -> TokenAnswer:
    """The client credentials grant at the org's My Domain: an access token of the app's
    "run as" user, and no refresh token. ClientRejected (`invalid_client_id`,
    `invalid_client`) or InvalidGrant ("no client credentials user enabled") when refused;
    SalesforceUnavailable when the endpoint fails or the answer is unusable."""
    answer = await post_token_request(
        http,
        f"{ensure_allowed(login_url, settings)}/services/oauth2/token",
        {
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": client_secret,
        },
        settings.salesforce_timeout_seconds,
    )
    identity_url = str(answer.get("id") or "")
    instance_url = str(answer.get("instance_url") or "")
    if not identity_url or not instance_url:
        raise SalesforceUnavailable("the token answer lacks `id` or `instance_url`")
    _check_signature(answer, client_secret)
    return TokenAnswer(
        access_token=str(answer["access_token"]),
        refresh_token=None,
        instance_url=instance_origin(instance_url, settings),
        identity_url=ensure_allowed(identity_url, settings),
        scopes=str(answer.get("scope") or "").split(),
    )


def _check_signature(answer: dict[str, object], client_secret: str) -> None:
    """`signature` = base64(HMAC-SHA256(client_secret, id + issued_at)): proof that the `id`
    URL came from Salesforce with our Connected App. Checked when Salesforce sends one."""
    signature = answer.get("signature")
    if not signature or not answer.get("issued_at"):
        return
    expected = base64.b64encode(
        hmac.new(
            client_secret.encode(),
            f"{answer['id']}{answer['issued_at']}".encode(),
            hashlib.sha256,
        ).digest()
    ).decode()
    if not hmac.compare_digest(expected, str(signature)):
        raise SalesforceUnavailable("the token answer's signature does not match")


async def fetch_identity(
    http: httpx.AsyncClient, settings: Settings, identity_url: str, access_token: str
) -> Identity:
    """GET the identity URL of the token answer: org, user, username, name, email."""
    url = ensure_allowed(identity_url, settings)
    try:
        response = await http.get(
            url,
            headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
            timeout=settings.salesforce_timeout_seconds,
        )
    except httpx.HTTPError as exc:
        raise SalesforceUnavailable(f"identity URL unreachable: {type(exc).__name__}") from exc
    if response.status_code >= 400:
        error = error_from_response(response)
        if error.error_code == "API_DISABLED_FOR_ORG" or isinstance(error, ApiDisabled):
            raise error
        raise SalesforceUnavailable(
            f"identity URL answered {response.status_code}", error_code=error.error_code
        )
    try:
        body = response.json()
        identity = Identity(
            organization_id=str(body["organization_id"]),
            user_id=str(body["user_id"]),
            username=str(body["username"]),
            display_name=body.get("display_name") or None,
            email=body.get("email") or None,
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise SalesforceUnavailable("the identity answer is unreadable") from exc
    _check_identity_matches_url(identity, url)
    return identity


def _check_identity_matches_url(identity: Identity, identity_url: str) -> None:
    """The `id` URL ends in /id/{org id}/{user id}; the answer must describe that user."""
    parts = [p for p in urlsplit(identity_url).path.split("/") if p]
    if len(parts) >= 3 and parts[-3] == "id":
        org, user = parts[-2], parts[-1]
        if not (same_id(org, identity.organization_id) and same_id(user, identity.user_id)):
            raise SalesforceUnavailable("the identity answer is for another user")


async def revoke(http: httpx.AsyncClient, settings: Settings, login_url: str, token: str) -> None:
    """Revoke a refresh token (the whole grant) or an access token. Raises SalesforceError."""
    url = ensure_allowed(login_url, settings) + "/services/oauth2/revoke"
    try:
        response = await http.post(
            url, data={"token": token}, timeout=settings.salesforce_timeout_seconds
        )
    except httpx.HTTPError as exc:
        raise SalesforceUnavailable(f"revoke endpoint unreachable: {type(exc).__name__}") from exc
    if response.status_code >= 500:
        raise SalesforceUnavailable(f"revoke endpoint answered {response.status_code}")
    if response.status_code != 200:
        try:
            body = response.json()
        except ValueError:
            body = {}
        error = (
            str(body.get("error") or f"http_{response.status_code}")
            if isinstance(body, dict)
            else f"http_{response.status_code}"
        )
        description = str(body.get("error_description") or "") if isinstance(body, dict) else ""
        raise OAuthError(error, description, status=response.status_code)


__all__ = [
    "SCOPES",
    "AuthorizationRequest",
    "Identity",
    "SalesforceError",
    "TokenAnswer",
    "authorization_request",
    "client_credentials_token",
    "exchange_code",
    "fetch_identity",
    "login_url_for",
    "post_token_request",
    "refresh_access_token",
    "revoke",
]
