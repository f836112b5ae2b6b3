"""Every table of the control plane, imported in one place.

Alembic's env.py and the tests import this module so `SQLModel.metadata`
knows the whole schema.
"""

from sqlmodel import SQLModel

from junction_control.models.models import AiModel, Deployment
from junction_control.providers.models import Credential, Provider
from junction_control.tenants.models import Tenant
from junction_control.tokens.models import UserToken
from junction_control.usage.models import ModelCall

metadata = SQLModel.metadata

__all__ = [
    "AiModel",
    "Credential",
    "Deployment",
    "ModelCall",
    "Provider",
    "Tenant",
    "UserToken",
    "metadata",
]
