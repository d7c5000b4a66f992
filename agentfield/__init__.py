"""The AgentField Python SDK: agent nodes with reasoners, skills and sessions.

It talks to the control plane over HTTP and WebSockets only, and never imports Django.
"""

__version__ = "0.1.0"
