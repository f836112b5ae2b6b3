"""The web console, driven in a real browser through Caddy against the real stack."""

from __future__ import annotations

import secrets
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.conftest import unavailable
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ADMIN_EMAIL = "admin@console.test"
ADMIN_PASSWORD = "console-" + secrets.token_urlsafe(12)
TENANT = "console"

CONFIG = """
tenants:
  - name: console
    providers:
      - name: mock-openai
        type: openai
        base_url: {mock}/v1
        keys: [{{name: default, value: env:JUNCTION_MOCK_KEY}}]
    models:
      - name: demo
        pricing: {{input_per_mtok: 1.0, output_per_mtok: 2.0}}
        deployments: [{{provider: mock-openai, model: mock-gpt}}]
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if shutil.which("caddy") is None:
        unavailable("caddy")
    if not Path(CHROMIUM).exists():
        unavailable("chromium")
    s = Stack(workdir=tmp_path_factory.mktemp("console-stack"))
    config = s.workdir / "junction.yaml"
    config.write_text(CONFIG.format(mock=s.mock_url))
    try:
        s.start_mock()
        s.run_cli("migrate")
        s.apply(config)
        created = s.run_cli(
            "user",
            "create",
            "--email",
            ADMIN_EMAIL,
            "--password-env",
            "CONSOLE_ADMIN_PASSWORD",
            "--platform-admin",
            env=s.env() | {"CONSOLE_ADMIN_PASSWORD": ADMIN_PASSWORD},
        )
        assert created.returncode == 0, created.stderr
        s.start_control()
        # a revoked token must stop working within about a second
        s.start_engine(extra_env={"JUNCTION_ROUTE_TTL_SECONDS": "1"})
        s.start_caddy()
        yield s
    except Exception:
        print(s.logs())
        raise
    finally:
        s.stop()


@pytest.fixture(scope="module")
def browser(stack: Stack) -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Browser, stack: Stack) -> Iterator[Page]:
    context = browser.new_context(base_url=stack.public_url)
    context.set_default_timeout(10_000)
    pg = context.new_page()
    yield pg
    context.close()


def log_in(page: Page) -> None:
    page.goto("/")
    page.get_by_label("Email").fill(ADMIN_EMAIL)
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Your tenants")).to_be_visible()


def open_tenant_page(page: Page, section: str) -> None:
    log_in(page)
    page.get_by_role("link", name=TENANT).click()
    page.get_by_role("navigation").get_by_role("link", name=section).click()
    expect(page.get_by_role("heading", level=1, name=section)).to_be_visible()


def chat(stack: Stack, key: str) -> str:
    client = openai.OpenAI(api_key=key, base_url=f"{stack.public_url}/v1", max_retries=0)
    reply = client.chat.completions.create(
        model="demo", messages=[{"role": "user", "content": "hello"}]
    )
    return reply.choices[0].message.content or ""


def status_of(stack: Stack, key: str) -> int:
    """200 when a chat completion with `key` works, else the HTTP status of the refusal."""
    try:
        chat(stack, key)
    except openai.APIStatusError as exc:
        return exc.status_code
    return 200


def test_a_wrong_password_is_refused_with_an_alert(page: Page) -> None:
    page.goto("/")
    page.get_by_label("Email").fill(ADMIN_EMAIL)
    page.get_by_label("Password").fill("not-the-password-at-all")
    page.get_by_role("button", name="Log in").click()

    alert = page.get_by_role("alert")
    expect(alert).to_be_visible()
    assert alert.inner_text().strip()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()


def test_a_console_created_token_works_until_it_is_revoked(
    page: Page, stack: Stack, tmp_path: Path
) -> None:
    open_tenant_page(page, "Tokens")
    page.get_by_label("Name", exact=True).fill("from-console")
    page.get_by_label("Models (comma-separated, empty = all)").fill("demo")
    page.get_by_label("Requests per minute").fill("100")
    page.get_by_role("button", name="Create token").click()

    expect(page.get_by_text("It is shown only once")).to_be_visible()
    raw = page.locator("#new-token").input_value()
    assert raw
    row = page.get_by_role("row").filter(has_text="from-console")
    expect(row).to_contain_text("demo")
    expect(row).to_contain_text("100 rpm")
    expect(row).to_contain_text("active")
    page.screenshot(path=str(tmp_path / "tokens.png"), full_page=True)

    assert chat(stack, raw)

    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Revoke from-console").click()
    expect(row).to_contain_text("revoked")

    # engines notice the revocation once their cached route expires (1 s here)
    deadline = time.monotonic() + 15
    while (status := status_of(stack, raw)) == 200 and time.monotonic() < deadline:
        time.sleep(0.3)
    assert status == 401

    page.get_by_role("link", name="Usage").click()
    expect(page.get_by_role("heading", level=1, name="Usage")).to_be_visible()
    usage = page.get_by_role("table", name="Usage per model, last 24 hours")
    expect(usage.get_by_role("row").filter(has_text="demo")).to_be_visible()
    calls = page.get_by_role("table", name="Recent calls")
    expect(calls.get_by_role("row").filter(has_text="success").first).to_be_visible()
    page.get_by_role("button", name="Last 7 days").click()
    expect(page.get_by_role("table", name="Usage per model, last 7 days")).to_be_visible()
    page.screenshot(path=str(tmp_path / "usage.png"), full_page=True)


def test_the_providers_page_never_shows_a_key(page: Page, stack: Stack) -> None:
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
    for secret in (key, stack.mock_key):
        assert secret not in page.content()
        assert secret not in page.locator("body").inner_text()
    assert key_input.input_value() == ""


def test_a_model_created_in_the_console_lists_its_deployment_and_pricing(page: Page) -> None:
    open_tenant_page(page, "Models")
    expect(page.get_by_role("row").filter(has_text="demo")).to_contain_text("mock-gpt")
    page.get_by_label("Public name").fill("console-model")
    page.get_by_label("Provider").select_option(label="mock-openai (openai)")
    page.get_by_label("Upstream model").fill("mock-gpt-mini")
    page.get_by_label("Input $ / M tokens", exact=True).fill("0.5")
    page.get_by_label("Output $ / M tokens").fill("1.5")
    page.get_by_role("button", name="Create model").click()

    row = page.get_by_role("row").filter(has_text="console-model")
    expect(row).to_contain_text("mock-openai → mock-gpt-mini")
    expect(row).to_contain_text("$0.50 in")
    expect(row).to_contain_text("$1.50 out")


def test_logging_out_returns_to_the_login_page(page: Page) -> None:
    log_in(page)
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    page.goto("/#/tenants")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
