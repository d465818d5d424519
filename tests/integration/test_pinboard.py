"""The Pinboard v1 subset: XML and JSON shapes, result codes, auth_token, and isolation."""

import xml.etree.ElementTree as ET
from urllib.parse import urlencode

import pytest

from driftwood import library
from driftwood.api.tokens import create_token
from driftwood.models import Visibility


class Pinboard:
    def __init__(self, client, auth_token: str) -> None:
        self.client, self.auth_token = client, auth_token

    def get(self, method: str, **params: str):
        query = urlencode({"auth_token": self.auth_token, **params})
        return self.client.get(f"/api/v1/{method}?{query}")

    def xml(self, method: str, **params: str) -> ET.Element:
        response = self.get(method, **params)
        assert response.status_code == 200, response.text
        assert response.mimetype == "text/xml"
        assert response.text.startswith('<?xml version="1.0" encoding="UTF-8" ?>')
        return ET.fromstring(response.data)  # noqa: S314 - our own answer, under test

    def json(self, method: str, **params: str):
        response = self.get(method, format="json", **params)
        assert response.status_code == 200, response.text
        return response.get_json()


def pinboard_for(app, session, user) -> Pinboard:
    _, key = create_token(session, user, "pinboard")
    session.commit()
    return Pinboard(app.test_client(), f"{user.username}:{key}")


@pytest.fixture
def pin_alice(app, session, alice) -> Pinboard:
    return pinboard_for(app, session, alice)


@pytest.fixture
def pin_bob(app, session, bob) -> Pinboard:
    return pinboard_for(app, session, bob)


def test_auth_token_must_match_its_user(app, session, alice, bob) -> None:
    _, key = create_token(session, alice, "t")
    session.commit()
    client = app.test_client()
    assert client.get(f"/api/v1/posts/recent?auth_token=alice:{key}").status_code == 200
    assert client.get(f"/api/v1/posts/recent?auth_token=bob:{key}").status_code == 401
    assert client.get("/api/v1/posts/recent?auth_token=alice:wrong").status_code == 401
    assert client.get("/api/v1/posts/recent").status_code == 401
    token = client.get(f"/api/v1/user/api_token?auth_token=alice:{key}&format=json")
    assert token.get_json() == {"result": key}


def test_add_get_and_replace(pin_alice: Pinboard, session, alice) -> None:
    added = pin_alice.xml(
        "posts/add",
        url="https://example.org/post",
        description="A title",
        extended="A longer description",
        tags="python web",
        dt="2014-05-06T07:08:09Z",
        shared="no",
        toread="yes",
    )
    assert (added.tag, added.attrib) == ("result", {"code": "done"})
    again = pin_alice.json("posts/add", url="https://example.org/post", replace="no")
    assert again == {"result_code": "item already exists"}
    assert pin_alice.json("posts/add", description="no url") == {"result_code": "missing url"}
    bad = pin_alice.json("posts/add", url="javascript:alert(1)")
    assert bad["result_code"] == "only http:// and https:// URLs can be bookmarked"

    posts = pin_alice.xml("posts/get", url="https://example.org/post")
    assert (posts.tag, posts.attrib["user"], posts.attrib["dt"]) == ("posts", "alice", "2014-05-06")
    (post,) = posts
    assert post.attrib["href"] == "https://example.org/post"
    assert post.attrib["description"] == "A title"
    assert post.attrib["extended"] == "A longer description"
    assert post.attrib["tag"] == "python web"
    assert post.attrib["time"] == "2014-05-06T07:08:09Z"
    assert (post.attrib["shared"], post.attrib["toread"]) == ("no", "yes")
    assert len(post.attrib["hash"]) == len(post.attrib["meta"]) == 32

    pin_alice.xml("posts/add", url="https://example.org/post", description="New", shared="yes")
    bookmark = library.find_by_normalized_url(session, alice, "https://example.org/post")
    session.refresh(bookmark)
    assert (bookmark.title, bookmark.description, bookmark.tags) == ("New", "", [])
    assert bookmark.visibility is Visibility.PUBLIC
    day = pin_alice.json("posts/get", dt="2014-05-06")
    assert [p["description"] for p in day["posts"]] == ["New"]
    assert day["date"] == "2014-05-06T00:00:00Z"


def test_recent_all_update_and_delete(pin_alice: Pinboard, session, alice) -> None:
    for n in range(4):
        library.create_bookmark(
            session, alice, url=f"https://e{n}.example/", title=f"T{n}", tags=["even"] * (n % 2)
        )
    session.commit()
    recent = pin_alice.json("posts/recent", count="2")
    assert len(recent["posts"]) == 2
    assert recent["user"] == "alice"
    assert len(pin_alice.xml("posts/recent", tag="even")) == 2
    everything = pin_alice.json("posts/all")
    assert isinstance(everything, list)
    assert len(everything) == 4
    assert len(pin_alice.json("posts/all", start="1", results="2")) == 2
    assert pin_alice.json("posts/all", fromdt="2999-01-01T00:00:00Z") == []
    update = pin_alice.xml("posts/update")
    assert update.tag == "update"
    assert update.attrib["time"].endswith("Z")
    assert pin_alice.json("posts/update")["update_time"] == update.attrib["time"]
    assert pin_alice.json("posts/delete", url="https://e0.example") == {"result_code": "done"}
    assert pin_alice.json("posts/delete", url="https://e0.example") == {
        "result_code": "item not found"
    }
    assert len(pin_alice.json("posts/all")) == 3


def test_tags(pin_alice: Pinboard, session, alice) -> None:
    library.create_bookmark(session, alice, url="https://a.example/", tags=["py", "web"])
    library.create_bookmark(session, alice, url="https://b.example/", tags=["py"])
    session.commit()
    assert pin_alice.json("tags/get") == {"py": 2, "web": 1}
    tags = pin_alice.xml("tags/get")
    assert [(t.attrib["tag"], t.attrib["count"]) for t in tags] == [("py", "2"), ("web", "1")]
    renamed = pin_alice.xml("tags/rename", old="py", new="python")
    assert (renamed.tag, renamed.text) == ("result", "done")
    assert pin_alice.json("tags/rename", old="nope", new="x") == {"result": "tag not found"}
    assert pin_alice.json("tags/delete", tag="web") == {"result": "done"}
    assert pin_alice.json("tags/get") == {"python": 2}


def test_xml_survives_control_characters(pin_alice: Pinboard, session, alice) -> None:
    library.create_bookmark(session, alice, url="https://c.example/", title="bell\x07 & <b>")
    session.commit()
    (post,) = pin_alice.xml("posts/all")
    assert post.attrib["description"] == "bell & <b>"


def test_no_pinboard_call_reaches_another_users_bookmarks(
    pin_alice: Pinboard, pin_bob: Pinboard, session, alice
) -> None:
    secret = library.create_bookmark(
        session, alice, url="https://alice.example/secret", title="Secret", tags=["mine"]
    )
    library.create_bookmark(
        session, alice, url="https://alice.example/public", visibility=Visibility.PUBLIC
    )
    session.commit()
    assert pin_bob.json("posts/all") == []
    assert pin_bob.json("posts/recent")["posts"] == []
    assert pin_bob.json("posts/get", url="https://alice.example/secret")["posts"] == []
    assert pin_bob.json("posts/get", dt=secret.created_at.date().isoformat())["posts"] == []
    assert pin_bob.json("tags/get") == {}
    gone = pin_bob.json("posts/delete", url="https://alice.example/secret")
    assert gone == {"result_code": "item not found"}
    assert pin_bob.json("tags/rename", old="mine", new="bobs") == {"result": "tag not found"}
    pin_bob.json("tags/delete", tag="mine")
    pin_bob.json("posts/add", url="https://alice.example/secret", description="Bob's")
    session.refresh(secret)
    assert (secret.title, [t.name for t in secret.tags]) == ("Secret", ["mine"])
    assert len(pin_alice.json("posts/all")) == 2
