"""Identity URL and OpenID userinfo: who the token's user is, in Salesforce's format.

A bad token answers 403 with a plain-text code (Missing_OAuth_Token,
Bad_OAuth_Token, Wrong_Org) and an unknown user 404 Bad_Id, as the identity
service documents."""

from __future__ import annotations

import hashlib
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from .models import Org, User
from .oauth import base_url, bearer, identity_url, sf
from .tokens import AccessToken
from .util import same_id

router = APIRouter()


def _identity_token(request: Request) -> AccessToken | Response:
    raw = bearer(request)
    if not raw:
        return PlainTextResponse("Missing_OAuth_Token", status_code=403)
    at = sf(request).access_token(raw)
    if at is None:
        return PlainTextResponse("Bad_OAuth_Token", status_code=403)
    return at


def identity_body(request: Request, org: Org, user: User) -> dict[str, Any]:
    base = base_url(request)
    org15 = org.id[:15]
    data = f"{base}/services/data/v{{version}}"
    offset_ms = 0
    return {
        "id": identity_url(request, org.id, user.id),
        "asserted_user": True,
        "user_id": user.id,
        "organization_id": org.id,
        "username": user.username,
        "nick_name": user.username.split("@")[0]
        + str(int(hashlib.sha1(user.id.encode()).hexdigest()[:10], 16)),
        "display_name": user.name,
        "email": user.email,
        "email_verified": True,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "timezone": user.timezone,
        "photos": {
            "picture": f"{base}/profilephoto/005/F",
            "thumbnail": f"{base}/profilephoto/005/T",
        },
        "addr_street": None,
        "addr_city": None,
        "addr_state": None,
        "addr_country": org.country,
        "addr_zip": None,
        "mobile_phone": None,
        "mobile_phone_verified": False,
        "is_lightning_login_user": False,
        "status": {"created_date": None, "body": None},
        "urls": {
            "enterprise": f"{base}/services/Soap/c/{{version}}/{org15}",
            "metadata": f"{base}/services/Soap/m/{{version}}/{org15}",
            "partner": f"{base}/services/Soap/u/{{version}}/{org15}",
            "rest": f"{data}/",
            "sobjects": f"{data}/sobjects/",
            "search": f"{data}/search/",
            "query": f"{data}/query/",
            "recent": f"{data}/recent/",
            "tooling_soap": f"{base}/services/Soap/T/{{version}}/{org15}",
            "tooling_rest": f"{data}/tooling/",
            "profile": f"{base}/{user.id}",
            "feeds": f"{data}/chatter/feeds",
            "groups": f"{data}/chatter/groups",
            "users": f"{data}/chatter/users",
            "feed_items": f"{data}/chatter/feed-items",
            "feed_elements": f"{data}/chatter/feed-elements",
            "custom_domain": base,
        },
        "active": user.active,
        "user_type": "STANDARD",
        "language": user.language,
        "locale": user.locale,
        "utcOffset": offset_ms,
        "last_modified_date": user.created_date,
        "is_app_installed": True,
    }


@router.get("/id/{org_id}/{user_id}")
async def identity(request: Request, org_id: str, user_id: str) -> Response:
    state = sf(request)
    state.count("identity")
    at = _identity_token(request)
    if isinstance(at, Response):
        return at
    if not same_id(at.org_id, org_id):
        return PlainTextResponse("Wrong_Org", status_code=403)
    user = state.user(at.org_id, user_id)
    if user is None:
        return PlainTextResponse("Bad_Id", status_code=404)
    return JSONResponse(identity_body(request, state.org(at.org_id), user))


@router.api_route("/services/oauth2/userinfo", methods=["GET", "POST"])
async def userinfo(request: Request) -> Response:
    state = sf(request)
    state.count("userinfo")
    at = _identity_token(request)
    if isinstance(at, Response):
        return at
    org = state.org(at.org_id)
    user = state.user(at.org_id, at.user_id)
    assert user is not None
    ident = identity_body(request, org, user)
    return JSONResponse(
        {
            "sub": ident["id"],
            "user_id": user.id,
            "organization_id": org.id,
            "preferred_username": user.username,
            "nickname": ident["nick_name"],
            "name": user.name,
            "email": user.email,
            "email_verified": True,
            "given_name": user.first_name,
            "family_name": user.last_name,
            "zoneinfo": user.timezone,
            "photos": ident["photos"],
            "profile": ident["urls"]["profile"],
            "picture": ident["photos"]["picture"],
            "address": {"country": org.country},
            "is_salesforce_integration_user": False,
            "urls": ident["urls"],
            "active": user.active,
            "user_type": "STANDARD",
            "language": user.language,
            "locale": user.locale,
            "utcOffset": 0,
            "updated_at": user.created_date,
            "is_app_installed": True,
        }
    )
