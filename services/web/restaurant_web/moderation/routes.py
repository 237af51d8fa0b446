"""Moderation routes: visitors' reports (form and API), the moderators' pages and their JSON twins.

Reports are open to everyone (rate-limited, CSRF-protected like the other forms, one per client and item).
Everything else needs a moderator: signed in through the platform with MODERATOR_ROLE (principal.py).
"""

import logging
import uuid
from typing import Annotated, Any
from urllib.parse import urlencode, urlsplit

import anyio.to_thread
from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from restaurant_shared.models import MODERATION_REASON_MAX, REPORT_NOTE_MAX, ReportReason
from restaurant_shared.taskqueue import enqueue_erasure
from restaurant_web.deps import ServicesDep, SessionDep
from restaurant_web.moderation import store
from restaurant_web.moderation.principal import ModeratorDep, ModeratorPageDep, Principal
from restaurant_web.ratelimit import client_address
from restaurant_web.schemas import ErrorOut
from restaurant_web.security import CSRF_FIELD, verify_csrf, verify_same_origin
from restaurant_web.services import Services
from restaurant_web.templating import templates

log = logging.getLogger("restaurant_web.moderation")
api = APIRouter(prefix="/api", tags=["moderation"])
pages = APIRouter(include_in_schema=False)
SameOrigin = Depends(verify_same_origin)
ReviewId = Annotated[int, Path(ge=1, le=2**31 - 1)]
RestaurantId = Annotated[int, Path(ge=1, le=2**31 - 1)]
Reason = Annotated[str, Query(max_length=MODERATION_REASON_MAX, description="Why, for the audit trail")]
MODERATED: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut},
    403: {"model": ErrorOut},
    404: {"model": ErrorOut},
}
PAGE_SIZE = 20
REASON_LABELS = {
    ReportReason.SPAM: "Spam or advertising",
    ReportReason.OFFENSIVE: "Offensive or hateful",
    ReportReason.OFF_TOPIC: "Not about this restaurant",
    ReportReason.PRIVATE_INFORMATION: "Shows private information",
    ReportReason.OTHER: "Something else",
}
templates.env.globals["report_reasons"] = REASON_LABELS


class ReportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: ReportReason
    note: str = Field(default="", max_length=REPORT_NOTE_MAX)


class ReportReceived(BaseModel):
    received: bool = True


def _reporter(request: Request) -> str:
    return store.reporter_key(client_address(request.scope))


def _clean_note(note: str) -> str:
    return note.replace("\x00", "").strip()


# Reports, from programs ----------------------------------------------------------------------------------


@api.post("/reviews/{review_id}/reports", status_code=202, response_model=ReportReceived,
          responses={404: {"model": ErrorOut}}, dependencies=[SameOrigin])  # fmt: skip
def report_review(review_id: ReviewId, report: ReportIn, request: Request, session: SessionDep) -> ReportReceived:
    if store.visible_review(session, review_id) is None:
        raise HTTPException(404, "Review not found")
    store.add_report(session, review_id=review_id, reason=report.reason, note=_clean_note(report.note),
                     reporter=_reporter(request))  # fmt: skip
    session.commit()
    return ReportReceived()


@api.post("/photos/{photo_id}/reports", status_code=202, response_model=ReportReceived,
          responses={404: {"model": ErrorOut}}, dependencies=[SameOrigin])  # fmt: skip
def report_photo(photo_id: uuid.UUID, report: ReportIn, request: Request, session: SessionDep) -> ReportReceived:
    if store.visible_photo(session, photo_id) is None:
        raise HTTPException(404, "Photo not found")
    store.add_report(session, photo_id=photo_id, reason=report.reason, note=_clean_note(report.note),
                     reporter=_reporter(request))  # fmt: skip
    session.commit()
    return ReportReceived()


# Reports, from the restaurant page's form ----------------------------------------------------------------


def _back_to(back: str | None, restaurant_id: int, **params: str) -> str:
    """Where the form came from (a page of this restaurant), with `params` added; never another site."""
    default = f"/restaurants/{restaurant_id}"
    parts = urlsplit(back or default)
    if parts.scheme or parts.netloc or parts.path != default:
        parts = urlsplit(default)
    query = "&".join(q for q in (parts.query, urlencode(params)) if q)
    return f"{parts.path}?{query}" if query else parts.path


@pages.get("/reviews/{review_id}/report")
def report_page(review_id: ReviewId, request: Request, session: SessionDep, back: str | None = None) -> Response:
    review = store.visible_review(session, review_id, with_photos=True)
    if review is None:
        raise HTTPException(404, "Review not found")
    context = {"review": review, "back": _back_to(back, review.restaurant_id)}
    return templates.TemplateResponse(request, "report.html", context)


@pages.post("/reviews/{review_id}/reports")
async def report_from_page(review_id: ReviewId, request: Request, services: ServicesDep) -> Response:
    form = await request.form(max_files=0, max_fields=10, max_part_size=4 * 1024)
    fields = {key: value for key, value in form.items() if isinstance(value, str)}
    verify_csrf(request, fields.get(CSRF_FIELD))
    try:
        reason = ReportReason(fields.get("reason", ""))
    except ValueError:
        raise HTTPException(422, "Choose why you are reporting this.") from None
    note = _clean_note(fields.get("note", ""))[:REPORT_NOTE_MAX]
    photo = fields.get("photo") or None
    reporter = _reporter(request)

    def save() -> int:
        with services.db.transaction() as session:
            review = store.visible_review(session, review_id)
            if review is None:
                raise HTTPException(404, "Review not found")
            if photo is None:
                store.add_report(session, review_id=review_id, reason=reason, note=note, reporter=reporter)
                return review.restaurant_id
            try:
                photo_id = uuid.UUID(photo)
            except ValueError:
                raise HTTPException(422, "That photo is not part of this review.") from None
            found = store.visible_photo(session, photo_id)
            if found is None or found.review_id != review_id:
                raise HTTPException(422, "That photo is not part of this review.")
            store.add_report(session, photo_id=photo_id, reason=reason, note=note, reporter=reporter)
            return review.restaurant_id

    restaurant_id = await anyio.to_thread.run_sync(save)
    location = _back_to(fields.get("back"), restaurant_id, reported=str(review_id))
    return RedirectResponse(f"{location}#review-{review_id}", status_code=303)


# Moderator actions, one implementation for the API and the pages ----------------------------------------


def _erase_later(services: Services, photo_ids: list[uuid.UUID]) -> None:
    try:
        enqueue_erasure(services.celery, photo_ids)
    except Exception as exc:  # the sweeper erases recorded photos after the stuck-photo delay
        log.warning("erasure not enqueued, the sweeper will do it", extra={"count": len(photo_ids),
                    "error": type(exc).__name__})  # fmt: skip


def _act(services: Services, who: Principal, action: str, target: store.TargetType, target_id: str,
         reason: str) -> bool:  # fmt: skip
    """Carry out one moderator action; False if the item does not exist (any more)."""
    parsed: int | uuid.UUID
    try:
        parsed = uuid.UUID(target_id) if target == "photo" else int(target_id)
    except ValueError:
        return False
    if isinstance(parsed, int) and not 1 <= parsed < 2**31:
        return False
    with services.db.transaction() as session:
        erased: list[uuid.UUID] | None = []
        if action == "dismiss" and target in ("review", "photo"):
            done = store.dismiss_reports(session, who, target, parsed, reason)
        elif action in ("hide", "restore") and target == "review":
            done = store.set_review_hidden(session, who, parsed, action == "hide", reason)  # type: ignore[arg-type]
        elif action in ("hide", "restore") and target == "photo":
            done = store.set_photo_hidden(session, who, parsed, action == "hide", reason)  # type: ignore[arg-type]
        elif action == "delete":
            delete = {"review": store.delete_review, "photo": store.delete_photo, "restaurant": store.delete_restaurant}
            erased = delete[target](session, who, parsed, reason)  # type: ignore[operator]
            done = erased is not None
        else:
            raise HTTPException(422, f"Unknown action {action!r} for a {target}.")
    log.info("moderation", extra={"action": action, "target": target, "target_id": target_id, "done": done})
    if erased:
        _erase_later(services, erased)
    return done


async def _api_act(services: Services, who: Principal, action: str, target: store.TargetType, target_id: object,
                   reason: str) -> Response:  # fmt: skip
    if not await anyio.to_thread.run_sync(_act, services, who, action, target, str(target_id), reason):
        raise HTTPException(404, f"{target.capitalize()} not found")
    return Response(status_code=204)


@api.delete("/reviews/{review_id}", status_code=204, responses=MODERATED, dependencies=[SameOrigin])
async def delete_review(review_id: ReviewId, who: ModeratorDep, services: ServicesDep, reason: Reason = "") -> Response:
    return await _api_act(services, who, "delete", "review", review_id, reason)


@api.delete("/photos/{photo_id}", status_code=204, responses=MODERATED, dependencies=[SameOrigin])
async def delete_photo(photo_id: uuid.UUID, who: ModeratorDep, services: ServicesDep, reason: Reason = "") -> Response:
    return await _api_act(services, who, "delete", "photo", photo_id, reason)


@api.delete("/restaurants/{restaurant_id}", status_code=204, responses=MODERATED, dependencies=[SameOrigin])
async def delete_restaurant(
    restaurant_id: RestaurantId, who: ModeratorDep, services: ServicesDep, reason: Reason = ""
) -> Response:
    return await _api_act(services, who, "delete", "restaurant", restaurant_id, reason)


@api.put("/reviews/{review_id}/hidden", status_code=204, responses=MODERATED, dependencies=[SameOrigin])
async def hide_review(review_id: ReviewId, who: ModeratorDep, services: ServicesDep, reason: Reason = "") -> Response:
    return await _api_act(services, who, "hide", "review", review_id, reason)


@api.delete("/reviews/{review_id}/hidden", status_code=204, responses=MODERATED, dependencies=[SameOrigin])
async def restore_review(
    review_id: ReviewId, who: ModeratorDep, services: ServicesDep, reason: Reason = ""
) -> Response:
    return await _api_act(services, who, "restore", "review", review_id, reason)


@api.put("/photos/{photo_id}/hidden", status_code=204, responses=MODERATED, dependencies=[SameOrigin])
async def hide_photo(photo_id: uuid.UUID, who: ModeratorDep, services: ServicesDep, reason: Reason = "") -> Response:
    return await _api_act(services, who, "hide", "photo", photo_id, reason)


@api.delete("/photos/{photo_id}/hidden", status_code=204, responses=MODERATED, dependencies=[SameOrigin])
async def restore_photo(photo_id: uuid.UUID, who: ModeratorDep, services: ServicesDep, reason: Reason = "") -> Response:
    return await _api_act(services, who, "restore", "photo", photo_id, reason)


# The moderators' pages ---------------------------------------------------------------------------------


@pages.get("/moderation")
def queue_page(request: Request, who: ModeratorPageDep, session: SessionDep, cursor: str | None = None) -> Response:
    return templates.TemplateResponse(
        request, "moderation.html",
        {"who": who, "tab": "reports", "reports": store.open_reports(session, cursor, PAGE_SIZE)},
    )  # fmt: skip


@pages.get("/moderation/hidden")
def hidden_page(
    request: Request,
    who: ModeratorPageDep,
    session: SessionDep,
    reviews_cursor: str | None = None,
    photos_cursor: str | None = None,
) -> Response:
    context = {
        "who": who,
        "tab": "hidden",
        "reviews": store.hidden_reviews(session, reviews_cursor, PAGE_SIZE),
        "photos": store.hidden_photos(session, photos_cursor, PAGE_SIZE),
    }
    return templates.TemplateResponse(request, "moderation.html", context)


@pages.get("/moderation/audit")
def audit_page(request: Request, who: ModeratorPageDep, session: SessionDep, cursor: str | None = None) -> Response:
    context = {"who": who, "tab": "audit", "actions": store.audit_log(session, cursor, PAGE_SIZE)}
    return templates.TemplateResponse(request, "moderation.html", context)


@pages.post("/moderation/actions")
async def act_from_page(request: Request, who: ModeratorPageDep, services: ServicesDep) -> Response:
    form = await request.form(max_files=0, max_fields=10, max_part_size=4 * 1024)
    fields = {key: value for key, value in form.items() if isinstance(value, str)}
    verify_csrf(request, fields.get(CSRF_FIELD))
    target: store.TargetType
    match fields.get("target_type", ""):
        case "review" | "photo" | "restaurant" as known:
            target = known
        case _:
            raise HTTPException(422, "Unknown kind of item.")
    if target == "restaurant" and fields.get("confirm") != "yes":
        raise HTTPException(422, "Tick the box to confirm deleting the whole restaurant.")
    action, reason = fields.get("action", ""), fields.get("reason", "").strip()[:MODERATION_REASON_MAX]
    done = await anyio.to_thread.run_sync(_act, services, who, action, target, fields.get("target_id", ""), reason)
    if not done:
        raise HTTPException(404, "That item no longer exists.")
    back = fields.get("back", "")
    if not back.startswith("/moderation") or back.startswith("//"):
        back = "/moderation"
    separator = "&" if "?" in back else "?"
    return RedirectResponse(f"{back}{separator}{urlencode({'done': action})}", status_code=303)
