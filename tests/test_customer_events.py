"""Events at their own grain on the small synthetic shop: customer_events covers the feature
population without leaking, event texts are embedded once, and the embeddings in the
warehouse are embed_texts() to the bit."""

from __future__ import annotations

import shutil

import duckdb
import numpy as np
import pytest

from python_udfs import event_encoder, settings
from tests.conftest import SMALL_SHOP_VARS, DbtRun, run_dbt

POPULATION = """
    select customer_id, cutoff_date from customer_features
    union
    select customer_id, cutoff_date from training_examples
"""


def test_customer_events_has_the_feature_population_and_no_leak(small_warehouse: DbtRun):
    missing, extra = small_warehouse.query(
        f"""
        select
            count(*) filter (where events.customer_id is null),
            count(*) filter (where population.customer_id is null)
        from ({POPULATION}) as population
        full outer join customer_events as events using (customer_id, cutoff_date)
        """
    )[0]
    assert (missing, extra) == (0, 0)
    leaked, longest, rows = small_warehouse.query(
        """
        select
            count(*) filter (where not e.days_before_cutoff > 0),
            max(len(events)),
            count(distinct (customer_id, cutoff_date))
        from (select customer_id, cutoff_date, events, unnest(events) as e from customer_events)
        """
    )[0]
    assert leaked == 0 and rows > 1000
    assert longest <= settings.validate("event_sequence_length", "128")
    kinds = dict(small_warehouse.query("select text_kind, count(*) from event_texts group by 1"))
    assert set(kinds) == {"product", "review", "search"}


def test_embeddings_are_normalised_and_embed_texts_to_the_bit(small_warehouse: DbtRun):
    column_type = small_warehouse.scalar(
        "select data_type from information_schema.columns "
        "where table_name = 'event_text_embeddings' and column_name = 'embedding'"
    )
    assert column_type == "FLOAT[384]"
    fingerprints = small_warehouse.query(
        "select distinct encoder_fingerprint from event_text_embeddings"
    )
    assert fingerprints == [(event_encoder.event_encoder_fingerprint(""),)]
    # Every embedded text once; a sample of each kind (short and long texts: several
    # buckets) recomputed in Python, in another batch than dbt's.
    assert small_warehouse.scalar(
        "select count(*) = count(distinct text_id) and count(*) = "
        "(select count(*) from event_texts) from event_text_embeddings"
    )
    rows = small_warehouse.query(
        """
        select texts.text, embeddings.embedding
        from event_text_embeddings as embeddings
        inner join event_texts as texts using (text_id)
        qualify row_number() over (partition by texts.text_kind order by texts.text_id) <= 40
        order by texts.text_id
        """
    )
    stored = np.asarray([row[1] for row in rows], dtype=np.float32)
    norms = np.linalg.norm(stored.astype(np.float64), axis=1)
    assert np.allclose(norms, 1.0, atol=1e-5)
    # The device dbt used: CLV_DEVICE, else CUDA when present (embed_texts resolves the same).
    again = event_encoder.embed_texts("", [row[0] for row in rows], "fp32")
    assert again.dtype == np.float32 and again.shape == stored.shape
    assert np.array_equal(again, stored)


def test_a_second_run_embeds_nothing_and_never_loads_the_encoder(small_warehouse, tmp_path):
    shutil.copy(small_warehouse.db_path, tmp_path / "warehouse.duckdb")
    before = small_warehouse.scalar("select count(*) from event_text_embeddings")
    run = run_dbt(
        tmp_path, small_warehouse.db_path.parent / "raw", "parquet", SMALL_SHOP_VARS,
        ("run", "--select", "event_text_embeddings"),
    )  # fmt: skip
    assert run.returncode == 0, run.output[-3000:]
    assert "embedding 0 new event texts" in run.output
    assert "clv_embed_event_text" not in run.output  # its progress bar: the UDF never ran
    assert run.scalar("select count(*) from event_text_embeddings") == before


def test_an_encoder_of_another_size_asks_for_a_full_refresh(
    small_warehouse, tiny_bert, tmp_path, monkeypatch
):
    shutil.copy(small_warehouse.db_path, tmp_path / "warehouse.duckdb")
    monkeypatch.setenv("CLV_EVENT_TEXT_ENCODER", str(tiny_bert))  # 32 wide
    run = run_dbt(
        tmp_path, small_warehouse.db_path.parent / "raw", "parquet", SMALL_SHOP_VARS,
        ("run", "--select", "event_text_embeddings"),
    )  # fmt: skip
    assert run.returncode != 0
    assert "stores FLOAT[384] embeddings" in run.output and "FLOAT[32]" in run.output
    assert "--full-refresh --select event_text_embeddings" in run.output


def test_the_udfs_are_lazy_and_never_called_on_zero_rows(monkeypatch):
    encoder = event_encoder.LazyEventEncoder("")
    assert encoder.dim == 384 and encoder.error is None

    def refuse(*args, **kwargs):
        raise AssertionError("the encoder was asked to embed")

    monkeypatch.setattr(event_encoder, "embed_texts", refuse)
    with duckdb.connect() as con:
        event_encoder.register(con, encoder)
        event_encoder.register(con, encoder)  # twice on one connection is fine
        assert con.execute("select clv_event_encoder_fingerprint()").fetchone() == (
            event_encoder.event_encoder_fingerprint(""),
        )
        empty = con.execute(
            "select clv_embed_event_text(t) from (select 'a text' as t) where false"
        ).fetchall()
        assert empty == []


def test_a_bad_encoder_path_fails_when_used_naming_the_setting(tmp_path):
    encoder = event_encoder.LazyEventEncoder(tmp_path / "nowhere")
    with duckdb.connect() as con:
        event_encoder.register(con, encoder)
        with pytest.raises(duckdb.Error, match="CLV_EVENT_TEXT_ENCODER"):
            con.execute("select clv_event_encoder_fingerprint()").fetchall()


@pytest.mark.parametrize(
    ("name", "raw", "expected"),
    [
        ("event_sequence_length", "128", 128),
        ("event_sequence_length", "16", 16),
        ("event_sequence_length", "512", 512),
        ("event_sequence_length", "15", None),
        ("event_sequence_length", "513", None),
        ("event_sequence_length", "64 or 1=1", None),
        ("event_text_encoder", "", ""),
        ("event_text_encoder", "/models/e5", "/models/e5"),
        ("event_text_encoder", "a\nb", None),
    ],
)
def test_event_settings_are_validated(name, raw, expected):
    if expected is None:
        with pytest.raises(settings.SettingsError, match=settings.env_name(name)):
            settings.validate(name, raw)
    else:
        assert settings.validate(name, raw) == expected
