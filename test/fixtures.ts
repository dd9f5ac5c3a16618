import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Every test image, named once. They live in the repository under test/fixtures/images; the
 * README beside them says where each comes from, its licence, and what a thumbnailer must do
 * with it.
 */
export const FIXTURES_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), 'fixtures/images');

const at = (relative: string) => path.join(FIXTURES_ROOT, relative);

export const fixtures = {
  photo: {
    branches: at('photo/branches.jpg'),
    dune: at('photo/dune.jpg'),
    flower: at('photo/flower-2268x1512.jpg'),
    flowerAlpha: at('photo/flower-alpha.png'),
    flowerGray: at('photo/flower-gray.jpg'),
    flowerProgressive: at('photo/flower-progressive.jpg'),
    ladybird: at('photo/ladybird.jpg'),
  },
  orientation: Array.from({ length: 9 }, (_, n) => at(`orientation/orientation_${n}.jpg`)),
  colour: {
    cmyk: at('colour/cmyk.jpg'),
    cmykReference: at('colour/cmyk-reference-rgb.jpg'),
    displayP3: at('colour/p3-color-bars.png'),
    rec2020: at('colour/rec2020-color-bars.png'),
  },
  formats: {
    animatedGif: at('formats/animated-traffic-light.gif'),
    interlacedGif: at('formats/interlaced.gif'),
    webpLossless: at('formats/blue-purple-pink.lossless.webp'),
    webpLossy: at('formats/blue-purple-pink.lossy.webp'),
    tiffLzw: at('formats/blue-purple-pink.lzwcompressed.tiff'),
    bmp: at('formats/colormap.bmp'),
    avif: at('formats/flower.avif'),
    heic: at('formats/flower.heic'),
    png16Grey: at('formats/pngsuite-basn0g16.png'),
    png16Rgb: at('formats/pngsuite-basn2c16.png'),
    pngPalette: at('formats/pngsuite-basn3p04.png'),
    pngGreyAlpha: at('formats/pngsuite-basn4a08.png'),
    png16RgbAlpha: at('formats/pngsuite-basn6a16.png'),
  },
  hostile: {
    bomb: at('hostile/bomb-40000x40000.png'),
    cutAfter4k: at('hostile/cut-after-4k.jpg'),
    empty: at('hostile/empty.jpg'),
    externalEntitySvg: at('hostile/external-entity.svg'),
    hugeHeader: at('hostile/header-65000x65000.jpg'),
    hugeTagExif: at('hostile/huge_tag_exif.jpg'),
    infiniteLoopExif: at('hostile/infinite_loop_exif.jpg'),
    invalidCrcPng: at('hostile/invalid-crc32.png'),
    maxUint32Exif: at('hostile/max_uint32_exif.jpg'),
    textNamedJpg: at('hostile/text-named.jpg'),
    truncatedProgressive: at('hostile/truncated-progressive.jpg'),
  },
} as const;
