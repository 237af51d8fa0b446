"""The platform's principal header: what is read from it, and that anything malformed means nobody."""

import base64
import json

import pytest

from restaurant_web.moderation.principal import parse_principal

ROLE_CLAIM = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"


def encode(payload: object) -> str:
    return base64.b64encode(json.dumps(payload).encode()).decode()


def entra(*claims: tuple[str, str], **extra: str) -> str:
    """Shaped like what Easy Auth sends for a Microsoft Entra sign-in."""
    body = {"auth_typ": "aad", "name_typ": "name", "role_typ": ROLE_CLAIM, **extra}
    body["claims"] = [{"typ": typ, "val": val} for typ, val in claims]  # type: ignore[assignment]
    return encode(body)


def test_reads_id_name_and_roles_from_entra_claims() -> None:
    header = entra(
        ("http://schemas.microsoft.com/identity/claims/objectidentifier", "oid-1"),
        ("name", "Ann Moderator"),
        (ROLE_CLAIM, "Moderator"),
        (ROLE_CLAIM, "Reader"),
    )
    principal = parse_principal(header)
    assert principal is not None
    assert (principal.id, principal.name, principal.roles) == ("oid-1", "Ann Moderator", {"Moderator", "Reader"})


def test_roles_claim_under_its_short_name_counts_too() -> None:
    header = encode({"claims": [{"typ": "oid", "val": "x"}, {"typ": "roles", "val": "Moderator"}]})
    principal = parse_principal(header)
    assert principal is not None and principal.roles == {"Moderator"} and principal.name == "x"


def test_platform_id_and_name_headers_fill_in() -> None:
    principal = parse_principal(entra(("roles", "Moderator")), name_header="ann@example.org", id_header="id-9")
    assert principal is not None and (principal.id, principal.name) == ("id-9", "ann@example.org")


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "not base64 at all!",
        base64.b64encode(b"not json").decode(),
        encode([1, 2]),
        encode({"claims": "nope"}),
        encode({"claims": [{"typ": "roles"}]}),
        encode({"claims": [{"typ": "roles", "val": "Moderator"}]}),  # no id: nobody in particular
        "A" * 20000,
    ],
)
def test_malformed_or_anonymous_headers_mean_nobody(header: str | None) -> None:
    assert parse_principal(header) is None
