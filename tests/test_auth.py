"""Caller token verification (docs/api.md, "Authentication")."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import httpx
import jwt
import pytest
from fastapi import APIRouter

from app.auth import mint_token
from app.config import Settings
from app.deps import AnyMember, Manager
from app.main import create_app

PROBE = APIRouter()


@PROBE.get("/v1/workspaces/{workspace_id}/probe/member")
async def member_probe(workspace_id: str, caller: AnyMember) -> dict[str, str]:
    return {"user": caller.user_id, "role": caller.role}


@PROBE.get("/v1/workspaces/{workspace_id}/probe/manager")
async def manager_probe(workspace_id: str, caller: Manager) -> dict[str, str]:
    return {"user": caller.user_id, "role": caller.role}


@pytest.fixture
async def probe_client(app: Any) -> Any:
    app.include_router(PROBE)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as http:
        yield http


def _claims(settings: Settings, **overrides: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "sub": "user-1",
        "workspace_id": "ws-1",
        "role": "owner",
        "aud": settings.service_jwt_audience,
        "exp": int(time.time()) + 60,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _assert_problem(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == code
    assert body["status"] == status


async def test_valid_token_reaches_the_route(probe_client: Any, settings: Settings) -> None:
    token = mint_token(settings, workspace_id="ws-1", role="agent", user_id="u-9")
    response = await probe_client.get("/v1/workspaces/ws-1/probe/member", headers=_bearer(token))
    assert response.status_code == 200
    assert response.json() == {"user": "u-9", "role": "agent"}


async def test_missing_token_is_unauthenticated(probe_client: Any) -> None:
    response = await probe_client.get("/v1/workspaces/ws-1/probe/member")
    await _assert_problem(response, 401, "unauthenticated")


async def test_bad_signature(probe_client: Any, settings: Settings) -> None:
    token = jwt.encode(_claims(settings), "another-secret-of-sufficient-length!", algorithm="HS256")
    response = await probe_client.get("/v1/workspaces/ws-1/probe/member", headers=_bearer(token))
    await _assert_problem(response, 401, "unauthenticated")


async def test_alg_none_is_refused(probe_client: Any, settings: Settings) -> None:
    token = jwt.encode(_claims(settings), key=None, algorithm="none")  # type: ignore[arg-type]
    response = await probe_client.get("/v1/workspaces/ws-1/probe/member", headers=_bearer(token))
    await _assert_problem(response, 401, "unauthenticated")


async def test_other_hmac_algorithm_is_refused(probe_client: Any, settings: Settings) -> None:
    token = jwt.encode(_claims(settings), settings.service_jwt_secret, algorithm="HS512")
    response = await probe_client.get("/v1/workspaces/ws-1/probe/member", headers=_bearer(token))
    await _assert_problem(response, 401, "unauthenticated")


async def test_wrong_audience(probe_client: Any, settings: Settings) -> None:
    token = jwt.encode(
        _claims(settings, aud="another-service"), settings.service_jwt_secret, algorithm="HS256"
    )
    response = await probe_client.get("/v1/workspaces/ws-1/probe/member", headers=_bearer(token))
    await _assert_problem(response, 401, "unauthenticated")


async def test_expired(probe_client: Any, settings: Settings) -> None:
    token = jwt.encode(
        _claims(settings, exp=int(time.time()) - 120),
        settings.service_jwt_secret,
        algorithm="HS256",
    )
    response = await probe_client.get("/v1/workspaces/ws-1/probe/member", headers=_bearer(token))
    await _assert_problem(response, 401, "unauthenticated")
    assert "expired" in response.json()["detail"]


async def test_missing_exp_is_refused(probe_client: Any, settings: Settings) -> None:
    claims = _claims(settings)
    del claims["exp"]
    token = jwt.encode(claims, settings.service_jwt_secret, algorithm="HS256")
    response = await probe_client.get("/v1/workspaces/ws-1/probe/member", headers=_bearer(token))
    await _assert_problem(response, 401, "unauthenticated")


async def test_unknown_role_is_refused(probe_client: Any, settings: Settings) -> None:
    token = jwt.encode(
        _claims(settings, role="superuser"), settings.service_jwt_secret, algorithm="HS256"
    )
    response = await probe_client.get("/v1/workspaces/ws-1/probe/member", headers=_bearer(token))
    await _assert_problem(response, 401, "unauthenticated")


@pytest.mark.parametrize(
    "claim",
    [
        {"role": ["owner"]},
        {"role": {"owner": True}},
        {"role": 1},
        {"workspace_id": ["ws-1"]},
        {"sub": {"id": "user-1"}},
        {"exp": str(int(time.time()) + 600)},
        {"exp": True},
        {"exp": [int(time.time()) + 600]},
        {"iat": "0"},
        {"nbf": "0"},
    ],
)
async def test_claims_of_the_wrong_type_are_unauthenticated(
    probe_client: Any, settings: Settings, claim: dict[str, Any]
) -> None:
    """A role that is a list or an object, or a numeric-string `exp`, is a bad token: 401,
    never a 500 and never accepted."""
    token = jwt.encode(_claims(settings, **claim), settings.service_jwt_secret, algorithm="HS256")
    response = await probe_client.get("/v1/workspaces/ws-1/probe/member", headers=_bearer(token))
    await _assert_problem(response, 401, "unauthenticated")


async def test_wrong_workspace_is_forbidden(probe_client: Any, settings: Settings) -> None:
    token = mint_token(settings, workspace_id="ws-2", role="owner")
    response = await probe_client.get("/v1/workspaces/ws-1/probe/member", headers=_bearer(token))
    await _assert_problem(response, 403, "forbidden")
    assert "ws-2" not in response.text


@pytest.mark.parametrize("role,status", [("owner", 200), ("manager", 200), ("agent", 403)])
async def test_manager_routes_need_owner_or_manager(
    probe_client: Any, settings: Settings, role: str, status: int
) -> None:
    token = mint_token(settings, workspace_id="ws-1", role=role)
    response = await probe_client.get("/v1/workspaces/ws-1/probe/manager", headers=_bearer(token))
    assert response.status_code == status
    if status == 403:
        assert response.json()["code"] == "forbidden"


async def test_issuer_checked_when_configured(make_settings: Any) -> None:
    from app.auth import TokenVerifier
    from app.errors import AppError

    settings = make_settings(service_jwt_issuer="https://gateway.respond.io")
    verifier = TokenVerifier(settings)
    good = mint_token(settings, workspace_id="ws-1", role="owner")
    assert verifier.verify(good).workspace_id == "ws-1"
    wrong = jwt.encode(
        _claims(settings, iss="https://evil.example"),
        settings.service_jwt_secret,
        algorithm="HS256",
    )
    with pytest.raises(AppError) as raised:
        verifier.verify(wrong)
    assert raised.value.code == "unauthenticated"
    missing = jwt.encode(_claims(settings), settings.service_jwt_secret, algorithm="HS256")
    with pytest.raises(AppError):
        verifier.verify(missing)


def test_production_refuses_placeholder_secrets() -> None:
    with pytest.raises(ValueError, match="SERVICE_JWT_SECRET"):
        Settings(_env_file=None, environment="production", database_url="postgresql://x/y")  # type: ignore[call-arg]


def test_docs_offer_bearer_authorize_button(probe_client: Any, app: Any) -> None:
    schemes = app.openapi()["components"]["securitySchemes"]
    assert any(s.get("scheme") == "bearer" for s in schemes.values())


def _token_events(event: str) -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value("auth_token_cache_events_total", {"event": event}) or 0.0


async def test_a_verified_token_is_not_verified_again(
    probe_client: Any, app: Any, settings: Settings
) -> None:
    token = mint_token(settings, workspace_id="ws-1", role="owner", user_id="u-7")
    hits, misses = _token_events("hit"), _token_events("miss")
    for _ in range(3):
        response = await probe_client.get(
            "/v1/workspaces/ws-1/probe/member", headers=_bearer(token)
        )
        assert response.json() == {"user": "u-7", "role": "owner"}
    assert _token_events("miss") - misses == 1
    assert _token_events("hit") - hits == 2
    assert app.state.services.verifier.cached_tokens == 1


async def test_workspace_and_role_are_checked_even_when_the_token_is_cached(
    probe_client: Any, settings: Settings
) -> None:
    token = mint_token(settings, workspace_id="ws-1", role="agent")
    member = await probe_client.get("/v1/workspaces/ws-1/probe/member", headers=_bearer(token))
    assert member.status_code == 200
    hits = _token_events("hit")
    other = await probe_client.get("/v1/workspaces/ws-2/probe/member", headers=_bearer(token))
    await _assert_problem(other, 403, "forbidden")
    manager = await probe_client.get("/v1/workspaces/ws-1/probe/manager", headers=_bearer(token))
    await _assert_problem(manager, 403, "forbidden")
    assert _token_events("hit") - hits == 2


async def test_an_expired_token_is_refused_even_when_cached(settings: Settings) -> None:
    now = [time.time()]
    app = create_app(settings, now=lambda: datetime.fromtimestamp(now[0], UTC))
    app.include_router(PROBE)
    token = mint_token(settings, workspace_id="ws-1", role="owner", ttl=60)
    exp = jwt.decode(token, options={"verify_signature": False})["exp"]
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as probe_client,
    ):
        verifier = app.state.services.verifier
        first = await probe_client.get("/v1/workspaces/ws-1/probe/member", headers=_bearer(token))
        assert first.status_code == 200
        assert verifier.cached_tokens == 1

        now[0] = exp - 1
        still = await probe_client.get("/v1/workspaces/ws-1/probe/member", headers=_bearer(token))
        assert still.status_code == 200
        expired, misses = _token_events("expired"), _token_events("miss")
        now[0] = exp  # PyJWT's rule: expired once now >= exp
        response = await probe_client.get(
            "/v1/workspaces/ws-1/probe/member", headers=_bearer(token)
        )
        await _assert_problem(response, 401, "unauthenticated")
        assert "expired" in response.json()["detail"]
        # Refused from the cache, not decoded again (a fresh decode would use the real clock).
        assert _token_events("expired") - expired == 1
        assert _token_events("miss") == misses
        assert verifier.cached_tokens == 0


def test_the_verified_tokens_kept_are_bounded(settings: Settings) -> None:
    from app.auth import TokenVerifier

    verifier = TokenVerifier(settings, max_cached=2)
    tokens = [
        mint_token(settings, workspace_id="ws-1", role="owner", user_id=f"u-{i}") for i in range(3)
    ]
    for token in tokens:
        verifier.verify(token)
    assert verifier.cached_tokens == 2
    misses = _token_events("miss")
    assert verifier.verify(tokens[0]).user_id == "u-0"  # the oldest went first
    assert _token_events("miss") - misses == 1
    assert verifier.cached_tokens == 2


def test_a_refused_token_is_not_kept(settings: Settings) -> None:
    from app.auth import TokenVerifier
    from app.errors import AppError

    verifier = TokenVerifier(settings)
    forged = jwt.encode(
        _claims(settings), "another-secret-of-sufficient-length!", algorithm="HS256"
    )
    for _ in range(2):
        with pytest.raises(AppError):
            verifier.verify(forged)
    assert verifier.cached_tokens == 0


@pytest.mark.parametrize("claim", ["sub", "workspace_id"])
async def test_claims_longer_than_the_service_stores_are_unauthenticated(
    client: httpx.AsyncClient, settings: Settings, claim: str
) -> None:
    """The service stores user and workspace ids in 64-character columns: a longer one is a
    token the gateway never mints (401 at verification), not a database error (500) later."""
    long = "w" * 65
    claims = _claims(settings, **{claim: long})
    token = jwt.encode(claims, settings.service_jwt_secret, algorithm="HS256")
    workspace = claims["workspace_id"]
    for method, path in (
        ("GET", f"/v1/workspaces/{workspace}/salesforce/connection"),
        ("GET", f"/v1/workspaces/{workspace}/salesforce/settings"),
        ("POST", f"/v1/workspaces/{workspace}/salesforce/connect"),
    ):
        response = await client.request(method, path, headers=_bearer(token))
        await _assert_problem(response, 401, "unauthenticated")
