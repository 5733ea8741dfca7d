"""`/form-issuances`, `/feedback-forms`, `/opinions`, `/suggestions`, `/feedback-stats`."""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response

from app.api.deletion import DELETE_DOC, deleted
from app.api.deps import CurrentActor, DeletionReason, IfMatch, PageDep, SessionDep
from app.api.represent import Page, respond, respond_page
from app.api.routing import TransactionRoute
from app.models.feedback import (
    FeedbackForm,
    FeedbackFormCreate,
    FeedbackFormPublic,
    FeedbackFormUpdate,
    FeedbackStats,
    FormIssuance,
    FormIssuancePublic,
    FormIssuancePut,
    FormIssuanceUpdate,
    OpinionPublic,
    OpinionUpdate,
    Suggestion,
    SuggestionCreate,
    SuggestionPublic,
    SuggestionToProblem,
    SuggestionUpdate,
    Theme,
)
from app.models.problem import ProblemPublic
from app.services import feedback as svc
from app.services.campaigns import campaign_criteria
from app.services.problems import problem_public

router = APIRouter(tags=["feedback"], route_class=TransactionRoute)


@router.get("/form-issuances", response_model=Page[FormIssuancePublic])
def list_issuances(request: Request, session: SessionDep, actor: CurrentActor, page: PageDep,
                   campaign_id: int | None = None, township_id: int | None = None) -> Response:
    """Forms issued per campaign and branch, with how many came back."""
    items, cursor = svc.list_issuances(session=session, actor=actor, campaign_id=campaign_id,
                                       township_id=township_id, page=page)
    return respond_page(request, items, cursor)


def load_issuance(session: SessionDep, actor: CurrentActor,
                  issuance_id: int = Path()) -> FormIssuance:
    return svc.get_issuance(session=session, actor=actor, issuance_id=issuance_id)


IssuanceDep = Annotated[FormIssuance, Depends(load_issuance)]


@router.get("/form-issuances/{issuance_id}", response_model=FormIssuancePublic)
def read_issuance(request: Request, issuance: IssuanceDep, session: SessionDep) -> Response:
    """One issuance row with the forms returned."""
    public = svc.issuance_public(issuance, None, svc.returned_for(session, issuance))
    return respond(request, public, etag=issuance.version)


@router.patch("/form-issuances/{issuance_id}", response_model=FormIssuancePublic)
def update_issuance(body: FormIssuanceUpdate, request: Request, issuance: IssuanceDep,
                    session: SessionDep, actor: CurrentActor, if_match: IfMatch) -> Response:
    """Correct the number of forms handed out; needs `If-Match` or `version`."""
    row = svc.update_issuance(session=session, actor=actor, issuance=issuance, data=body,
                              version=body.version if body.version is not None else if_match)
    public = svc.issuance_public(row, None, svc.returned_for(session, row))
    return respond(request, public, etag=row.version)


@router.delete("/form-issuances/{issuance_id}", status_code=204, description=DELETE_DOC)
def delete_issuance(request: Request, issuance: IssuanceDep, session: SessionDep,
                    actor: CurrentActor, if_match: IfMatch, reason: DeletionReason) -> Response:
    """Delete an issuance row, with a reason."""
    svc.delete_issuance(session=session, actor=actor, issuance=issuance, version=if_match,
                        reason=reason)
    return deleted(request, "/feedback")


@router.put("/form-issuances", response_model=FormIssuancePublic)
def put_issuance(body: FormIssuancePut, request: Request, session: SessionDep,
                 actor: CurrentActor) -> Response:
    """Set the number of forms handed out to a branch in a campaign."""
    row = svc.put_issuance(session=session, actor=actor, data=body)
    public = svc.issuance_public(row, None, svc.returned_for(session, row))
    return respond(request, public, etag=row.version)


@router.get("/feedback-forms", response_model=Page[FeedbackFormPublic])
def list_forms(request: Request, session: SessionDep, actor: CurrentActor, page: PageDep,
               campaign_id: int | None = None, township_id: int | None = None,
               branch_id: int | None = None) -> Response:
    """Returned forms with their opinions."""
    filters = svc.FormFilters(campaign_id=campaign_id, township_id=township_id,
                              branch_id=branch_id)
    items, cursor = svc.list_forms(session=session, actor=actor, filters=filters, page=page)
    return respond_page(request, items, cursor, fragment="fragments/form_rows.html",
                        more_path="/api/v1/feedback-forms")


@router.post("/feedback-forms", status_code=201, response_model=FeedbackFormPublic)
def create_form(body: FeedbackFormCreate, request: Request, session: SessionDep,
                actor: CurrentActor) -> Response:
    """Enter a returned form; send an `Idempotency-Key` so a resend is stored once."""
    form = svc.create_form(session=session, actor=actor, data=body)
    return respond(request, svc.form_public(session, form), status_code=201, etag=form.version,
                   location=f"/api/v1/feedback-forms/{form.id}")


def load_form(session: SessionDep, actor: CurrentActor, form_id: int = Path()) -> FeedbackForm:
    return svc.get_form(session=session, actor=actor, form_id=form_id)


@router.get("/feedback-forms/{form_id}", response_model=FeedbackFormPublic)
def read_form(request: Request, form: Annotated[FeedbackForm, Depends(load_form)],
              session: SessionDep) -> Response:
    """One returned form."""
    return respond(request, svc.form_public(session, form), etag=form.version)


@router.patch("/feedback-forms/{form_id}", response_model=FeedbackFormPublic)
def update_form(body: FeedbackFormUpdate, request: Request,
                form: Annotated[FeedbackForm, Depends(load_form)], session: SessionDep,
                actor: CurrentActor, if_match: IfMatch) -> Response:
    """Correct a returned form (respondent, satisfaction, branch); needs `If-Match`."""
    form = svc.update_form(session=session, actor=actor, form=form, data=body,
                           version=body.version if body.version is not None else if_match)
    return respond(request, svc.form_public(session, form), etag=form.version,
                   fragment="fragments/feedback_form_detail.html",
                   page_url=f"/feedback/forms/{form.id}",
                   context={"saved": True, "may_write": True})


@router.delete("/feedback-forms/{form_id}", status_code=204, description=DELETE_DOC)
def delete_form(request: Request, form: Annotated[FeedbackForm, Depends(load_form)],
                session: SessionDep, actor: CurrentActor, if_match: IfMatch,
                reason: DeletionReason) -> Response:
    """Delete a returned form and its opinions, with a reason; 409 while one is consolidated."""
    svc.delete_form(session=session, actor=actor, form=form, version=if_match, reason=reason)
    return deleted(request, "/feedback")


@router.get("/opinions", response_model=Page[OpinionPublic])
def list_opinions(request: Request, session: SessionDep, actor: CurrentActor, page: PageDep,
                  campaign_id: int | None = None, township_id: int | None = None,
                  branch_id: int | None = None, theme: Theme | None = None,
                  consolidated: bool | None = None,
                  suggestion_id: int | None = None) -> Response:
    """Raw opinions; `consolidated=false` lists those not yet in a suggestion,
    `suggestion_id` those a suggestion stands for."""
    filters = svc.OpinionFilters(campaign_id=campaign_id, township_id=township_id,
                                 branch_id=branch_id, theme=theme, consolidated=consolidated,
                                 suggestion_id=suggestion_id)
    items, cursor = svc.list_opinions(session=session, actor=actor, filters=filters, page=page)
    return respond_page(request, items, cursor, fragment="fragments/opinion_rows.html",
                        more_path="/api/v1/opinions")


@router.get("/opinions/{opinion_id}", response_model=OpinionPublic)
def read_opinion(request: Request, session: SessionDep, actor: CurrentActor,
                 opinion_id: int = Path()) -> Response:
    """One opinion."""
    opinion = svc.get_opinion(session=session, actor=actor, opinion_id=opinion_id)
    return respond(request, svc.opinion_public(session, opinion), etag=opinion.version)


@router.patch("/opinions/{opinion_id}", response_model=OpinionPublic)
def update_opinion(body: OpinionUpdate, request: Request, session: SessionDep,
                   actor: CurrentActor, if_match: IfMatch, opinion_id: int = Path()) -> Response:
    """Correct an opinion's wording or theme (also once consolidated)."""
    opinion = svc.get_opinion(session=session, actor=actor, opinion_id=opinion_id)
    opinion = svc.update_opinion(session=session, actor=actor, opinion=opinion, data=body,
                                 version=body.version if body.version is not None else if_match)
    form = svc.get_form(session=session, actor=actor, form_id=opinion.form_id)
    return respond(request, svc.opinion_public(session, opinion), etag=opinion.version,
                   fragment="fragments/feedback_form_detail.html",
                   page_url=f"/feedback/forms/{form.id}",
                   context={"data": svc.form_public(session, form), "saved": True,
                            "may_write": True})


@router.delete("/opinions/{opinion_id}", status_code=204, description=DELETE_DOC)
def delete_opinion(request: Request, session: SessionDep, actor: CurrentActor,
                   if_match: IfMatch, reason: DeletionReason,
                   opinion_id: int = Path()) -> Response:
    """Delete one opinion, with a reason; 409 while it belongs to a suggestion."""
    opinion = svc.get_opinion(session=session, actor=actor, opinion_id=opinion_id)
    svc.delete_opinion(session=session, actor=actor, opinion=opinion, version=if_match,
                       reason=reason)
    return deleted(request, f"/feedback/forms/{opinion.form_id}")


def load_suggestion(session: SessionDep, actor: CurrentActor,
                    suggestion_id: int = Path()) -> Suggestion:
    return svc.get_suggestion(session=session, actor=actor, suggestion_id=suggestion_id)


SuggestionDep = Annotated[Suggestion, Depends(load_suggestion)]


@router.get("/suggestions", response_model=Page[SuggestionPublic])
def list_suggestions(request: Request, session: SessionDep, actor: CurrentActor,
                     page: PageDep, campaign_id: int | None = None,
                     township_id: int | None = None) -> Response:
    """Consolidated suggestions (梳理出的意见建议) with the opinions they stand for."""
    items, cursor = svc.list_suggestions(session=session, actor=actor, campaign_id=campaign_id,
                                         township_id=township_id, page=page)
    return respond_page(request, items, cursor, fragment="fragments/suggestion_rows.html",
                        context={"criteria": campaign_criteria(session, campaign_id)})


@router.post("/suggestions", status_code=201, response_model=SuggestionPublic)
def create_suggestion(body: SuggestionCreate, request: Request, session: SessionDep,
                      actor: CurrentActor) -> Response:
    """Group opinions into a suggestion; an opinion belongs to at most one."""
    s = svc.create_suggestion(session=session, actor=actor, data=body)
    return respond(request, svc.suggestion_public(session, s), status_code=201, etag=s.version,
                   location=f"/api/v1/suggestions/{s.id}",
                   fragment="fragments/suggestion_rows.html",
                   context={"single": True,
                            "criteria": campaign_criteria(session, s.campaign_id)})


@router.get("/suggestions/{suggestion_id}", response_model=SuggestionPublic)
def read_suggestion(request: Request, suggestion: SuggestionDep,
                    session: SessionDep) -> Response:
    """One suggestion."""
    return respond(request, svc.suggestion_public(session, suggestion), etag=suggestion.version)


@router.patch("/suggestions/{suggestion_id}", response_model=SuggestionPublic)
def update_suggestion(body: SuggestionUpdate, request: Request, suggestion: SuggestionDep,
                      session: SessionDep, actor: CurrentActor, if_match: IfMatch) -> Response:
    """Reword, re-theme, regroup (`opinion_ids` replaces, `add_opinion_ids` adds) a
    suggestion, or link it to a problem."""
    s = svc.update_suggestion(session=session, actor=actor, suggestion=suggestion, data=body,
                              version=body.version if body.version is not None else if_match)
    return respond(request, svc.suggestion_public(session, s), etag=s.version,
                   fragment="fragments/suggestion_rows.html",
                   context={"single": True, "saved": True,
                            "criteria": campaign_criteria(session, s.campaign_id)})


@router.delete("/suggestions/{suggestion_id}", status_code=204, description=DELETE_DOC)
def delete_suggestion(request: Request, suggestion: SuggestionDep, session: SessionDep,
                      actor: CurrentActor, if_match: IfMatch,
                      reason: DeletionReason) -> Response:
    """Delete a suggestion (its opinions become ungrouped), with a reason."""
    svc.delete_suggestion(session=session, actor=actor, suggestion=suggestion,
                          version=if_match, reason=reason)
    return deleted(request, "/feedback/consolidate")


@router.post("/suggestions/{suggestion_id}/problem", status_code=201,
             response_model=ProblemPublic)
def suggestion_to_problem(body: SuggestionToProblem, request: Request,
                          suggestion: SuggestionDep, session: SessionDep,
                          actor: CurrentActor) -> Response:
    """Turn a suggestion into a problem of the ledger (source: feedback) in one action."""
    problem = svc.suggestion_to_problem(session=session, actor=actor, suggestion=suggestion,
                                        data=body)
    return respond(request, problem_public(session, problem), status_code=201,
                   etag=problem.version, location=f"/api/v1/problems/{problem.id}",
                   fragment="fragments/suggestion_rows.html",
                   context={"single": True, "data": svc.suggestion_public(session, suggestion)})


@router.get("/feedback-stats", response_model=FeedbackStats)
def feedback_stats(request: Request, session: SessionDep, actor: CurrentActor,
                   campaign_id: int | None = None, township_id: int | None = None,
                   branch_id: int | None = None) -> Response:
    """Issued, returned, return rate, opinions by theme, suggestions, satisfaction shares."""
    stats = svc.feedback_stats(session=session, actor=actor, campaign_id=campaign_id,
                               township_id=township_id, branch_id=branch_id)
    return respond(request, stats, fragment="fragments/feedback_stats.html")
