"""Fixtures of the control-plane tests: real SQLite and real PostgreSQL.

`database_url` runs a test once per backend. PostgreSQL tests get a fresh
database each (created and dropped through asyncpg on the maintenance
database); when no server answers they are skipped, unless CI=true.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from starlette.applications import Starlette

from junction_contracts.cache import ROUTES_CHANGED_CHANNEL
from junction_contracts.signing import sign
from junction_control.app import create_admin_app, create_internal_app
from junction_control.auth.service import start_session
from junction_control.db import Database
from junction_control.models import service as models
from junction_control.providers import service as providers
from junction_control.settings import ControlSettings
from junction_control.tenants import service as tenants
from junction_control.tokens import service as tokens
from junction_control.users.models import Membership, User
from junction_control.users.passwords import hash_password

PROVIDER_KEY = "sk-test-provider-key-0123456789abcdef"
RESOLVE_PATH = "/internal/v1/route/resolve"


@pytest.fixture
def control_env(database_url: str, tmp_path: Path) -> dict[str, str]:
    """The environment of a control plane with its own var directory."""
    return {
        "JUNCTION_DATABASE_URL": database_url,
        "JUNCTION_VAR_DIR": str(tmp_path / "var"),
        # the tests' providers are on loopback: allowed explicitly, as an operator would
        "JUNCTION_EGRESS_ALLOW": "127.0.0.1/32",
    }


@pytest.fixture
def cli_env(
    control_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """Run the CLI in an empty directory against the test database."""
    monkeypatch.chdir(tmp_path)
    for name, value in control_env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("JUNCTION_MASTER_KEY", raising=False)
    monkeypatch.delenv("JUNCTION_INTERNAL_SECRET", raising=False)
    monkeypatch.delenv("JUNCTION_STUCK_CALL_MINUTES", raising=False)
    return control_env


@pytest.fixture
def settings(control_env: dict[str, str]) -> ControlSettings:
    return ControlSettings.from_env(environ=control_env, env_file=None)


@pytest.fixture
async def database(settings: ControlSettings) -> AsyncIterator[Database]:
    db = Database(settings.database_url)
    await db.migrate()
    yield db
    await db.dispose()


@pytest.fixture
def internal_app(settings: ControlSettings, database: Database) -> Starlette:
    return create_internal_app(settings, database=database)


@pytest.fixture
async def internal_client(internal_app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=internal_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://control") as client:
        yield client


async def signed_post(
    client: httpx.AsyncClient,
    secret: bytes,
    path: str,
    payload: Any,
    **sign_options: Any,
) -> httpx.Response:
    """POST `payload` as the engine does: JSON body plus signature headers."""
    body = json.dumps(payload).encode()
    headers = sign(secret, "POST", path, body, **sign_options)
    headers["content-type"] = "application/json"
    return await client.post(path, content=body, headers=headers)


@dataclass(frozen=True)
class Demo:
    """A tenant with one provider, key, two models and a token."""

    tenant_id: str
    provider_id: str
    credential_id: str
    token_id: str
    raw_token: str
    provider_key: str = PROVIDER_KEY

    @property
    def token_hash(self) -> str:
        return tokens.hash_token(self.raw_token)


@pytest.fixture
async def demo(database: Database, settings: ControlSettings) -> Demo:
    async with database.session() as session:
        tenant = await tenants.create_tenant(session, "acme")
        provider = await providers.create_provider(
            session,
            tenant,
            "mock-openai",
            type="openai",
            base_url="http://127.0.0.1:8100/v1",
            egress=settings.egress,
            extra_headers={"x-team": "core"},
            keyring=settings.keyring,
        )
        credential = await providers.add_credential(
            session, settings.keyring, provider, "default", PROVIDER_KEY
        )
        for name, upstream in (("chat", "mock-gpt"), ("embed", "mock-embed")):
            model = await models.create_model(
                session, tenant, name, models.ModelPricing(input_per_mtok=0.5, output_per_mtok=1.5)
            )
            await models.add_deployment(session, model, provider, upstream, priority=0, weight=2)
        created = await tokens.create_token(session, tenant, "app")
        await session.commit()
    return Demo(
        tenant_id=tenant.id,
        provider_id=provider.id,
        credential_id=credential.id,
        token_id=created.token.id,
        raw_token=created.raw,
    )


# --- the admin API -----------------------------------------------------------

PASSWORD = "correct horse battery staple"
ROLES = ("owner", "admin", "member", "viewer")


@pytest.fixture(scope="session")
def password_hash() -> str:
    """One argon2id hash of PASSWORD, shared: hashing costs a fifth of a second."""
    return hash_password(PASSWORD)


@dataclass(frozen=True)
class Person:
    user_id: str
    email: str
    session_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.session_token}"}


@dataclass(frozen=True)
class World:
    """Tenant acme (the demo) with one user per role, and tenant globex with its admin.

    `people` keys: owner, admin, member, viewer (of acme), platform, outsider
    (globex's admin). globex has a provider, credential, model and token too.
    """

    acme: Demo
    acme_model_id: str
    globex_id: str
    globex_provider_id: str
    globex_credential_id: str
    globex_model_id: str
    globex_token_id: str
    people: dict[str, Person]

    def __getitem__(self, who: str) -> Person:
        return self.people[who]


async def add_person(
    session: Any,
    email: str,
    password_hash: str,
    *,
    tenant_id: str | None = None,
    role: str | None = None,
    platform: bool = False,
) -> Person:
    """A user with PASSWORD, an optional membership, and a live session."""
    user = User(email=email, password_hash=password_hash, is_platform_admin=platform)
    session.add(user)
    await session.flush()
    if tenant_id is not None and role is not None:
        session.add(Membership(user_id=user.id, tenant_id=tenant_id, role=role))
    new = await start_session(session, user, lifetime=timedelta(hours=1))
    return Person(user_id=user.id, email=email, session_token=new.token)


@pytest.fixture
async def world(
    database: Database, settings: ControlSettings, demo: Demo, password_hash: str
) -> World:
    async with database.session() as session:
        acme = await tenants.get_tenant(session, "acme")
        acme_model = await models.find_model(session, acme, "chat")
        assert acme_model is not None
        globex = await tenants.create_tenant(session, "globex")
        provider = await providers.create_provider(
            session,
            globex,
            "g-openai",
            type="openai",
            base_url="http://127.0.0.1:8100/v1",
            egress=settings.egress,
        )
        credential = await providers.add_credential(
            session, settings.keyring, provider, "default", "sk-globex-secret-key-987654"
        )
        model = await models.create_model(session, globex, "g-chat")
        token = await tokens.create_token(session, globex, "g-app")
        people = {
            role: await add_person(
                session, f"{role}@acme.test", password_hash, tenant_id=acme.id, role=role
            )
            for role in ROLES
        }
        people["platform"] = await add_person(
            session, "root@junction.test", password_hash, platform=True
        )
        people["outsider"] = await add_person(
            session, "admin@globex.test", password_hash, tenant_id=globex.id, role="admin"
        )
        await session.commit()
    return World(
        acme=demo,
        acme_model_id=acme_model.id,
        globex_id=globex.id,
        globex_provider_id=provider.id,
        globex_credential_id=credential.id,
        globex_model_id=model.id,
        globex_token_id=token.token.id,
        people=people,
    )


@pytest.fixture
def admin_app(settings: ControlSettings, database: Database) -> Starlette:
    return create_admin_app(settings, database=database)


@pytest.fixture
async def admin(admin_app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=admin_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://admin/api/v1") as client:
        yield client


@pytest.fixture
async def announced(redis_url: str) -> AsyncIterator[list[str]]:
    """The token hashes published on the channel while the test runs."""
    heard: list[str] = []
    redis = Redis.from_url(redis_url)
    pubsub = redis.pubsub()
    await pubsub.subscribe(ROUTES_CHANGED_CHANNEL)

    async def listen() -> None:
        async for message in pubsub.listen():
            if message["type"] == "message":
                heard.append(message["data"].decode())

    task = asyncio.create_task(listen())
    await asyncio.sleep(0.05)
    yield heard
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await pubsub.aclose()
    await redis.aclose()
