"""Who is signed in: the principal that App Service / Container Apps authentication puts in the request.

The platform signs people in (Microsoft Entra ID), strips any X-MS-CLIENT-PRINCIPAL* header a client sends,
and forwards its own: base64 JSON with the token's claims. The app trusts those headers only with
AUTH_MODE=platform; with AUTH_MODE=none nobody is signed in and moderation is off.
"""

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request

from restaurant_shared.settings import Settings
from restaurant_web.deps import SettingsDep

PRINCIPAL_HEADER = "x-ms-client-principal"
LOGIN_PATH = "/.auth/login/aad"
ROLE_CLAIMS = {"roles", "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"}
NAME_CLAIMS = ("name", "preferred_username", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name")
ID_CLAIMS = ("http://schemas.microsoft.com/identity/claims/objectidentifier", "oid", "sub")
MAX_HEADER = 16 * 1024


@dataclass(frozen=True)
class Principal:
    id: str
    name: str
    roles: frozenset[str]


def parse_principal(
    encoded: str | None, *, name_header: str | None = None, id_header: str | None = None
) -> Principal | None:
    """The principal in an X-MS-CLIENT-PRINCIPAL value, or None if there is none or it does not decode."""
    if not encoded or len(encoded) > MAX_HEADER:
        return None
    try:
        data = json.loads(base64.b64decode(encoded + "=" * (-len(encoded) % 4)))
        claims: list[dict[str, Any]] = data.get("claims") or []
        pairs = [(str(claim["typ"]), str(claim["val"])) for claim in claims]
    except (ValueError, TypeError, KeyError, AttributeError, binascii.Error, UnicodeDecodeError):
        return None
    role_types = ROLE_CLAIMS | {str(data.get("role_typ") or "roles")}
    name_types = (str(data.get("name_typ") or "name"), *NAME_CLAIMS)

    def first(types: tuple[str, ...]) -> str | None:
        return next((value for kind in types for typ, value in pairs if typ == kind and value), None)

    principal_id = id_header or first(ID_CLAIMS)
    if not principal_id:
        return None
    name = first(name_types) or name_header or principal_id
    return Principal(principal_id[:128], name[:256], frozenset(value for typ, value in pairs if typ in role_types))


def current_principal(request: Request, settings: SettingsDep) -> Principal | None:
    if settings.auth_mode != "platform":
        return None
    headers = request.headers
    return parse_principal(
        headers.get(PRINCIPAL_HEADER),
        name_header=headers.get("x-ms-client-principal-name"),
        id_header=headers.get("x-ms-client-principal-id"),
    )


class SignInRequired(Exception):
    """A page for moderators, asked for by someone not signed in: the platform's sign-in comes next."""

    def __init__(self, return_to: str) -> None:
        super().__init__("sign in required")
        self.return_to = return_to


PrincipalDep = Annotated[Principal | None, Depends(current_principal)]


def is_moderator(principal: Principal | None, settings: Settings) -> bool:
    return principal is not None and settings.moderator_role in principal.roles


def require_moderator(principal: PrincipalDep, settings: SettingsDep) -> Principal:
    """For the API: 403 when moderation is off or the principal lacks the role, 401 when nobody signed in."""
    if settings.auth_mode != "platform":
        raise HTTPException(403, "Moderation is turned off on this site (AUTH_MODE=none).")
    if principal is None:
        raise HTTPException(401, "Sign in as a moderator first.", headers={"WWW-Authenticate": "Bearer"})
    if not is_moderator(principal, settings):
        raise HTTPException(403, f"Only moderators (role {settings.moderator_role!r}) can do that.")
    return principal


def require_moderator_page(request: Request, principal: PrincipalDep, settings: SettingsDep) -> Principal:
    """For pages: moderation off → 404 (there is nothing here); not signed in → the platform's sign-in."""
    if settings.auth_mode != "platform":
        raise HTTPException(404, "Not found")
    if principal is None:
        raise SignInRequired(request.url.path)
    return require_moderator(principal, settings)


ModeratorDep = Annotated[Principal, Depends(require_moderator)]
ModeratorPageDep = Annotated[Principal, Depends(require_moderator_page)]
