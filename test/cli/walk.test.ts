import { mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InputArgumentError, walkInputs } from '../../src/cli/walk.js';

describe('walkInputs', () => {
  let dir: string;
  /** Creates the files (relative to dir), with their folders. */
  const touch = async (...files: string[]) => {
    for (const file of files) {
      await mkdir(path.dirname(path.join(dir, file)), { recursive: true });
      await writeFile(path.join(dir, file), file);
    }
  };
  const at = (relative: string) => path.join(dir, relative);
  const keys = async (inputs: string[], out = at('out')) => (await walkInputs(inputs, out)).map((i) => i.key);

  beforeEach(async () => {
    dir = await realpath(await mkdtemp(path.join(tmpdir(), 'thumbnailer-walk-')));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('lists every file in a folder, recursively, sorted, keyed relative to the folder', async () => {
    await touch('in/b.jpg', 'in/a/z.jpg', 'in/a/b/c.png', 'in/B.jpg', 'in/10.jpg', 'in/9.jpg', 'in/a.jpg');
    const inputs = await walkInputs([at('in')], at('out'));
    expect(inputs).toEqual([
      { file: at('in/10.jpg'), key: '10.jpg' },
      { file: at('in/9.jpg'), key: '9.jpg' },
      { file: at('in/B.jpg'), key: 'B.jpg' },
      { file: at('in/a/b/c.png'), key: 'a/b/c.png' },
      { file: at('in/a/z.jpg'), key: 'a/z.jpg' },
      { file: at('in/a.jpg'), key: 'a.jpg' },
      { file: at('in/b.jpg'), key: 'b.jpg' },
    ]);
  });

  it('gives the same order whatever order the files were created in', async () => {
    await touch('one/c.jpg', 'one/a.jpg', 'one/b.jpg');
    await touch('two/b.jpg', 'two/c.jpg', 'two/a.jpg');
    expect(await keys([at('one')])).toEqual(['a.jpg', 'b.jpg', 'c.jpg']);
    expect(await keys([at('two')])).toEqual(['a.jpg', 'b.jpg', 'c.jpg']);
  });

  it('keys a file argument by its base name and keeps the argument order', async () => {
    await touch('x/z.jpg', 'y/deep/a.jpg', 'f/m.jpg');
    const resolved = await walkInputs([at('x/z.jpg'), at('f'), at('y/deep/a.jpg')], at('out'));
    expect(resolved).toEqual([
      { file: at('x/z.jpg'), key: 'z.jpg' },
      { file: at('f/m.jpg'), key: 'm.jpg' },
      { file: at('y/deep/a.jpg'), key: 'a.jpg' },
    ]);
  });

  it('skips hidden files and folders', async () => {
    await touch(
      'in/.hidden.jpg',
      'in/.git/x.jpg',
      'in/.DS_Store',
      'in/ok.jpg',
      'in/sub/.thumbs/y.jpg',
      'in/sub/z.jpg',
    );
    expect(await keys([at('in')])).toEqual(['ok.jpg', 'sub/z.jpg']);
  });

  it('does not follow symlinks to files or folders, and a symlink loop does not hang', async () => {
    await touch('in/real.jpg', 'elsewhere/outside.jpg', 'elsewhere/more/deep.jpg');
    await symlink(at('elsewhere/outside.jpg'), at('in/link.jpg'));
    await symlink(at('elsewhere'), at('in/linked-folder'));
    await symlink(at('in'), at('in/loop'));
    expect(await keys([at('in')])).toEqual(['real.jpg']);
  });

  it('skips the out folder when it lies inside an input', async () => {
    await touch('in/a.jpg', 'in/thumbs/a.jpg/thumb.webp', 'in/thumbsX/b.jpg');
    expect(await keys([at('in')], at('in/thumbs'))).toEqual(['a.jpg', 'thumbsX/b.jpg']);
  });

  it('skips the out folder when named through a symlink or a relative path', async () => {
    await touch('in/a.jpg', 'in/thumbs/a.jpg/thumb.webp');
    await symlink(at('in/thumbs'), at('out-link'));
    expect(await keys([at('in')], at('out-link'))).toEqual(['a.jpg']);
    expect(await keys([at('in')], path.relative(process.cwd(), at('in/thumbs')))).toEqual(['a.jpg']);
  });

  it('skips nothing for an out folder that does not exist yet', async () => {
    await touch('in/a.jpg', 'in/b/c.jpg');
    expect(await keys([at('in')], at('in/new-out'))).toEqual(['a.jpg', 'b/c.jpg']);
  });

  it('gives nothing for an empty folder', async () => {
    await mkdir(at('empty'));
    expect(await walkInputs([at('empty')], at('out'))).toEqual([]);
  });

  it('refuses an input that does not exist, naming it', async () => {
    await touch('in/a.jpg');
    const error = await walkInputs([at('in'), at('nope.jpg')], at('out')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InputArgumentError);
    expect((error as Error).message).toBe(`no such file or folder: ${at('nope.jpg')}`);
  });

  it('follows a symlink named on the command line, to a file or a folder', async () => {
    await touch('elsewhere/photo.jpg', 'elsewhere/sub/b.jpg');
    await symlink(at('elsewhere/photo.jpg'), at('link.jpg'));
    await symlink(at('elsewhere'), at('linked'));
    expect(await keys([at('link.jpg'), at('linked')])).toEqual(['link.jpg', 'photo.jpg', 'sub/b.jpg']);
  });

  it('refuses the out folder itself as an input folder', async () => {
    await touch('in/a.jpg');
    const error = await walkInputs([at('in')], at('in')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InputArgumentError);
    expect((error as Error).message).toMatch(/output folder cannot be an input folder/);
  });
});
