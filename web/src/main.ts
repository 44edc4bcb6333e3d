import { Api, ApiError, type Catalog } from './api.ts';
import { h, replaceChildren } from './dom.ts';
import { renderRecord, renderNewRecord, renderRecordList } from './records.ts';
import { renderGenerate } from './generate.ts';
import { renderGenerations, renderGroup } from './generations.ts';
import { renderPractice } from './practice.ts';
import { renderFiles } from './files.ts';

const TOKEN_KEY = 'glow.token';

/** What every view is given: the API with the signed-in token, the families, and where to draw. */
export interface Context {
  api: Api;
  catalog: Catalog;
  main: HTMLElement;
  params: URLSearchParams;
  /** Changes the hash's query (and so re-renders the view). */
  navigate(hash: string): void;
  /** Each render gets a signal that aborts when the view is left (open streams stop). */
  signal: AbortSignal;
}

const main = document.getElementById('main')!;
const nav = document.getElementById('nav')!;
const who = document.getElementById('who')!;
let catalog: Catalog | undefined;
let api: Api | undefined;
let leaving = new AbortController();

async function start(): Promise<void> {
  const response = await fetch('/console/catalog.json');
  catalog = (await response.json()) as Catalog;
  const stored = sessionStorage.getItem(TOKEN_KEY);
  if (stored) api = new Api(stored);
  window.addEventListener('hashchange', () => void route());
  await route();
}

function signOut(message?: string): void {
  sessionStorage.removeItem(TOKEN_KEY);
  api = undefined;
  void route(message);
}

function renderSignIn(message?: string): void {
  replaceChildren(who);
  replaceChildren(nav);
  const token = h('input', { type: 'password', name: 'token', autocomplete: 'off', placeholder: 'API token', required: true, size: 40 });
  const problem = h('p', { class: 'error', hidden: !message }, message ?? '');
  const form = h(
    'form',
    {
      class: 'card',
      on: {
        submit: (event) => {
          event.preventDefault();
          void (async () => {
            const candidate = new Api(token.value.trim());
            try {
              // Any member may search personas: a cheap check that the token is valid.
              await candidate.call('/persona/search', { page_limit: 1 });
              sessionStorage.setItem(TOKEN_KEY, candidate.token);
              api = candidate;
              await route();
            } catch (error) {
              problem.hidden = false;
              problem.textContent =
                error instanceof ApiError && error.status === 401 ? 'That token was not accepted: it is unknown or revoked.' : error instanceof ApiError ? error.message : String(error);
            }
          })();
        },
      },
    },
    h('h1', {}, 'Sign in to Glow'),
    h('p', { class: 'muted' }, 'Paste an API token (the GLOW_ADMIN_TOKEN the server started with, or one made with glow auths create). It is kept in this tab only.'),
    problem,
    h('div', { class: 'row' }, token, h('button', { class: 'primary', type: 'submit' }, 'Sign in')),
  );
  replaceChildren(main, form);
  token.focus();
}

function renderNav(current: string | undefined): void {
  replaceChildren(
    nav,
    catalog!.families.map((family) =>
      h('a', { href: `#/${family.type}`, class: family.type === current ? 'current' : '', title: family.summary }, family.plural),
    ),
  );
  replaceChildren(who, h('span', {}, `token …${api!.token.slice(-4)}`), h('button', { type: 'button', on: { click: () => signOut() } }, 'Sign out'));
}

function renderHome(): void {
  replaceChildren(
    main,
    h('h1', {}, 'Artifacts'),
    h('p', { class: 'muted' }, 'Every family of role-play practice artifact. Pick one to browse, write or generate.'),
    h(
      'div',
      { class: 'cards' },
      catalog!.families.map((family) =>
        h('div', { class: 'card' }, h('h2', {}, h('a', { href: `#/${family.type}` }, family.plural)), h('p', { class: 'muted' }, family.summary)),
      ),
    ),
  );
}

async function route(message?: string): Promise<void> {
  leaving.abort();
  leaving = new AbortController();
  if (!api) return renderSignIn(message);
  const [path = '', query = ''] = location.hash.replace(/^#\/?/, '').split('?');
  const [type, view, id] = path.split('/').map(decodeURIComponent);
  renderNav(type);
  const family = catalog!.families.find((candidate) => candidate.type === type);
  if (!family) return renderHome();
  const context: Context = {
    api,
    catalog: catalog!,
    main,
    params: new URLSearchParams(query),
    navigate: (hash) => {
      if (location.hash === hash) void route();
      else location.hash = hash;
    },
    signal: leaving.signal,
  };
  try {
    if (view === 'new') renderNewRecord(context, family);
    else if (view === 'id' && id) await renderRecord(context, family, id);
    else if (view === 'generate') renderGenerate(context, family);
    else if (view === 'generations') await renderGenerations(context, family);
    else if (view === 'group' && id) await renderGroup(context, family, id);
    else if (view === 'files') renderFiles(context, family);
    else if (view === 'practice' && id && family.type === 'attempt') await renderPractice(context, family, id);
    else await renderRecordList(context, family);
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return signOut('That token is no longer valid; sign in again.');
    replaceChildren(main, h('p', { class: 'error' }, error instanceof Error ? error.message : String(error)));
  }
}

void start();
