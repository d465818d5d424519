"""Chapter 12's reading of containerd's and runc's own listings (no engine needed)."""

from ops.lessons.ch12 import pids_by_id

CTR_TASKS = """\
TASK                                                                PID      STATUS
35a137b72a3ea76e42d705bd400f8dc6251cd741ffe5845b02ebe7a94fcbdeda    25997    RUNNING
74b22c52132d3e5406e7eca32c8a752344e4cdb044e6eb3505a4cd645b934c8a    12125    RUNNING
"""
ID = "35a137b72a3ea76e42d705bd400f8dc6251cd741ffe5845b02ebe7a94fcbdeda"
RUNC_LIST = f"""\
ID{" " * 65}PID    STATUS   BUNDLE  CREATED               OWNER
{ID}   25997  running  /run/x  2026-11-29T01:48:46Z  root
"""


def test_ids_map_to_pids_and_the_header_is_skipped() -> None:
    tasks = pids_by_id(CTR_TASKS)
    assert tasks == {
        "35a137b72a3ea76e42d705bd400f8dc6251cd741ffe5845b02ebe7a94fcbdeda": "25997",
        "74b22c52132d3e5406e7eca32c8a752344e4cdb044e6eb3505a4cd645b934c8a": "12125",
    }
    runc = pids_by_id(RUNC_LIST)
    assert runc == {ID: "25997"}


def test_no_containers_is_an_empty_map() -> None:
    assert pids_by_id("ID   PID   STATUS\n") == {}
    assert pids_by_id("") == {}
