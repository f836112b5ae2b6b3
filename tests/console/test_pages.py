"""Every console page, as the platform admin, in light and dark, on a desktop and a phone."""

from __future__ import annotations

from pathlib import Path

import openai
import pytest
from playwright.sync_api import Page, expect

from tests.console.browser import PageCheck, go, log_in, photograph, set_theme
from tests.console.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, TENANT, AdminApi
from tests.console.test_journey import wait_for_calls
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e


def test_every_page_is_readable_accessible_and_fits_a_phone(
    page: Page, stack: Stack, admin_api: AdminApi, check: PageCheck, shots: Path
) -> None:
    tenant = admin_api.tenant_id(TENANT)
    key = admin_api.call("POST", f"/tenants/{tenant}/tokens", {"name": "pages-app"})["token"]
    client = openai.OpenAI(api_key=key, base_url=f"{stack.public_url}/v1", max_retries=0)
    client.chat.completions.create(model="demo", messages=[{"role": "user", "content": "hi"}])
    call = wait_for_calls(admin_api, tenant, 1)[0]
    provider = admin_api.call("GET", f"/tenants/{tenant}/providers")["items"][0]
    model = admin_api.call("GET", f"/tenants/{tenant}/ai-models")["items"][0]

    page.goto("/")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    photograph(check, "login", shots)
    log_in(page, ADMIN_EMAIL, ADMIN_PASSWORD)
    photograph(check, "tenants", shots)
    base = f"#/t/{tenant}"
    for name, path, heading in [
        ("usage", f"{base}/usage", "Usage"),
        ("calls", f"{base}/calls", "Calls"),
        ("call-detail", f"{base}/calls/{call['id']}", "Call detail"),
        ("keys", f"{base}/keys", "Keys"),
        ("models", f"{base}/models", "Models"),
        ("model-detail", f"{base}/models/{model['id']}", f"Model {model['name']}"),
        ("providers", f"{base}/providers", "Providers"),
        ("provider-detail", f"{base}/providers/{provider['id']}", f"Provider {provider['name']}"),
        ("members", f"{base}/members", "Members"),
        ("credits", f"{base}/credits", "Credits"),
        ("audit", f"{base}/audit", "Audit log"),
        ("settings", f"{base}/settings", "Settings"),
    ]:
        go(page, path, heading)
        photograph(check, name, shots)
        assert (shots / f"{name}-phone-dark.png").stat().st_size > 0
    check.assert_no_console_errors()


def test_the_theme_follows_the_system_until_one_is_chosen(browser_page_dark: Page) -> None:
    page = browser_page_dark
    page.goto("/")
    background = "() => getComputedStyle(document.documentElement).backgroundColor"
    dark = page.evaluate(background)
    set_theme(page, "light")
    assert page.evaluate(background) != dark
    page.reload()
    expect(page.get_by_label("Theme")).to_have_value("light")
    page.get_by_label("Theme").select_option("system")
    assert page.evaluate(background) == dark
