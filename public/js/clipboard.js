// Copy buttons: the text on the clipboard, the button saying "Copied" for a moment, and the
// live region saying what was copied.
import { announce } from './announce.js';

/**
 * Copies `text`: the Clipboard API where the page may use it (a secure context), else a
 * selection of `source` and the copy command; failing both, the text is left selected.
 */
export async function copyText(text, source, button, what) {
  let copied = false;
  try {
    await navigator.clipboard.writeText(text);
    copied = true;
  } catch {
    const range = document.createRange();
    range.selectNodeContents(source);
    const selection = getSelection();
    selection?.removeAllRanges();
    selection?.addRange(range);
    try {
      copied = document.execCommand('copy');
    } catch {
      copied = false;
    }
  }
  if (!copied) {
    announce(`Could not copy ${what}: it is selected, press Control+C (or Command+C) to copy it.`);
    return;
  }
  button.dataset.label ??= button.textContent ?? '';
  button.textContent = 'Copied';
  announce(`Copied ${what}.`);
  clearTimeout(Number(button.dataset.timer));
  button.dataset.timer = String(
    setTimeout(() => {
      button.textContent = button.dataset.label ?? '';
    }, 2000),
  );
}
