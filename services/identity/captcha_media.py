"""CAPTCHA pictures and sound, made with the `captcha` library (CPU-bound: call in a thread)."""

from __future__ import annotations

import base64

from captcha.audio import AudioCaptcha
from captcha.image import ImageCaptcha

_image = ImageCaptcha(width=200, height=70)
_audio = AudioCaptcha()


def render(answer: str) -> tuple[str, str]:
    """The image (PNG) and audio (WAV) of `answer`, as data URLs."""
    png = _image.generate(answer, format="png").getvalue()
    wav = bytes(_audio.generate(answer))
    return (
        "data:image/png;base64," + base64.b64encode(png).decode(),
        "data:audio/wav;base64," + base64.b64encode(wav).decode(),
    )
