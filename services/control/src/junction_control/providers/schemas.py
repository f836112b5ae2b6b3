"""Request and response bodies of the provider and credential endpoints.

A credential's key is write-only: bodies take it, responses show ``last4``.
Extra header values are write-only too: responses show names, values masked.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field

from junction_control.admin.schemas import Input, Page, PositiveInt, Slug, printable
from junction_control.errors import InvalidInput
from junction_control.providers.headers import masked
from junction_control.providers.models import Credential, Provider
from junction_control.providers.service import check_key, check_provider_type, check_url_shape


def _checked(check: Callable[[str], str]) -> AfterValidator:
    def run(value: str) -> str:
        try:
            return check(value)
        except InvalidInput as exc:
            raise ValueError(str(exc)) from None

    return AfterValidator(run)


def _key_ok(value: str) -> str:
    # check_key's message never quotes the key; the value is kept out of every error
    try:
        return check_key(value)
    except InvalidInput:
        raise ValueError("must be non-empty and contain no whitespace") from None


ProviderType = Annotated[str, Field(max_length=32), printable, _checked(check_provider_type)]
BaseUrl = Annotated[str, Field(min_length=1, max_length=2000), printable, _checked(check_url_shape)]
# names and values are judged by the service (`header_not_allowed`, `invalid_header`),
# the same way for the API, the CLI and `apply -f`
HeaderValue = Annotated[str, Field(max_length=4000)]
Headers = Annotated[dict[Annotated[str, Field(max_length=200)], HeaderValue], Field(max_length=50)]
Key = Annotated[str, Field(min_length=1, max_length=10000), AfterValidator(_key_ok)]
Keys = Annotated[dict[Slug, Key], Field(max_length=100)]
Status = Literal["active", "disabled"]


class ProviderIn(Input):
    name: Slug
    type: ProviderType
    base_url: BaseUrl
    headers: Headers = Field(default_factory=dict)


class ProviderPatch(Input):
    """Fields to change; `headers` replace the old ones as a whole.

    A new `base_url` needs every key of the provider entered again in `keys`
    (key name -> key), and its `headers` when it has any: else 422
    ``key_required`` / ``headers_required``.
    """

    name: Slug | None = None
    type: ProviderType | None = None
    base_url: BaseUrl | None = None
    headers: Headers | None = None
    keys: Keys | None = None


class ProviderOut(BaseModel):
    """A provider; header values may be secrets, so they are shown masked."""

    id: str
    name: str
    type: str
    base_url: str
    header_names: list[str]
    headers: dict[str, str]
    created_at: datetime

    @classmethod
    def of(cls, provider: Provider) -> ProviderOut:
        return cls(
            id=provider.id,
            name=provider.name,
            type=provider.type,
            base_url=provider.base_url,
            header_names=sorted(provider.extra_headers),
            headers=masked(provider),
            created_at=provider.created_at,
        )


class CredentialIn(Input):
    name: Slug = "default"
    key: Key
    weight: PositiveInt = 1
    status: Status = "active"


class CredentialPatch(Input):
    name: Slug | None = None
    weight: PositiveInt | None = None
    status: Status | None = None


class CredentialKeyIn(Input):
    """A new key for a credential (rotation)."""

    key: Key


class CredentialOut(BaseModel):
    """A credential: never its key, only the last four characters."""

    id: str
    provider_id: str
    name: str
    last4: str
    weight: int
    status: Status
    key_version: str
    created_at: datetime

    @classmethod
    def of(cls, credential: Credential) -> CredentialOut:
        return cls(
            id=credential.id,
            provider_id=credential.provider_id,
            name=credential.name,
            last4=credential.key_last4,
            weight=credential.weight,
            status="disabled" if credential.status == "disabled" else "active",
            key_version=credential.key_version,
            created_at=credential.created_at,
        )


ProviderPage = Page[ProviderOut]
CredentialPage = Page[CredentialOut]
