"""Provider extra headers: refused names and values on every write path, values kept sealed."""

from __future__ import annotations

import httpx
import pytest
import yaml
from sqlalchemy import text

from junction_contracts.provider_headers import open_headers
from junction_contracts.route import Route
from junction_contracts.sealing import derive_sealing_key
from junction_control.cli import main
from junction_control.crypto import next_master_key
from junction_control.db import Database
from junction_control.declarative import apply_spec, parse_spec
from junction_control.errors import CryptoError, InvalidInput
from junction_control.providers import headers as provider_headers
from junction_control.providers import service as providers
from junction_control.settings import ControlSettings
from junction_control.tenants import service as tenants

from .conftest import RESOLVE_PATH, Demo, World, signed_post
from .test_declarative import ENV, FILE

SECRET_VALUE = "hdr-secret-Zq81Lk2Mv7"
REFUSED = [
    "host",
    "Host",
    "authorization",
    "Proxy-Authorization",
    "content-length",
    "Transfer-Encoding",
    "connection",
    "keep-alive",
    "te",
    "trailer",
    "upgrade",
    "expect",
    "x-api-key",
    "X-Goog-Api-Key",
    "api-key",
]
NOT_TOKENS = ["bad name", "x:colon", "", "x-é", "(paren)"]
BAD_VALUES = [
    f"{SECRET_VALUE}\r\nx-injected: 1",
    f"{SECRET_VALUE}\n",
    f"{SECRET_VALUE}\x00",
    "a\x07b",
]


def _providers(world: World) -> str:
    return f"/tenants/{world.acme.tenant_id}/providers"


async def _create(
    admin: httpx.AsyncClient, world: World, headers: dict[str, str]
) -> httpx.Response:
    body = {"name": "extra", "type": "openai", "base_url": "http://127.0.0.1:8100/v1"}
    return await admin.post(
        _providers(world), json={**body, "headers": headers}, headers=world["admin"].headers
    )


async def _patch(admin: httpx.AsyncClient, world: World, headers: dict[str, str]) -> httpx.Response:
    return await admin.patch(
        f"{_providers(world)}/{world.acme.provider_id}",
        json={"headers": headers},
        headers=world["admin"].headers,
    )


@pytest.mark.parametrize("name", REFUSED)
async def test_headers_the_gateway_sets_itself_are_refused_by_the_api(
    admin: httpx.AsyncClient, world: World, name: str
) -> None:
    for resp in (
        await _create(admin, world, {name: SECRET_VALUE}),
        await _patch(admin, world, {"x-fine": "1", name: SECRET_VALUE}),
    ):
        assert resp.status_code == 422, resp.text
        error = resp.json()["error"]
        assert (error["code"], error["field"]) == ("header_not_allowed", "headers")
        assert SECRET_VALUE not in resp.text


@pytest.mark.parametrize(
    ("headers", "code"),
    [*(({n: "v"}, "invalid_header") for n in NOT_TOKENS)]
    + [({"x-value": v}, "invalid_header") for v in BAD_VALUES]
    + [({"X-Team": "a", "x-team": "b"}, "invalid_header")],
)
async def test_malformed_header_names_and_values_are_refused_by_the_api(
    admin: httpx.AsyncClient, world: World, headers: dict[str, str], code: str
) -> None:
    for resp in (await _create(admin, world, headers), await _patch(admin, world, headers)):
        assert resp.status_code == 422, resp.text
        assert resp.json()["error"]["code"] == code
        assert SECRET_VALUE not in resp.text


def test_the_cli_refuses_a_header_the_gateway_sets_itself(
    cli_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["tenant", "create", "acme"]) == 0
    for header in ("Authorization=Bearer stolen", "x-goog-api-key=stolen", "bad name=x"):
        code = main(
            [
                "provider",
                "create",
                "--tenant",
                "acme",
                "--name",
                "p",
                "--type",
                "openai",
                "--base-url",
                "http://127.0.0.1:8100/v1",
                "--header",
                header,
            ]
        )
        assert code == 2
        err = capsys.readouterr().err
        assert "header" in err
        assert "stolen" not in err
    allowed = ["--type", "openai", "--base-url", "http://127.0.0.1:8100/v1", "--header", "x-o=1"]
    assert main(["provider", "create", "--tenant", "acme", "--name", "p", *allowed]) == 0


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ("{host: evil.test}", "set by the gateway itself"),
        ("{Transfer-Encoding: chunked}", "set by the gateway itself"),
        ("{x-api-key: env:TEAM}", "set by the gateway itself"),
        ('{x-team: "a\\r\\nb"}', "line break"),
    ],
)
def test_apply_refuses_the_same_headers_naming_their_place(headers: str, reason: str) -> None:
    text_ = FILE.replace("headers: {x-team: env:TEAM}", f"headers: {headers}")
    with pytest.raises(InvalidInput) as caught:
        parse_spec(yaml.safe_load(text_), ENV)
    assert str(caught.value).startswith("tenants[0].providers[0].headers: header")
    assert reason in str(caught.value)
    assert ENV["TEAM"] not in str(caught.value)


async def test_header_values_are_encrypted_at_rest_masked_in_reads_and_sealed_in_routes(
    admin: httpx.AsyncClient,
    internal_client: httpx.AsyncClient,
    world: World,
    database: Database,
    settings: ControlSettings,
) -> None:
    patched = await _patch(admin, world, {"x-team": SECRET_VALUE, "X-Org": "acme-org"})
    read = await admin.get(
        f"{_providers(world)}/{world.acme.provider_id}", headers=world["admin"].headers
    )
    listed = await admin.get(_providers(world), headers=world["admin"].headers)
    resolved = await signed_post(
        internal_client,
        settings.internal_secret,
        RESOLVE_PATH,
        {"token_hash": world.acme.token_hash},
    )

    assert patched.status_code == read.status_code == listed.status_code == 200
    assert read.json()["header_names"] == ["X-Org", "x-team"]
    assert read.json()["headers"] == {"X-Org": "********", "x-team": "********"}
    for resp in (patched, read, listed, resolved):
        assert SECRET_VALUE not in resp.text
    async with database.engine.connect() as conn:
        rows = (await conn.execute(text("SELECT * FROM providers"))).all()
    assert SECRET_VALUE not in repr(rows)
    chat = Route.from_dict(resolved.json()).model("chat")
    assert chat is not None
    provider = chat.deployments[0].provider
    assert provider.extra_headers == {}
    opened = open_headers(
        derive_sealing_key(settings.internal_secret), provider.id, provider.sealed_headers
    )
    assert opened == {"x-team": SECRET_VALUE, "X-Org": "acme-org"}


async def test_an_envelope_moved_to_another_provider_does_not_open(
    database: Database, settings: ControlSettings, demo: Demo
) -> None:
    async with database.session() as session:
        acme = await tenants.get_tenant(session, "acme")
        source = await providers.get_provider(session, acme, "mock-openai")
        other = await providers.create_provider(
            session,
            acme,
            "other",
            type="openai",
            base_url="http://127.0.0.1:8100/v1",
            egress=settings.egress,
        )
        assert source.encrypted_headers is not None
        other.store_headers(["x-team"], source.encrypted_headers)
        assert provider_headers.opened_headers(settings.keyring, source) == {"x-team": "core"}
        with pytest.raises(CryptoError, match="does not open"):
            provider_headers.opened_headers(settings.keyring, other)


async def test_plain_values_from_before_0012_are_sealed_and_routes_carry_them_meanwhile(
    database: Database,
    settings: ControlSettings,
    demo: Demo,
    internal_client: httpx.AsyncClient,
) -> None:
    # a row as revision 0011 left it: the values plain in extra_headers, no envelope
    async with database.engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE providers SET extra_headers = :plain, headers_ciphertext = NULL, "
                "headers_nonce = NULL, headers_wrapped_key = NULL, headers_key_version = NULL"
            ),
            {"plain": f'{{"x-team": "{SECRET_VALUE}"}}'},
        )
    meanwhile = await signed_post(
        internal_client, settings.internal_secret, RESOLVE_PATH, {"token_hash": demo.token_hash}
    )

    await provider_headers.seal_plain_headers_at_start(database, settings.keyring)
    await provider_headers.seal_plain_headers_at_start(database, settings.keyring)  # a no-op now

    async with database.engine.connect() as conn:
        rows = (await conn.execute(text("SELECT * FROM providers"))).all()
    assert SECRET_VALUE not in repr(rows)
    async with database.session() as session:
        acme = await tenants.get_tenant(session, "acme")
        provider = await providers.get_provider(session, acme, "mock-openai")
        assert provider.extra_headers == {"x-team": ""}
        assert provider_headers.opened_headers(settings.keyring, provider) == {
            "x-team": SECRET_VALUE
        }
    sealing_key = derive_sealing_key(settings.internal_secret)
    for resp in (
        meanwhile,
        await signed_post(
            internal_client, settings.internal_secret, RESOLVE_PATH, {"token_hash": demo.token_hash}
        ),
    ):
        assert SECRET_VALUE not in resp.text
        chat = Route.from_dict(resp.json()).model("chat")
        assert chat is not None
        route_provider = chat.deployments[0].provider
        assert open_headers(sealing_key, route_provider.id, route_provider.sealed_headers) == {
            "x-team": SECRET_VALUE
        }


async def test_a_master_key_rotation_rewraps_header_envelopes(
    database: Database, settings: ControlSettings, demo: Demo
) -> None:
    keyring = settings.keyring.with_key(next_master_key(settings.keyring))
    async with database.session() as session:
        await providers.rewrap_credentials(session, keyring)
        await session.commit()
    async with database.session() as session:
        acme = await tenants.get_tenant(session, "acme")
        provider = await providers.get_provider(session, acme, "mock-openai")
    assert provider.headers_key_version == keyring.primary.version
    assert provider_headers.opened_headers(keyring, provider) == {"x-team": "core"}


async def test_apply_compares_headers_by_their_values(
    database: Database, settings: ControlSettings
) -> None:
    async def apply(env: dict[str, str]) -> list[str]:
        async with database.session() as session:
            report = await apply_spec(
                session,
                settings.keyring,
                parse_spec(yaml.safe_load(FILE), env),
                egress=settings.egress,
            )
            await session.commit()
        return [c.line() for c in report.changes]

    await apply(ENV)
    assert "provider demo/mock-openai: unchanged" in await apply(ENV)
    assert "provider demo/mock-openai: updated (headers)" in await apply(
        {**ENV, "TEAM": SECRET_VALUE}
    )
    async with database.engine.connect() as conn:
        rows = (await conn.execute(text("SELECT * FROM providers"))).all()
    assert SECRET_VALUE not in repr(rows)
