"""Names both planes use in the shared Redis.

The engine caches routes under `ROUTE_KEY_PREFIX + token_hash`; when a key
changes (revoked, edited, deleted), the control plane deletes that entry and
publishes the token hash on `ROUTES_CHANGED_CHANNEL`, and every engine
replica forgets its in-process copy.
"""

ROUTE_KEY_PREFIX = "junction:route:v1:"
ROUTES_CHANGED_CHANNEL = "junction:routes:changed"
