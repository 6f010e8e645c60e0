"""The one server-error rule of the protocol, as a schemathesis check: a 5xx
is only ever a run that failed or was cancelled, answered with its Handler."""

import schemathesis


@schemathesis.check
def server_errors_are_failed_handlers(ctx, response, case):
    if response.status_code < 500:
        return None
    try:
        body = response.json()
    except ValueError:
        body = None
    ok = isinstance(body, dict) and body.get("status") in ("failed", "cancelled") and "handler_id" in body
    assert ok, f"{response.status_code} that is not a failed or cancelled Handler: {response.text[:300]}"
    return None
