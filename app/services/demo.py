"""The demo data: the township of the report in `shared/domain/`, with placeholder names.

The figures are the report's: 9 branches and 271 members, 6 village branches with 194,
members by age 6 / 92 / 81 (179 in all: the report's own gap, kept so the service warns
about it), 27 applicants aged 35 or under, 4 of 6 village secretaries aged 50 or over with
one at 60, and 望天鹅新村 and 鸡冠砬子村 without 一肩挑. Loading it twice changes nothing.
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlmodel import Session, col

from app.models.branch import Branch, BranchKind
from app.models.township import Township
from app.models.user import Role, User
from app.services.auth import hash_password

DEMO_TOWNSHIP = ("十四道沟镇", "DEMO-SSDG")
DEMO_PASSWORD = "demo-pass-2026"


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


BRANCHES = (
    DemoBranch("干沟子村党支部", BranchKind.village, 38, (1, 18, 15), 5, "书记甲", 60, True, "8.5"),
    DemoBranch("望天鹅新村党支部", BranchKind.village, 30, (1, 15, 13), 4, "书记乙", 56, False, "12"),
    DemoBranch("十四道沟村党支部", BranchKind.village, 36, (2, 17, 14), 6, "书记丙", 53, True, "6.2"),
    DemoBranch("鸡冠砬子村党支部", BranchKind.village, 28, (0, 14, 12), 3, "书记丁", 51, False, "5.4"),
    DemoBranch("冷沟子村党支部", BranchKind.village, 27, (1, 13, 12), 4, "书记戊", 46, True, "4.1"),
    DemoBranch("安乐村党支部", BranchKind.village, 35, (1, 15, 15), 5, "书记己", 41, True, "9.8"),
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
    this_year = date.today().year
    for spec in BRANCHES:
        branch = session.scalars(
            select(Branch).where(
                Branch.township_id == township.id, Branch.name == spec.name,
                col(Branch.deleted_at).is_(None),
            )
        ).first()
        if branch is None:
            bands = spec.bands or (None, None, None)
            branch = Branch(
                township_id=township.id, name=spec.name, kind=spec.kind,
                member_count=spec.members, members_35_under=bands[0], members_36_55=bands[1],
                members_56_over=bands[2], applicants_35_under=spec.applicants,
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
            session.add(User(
                username=username, display_name=display, role=role,
                township_id=None if role == Role.county_admin else township.id,
                branch_id=branch_ids[branch_name] if branch_name else None,
                password_hash=hash_password(DEMO_PASSWORD),
            ))
        logins.append((username, role.value, DEMO_PASSWORD))
    session.flush()
    return logins
