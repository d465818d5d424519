"""Whatever is typed into the search box, PostgreSQL gets a valid query (no tsquery
syntax errors, no SQL from user text) and the owner scope holds."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from driftwood import library
from driftwood.query import parse_query

# Query-syntax characters weighted up, so the interesting cases come often.
TEXT = st.text(
    alphabet=st.one_of(st.sampled_from(list("\"'\\:&|!<>()*#-@ ")), st.characters()),
    max_size=60,
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(text=TEXT)
def test_any_search_text_runs_and_stays_in_scope(session, alice, bob, text):
    savepoint = session.begin_nested()  # each example starts from the same data
    # Bob's bookmark holds the very text searched for; Alice must still see only hers.
    library.create_bookmark(session, bob, url="https://bob.example/", title=text, notes=text)
    query = parse_query(text)
    page = library.list_bookmarks(session, library.owned_by(alice), query)
    own = library.list_bookmarks(session, library.owned_by(bob), query)
    library.count_bookmarks(session, library.public(), query)
    savepoint.rollback()
    assert page.bookmarks == []
    assert all(b.user_id == bob.id for b in own.bookmarks)
