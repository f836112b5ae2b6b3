"""Tokens name their allowed models by id: `user_tokens.allowed_model_ids`.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03 00:00:00

Written by hand with portable statements only, so it runs on SQLite and
PostgreSQL. `allowed_models` held public model names, so a renamed model
fell out of its tokens and a new model given the old name was let in. The
column is renamed `allowed_model_ids` and each list is turned into the ids
of that tenant's models of those names, in order. A name no model of the
tenant has any more is dropped: under names it would have let in a future
model of that name, which is the take-over this closes. `NULL` (every
model) stays `NULL`.

Downgrading turns the ids back into the models' current names.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_models = sa.table(
    "ai_models",
    sa.column("id", sa.String),
    sa.column("tenant_id", sa.String),
    sa.column("name", sa.String),
)


def _tokens(column: str) -> sa.TableClause:
    return sa.table(
        "user_tokens",
        sa.column("id", sa.String),
        sa.column("tenant_id", sa.String),
        sa.column(column, sa.JSON(none_as_null=True)),
    )


def _convert(column: str, lookup: Callable[[str], dict[str, str]]) -> None:
    """Map each token's list through its tenant's `lookup` (unknown entries dropped)."""
    bind = op.get_bind()
    tokens = _tokens(column)
    rows = bind.execute(
        sa.select(tokens.c.id, tokens.c.tenant_id, tokens.c[column]).where(
            tokens.c[column].is_not(None)
        )
    ).all()
    by_tenant: dict[str, dict[str, str]] = {}
    for token_id, tenant_id, entries in rows:
        if tenant_id not in by_tenant:
            by_tenant[tenant_id] = lookup(tenant_id)
        mapping = by_tenant[tenant_id]
        converted = list(dict.fromkeys(mapping[e] for e in entries or () if e in mapping))
        bind.execute(sa.update(tokens).where(tokens.c.id == token_id).values({column: converted}))


def _ids_by_name(tenant_id: str) -> dict[str, str]:
    m = _models.c
    rows = op.get_bind().execute(sa.select(m.name, m.id).where(m.tenant_id == tenant_id))
    return {name: model_id for name, model_id in rows.all()}


def _names_by_id(tenant_id: str) -> dict[str, str]:
    return {model_id: name for name, model_id in _ids_by_name(tenant_id).items()}


def upgrade() -> None:
    op.execute("ALTER TABLE user_tokens RENAME COLUMN allowed_models TO allowed_model_ids")
    _convert("allowed_model_ids", _ids_by_name)


def downgrade() -> None:
    _convert("allowed_model_ids", _names_by_id)
    op.execute("ALTER TABLE user_tokens RENAME COLUMN allowed_model_ids TO allowed_models")
