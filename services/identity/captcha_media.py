"""CAPTCHA pictures and sound, made with the `captcha` library. The picture is cheap (~3 ms of
CPU); the sound is not (~180 ms), so it is made only when asked for, in worker processes
(AudioWorkers), never on the event loop."""

from __future__ import annotations

import asyncio
import base64
import multiprocessing
from concurrent.futures import ProcessPoolExecutor

from captcha.audio import AudioCaptcha
from captcha.image import ImageCaptcha

_image = ImageCaptcha(width=200, height=70)
_audio: AudioCaptcha | None = None


def image(answer: str) -> str:
    """The picture (PNG) of `answer` as a data URL."""
    png = _image.generate(answer, format="png").getvalue()
    return "data:image/png;base64," + base64.b64encode(png).decode()


def sound(answer: str) -> bytes:
    """The recording (WAV) of `answer` (run in a worker process)."""
    global _audio
    if _audio is None:
        _audio = AudioCaptcha()
    return bytes(_audio.generate(answer))


class Busy(Exception):
    """Every worker is busy and the queue is full."""


class AudioWorkers:
    """A few processes that make CAPTCHA sounds, with a bounded queue in front."""

    def __init__(self, processes: int, queue: int) -> None:
        self._pool = ProcessPoolExecutor(
            max_workers=processes, mp_context=multiprocessing.get_context("spawn")
        )
        self._slots = asyncio.Semaphore(processes + queue)

    async def sound(self, answer: str) -> bytes:
        if self._slots.locked():
            raise Busy()
        async with self._slots:
            return await asyncio.get_running_loop().run_in_executor(self._pool, sound, answer)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
