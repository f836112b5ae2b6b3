"""A platform admin runs a new tenant from the console alone, end to end."""

from __future__ import annotations

import csv
import io
import secrets
import time
from pathlib import Path

import openai
import pytest
from playwright.sync_api import Page, expect

from tests.console.browser import PageCheck, chart_sums, log_in, nav, photograph, settle
from tests.console.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, AdminApi
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e

TENANT = "journey"
MEMBER = "member@journey.test"
CALLS = 3


def wait_for_calls(admin_api: AdminApi, tenant: str, count: int) -> list[dict[str, object]]:
    """The tenant's call records once `count` of them are finished (telemetry is asynchronous)."""
    deadline = time.monotonic() + 30
    while True:
        items = admin_api.call("GET", f"/tenants/{tenant}/calls?limit=200")["items"]
        done = [c for c in items if c["status"] != "processing"]
        if len(done) >= count or time.monotonic() > deadline:
            return done
        time.sleep(0.3)


def read_download(page: Page, button: str) -> tuple[str, str]:
    with page.expect_download() as info:
        page.get_by_role("button", name=button).click()
    download = info.value
    path = download.path()
    assert path is not None
    return download.suggested_filename, Path(path).read_text()


@pytest.mark.timeout(300)  # one journey through every page, photographed on the way
def test_an_admin_runs_a_new_tenant_from_the_console(
    page: Page, stack: Stack, admin_api: AdminApi, check: PageCheck, shots: Path
) -> None:
    log_in(page, ADMIN_EMAIL, ADMIN_PASSWORD)

    # a tenant, then its first member
    page.get_by_label("Tenant name").fill(TENANT)
    page.get_by_role("button", name="Create tenant").click()
    expect(page.get_by_role("heading", level=1, name="Members")).to_be_visible()
    tenant = admin_api.tenant_id(TENANT)
    assert page.url.endswith(f"#/t/{tenant}/members")
    form = page.get_by_role("form", name="Add a member")
    form.get_by_label("Email").fill(MEMBER)
    form.get_by_label("Role").select_option("member")
    form.get_by_label("Initial password").fill("member-" + secrets.token_urlsafe(10))
    form.get_by_role("button", name="Add member").click()
    expect(page.get_by_role("row").filter(has_text=MEMBER)).to_be_visible()

    # a provider with its key
    nav(page, "Providers")
    expect(page.get_by_text("No providers yet.")).to_be_visible()
    page.get_by_label("Name", exact=True).fill("mock")
    page.get_by_label("Type").select_option("openai")
    page.get_by_label("Base URL").fill(f"{stack.mock_url}/v1")
    page.get_by_label("API key").fill(stack.mock_key)
    page.get_by_role("button", name="Add provider").click()
    expect(page.get_by_role("row").filter(has_text="mock")).to_contain_text(
        "••••" + stack.mock_key[-4:]
    )

    # a model with two deployments, the second moved up to be tried first
    nav(page, "Models")
    page.get_by_label("Public name").fill("chat")
    page.get_by_label("Provider").select_option(label="mock (openai)")
    page.get_by_label("Upstream model").fill("mock-gpt")
    page.get_by_label("Input $ / M tokens", exact=True).fill("1")
    page.get_by_label("Output $ / M tokens").fill("2")
    page.get_by_role("button", name="Create model").click()
    page.get_by_role("link", name="chat", exact=True).click()
    expect(page.get_by_role("heading", level=1, name="Model chat")).to_be_visible()
    add = page.get_by_role("form", name="Add a deployment")
    add.get_by_label("Upstream model").fill("mock-gpt-mini")
    add.get_by_label("Priority").fill("1")
    add.get_by_role("button", name="Add deployment").click()
    order = page.get_by_role("list", name="Failover order").get_by_role("listitem")
    expect(order).to_have_count(2)
    expect(order.nth(0)).to_contain_text("mock-gpt")
    expect(order.nth(1)).to_contain_text("mock-gpt-mini")
    page.get_by_role("button", name="Move mock → mock-gpt-mini up").click()
    expect(order.nth(0)).to_contain_text("mock-gpt-mini")
    expect(order.nth(1)).not_to_contain_text("mock-gpt-mini")
    model = next(
        m
        for m in admin_api.call("GET", f"/tenants/{tenant}/ai-models")["items"]
        if m["name"] == "chat"
    )
    deployments = admin_api.call("GET", f"/tenants/{tenant}/ai-models/{model['id']}/deployments")[
        "items"
    ]
    by_priority = sorted(deployments, key=lambda d: d["priority"])
    assert [d["upstream_model"] for d in by_priority] == ["mock-gpt-mini", "mock-gpt"]
    assert by_priority[0]["priority"] < by_priority[1]["priority"]
    photograph(check, "model-detail", shots)

    # a key, then calls with the official SDK
    nav(page, "Keys")
    page.get_by_label("Name", exact=True).fill("journey-app")
    page.get_by_label("Models (comma-separated, empty = all)").fill("chat")
    page.get_by_role("button", name="Create key").click()
    raw = page.locator("#new-token").input_value()
    client = openai.OpenAI(api_key=raw, base_url=f"{stack.public_url}/v1", max_retries=0)
    for _ in range(CALLS - 1):
        reply = client.chat.completions.create(
            model="chat", messages=[{"role": "user", "content": "hello"}]
        )
        assert reply.choices[0].message.content
    # one streamed: it has a time to first token
    with client.chat.completions.create(
        model="chat", messages=[{"role": "user", "content": "hello"}], stream=True
    ) as stream:
        assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    recorded = wait_for_calls(admin_api, tenant, CALLS)
    assert len(recorded) == CALLS

    # the calls in the chart and its table, from the server's usage series
    with page.expect_response(lambda r: "/usage/series?" in r.url and "by=model" in r.url) as sent:
        nav(page, "Usage")
    assert sent.value.ok
    requests = page.get_by_role("region", name="Requests by model: totals", exact=True)
    expect(requests.get_by_role("row").filter(has_text="chat")).to_contain_text(str(CALLS))
    drawn = chart_sums(page, "chart-requests")
    assert drawn == [["chat", CALLS]]
    expect(page.get_by_role("region", name="Latency by model: totals", exact=True)).to_contain_text(
        "ms"
    )
    ttft = page.get_by_role("region", name="Time to first token by model: totals")
    expect(ttft.get_by_role("row").filter(has_text="chat")).to_contain_text("ms")
    expect(ttft.get_by_role("row").filter(has_text="chat").locator("td").last).to_have_text("1")
    # by key, by the day: the same calls
    page.get_by_label("Breakdown", exact=True).select_option("key")
    settle(page)
    by_key = page.get_by_role("region", name="Requests by key: totals", exact=True)
    expect(by_key.get_by_role("row").filter(has_text="journey-app")).to_contain_text(str(CALLS))
    with page.expect_request(lambda r: "/usage/series?" in r.url and "bucket=day" in r.url):
        page.get_by_label("Bucket", exact=True).select_option("day")
    settle(page)
    expect(by_key.get_by_role("row").filter(has_text="journey-app")).to_contain_text(str(CALLS))
    page.locator("summary", has_text="Requests by key per day").click()
    per_day = page.get_by_role("region", name="Requests by key per day", exact=True)
    expect(per_day.get_by_role("row")).to_have_count(2)  # the header and today
    assert "bucket=day" in page.url
    # by provider and deployment: the routes the calls took
    page.get_by_label("Bucket", exact=True).select_option("auto")
    page.get_by_label("Breakdown", exact=True).select_option("provider")
    settle(page)
    by_provider = page.get_by_role("region", name="Requests by provider: totals", exact=True)
    expect(by_provider.get_by_role("row").filter(has_text="mock")).to_contain_text(str(CALLS))
    page.get_by_label("Breakdown", exact=True).select_option("deployment")
    settle(page)
    by_deployment = page.get_by_role("region", name="Requests by deployment: totals", exact=True)
    expect(by_deployment).to_contain_text("mock → mock-gpt-mini")
    assert "by=deployment" in page.url
    photograph(check, "usage", shots)

    # CSV exports: the server's hourly rollups, and the view as drawn
    name, body = read_download(page, "Download hourly usage CSV")
    assert name.startswith(f"usage-{TENANT}-")
    assert name.endswith(".csv")
    rows = list(csv.DictReader(io.StringIO(body)))
    assert sum(int(r["calls"]) for r in rows if r["model"] == "chat") == CALLS
    assert {r["token_name"] for r in rows} == {"journey-app"}
    name, body = read_download(page, "Download this view as CSV")
    assert name.startswith(f"usage-series-deployment-{TENANT}-")
    view = list(csv.DictReader(io.StringIO(body)))
    assert sum(int(r["requests"]) for r in view) == CALLS
    assert {r["name"] for r in view} == {"chat: mock → mock-gpt-mini"}

    # the server filters the calls: none of them failed
    nav(page, "Calls")
    page.get_by_label("Status", exact=True).select_option("failed")
    expect(page.get_by_text("No call matches these filters.")).to_be_visible()
    assert "status=failed" in page.url
    page.get_by_label("Status", exact=True).select_option("")
    # one call's detail
    page.get_by_role("table", name="Calls").get_by_role("link").first.click()
    expect(page.get_by_role("heading", level=1, name="Call detail")).to_be_visible()
    call_id = page.url.rsplit("/", 1)[1]
    assert call_id in {str(c["id"]) for c in recorded}
    details = page.locator("dl.facts")
    expect(details).to_contain_text(call_id)
    expect(details).to_contain_text("success")
    expect(details).to_contain_text("mock → mock-gpt-mini")
    expect(details).to_contain_text("journey-app")
    expect(details).to_contain_text("Time to first token")
    # the one upstream attempt, as the engine listed it
    attempts = page.get_by_role("region", name="Attempts", exact=True)
    expect(attempts).to_contain_text("answered")
    expect(attempts).to_contain_text("mock → mock-gpt-mini")
    expect(attempts).to_contain_text("200")
    photograph(check, "call-detail", shots)

    # credits granted, then seen in the ledger
    nav(page, "Credits")
    grant = page.get_by_role("form", name="Grant credit")
    grant.get_by_label("Amount (USD)").fill("25")
    grant.get_by_label("Note").fill("welcome credit")
    grant.get_by_role("button", name="Grant credit").click()
    ledger = page.get_by_role("region", name="Ledger")
    expect(ledger.get_by_role("row").filter(has_text="welcome credit")).to_contain_text("$25.00")
    expect(page.locator("dl.facts")).to_contain_text("$25.00")

    # the audit log holds every write above
    nav(page, "Audit log")
    audit = page.get_by_role("region", name="Audit log")
    for action in (
        "member.add",
        "provider.create",
        "credential.create",
        "model.create",
        "deployment.create",
        "deployment.update",
        "token.create",
        "credits.grant",
    ):
        expect(audit.get_by_role("row").filter(has_text=action).first).to_be_visible()
    page.get_by_label("Action", exact=True).fill("deployment")
    expect(audit.get_by_role("row").filter(has_text="token.create")).to_have_count(0)
    expect(audit.get_by_role("row").filter(has_text="deployment.create")).to_have_count(2)
    assert "action=deployment" in page.url
    check.assert_no_console_errors()
