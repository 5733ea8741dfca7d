"""Every link on a task page opens for whoever sees the page: a village secretary's task of a
township-wide problem names the problem without linking to a page the secretary may not
open (found by the QA walk after issues 9-14)."""

from typing import Any

from sqlalchemy import Engine

from tests.factories import committed, make_campaign, make_problem, make_task


def test_a_secretary_is_not_linked_to_a_township_problem(world: Any, login: Any,
                                                          engine: Engine) -> None:
    with committed(engine) as s:
        campaign = make_campaign(s)
        township_wide = make_problem(s, campaign, world.township, description="党员教育不到位")
        task = make_task(s, township_wide, branch_id=world.branch.id)
        own = make_problem(s, campaign, world.township, branch=world.branch)
        own_task = make_task(s, own)
    secretary, staff = login("secretary"), login("staff")
    assert secretary.get(f"/problems/{township_wide.id}").status_code == 404
    html = secretary.get(f"/tasks/{task.id}").text
    assert "党员教育不到位" in html
    assert f'href="/problems/{township_wide.id}"' not in html
    # the secretary's own problem, and staff on either, keep the link
    assert f'href="/problems/{own.id}"' in secretary.get(f"/tasks/{own_task.id}").text
    assert secretary.get(f"/problems/{own.id}").status_code == 200
    assert f'href="/problems/{township_wide.id}"' in staff.get(f"/tasks/{task.id}").text
