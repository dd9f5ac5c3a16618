// DOM helpers shared by every view.

/** The element with this id (every id the modules use is in index.html). */
export const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

/** createElement with attributes (`class`, `dataset`, `on...` listeners, properties, attributes) and children. */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'class') element.className = value;
    else if (name === 'dataset') Object.assign(element.dataset, value);
    else if (name.startsWith('on')) element.addEventListener(name.slice(2), value);
    else if (name in element && typeof value !== 'string') element[name] = value;
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child !== undefined && child !== null && child !== false) element.append(child);
  }
  return element;
}

let nextId = 0;

/** A unique id for label/aria links between elements made at run time. */
export function uniqueId(prefix) {
  nextId += 1;
  return `${prefix}-${nextId}`;
}

/**
 * A button that runs `action` once per click: disabled while it runs, enabled again if it fails
 * (the store has announced why), left disabled on success (the next render replaces it).
 */
export function actionButton(attributes, label, action) {
  const button = h('button', { type: 'button', ...attributes }, label);
  button.addEventListener('click', async () => {
    button.disabled = true;
    await action().catch(() => {
      button.disabled = false;
    });
  });
  return button;
}
