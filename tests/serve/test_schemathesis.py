"""Property-based requests generated from the app's own OpenAPI spec (schemathesis), inside
and outside the schema, to every endpoint of every kind: none may answer 5xx."""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from rnnkit.serve import Limits, create_app

EXAMPLES = 5          # per endpoint and mode: seconds, not minutes


@pytest.mark.parametrize("kind", ["sequential", "forecaster", "hybrid", "classifier",
                                  "generator", "translator"])
def test_no_generated_request_gets_a_server_error(model_dirs, kind):
    limits = Limits(max_batch=4, max_steps=16, max_generate=20, max_forecast=20,
                    max_history=64, max_text=40, max_beam=3, max_sessions=50)
    app = create_app(model_dirs[kind], limits=limits)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/predict", "/forecast", "/sessions"}
    # the endpoints of this kind, and one of another kind (its answer is a 409)
    own = set(app.state.server.endpoints()) | {"/translate" if kind != "translator"
                                               else "/forecast"}
    operations = [op for op in operations if op.path.split("/{")[0] in own]
    seen = set()
    for op in operations:
        has_body = op.method.lower() == "post" and op.path != "/sessions"
        # outside the schema means a wrong body: only the operations that take one
        modes = [GenerationMode.POSITIVE] + [GenerationMode.NEGATIVE] * has_body
        for mode in modes:
            @given(case=op.as_strategy(generation_mode=mode))
            @settings(max_examples=EXAMPLES, deadline=None, database=None,
                      suppress_health_check=list(HealthCheck))
            def call(case):
                response = case.call()
                seen.add(response.status_code)
                assert response.status_code < 500, (case.method, case.path, case.body,
                                                    response.text[:500])
            call()
    assert seen & {200, 201, 204}, seen          # some requests were served, not all refused
