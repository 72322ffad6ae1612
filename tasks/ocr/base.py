"""The interface every OCR engine implements, and the shapes of its results."""

from dataclasses import dataclass, field

from PIL import Image


@dataclass
class Line:
    text: str
    confidence: float
    box: list  # [[x, y] x 4], clockwise from top-left, in page pixels

    @property
    def left(self):
        return min(p[0] for p in self.box)

    @property
    def top(self):
        return min(p[1] for p in self.box)

    @property
    def right(self):
        return max(p[0] for p in self.box)

    @property
    def bottom(self):
        return max(p[1] for p in self.box)

    @property
    def height(self):
        return self.bottom - self.top


@dataclass
class PageResult:
    number: int
    width: int
    height: int
    lines: list = field(default_factory=list)
    text: str = ""
    engine: str = ""  # the engine that read it
    turned: list = field(default_factory=list)  # what was done to make it upright, for a person


class OcrEngine:
    """Recognise one page image. Engines are built once per worker process."""

    name = "base"

    def recognize(self, image: Image.Image, language: str | None = None) -> list[Line]:
        """``language``: the task's BCP 47 tag(s), e.g. ``zh-Hant+en`` (tasks.ocr.languages)."""
        raise NotImplementedError
