"""`hello`: who a new socket's session is, or which older session it resumes.

The identity comes from the identity provider's verdict on the token, never from anything else
the client writes. A resume hands the socket an older session of the same user and replays
what that session was sent after the client's `lastSeq`.
"""

from collections.abc import Callable

from parley.core.effects import CancelTimer, CloseSession, Outcome, Send
from parley.core.ice import IceDesk
from parley.core.identity import Identity, IdentityProvider
from parley.core.presence import PresenceRegistry, announce
from parley.core.sessions import HELLO_TIMER, Session, SessionTable
from parley.core.settings import CoreSettings
from parley.protocol.close_codes import CloseCode
from parley.protocol.errors import ErrorCode
from parley.protocol.messages import PROTOCOL_VERSION, Hello, Presence, UserInfo, Welcome

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
    ) -> None:
        self._settings = settings
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
        identity = admission.identity
        if message.resume is not None and self._resume(
            session, identity.user, message, now, instance, out
        ):
            return
        resume_token = self.new_token() if self._settings.resume_window > 0 else None
        self._sessions.admit(session, identity, resume_token)
        out.effects.append(CancelTimer((HELLO_TIMER, session.id)))
        if message.presence:
            self._come_online(session, identity, out)
        listed = message.presence and self._settings.directory
        welcome = self._welcome(session, identity, now, instance, listed, token=admission.token)
        out.send(session.id, welcome)

    def _come_online(self, session: Session, identity: Identity, out: Outcome) -> None:
        session.presence = True
        before = self._presence.info(identity.user)
        self._presence.add(identity.user, session.id, identity.name)
        if before is None or before.name != identity.name:
            # Came online, or came back under a new name: the directory shows it at once.
            me = UserInfo(id=identity.user, name=identity.name)
            announce(
                self._presence,
                self._settings.directory,
                Presence(user=me, online=True),
                out,
                skip=session.id,
            )

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
        return Welcome(
            v=PROTOCOL_VERSION,
            session=session.id,
            user=UserInfo(id=identity.user, name=identity.name),
            token=token,
            maxMessageBytes=settings.max_message_bytes,
            iceServers=self._ice.servers(identity.user, now),
            iceTransportPolicy=self._ice.policy,
            online=self._presence.online() if listed else None,
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
