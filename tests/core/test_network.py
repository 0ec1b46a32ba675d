"""Which network a client counts as: /24 for IPv4, /64 for IPv6, IPv4-mapped as IPv4."""

import pytest

from tvdesk.core.network import network_of


@pytest.mark.parametrize(
    ("client", "network"),
    [
        ("10.0.0.1", "10.0.0.0/24"),
        ("203.0.113.255", "203.0.113.0/24"),
        ("::ffff:10.1.2.3", "10.1.2.0/24"),
        ("2001:db8:aa:bb:cc:dd:ee:ff", "2001:db8:aa:bb::/64"),
        ("fe80::1%eth0", "fe80::/64"),
        ("unknown", "unknown"),  # not an address (no peer): counted as it is
    ],
)
def test_network_of(client, network):
    assert network_of(client) == network
