import pytest

from tests.access_app.harness import NODE


@pytest.fixture
def agent(make_caller):
    """An agent key bound to the default node."""
    return make_caller("agent", node_id=NODE, name="voice-agent")
