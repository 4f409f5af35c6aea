"""OAuth 2.0 web server flow (authorize page, token, revoke, introspect),
identity URL and OpenID userinfo, in Salesforce's wire formats."""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
from typing import Any
from urllib.parse import unquote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import (
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
)

from .approvals import not_installed_redirect
from .state import SalesforceEmulator
from .token_holds import wait_if_held
from .tokens import AccessToken, OAuthError

router = APIRouter()
AUTH_PARAMS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "state",
    "scope",
    "code_challenge",
    "code_challenge_method",
    "prompt",
    "login_hint",
)
LOGIN_ERROR = (
    "Please check your username and password. If you still can't log in, contact your "
    "Salesforce administrator."
)


def sf(request: Request) -> SalesforceEmulator:
    return request.app.state.sf


def base_url(request: Request) -> str:
    return (sf(request).base_url or str(request.base_url)).rstrip("/")


def identity_url(request: Request, org_id: str, user_id: str) -> str:
    return f"{base_url(request)}/id/{org_id}/{user_id}"


# -- authorize -----------------------------------------------------------------------


LOGIN_CSS = (
    "body{margin:0;background:#f3f6f9;font-family:-apple-system,'Segoe UI',Roboto,Arial,"
    "sans-serif;color:#181818}"
    "main{max-width:24rem;margin:4rem auto;background:#fff;border:1px solid #d8dde6;"
    "border-radius:.5rem;padding:1.5rem 2rem;box-shadow:0 2px 6px rgba(0,0,0,.08)}"
    "h1{font-size:1.25rem;margin:0 0 .25rem;color:#0176d3}h2{font-size:1rem;font-weight:400;"
    "margin:0 0 1rem;color:#444}"
    "label,input,button{display:block;margin:.4rem 0}label{font-size:.85rem;color:#444}"
    "input{box-sizing:border-box;width:100%;padding:.55rem;border:1px solid #c9c9c9;"
    "border-radius:.25rem;font-size:1rem}"
    ".error{color:#c23934}.buttons{display:flex;gap:1rem;margin-top:1rem}"
    "button{flex:1;padding:.6rem;border-radius:.25rem;border:1px solid #0176d3;font-size:1rem;"
    "cursor:pointer;background:#fff;color:#0176d3}button[value=allow]{background:#0176d3;"
    "color:#fff}"
)


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    doc = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<title>{html.escape(title)}</title><style>{LOGIN_CSS}</style></head><body><main>"
        f"{body}</main></body></html>"
    )
    return HTMLResponse(doc, status_code=status)


def _login_form(params: dict[str, str], error: str | None = None) -> HTMLResponse:
    hidden = "".join(
        f"<input type='hidden' name='{k}' value='{html.escape(params.get(k, ''), quote=True)}'>"
        for k in AUTH_PARAMS
        if k != "login_hint"
    )
    err = f"<p class='error' role='alert'>{html.escape(error)}</p>" if error else ""
    user = html.escape(params.get("username") or params.get("login_hint") or "", quote=True)
    scope = html.escape(params.get("scope") or "api refresh_token id")
    body = (
        "<h1>Salesforce emulator</h1><h2>Log in and allow access</h2>"
        f"{err}<form method='post' action='/services/oauth2/authorize'>{hidden}"
        f"<label for='username'>Username</label><input id='username' name='username' "
        f"value='{user}' autocomplete='username'>"
        "<label for='password'>Password</label><input id='password' name='password' "
        "type='password' autocomplete='current-password'>"
        f"<p>The app <b>{html.escape(params.get('client_id', ''))}</b> asks for: {scope}</p>"
        "<div class='buttons'><button type='submit' name='decision' value='allow'>Allow</button>"
        "<button type='submit' name='decision' value='deny'>Deny</button></div></form>"
    )
    return _page("Login | Salesforce", body)


def _redirect(redirect_uri: str, params: dict[str, str]) -> RedirectResponse:
    sep = "&" if "?" in redirect_uri else "?"
    query = urlencode({k: v for k, v in params.items() if v is not None and v != ""})
    return RedirectResponse(f"{redirect_uri}{sep}{query}", status_code=302)


def _error_page(error: str, description: str) -> HTMLResponse:
    """Salesforce shows these on its own host: the redirect_uri is not trusted."""
    return _page(
        "Error",
        f"<h1>error={html.escape(error)}</h1><p class='error'>{html.escape(description)}</p>",
        400,
    )


def _check_authorize(request: Request, params: dict[str, str]) -> Response | None:
    state = sf(request)
    app = state.app(params.get("client_id"))
    if app is None:
        return _error_page("invalid_client_id", "client identifier invalid")
    if not params.get("redirect_uri"):
        return _error_page("redirect_uri_missing", "redirect_uri must match configuration")
    if params["redirect_uri"] not in app.callback_urls:
        return _error_page("redirect_uri_mismatch", "redirect_uri must match configuration")
    if params.get("response_type") != "code":
        return _redirect(
            params["redirect_uri"],
            {
                "error": "unsupported_response_type",
                "error_description": "response type not supported",
                "state": params.get("state", ""),
            },
        )
    if app.require_pkce and not params.get("code_challenge"):
        return _redirect(
            params["redirect_uri"],
            {
                "error": "invalid_request",
                "error_description": "missing required code challenge",
                "state": params.get("state", ""),
            },
        )
    return None


@router.get("/services/oauth2/authorize")
async def authorize_page(request: Request) -> Response:
    params = {k: v for k, v in request.query_params.items() if k in AUTH_PARAMS}
    return _check_authorize(request, params) or _login_form(params)


@router.post("/services/oauth2/authorize")
async def authorize_submit(request: Request) -> Response:
    form = await request.form()
    params = {k: str(v) for k, v in form.items()}
    bad = _check_authorize(request, params)
    if bad is not None:
        return bad
    if params.get("decision") == "deny":
        return _redirect(
            params["redirect_uri"],
            {
                "error": "access_denied",
                "error_description": "end-user denied authorization",
                "state": params.get("state", ""),
            },
        )
    state = sf(request)
    found = state.find_user(params.get("username", ""))
    if found is None or found[1].password != params.get("password") or not found[1].active:
        return _login_form(params, LOGIN_ERROR)
    org, user = found
    if not state.may_authorize(org, user):
        # Salesforce's own page; the browser never comes back to redirect_uri.
        state.count("authorize.not_installed")
        return not_installed_redirect(base_url(request))
    code = state.create_code(
        client_id=params["client_id"],
        redirect_uri=params["redirect_uri"],
        code_challenge=params.get("code_challenge") or None,
        code_challenge_method=params.get("code_challenge_method") or None,
        org_id=org.id,
        user_id=user.id,
        scope=params.get("scope"),
    )
    return _redirect(params["redirect_uri"], {"code": code, "state": params.get("state", "")})


# -- token ---------------------------------------------------------------------------


def _client_credentials(request: Request, form: dict[str, str]) -> tuple[str | None, str | None]:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("basic "):
        try:
            raw = base64.b64decode(auth[6:].strip()).decode("utf-8")
            cid, _, secret = raw.partition(":")
            return unquote(cid), unquote(secret)
        except (ValueError, UnicodeDecodeError):
            raise OAuthError("invalid_client", "invalid client credentials") from None
    return form.get("client_id"), form.get("client_secret")


def _token_body(request: Request, at: AccessToken, refresh: str | None) -> dict[str, Any]:
    state = sf(request)
    id_url = identity_url(request, at.org_id, at.user_id)
    issued_at = str(int(at.issued_at * 1000))
    secret = state.apps[at.client_id].client_secret.encode("utf-8")
    signature = base64.b64encode(
        hmac.new(secret, (id_url + issued_at).encode("utf-8"), hashlib.sha256).digest()
    ).decode("ascii")
    body: dict[str, Any] = {"access_token": at.token}
    if refresh:
        body["refresh_token"] = refresh
    body.update(
        {
            "signature": signature,
            "scope": at.scope,
            "instance_url": base_url(request),
            "id": id_url,
            "token_type": "Bearer",
            "issued_at": issued_at,
        }
    )
    body.update(state.token_answer_overrides)
    return body


@router.post("/services/oauth2/token")
async def token(request: Request) -> Response:
    state = sf(request)
    form = {k: str(v) for k, v in (await request.form()).items()}
    client_id, client_secret = _client_credentials(request, form)
    grant_type = form.get("grant_type")
    state.count("token")
    if grant_type in ("authorization_code", "refresh_token"):
        state.count(f"token.{grant_type}")
        await wait_if_held(state, grant_type)
        state.take_token_fault(grant_type)
    if grant_type == "authorization_code":
        at, refresh = state.exchange_code(
            code=form.get("code"),
            client_id=client_id,
            client_secret=client_secret,
            redirect_uri=form.get("redirect_uri"),
            code_verifier=form.get("code_verifier"),
        )
    elif grant_type == "refresh_token":
        at, refresh = state.refresh(
            refresh_token=form.get("refresh_token"),
            client_id=client_id,
            client_secret=client_secret,
        )
    elif grant_type == "client_credentials":
        state.count("token.client_credentials")
        state.take_token_fault(grant_type)
        at, refresh = state.client_credentials_token(client_id, client_secret), None
    else:
        state.count("token.other")
        raise OAuthError("unsupported_grant_type", "grant type not supported")
    return JSONResponse(
        _token_body(request, at, refresh),
        headers={"Cache-Control": "no-cache,must-revalidate,max-age=0,no-store,private"},
    )


@router.api_route("/services/oauth2/revoke", methods=["GET", "POST"])
async def revoke(request: Request) -> Response:
    state = sf(request)
    state.count("revoke")
    form = (
        {k: str(v) for k, v in (await request.form()).items()} if request.method == "POST" else {}
    )
    tok = form.get("token") or request.query_params.get("token") or ""
    if not state.revoke_token(tok):
        raise OAuthError("unsupported_token_type", "this token type is not supported")
    return Response(status_code=200)


@router.post("/services/oauth2/introspect")
async def introspect(request: Request) -> Response:
    state = sf(request)
    state.count("introspect")
    form = {k: str(v) for k, v in (await request.form()).items()}
    client_id, client_secret = _client_credentials(request, form)
    state.check_client(client_id, client_secret or "")
    tok = form.get("token", "")
    at = state.access_token(tok)
    if at is not None:
        user = state.user(at.org_id, at.user_id)
        return JSONResponse(
            {
                "active": True,
                "scope": at.scope,
                "client_id": at.client_id,
                "username": user.username if user else None,
                "sub": identity_url(request, at.org_id, at.user_id),
                "token_type": "access_token",
                "exp": int(at.expires_at),
                "iat": int(at.issued_at),
                "nbf": int(at.issued_at),
            }
        )
    grant = state.refresh_grant(tok)
    if grant is not None:
        user = state.user(grant.org_id, grant.user_id)
        return JSONResponse(
            {
                "active": True,
                "scope": grant.scope,
                "client_id": grant.client_id,
                "username": user.username if user else None,
                "sub": identity_url(request, grant.org_id, grant.user_id),
                "token_type": "refresh_token",
                "iat": int(state.clock.time()),
            }
        )
    return JSONResponse({"active": False})


def bearer(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth[:7].lower() == "bearer " or auth[:6].lower() == "oauth ":
        return auth.split(" ", 1)[1].strip()
    return request.query_params.get("oauth_token")
