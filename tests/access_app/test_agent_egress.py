"""Where an agent node's base_url may point (AGENTFIELD_AGENT_NETWORKS, decision 0015).

Address literals only: no DNS, and nothing is ever sent to these addresses.
"""

from __future__ import annotations

import pytest

from access_app.reach import BaseUrlRefused, base_url_check
from agentfield_site.env import EnvError, env_network_list
from tests.factories import node_body

ALLOWED = [
    "http://127.0.0.1:8101",
    "http://127.8.9.10",
    "http://[::1]:8101/",
    "https://10.0.0.5:443/agent",
    "http://172.16.0.1",
    "http://172.31.255.254",
    "http://192.168.1.20:9000",
    "http://[fd12:3456::1]:80",
    "http://localhost:8101",
]
REFUSED = [
    "http://169.254.169.254",  # the metadata address
    "http://169.254.10.1:80",  # link-local
    "http://[fe80::1]:80",
    "http://[fd00:ec2::254]",  # a metadata address inside fc00::/7
    "http://[::ffff:169.254.169.254]",  # the same, mapped into IPv6
    "http://8.8.8.8",  # public
    "http://172.32.0.1",  # just outside 172.16/12
    "http://0.0.0.0:8101",
    "http://[::]:8101",
    "http://127.0.0.1:8101/?next=x",
    "http://127.0.0.1:8101/?",
    "http://127.0.0.1:8101/#frag",
    "http://user:pw@127.0.0.1:8101",
    "http://user@127.0.0.1:8101",
    "ftp://127.0.0.1",
]


@pytest.mark.parametrize("url", ALLOWED)
def test_loopback_and_private_base_urls_are_allowed_by_default(url):
    base_url_check(url)


@pytest.mark.parametrize("url", REFUSED)
def test_link_local_metadata_public_and_decorated_base_urls_are_refused(url):
    with pytest.raises(BaseUrlRefused):
        base_url_check(url)


def test_the_setting_names_the_networks_and_never_admits_metadata(settings):
    settings.AGENTFIELD_AGENT_NETWORKS = ["127.0.0.0/8"]
    base_url_check("http://127.0.0.1:1")
    with pytest.raises(BaseUrlRefused):
        base_url_check("http://10.0.0.5")
    settings.AGENTFIELD_AGENT_NETWORKS = ["0.0.0.0/0", "::/0"]
    base_url_check("http://8.8.8.8")
    for url in ("http://169.254.169.254", "http://[fd00:ec2::254]", "http://[fe80::2]"):
        with pytest.raises(BaseUrlRefused):
            base_url_check(url)


def test_the_networks_setting_is_read_strictly():
    environ = {"AGENTFIELD_AGENT_NETWORKS": " 10.0.0.0/8 , ::1 "}
    assert env_network_list("AGENTFIELD_AGENT_NETWORKS", [], environ=environ) == [
        "10.0.0.0/8",
        "::1/128",
    ]
    for bad in ("10.0.0.1/8", "not-a-network"):
        with pytest.raises(EnvError):
            env_network_list(
                "AGENTFIELD_AGENT_NETWORKS", [], environ={"AGENTFIELD_AGENT_NETWORKS": bad}
            )


@pytest.mark.django_db
def test_registration_refuses_a_base_url_outside_the_networks(make_caller):
    agent = make_caller("agent", node_id="voice-support-af")
    for url in ("http://169.254.169.254/latest", "http://127.0.0.1:8101/?x=1"):
        response = agent.client().post(
            "/api/v1/nodes/register", node_body(base_url=url), format="json"
        )
        assert response.status_code == 400, url
        assert response.json()["error"] == "invalid_base_url"
