"""A local, deterministic simulator of OpenAI Realtime and OpenRouter audio, for tests and demos."""

from provider_simulator.scripting import SAY_PREFIX
from provider_simulator.server import ProviderSimulator, SimulatorHandle, running_simulator

__all__ = ["SAY_PREFIX", "ProviderSimulator", "SimulatorHandle", "running_simulator"]
