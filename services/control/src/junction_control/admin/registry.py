"""The route registry of the admin API: one `Endpoint` per operation.

An endpoint states its method, path, permission and the models of its query,
body and response. The registry turns it into a Starlette route that, per
request: checks path ids, runs the permission (`admin.access`), parses the
query and body with their models (422 naming the field), calls the handler
in one database session, commits, and renders the handler's result through
the response model (a download's handler answers with its own streamed
Response instead). The OpenAPI document is built from the same endpoints,
so it describes exactly what runs.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from junction_control.admin.access import ROUTE_KEY, TENANT_PARAM, Access, Permission
from junction_control.admin.errors import ApiError, invalid_field, not_found
from junction_control.admin.owners import audit_reach
from junction_control.audit.actor import Actor
from junction_control.audit.service import record_by
from junction_control.context import AdminContext, admin_context
from junction_control.errors import NotFound
from junction_control.route_changes import take_changed

M = TypeVar("M", bound=BaseModel)
Handler = Callable[["Call"], Awaitable[BaseModel | Response | None]]

MAX_BODY_BYTES = 1_000_000
# ids are UUIDs here, but anything id-like is looked up (and simply not found)
_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_PARAM_RE = re.compile(r"{(\w+)}")


@dataclass(frozen=True, slots=True)
class Call:
    """What a handler gets: the request, its session, the caller and the parsed input."""

    request: Request
    session: AsyncSession
    context: AdminContext
    access_: Access | None
    body_: BaseModel | None
    query_: BaseModel | None
    permission_: Permission | None = None

    @property
    def access(self) -> Access:
        """The caller (every endpoint but the public ones has one)."""
        if self.access_ is None:  # pragma: no cover - public endpoints do not ask
            raise RuntimeError("this endpoint is public")
        return self.access_

    def body(self, model: type[M]) -> M:
        """The parsed body, typed as the endpoint's body model."""
        if not isinstance(self.body_, model):  # pragma: no cover - registry invariant
            raise TypeError(f"the body of this endpoint is not a {model.__name__}")
        return self.body_

    def query(self, model: type[M]) -> M:
        """The parsed query, typed as the endpoint's query model."""
        if not isinstance(self.query_, model):  # pragma: no cover - registry invariant
            raise TypeError(f"the query of this endpoint is not a {model.__name__}")
        return self.query_

    def path(self, name: str) -> str:
        """A path parameter."""
        return str(self.request.path_params[name])

    async def audit_reach(self, name: str, value: str, *, status: int = 422) -> None:
        """Audit a body id (`name` as a path would call it) that named another tenant's row.

        Call it before raising the caller's error, and before writing: it
        rolls the session back and commits the ``denied`` row alone.
        """
        if self.permission_ is not None:
            wanted = self.permission_.wanted()
            await audit_reach(
                self.request, self.session, self.access, wanted, [(name, value)], status=status
            )

    @property
    def actor(self) -> Actor:
        """The caller as the author of this request's writes."""
        return Actor.api(self.access.user.id)

    async def audit(
        self,
        action: str,
        object_type: str,
        object_id: str | None,
        *,
        tenant_id: str | None = None,
        **details: Any,
    ) -> None:
        """Append the audit row of this write (committed with it); `details` hold no secret."""
        access = self.access
        await record_by(
            self.session,
            self.actor,
            tenant_id=tenant_id or (access.tenant.id if access.tenant else None),
            action=action,
            object_type=object_type,
            object_id=object_id,
            **details,
        )


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One operation of the admin API."""

    method: str
    path: str  # under /api/v1, e.g. "/tenants/{tenant_id}/tokens"
    handler: Handler
    summary: str
    tag: str
    permission: Permission | None  # None: public
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None  # None: 204 No Content, unless `produces`
    # a download (e.g. "text/csv"): the handler answers with a Response of this type
    produces: str | None = None
    status: int = 200
    errors: tuple[int, ...] = ()  # error statuses beyond those the shape implies

    @property
    def path_params(self) -> list[str]:
        """Names of the path parameters, in order."""
        return _PARAM_RE.findall(self.path)

    @property
    def operation_id(self) -> str:
        """The handler's name, unique across the API."""
        return self.handler.__name__

    def route(self) -> Route:
        """The Starlette route running this endpoint."""

        async def run(request: Request) -> Response:
            return await self._run(request)

        return Route(self.path, run, methods=[self.method], name=self.operation_id)

    async def _run(self, request: Request) -> Response:
        for name in self.path_params:
            if not _ID_RE.match(str(request.path_params[name])):
                raise not_found(name.removesuffix("_id"))
        ctx = admin_context(request)
        request.scope[ROUTE_KEY] = str(request.scope.get("root_path", "")) + self.path
        async with ctx.database.session() as session:
            access = None
            if self.permission is not None:
                access = await self.permission.authorize(request, session, ctx.authorizer)
            query = None if self.query is None else _parse_query(self.query, request)
            body = None if self.body is None else await _parse_body(self.body, request)
            # a write notes the routes it changes itself (its service's unit of work)
            try:
                result = await self.handler(
                    Call(request, session, ctx, access, body, query, self.permission)
                )
            except (NotFound, ApiError) as exc:
                if access is not None and (isinstance(exc, NotFound) or exc.status == 404):
                    await self._audit_reach(request, session, access)
                raise
            await session.commit()
            await ctx.route_changes.publish(await take_changed(session))
        if self.produces is not None and isinstance(result, Response):
            return result
        if self.response is None:
            return Response(status_code=204)
        if not isinstance(result, self.response):  # pragma: no cover - registry invariant
            raise TypeError(f"{self.operation_id} returned {type(result).__name__}")
        return JSONResponse(result.model_dump(mode="json"), status_code=self.status)

    async def _audit_reach(self, request: Request, session: AsyncSession, access: Access) -> None:
        """Audit a 404 that hides another's row named by a path id (`owners.audit_reach`)."""
        if self.permission is not None:
            ids = [(n, str(request.path_params[n])) for n in self.path_params if n != TENANT_PARAM]
            await audit_reach(request, session, access, self.permission.wanted(), ids)


@dataclass(slots=True)
class Router:
    """The endpoints of one domain, declared with decorators."""

    tag: str
    endpoints: list[Endpoint] = field(default_factory=list)

    def add(
        self,
        method: str,
        path: str,
        *,
        summary: str,
        permission: Permission | None,
        body: type[BaseModel] | None = None,
        query: type[BaseModel] | None = None,
        response: type[BaseModel] | None = None,
        produces: str | None = None,
        status: int = 200,
        errors: tuple[int, ...] = (),
    ) -> Callable[[Handler], Handler]:
        """Register the decorated handler as an endpoint."""
        if "{tenant_id}" in path and (permission is None or permission.obj is None):
            raise ValueError(f"{method} {path}: a tenant route needs requires(obj, act)")

        def register(handler: Handler) -> Handler:
            self.endpoints.append(
                Endpoint(
                    method=method,
                    path=path,
                    handler=handler,
                    summary=summary,
                    tag=self.tag,
                    permission=permission,
                    body=body,
                    query=query,
                    response=response,
                    produces=produces,
                    status=204 if response is None and produces is None else status,
                    errors=errors,
                )
            )
            return handler

        return register


def _parse_query(model: type[M], request: Request) -> M:
    try:
        return model.model_validate(dict(request.query_params))
    except ValidationError as exc:
        raise _field_error(exc) from None


async def _parse_body(model: type[M], request: Request) -> M:
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise ApiError(413, "payload_too_large", "the body is too large")
    if not body.strip():
        raise ApiError(400, "invalid_request", "a JSON body is required")
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        raise _field_error(exc) from None


def _field_error(exc: ValidationError) -> ApiError:
    # only the location and pydantic's message: the input value may be a secret
    first: dict[str, Any] = dict(exc.errors(include_url=False, include_input=False)[0])
    loc = ".".join(str(part) for part in first["loc"])
    if first["type"] == "json_invalid":
        return ApiError(400, "invalid_request", "the body is not valid JSON")
    if not loc:
        return ApiError(422, "invalid_request", f"body: {first['msg']}", field="body")
    return invalid_field(loc, str(first["msg"]))
