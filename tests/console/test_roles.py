"""Members and viewers see every page they may read, and are offered nothing they may not do."""

from __future__ import annotations

import re
import secrets
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.console.browser import PageCheck, go, log_in, photograph
from tests.console.conftest import TENANT, AdminApi

pytestmark = pytest.mark.e2e

PASSWORD = "role-" + secrets.token_urlsafe(12)
PAGES = [
    ("usage", "Usage"),
    ("calls", "Calls"),
    ("keys", "Keys"),
    ("models", "Models"),
    ("providers", "Providers"),
    ("members", "Members"),
    ("credits", "Credits"),
    ("audit", "Audit log"),
    ("settings", "Settings"),
]
# what no member or viewer may do, by the button or form that would do it
ADMIN_ONLY = [
    "Add provider",
    "Create model",
    "Add member",
    "Grant credit",
    "Save billing",
    "Rename tenant",
    "Delete tenant",
    "Save budget",
    "Create webhook",
    "Delete provider",
    "Add key",
    "Delete model",
    "Add deployment",
    "Rename",
    "Rotate",
]


def add_user(admin_api: AdminApi, tenant: str, role: str) -> str:
    email = f"{role}-{secrets.token_hex(3)}@console.test"
    admin_api.call(
        "POST", f"/tenants/{tenant}/members", {"email": email, "role": role, "password": PASSWORD}
    )
    return email


def no_admin_actions(page: Page) -> None:
    for name in ADMIN_ONLY:
        expect(page.get_by_role("button", name=name, exact=True)).to_have_count(0)
    expect(page.get_by_text("Edit provider", exact=True)).to_have_count(0)
    expect(page.get_by_text("Edit name and pricing", exact=True)).to_have_count(0)
    expect(page.get_by_role("button", name="Move up")).to_have_count(0)


@pytest.mark.parametrize("role", ["member", "viewer"])
def test_a_tenant_role_reads_every_page_and_is_offered_only_what_it_may_do(
    page: Page, admin_api: AdminApi, check: PageCheck, shots: Path, role: str
) -> None:
    tenant = admin_api.tenant_id(TENANT)
    email = add_user(admin_api, tenant, role)
    admins_key = f"admins-{role}-{secrets.token_hex(3)}"
    admin_api.call("POST", f"/tenants/{tenant}/tokens", {"name": admins_key})
    provider = next(
        p
        for p in admin_api.call("GET", f"/tenants/{tenant}/providers")["items"]
        if p["name"] == "mock-openai"
    )
    model = next(
        m
        for m in admin_api.call("GET", f"/tenants/{tenant}/ai-models")["items"]
        if m["name"] == "demo"
    )
    log_in(page, email, PASSWORD)
    expect(page.get_by_role("link", name=TENANT)).to_contain_text(role)
    expect(page.get_by_role("button", name="Create tenant")).to_have_count(0)

    for key, heading in PAGES:
        go(page, f"#/t/{tenant}/{key}", heading)
        main = page.locator("main")
        # never a blank page: more than the heading is shown
        assert len(main.inner_text().strip()) > len(heading) + 20, key
        no_admin_actions(page)
        photograph(check, f"{role}-{key}", shots, sizes=("phone",))

    go(page, f"#/t/{tenant}/keys", "Keys")
    create = page.get_by_role("button", name="Create key", exact=True)
    regenerate = page.get_by_role("button", name=re.compile(r"^Regenerate "))
    if role == "member":
        expect(create).to_be_visible()  # a member manages their own keys
        expect(regenerate).to_have_count(0)  # no key of theirs yet
        page.get_by_label("Name", exact=True).fill(f"{role}-own")
        create.click()
        expect(page.locator("#new-token")).to_be_visible()
        # their own key may be regenerated and revoked, not edited
        expect(regenerate).to_have_count(1)
        expect(page.get_by_role("button", name=f"Regenerate {role}-own")).to_be_visible()
        expect(page.get_by_role("button", name=f"Revoke {role}-own")).to_be_visible()
    else:
        expect(create).to_have_count(0)
        # the viewer reads every key of the tenant and may change none
        expect(page.get_by_role("row").filter(has_text=admins_key)).to_be_visible()
        expect(regenerate).to_have_count(0)
        expect(page.get_by_role("button", name=re.compile(r"^Revoke "))).to_have_count(0)
    expect(page.get_by_role("button", name="Edit", exact=False)).to_have_count(0)

    # the providers list hides keys from these roles without asking the server
    go(page, f"#/t/{tenant}/providers", "Providers")
    expect(page.get_by_role("row").filter(has_text="mock-openai")).to_contain_text(
        "hidden for your role"
    )
    # the provider's page asks: the server's refusal is shown in place, the rest stays
    go(page, f"#/t/{tenant}/providers/{provider['id']}", "Provider mock-openai")
    refusal = page.locator(".refusal")
    expect(refusal).to_contain_text("Not allowed for your role")
    expect(refusal).to_contain_text("The server said:")
    expect(page.get_by_role("table", name="Deployment health")).to_be_visible()
    no_admin_actions(page)

    go(page, f"#/t/{tenant}/models/{model['id']}", "Model demo")
    expect(page.get_by_role("list", name="Failover order")).to_contain_text("mock-gpt")
    no_admin_actions(page)
    photograph(check, f"{role}-model-detail", shots, sizes=("phone",))

    go(page, f"#/t/{tenant}/members", "Members")
    expect(page.get_by_role("combobox", name=f"Role of {email}")).to_have_count(0)
    expect(page.get_by_role("button", name="Remove")).to_have_count(0)
    check.assert_no_console_errors()
