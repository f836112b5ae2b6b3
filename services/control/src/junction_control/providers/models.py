"""The providers and credentials tables."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy import JSON, Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from junction_control.columns import UtcDateTime, new_id, utcnow
from junction_control.crypto import EncryptedSecret

CredentialStatus = Literal["active", "disabled"]
CREDENTIAL_STATUSES: tuple[str, ...] = ("active", "disabled")


class Provider(SQLModel, table=True):
    """An upstream API of one tenant (OpenAI, Anthropic, Gemini or compatible).

    Extra header values may be secrets: they are kept as one encrypted
    envelope (the ``headers_*`` columns), and ``extra_headers`` holds their
    names only (each with an empty value). A row written before revision 0012
    may still hold plain values there until `seal_plain_headers` runs.
    """

    __tablename__ = "providers"
    __table_args__ = (UniqueConstraint("tenant_id", "name", name="uq_providers_tenant_name"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    tenant_id: str = Field(foreign_key="tenants.id", ondelete="CASCADE", index=True, max_length=36)
    name: str = Field(max_length=100)
    type: str = Field(max_length=32)
    base_url: str = Field(max_length=2000)
    extra_headers: dict[str, str] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False)
    )
    headers_ciphertext: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    headers_nonce: str | None = Field(default=None, max_length=32)
    headers_wrapped_key: str | None = Field(default=None, max_length=128)
    headers_key_version: str | None = Field(default=None, max_length=16)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False)

    @property
    def encrypted_headers(self) -> EncryptedSecret | None:
        """The stored envelope of the extra header values, if there is one."""
        if (
            self.headers_ciphertext is None
            or self.headers_nonce is None
            or self.headers_wrapped_key is None
            or self.headers_key_version is None
        ):
            return None
        return EncryptedSecret(
            ciphertext=self.headers_ciphertext,
            nonce=self.headers_nonce,
            wrapped_data_key=self.headers_wrapped_key,
            key_version=self.headers_key_version,
        )

    def store_headers(self, names: list[str], secret: EncryptedSecret | None) -> None:
        """Keep the header `names` and the envelope `secret` of their values (None: no headers)."""
        self.extra_headers = dict.fromkeys(names, "")
        self.headers_ciphertext = None if secret is None else secret.ciphertext
        self.headers_nonce = None if secret is None else secret.nonce
        self.headers_wrapped_key = None if secret is None else secret.wrapped_data_key
        self.headers_key_version = None if secret is None else secret.key_version


class Credential(SQLModel, table=True):
    """One provider key, encrypted at rest (see `junction_control.crypto`)."""

    __tablename__ = "credentials"
    __table_args__ = (UniqueConstraint("provider_id", "name", name="uq_credentials_provider_name"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    provider_id: str = Field(
        foreign_key="providers.id", ondelete="CASCADE", index=True, max_length=36
    )
    name: str = Field(max_length=100)
    key_ciphertext: str = Field(sa_column=Column(Text, nullable=False))
    key_nonce: str = Field(max_length=32)
    wrapped_data_key: str = Field(max_length=128)
    key_version: str = Field(max_length=16, index=True)
    key_last4: str = Field(max_length=4)
    weight: int = Field(default=1)
    status: str = Field(default="active", max_length=16)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False)

    @property
    def encrypted_key(self) -> EncryptedSecret:
        """The stored envelope of this credential's key."""
        return EncryptedSecret(
            ciphertext=self.key_ciphertext,
            nonce=self.key_nonce,
            wrapped_data_key=self.wrapped_data_key,
            key_version=self.key_version,
        )

    def store_key(self, secret: EncryptedSecret, *, last4: str) -> None:
        """Keep the envelope `secret` (and the key's last four characters)."""
        self.key_ciphertext = secret.ciphertext
        self.key_nonce = secret.nonce
        self.wrapped_data_key = secret.wrapped_data_key
        self.key_version = secret.key_version
        self.key_last4 = last4
