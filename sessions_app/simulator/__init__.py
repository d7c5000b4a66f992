"""A local, deterministic simulator of the OpenAI Realtime WebSocket API, for tests and demos."""

from sessions_app.simulator.openai_realtime import SAY_PREFIX
from sessions_app.simulator.server import ProviderSimulator, SimulatorHandle, running_simulator

__all__ = ["SAY_PREFIX", "ProviderSimulator", "SimulatorHandle", "running_simulator"]
