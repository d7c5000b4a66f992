"""The project's settings with ``bench.serving_urls``: the project's routes plus the floor."""

from agentfield_site.settings import *  # noqa: F403

ROOT_URLCONF = "bench.serving_urls"
