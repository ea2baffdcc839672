"""Draw examples/night-ferry-cover.png, the cover art of examples/night-ferry.tsv (a lighthouse over a night
sea), with Pillow alone: run `python scripts/make_example_cover.py` to make it again."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

SIZE = 1400  # podcast directories ask for square art of 1400 to 3000 pixels a side
OUT = Path(__file__).resolve().parent.parent / "examples" / "night-ferry-cover.png"


def main() -> None:
    img = Image.new("RGB", (SIZE, SIZE), (14, 22, 48))
    d = ImageDraw.Draw(img)
    for i in range(12):  # sky bands, darker above
        y = i * SIZE * 0.62 / 12
        shade = 14 + i * 5
        d.rectangle([0, y, SIZE, y + SIZE * 0.62 / 12 + 1], fill=(shade, shade + 8, 48 + i * 6))
    x0 = SIZE * 0.62  # the lighthouse and its beams
    d.polygon([(x0, SIZE * 0.36), (x0 - SIZE * 0.62, SIZE * 0.22), (x0 - SIZE * 0.62, SIZE * 0.34)],
              fill=(236, 214, 140))
    d.polygon([(x0, SIZE * 0.36), (SIZE, SIZE * 0.28), (SIZE, SIZE * 0.38)], fill=(200, 184, 128))
    d.polygon([(x0 - 60, SIZE * 0.66), (x0 + 60, SIZE * 0.66), (x0 + 36, SIZE * 0.38), (x0 - 36, SIZE * 0.38)],
              fill=(230, 230, 226))
    for k in range(3):
        y = SIZE * (0.45 + 0.07 * k)
        d.rectangle([x0 - 50 + 6 * k, y, x0 + 50 - 6 * k, y + 26], fill=(178, 40, 40))
    d.rectangle([x0 - 44, SIZE * 0.33, x0 + 44, SIZE * 0.38], fill=(255, 238, 150))
    d.polygon([(x0 - 52, SIZE * 0.33), (x0 + 52, SIZE * 0.33), (x0, SIZE * 0.29)], fill=(60, 60, 70))
    d.rectangle([0, SIZE * 0.66, SIZE, SIZE], fill=(10, 30, 58))  # the sea, with waves and a small ferry
    for row in range(9):
        y = SIZE * (0.69 + row * 0.035)
        for col in range(12):
            x = (col + (row % 2) * 0.5) * SIZE / 11
            d.arc([x - 50, y - 12, x + 50, y + 12], 200, 340, fill=(70, 110, 150), width=5)
    fx, fy = SIZE * 0.22, SIZE * 0.70
    d.polygon([(fx - 120, fy), (fx + 120, fy), (fx + 90, fy + 40), (fx - 90, fy + 40)], fill=(30, 30, 36))
    d.rectangle([fx - 60, fy - 50, fx + 50, fy], fill=(52, 52, 60))
    for k in range(4):
        d.rectangle([fx - 50 + 26 * k, fy - 38, fx - 36 + 26 * k, fy - 24], fill=(255, 214, 120))
    img.save(OUT, optimize=True)
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
