"""Alert endpoints: the tenant's webhook, a test event, and the delivery log."""

from __future__ import annotations

from sqlmodel import col

from junction_control.admin.access import requires
from junction_control.admin.errors import invalid_field
from junction_control.admin.pagination import keyset_page
from junction_control.admin.registry import Call, Router
from junction_control.admin.schemas import PageQuery
from junction_control.alerts import service
from junction_control.alerts.models import AlertEvent
from junction_control.alerts.schemas import (
    DeliveryOut,
    DeliveryPage,
    WebhookIn,
    WebhookOut,
    WebhookPatch,
    WebhookSecret,
)

router = Router("alerts")

_WEBHOOK = "/tenants/{tenant_id}/alerts/webhook"


@router.add(
    "POST",
    _WEBHOOK,
    summary="Set up the tenant's alert webhook; the response holds its secret, shown only once",
    permission=requires("tenants", "write"),
    body=WebhookIn,
    response=WebhookSecret,
    status=201,
)
async def create_webhook(call: Call) -> WebhookSecret:
    data = call.body(WebhookIn)
    try:
        created = await service.create_webhook(
            call.session,
            call.context.settings.keyring,
            call.context.settings.egress,
            call.access.current_tenant,
            url=data.url,
            thresholds=data.thresholds,
            enabled=data.enabled,
            user_id=call.access.user.id,
        )
    except service.InvalidField as exc:
        raise invalid_field(exc.field, exc.message) from None
    return WebhookSecret.with_secret(created.webhook, created.secret)


@router.add(
    "GET",
    _WEBHOOK,
    summary="The tenant's alert webhook (never its secret)",
    permission=requires("tenants", "read"),
    response=WebhookOut,
)
async def get_webhook(call: Call) -> WebhookOut:
    return WebhookOut.of(await service.require_webhook(call.session, call.access.tenant_id))


@router.add(
    "PATCH",
    _WEBHOOK,
    summary="Change the webhook's URL, thresholds or whether it is enabled",
    permission=requires("tenants", "write"),
    body=WebhookPatch,
    response=WebhookOut,
)
async def update_webhook(call: Call) -> WebhookOut:
    data = call.body(WebhookPatch)
    webhook = await service.require_webhook(call.session, call.access.tenant_id)
    try:
        await service.update_webhook(
            call.session,
            call.context.settings.egress,
            webhook,
            url=data.url,
            thresholds=data.thresholds,
            enabled=data.enabled,
            user_id=call.access.user.id,
        )
    except service.InvalidField as exc:
        raise invalid_field(exc.field, exc.message) from None
    return WebhookOut.of(webhook)


@router.add(
    "DELETE",
    _WEBHOOK,
    summary="Delete the webhook (events not delivered yet are cancelled)",
    permission=requires("tenants", "write"),
)
async def delete_webhook(call: Call) -> None:
    webhook = await service.require_webhook(call.session, call.access.tenant_id)
    await service.delete_webhook(call.session, webhook, user_id=call.access.user.id)


@router.add(
    "POST",
    f"{_WEBHOOK}/secret",
    summary="Give the webhook a new secret, shown only once; the old one stops signing",
    permission=requires("tenants", "write"),
    response=WebhookSecret,
)
async def rotate_webhook_secret(call: Call) -> WebhookSecret:
    webhook = await service.require_webhook(call.session, call.access.tenant_id)
    secret = await service.rotate_secret(
        call.session, call.context.settings.keyring, webhook, user_id=call.access.user.id
    )
    return WebhookSecret.with_secret(webhook, secret)


@router.add(
    "POST",
    f"{_WEBHOOK}/test",
    summary="Send a test event to the webhook (delivered like any alert)",
    permission=requires("tenants", "write"),
    response=DeliveryOut,
    status=202,
)
async def send_test_event(call: Call) -> DeliveryOut:
    webhook = await service.require_webhook(call.session, call.access.tenant_id)
    event = await service.queue_test_event(call.session, webhook, user_id=call.access.user.id)
    return DeliveryOut.of(event, [])


@router.add(
    "GET",
    "/tenants/{tenant_id}/alerts/deliveries",
    summary="The tenant's alert events, newest first, each with its delivery attempts",
    permission=requires("tenants", "read"),
    query=PageQuery,
    response=DeliveryPage,
)
async def list_deliveries(call: Call) -> DeliveryPage:
    rows, next_cursor = await keyset_page(
        call.session,
        service.events_query(call.access.tenant_id),
        at=col(AlertEvent.created_at),
        row_id=col(AlertEvent.id),
        key=lambda e: (e.created_at, e.id),
        page=call.query(PageQuery),
        descending=True,
    )
    attempts = await service.attempts_of(call.session, [e.id for e in rows])
    return DeliveryPage(
        items=[DeliveryOut.of(e, attempts[e.id]) for e in rows], next_cursor=next_cursor
    )


@router.add(
    "GET",
    "/tenants/{tenant_id}/alerts/deliveries/{delivery_id}",
    summary="One alert event with its delivery attempts",
    permission=requires("tenants", "read"),
    response=DeliveryOut,
)
async def get_delivery(call: Call) -> DeliveryOut:
    event = await service.get_event(call.session, call.access.tenant_id, call.path("delivery_id"))
    attempts = await service.attempts_of(call.session, [event.id])
    return DeliveryOut.of(event, attempts[event.id])
