"""`hello`: who a new socket's session is, or which older session it resumes.

The identity comes from the identity provider's verdict on the token, never from anything else
the client writes. A resume hands the socket an older session of the same user and replays
what that session was sent after the client's `lastSeq`.
"""

from collections.abc import Callable

from parley.core.effects import CancelTimer, CloseSession, Outcome, Send
from parley.core.ice import IceDesk
from parley.core.identity import Identity, IdentityProvider
from parley.core.limits import ClientBudgets
from parley.core.presence import PresenceNews, PresenceRegistry
from parley.core.sessions import HELLO_TIMER, Session, SessionTable
from parley.core.settings import CoreSettings
from parley.protocol.close_codes import CloseCode
from parley.protocol.errors import ErrorCode
from parley.protocol.messages import PROTOCOL_VERSION, Hello, UserInfo, Welcome

EndSession = Callable[[Session, float, Outcome], None]


class Greeter:
    def __init__(
        self,
        settings: CoreSettings,
        identities: IdentityProvider,
        new_token: Callable[[], str],
        sessions: SessionTable,
        presence: PresenceRegistry,
        ice: IceDesk,
        end_session: EndSession,
        budgets: ClientBudgets,
        news: PresenceNews,
    ) -> None:
        self._settings = settings
        self._budgets = budgets
        self._news = news
        self.identities = identities
        # Resume tokens: secrets, unlike ids (which peers see).
        self.new_token = new_token
        self._sessions = sessions
        self._presence = presence
        self._ice = ice
        self._end_session = end_session

    def hello(
        self, session: Session, message: Hello, now: float, instance: str, out: Outcome
    ) -> None:
        if session.welcomed:
            out.error(
                session.id, ErrorCode.ALREADY_WELCOMED, "hello was already answered", message.id
            )
            return
        if message.v != PROTOCOL_VERSION:
            out.error(
                session.id,
                ErrorCode.UNSUPPORTED_VERSION,
                f"this server speaks protocol v{PROTOCOL_VERSION}",
                message.id,
            )
            return
        admission = self.identities.admit(message.token, message.name.strip(), now)
        if admission is None:
            out.error(session.id, ErrorCode.AUTH_FAILED, "the token was refused", message.id)
            out.effects.append(CloseSession(session.id, CloseCode.AUTH_FAILED, "auth failed"))
            return
        if admission.token is not None and not self._budgets.new_guests.allow(session.client, now):
            # A new guest (no token, one is minted): each would have a user's own budgets, so
            # their number is what a flood of throw-away sockets is limited by.
            out.error(
                session.id,
                ErrorCode.RATE_LIMITED,
                "too many new guests from your network: try again in a minute",
                message.id,
            )
            out.effects.append(
                CloseSession(session.id, CloseCode.POLICY_VIOLATION, "too many new guests")
            )
            return
        identity = self._named(admission.identity)
        if message.resume is not None and self._resume(
            session, identity.user, message, now, instance, out
        ):
            return
        resume_token = self.new_token() if self._settings.resume_window > 0 else None
        self._sessions.admit(session, identity, resume_token)
        out.effects.append(CancelTimer((HELLO_TIMER, session.id)))
        online = message.presence and self._budgets.sign_ins.allow(session.client, now)
        if online:
            self._come_online(session, identity, now, out)
        listed = online and self._settings.directory
        welcome = self._welcome(session, identity, now, instance, listed, token=admission.token)
        out.send(session.id, welcome)
        if message.presence and not online:
            out.error(
                session.id,
                ErrorCode.RATE_LIMITED,
                "too many sign-ins from your network: online, but not listed for calls for now",
                message.id,
            )

    def _named(self, identity: Identity) -> Identity:
        """A device that gives no name (a second tab, a bot holding only the token) keeps the
        name its user is online under, instead of renaming the user to ''."""
        if identity.name:
            return identity
        online = self._presence.info(identity.user)
        return identity if online is None else Identity(identity.user, online.name)

    def _come_online(self, session: Session, identity: Identity, now: float, out: Outcome) -> None:
        session.presence = True
        before = self._presence.info(identity.user)
        self._presence.add(identity.user, session.id, identity.name)
        if before is None or before.name != identity.name:
            # Came online, or came back under a new name: news for the directory.
            self._news.changed(identity.user, now, out)

    def _welcome(
        self,
        session: Session,
        identity: Identity,
        now: float,
        instance: str,
        listed: bool,
        token: str | None = None,
        resumed: bool = False,
    ) -> Welcome:
        settings = self._settings
        first_page, next_page = self._presence.page(0) if listed else ([], None)
        return Welcome(
            v=PROTOCOL_VERSION,
            session=session.id,
            user=UserInfo(id=identity.user, name=identity.name),
            token=token,
            maxMessageBytes=settings.max_message_bytes,
            iceServers=self._ice.servers(identity.user, now, with_turn=False),
            iceTransportPolicy=self._ice.policy,
            online=first_page if listed else None,
            onlineNext=next_page if listed else None,
            resume=session.resume_token,
            resumed=resumed,
            resumeWindow=settings.resume_window if session.resume_token else 0,
            instance=instance,
        )

    def _resume(
        self,
        provisional: Session,
        user: str,
        message: Hello,
        now: float,
        instance: str,
        out: Outcome,
    ) -> bool:
        """Hands the socket the session named by `message.resume`; False (and nothing changed)
        when the token is unknown, expired, or not this user's."""
        assert message.resume is not None
        target = self._sessions.resumable(message.resume, user)
        if target is None:
            return False
        assert target.identity is not None
        replay = target.log.after(message.lastSeq)
        if replay is None:
            # Messages the client never saw are gone: end that session (its peers are told)
            # rather than resume it with a silent gap.
            self._end_session(target, now, out)
            return False
        self._sessions.take_over(provisional, target, out)
        listed = target.presence and self._settings.directory
        welcome = self._welcome(target, target.identity, now, instance, listed, resumed=True)
        out.send(target.id, welcome)
        for seq, missed in replay:
            out.effects.append(Send(target.id, missed, seq))
        return True
