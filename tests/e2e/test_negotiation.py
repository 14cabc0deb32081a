"""Perfect negotiation in call.js (PeerCall), driven in real Chromium with two connections in one
page and the messages between them handed over by the test, so that an order the network only
sometimes makes can be made every time.
"""

from collections.abc import Callable

import pytest
from playwright.sync_api import Page

pytestmark = pytest.mark.e2e

OpenPage = Callable[..., Page]

# Two PeerCalls in a voice call, `impolite` and `polite`; `deliver(to)` hands over what the other
# side sent, one message at a time, awaited.
_VOICE_CALL = """async () => {
  const { PeerCall } = await import('/static/sdk/peer-call.js');
  const media = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
  const [mic] = media.getAudioTracks();
  const inbox = { impolite: [], polite: [] };
  const make = (other, polite) => new PeerCall({
    send: (message) => inbox[other].push(message),
    peerId: other, polite, localStream: new MediaStream([mic.clone()]), configuration: {},
  });
  const calls = { impolite: make('polite', false), polite: make('impolite', true) };
  const until = async (check, what) => {
    for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 25));
    if (!check()) throw new Error('timed out waiting for ' + what);
  };
  const take = (to, type) => {
    const at = inbox[to].findIndex((m) => m.type === type);
    return at < 0 ? null : inbox[to].splice(at, 1)[0];
  };
  const descriptionFor = async (to, type) => {
    await until(() => inbox[to].some((m) => m.type === type), type + ' for ' + to);
    return take(to, type);
  };
  window.negotiation = { calls, inbox, until, descriptionFor, media };
  calls.impolite.start();
  await calls.polite.acceptDescription(await descriptionFor('polite', 'offer'));
  await calls.impolite.acceptDescription(await descriptionFor('impolite', 'answer'));
  return [calls.impolite.pc.signalingState, calls.polite.pc.signalingState];
}"""


def test_an_offer_arriving_while_our_answer_is_still_being_set_is_answered_not_ignored(
    server_url: str, open_page: OpenPage
) -> None:
    """The impolite side's offer adds video; the polite side answers it receive-only, then turns
    its own camera on: a second offer. If that offer reaches the impolite side before setting
    the answer has finished, it is no collision; ignored, it would leave the polite side waiting
    for an answer for good and the impolite side without the other's video (seen under load)."""
    page = open_page(server_url + "/")
    assert page.evaluate(_VOICE_CALL) == ["stable", "stable"]
    outcome = page.evaluate(
        """async () => {
      const { calls, inbox, until, descriptionFor, media } = window.negotiation;
      const [camera] = media.getVideoTracks();
      calls.impolite.addTrack(camera.clone());
      await calls.polite.acceptDescription(await descriptionFor('polite', 'offer'));
      const receiveOnly = await descriptionFor('impolite', 'answer');
      calls.polite.addTrack(camera.clone());
      const secondOffer = await descriptionFor('impolite', 'offer');
      // Both handed over in one go: the offer arrives while the answer is still being set.
      const stateWhenOfferArrived = calls.impolite.pc.signalingState;
      const settingAnswer = calls.impolite.acceptDescription(receiveOnly);
      const answerPending = calls.impolite.settingRemoteAnswer;
      const takingOffer = calls.impolite.acceptDescription(secondOffer);
      await Promise.all([settingAnswer, takingOffer]);
      await calls.polite.acceptDescription(await descriptionFor('polite', 'answer'));
      const video = (call) => call.transceiver('video');
      await until(() => video(calls.impolite).currentDirection === 'sendrecv', 'both ways');
      return {
        stateWhenOfferArrived,
        answerPending,
        ignored: calls.impolite.ignoreOffer,
        states: [calls.impolite.pc.signalingState, calls.polite.pc.signalingState],
        directions: [video(calls.impolite).currentDirection, video(calls.polite).currentDirection],
        remoteVideo: calls.impolite.remoteStream.getVideoTracks().length,
        unanswered: inbox.polite.filter((m) => m.type === 'answer').length,
      };
    }"""
    )
    assert outcome["stateWhenOfferArrived"] == "have-local-offer"
    assert outcome["answerPending"] is True, "the answer was still being set"
    assert outcome["ignored"] is False
    assert outcome["states"] == ["stable", "stable"]
    assert outcome["directions"] == ["sendrecv", "sendrecv"]
    assert outcome["remoteVideo"] == 1, "the track event for the other side's video fired"
    assert outcome["unanswered"] == 0


def test_an_offer_made_while_ours_is_out_is_still_ignored_by_the_impolite_side(
    server_url: str, open_page: OpenPage
) -> None:
    """The glare rule is kept: an offer that crosses ours (we wait for its answer, none is
    being set) is ignored by the impolite side and taken by the polite one."""
    page = open_page(server_url + "/")
    assert page.evaluate(_VOICE_CALL) == ["stable", "stable"]
    outcome = page.evaluate(
        """async () => {
      const { calls, until, descriptionFor } = window.negotiation;
      calls.impolite.restartIce();
      calls.polite.restartIce();
      const fromImpolite = await descriptionFor('polite', 'offer');
      const fromPolite = await descriptionFor('impolite', 'offer');
      // No candidates are handed over, so ICE never connects: the restarts' retry timers
      // would offer again if this took long.
      for (const call of Object.values(calls)) clearTimeout(call.restartTimer);
      await calls.impolite.acceptDescription(fromPolite);
      const ignored = calls.impolite.ignoreOffer;
      await calls.polite.acceptDescription(fromImpolite);
      await calls.impolite.acceptDescription(await descriptionFor('impolite', 'answer'));
      await until(() => calls.polite.pc.signalingState === 'stable', 'stable');
      const states = [calls.impolite.pc.signalingState, calls.polite.pc.signalingState];
      return { ignored, states };
    }"""
    )
    assert outcome == {"ignored": True, "states": ["stable", "stable"]}
