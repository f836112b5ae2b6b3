"""One real stack and one browser for the console tests (Caddy serves the console)."""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.conftest import unavailable
from tests.console.browser import DESKTOP, PageCheck, screenshot_dir
from tests.support.stack import Stack

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


@dataclass
class AdminApi:
    """The admin API as the platform admin, for setting up what a test starts from."""

    client: httpx.Client

    def call(self, method: str, path: str, body: Any = None) -> Any:
        res = self.client.request(method, "/api/v1" + path, json=body)
        assert res.status_code < 300, (method, path, res.status_code, res.text)
        return None if res.status_code == 204 else res.json()

    def tenant_id(self, name: str) -> str:
        items = self.call("GET", "/tenants?limit=200")["items"]
        return next(t["id"] for t in items if t["name"] == name)


@pytest.fixture(scope="package")
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
        # a revoked token must stop working within about a second; one failed
        # attempt opens a breaker, so the provider health page has one to show
        s.start_engine(
            extra_env={"JUNCTION_ROUTE_TTL_SECONDS": "1", "JUNCTION_BREAKER_FAILURES": "1"}
        )
        s.start_caddy()
        yield s
    except Exception:
        print(s.logs())
        raise
    finally:
        s.stop()


@pytest.fixture(scope="package")
def admin_api(stack: Stack) -> Iterator[AdminApi]:
    with httpx.Client(base_url=stack.public_url, timeout=10) as client:
        login = client.post(
            "/api/v1/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        )
        assert login.status_code == 200, login.text
        client.headers["Authorization"] = f"Bearer {login.json()['token']}"
        yield AdminApi(client)


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """Chromium, for the package's stack or one a test starts itself (`make run`)."""
    if not Path(CHROMIUM).exists():
        unavailable("chromium")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Browser, stack: Stack) -> Iterator[Page]:
    context = browser.new_context(
        base_url=stack.public_url, viewport=DESKTOP, accept_downloads=True
    )
    context.set_default_timeout(10_000)
    pg = context.new_page()
    yield pg
    context.close()


@pytest.fixture
def check(page: Page) -> PageCheck:
    return PageCheck(page)


@pytest.fixture(scope="package")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return screenshot_dir(tmp_path_factory.mktemp("console-screenshots"))


@pytest.fixture
def browser_page_dark(browser: Browser, stack: Stack) -> Iterator[Page]:
    """A page whose system setting asks for the dark theme."""
    context = browser.new_context(base_url=stack.public_url, color_scheme="dark")
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()
