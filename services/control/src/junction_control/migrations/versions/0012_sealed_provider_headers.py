"""Provider extra header values kept encrypted, like provider keys.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 00:00:00

Written by hand with portable types only, so it runs on SQLite and PostgreSQL.
A provider's extra header values may be secrets: they are now stored as one
envelope (AES-GCM under a data key wrapped by the master keyring, as
credential keys are), and ``extra_headers`` keeps only their names. The
columns are nullable: a provider without headers has no envelope.

A migration has no master key, so it cannot encrypt: existing plain values
stay where they are until the control plane's first start on this revision
seals them (``providers.service.seal_plain_headers``; ``rotate-master-key``
does it too). Until then they are read as before, and routes already carry
them sealed. A downgrade drops the envelopes, which it cannot open either:
the providers that had them are left with no extra headers, to be entered
again.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("providers") as batch:
        batch.add_column(sa.Column("headers_ciphertext", sa.Text(), nullable=True))
        batch.add_column(sa.Column("headers_nonce", sa.String(32), nullable=True))
        batch.add_column(sa.Column("headers_wrapped_key", sa.String(128), nullable=True))
        batch.add_column(sa.Column("headers_key_version", sa.String(16), nullable=True))


def downgrade() -> None:
    op.execute("UPDATE providers SET extra_headers = '{}' WHERE headers_ciphertext IS NOT NULL")
    with op.batch_alter_table("providers") as batch:
        batch.drop_column("headers_key_version")
        batch.drop_column("headers_wrapped_key")
        batch.drop_column("headers_nonce")
        batch.drop_column("headers_ciphertext")
