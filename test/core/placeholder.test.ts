import { describe, expect, it } from 'vitest';
import { dominantColor } from '../../src/core/placeholder.js';

const rgba = (...pixels: [number, number, number, number][]) => Uint8Array.from(pixels.flat());

describe('dominantColor', () => {
  it('is the mean colour of the most common cell, not of the whole image', () => {
    const pixels = rgba([250, 0, 0, 255], [240, 10, 5, 255], [0, 0, 255, 255]);
    expect(dominantColor(pixels)).toBe('#f50503');
  });

  it('ignores transparent pixels; a fully transparent image is black', () => {
    expect(dominantColor(rgba([0, 255, 0, 0], [0, 255, 0, 0], [10, 20, 30, 255]))).toBe('#0a141e');
    expect(dominantColor(rgba([0, 255, 0, 0]))).toBe('#000000');
  });
});
