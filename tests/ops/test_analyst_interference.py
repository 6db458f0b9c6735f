"""An analyst cannot hold up lofte's runs: against the init script's roles on the local PostgreSQL.

The analyst takes every advisory lock a run ever took, tries the runs' own lock, reads every table and
view it may, and then sits idle inside its transaction while a writer's run loads a national-style bulk
(keys dropped and rebuilt when nobody else is on the tables): the run must finish promptly and exactly.
"""

from __future__ import annotations

import json
import time

import pytest
import sqlalchemy as sa

from pipeline.config import read_config
from pipeline.run import load_exports
from schemas.settings import Settings
from tests.conftest import ESKILSTUNA_2020
from tests.expected import assert_matches, export_files
from tests.ops.test_warehouse_roles import INSUFFICIENT_PRIVILEGE, init_stack

pytestmark = pytest.mark.postgres
# The advisory keys earlier versions locked (run and merge): an analyst could take them.
OLD_ADVISORY_KEYS = (0x6C6F667465, 0x6C6F667466)
WAIT = 120  # the settings' lock wait for this test: a run held up by the analyst fails after it


def test_an_idle_analyst_transaction_cannot_keep_a_run_from_finishing() -> None:
    config = read_config([ESKILSTUNA_2020 / "promises.yaml"], ESKILSTUNA_2020 / "areas.geojson", None)
    files = export_files(ESKILSTUNA_2020)
    settings = Settings(lock_wait_seconds=WAIT)
    with init_stack() as stack:
        writer_url = stack.url(stack.writer)
        load_exports(writer_url, files[:1], config, settings=settings)  # a warehouse with some facts

        # The worst case: the analyst turned the role's read-only guard off.
        options = {"options": "-c default_transaction_read_only=off"}
        analyst = sa.create_engine(stack.url(stack.analyst), connect_args=options).connect()
        try:
            for key in OLD_ADVISORY_KEYS:
                assert analyst.execute(sa.select(sa.func.pg_try_advisory_lock(key))).scalar_one()
                assert analyst.execute(sa.select(sa.func.pg_try_advisory_xact_lock(key))).scalar_one()
            with pytest.raises(sa.exc.DBAPIError) as refused, analyst.begin_nested():
                analyst.execute(sa.text("SELECT * FROM lofte_lock.run_lock FOR UPDATE"))
            assert refused.value.orig.sqlstate == INSUFFICIENT_PRIVILEGE  # type: ignore[union-attr]
            relations = (
                analyst.execute(
                    sa.text(
                        "SELECT c.relname FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace "
                        "AND c.relkind IN ('r', 'v') ORDER BY c.relname"
                    )
                )
                .scalars()
                .all()
            )
            readable = [r for r in relations if analyst.execute(
                sa.text("SELECT has_table_privilege(:r, 'SELECT')"), {"r": f"public.{r}"}
            ).scalar_one()]  # fmt: skip
            for name in readable:
                analyst.execute(sa.text(f'SELECT * FROM "{name}" LIMIT 5')).all()
            assert "fact_brott" in readable and "v_followup" in readable
            assert not [r for r in readable if r.startswith("stg_")]
            # ...and the analyst's transaction stays open, idle, holding all it took.

            started = time.monotonic()
            load_exports(writer_url, files, config, settings=settings)
            elapsed = time.monotonic() - started
            assert analyst.execute(sa.text("SELECT 1")).scalar_one() == 1  # still there, still idle
        finally:
            analyst.close()
            analyst.engine.dispose()
        assert elapsed < 60, f"the run took {elapsed:.1f} s beside an idle analyst"
        assert_matches(
            writer_url, json.loads((ESKILSTUNA_2020 / "expected.json").read_text(encoding="utf-8"))
        )
