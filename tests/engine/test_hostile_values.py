"""Every registered dataset that reads a provider, driven with a reply carrying a lone UTF-16
surrogate, a 10 KB value and a wrong type (the sandbox's ``hostile`` fault poisons the first record of
the run's first reply, the rest of the reply untouched): exactly that item fails with a typed error,
or that row is rejected with a reason (or the surrogate is cleaned) — and the rest is stored.

The list comes from the registry, so a new dataset is covered without editing this file. Derived
datasets (no provider) take no reply; they run in dependency order so their readers have input.
"""

from __future__ import annotations

import psycopg

from marketpipe.engine.registry import all_datasets, in_dependency_order
from plugins.engine import count, engine_settings

MALFORMED = {"MalformedItem", "SchemaDrift", "MalformedResponse", "WrongType"}
TYPED = {None, *MALFORMED}


def _seed_etfs(db) -> None:
    with db.transaction():
        for rank, symbol in enumerate(["SPY", "QQQ", "XLK"], start=1):
            db.execute(
                "INSERT INTO etf_basic_info (symbol, name, popularity_rank) VALUES (%s, %s, %s)"
                " ON CONFLICT DO NOTHING",
                (symbol, symbol, rank),
            )
    db.commit()


def _forget(db, dataset: str, table: str) -> None:
    """The dataset starts over (no cursor, no rows), so its replies carry records to poison and what
    the hostile run stores is visible; tables other tables reference keep their rows."""
    db.execute("DELETE FROM collect_cursors WHERE dataset = %s", (dataset,))
    db.commit()
    try:
        db.execute(f"DELETE FROM {table}")
        db.commit()
    except psycopg.errors.ForeignKeyViolation:
        db.rollback()


def test_a_hostile_value_costs_one_item_or_one_row_in_every_dataset(settings, collect, db, sandbox):
    sandbox.admin.set_quotas(False)
    sandbox.admin.freeze()
    _seed_etfs(db)
    cfg = engine_settings(
        settings,
        sandbox.port,
        finnhub_keys=["hostile-fh"],
        newsapi_keys=["hostile-na"],
        coingecko_keys=["hostile-cg-1", "hostile-cg-2"],
        x_keys=[f"hostile-x-{i}" for i in range(1, 9)],
        truth_social_keys=["hostile-truth"],
    )
    order = [spec for wave in in_dependency_order(all_datasets()) for spec in wave]
    poisoned = [spec.name for spec in order if spec.providers]
    assert len(poisoned) >= 25  # the registry, not a hand-kept list
    # A clean pass first, so every dataset's inputs (universe, ids, profiles) exist for the hostile one.
    for spec in order:
        assert (
            collect(spec.name, settings=cfg, quotas=False, universe_limit=6, timeout_s=30.0).status == "ok"
        ), spec.name
    outcomes: dict[str, str] = {}
    for spec in order:
        if not spec.providers:
            continue
        _forget(db, spec.name, spec.table)
        sandbox.admin.clear_faults()
        sandbox.admin.add_fault(spec.providers[0], "hostile", count=1)
        result = collect(spec.name, settings=cfg, quotas=False, universe_limit=6, force=True, timeout_s=30.0)
        sandbox.admin.clear_faults()
        where = (spec.name, result.status, result.error_class, result.message)
        assert result.error_class in TYPED, where
        assert result.items_failed <= 1, where
        assert result.items_done + result.items_failed >= 1, (*where, "no item was attempted")
        cleaned = count(db, f"SELECT count(*) FROM {spec.table} t WHERE t::text LIKE '%%\ufffd%%'")
        stored = count(db, f"SELECT count(*) FROM {spec.table}")
        if result.items_failed:
            # Only the poisoned item failed, typed; every other due item was stored.
            assert result.errors.keys() <= MALFORMED, where
            assert result.status in ("partial", "failed"), where
            if result.items_done + result.items_failed > 1:
                assert result.status == "partial" and result.items_done >= 1 and stored > 0, where
            outcomes[spec.name] = f"item failed ({next(iter(result.errors))})"
        elif result.rows_rejected:
            assert result.status == "ok", where
            assert result.rejected_reasons and stored > 0, where
            outcomes[spec.name] = (
                f"{result.rows_rejected} row(s) rejected: {next(iter(result.rejected_reasons))}"
            )
        else:
            # Nothing failed and nothing was rejected: the surrogate was cleaned and the row kept.
            assert result.status == "ok" and stored > 0 and not result.items_pending, where
            assert cleaned >= 1, (*where, "the poisoned value vanished without a trace")
            outcomes[spec.name] = "cleaned and stored"
        # Restore the dataset for its readers later in the order.
        assert (
            collect(
                spec.name, settings=cfg, quotas=False, universe_limit=6, force=True, timeout_s=30.0
            ).status
            == "ok"
        )
    assert set(outcomes) == set(poisoned), set(poisoned) - set(outcomes)
    print("\n".join(f"{name}: {how}" for name, how in outcomes.items()))
