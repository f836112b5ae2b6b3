"""The one permission check of the admin API: `requires(obj, act)`.

Every endpoint declares a `Permission`; the registry runs it before the
handler, which then receives the resulting `Access`:

1. the bearer session token must name a live session of an enabled user
   (else 401 ``unauthenticated``);
2. on a tenant route (``/tenants/{tenant_id}/...``) the tenant must exist
   and the user must belong to it or be a platform admin — else 404, so a
   tenant's existence never leaks to outsiders;
3. Casbin must allow (user, tenant, obj, act) — else 403 ``forbidden``.
   With ``own=True`` a grant on ``<obj>:own`` is enough, and the handler is
   told (``Access.own_only``) to limit itself to the caller's own rows.

Refusals 2 and 3 leave a ``denied`` audit row naming the caller, what they
wanted and the tenant they aimed at (when it exists), so a tenant's trail
shows who knocked. The 404 itself stays the same whether or not it does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import Request

from junction_control.admin.errors import ApiError, forbidden, not_found, unauthenticated
from junction_control.audit.service import record_denial
from junction_control.auth.models import AdminSession
from junction_control.auth.service import session_user
from junction_control.rbac.authorizer import Authorizer
from junction_control.rbac.policy import ALL_DOMAINS
from junction_control.tenants.models import Tenant
from junction_control.users.models import Membership, User
from junction_control.users.service import memberships_of

TENANT_PARAM = "tenant_id"
# where the registry leaves the matched route's template (e.g. /api/v1/tenants/{tenant_id})
ROUTE_KEY = "junction.route"
MAX_BEARER_CHARS = 200


@dataclass(frozen=True, slots=True)
class Access:
    """Who is calling, in which tenant, and how far the permission reaches."""

    user: User
    session: AdminSession
    memberships: Sequence[Membership]
    authorizer: Authorizer
    tenant: Tenant | None = None
    own_only: bool = False

    @property
    def current_tenant(self) -> Tenant:
        """The tenant of a tenant route (never None there)."""
        if self.tenant is None:  # pragma: no cover - tenant routes always have one
            raise RuntimeError("not a tenant route")
        return self.tenant

    @property
    def tenant_id(self) -> str:
        """The id of the tenant of a tenant route."""
        return self.current_tenant.id

    def can(self, obj: str, act: str) -> bool:
        """Whether Casbin lets the caller `act` on `obj` in this route's tenant."""
        return self.authorizer.allowed(
            self.user.id,
            [(m.role, m.tenant_id) for m in self.memberships],
            is_platform_admin=self.user.is_platform_admin,
            domain=ALL_DOMAINS if self.tenant is None else self.tenant.id,
            obj=obj,
            act=act,
        )


@dataclass(frozen=True, slots=True)
class Permission:
    """What an endpoint needs: a session, and `act` on `obj` unless `obj` is None."""

    obj: str | None
    act: str = "read"
    own: bool = False

    async def authorize(
        self, request: Request, session: AsyncSession, authorizer: Authorizer
    ) -> Access:
        """The caller's Access; ApiError 401, 404 or 403 otherwise."""
        raw = _bearer(request)
        found = None if raw is None else await session_user(session, raw)
        if found is None:
            raise unauthenticated()
        admin_session, user = found
        memberships = await memberships_of(session, user.id)
        tenant: Tenant | None = None
        if TENANT_PARAM in request.path_params:
            tenant_id = str(request.path_params[TENANT_PARAM])
            tenant = await session.get(Tenant, tenant_id)
            member = any(m.tenant_id == tenant_id for m in memberships)
            if tenant is None or not (member or user.is_platform_admin):
                # looked up either way: the trail names the tenant; the caller learns nothing
                raise await denied(
                    request, session, user, tenant, self.wanted(), not_found("tenant")
                )
        access = Access(user, admin_session, memberships, authorizer, tenant)
        if self.obj is None or access.can(self.obj, self.act):
            return access
        if self.own and access.can(f"{self.obj}:own", self.act):
            return replace(access, own_only=True)
        raise await denied(request, session, user, tenant, self.wanted(), forbidden())

    def wanted(self) -> str:
        """What the permission asks for, as a denial row names it (``tokens:write``)."""
        return "session" if self.obj is None else f"{self.obj}:{self.act}"


async def denied(
    request: Request,
    session: AsyncSession,
    user: User,
    tenant: Tenant | None,
    wanted: str,
    error: ApiError,
    *,
    target: str | None = None,
) -> ApiError:
    """`error`, once its ``denied`` audit row is committed (call before writing anything).

    `target` names what was aimed at (default: the tenant, or the platform
    off tenant routes); the row goes to `tenant`'s trail.
    """
    await record_denial(
        session,
        user_id=user.id,
        tenant_id=None if tenant is None else tenant.id,
        target=target or ("tenant" if TENANT_PARAM in request.path_params else "platform"),
        wanted=wanted,
        method=request.method,
        route=str(request.scope.get(ROUTE_KEY, "")),
        path=request.url.path,
        status=error.status,
    )
    return error


def requires(obj: str, act: str, *, own: bool = False) -> Permission:
    """The permission to `act` (read, write, delete) on `obj` in the route's tenant."""
    return Permission(obj=obj, act=act, own=own)


def authenticated() -> Permission:
    """Any logged-in user (what they may see is then filtered by their memberships)."""
    return Permission(obj=None)


def _bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > MAX_BEARER_CHARS:
        return None
    return token
