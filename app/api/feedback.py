"""`/form-issuances`, `/feedback-forms`, `/opinions`, `/suggestions`, `/feedback-stats`."""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response

from app.api.deps import CurrentActor, IfMatch, PageDep, SessionDep
from app.api.represent import Page, respond, with_cursor
from app.api.routing import TransactionRoute
from app.models.feedback import (
    FeedbackForm,
    FeedbackFormCreate,
    FeedbackFormPublic,
    FeedbackStats,
    FormIssuancePublic,
    FormIssuancePut,
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
    return respond(request, Page[FormIssuancePublic](items=items, next_cursor=cursor))


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
    return respond(request, Page[FeedbackFormPublic](items=items, next_cursor=cursor),
                   fragment="fragments/form_rows.html",
                   context={"more_url": with_cursor(request, "/api/v1/feedback-forms", cursor)})


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


@router.get("/opinions", response_model=Page[OpinionPublic])
def list_opinions(request: Request, session: SessionDep, actor: CurrentActor, page: PageDep,
                  campaign_id: int | None = None, township_id: int | None = None,
                  branch_id: int | None = None, theme: Theme | None = None,
                  consolidated: bool | None = None) -> Response:
    """Raw opinions; `consolidated=false` lists those not yet in a suggestion."""
    filters = svc.OpinionFilters(campaign_id=campaign_id, township_id=township_id,
                                 branch_id=branch_id, theme=theme, consolidated=consolidated)
    items, cursor = svc.list_opinions(session=session, actor=actor, filters=filters, page=page)
    return respond(request, Page[OpinionPublic](items=items, next_cursor=cursor),
                   fragment="fragments/opinion_rows.html",
                   context={"more_url": with_cursor(request, "/api/v1/opinions", cursor)})


@router.get("/opinions/{opinion_id}", response_model=OpinionPublic)
def read_opinion(request: Request, session: SessionDep, actor: CurrentActor,
                 opinion_id: int = Path()) -> Response:
    """One opinion."""
    opinion = svc.get_opinion(session=session, actor=actor, opinion_id=opinion_id)
    return respond(request, svc.opinion_public(session, opinion), etag=opinion.version)


@router.patch("/opinions/{opinion_id}", response_model=OpinionPublic)
def update_opinion(body: OpinionUpdate, request: Request, session: SessionDep,
                   actor: CurrentActor, if_match: IfMatch, opinion_id: int = Path()) -> Response:
    """Correct an opinion's wording or theme."""
    opinion = svc.get_opinion(session=session, actor=actor, opinion_id=opinion_id)
    opinion = svc.update_opinion(session=session, actor=actor, opinion=opinion, data=body,
                                 version=body.version if body.version is not None else if_match)
    return respond(request, svc.opinion_public(session, opinion), etag=opinion.version)


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
    return respond(request, Page[SuggestionPublic](items=items, next_cursor=cursor),
                   fragment="fragments/suggestion_rows.html",
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
    """Reword, re-theme, regroup a suggestion, or link it to a problem."""
    s = svc.update_suggestion(session=session, actor=actor, suggestion=suggestion, data=body,
                              version=body.version if body.version is not None else if_match)
    return respond(request, svc.suggestion_public(session, s), etag=s.version)


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
