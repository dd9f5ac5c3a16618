// The failures view: each dead letter with its code, message and attempts; Retry where a retry
// can help, and Dismiss to take it off the list once seen.
import { announce } from './announce.js';
import { $, actionButton, h } from './dom.js';
import { plural, timeElement } from './format.js';
import { imageHref } from './route.js';
import { dismissFailure, refreshFailures, retryFailure, state } from './store.js';

export function initFailures() {
  $('refresh-failures').addEventListener('click', async () => {
    try {
      await refreshFailures();
      announce(`${plural(state.failures.length, 'failure')}.`);
    } catch (error) {
      announce(`Could not load failures: ${error.message}.`);
    }
  });
}

export function renderFailures() {
  const { failures, retrying } = state;
  const listed = new Set(failures.map((f) => f.id));
  const rows = [
    ...[...retrying.values()]
      .filter((r) => !listed.has(r.id))
      .map((r) => ({ ...r.failure, retryQueued: true })),
    ...failures,
  ];
  const count = $('failures-count');
  count.hidden = failures.length === 0;
  count.textContent = String(failures.length);
  $('failures-empty').hidden = rows.length > 0;
  $('failures-table').hidden = rows.length === 0;

  // Focus stays on the row it was in (its first button), or goes on to the next row.
  const body = $('failures');
  const focusedRow = document.activeElement?.closest?.('tr');
  const inTable = focusedRow?.parentElement === body;
  const focusedId = focusedRow?.dataset.failureId;
  const rowIndex = inTable ? [...body.children].indexOf(focusedRow) : -1;
  const focusedLabel = document.activeElement?.getAttribute('aria-label') ?? '';
  body.replaceChildren(...rows.map(failureRow));
  if (inTable && focusedId) {
    const row = `tr[data-failure-id="${CSS.escape(focusedId)}"]`;
    const again =
      body.querySelector(`${row} button[aria-label="${CSS.escape(focusedLabel)}"]:enabled`) ??
      body.querySelector(`${row} button:enabled`) ??
      body.children[Math.min(rowIndex, body.children.length - 1)]?.querySelector('button:enabled');
    if (again) again.focus();
    else $('tab-failures').focus();
  }
}

function failureRow(failure) {
  const label = failure.name ?? failure.key;
  const retryable = failure.retryable !== false;
  const retry = actionButton(
    {
      class: 'button button--small',
      'aria-label': `Retry ${label}`,
      disabled: Boolean(failure.retryQueued),
    },
    failure.retryQueued ? 'Queued' : 'Retry',
    () => retryFailure(failure),
  );
  const dismiss = actionButton(
    { class: 'button button--quiet button--small', 'aria-label': `Dismiss the failure of ${label}` },
    'Dismiss',
    () => dismissFailure(failure),
  );
  const actions = failure.retryQueued
    ? [retry]
    : [
        retryable
          ? retry
          : h('span', { class: 'failure__final' }, 'Retry cannot help: the file itself is the problem.'),
        dismiss,
      ];
  return h(
    'tr',
    {
      dataset: {
        failureId: String(failure.id),
        key: failure.key,
        ...(failure.retryQueued ? { retry: 'queued' } : {}),
      },
    },
    h(
      'td',
      { 'data-label': 'File' },
      h('a', { class: 'failure__name', href: imageHref(failure.key) }, label),
      h('span', { class: 'failure__key' }, failure.key),
      failure.retryQueued ? h('span', { class: 'failure__state' }, 'Retry queued') : '',
    ),
    h('td', { 'data-label': 'Step' }, failure.queue === 'alt-text' ? 'Alt text' : 'Thumbnails'),
    h('td', { 'data-label': 'Code' }, h('span', { class: 'failure__code' }, failure.code ?? '—')),
    h('td', { 'data-label': 'Message', class: 'failure__message' }, failure.message ?? ''),
    h('td', { 'data-label': 'Attempts', class: 'num failure__attempts' }, String(failure.attempts ?? '')),
    h('td', { 'data-label': 'Last failed' }, timeElement(failure.lastReceivedAt)),
    h('td', {}, h('div', { class: 'failure__actions' }, ...actions)),
  );
}
