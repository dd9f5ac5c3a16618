"""Pillow baseline for bench/thumbnail-bench.mjs: the original design of the pipeline.

For each JPEG in PHOTO_DIR, one at a time: open, thumbnail to fit 256x256, save as JPEG
(quality 80) into OUT_DIR. `--version` prints Pillow's version and exits.

Usage: python3 pillow_thumbnail.py PHOTO_DIR OUT_DIR
"""
import os
import sys

from PIL import Image, __version__

SIZE = (256, 256)
QUALITY = 80


def main(argv):
    if argv[1:] == ["--version"]:
        print(__version__)
        return 0
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    photo_dir, out_dir = argv[1], argv[2]
    os.makedirs(out_dir, exist_ok=True)
    names = sorted(n for n in os.listdir(photo_dir) if n.lower().endswith((".jpg", ".jpeg")))
    for name in names:
        with Image.open(os.path.join(photo_dir, name)) as img:
            img.thumbnail(SIZE)  # uses JPEG draft mode (DCT scaling) like libvips' shrink-on-load
            if img.mode != "RGB":
                img = img.convert("RGB")
            img.save(os.path.join(out_dir, os.path.splitext(name)[0] + ".jpg"), "JPEG", quality=QUALITY)
    print(len(names))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
