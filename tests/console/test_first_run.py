"""The first run: `make run` prints a console login, and it opens the demo tenant's calls.

Everything comes from the banner, as a new user reads it: the console's address,
its email and password, and the demo token the official SDK calls with.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import openai
import pytest
from playwright.sync_api import Browser, expect

from tests.console.browser import DESKTOP, PageCheck, chart_sums, log_in, nav, settle
from tests.e2e.make_run import Launch, launch, stack_env

pytestmark = pytest.mark.e2e

CALLS = 3


def finished_calls(run: Launch, session: str, tenant: str, count: int) -> list[dict[str, object]]:
    """The tenant's finished call records once there are `count` (telemetry is asynchronous)."""
    deadline = time.monotonic() + 30
    while True:
        res = httpx.get(
            f"{run.base}/api/v1/tenants/{tenant}/calls?limit=200",
            headers={"Authorization": f"Bearer {session}"},
            timeout=10,
        )
        assert res.status_code == 200, res.text
        done = [c for c in res.json()["items"] if c["status"] != "processing"]
        if len(done) >= count or time.monotonic() > deadline:
            return done
        time.sleep(0.3)


@pytest.mark.timeout(300)  # make run starts every process, then one browser walk
def test_the_banners_login_shows_the_demo_tenants_sdk_calls(
    browser: Browser, tmp_path: Path
) -> None:
    env = stack_env(tmp_path)
    run = launch(env, tmp_path / "run.log")
    try:
        console = run.banner_value("console")
        email = run.banner_value("console email")
        password = run.banner_value("console password")
        token = run.banner_value("demo token")
        assert console == f"{run.base}/"
        assert (Path(env["JUNCTION_VAR_DIR"]) / "demo.token").read_text().strip() == token

        # the official SDK with the demo token, as the banner's snippet calls
        client = openai.OpenAI(api_key=token, base_url=f"{run.base}/v1", max_retries=0)
        messages: list[openai.types.chat.ChatCompletionMessageParam] = [
            {"role": "user", "content": "Hello"}
        ]
        raw = client.chat.completions.with_raw_response.create(model="demo", messages=messages)
        request_id = raw.headers["x-request-id"]
        assert raw.parse().choices[0].message.content
        assert client.chat.completions.create(model="demo", messages=messages).choices
        with client.chat.completions.create(model="demo", messages=messages, stream=True) as s:
            assert "".join(c.choices[0].delta.content or "" for c in s if c.choices)

        context = browser.new_context(base_url=console, viewport=DESKTOP)
        context.set_default_timeout(15_000)
        try:
            page = context.new_page()
            check = PageCheck(page)
            log_in(page, email, password)
            # the console admin owns the demo tenant
            demo = page.get_by_role("link", name="demo")
            expect(demo).to_contain_text("owner")
            href = demo.get_attribute("href")
            assert href is not None
            tenant = href.split("/")[2]
            login = httpx.post(
                f"{run.base}/api/v1/auth/login",
                json={"email": email, "password": password},
                timeout=10,
            )
            assert login.status_code == 200, login.text
            session = login.json()["token"]
            recorded = finished_calls(run, session, tenant, CALLS)
            assert len(recorded) == CALLS
            assert {c["status"] for c in recorded} == {"success"}
            demo.click()

            # the calls in the Usage chart and its table
            nav(page, "Usage")
            requests = page.get_by_role("region", name="Requests by model: totals", exact=True)
            expect(requests.get_by_role("row").filter(has_text="demo")).to_contain_text(str(CALLS))
            drawn = chart_sums(page, "chart-requests")
            assert drawn == [["demo", CALLS]]

            # and on the Calls page, made with the demo key; the first found by its request id
            nav(page, "Calls")
            calls = page.get_by_role("table", name="Calls")
            rows = calls.locator("tbody tr")
            expect(rows).to_have_count(CALLS)
            for i in range(CALLS):
                expect(rows.nth(i)).to_contain_text("success")
                expect(rows.nth(i).locator("td").nth(2)).to_have_text("demo")
            page.get_by_label("Request id", exact=True).fill(request_id)
            page.get_by_label("Request id", exact=True).press("Tab")
            settle(page)
            expect(rows).to_have_count(1)
            rows.first.get_by_role("link").click()
            expect(page.get_by_role("heading", level=1, name="Call detail")).to_be_visible()
            expect(page.locator("dl.facts")).to_contain_text(request_id)
            check.assert_no_console_errors()
        finally:
            context.close()
    finally:
        run.stop()
