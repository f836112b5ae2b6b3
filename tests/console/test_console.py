"""The web console's basics, in a real browser through Caddy against the real stack."""

from __future__ import annotations

import datetime
import secrets
import time

import httpx
import openai
import pytest
from playwright.sync_api import Page, expect

from tests.console.browser import PageCheck, go, log_in, log_out, nav, settle
from tests.console.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, TENANT, AdminApi
from tests.support.stack import Stack, free_port

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


def test_a_regenerated_key_replaces_the_old_value_at_once(
    page: Page, stack: Stack, check: PageCheck
) -> None:
    open_tenant_page(page, "Keys")
    page.get_by_label("Name", exact=True).fill("to-regenerate")
    page.get_by_role("button", name="Create key").click()
    old = page.locator("#new-token").input_value()
    assert chat(stack, old)

    row = page.get_by_role("row").filter(has_text="to-regenerate")
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Regenerate to-regenerate").click()
    expect(page.get_by_role("heading", name="Key “to-regenerate” regenerated")).to_be_visible()
    expect(page.get_by_text("It is shown only once")).to_be_visible()
    new = page.locator("#new-token").input_value()
    assert new
    assert new != old
    expect(row).to_contain_text(new[:12])  # the prefix shown is the new value's
    expect(row).to_contain_text("active")

    # the new value works; the old one is refused once the engine's cached route expires
    assert chat(stack, new)
    deadline = time.monotonic() + 15
    while (status := status_of(stack, old)) == 200 and time.monotonic() < deadline:
        time.sleep(0.3)
    assert status == 401
    assert chat(stack, new)
    # shown once: leaving the page forgets it
    nav(page, "Usage")
    nav(page, "Keys")
    expect(page.locator("#new-token")).to_have_count(0)
    assert new not in page.content()
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


def test_the_audit_log_is_filtered_by_the_server(
    page: Page, stack: Stack, admin_api: AdminApi, check: PageCheck
) -> None:
    tenant = admin_api.tenant_id(TENANT)
    email = f"auditor-{secrets.token_hex(3)}@console.test"
    password = "auditor-" + secrets.token_urlsafe(10)
    admin_api.call(
        "POST",
        f"/tenants/{tenant}/members",
        {"email": email, "role": "admin", "password": password},
    )
    # the new member makes one key of their own, through the API
    with httpx.Client(base_url=stack.public_url, timeout=10) as client:
        login = client.post("/api/v1/auth/login", json={"email": email, "password": password})
        headers = {"Authorization": f"Bearer {login.json()['token']}"}
        made = client.post(
            f"/api/v1/tenants/{tenant}/tokens", json={"name": "auditors-key"}, headers=headers
        )
        assert made.status_code == 201, made.text
    admin_api.call("POST", f"/tenants/{tenant}/tokens/{made.json()['id']}/revoke")

    open_tenant_page(page, "Audit log")
    audit = page.get_by_role("region", name="Audit log")
    rows = audit.locator("tbody tr")
    expect(rows.filter(has_text="member.add").first).to_be_visible()

    # a family of actions: the request carries the filter, every row shown matches it
    with page.expect_response(lambda r: "/audit?" in r.url and "action=token" in r.url):
        page.get_by_label("Action", exact=True).fill("token")
    settle(page)
    actions = audit.locator("tbody tr td:nth-child(3)").all_inner_texts()
    assert actions
    assert all(a.startswith("token.") for a in actions), actions
    assert "action=token" in page.url
    page.get_by_label("Action", exact=True).fill("token.revoke")
    settle(page)
    expect(rows.filter(has_text="token.create")).to_have_count(0)
    expect(rows.filter(has_text="token.revoke").first).to_be_visible()

    # the actor, picked by email: only what they did
    page.get_by_label("Action", exact=True).fill("")
    with page.expect_response(lambda r: "/audit?" in r.url and "user_id=" in r.url):
        page.get_by_label("Who", exact=True).select_option(label=email)
    settle(page)
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("token.create")
    expect(rows.first).to_contain_text(email)

    # an object type, then a date range that ends before today
    page.get_by_label("Who", exact=True).select_option("")
    with page.expect_response(lambda r: "/audit?" in r.url and "object_type=user" in r.url):
        page.get_by_label("Object type").fill("user")
    settle(page)
    types = audit.locator("tbody tr td:nth-child(4)").all_inner_texts()
    assert types
    assert all(t.startswith("user") for t in types), types
    yesterday = (datetime.date.today() - datetime.timedelta(days=1)).isoformat()
    with page.expect_response(lambda r: "/audit?" in r.url and "until=" in r.url):
        page.get_by_label("To", exact=True).fill(yesterday)
    settle(page)
    expect(page.get_by_text("No audit entry matches these filters.")).to_be_visible()
    assert f"until={yesterday}" in page.url

    # the filtered view is a deep link
    page.reload()
    expect(page.get_by_role("heading", level=1, name="Audit log")).to_be_visible()
    settle(page)
    expect(page.get_by_label("Object type")).to_have_value("user")
    expect(page.get_by_text("No audit entry matches these filters.")).to_be_visible()
    page.get_by_role("button", name="Clear filters").click()
    settle(page)
    expect(rows.filter(has_text="member.add").first).to_be_visible()
    check.assert_no_console_errors()


def test_a_failing_provider_shows_its_open_breaker_and_recent_failures(
    page: Page, stack: Stack, admin_api: AdminApi, check: PageCheck
) -> None:
    tenant = admin_api.tenant_id(TENANT)
    # a provider nothing listens for: every attempt is a refused connection
    provider = admin_api.call(
        "POST",
        f"/tenants/{tenant}/providers",
        {"name": "down", "type": "openai", "base_url": f"http://127.0.0.1:{free_port()}/v1"},
    )
    admin_api.call(
        "POST",
        f"/tenants/{tenant}/providers/{provider['id']}/credentials",
        {"name": "default", "key": "sk-down-" + secrets.token_hex(8)},
    )
    model = admin_api.call(
        "POST",
        f"/tenants/{tenant}/ai-models",
        {"name": "down-model", "pricing": {"input_per_mtok": 1, "output_per_mtok": 1}},
    )
    admin_api.call(
        "POST",
        f"/tenants/{tenant}/ai-models/{model['id']}/deployments",
        {"provider_id": provider["id"], "upstream_model": "gone"},
    )
    key = admin_api.call("POST", f"/tenants/{tenant}/tokens", {"name": "down-app"})["token"]
    client = openai.OpenAI(api_key=key, base_url=f"{stack.public_url}/v1", max_retries=0)
    health_path = f"/tenants/{tenant}/providers/{provider['id']}/health"
    deadline = time.monotonic() + 30
    while True:
        with pytest.raises(openai.APIStatusError):
            client.chat.completions.create(
                model="down-model", messages=[{"role": "user", "content": "hi"}]
            )
        breaker = admin_api.call("GET", health_path)["deployments"][0]["breaker"]
        if breaker["state"] == "open" or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert breaker["state"] == "open", breaker
    # the call that opened it is recorded (telemetry is asynchronous)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        failed = admin_api.call("GET", f"/tenants/{tenant}/calls?status=failed&model=down-model")
        if any(c["error_code"] == "upstream_unreachable" for c in failed["items"]):
            break
        time.sleep(0.3)

    open_tenant_page(page, "Providers")
    row = page.get_by_role("row").filter(has_text="down")
    expect(row.get_by_text("1 open")).to_be_visible()
    expect(page.get_by_role("row").filter(has_text="mock-openai")).to_contain_text("healthy")
    row.get_by_role("link", name="down").click()
    expect(page.get_by_role("heading", level=1, name="Provider down")).to_be_visible()
    settle(page)
    deployments = page.get_by_role("table", name="Deployment health")
    gone = deployments.get_by_role("row").filter(has_text="gone")
    expect(gone).to_contain_text("open")
    expect(gone).to_contain_text(str(breaker["failures"]))
    expect(gone).to_contain_text(breaker["last_error"])
    expect(page.get_by_text("Now:")).to_contain_text("1 open")
    # the failed calls behind it, each with its attempts
    page.get_by_role("link", name="See the failed calls").click()
    expect(page.get_by_role("heading", level=1, name="Calls")).to_be_visible()
    expect(page.get_by_label("Status", exact=True)).to_have_value("failed")
    unreachable = page.get_by_role("row").filter(has_text="upstream_unreachable")
    expect(unreachable.filter(has_text="down-model").first).to_be_visible()
    unreachable.first.get_by_role("link").click()
    expect(page.get_by_role("heading", level=1, name="Call detail")).to_be_visible()
    attempts = page.get_by_role("region", name="Attempts", exact=True)
    expect(attempts).to_contain_text("failed")
    expect(attempts).to_contain_text("down → gone")
    expect(attempts).to_contain_text("upstream_unreachable")
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
