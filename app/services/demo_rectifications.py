"""Demo of rectification (整顿转化): a neighbouring township with made-up names whose weak
branches stand at every stage, so each page has something real to show. The report's own
township (十四道沟镇) is left as its report states it: nothing designated.

Stages: 青石村 proposed; 柳河村 designated with an approved plan, four liaisons and visits;
松岭村 applied; 白桦村 converted with its acceptance and revisits; 红旗村 relapsed at a
revisit. Loading it twice changes nothing (the township's code is the marker).
"""

from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlmodel import Session, col

from app import clock
from app.config import get_settings
from app.models.branch import Branch, BranchKind
from app.models.campaign import Campaign
from app.models.problem import Problem, ProblemSource
from app.models.rectification import (
    AcceptanceCreate,
    ItemScore,
    Liaison,
    LiaisonRole,
    Rating,
    RatingDimension,
    RectificationAction,
    RectificationCreate,
    RectificationUpdate,
    Revisit,
    RevisitResult,
    RevisitUpdate,
    VisitCreate,
    WeakType,
)
from app.models.task import Task, TaskStatus
from app.models.township import Township
from app.models.user import Role, User
from app.services import rectifications as svc
from app.services.actors import Actor
from app.services.auth import hash_password

NEIGHBOUR = ("望江镇", "DEMO-WJZ")
COUNTY = Actor(label="demo", role=Role.county_admin, township_id=None,
               display_name="县委组织部(演示)")
# name, members, stage
BRANCHES = (
    ("青石村党支部", 24, "proposed"),
    ("柳河村党支部", 31, "designated"),
    ("松岭村党支部", 27, "applied"),
    ("白桦村党支部", 33, "converted"),
    ("红旗村党支部", 29, "relapsed"),
    ("望江社区党支部", 21, None),
)
LIAISONS = [
    Liaison(role=LiaisonRole.county_leader, name="周某(演示)", post="县人大常委会副主任"),
    Liaison(role=LiaisonRole.township_leader, name="吴某(演示)", post="望江镇党委副书记"),
    Liaison(role=LiaisonRole.first_secretary, name="郑某(演示)", post="县农业农村局干部"),
    Liaison(role=LiaisonRole.helper_unit, name="县农业农村局(演示)"),
]
SHEET = [("leadership", "18"), ("organisation_life", "13"), ("member_management", "13"),
         ("rules_openness", "14"), ("collective_economy", "12"), ("service_stability", "9"),
         ("problem_rectification", "10")]  # 89: 合格


def load_demo_rectifications(session: Session, password: str) -> list[tuple[str, str, str]]:
    """Create the neighbouring township and its rectifications unless present; answer its
    demo logins (username, role, password)."""
    logins = [("staff2", Role.township_staff.value, password),
              ("secretary2", Role.branch_secretary.value, password)]
    name, code = NEIGHBOUR
    if session.scalars(select(Township).where(Township.code == code)).first() is not None:
        return logins
    campaign = session.scalars(select(Campaign).where(col(Campaign.deleted_at).is_(None))
                               .order_by(col(Campaign.starts_on).desc())).first()
    if campaign is None:
        return []
    township = Township(name=name, code=code)
    session.add(township)
    session.flush()
    branches = {}
    for branch_name, members, _ in BRANCHES:
        kind = BranchKind.community if "社区" in branch_name else BranchKind.village
        b = Branch(township_id=township.id, name=branch_name, kind=kind, member_count=members,
                   secretary_is_director=True)
        session.add(b)
        session.flush()
        branches[branch_name] = b
    session.add_all([
        User(username="staff2", display_name="望江镇组织委员(演示)", role=Role.township_staff,
             township_id=township.id, password_hash=hash_password(password)),
        User(username="secretary2", display_name="柳河村书记(演示)", role=Role.branch_secretary,
             township_id=township.id, branch_id=branches["柳河村党支部"].id,
             password_hash=hash_password(password)),
    ])
    today = clock.today()
    for branch_name, _members, stage in BRANCHES:
        if stage is not None:
            _stage(session, campaign, township, branches[branch_name], stage, today)
    session.flush()
    return logins


def _stage(session: Session, campaign: Campaign, township: Township, branch: Branch,
           stage: str, today: date) -> None:
    settings = get_settings()
    assert campaign.id is not None and branch.id is not None
    rect = svc.propose(session=session, actor=COUNTY, today=today - timedelta(days=75),
                       data=RectificationCreate(
                           campaign_id=campaign.id, branch_id=branch.id,
                           weak_types=[WeakType.soft, WeakType.poor] if stage != "proposed"
                           else [WeakType.lax],
                           reason="班子凝聚力不强,组织生活不经常,集体经济薄弱(演示)",
                           target_on=campaign.ends_on))
    if stage == "proposed":
        return
    svc.transition(session=session, actor=COUNTY, rect=rect, action=RectificationAction.designate,
                   note=None, version=rect.version, settings=settings,
                   today=today - timedelta(days=70))
    svc.update_rectification(session=session, actor=COUNTY, rect=rect, settings=settings,
                             version=rect.version, data=RectificationUpdate(
                                 plan="配强村“两委”班子;规范“三会一课”;发展村集体经济项目1个(演示)",
                                 liaisons=LIAISONS))
    svc.transition(session=session, actor=COUNTY, rect=rect,
                   action=RectificationAction.approve_plan, note=None, version=rect.version,
                   settings=settings, today=today - timedelta(days=60))
    for role, days_ago in ((LiaisonRole.county_leader, 20), (LiaisonRole.township_leader, 6),
                           (LiaisonRole.first_secretary, 3)):
        name = next(x.name for x in LIAISONS if x.role == role)
        svc.add_visit(session=session, actor=COUNTY, rect=rect, today=today,
                      data=VisitCreate(role=role, visitor_name=name,
                                       visited_on=today - timedelta(days=days_ago),
                                       summary="入户走访党员群众,召开支委会研究整顿措施(演示)"))
    if stage == "designated":
        _open_task(session, campaign, township, branch, today)
        return
    _done_task(session, campaign, township, branch, today)
    svc.transition(session=session, actor=COUNTY, rect=rect, action=RectificationAction.apply,
                   note="整改任务已全部销号,申请验收", version=rect.version, settings=settings)
    if stage == "applied":
        return
    held_on = today - timedelta(days=30 if stage == "converted" else 45)
    svc.record_acceptance(session=session, actor=COUNTY, settings=settings, data=AcceptanceCreate(
        rectification_id=rect.id, held_on=held_on,  # type: ignore[arg-type]
        item_scores=[ItemScore(code=c, score=Decimal(s)) for c, s in SHEET],
        ratings=[Rating(dimension=d, satisfied=18, basic=5, dissatisfied=2)
                 for d in RatingDimension],
        note="班子健全,组织生活规范,集体经济有起色(演示)"))
    if stage == "relapsed":
        first = session.scalars(select(Revisit).where(Revisit.rectification_id == rect.id)
                                .order_by(Revisit.due_on)).first()
        assert first is not None
        svc.record_revisit(session=session, actor=COUNTY, revisit=first, version=first.version,
                           today=today, data=RevisitUpdate(
                               result=RevisitResult.relapsed, done_on=today - timedelta(days=5),
                               note="书记辞职,班子再度涣散(演示,提前开展回头看)"))


def _problem(session: Session, campaign: Campaign, township: Township, branch: Branch) -> Problem:
    p = Problem(campaign_id=campaign.id, township_id=township.id, branch_id=branch.id,  # type: ignore[arg-type]
                category="rules_ignored", source=ProblemSource.screening,
                description="组织生活不经常、不规范(演示)")
    session.add(p)
    session.flush()
    return p


def _open_task(session: Session, campaign: Campaign, township: Township, branch: Branch,
               today: date) -> None:
    p = _problem(session, campaign, township, branch)
    session.add(Task(problem_id=p.id, campaign_id=campaign.id, township_id=township.id,  # type: ignore[arg-type]
                     branch_id=branch.id, title="按月召开主题党日(演示)",
                     responsible_unit="村党支部", responsible_person="村书记(演示)",
                     due_on=today + timedelta(days=30), status=TaskStatus.in_progress))


def _done_task(session: Session, campaign: Campaign, township: Township, branch: Branch,
               today: date) -> None:
    from app.models.base import utcnow

    p = _problem(session, campaign, township, branch)
    session.add(Task(problem_id=p.id, campaign_id=campaign.id, township_id=township.id,  # type: ignore[arg-type]
                     branch_id=branch.id, title="配齐村“两委”班子(演示)",
                     responsible_unit="镇党委", responsible_person="组织委员(演示)",
                     due_on=today - timedelta(days=50), status=TaskStatus.verified,
                     verified_at=utcnow(), verified_by="县委组织部(演示)"))
    session.flush()
