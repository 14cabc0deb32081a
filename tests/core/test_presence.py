"""Who is online for calls: `hello {presence: true}` lists a user while any such session lives.

The directory (CoreSettings.directory) decides whether anyone is told: `welcome.online` and the
`presence` announcements go to presence sessions only, and only when it is on.
"""

from parley.core.presence import ONLINE_PAGE
from parley.core.signaling import CoreSettings
from parley.protocol.messages import (
    PROTOCOL_VERSION,
    Hello,
    Online,
    OnlineRequest,
    Presence,
    Ringing,
    UserInfo,
    Welcome,
)
from tests.core.helpers import Harness, messages_to, of_type, only_message_to, recipients


def welcome_of(harness: Harness, session: str, hello: Hello) -> Welcome:
    welcome = only_message_to(harness.send(session, hello), session)
    assert isinstance(welcome, Welcome), welcome
    return welcome


# --- welcome.online -------------------------------------------------------------------------


def test_welcome_online_lists_the_users_online_including_oneself(harness: Harness) -> None:
    ann = harness.user("Ann")
    bob = harness.user("Bob")
    session = harness.connect()
    welcome = welcome_of(harness, session, Hello(v=PROTOCOL_VERSION, name="Cy", presence=True))
    assert welcome.online == [
        UserInfo(id=ann.user, name="Ann"),
        UserInfo(id=bob.user, name="Bob"),
        UserInfo(id=welcome.user.id, name="Cy"),
    ]


def test_welcome_online_lists_a_user_on_two_devices_once(harness: Harness) -> None:
    ann = harness.user("Ann")
    harness.device(ann, "Ann")
    session = harness.connect()
    welcome = welcome_of(harness, session, Hello(v=PROTOCOL_VERSION, presence=True))
    assert welcome.online is not None
    assert [u.id for u in welcome.online].count(ann.user) == 1


def test_welcome_online_leaves_out_users_without_a_presence_session(harness: Harness) -> None:
    lurker = harness.user("Lurker", presence=False)
    session = harness.connect()
    welcome = welcome_of(harness, session, Hello(v=PROTOCOL_VERSION, presence=True))
    assert welcome.online == [UserInfo(id=welcome.user.id, name="")]
    assert lurker.user not in [u.id for u in welcome.online]


def test_welcome_has_no_online_list_without_presence(harness: Harness) -> None:
    harness.user("Ann")
    session = harness.connect()
    assert welcome_of(harness, session, Hello(v=PROTOCOL_VERSION)).online is None


def test_welcome_has_no_online_list_when_the_directory_is_off() -> None:
    harness = Harness(CoreSettings(directory=False))
    harness.user("Ann")
    session = harness.connect()
    welcome = welcome_of(harness, session, Hello(v=PROTOCOL_VERSION, presence=True))
    assert welcome.online is None


def test_a_user_who_went_offline_is_not_listed(harness: Harness) -> None:
    ann = harness.user("Ann")
    harness.disconnect(ann.session)
    session = harness.connect()
    welcome = welcome_of(harness, session, Hello(v=PROTOCOL_VERSION, presence=True))
    assert welcome.online == [UserInfo(id=welcome.user.id, name="")]


# --- coming online --------------------------------------------------------------------------


def test_first_session_of_a_user_is_announced_to_the_other_presence_sessions(
    harness: Harness,
) -> None:
    ann, bob = harness.user("Ann"), harness.user("Bob")
    lurker = harness.user("Lurker", presence=False)
    session = harness.connect()
    effects = harness.send(session, Hello(v=PROTOCOL_VERSION, name="Cy", presence=True))
    assert messages_to(effects, ann.session) == [], "told when the presence window ends"
    effects += harness.flush_presence()
    welcome = messages_to(effects, session)[0]
    assert isinstance(welcome, Welcome)
    announcement = Presence(user=UserInfo(id=welcome.user.id, name="Cy"), online=True)
    assert messages_to(effects, ann.session) == [announcement]
    assert messages_to(effects, bob.session) == [announcement]
    assert messages_to(effects, lurker.session) == []
    assert messages_to(effects, session) == [welcome], "a user is not told of its own arrival"


def test_a_users_second_device_is_not_announced(harness: Harness) -> None:
    ann, bob = harness.user("Ann"), harness.user("Bob")
    session = harness.connect()
    hello = Hello(v=PROTOCOL_VERSION, name="Ann", token=ann.token, presence=True)
    effects = harness.send(session, hello)
    assert of_type(effects, Presence) == []
    assert recipients(effects) == {session}
    assert messages_to(effects, bob.session) == []


def test_a_session_without_presence_is_not_announced(harness: Harness) -> None:
    ann = harness.user("Ann")
    session = harness.connect()
    effects = harness.send(session, Hello(v=PROTOCOL_VERSION, name="Lurker"))
    assert recipients(effects) == {session}
    assert messages_to(effects, ann.session) == []
    assert harness.core.presence.online() == [UserInfo(id=ann.user, name="Ann")]


def test_a_user_online_on_a_plain_session_comes_online_with_its_first_presence_one(
    harness: Harness,
) -> None:
    bob = harness.user("Bob")
    plain = harness.user("Ann", presence=False)
    session = harness.connect()
    effects = harness.send(
        session, Hello(v=PROTOCOL_VERSION, name="Ann", token=plain.token, presence=True)
    )
    effects += harness.flush_presence()
    assert messages_to(effects, bob.session) == [
        Presence(user=UserInfo(id=plain.user, name="Ann"), online=True)
    ]
    assert messages_to(effects, plain.session) == []


# --- going offline --------------------------------------------------------------------------


def test_closing_the_last_presence_session_announces_offline(harness: Harness) -> None:
    ann, bob, cy = harness.user("Ann"), harness.user("Bob"), harness.user("Cy")
    lurker = harness.user("Lurker", presence=False)
    effects = harness.disconnect(ann.session) + harness.flush_presence()
    gone = Presence(user=UserInfo(id=ann.user, name="Ann"), online=False)
    assert messages_to(effects, bob.session) == [gone]
    assert messages_to(effects, cy.session) == [gone]
    assert messages_to(effects, lurker.session) == []
    assert messages_to(effects, ann.session) == []
    assert harness.core.presence.info(ann.user) is None


def test_closing_one_of_two_devices_keeps_the_user_online(harness: Harness) -> None:
    ann, bob = harness.user("Ann"), harness.user("Bob")
    phone = harness.device(ann, "Ann")
    effects = harness.disconnect(ann.session) + harness.flush_presence()
    assert of_type(effects, Presence) == []
    assert messages_to(effects, bob.session) == []
    assert harness.core.presence.sessions_of(ann.user) == [phone.session]
    effects = harness.disconnect(phone.session) + harness.flush_presence()
    assert messages_to(effects, bob.session) == [
        Presence(user=UserInfo(id=ann.user, name="Ann"), online=False)
    ]


def test_closing_a_plain_session_of_an_online_user_announces_nothing(harness: Harness) -> None:
    ann, bob = harness.user("Ann"), harness.user("Bob")
    plain = harness.device(ann, "Ann", presence=False)
    effects = harness.disconnect(plain.session)
    assert of_type(effects, Presence) == []
    assert harness.core.presence.sessions_of(ann.user) == [ann.session]
    assert messages_to(effects, bob.session) == []


def test_closing_an_unwelcomed_session_announces_nothing(harness: Harness) -> None:
    bob = harness.user("Bob")
    session = harness.connect()
    assert messages_to(harness.disconnect(session), bob.session) == []


def test_a_user_can_come_back_online_after_going_offline(harness: Harness) -> None:
    ann, bob = harness.user("Ann"), harness.user("Bob")
    harness.disconnect(ann.session)
    harness.flush_presence()
    session = harness.connect()
    effects = harness.send(
        session, Hello(v=PROTOCOL_VERSION, name="Ann", token=ann.token, presence=True)
    )
    effects += harness.flush_presence()
    assert messages_to(effects, bob.session) == [
        Presence(user=UserInfo(id=ann.user, name="Ann"), online=True)
    ]


# --- directory off --------------------------------------------------------------------------


def test_no_presence_announcements_when_the_directory_is_off() -> None:
    harness = Harness(CoreSettings(directory=False))
    ann = harness.user("Ann")
    session = harness.connect()
    effects = harness.send(session, Hello(v=PROTOCOL_VERSION, name="Bob", presence=True))
    assert of_type(effects, Presence) == []
    assert recipients(effects) == {session}
    effects = harness.disconnect(session)
    assert of_type(effects, Presence) == []
    assert messages_to(effects, ann.session) == []


def test_presence_still_rings_when_the_directory_is_off() -> None:
    # The directory only decides who is told; a user online for calls can still be called.
    harness = Harness(CoreSettings(directory=False))
    ann, bob = harness.user("Ann"), harness.user("Bob")
    assert harness.core.presence.sessions_of(bob.user) == [bob.session]
    call = harness.invite(ann.session, bob.user)
    assert harness.core.calls.get(call) is not None


def test_a_new_name_on_another_device_is_announced() -> None:
    h = Harness()
    watcher = h.user("Watcher")
    first = h.user("Ana")
    effects = h.send(h.connect(), Hello(v=1, name="Ana B.", token=first.token, presence=True))
    effects += h.flush_presence()
    renamed = [m for m in messages_to(effects, watcher.session) if isinstance(m, Presence)]
    assert renamed == [Presence(user=UserInfo(id=first.user, name="Ana B."), online=True)]


def test_a_second_device_without_a_name_keeps_the_users_name() -> None:
    """A second tab or a bot that has only the token does not rename the user to ''."""
    h = Harness()
    watcher = h.user("Watcher")
    first = h.user("Ana")
    second = h.connect()
    effects = h.send(second, Hello(v=1, name="  ", token=first.token, presence=True))
    welcome = only_message_to(effects, second)
    assert isinstance(welcome, Welcome)
    assert welcome.user == UserInfo(id=first.user, name="Ana")
    assert welcome.online is not None and UserInfo(id=first.user, name="Ana") in welcome.online
    effects = h.flush_presence()
    assert of_type(effects, Presence) == [], "no rename to announce"
    call = h.invite(watcher.session, first.user)
    ringing = of_type(h.log, Ringing)[-1][1]
    assert (ringing.call, ringing.callee.name) == (call, "Ana")


def test_a_nameless_user_online_nowhere_else_stays_nameless(harness: Harness) -> None:
    first = harness.user("Ana", presence=False)  # on a room page: not online for calls
    session = harness.connect()
    welcome = welcome_of(harness, session, Hello(v=1, token=first.token, presence=True))
    assert welcome.user == UserInfo(id=first.user, name="")


# --- many online: news in windows, the directory in pages ------------------------------------


def test_a_sign_in_and_its_sign_out_within_the_window_tell_nobody(harness: Harness) -> None:
    """The churn that made every connect cost the whole directory: now it costs nothing."""
    watchers = [harness.user(f"W{n}") for n in range(5)]
    session = harness.connect()
    effects = harness.send(session, Hello(v=PROTOCOL_VERSION, name="Churn", presence=True))
    effects += harness.disconnect(session)
    effects += harness.flush_presence()
    assert of_type(effects, Presence) == []
    assert all(messages_to(effects, w.session) == [] for w in watchers)


def test_many_changes_in_one_window_are_told_once_each(harness: Harness) -> None:
    watcher = harness.user("Watcher")
    comers = []
    for n in range(3):
        session = harness.connect()
        harness.send(session, Hello(v=PROTOCOL_VERSION, name=f"C{n}", presence=True))
        comers.append(session)
    told = harness.flush_presence()
    names = [m.user.name for m in messages_to(told, watcher.session) if isinstance(m, Presence)]
    assert names == ["C0", "C1", "C2"]
    assert harness.flush_presence() == [], "nothing is told twice"


def test_the_directory_comes_in_pages(harness: Harness) -> None:
    for n in range(ONLINE_PAGE + 30):
        harness.user(f"U{n}")
    session = harness.connect()
    welcome = welcome_of(harness, session, Hello(v=PROTOCOL_VERSION, name="Me", presence=True))
    assert welcome.online is not None and len(welcome.online) == ONLINE_PAGE
    assert welcome.onlineNext == ONLINE_PAGE
    rest = only_message_to(harness.send(session, OnlineRequest(offset=ONLINE_PAGE, id=4)), session)
    assert isinstance(rest, Online) and rest.id == 4 and rest.next is None
    everyone = [u.name for u in [*welcome.online, *rest.users]]
    assert everyone == [*(f"U{n}" for n in range(ONLINE_PAGE + 30)), "Me"]


def test_a_session_off_the_directory_gets_no_pages(harness: Harness) -> None:
    harness.user("Ann")
    lurker = harness.user("Lurker", presence=False)
    page = only_message_to(harness.send(lurker.session, OnlineRequest(offset=0)), lurker.session)
    assert isinstance(page, Online) and page.users == []
