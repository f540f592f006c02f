"""Campaigns with holdout groups: the deterministic arm of a customer, and a campaign row.

The arm is a pure function of the campaign id, the customer id and the holdout share, so a
customer's arm never depends on who else is eligible or on when the assignment runs:
``md5('<campaign_id>|<customer_id>')``, its first 8 hex digits as an integer / 2^32 gives a
draw ``u`` in [0, 1); ``u < holdout_share`` means holdout, otherwise treatment.

The SQL twin is the macro ``campaign_holdout_draw`` (macros/interventions.sql), used by the
mart ``intervention_assignments``; tests/test_interventions.py checks that both agree. The
synthetic shop (:mod:`shopdata.synthetic`) uses the same function to give treatment customers
a known campaign effect.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import asdict, dataclass

import pyarrow as pa

HASH_HEX_DIGITS = 8
HASH_SCALE = 16**HASH_HEX_DIGITS  # 2^32
TREATMENT, HOLDOUT = "treatment", "holdout"
#: A campaign id: lower-case letters, digits, '_' and '-', starting with a letter or digit.
CAMPAIGN_ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
ALL_SEGMENTS = "*"

#: Columns of a campaigns file (seeds/campaigns.csv, or <raw_path>/campaigns.<raw_format>).
CAMPAIGNS_SCHEMA = pa.schema(
    [
        ("campaign_id", pa.string()),
        ("segment", pa.string()),
        ("campaign_action", pa.string()),
        ("holdout_share", pa.float64()),
        ("start_date", pa.date32()),
        ("end_date", pa.date32()),
        ("measurement_days", pa.int64()),
    ]
)


def holdout_draw(campaign_id: str, customer_id: str) -> float:
    """The customer's uniform draw in [0, 1) for the campaign (same value as the SQL macro)."""
    digest = hashlib.md5(f"{campaign_id}|{customer_id}".encode()).hexdigest()
    return int(digest[:HASH_HEX_DIGITS], 16) / HASH_SCALE


def assign_arm(campaign_id: str, customer_id: str, holdout_share: float) -> str:
    """``'holdout'`` when the draw is below ``holdout_share``, else ``'treatment'``."""
    return HOLDOUT if holdout_draw(campaign_id, customer_id) < holdout_share else TREATMENT


@dataclass(frozen=True)
class Campaign:
    """One campaign row: who (segment, or '*' for everyone), what, holdout, when, how long.

    Customers become eligible while ``start_date <= as_of_date < end_date``; each is measured
    over ``[assigned_on, assigned_on + measurement_days)``.
    """

    campaign_id: str
    segment: str
    campaign_action: str
    holdout_share: float
    start_date: dt.date
    end_date: dt.date
    measurement_days: int

    def __post_init__(self) -> None:
        problems = campaign_problems(self)
        if problems:
            raise ValueError(f"campaign {self.campaign_id!r}: " + "; ".join(problems))

    def to_table(self) -> pa.Table:
        """A one-row table in the campaigns file layout."""
        return pa.Table.from_pylist([asdict(self)], schema=CAMPAIGNS_SCHEMA)


def campaign_problems(campaign: Campaign) -> list[str]:
    """What is wrong with a campaign row (the rules of the SQL model campaign_config)."""
    problems = []
    if not CAMPAIGN_ID_PATTERN.fullmatch(campaign.campaign_id):
        problems.append("campaign_id must match [a-z0-9][a-z0-9_-]{0,63}")
    if not campaign.segment:
        problems.append("segment is empty (use '*' for every customer)")
    if not campaign.campaign_action.strip():
        problems.append("campaign_action is empty")
    if not 0.0 < campaign.holdout_share < 1.0:
        problems.append(f"holdout_share must be > 0 and < 1, got {campaign.holdout_share}")
    if campaign.end_date <= campaign.start_date:
        problems.append("end_date must be after start_date")
    if campaign.measurement_days < 1:
        problems.append(f"measurement_days must be >= 1, got {campaign.measurement_days}")
    return problems
