"""The web console's basics, in a real browser through Caddy against the real stack."""

from __future__ import annotations

import secrets
import time

import openai
import pytest
from playwright.sync_api import Page, expect

from tests.console.browser import PageCheck, go, log_in, log_out, nav
from tests.console.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, TENANT, AdminApi
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e


def chat(stack: Stack, key: str, model: str = "demo") -> str:
    client = openai.OpenAI(api_key=key, base_url=f"{stack.public_url}/v1", max_retries=0)
    reply = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "hello"}]
    )
    return reply.choices[0].message.content or ""


def status_of(stack: Stack, key: str) -> int:
    """200 when a chat completion with `key` works, else the HTTP status of the refusal."""
    try:
        chat(stack, key)
    except openai.APIStatusError as exc:
        return exc.status_code
    return 200


def open_tenant_page(page: Page, section: str) -> None:
    log_in(page, ADMIN_EMAIL, ADMIN_PASSWORD)
    page.get_by_role("link", name=TENANT).click()
    nav(page, section)
    expect(page.get_by_role("heading", level=1, name=section)).to_be_visible()


def test_a_wrong_password_is_refused_with_the_servers_message(page: Page, check: PageCheck) -> None:
    page.goto("/")
    page.get_by_label("Email").fill(ADMIN_EMAIL)
    page.get_by_label("Password").fill("not-the-password-at-all")
    page.get_by_role("button", name="Log in").click()

    alert = page.get_by_role("alert")
    expect(alert).to_be_visible()
    assert alert.inner_text().strip()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    assert page.title() == "Log in · Junction"


def test_a_console_created_key_works_until_it_is_revoked(
    page: Page, stack: Stack, check: PageCheck
) -> None:
    open_tenant_page(page, "Keys")
    page.get_by_label("Name", exact=True).fill("from-console")
    page.get_by_label("Models (comma-separated, empty = all)").fill("demo")
    page.get_by_label("Requests per minute").fill("100")
    page.get_by_role("button", name="Create key").click()

    expect(page.get_by_text("It is shown only once")).to_be_visible()
    raw = page.locator("#new-token").input_value()
    assert raw
    row = page.get_by_role("row").filter(has_text="from-console")
    expect(row).to_contain_text("demo")
    expect(row).to_contain_text("100 rpm")
    expect(row).to_contain_text("active")

    assert chat(stack, raw)

    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Revoke from-console").click()
    expect(row).to_contain_text("revoked")

    # engines notice the revocation once their cached route expires (1 s here)
    deadline = time.monotonic() + 15
    while (status := status_of(stack, raw)) == 200 and time.monotonic() < deadline:
        time.sleep(0.3)
    assert status == 401
    check.assert_no_console_errors()


def test_a_key_is_edited_in_place(page: Page, admin_api: AdminApi, check: PageCheck) -> None:
    tenant = admin_api.tenant_id(TENANT)
    admin_api.call("POST", f"/tenants/{tenant}/tokens", {"name": "to-edit", "rpm": 5})
    open_tenant_page(page, "Keys")
    page.get_by_role("button", name="Edit to-edit").click()
    editor = page.get_by_role("form", name="Edit key “to-edit”")
    editor.get_by_label("Requests per minute").fill("")
    editor.get_by_label("Tokens per minute").fill("5000")
    editor.get_by_label("Budget (USD)").fill("12.5")
    editor.get_by_label("Budget period").select_option("monthly")
    editor.get_by_role("button", name="Save key").click()

    row = page.get_by_role("row").filter(has_text="to-edit")
    expect(row).to_contain_text("5,000 tpm")
    expect(row).not_to_contain_text("rpm")
    expect(row).to_contain_text("of $12.50 monthly")
    saved = next(
        t
        for t in admin_api.call("GET", f"/tenants/{tenant}/tokens?limit=200")["items"]
        if t["name"] == "to-edit"
    )
    assert (saved["rpm"], saved["tpm"], saved["budget_usd"], saved["budget_period"]) == (
        None,
        5000,
        12.5,
        "monthly",
    )
    check.assert_no_console_errors()


def test_the_providers_pages_never_show_a_key(page: Page, stack: Stack, check: PageCheck) -> None:
    key = "sk-console-" + secrets.token_hex(16)
    open_tenant_page(page, "Providers")
    page.get_by_label("Name", exact=True).fill("added-in-ui")
    page.get_by_label("Type").select_option("openai-compatible")
    page.get_by_label("Base URL").fill("https://llm.example.test/v1")
    key_input = page.get_by_label("API key")
    assert key_input.get_attribute("type") == "password"
    key_input.fill(key)
    page.get_by_role("button", name="Add provider").click()

    row = page.get_by_role("row").filter(has_text="added-in-ui")
    expect(row).to_contain_text("••••" + key[-4:])
    expect(page.get_by_role("row").filter(has_text="mock-openai")).to_contain_text(
        "••••" + stack.mock_key[-4:]
    )
    assert key_input.input_value() == ""
    for secret in (key, stack.mock_key):
        assert secret not in page.content()

    row.get_by_role("link", name="added-in-ui").click()
    expect(page.get_by_role("heading", level=1, name="Provider added-in-ui")).to_be_visible()
    keys = page.get_by_role("table", name="Keys", exact=True)
    expect(keys.get_by_role("row").filter(has_text="default")).to_contain_text("••••" + key[-4:])
    assert page.title() == f"added-in-ui · Providers · {TENANT} · Junction"
    assert key not in page.content()
    check.assert_no_console_errors()


def test_a_deep_link_opens_its_page_with_its_title_after_login(
    page: Page, admin_api: AdminApi, check: PageCheck
) -> None:
    tenant = admin_api.tenant_id(TENANT)
    log_in(page, ADMIN_EMAIL, ADMIN_PASSWORD)
    for key, heading, title in [
        ("usage", "Usage", "Usage"),
        ("calls", "Calls", "Calls"),
        ("keys", "Keys", "Keys"),
        ("models", "Models", "Models"),
        ("providers", "Providers", "Providers"),
        ("members", "Members", "Members"),
        ("credits", "Credits", "Credits"),
        ("audit", "Audit log", "Audit log"),
        ("settings", "Settings", "Settings"),
    ]:
        go(page, f"#/t/{tenant}/{key}", heading)
        assert page.title() == f"{title} · {TENANT} · Junction"
        current = page.get_by_role("navigation", name="Tenant pages").locator("[aria-current=page]")
        expect(current).to_have_text(title)
    go(page, "#/t/no-such-tenant/usage", "Not found")
    go(page, "#/nowhere", "Not found")
    check.assert_no_console_errors()


def test_logging_out_returns_to_the_login_page(page: Page) -> None:
    log_in(page, ADMIN_EMAIL, ADMIN_PASSWORD)
    log_out(page)
    page.goto("/#/tenants")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
