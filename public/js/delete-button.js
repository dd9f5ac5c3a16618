// Delete, confirmed in place: the question and its two buttons replace the Delete button, with
// "Keep" (the safe choice) focused first; Escape backs out.
import { announce } from './announce.js';
import { h, uniqueId } from './dom.js';
import { deleteImage } from './store.js';

/**
 * A Delete button for one image. `current()` gives its record now. `beforeDelete()` is asked,
 * while the image is still listed, where focus should go after; `afterDelete(key, that)` moves it
 * there once the image is gone (and this element, often, with it).
 */
export function deleteButton({ current, beforeDelete = () => undefined, afterDelete, small = true }) {
  const size = small ? ' button--small' : '';
  const remove = h(
    'button',
    { type: 'button', class: `button button--quiet button--danger${size}` },
    'Delete',
  );
  const question = h('span', { class: 'confirm__text', id: uniqueId('confirm') });
  const yes = h('button', { type: 'button', class: `button button--danger-solid${size}` }, 'Delete');
  const no = h('button', { type: 'button', class: `button button--quiet${size}` }, 'Keep');
  const group = h(
    'div',
    { class: 'confirm', role: 'group', 'aria-labelledby': question.id, hidden: true },
    question,
    h('span', { class: 'confirm__buttons' }, yes, no),
  );
  const element = h('div', { class: 'delete' }, remove, group);

  const close = (refocus) => {
    group.hidden = true;
    remove.hidden = false;
    yes.disabled = false;
    no.disabled = false;
    if (refocus) remove.focus();
  };
  remove.addEventListener('click', () => {
    const { name } = current();
    question.textContent = `Delete ${name} with its thumbnails and alt text? This cannot be undone.`;
    yes.setAttribute('aria-label', `Delete ${name} for good`);
    remove.hidden = true;
    group.hidden = false;
    no.focus();
  });
  no.addEventListener('click', () => close(true));
  group.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') close(true);
  });
  yes.addEventListener('click', async () => {
    const { key, name } = current();
    yes.disabled = true;
    no.disabled = true;
    const next = beforeDelete();
    try {
      await deleteImage(key);
    } catch (error) {
      announce(`Could not delete ${name}: ${error.message}.`);
      close(true);
      return;
    }
    announce(`${name} deleted.`);
    afterDelete(key, next);
  });
  return {
    element,
    /** Keeps the button's accessible name in step with the record. */
    label(name) {
      remove.setAttribute('aria-label', `Delete ${name}`);
    },
  };
}
