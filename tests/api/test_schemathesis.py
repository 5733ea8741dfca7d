"""Property-based contract test: schemathesis sends every operation of the OpenAPI document
generated valid and invalid input, as a county-wide API token with write scope, on SQLite
and on PostgreSQL, with every check enabled.

Expected statuses follow the contract (DESIGN "What bad input gets"): valid-looking input
may still break a domain rule (a branch that does not exist: 422 naming the field; a stale
or missing version: 412/428), so `positive_data_acceptance` allows those as well as its
defaults; every other check keeps schemathesis's own expectations. Examples are bounded
(`SCHEMATHESIS_MAX_EXAMPLES` per operation and mode, default 10) so a run takes minutes.

The operations are driven one by one through Hypothesis here (schemathesis's pytest plugin
does not run under pytest 9); the figures are printed at the end:
`pytest -s tests/api/test_schemathesis.py`.
"""

import os
import traceback
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from sqlalchemy import Engine

from app.models.user import TokenScope
from tests.factories import bearer, committed, make_campaign, make_problem, make_task, make_token

MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "10"))
CONFIG = schemathesis.Config.from_dict({
    "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "deterministic": True},
    "checks": {
        "enabled": True,
        "positive_data_acceptance": {
            "expected-statuses": ["2xx", "3xx", "401", "403", "404", "409", "412", "422",
                                  "428", "429"],
        },
    },
})
MODES = (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)


def _run_operation(operation: Any, mode: Any, headers: dict[str, str],
                   counter: list[int]) -> str | None:
    """Run `operation` in `mode`; answer the first failure's report, or None."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck), report_multiple_bugs=False)
    def run(case: Any) -> None:
        counter[0] += 1
        case.call_and_validate(headers=headers)

    try:
        run()
    except Unsatisfiable:  # nothing of this operation can be made invalid (no input)
        return None
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # noqa: BLE001 — a failure group: collected, reported below
        text = "".join(traceback.format_exception_only(type(exc), exc))
        return f"{operation.label} [{mode.value}]: {text[:3000]}"
    return None


def test_every_operation_keeps_its_contract(app: Any, engine: Engine, world: Any,
                                            database: Any) -> None:
    with committed(engine) as s:
        campaign = make_campaign(s)
        problem = make_problem(s, campaign, world.township, branch=world.branch)
        make_task(s, problem)
        headers = bearer(make_token(s, scope=TokenScope.write))
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app, config=CONFIG)
    operations = [result.ok() for result in schema.get_all_operations()]
    counter = [0]
    failures = [failure for operation in operations for mode in MODES
                if (failure := _run_operation(operation, mode, headers, counter))]
    print(f"\nschemathesis on {database.backend}: {len(operations)} operations, "
          f"{counter[0]} cases, {len(failures)} failures")
    assert not failures, "\n\n".join(failures)
