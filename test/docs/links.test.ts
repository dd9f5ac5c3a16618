import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The documentation stands on its own: every relative link in a tracked Markdown file names a
 * file or folder inside the repository that exists (a user clones this repository alone).
 */
const repo = path.resolve(import.meta.dirname, '../..');
const markdownFiles = execFileSync('git', ['ls-files', '*.md'], { cwd: repo, encoding: 'utf8' })
  .split('\n')
  .filter(Boolean);

/** The targets of Markdown links and images, `[text](target)`, that are not URLs or anchors. */
function relativeLinks(markdown: string): string[] {
  const withoutCode = markdown.replace(/```[\s\S]*?```/g, '').replace(/`[^`\n]*`/g, '');
  return [...withoutCode.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)]
    .map((match) => match[1] as string)
    .filter((target) => !/^([a-z][a-z0-9+.-]*:|#)/i.test(target))
    .map((target) => decodeURIComponent(target.split('#')[0] as string));
}

describe('Markdown links', () => {
  it('finds the documents to check', () => {
    expect(markdownFiles).toEqual(expect.arrayContaining(['README.md', 'docs/architecture.md']));
  });

  it.each(markdownFiles)('%s links only to files inside the repository that exist', (file) => {
    const broken = relativeLinks(readFileSync(path.join(repo, file), 'utf8')).filter((target) => {
      const resolved = path.resolve(repo, path.dirname(file), target);
      return !resolved.startsWith(repo + path.sep) || !existsSync(resolved);
    });
    expect(broken).toEqual([]);
  });
});
