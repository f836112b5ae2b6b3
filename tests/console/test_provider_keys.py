"""A provider's keys are managed on its page: added, renamed, weighted, disabled, rotated."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.console.browser import PageCheck, go, log_in, photograph
from tests.console.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, TENANT, AdminApi

pytestmark = pytest.mark.e2e


def credentials(admin_api: AdminApi, tenant: str, provider: str) -> dict[str, dict[str, Any]]:
    page = admin_api.call("GET", f"/tenants/{tenant}/providers/{provider}/credentials")
    return {c["name"]: c for c in page["items"]}


def test_a_providers_keys_are_managed_on_its_page(
    page: Page, admin_api: AdminApi, check: PageCheck, shots: Path
) -> None:
    tenant = admin_api.tenant_id(TENANT)
    name = f"keys-{secrets.token_hex(3)}"
    provider = admin_api.call(
        "POST",
        f"/tenants/{tenant}/providers",
        {"name": name, "type": "openai-compatible", "base_url": "https://llm.example.test/v1"},
    )["id"]
    first = "sk-first-" + secrets.token_hex(12)
    admin_api.call(
        "POST",
        f"/tenants/{tenant}/providers/{provider}/credentials",
        {"name": "main", "key": first},
    )
    log_in(page, ADMIN_EMAIL, ADMIN_PASSWORD)
    go(page, f"#/t/{tenant}/providers/{provider}", f"Provider {name}")
    keys = page.get_by_role("table", name="Keys", exact=True)

    # a second key
    backup = "sk-backup-" + secrets.token_hex(12)
    add = page.get_by_role("form", name="Add a key")
    add.get_by_label("Key name").fill("backup")
    add.get_by_label("API key").fill(backup)
    add.get_by_label("Weight").fill("2")
    add.get_by_role("button", name="Add key").click()
    row = keys.get_by_role("row").filter(has_text="backup")
    expect(row).to_contain_text("••••" + backup[-4:])
    assert credentials(admin_api, tenant, provider)["backup"]["weight"] == 2

    # renamed in place
    rename = page.get_by_role("form", name="Rename key backup")
    rename.get_by_label("New name for backup").fill("spare")
    rename.get_by_role("button", name="Rename").click()
    row = keys.get_by_role("row").filter(has_text="spare")
    expect(row).to_contain_text("••••" + backup[-4:])
    expect(keys.get_by_role("row").filter(has_text="backup")).to_have_count(0)
    assert set(credentials(admin_api, tenant, provider)) == {"main", "spare"}
    photograph(check, "provider-keys", shots)

    # weighted, then disabled
    page.get_by_label("Weight of spare", exact=True).fill("5")
    page.get_by_role("button", name="Set weight of spare").click()
    expect(row.locator("td").nth(3)).to_have_text("5")
    page.get_by_role("button", name="Disable key spare").click()
    expect(row).to_contain_text("disabled")
    spare = credentials(admin_api, tenant, provider)["spare"]
    assert (spare["weight"], spare["status"]) == (5, "disabled")

    # rotated: the new key's last four are shown, never the key
    rotated = "sk-rotated-" + secrets.token_hex(12)
    page.get_by_label("New key for spare").fill(rotated)
    page.get_by_role("form", name="Rotate key spare").get_by_role("button", name="Rotate").click()
    expect(row).to_contain_text("••••" + rotated[-4:])
    assert credentials(admin_api, tenant, provider)["spare"]["last4"] == rotated[-4:]
    for key in (first, backup, rotated):
        assert key not in page.content()

    # deleted, once confirmed
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete key spare").click()
    expect(keys.get_by_role("row").filter(has_text="spare")).to_have_count(0)
    assert set(credentials(admin_api, tenant, provider)) == {"main"}

    # each change is in the audit log, under the one credential, with no key in it
    entries = admin_api.call("GET", f"/tenants/{tenant}/audit?object_type=credential&limit=200")[
        "items"
    ]
    entries = [e for e in entries if e["object_id"] == spare["id"]]
    assert sorted(e["action"] for e in entries) == sorted(
        [
            "credential.create",
            "credential.update",  # the name
            "credential.update",  # the weight
            "credential.update",  # the status
            "credential.rotate",
            "credential.delete",
        ]
    )
    fields = sorted(
        e["details"]["fields"][0] for e in entries if e["action"] == "credential.update"
    )
    assert fields == ["name", "status", "weight"]
    for key in (backup, rotated):
        assert key not in str(entries)
    check.assert_no_console_errors()
