"""Test pages made at test time: text rendered with Debian's fonts, then turned, skewed, photographed, EXIF-tagged.

Used by the orientation/language tests and by benchmarks/ocr_default.py. Fonts: DejaVu (fonts-dejavu-core)
for Latin text, Noto CJK (fonts-noto-cjk) for Chinese; scripts/system_deps.sh installs both.
Each page comes with its ground truth: the lines exactly as drawn, joined by newlines.
"""

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

SERIF = "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf"
SANS = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
NOTO_CJK = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
NOTO_CJK_TC_INDEX = 3  # faces in the collection: JP, KR, SC, TC, HK

# A letter nobody OCR'd before this project (written for these tests).
ENGLISH = (
    "Quarterly maintenance notice for the Riverside warehouse. From Monday 14 April the loading bay on the "
    "north side will be closed for resurfacing, and deliveries should use gate 3 on Harbour Road instead. "
    "Drivers must report to the security desk, show their delivery note and wear a high-visibility vest "
    "at all times. Forklift training for new staff takes place on 22 April at 9:30 in meeting room B; "
    "please register with Tom Fischer before Friday. The heating system in hall 2 will be serviced over the "
    "weekend of 26 April, so temperature-sensitive stock (pallets marked with a blue label) must be moved "
    "to hall 4 by Thursday evening. Questions about these changes can be sent to facilities@example.com "
    "or raised at the staff meeting on 10 April. Thank you for your patience while the work is done."
)
# A Traditional Chinese memo (people here are called 陳美玲).
CHINESE = (
    "備忘錄：致全體同仁。發文者為行政部經理陳美玲。本公司將於四月一日起遷至信義路五段一百號十二樓。"
    "搬遷期間，請各部門於三月二十八日前整理個人物品，並將文件裝箱後貼上部門名稱與姓名標籤。"
    "資訊部會在週末完成電腦及印表機的安裝，週一上午九點前即可正常使用。"
    "新辦公室設有會議室四間及員工休息區，停車位須事先向總務組申請。"
    "如有任何問題，請以分機聯絡行政部。謝謝大家的配合。"
)


def _wrap(text: str, font, width: int, cjk: bool) -> list[str]:
    lines, current = [], ""
    units = list(text) if cjk else text.split(" ")
    for unit in units:
        candidate = current + unit if cjk or not current else current + " " + unit
        if font.getlength(candidate) > width and current:
            lines.append(current)
            current = unit
        else:
            current = candidate
    if current:
        lines.append(current)
    return lines


def text_page(text: str = ENGLISH, *, font: str = SERIF, index: int = 0, size: int = 30,
              page=(1275, 1650), margin: int = 120, cjk: bool = False) -> tuple[Image.Image, str]:
    """(greyscale page, ground truth): the text wrapped to the page's width at ``size`` pixels (150 dpi: ~14 pt)."""
    face = ImageFont.truetype(font, size, index=index)
    image = Image.new("L", page, 255)
    draw = ImageDraw.Draw(image)
    lines = _wrap(text, face, page[0] - 2 * margin, cjk)
    y = margin
    for line in lines:
        draw.text((margin, y), line, font=face, fill=0)
        y += int(size * 1.6)
    image.info["dpi"] = (150, 150)
    return image, "\n".join(lines)


def chinese_page() -> tuple[Image.Image, str]:
    return text_page(CHINESE, font=NOTO_CJK, index=NOTO_CJK_TC_INDEX, size=34, cjk=True)


def turned(image: Image.Image, degrees: int) -> Image.Image:
    """The page turned ``degrees`` counter-clockwise (as a scanner fed sideways or upside down gives it)."""
    return image.rotate(degrees, expand=True)


def skewed(image: Image.Image, degrees: float) -> Image.Image:
    return image.rotate(degrees, resample=Image.BICUBIC, expand=True, fillcolor=255)


def exif_jpeg(image: Image.Image, orientation: int = 6) -> bytes:
    """A JPEG whose pixels are stored turned, with the EXIF tag that says how to show them upright.

    Orientation 6 means "turn 90° clockwise to view", so the stored pixels are the page turned
    90° counter-clockwise; 3 is 180°, 8 is 90° the other way.
    """
    stored = {6: image.rotate(90, expand=True), 3: image.rotate(180), 8: image.rotate(-90, expand=True)}[orientation]
    exif = Image.Exif()
    exif[0x0112] = orientation
    buf = io.BytesIO()
    stored.convert("RGB").save(buf, "JPEG", quality=90, exif=exif.tobytes(), dpi=(150, 150))
    return buf.getvalue()


def photographed(image: Image.Image, seed: int = 1) -> Image.Image:
    """A phone photo of the page: perspective (taken at an angle), light falling off across the page,
    a little blur and sensor noise, a desk around the sheet. RGB."""
    rng = np.random.default_rng(seed)
    w, h = image.size
    canvas_w, canvas_h = int(w * 1.15), int(h * 1.12)
    # Where the page's corners land on the photo (top edge further away: narrower).
    dst = [(0.10 * canvas_w, 0.05 * canvas_h), (0.91 * canvas_w, 0.07 * canvas_h),
           (0.97 * canvas_w, 0.96 * canvas_h), (0.03 * canvas_w, 0.94 * canvas_h)]
    src = [(0, 0), (w, 0), (w, h), (0, h)]
    coeffs = _perspective_coeffs(dst, src)
    sheet = Image.new("L", (canvas_w, canvas_h), 0)
    sheet.paste(image.transform((canvas_w, canvas_h), Image.PERSPECTIVE, coeffs, Image.BICUBIC, fillcolor=255))
    mask = Image.new("L", (w, h), 255).transform((canvas_w, canvas_h), Image.PERSPECTIVE, coeffs, Image.BILINEAR)
    desk = Image.new("L", (canvas_w, canvas_h), 90)
    photo = np.asarray(Image.composite(sheet, desk, mask), dtype=np.float32)
    # Uneven light: bright top left, about 45% darker at the bottom right.
    yy, xx = np.mgrid[0:canvas_h, 0:canvas_w].astype(np.float32)
    light = 1.0 - 0.45 * ((xx / canvas_w) * 0.6 + (yy / canvas_h) * 0.4)
    photo = photo * light + rng.normal(0, 6, photo.shape)
    grey = Image.fromarray(np.clip(photo, 0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(0.8))
    rgb = Image.merge("RGB", (grey.point(lambda v: min(255, v + 8)), grey, grey.point(lambda v: v * 0.93)))
    rgb.info["dpi"] = (150, 150)
    return rgb


def _perspective_coeffs(dst, src):
    """PIL's PERSPECTIVE coefficients mapping output points ``dst`` back to input points ``src``."""
    rows = []
    for (x, y), (u, v) in zip(dst, src):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
    a = np.array(rows, dtype=np.float64)
    b = np.array([c for pair in src for c in pair], dtype=np.float64)
    return list(np.linalg.solve(a, b))


def scanned(image: Image.Image, seed: int = 2) -> Image.Image:
    """A flatbed scan: grey paper, a slight blur and noise, saved as a JPEG of quality 60."""
    rng = np.random.default_rng(seed)
    pixels = np.asarray(image.convert("L"), dtype=np.float32) * 0.85 + 25 + rng.normal(0, 8, (image.height, image.width))
    grey = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(0.6))
    buf = io.BytesIO()
    grey.save(buf, "JPEG", quality=60)
    out = Image.open(io.BytesIO(buf.getvalue()))
    out.load()
    out.info["dpi"] = (150, 150)
    return out


def png_bytes(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "PNG", dpi=(150, 150))
    return buf.getvalue()


def fonts_present() -> bool:
    return all(Path(p).exists() for p in (SERIF, NOTO_CJK))
