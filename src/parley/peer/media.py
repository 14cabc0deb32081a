"""What a Python peer sends and what it does with what it receives."""

import asyncio
import contextlib
import math
from collections import Counter

from aiortc.contrib.media import MediaPlayer, MediaRecorder
from aiortc.mediastreams import (
    AudioStreamTrack,
    MediaStreamError,
    MediaStreamTrack,
    VideoStreamTrack,
)
from av import AudioFrame, VideoFrame


class TestPatternTrack(VideoStreamTrack):
    """A moving gradient: frames that change, so encoders and receivers have real work."""

    def __init__(self, width: int = 320, height: int = 240) -> None:
        super().__init__()
        self._width, self._height = width, height
        self._count = 0

    async def recv(self) -> VideoFrame:
        paced = await super().recv()  # the base class keeps the frame rate and timestamps
        frame = VideoFrame(width=self._width, height=self._height, format="yuv420p")
        shift = self._count * 4
        row = bytes((x + shift) % 256 for x in range(self._width))
        frame.planes[0].update(row * self._height)
        chroma = bytes([128]) * (self._width // 2 * self._height // 2)
        frame.planes[1].update(chroma)
        frame.planes[2].update(chroma)
        frame.pts, frame.time_base = paced.pts, paced.time_base
        self._count += 1
        return frame


class ToneTrack(AudioStreamTrack):
    """A 440 Hz tone, so that the far end's audio level shows something is coming through."""

    def __init__(self, frequency: float = 440.0) -> None:
        super().__init__()
        self._frequency = frequency
        self._sample = 0

    async def recv(self) -> AudioFrame:
        frame = await super().recv()  # paced, silent, s16 mono
        assert isinstance(frame, AudioFrame)
        samples = frame.samples
        rate = frame.sample_rate
        pcm = bytearray()
        for n in range(samples):
            value = int(6000 * math.sin(2 * math.pi * self._frequency * (self._sample + n) / rate))
            pcm += value.to_bytes(2, "little", signed=True)
        self._sample += samples
        frame.planes[0].update(bytes(pcm))
        return frame


def outgoing_tracks(
    media: str, play: str | None = None
) -> tuple[list[MediaStreamTrack], MediaPlayer | None]:
    """Tracks to send: from a file (`play`) or synthetic; video only for video calls."""
    if play:
        player = MediaPlayer(play)
        found = [t for t in (player.audio, player.video) if t is not None]
        return [t for t in found if media == "video" or t.kind == "audio"], player
    synthetic: list[MediaStreamTrack] = [ToneTrack()]
    if media == "video":
        synthetic.append(TestPatternTrack())
    return synthetic, None


class FrameCounter:
    """Consumes received tracks and counts their frames (and keeps the last video size)."""

    def __init__(self) -> None:
        self.frames: Counter[str] = Counter()
        self.video_size: tuple[int, int] | None = None
        self._tasks: list[asyncio.Task[None]] = []

    def add(self, track: MediaStreamTrack) -> None:
        self._tasks.append(asyncio.get_running_loop().create_task(self._drain(track)))

    async def _drain(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                self.frames[track.kind] += 1
                if isinstance(frame, VideoFrame):
                    self.video_size = (frame.width, frame.height)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


__all__ = ["FrameCounter", "MediaRecorder", "TestPatternTrack", "ToneTrack", "outgoing_tracks"]
