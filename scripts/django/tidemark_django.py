"""Request context for tidemark in Django, without touching transactions.

The context (who, which request, why) travels as a transactional logical
message (prefix 'tidemark') inside the transaction that writes, so it is
journaled with the changes and vanishes with them on rollback. Nothing here
opens, commits or rolls back a transaction of the application, or asks for
ATOMIC_REQUESTS:

- inside a transaction (atomic blocks, ATOMIC_REQUESTS, TestCase): the
  message is sent once, just before the transaction's first write;
- a write in autocommit mode: the message and that one statement go
  together in a transaction of their own, which is what autocommit would
  have made of the statement anyway (it commits or fails with it).

The once-per-transaction mark is a transaction-local setting in
PostgreSQL (set_config(..., true)), so it ends with the transaction,
whatever ends it. The message needs no function in the database, so the
test database of `manage.py test` works as it is.

    MIDDLEWARE = [..., "django.contrib.auth.middleware.AuthenticationMiddleware",
                  "tidemark_django.TidemarkContextMiddleware", ...]

    # a migration, a job, a shell:
    with tidemark_django.context(reason="migration 0042", user="deploy-bot"):
        ...
"""
import contextlib
import json
import re

from django.db import connections, transaction

_WRITE = re.compile(r"^\s*(?:WITH\b.*\b)?(?:INSERT|UPDATE|DELETE|MERGE|TRUNCATE)\b",
                    re.IGNORECASE | re.DOTALL)

# Sends the message unless this transaction has one already; jsonb adds the
# database role, as scripts/context.sql does.
_LABEL_SQL = (
    "SELECT pg_logical_emit_message(true, 'tidemark', "
    "(jsonb_build_object('db_user', session_user::text) || %s::jsonb)::text), "
    "set_config('tidemark.context_sent', 'on', true) "
    "WHERE coalesce(current_setting('tidemark.context_sent', true), '') <> 'on'"
)


class _Labeller:
    """An execute_wrapper: labels the transaction of each write."""

    def __init__(self, ctx):
        self._ctx = ctx  # a dict, or a callable returning one (read at the first write)
        self._payload = None

    def payload(self):
        if self._payload is None:
            ctx = self._ctx() if callable(self._ctx) else self._ctx
            self._payload = json.dumps({k: v for k, v in ctx.items() if v is not None})
        return self._payload

    def __call__(self, execute, sql, params, many, context):
        conn = context["connection"]
        if not _WRITE.match(sql):
            return execute(sql, params, many, context)
        if conn.in_atomic_block:
            self._label(conn)
            return execute(sql, params, many, context)
        # Autocommit: the statement and its label in one transaction, as the
        # statement alone would have been.
        with transaction.atomic(using=conn.alias):
            self._label(conn)
            return execute(sql, params, many, context)

    def _label(self, conn):
        payload = self.payload()
        with conn.cursor() as cur:
            cur.execute(_LABEL_SQL, [payload])


@contextlib.contextmanager
def context(using=None, **ctx):
    """Labels every write on the PostgreSQL connections (or the one named
    by using) made inside the block with ctx."""
    labeller = _Labeller(ctx)
    conns = [connections[using]] if using else connections.all()
    with contextlib.ExitStack() as stack:
        for conn in conns:
            if conn.vendor == "postgresql":
                stack.enter_context(conn.execute_wrapper(labeller))
        yield


class TidemarkContextMiddleware:
    """Labels the writes of each request: user, request id, method and path.
    Put it after AuthenticationMiddleware."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        def ctx():
            user = getattr(request, "user", None)
            name = user.get_username() if user is not None and user.is_authenticated else None
            return {"user": name, "request": request.headers.get("X-Request-Id"),
                    "method": request.method, "path": request.path}

        labeller = _Labeller(ctx)
        with contextlib.ExitStack() as stack:
            for conn in connections.all():
                if conn.vendor == "postgresql":
                    stack.enter_context(conn.execute_wrapper(labeller))
            return self.get_response(request)
