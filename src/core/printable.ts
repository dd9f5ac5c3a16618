/**
 * Characters that change how a terminal or a page shows the text around them: C0 and C1 controls
 * (a carriage return or an escape sequence can rewrite what was printed before) and the Unicode
 * bidirectional formatting characters (an override such as U+202E shows `gpj.exe` as
 * `exe.jpg`).
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what we find
export const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu;

/**
 * `text` safe to print where a person reads it: every control or bidi formatting character shown
 * as a visible escape (`\n`, `\x1b`, `\u202e`), everything else as it is.
 */
export function printable(text: string): string {
  return text.replace(UNPRINTABLE, (character) => {
    const code = character.codePointAt(0) as number;
    if (character === '\n') return '\\n';
    if (character === '\r') return '\\r';
    if (character === '\t') return '\\t';
    return code <= 0xff
      ? `\\x${code.toString(16).padStart(2, '0')}`
      : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}
