"""Plans as data: weekday news plans and X account schedules, evaluated on the logical date."""

from __future__ import annotations

from datetime import date

import pytest

from marketpipe.engine.plans import news_weekday_plan, x_schedules
from marketpipe.http.errors import ConfigurationError

MONDAY = date(2026, 11, 16)


def test_every_weekday_plan_has_25_distinct_queries():
    plan = news_weekday_plan()
    for offset in range(7):
        queries = plan.queries_for(date.fromordinal(MONDAY.toordinal() + offset))
        assert len(queries) == 25
        assert len({q.param_string for q in queries}) == 25


def test_plan_is_chosen_by_the_logical_date_itself():
    plan = news_weekday_plan()
    monday = plan.queries_for(MONDAY)
    assert monday[0].params == {"topics": "energy_transportation", "sort": "LATEST"}
    assert {"tickers": "XOM", "topics": "energy_transportation"} in [q.params for q in monday]
    tuesday = plan.queries_for(date(2026, 11, 17))
    assert tuesday[0].params == {"topics": "technology", "sort": "LATEST"}
    assert tuesday[-1].param_string == "tickers=COIN&topics=ipo"


def test_x_account_rules_follow_day_of_year_and_weekdays():
    primary = x_schedules()["primary"]
    # 2026-11-16 is day 320 (even), a Monday.
    due = [a.username for a in primary.due_accounts(MONDAY)]
    assert due[0] == "elonmusk"
    assert "RayDalio" not in due  # odd days only
    assert "sundarpichai" in due and "Oracle" not in due
    assert "tim_cook" in due  # (320 + 1) % 3 == 0
    tuesday = [a.username for a in primary.due_accounts(date(2026, 11, 17))]
    assert "RayDalio" in tuesday and "Oracle" in tuesday
    tokens = {a.username: a.token for a in primary.accounts}
    assert tokens["elonmusk"] == 2 and tokens["RayDalio"] == 4
    secondary = x_schedules()["secondary"]
    assert secondary.category_of(secondary.accounts[0]) == "crypto"
    assert primary.category_of(primary.accounts[0]) == "core_investors"


def test_a_broken_plan_file_is_a_configuration_error(tmp_path):
    broken = tmp_path / "plan.yaml"
    broken.write_text("monday:\n  topics: [not_a_topic]\n")
    with pytest.raises(ConfigurationError):
        news_weekday_plan(broken)
