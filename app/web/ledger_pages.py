"""Pages of the rectification ledger: campaigns, problems, the task board, a task, my tasks."""

from datetime import date
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from app import clock
from app.api.deps import CurrentActor, SessionDep, SettingsDep
from app.api.represent import with_cursor
from app.api.routing import TransactionRoute
from app.api.tasks import TaskDep, task_page_context
from app.listing import ItemsPage
from app.models.problem import ProblemSource
from app.models.task import TaskStatus
from app.models.user import Role
from app.services import campaigns as campaign_svc
from app.services import problems as problem_svc
from app.services import tasks as task_svc
from app.services import townships as township_svc
from app.services.actors import Actor
from app.services.branches import branch_choices
from app.services.deadlines import DeadlineBucket
from app.services.feedback import source_opinions
from app.services.pagination import MAX_LIMIT, PageParams
from app.web.pages import render

router = APIRouter(route_class=TransactionRoute, include_in_schema=False,
                   default_response_class=HTMLResponse)


BOARD_PAGE = 50  # cards per column, and per "load more"


def _may_write(actor: Actor) -> bool:
    return actor.role in (Role.county_admin, Role.township_staff)



def _category_labels(session: SessionDep, campaign_id: int | None) -> dict[str, str]:
    return {c.code: c.label for c in campaign_svc.campaign_criteria(session, campaign_id)}


@router.get("/campaigns")
def campaigns_page(request: Request, session: SessionDep, actor: CurrentActor) -> Response:
    return render(request, "pages/campaigns.html", actor,
                  campaigns=campaign_svc.all_campaigns(session=session))


@router.get("/problems")
def problems_page(request: Request, session: SessionDep, actor: CurrentActor,
                  campaign_id: int | None = None, township_id: int | None = None,
                  branch_id: int | None = None, source: ProblemSource | None = None,
                  cursor: str | None = None) -> Response:
    campaign = (campaign_svc.get_campaign(session=session, campaign_id=campaign_id)
                if campaign_id else campaign_svc.latest_active(session=session))
    filters = problem_svc.ProblemFilters(
        campaign_id=campaign.id if campaign else None, township_id=township_id,
        branch_id=branch_id, source=source,
    )
    items, next_cursor = problem_svc.list_problems(
        session=session, actor=actor, filters=filters, page=PageParams(cursor=cursor)
    )
    return render(
        request, "pages/problems.html", actor,
        data=ItemsPage(items, next_cursor),
        more_url=with_cursor(request, "/api/v1/problems", next_cursor),
        campaign=campaign, may_write=_may_write(actor),
        townships=township_svc.all_townships(session=session, actor=actor),
        branches=branch_choices(session=session, actor=actor), sources=list(ProblemSource),
        criteria=campaign_svc.campaign_criteria(session, campaign.id if campaign else None),
        category_labels=_category_labels(session, campaign.id if campaign else None),
    )


@router.get("/problems/{problem_id}")
def problem_page(request: Request, session: SessionDep, actor: CurrentActor,
                 problem_id: int) -> Response:
    problem = problem_svc.get_problem(session=session, actor=actor, problem_id=problem_id)
    items, _ = task_svc.list_tasks(
        session=session, actor=actor, filters=task_svc.TaskFilters(problem_id=problem.id),
        page=PageParams(limit=MAX_LIMIT),
    )
    return render(
        request, "pages/problem.html", actor,
        problem=problem_svc.problem_public(session, problem),
        data=ItemsPage(items, None),
        may_write=_may_write(actor) and actor.township_id in (None, problem.township_id),
        branches=branch_choices(session=session, actor=actor, township_id=problem.township_id),
        category_labels=_category_labels(session, problem.campaign_id), today=clock.today(),
        sources=source_opinions(session, problem.id),  # type: ignore[arg-type]
    )


@router.get("/tasks")
def tasks_page(request: Request, session: SessionDep, actor: CurrentActor,
               branch_id: int | None = None, overdue: bool | None = None,
               due_before: date | None = None, status: TaskStatus | None = None,
               deadline: DeadlineBucket | None = None) -> Response:
    """The board: a column per status (only `status`'s when given, e.g. the 待验收 queue),
    each in (due date, id) order with "load more"."""
    if actor.role == Role.branch_secretary:
        return RedirectResponse("/my/tasks", status_code=303)
    filters = task_svc.TaskFilters(branch_id=branch_id, overdue=overdue or None,
                                   due_before=due_before, deadline=deadline)
    columns = []
    for column in [status] if status else list(TaskStatus):
        items, next_cursor = task_svc.list_tasks(
            session=session, actor=actor,
            filters=task_svc.TaskFilters(**{**filters.__dict__, "status": column}),
            page=PageParams(limit=BOARD_PAGE), order="due",
        )
        more_url = None
        if next_cursor is not None:
            query = {k: v for k, v in (("branch_id", branch_id), ("overdue", overdue or None),
                                       ("due_before", due_before), ("deadline", deadline))
                     if v is not None}
            query.update(status=column.value, order="due", limit=BOARD_PAGE,
                         cursor=next_cursor)
            more_url = f"/api/v1/tasks?{urlencode(query)}"
        columns.append((column.value, ItemsPage(items, next_cursor),
                        more_url))
    return render(request, "pages/tasks.html", actor, mine=False, columns=columns, status=status,
                  counts=task_svc.status_counts(session=session, actor=actor, filters=filters),
                  filters=filters, branches=branch_choices(session=session, actor=actor),
                  deadlines=list(DeadlineBucket))


@router.get("/my/tasks")
def my_tasks_page(request: Request, session: SessionDep, actor: CurrentActor,
                  overdue: bool | None = None, status: TaskStatus | None = None,
                  deadline: DeadlineBucket | None = None) -> Response:
    """A secretary's tasks: overdue first, then by due date; verified ones last."""
    if actor.role != Role.branch_secretary:
        return RedirectResponse("/tasks", status_code=303)
    items, _ = task_svc.list_tasks(session=session, actor=actor,
                                   filters=task_svc.TaskFilters(overdue=overdue or None,
                                                                status=status,
                                                                deadline=deadline),
                                   page=PageParams(limit=MAX_LIMIT), order="due")
    items.sort(key=lambda t: (not t.overdue, t.status == TaskStatus.verified, t.due_on, t.id))
    return render(request, "pages/tasks.html", actor, mine=True, status=status,
                  overdue=overdue, data=ItemsPage(items, None))


@router.get("/tasks/{task_id}")
def task_page(request: Request, task: TaskDep, session: SessionDep, actor: CurrentActor,
              settings: SettingsDep) -> Response:
    return render(request, "pages/task.html", actor,
                  data=task_svc.task_public(session, task, actor),
                  max_upload_mb=settings.max_upload_mb,
                  **task_page_context(session, actor, task))
