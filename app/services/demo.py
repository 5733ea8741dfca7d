"""The demo data: the township of the report in `shared/domain/`, with placeholder names.

The figures are the report's: 9 branches and 271 members, 6 village branches with 194,
members by age 6 / 92 / 81 (179 in all: the report's own gap, kept so the service warns
about it), 27 applicants aged 35 or under, 4 of 6 village secretaries aged 50 or over with
one at 60, and 望天鹅新村 and 鸡冠砬子村 without 一肩挑. Loading it twice changes nothing.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlmodel import Session, col

from app import clock
from app.models.branch import Branch, BranchKind
from app.models.township import Township
from app.models.user import Role, User
from app.services.auth import hash_password
from app.services.demo_rectifications import load_demo_rectifications

DEMO_TOWNSHIP = ("十四道沟镇", "DEMO-SSDG")
DEMO_PASSWORD = "demo-pass-2026"


VILLAGE = BranchKind.village


@dataclass(frozen=True)
class DemoBranch:
    name: str
    kind: BranchKind
    members: int
    bands: tuple[int, int, int] | None = None
    applicants: int | None = None
    secretary: str | None = None
    secretary_age: int | None = None
    dual_role: bool = False
    income_wan: str | None = None


BRANCHES = (  # name, kind, members, age bands, applicants, secretary, age, 一肩挑, income
    DemoBranch("干沟子村党支部", VILLAGE, 38, (1, 18, 15), 5, "书记甲", 60, True, "8.5"),
    DemoBranch("望天鹅新村党支部", VILLAGE, 30, (1, 15, 13), 4, "书记乙", 56, False, "12"),
    DemoBranch("十四道沟村党支部", VILLAGE, 36, (2, 17, 14), 6, "书记丙", 53, True, "6.2"),
    DemoBranch("鸡冠砬子村党支部", VILLAGE, 28, (0, 14, 12), 3, "书记丁", 51, False, "5.4"),
    DemoBranch("冷沟子村党支部", VILLAGE, 27, (1, 13, 12), 4, "书记戊", 46, True, "4.1"),
    DemoBranch("安乐村党支部", VILLAGE, 35, (1, 15, 15), 5, "书记己", 41, True, "9.8"),
    DemoBranch("十四道沟社区党支部", BranchKind.community, 25, secretary="书记庚"),
    DemoBranch("镇直机关党支部", BranchKind.organ, 22, secretary="书记辛"),
    DemoBranch("镇政府机关党支部", BranchKind.organ, 30, secretary="书记壬"),
)

DEMO_USERS = (
    ("admin", "县委组织部管理员(演示)", Role.county_admin, None),
    ("staff", "十四道沟镇组织委员(演示)", Role.township_staff, None),
    ("secretary", "干沟子村书记(演示)", Role.branch_secretary, "干沟子村党支部"),
    ("viewer", "十四道沟镇只读用户(演示)", Role.viewer, None),
)


def load_demo(session: Session) -> list[tuple[str, str, str]]:
    """Create what is missing of the demo; answer the demo logins (username, role, password)."""
    name, code = DEMO_TOWNSHIP
    township = session.scalars(
        select(Township).where(Township.code == code, col(Township.deleted_at).is_(None))
    ).first()
    if township is None:
        township = Township(name=name, code=code)
        session.add(township)
        session.flush()
    assert township.id is not None
    branch_ids: dict[str, int] = {}
    this_year = clock.today().year
    for spec in BRANCHES:
        branch = session.scalars(
            select(Branch).where(
                Branch.township_id == township.id,
                Branch.name == spec.name,
                col(Branch.deleted_at).is_(None),
            )
        ).first()
        if branch is None:
            bands = spec.bands or (None, None, None)
            branch = Branch(
                township_id=township.id,
                name=spec.name,
                kind=spec.kind,
                member_count=spec.members,
                members_35_under=bands[0],
                members_36_55=bands[1],
                members_56_over=bands[2],
                applicants_35_under=spec.applicants,
                secretary_name=spec.secretary,
                secretary_birth_year=this_year - spec.secretary_age if spec.secretary_age else None,
                secretary_is_director=spec.dual_role,
                collective_income_wan=Decimal(spec.income_wan) if spec.income_wan else None,
                income_sources="村集体资源发包、出租" if spec.kind == BranchKind.village else None,
            )
            session.add(branch)
            session.flush()
        assert branch.id is not None
        branch_ids[spec.name] = branch.id
    logins = []
    for username, display, role, branch_name in DEMO_USERS:
        exists = session.scalars(
            select(User).where(User.username == username, col(User.deleted_at).is_(None))
        ).first()
        if exists is None:
            session.add(
                User(
                    username=username,
                    display_name=display,
                    role=role,
                    township_id=None if role == Role.county_admin else township.id,
                    branch_id=branch_ids[branch_name] if branch_name else None,
                    password_hash=hash_password(DEMO_PASSWORD),
                )
            )
        logins.append((username, role.value, DEMO_PASSWORD))
    session.flush()
    load_demo_campaign(session, township, branch_ids)
    logins += load_demo_rectifications(session, DEMO_PASSWORD)
    return logins


# ---------------------------------------------------------------- the report's campaign

CAMPAIGN_NAME = "“不忘初心、牢记使命”主题教育集中整顿软弱涣散基层党组织"
VILLAGES = [b.name for b in BRANCHES if b.kind == BranchKind.village]
TARGETS = VILLAGES + ["十四道沟社区党支部"]

# The report: "发放党支部征求意见表200份,梳理出意见、建议7条" on prosperity, member quality,
# service and work style.
ISSUED = dict.fromkeys(VILLAGES, 30) | {"十四道沟社区党支部": 20}
SUGGESTIONS = (
    ("prosperity", "党支部带领群众发展产业、增收致富的办法不多"),
    ("prosperity", "村集体经济收入主要靠资源发包、出租,缺少产业项目"),
    ("member_quality", "党员教育培训形式单一,年轻党员少"),
    ("member_quality", "部分党员先锋模范作用发挥不明显"),
    ("service", "为群众办事的主动服务意识不强"),
    ("work_style", "村务公开不及时,“四议两公开”执行不到位"),
    ("work_style", "干部深入群众走访少,工作作风需进一步转变"),
)

# The report's five problems, with the next steps (下一步工作打算) as tasks.
PROBLEMS = (
    (
        "weakened_function",
        None,
        "部分基层党组织在自身能力、工作手段等方面不适应新形势、新任务,"
        "党员先锋模范作用和战斗堡垒作用发挥不充分",
        [
            (
                "实现党员教育全覆盖",
                "依托广播、网络、手机等平台多渠道加强党员教育,开展农村党员素质大提升活动",
                "镇党委",
                "组织委员(演示)",
                60,
                None,
            ),
            (
                "健全村级党组织工作规则",
                "理顺“村两委”关系,完善党员干部直接联系群众制度",
                "镇党委",
                "组织委员(演示)",
                45,
                None,
            ),
        ],
    ),
    (
        "weak_collective_economy",
        None,
        "部分村集体经济发展动力不强,收入主要依靠村集体资源发包、出租,"
        "在谋划产业项目、带动群众致富方面缺乏引领",
        [
            (
                "干沟子村人参种植观光采摘项目",
                "发展农田大枝条人参种植观光采摘,开发历史文化、红色文化旅游",
                "干沟子村党支部",
                "书记甲",
                40,
                "干沟子村党支部",
            ),
            (
                "望天鹅新村规范发展旅游服务业",
                "依托景区游客资源,规范发展旅游服务行业",
                "望天鹅新村党支部",
                "书记乙",
                40,
                "望天鹅新村党支部",
            ),
            (
                "十四道沟村红色旅游开发项目",
                None,
                "十四道沟村党支部",
                "书记丙",
                40,
                "十四道沟村党支部",
            ),
            (
                "鸡冠砬子村鹿鸣谷旅游综合开发",
                "石门湖水库旅游综合开发项目",
                "鸡冠砬子村党支部",
                "书记丁",
                40,
                "鸡冠砬子村党支部",
            ),
            (
                "冷沟子村林下经济和绿色生态旅游",
                None,
                "冷沟子村党支部",
                "书记戊",
                -5,
                "冷沟子村党支部",
            ),
            (
                "安乐村药王谷旅游度假区和万年青种植",
                None,
                "安乐村党支部",
                "书记己",
                40,
                "安乐村党支部",
            ),
        ],
    ),
    (
        "aging_members",
        None,
        "党员队伍老龄化严重、后继乏人,年轻人大多外出务工,年轻积极分子逐年减少",
        [
            (
                "制定发展党员计划",
                "调整发展方向,使党员年龄结构年轻化、知识化",
                "镇党委",
                "组织委员(演示)",
                50,
                None,
            ),
        ],
    ),
    (
        "discipline_violation",
        None,
        "个别党组织负责人存在违规违纪现象(望天鹅新村党支部书记违规使用村集体土地,"
        "安乐村党支部书记未履行“四议两公开”实施工程建设),已进行纪律处分",
        [
            ("全镇开展警示教育活动", None, "镇纪委", "纪委书记(演示)", 20, None),
        ],
    ),
    (
        "dual_role_gap",
        "望天鹅新村党支部",
        "望天鹅新村书记、主任未“一肩挑”,下一次换届存在隐患",
        [
            (
                "换届前做好“一肩挑”人选准备",
                None,
                "镇党委",
                "组织委员(演示)",
                90,
                "望天鹅新村党支部",
            ),
        ],
    ),
    (
        "dual_role_gap",
        "鸡冠砬子村党支部",
        "鸡冠砬子村书记、主任未“一肩挑”,下一次换届存在隐患",
        [
            (
                "换届前做好“一肩挑”人选准备",
                None,
                "镇党委",
                "组织委员(演示)",
                90,
                "鸡冠砬子村党支部",
            ),
        ],
    ),
)


def _campaign_dates(today: date) -> tuple[date, date, date]:
    year = today.year if today.month >= 9 else today.year - 1
    return date(year, 9, 1), date(year, 9, 30), date(year + 1, 3, 31)


def load_demo_campaign(session: Session, township: Township, branch_ids: dict[str, int]) -> None:
    """The report's campaign: activities, screenings, forms, suggestions, problems, tasks."""
    from app.models.activity import Activity, ActivityKind
    from app.models.campaign import Campaign
    from app.models.feedback import (
        FeedbackForm,
        FormIssuance,
        Opinion,
        RespondentKind,
        Satisfaction,
        Suggestion,
        Theme,
    )
    from app.models.problem import Problem, ProblemSource
    from app.models.screening import Conclusion, Screening
    from app.models.task import Task
    from app.services.campaigns import campaign_criteria

    if session.scalars(select(Campaign).where(Campaign.name == CAMPAIGN_NAME)).first():
        return
    starts, due, ends = _campaign_dates(clock.today())
    campaign = Campaign(name=CAMPAIGN_NAME, starts_on=starts, screening_due=due, ends_on=ends)
    session.add(campaign)
    session.flush()
    cid, tid = campaign.id, township.id
    assert cid is not None and tid is not None
    for day, kind, title, people, text in (
        (
            3,
            ActivityKind.meeting,
            "召开专题会议,传达中央、省、市关于开展软弱涣散基层党组织专项整治的文件精神",
            35,
            "镇党委班子成员、各党支部书记参加。",
        ),
        (
            10,
            ActivityKind.training,
            "对党支部负责人进行集中培训、学习",
            27,
            "通过学习使大家领会文件精神,进一步提高认识。",
        ),
        (28, ActivityKind.visit, "镇领导班子成员带队走访各村、社区,发放征求意见表", 12, None),
    ):
        session.add(
            Activity(
                campaign_id=cid,
                township_id=tid,
                kind=kind,
                held_on=starts.replace(day=day),
                title=title,
                participants=people,
                summary=text,
            )
        )
    codes = [c.code for c in campaign_criteria(session, cid) if c.kind.value == "criterion"]
    for i, name in enumerate(TARGETS):
        session.add(
            Screening(
                campaign_id=cid,
                branch_id=branch_ids[name],
                township_id=tid,
                led_by=["镇长(演示)", "副书记(演示)", "组织委员(演示)"][i % 3],
                led_by_title=None,
                screened_on=starts.replace(day=15 + i),
                conclusion=Conclusion.sound,
                summary="对照软弱涣散情形逐项排查,未发现软弱涣散情况。",
                results=[
                    {"code": c, "hit": False, "note": None, "problem_id": None} for c in codes
                ],
            )
        )
    for name, issued in ISSUED.items():
        session.add(
            FormIssuance(
                campaign_id=cid, branch_id=branch_ids[name], township_id=tid, issued=issued
            )
        )
    session.flush()
    opinions_by_suggestion: list[list[int]] = [[] for _ in SUGGESTIONS]
    satisfactions = [
        Satisfaction.satisfied,
        Satisfaction.basically,
        Satisfaction.satisfied,
        Satisfaction.dissatisfied,
    ]
    n = 0
    for name in TARGETS:
        for k in range(24 if name in VILLAGES else 16):
            form = FeedbackForm(
                campaign_id=cid,
                branch_id=branch_ids[name],
                township_id=tid,
                respondent_kind=[RespondentKind.party_member, RespondentKind.villager][k % 2],
                anonymous=True,
                satisfaction=satisfactions[k % 4],
                submitted_by="demo",
            )
            session.add(form)
            session.flush()
            theme, _text = SUGGESTIONS[n % len(SUGGESTIONS)]
            opinion = Opinion(
                text=_text,
                theme=Theme(theme),
                form_id=form.id,  # type: ignore[arg-type]
                campaign_id=cid,
                township_id=tid,
                branch_id=branch_ids[name],
            )
            session.add(opinion)
            session.flush()
            opinions_by_suggestion[n % len(SUGGESTIONS)].append(opinion.id)  # type: ignore[arg-type]
            n += 1
    suggestion_rows = []
    for (theme, text), ids in zip(SUGGESTIONS, opinions_by_suggestion, strict=True):
        s = Suggestion(campaign_id=cid, township_id=tid, text=text, theme=Theme(theme))
        session.add(s)
        session.flush()
        suggestion_rows.append(s)
        for o in session.scalars(select(Opinion).where(col(Opinion.id).in_(ids))):
            o.suggestion_id = s.id
    today = clock.today()
    for category, branch_name, description, tasks in PROBLEMS:
        problem = Problem(
            campaign_id=cid,
            township_id=tid,
            branch_id=branch_ids[branch_name] if branch_name else None,
            category=category,
            source=ProblemSource.self_check
            if category != "weak_collective_economy"
            else ProblemSource.feedback,
            description=description,
        )
        session.add(problem)
        session.flush()
        if category == "weak_collective_economy":
            suggestion_rows[1].problem_id = problem.id
        for title, detail, unit, person, days, task_branch in tasks:
            session.add(
                Task(
                    problem_id=problem.id,
                    campaign_id=cid,
                    township_id=tid,  # type: ignore[arg-type]
                    branch_id=branch_ids[task_branch] if task_branch else problem.branch_id,
                    title=title,
                    description=detail,
                    responsible_unit=unit,
                    responsible_person=person,
                    due_on=today + timedelta(days=days),
                )
            )
    session.flush()
