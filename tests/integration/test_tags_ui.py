"""The tag page: counts, rename, merge, delete."""

from driftwood import library, tagging
from tests.integration.conftest import form_post


def test_counts_rename_merge_and_delete(session, client, alice, login):
    library.create_bookmark(session, alice, url="https://a.example/", tags=["py", "web"])
    library.create_bookmark(session, alice, url="https://b.example/", tags=["python"])
    login(client, alice)
    page = client.get("/tags/").get_data(as_text=True)
    assert "#py" in page
    assert "#python" in page

    def counts():
        session.expire_all()
        return {c.tag.name: c.count for c in tagging.tag_counts(session, alice)}

    py = tagging.get_tag(session, alice, "py")
    form_post(client, f"/tags/{py.id}/rename", {"name": "Python"})
    assert counts() == {"python": 2, "web": 1}
    web, python = tagging.get_tag(session, alice, "web"), tagging.get_tag(session, alice, "python")
    form_post(client, "/tags/merge", {"ids": [str(web.id), str(python.id)], "target": "dev"})
    assert counts() == {"dev": 2}
    dev = tagging.get_tag(session, alice, "dev")
    form_post(client, f"/tags/{dev.id}/delete")
    assert counts() == {}
    assert library.count_bookmarks(session, library.owned_by(alice)) == 2
