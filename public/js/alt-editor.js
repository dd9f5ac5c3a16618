// The alt-text editor of an image's view: the alt text (required, at most 300 characters: the
// server's limit for a person's text) and an optional description, saved with PUT .../alt-text;
// and, when a model is configured, "Ask the model again".
import { announce } from './announce.js';
import { h, uniqueId } from './dom.js';
import { altSourceText } from './format.js';
import { regenerateAltText, saveAltText } from './store.js';

const ALT_MAX = 300;
const DESCRIPTION_MAX = 1000;

/** A textarea with its label and a character count under it. */
function field(label, { rows, maxLength, required = false, hint = '' }) {
  const id = uniqueId('alt-field');
  const input = h('textarea', { id, rows, maxLength, required, class: 'alt-form__input', spellcheck: true });
  const counter = h('span', { class: 'alt-form__count', id: `${id}-count`, 'aria-live': 'off' });
  const hintElement = hint ? h('span', { class: 'alt-form__hint', id: `${id}-hint` }, hint) : '';
  input.setAttribute('aria-describedby', [hint ? `${id}-hint` : '', `${id}-count`].filter(Boolean).join(' '));
  const count = () => {
    counter.textContent = `${[...input.value].length} / ${maxLength}`;
  };
  input.addEventListener('input', count);
  return {
    input,
    count,
    element: h(
      'div',
      { class: 'alt-form__field' },
      h('label', { for: id }, label),
      hintElement,
      input,
      counter,
    ),
  };
}

/**
 * `altTextConfigured`: whether a model writes alt text here (else the form says it is a person's
 * job, and offers no regeneration). Returns the form, `show(record)` to follow the record (a text
 * being typed is never overwritten), and `focus()`.
 */
export function altEditor({ altTextConfigured }) {
  let record;
  let dirty = false;
  const status = h('p', { class: 'alt-form__status' });
  const alt = field('Alt text', {
    rows: 3,
    maxLength: ALT_MAX,
    required: true,
    hint: 'What a person who cannot see the image needs to know: subject, action, setting.',
  });
  const description = field('Description (optional)', { rows: 4, maxLength: DESCRIPTION_MAX });
  const problem = h('p', { class: 'alt-form__problem', role: 'alert', hidden: true });
  const save = h(
    'button',
    { type: 'submit', class: 'button button--primary button--small' },
    'Save alt text',
  );
  const regenerate = h(
    'button',
    { type: 'button', class: 'button button--quiet button--small', hidden: !altTextConfigured },
    'Ask the model again',
  );
  const saved = h('span', { class: 'alt-form__saved', role: 'status' });
  const form = h(
    'form',
    { class: 'alt-form', novalidate: true },
    status,
    alt.element,
    description.element,
    problem,
    h('div', { class: 'alt-form__buttons' }, save, regenerate, saved),
  );

  const showProblem = (text) => {
    problem.hidden = !text;
    problem.textContent = text;
  };
  const fill = () => {
    alt.input.value = record.altText?.alt ?? '';
    description.input.value = record.altText?.description ?? '';
    alt.count();
    description.count();
    dirty = false;
  };
  for (const input of [alt.input, description.input]) {
    input.addEventListener('input', () => {
      dirty = true;
      saved.textContent = '';
    });
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const text = alt.input.value.trim();
    if (!text) {
      showProblem('Alt text cannot be empty.');
      alt.input.setAttribute('aria-invalid', 'true');
      alt.input.focus();
      return;
    }
    alt.input.removeAttribute('aria-invalid');
    save.disabled = true;
    try {
      const updated = await saveAltText(record.key, {
        alt: text,
        description: description.input.value.trim(),
      });
      showProblem('');
      dirty = false;
      show(updated);
      saved.textContent = 'Saved.';
      announce(`Alt text of ${updated.name} saved.`);
    } catch (error) {
      showProblem(`Could not save: ${error.message}.`);
    } finally {
      save.disabled = false;
    }
  });

  regenerate.addEventListener('click', async () => {
    regenerate.disabled = true;
    try {
      const updated = await regenerateAltText(record.key);
      showProblem('');
      dirty = false;
      show(updated);
      announce(`New alt text for ${updated.name} requested.`);
    } catch (error) {
      showProblem(`Could not ask again: ${error.message}.`);
    } finally {
      regenerate.disabled = false;
    }
  });

  function show(next) {
    const changedImage = record?.key !== next.key;
    const textChanged =
      record?.altText?.alt !== next.altText?.alt ||
      record?.altText?.description !== next.altText?.description;
    record = next;
    if (changedImage) {
      showProblem('');
      saved.textContent = '';
    }
    // A text being typed is never replaced by one that arrives meanwhile.
    if (changedImage || (textChanged && !dirty)) fill();
    status.textContent = statusLine(next.altText, altTextConfigured);
    status.dataset.altStatus = next.altText?.status ?? 'unknown';
  }

  return { element: form, show, focus: () => alt.input.focus() };
}

function statusLine(altText, configured) {
  const source = altSourceText(altText);
  if (source) return `${source}.`;
  switch (altText?.status) {
    case 'queued':
      return 'The model is writing alt text…';
    case 'failed':
      return `The model could not write alt text${altText.error?.code ? ` (${altText.error.code})` : ''}. Write it here.`;
    case 'done':
      return 'The model wrote no alt text. Write it here.';
    default:
      return configured
        ? 'No alt text yet. Write it here.'
        : 'Alt text is off on this server: write it here yourself.';
  }
}
