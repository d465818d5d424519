"""Chapter 07 without an engine: the host's route to an address, a container's interfaces,
and how a PostgreSQL probe's reply reads."""

from ops.lessons.ch07 import describe_reply, interfaces, route_for

# /proc/net/route as this host has it: a default route, the default bridge, one network.
ROUTES = """\
Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0
docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0
br-569e12010ec9\t000014AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0
eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
"""

PROC_NET_DEV = """\
Inter-|   Receive                            |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets
    lo:       0       0    0    0    0     0          0         0        0       0
  eth0:    1296      16    0    0    0     0          0         0        0       0
"""


def test_the_longest_matching_prefix_names_the_interface() -> None:
    assert route_for("172.20.0.2", ROUTES) == "br-569e12010ec9"
    assert route_for("172.17.0.5", ROUTES) == "docker0"
    assert route_for("192.0.2.9", ROUTES) == "eth0"


def test_an_address_no_bridge_owns_goes_by_the_default_route() -> None:
    # A network whose bridge has no address (inhibit_ipv4) has no route of its own.
    assert route_for("172.27.0.2", ROUTES) == "eth0 (default route)"
    assert route_for("10.0.0.1", ROUTES.splitlines()[0]) == "no route"


def test_interfaces_are_read_after_the_two_header_lines() -> None:
    assert interfaces(PROC_NET_DEV) == ["lo", "eth0"]
    assert interfaces("\n".join(PROC_NET_DEV.splitlines()[:3])) == ["lo"]


def test_only_s_or_n_counts_as_postgresql() -> None:
    assert describe_reply("N") == "PostgreSQL answered 'N'"
    assert describe_reply("H") == "not PostgreSQL ('H')"  # a transparent proxy's HTTP reply
    assert describe_reply("") == "no answer"
