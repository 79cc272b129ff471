"""Recording index (REC-3): the index fold, the access rule, search filters, notes, shares."""

from __future__ import annotations

import uuid
import wave
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from esl_controller import recording_access as access
from esl_controller.application import Pbx
from esl_controller.domain.recording_teams import RecordingOwner, TeamAccess, may_listen
from esl_controller.domain.recordings import Recording
from esl_controller.errors import ValidationError
from projections.recording_index import RecordingIndexProjection
from projections.tracking import Follower

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday, 10:00 in Amsterdam


def write_wav(path: Path, seconds: float) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(bytes(int(8000 * seconds) * 2))
    return path


def record(app: Pbx, tmp: Path, ext: str, other: str, at: datetime, seconds: float,
           kept: bool | None = None, mode: str = "always") -> Recording:
    user = app.user(None, ext)
    call_id = str(uuid.uuid4())
    path = write_wav(tmp / f"{call_id}.wav", min(seconds, 0.2))
    rec = Recording(call_id, user.enterprise_id, user.id, ext, other, "inbound", mode,
                    str(path), "90d", at)
    rec.stop(at + timedelta(seconds=seconds), seconds, "call-ended")
    if kept is True:
        rec.keep(at + timedelta(seconds=seconds))
    elif kept is False:
        rec.discard(at + timedelta(seconds=seconds))
    app.save(rec)
    return rec


@pytest.fixture
def app(db_url: str) -> Pbx:
    pbx = Pbx(db_url)
    pbx.create_enterprise("Acme", "acme.example")
    for ext, name in (("101", "Alice Jansen"), ("102", "Bob de Vries"), ("103", "Carol Smit"),
                      ("104", "Dirk Bakker")):
        pbx.add_user(None, ext, name)
    return pbx


@pytest.fixture
def sales(app: Pbx) -> Pbx:
    """Team Sales: 101 listens; 102 and 103 contribute; 104 is in no team."""
    access.add_team(app, None, "Sales")
    access.set_member(app, None, "Sales", "101", "listener")
    access.set_member(app, None, "Sales", "102", "contributor")
    access.set_member(app, None, "Sales", "103", "contributor")
    return app


def ids(found: list[object]) -> set[str]:
    return {r.recording_id for r in found}  # type: ignore[attr-defined]


# -- the access rule ----------------------------------------------------------------------------
USERS = [uuid.UUID(int=i) for i in range(1, 6)]
ENTERPRISES = [uuid.UUID(int=100), uuid.UUID(int=200)]
teams_strategy = st.lists(
    st.builds(
        lambda ent, li, co, n: TeamAccess(ent, f"t{n}", frozenset(li), frozenset(co)),
        st.sampled_from(ENTERPRISES), st.sets(st.sampled_from(USERS)),
        st.sets(st.sampled_from(USERS)), st.integers(0, 99)),
    max_size=4)


@settings(max_examples=300, deadline=None)
@given(teams=teams_strategy, listener=st.sampled_from(USERS), owner=st.sampled_from(USERS),
       ent=st.sampled_from(ENTERPRISES))
def test_a_contributor_never_hears_a_colleague_unless_listener_of_a_team_with_them(
        teams: list[TeamAccess], listener: uuid.UUID, owner: uuid.UUID, ent: uuid.UUID) -> None:
    heard = may_listen(listener, RecordingOwner(ent, owner), teams)
    if listener == owner:
        assert heard  # one's own recordings, always
        return
    allowed_by = [t for t in teams
                  if t.enterprise_id == ent and listener in t.listeners
                  and owner in t.contributors]
    assert heard == bool(allowed_by)
    # Being a contributor (anywhere) never adds anything on its own.
    only_contributing = [TeamAccess(t.enterprise_id, t.name, frozenset(),
                                    t.contributors | t.listeners) for t in teams]
    assert not may_listen(listener, RecordingOwner(ent, owner), only_contributing)


@settings(max_examples=200, deadline=None)
@given(teams=teams_strategy, asker=st.sampled_from(USERS))
def test_the_searchable_owners_are_exactly_those_may_listen_allows(
        teams: list[TeamAccess], asker: uuid.UUID) -> None:
    ent = ENTERPRISES[0]

    class Asker:
        id = asker
        enterprise_id = ent

    owners = access.audible_owners(Asker(), teams)  # type: ignore[arg-type]
    assert owners == {u for u in USERS if may_listen(asker, RecordingOwner(ent, u), teams)}


# -- search ---------------------------------------------------------------------------------
def test_listener_hears_the_team_contributors_only_and_contributors_their_own(
        sales: Pbx, tmp_path: Path) -> None:
    bob = record(sales, tmp_path, "102", "+31612345678", T0, 60)
    carol = record(sales, tmp_path, "103", "+31201111111", T0 + timedelta(hours=1), 30)
    dirk = record(sales, tmp_path, "104", "+31202222222", T0, 90)
    alice = record(sales, tmp_path, "101", "102", T0, 10)
    assert ids(access.search(sales, None, "101")) == {str(bob.id), str(carol.id),
                                                      str(alice.id)}
    assert ids(access.search(sales, None, "102")) == {str(bob.id)}
    assert ids(access.search(sales, None, "104")) == {str(dirk.id)}
    assert ids(access.search(sales, None, "101", team_name="sales")) == {str(bob.id),
                                                                         str(carol.id)}
    assert ids(access.search(sales, None, "103", team_name="Sales")) == {str(carol.id)}


def test_asking_for_a_colleague_one_may_not_hear_is_refused_and_recorded(
        sales: Pbx, tmp_path: Path) -> None:
    record(sales, tmp_path, "103", "+31201111111", T0, 30)
    before = sales.last_position()
    with pytest.raises(ValidationError, match="102 may not hear the recordings of 103"):
        access.search(sales, None, "102", user="103")
    with pytest.raises(ValidationError, match="104 is not a member of recording team 'Sales'"):
        access.search(sales, None, "104", team_name="Sales")
    refusals = [e for _p, e in sales.events_after(before)]
    assert [(type(e).__name__, e.extension, e.reason) for e in refusals] == [
        ("RecordingAccessRefused", "102", "not-a-listener"),
        ("RecordingAccessRefused", "104", "not-in-team"),
    ]


def test_filters_number_dates_duration(sales: Pbx, tmp_path: Path) -> None:
    early = record(sales, tmp_path, "102", "+31612345678", T0, 20)
    late = record(sales, tmp_path, "102", "+31201111111", T0 + timedelta(days=2), 300)
    # the number as people type it, national or E.164
    assert ids(access.search(sales, None, "101", number="06 1234 5678")) == {str(early.id)}
    assert ids(access.search(sales, None, "101", number="+31201111111")) == {str(late.id)}
    # days in the enterprise's time zone, --to included
    assert ids(access.search(sales, None, "101", date_from="2026-03-02",
                             date_to="2026-03-02")) == {str(early.id)}
    assert ids(access.search(sales, None, "101", date_from="2026-03-03")) == {str(late.id)}
    assert ids(access.search(sales, None, "101", min_seconds=60)) == {str(late.id)}
    assert ids(access.search(sales, None, "101", max_seconds=60)) == {str(early.id)}
    assert ids(access.search(sales, None, "101", user="102")) == {str(early.id), str(late.id)}


def test_labels_and_favourites_are_each_listeners_own(sales: Pbx, tmp_path: Path) -> None:
    bob = record(sales, tmp_path, "102", "+31612345678", T0, 20)
    other = record(sales, tmp_path, "102", "+31612345679", T0, 20)
    ref = str(bob.id)[:8]
    access.label(sales, None, "101", ref, "complaint")
    access.label(sales, None, "101", ref, "training")
    access.favourite(sales, None, "101", ref)
    assert ids(access.search(sales, None, "101", label="complaint")) == {str(bob.id)}
    assert ids(access.search(sales, None, "101", favourites=True)) == {str(bob.id)}
    # Bob sees his recording, but not Alice's labels or favourite on it
    [seen_by_bob] = [r for r in access.search(sales, None, "102") if r.recording_id == str(bob.id)]
    assert seen_by_bob.labels == () and not seen_by_bob.favourite
    assert access.search(sales, None, "102", label="complaint") == []
    access.label(sales, None, "101", ref, "complaint", remove=True)
    access.favourite(sales, None, "101", ref, remove=True)
    [row] = [r for r in access.search(sales, None, "101") if r.recording_id == str(bob.id)]
    assert row.labels == ("training",) and not row.favourite
    assert str(other.id) in ids(access.search(sales, None, "101"))


def test_labelling_what_one_may_not_hear_is_refused(sales: Pbx, tmp_path: Path) -> None:
    carol = record(sales, tmp_path, "103", "+31201111111", T0, 30)
    with pytest.raises(ValidationError, match="104 may not hear recording"):
        access.label(sales, None, "104", str(carol.id)[:8], "mine")
    assert access.search(sales, None, "101", label="mine") == []


def test_discarded_recordings_are_not_listed_and_purged_ones_say_so(
        sales: Pbx, tmp_path: Path) -> None:
    record(sales, tmp_path, "102", "+31612345678", T0, 20, kept=False, mode="on-demand")
    kept = record(sales, tmp_path, "102", "+31612345678", T0, 20, kept=True, mode="on-demand")
    old = record(sales, tmp_path, "102", "+31612345678", T0 - timedelta(days=100), 20)
    old.purge(T0, "retention")
    sales.save(old)
    found = {r.recording_id: r.state for r in access.search(sales, None, "102")}
    assert found == {str(kept.id): "kept", str(old.id): "purged"}


@pytest.mark.parametrize(("date_from", "date_to", "message"), [
    ("yesterday", None, "invalid --from 'yesterday'"),
    (None, "2026-13-01", "invalid --to '2026-13-01'"),
    ("2026-03-05", "2026-03-01", "reversed range"),
])
def test_bad_dates_are_refused_before_anything_is_read_or_written(
        sales: Pbx, date_from: str | None, date_to: str | None, message: str) -> None:
    before = sales.last_position()
    with pytest.raises(ValidationError, match=message):
        access.search(sales, None, "101", date_from=date_from, date_to=date_to)
    assert sales.last_position() == before


def test_team_membership_needs_a_user_and_a_role(sales: Pbx) -> None:
    with pytest.raises(ValidationError, match="no user with extension 199"):
        access.set_member(sales, None, "Sales", "199", "listener")
    with pytest.raises(ValidationError, match="already exists"):
        access.add_team(sales, None, "sales")
    with pytest.raises(ValidationError, match="no recording team 'Support'"):
        access.set_member(sales, None, "Support", "101", "listener")
    team, _user = access.remove_member(sales, None, "Sales", "103")
    assert sorted(ext for ext, _l, _c in team.members.values()) == ["101", "102"]


# -- the projection ---------------------------------------------------------------------------
def test_rebuilt_index_equals_the_live_one(sales: Pbx, tmp_path: Path) -> None:
    live = Follower(sales, RecordingIndexProjection())
    live.catch_up()  # live from the start ...
    bob = record(sales, tmp_path, "102", "+31612345678", T0, 20)
    access.label(sales, None, "101", str(bob.id)[:8], "complaint")
    access.favourite(sales, None, "101", str(bob.id)[:8])
    token, link = access.share(sales, None, "101", str(bob.id)[:8], now=T0)
    access.unshare(sales, None, "102", str(link.id)[:8])
    access.set_member(sales, None, "Sales", "103", "both")
    paused = record(sales, tmp_path, "103", "+31201111111", T0, 20)
    paused.purge(T0, "retention")
    sales.save(paused)
    live.catch_up()  # ... then in steps
    state = live.state()
    assert len(state["recording_index_recordings"]) == 2
    assert len(state["recording_index_labels"]) == 1
    assert [row[-4:] for row in state["recording_index_shares"]][0][1] is True  # revoked
    live.rebuild()
    assert live.state() == state
    live.close()


# -- share links -------------------------------------------------------------------------------
def test_a_share_stores_only_the_tokens_hash(sales: Pbx, tmp_path: Path, db_url: str) -> None:
    bob = record(sales, tmp_path, "102", "+31612345678", T0, 20)
    token, link = access.share(sales, None, "101", str(bob.id)[:8], expires="2d")
    assert token.startswith("rec_") and len(token) == 4 + 43
    assert link.expires - link.created == timedelta(days=2)
    raw = Path(db_url.removeprefix("sqlite:///")).read_bytes()
    assert token.encode() not in raw and token[4:].encode() not in raw
    assert isinstance(access.check_share(sales, token, datetime.now(UTC)), access.Granted)
    # one character off: not valid
    wrong = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert access.check_share(sales, wrong, datetime.now(UTC)).reason == "unknown-token"


def test_share_checks_expiry_revocation_purge_and_withdrawn_access(
        sales: Pbx, tmp_path: Path) -> None:
    bob = record(sales, tmp_path, "102", "+31612345678", T0, 20)
    ref = str(bob.id)[:8]
    token, _ = access.share(sales, None, "101", ref, expires="1h", now=T0)
    assert isinstance(access.check_share(sales, token, T0 + timedelta(minutes=59)),
                      access.Granted)
    assert access.check_share(sales, token, T0 + timedelta(hours=1)).reason == "expired"
    revoked, link = access.share(sales, None, "101", ref)
    access.unshare(sales, None, "101", str(link.id))
    assert access.check_share(sales, revoked, datetime.now(UTC)).reason == "revoked"
    withdrawn, _ = access.share(sales, None, "101", ref)
    access.set_member(sales, None, "Sales", "102", "listener")  # no longer a contributor
    assert access.check_share(sales, withdrawn, datetime.now(UTC)).reason == "access-withdrawn"
    own, _ = access.share(sales, None, "102", ref)  # his own: still fine
    assert isinstance(access.check_share(sales, own, datetime.now(UTC)), access.Granted)
    rec = sales.repository.get(bob.id)
    rec.purge(datetime.now(UTC), "retention")
    sales.save(rec)
    assert access.check_share(sales, own, datetime.now(UTC)).reason == "purged"


def test_share_and_unshare_refuse_bad_input(sales: Pbx, tmp_path: Path) -> None:
    bob = record(sales, tmp_path, "102", "+31612345678", T0, 20)
    ref = str(bob.id)[:8]
    with pytest.raises(ValidationError, match="invalid --expires 'soon'"):
        access.share(sales, None, "101", ref, expires="soon")
    with pytest.raises(ValidationError, match="out of range"):
        access.share(sales, None, "101", ref, expires="400d")
    with pytest.raises(ValidationError, match="104 may not hear recording"):
        access.share(sales, None, "104", ref)
    _token, link = access.share(sales, None, "101", ref)
    with pytest.raises(ValidationError, match="103 neither made share"):
        access.unshare(sales, None, "103", str(link.id)[:8])
    with pytest.raises(ValidationError, match="no recording 0000"):
        access.share(sales, None, "101", "0000")


@pytest.mark.parametrize(("header", "expected"), [
    ("", None), ("bytes=0-99", (0, 99)), ("bytes=100-", (100, 999)), ("bytes=-10", (990, 999)),
    ("bytes=900-5000", (900, 999)), ("items=1-2", None), ("bytes=1-2,5-6", None),
])
def test_byte_ranges(header: str, expected: tuple[int, int] | None) -> None:
    assert access.parse_byte_range(header, 1000) == expected


@pytest.mark.parametrize("header", ["bytes=1000-", "bytes=5-2", "bytes=-0"])
def test_unsatisfiable_byte_ranges(header: str) -> None:
    with pytest.raises(access.UnsatisfiableRangeError):
        access.parse_byte_range(header, 1000)
