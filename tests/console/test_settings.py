"""The Settings page sets the tenant's budget and alert webhook; a viewer only reads them."""

from __future__ import annotations

import hashlib
import hmac
import http.server
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.console.browser import PageCheck, go, log_in, log_out, settle
from tests.console.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, AdminApi
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e

PASSWORD = "viewer-" + secrets.token_urlsafe(12)


@dataclass
class Receiver:
    """A webhook endpoint on loopback that keeps what it was sent."""

    url: str
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    got: list[tuple[dict[str, str], bytes]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            got.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Receiver(f"http://127.0.0.1:{server.server_address[1]}/junction-alerts", got)
    finally:
        server.shutdown()
        server.server_close()


def signed_by(secret: str, headers: dict[str, str], body: bytes) -> bool:
    parts = dict(p.split("=", 1) for p in headers["junction-signature"].split(","))
    mac = hmac.new(secret.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256)
    return hmac.compare_digest(mac.hexdigest(), parts["v1"])


@pytest.mark.timeout(180)
def test_the_settings_page_saves_the_budget_and_the_webhook_and_a_viewer_only_reads_them(
    page: Page, stack: Stack, admin_api: AdminApi, check: PageCheck, receiver: Receiver
) -> None:
    # a tenant of its own: a budget here limits no other test's calls
    name = f"settings-{secrets.token_hex(3)}"
    tenant = admin_api.call("POST", "/tenants", {"name": name})["id"]
    viewer = f"viewer-{secrets.token_hex(3)}@console.test"
    admin_api.call(
        "POST",
        f"/tenants/{tenant}/members",
        {"email": viewer, "role": "viewer", "password": PASSWORD},
    )
    log_in(page, ADMIN_EMAIL, ADMIN_PASSWORD)
    go(page, f"#/t/{tenant}/settings", "Settings")

    # the budget
    expect(page.get_by_text("No tenant budget")).to_be_visible()
    page.get_by_label("Limit (USD)").fill("40")
    page.get_by_label("Period", exact=True).select_option("weekly")
    page.get_by_label("Time zone").fill("Europe/Paris")
    page.get_by_role("button", name="Save budget").click()
    expect(page.get_by_text("$40.00 weekly")).to_be_visible()
    expect(page.get_by_role("button", name="Lift the budget")).to_be_visible()
    budget = admin_api.call("GET", f"/tenants/{tenant}/budget")
    assert (budget["limit_usd"], budget["period"], budget["timezone"]) == (
        40.0,
        "weekly",
        "Europe/Paris",
    )
    # changed once more: the form starts from what is saved
    expect(page.get_by_label("Time zone")).to_have_value("Europe/Paris")
    page.get_by_label("Limit (USD)").fill("55.5")
    page.get_by_role("button", name="Save budget").click()
    expect(page.get_by_text("$55.50 weekly")).to_be_visible()
    assert admin_api.call("GET", f"/tenants/{tenant}/budget")["limit_usd"] == 55.5

    # the webhook: its secret is shown once, and a test event arrives signed with it
    expect(page.get_by_text("No alert webhook.")).to_be_visible()
    page.get_by_label("Webhook URL").fill(receiver.url)
    page.get_by_label("Thresholds (% of budget, comma-separated)").fill("75, 25, 90")
    page.get_by_role("button", name="Create webhook").click()
    secret = page.get_by_role("textbox", name="Webhook secret").input_value()
    assert secret
    expect(page.get_by_text("25%, 75%, 90% of a budget")).to_be_visible()
    hook = admin_api.call("GET", f"/tenants/{tenant}/alerts/webhook")
    assert (hook["url"], hook["thresholds"], hook["enabled"]) == (receiver.url, [25, 75, 90], True)
    assert secret not in str(hook)
    page.get_by_label("Thresholds (% of budget, comma-separated)").fill("50, 100")
    page.get_by_label("Enabled").uncheck()
    page.get_by_role("button", name="Save webhook").click()
    expect(page.get_by_text("50%, 100% of a budget")).to_be_visible()
    expect(page.locator("dl.facts").filter(has_text="Thresholds")).to_contain_text("disabled")
    hook = admin_api.call("GET", f"/tenants/{tenant}/alerts/webhook")
    assert (hook["thresholds"], hook["enabled"]) == ([50, 100], False)
    page.get_by_label("Enabled").check()
    page.get_by_role("button", name="Save webhook").click()
    expect(page.locator("dl.facts").filter(has_text="Thresholds")).to_contain_text("enabled")

    page.get_by_role("button", name="Send a test event").click()
    deliveries = page.get_by_role("region", name="Alert deliveries")
    expect(deliveries.locator("tbody tr")).to_have_count(1)
    deadline = time.monotonic() + 30
    while not receiver.received and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(receiver.received) == 1
    headers, body = receiver.received[0]
    assert signed_by(secret, headers, body)
    page.reload()
    settle(page)
    expect(deliveries.locator("tbody tr").first).to_contain_text("delivered")

    # every write above is in the tenant's audit log, and no secret is
    entries = admin_api.call("GET", f"/tenants/{tenant}/audit?limit=200")["items"]
    actions = [e["action"] for e in entries]
    assert actions.count("tenant.budget.set") == 2
    assert actions.count("alerts.webhook.create") == 1
    assert actions.count("alerts.webhook.update") == 2
    assert actions.count("alerts.webhook.test") == 1
    assert secret not in str(entries)
    budget_set = [e for e in entries if e["action"] == "tenant.budget.set"]
    assert {e["details"]["limit_usd"] for e in budget_set} == {40.0, 55.5}
    admin = admin_api.call("GET", "/auth/me")["id"]
    assert {
        e["user_id"] for e in entries if e["action"].startswith(("tenant.budget", "alerts"))
    } == {admin}
    check.assert_no_console_errors()

    # a viewer reads both, and is offered no change to either
    log_out(page)
    log_in(page, viewer, PASSWORD)
    go(page, f"#/t/{tenant}/settings", "Settings")
    expect(page.get_by_text("$55.50 weekly")).to_be_visible()
    expect(page.get_by_text("50%, 100% of a budget")).to_be_visible()
    expect(deliveries.locator("tbody tr")).to_have_count(1)
    for button in (
        "Save budget",
        "Lift the budget",
        "Save webhook",
        "Send a test event",
        "New secret",
        "Delete webhook",
        "Rename tenant",
    ):
        expect(page.get_by_role("button", name=button)).to_have_count(0)
    expect(page.get_by_label("Limit (USD)")).to_have_count(0)
    expect(page.get_by_label("Webhook URL")).to_have_count(0)

    # nor does the admin API let them: refused in JSON with a stable code, nothing changed
    with httpx.Client(base_url=f"{stack.public_url}/api/v1", timeout=10) as client:
        login = client.post("/auth/login", json={"email": viewer, "password": PASSWORD})
        client.headers["Authorization"] = f"Bearer {login.json()['token']}"
        for method, path, body in (
            ("PUT", "budget", {"limit_usd": 1, "period": "daily", "timezone": "UTC"}),
            ("DELETE", "budget", None),
            ("PATCH", "alerts/webhook", {"thresholds": [1]}),
            ("POST", "alerts/webhook/secret", None),
            ("POST", "alerts/webhook/test", None),
            ("DELETE", "alerts/webhook", None),
        ):
            refused = client.request(method, f"/tenants/{tenant}/{path}", json=body)
            assert refused.status_code == 403, (method, path, refused.text)
            assert refused.json()["error"]["code"], refused.text
    assert admin_api.call("GET", f"/tenants/{tenant}/budget")["limit_usd"] == 55.5
    assert admin_api.call("GET", f"/tenants/{tenant}/alerts/webhook")["thresholds"] == [50, 100]
    # each refusal is audited as one, by the viewer; it wrote nothing else
    seen = {e["id"] for e in entries}
    after = admin_api.call("GET", f"/tenants/{tenant}/audit?limit=200")["items"]
    new = [e for e in after if e["id"] not in seen]
    assert [e["action"] for e in new] == ["denied"] * 6, new
    viewer_id = next(e["user_id"] for e in new)
    assert viewer_id != admin
    assert {e["user_id"] for e in new} == {viewer_id}
    check.assert_no_console_errors()
