"""Every table of the control plane, imported in one place.

Alembic's env.py and the tests import this module so `SQLModel.metadata`
knows the whole schema.
"""

from sqlmodel import SQLModel

from junction_control.alerts.models import AlertAttempt, AlertEvent, AlertWebhook
from junction_control.audit.models import AuditEntry
from junction_control.auth.models import AdminSession
from junction_control.budgets.models import BudgetState
from junction_control.credits.models import CreditAccount, LedgerEntry
from junction_control.health.models import ProviderHealth
from junction_control.models.models import AiModel, Deployment
from junction_control.providers.models import Credential, Provider
from junction_control.tenants.models import Tenant, TenantBudget
from junction_control.tokens.models import UserToken
from junction_control.usage.coverage import RollupCoverage
from junction_control.usage.models import ModelCall, UsageHour, UsageRouteHour
from junction_control.users.models import Membership, User

metadata = SQLModel.metadata

__all__ = [
    "AdminSession",
    "AiModel",
    "AlertAttempt",
    "AlertEvent",
    "AlertWebhook",
    "AuditEntry",
    "BudgetState",
    "Credential",
    "CreditAccount",
    "Deployment",
    "LedgerEntry",
    "Membership",
    "ModelCall",
    "Provider",
    "ProviderHealth",
    "RollupCoverage",
    "Tenant",
    "TenantBudget",
    "UsageHour",
    "UsageRouteHour",
    "User",
    "UserToken",
    "metadata",
]
