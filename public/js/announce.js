// The polite live region: upload results and status changes, for screen readers.
import { $ } from './dom.js';

let pending = [];
let timer = 0;

/** Queues a message; messages close together are read as one. */
export function announce(message) {
  pending.push(message);
  clearTimeout(timer);
  timer = setTimeout(() => {
    const text = pending.join(' ');
    pending = [];
    const announcer = $('announcer');
    // Cleared first, so that the same sentence twice is still announced.
    announcer.textContent = '';
    requestAnimationFrame(() => {
      announcer.textContent = text;
    });
  }, 400);
}
