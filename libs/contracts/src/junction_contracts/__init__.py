"""The engine <-> control contract.

Both planes import this package and nothing else of each other: versioned,
serialisable route and telemetry schemas, request signing for the internal
API, and sealing of provider keys on their way to the engine.
"""

from junction_contracts.errors import ContractError, SignatureError
from junction_contracts.route import (
    CONTRACT_VERSION,
    CredentialRoute,
    DeploymentRoute,
    ModelRoute,
    Pricing,
    ProviderRoute,
    Route,
    TokenRoute,
)

__all__ = [
    "CONTRACT_VERSION",
    "ContractError",
    "CredentialRoute",
    "DeploymentRoute",
    "ModelRoute",
    "Pricing",
    "ProviderRoute",
    "Route",
    "SignatureError",
    "TokenRoute",
]
