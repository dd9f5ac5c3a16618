import { describe, expect, it } from 'vitest';
import { formatDuration, ProgressReporter } from '../../src/cli/progress.js';

/** Just enough of a stream for the reporter: collects what is written. */
function fakeStream(isTTY: boolean): { stream: NodeJS.WriteStream; text: () => string } {
  const chunks: string[] = [];
  const stream = {
    isTTY,
    write(chunk: string) {
      chunks.push(chunk);
      return true;
    },
  };
  return { stream: stream as unknown as NodeJS.WriteStream, text: () => chunks.join('') };
}

describe('ProgressReporter', () => {
  it('writes one plain line per file when not on a terminal', () => {
    const { stream, text } = fakeStream(false);
    const progress = new ProgressReporter(3, stream);
    progress.update({ key: 'a/cat.jpg', ok: true, detail: '12 ms' });
    progress.update({ key: 'notes.txt', ok: false, detail: 'NOT_AN_IMAGE not an image' });
    progress.update({ key: 'b/dog.png', ok: true, detail: '' });
    progress.finish();
    expect(text()).toBe(
      '[1/3] ok a/cat.jpg: 12 ms\n[2/3] FAILED notes.txt: NOT_AN_IMAGE not an image\n[3/3] ok b/dog.png\n',
    );
    // No terminal control codes in logs.
    expect(text()).not.toContain('\r');
    expect(text()).not.toContain('\u001b');
  });

  it('follows the stream: a TTY gets the redrawn bar', () => {
    const { stream, text } = fakeStream(true);
    const progress = new ProgressReporter(2, stream);
    progress.update({ key: 'a.jpg', ok: true, detail: '1 ms' });
    expect(text()).toContain('\r\u001b[2K');
  });

  it('on a terminal, redraws one bar with the count, rate and ETA', () => {
    const { stream, text } = fakeStream(true);
    const progress = new ProgressReporter(4, stream, true);
    for (const key of ['a.jpg', 'b.jpg', 'c.jpg', 'd.jpg'])
      progress.update({ key, ok: true, detail: '1 ms' });
    progress.finish();
    const out = text();
    // The last redraw, after the last \r: the bar at 4/4, 100%, with rate and ETA.
    const frames = out.split('\r\u001b[2K').filter(Boolean);
    const last = frames[frames.length - 1] ?? '';
    expect(last).toMatch(/^\[#{24}\] 4\/4 100% \d+\.\d img\/s ETA (\d+s|--)\n$/);
    // The first update always draws, so a slow batch shows progress from its first image.
    expect(frames[0]).toMatch(/^\[#{6}-{18}\] 1\/4 25% .*img\/s ETA /);
    // Successful files do not each get a line of their own: one line in all, ended by finish().
    expect(out.split('\n')).toHaveLength(2);
  });

  it('on a terminal, prints each failure on its own line above the bar', () => {
    const { stream, text } = fakeStream(true);
    const progress = new ProgressReporter(2, stream, true);
    progress.update({ key: 'bad.jpg', ok: false, detail: 'CORRUPT_IMAGE corrupt image' });
    progress.update({ key: 'good.jpg', ok: true, detail: '1 ms' });
    progress.finish();
    expect(text()).toContain('\r\u001b[2KFAILED bad.jpg: CORRUPT_IMAGE corrupt image\n');
    expect(text()).toMatch(/2\/2 100%/);
  });

  it('writes nothing for an empty batch', () => {
    const { stream, text } = fakeStream(true);
    new ProgressReporter(0, stream, true).finish();
    expect(text()).toBe('');
  });
});

describe('formatDuration', () => {
  it.each([
    [0, '0s'],
    [0.2, '1s'],
    [5, '5s'],
    [59, '59s'],
    [59.5, '1m00s'],
    [60, '1m00s'],
    [61, '1m01s'],
    [119.5, '2m00s'],
    [125, '2m05s'],
    [3600, '60m00s'],
  ])('%s seconds is %s', (seconds, text) => {
    expect(formatDuration(seconds)).toBe(text);
  });

  it('shows -- when there is no estimate yet', () => {
    expect(formatDuration(Number.NaN)).toBe('--');
    expect(formatDuration(Number.POSITIVE_INFINITY)).toBe('--');
  });
});
