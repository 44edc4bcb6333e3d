import { Api, ApiError, type Catalog, type Me } from './api.ts';
import { h, replaceChildren } from './dom.ts';
import { renderFiles } from './files.ts';
import { renderGenerate } from './generate.ts';
import { renderGenerations, renderGroup } from './generations.ts';
import { releaseObjectUrls } from './parts.ts';
import { renderPractice } from './practice.ts';
import { renderRecord, renderNewRecord, renderRecordList } from './records.ts';

const TOKEN_KEY = 'glow.token';

/** What every view is given: the API with the signed-in token, who that is, the families, and where to draw. */
export interface Context {
  api: Api;
  me: Me;
  catalog: Catalog;
  /** The view draws here; it is put on the page only if the user has not moved on meanwhile. */
  main: HTMLElement;
  params: URLSearchParams;
  /** Goes to a hash (re-rendering the view when it is the current one). */
  navigate(hash: string): void;
  /** Aborts when the view is left: open streams stop, late answers are dropped. */
  signal: AbortSignal;
}

const page = document.getElementById('main')!;
const nav = document.getElementById('nav')!;
const who = document.getElementById('who')!;
let catalog: Catalog | undefined;
let session: { api: Api; me: Me } | undefined;
let leaving = new AbortController();

async function start(): Promise<void> {
  try {
    const response = await fetch('/console/catalog.json');
    if (!response.ok) throw new Error(`The server answered ${response.status} for the console's catalogue.`);
    catalog = (await response.json()) as Catalog;
  } catch (error) {
    replaceChildren(page, h('p', { class: 'error', attrs: { role: 'alert' } }, `The console could not start: ${error instanceof Error ? error.message : String(error)} Reload to try again.`));
    return;
  }
  const stored = sessionStorage.getItem(TOKEN_KEY);
  let message: string | undefined;
  if (stored) {
    try {
      session = await signInWith(stored);
    } catch (error) {
      // Refused: sign in again. Unreachable (a server restarting): keep it, a reload will do.
      if (error instanceof ApiError && error.status === 401) sessionStorage.removeItem(TOKEN_KEY);
      else message = `The server could not be reached (${error instanceof Error ? error.message : String(error)}); reload to try again, or sign in.`;
    }
  }
  window.addEventListener('hashchange', () => void route());
  await route(message);
}

async function signInWith(token: string): Promise<{ api: Api; me: Me }> {
  const api = new Api(token);
  const me = await api.call<Me>('/profile/me');
  api.onUnauthorized = () => signOut('That token is no longer valid: it was revoked or is unknown. Sign in again.');
  return { api, me };
}

function signOut(message?: string): void {
  sessionStorage.removeItem(TOKEN_KEY);
  session = undefined;
  void route(message);
}

function renderSignIn(message?: string): void {
  replaceChildren(who);
  replaceChildren(nav);
  const token = h('input', { type: 'password', name: 'token', autocomplete: 'off', required: true, size: 40, attrs: { 'aria-label': 'API token' } });
  const problem = h('p', { class: 'error', hidden: !message, attrs: { role: 'alert' } }, message ?? '');
  const form = h(
    'form',
    {
      class: 'card',
      on: {
        submit: (event) => {
          event.preventDefault();
          void (async () => {
            try {
              session = await signInWith(token.value.trim());
              sessionStorage.setItem(TOKEN_KEY, session.api.token);
              await route();
            } catch (error) {
              problem.hidden = false;
              problem.textContent =
                error instanceof ApiError && error.status === 401 ? 'That token was not accepted: it is unknown or revoked.' : error instanceof Error ? error.message : String(error);
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
  replaceChildren(page, form);
  token.focus();
}

function renderChrome(current: string | undefined, me: Me): void {
  replaceChildren(
    nav,
    catalog!.families.map((family) =>
      h('a', { href: `#/${family.type}`, class: family.type === current ? 'current' : '', title: family.summary, attrs: family.type === current ? { 'aria-current': 'page' } : {} }, family.plural),
    ),
  );
  // On a narrow screen the families are one strip that scrolls sideways: keep the current one in sight.
  const currentLink = nav.querySelector<HTMLElement>('a.current');
  if (currentLink && nav.scrollWidth > nav.clientWidth) nav.scrollLeft = Math.max(0, currentLink.offsetLeft - (nav.clientWidth - currentLink.offsetWidth) / 2);
  replaceChildren(
    who,
    h('span', {}, `${me.profile.name} (${me.role}${me.operator ? ', operator' : ''})`),
    h('button', { type: 'button', on: { click: () => signOut() } }, 'Sign out'),
  );
}

function home(): HTMLElement[] {
  return [
    h('h1', {}, 'Artifacts'),
    h('p', { class: 'muted' }, 'Every family of role-play practice artifact. Pick one to browse, write or generate.'),
    h(
      'div',
      { class: 'cards' },
      catalog!.families.map((family) =>
        h('div', { class: 'card' }, h('h2', {}, h('a', { href: `#/${family.type}` }, family.plural)), h('p', { class: 'muted' }, family.summary)),
      ),
    ),
  ];
}

/** `#/<type>/<view>/<id>?<query>`, or nothing sensible (a hand-edited address): then the home page. */
function parseHash(): { type?: string; view?: string; id?: string; query: string } {
  const [path = '', query = ''] = location.hash.replace(/^#\/?/, '').split('?');
  try {
    const [type, view, id] = path.split('/').map(decodeURIComponent);
    return { type, view, id, query };
  } catch {
    return { query: '' };
  }
}

async function route(message?: string): Promise<void> {
  leaving.abort();
  releaseObjectUrls();
  leaving = new AbortController();
  const signal = leaving.signal;
  if (!session) return renderSignIn(message);
  const { api, me } = session;
  const { type, view, id, query } = parseHash();
  renderChrome(type, me);
  const family = catalog!.families.find((candidate) => candidate.type === type);
  // Each view draws into its own element, shown once it is complete and only if the user is still here.
  const main = h('div', {});
  const context: Context = {
    api,
    me,
    catalog: catalog!,
    main,
    params: new URLSearchParams(query),
    navigate: (hash) => {
      if (location.hash === hash) void route();
      else location.hash = hash;
    },
    signal,
  };
  try {
    if (!family) replaceChildren(main, home());
    else if (view === 'new' && family.crud) await renderNewRecord(context, family);
    else if (view === 'id' && id && family.crud) await renderRecord(context, family, id);
    else if (view === 'generate') renderGenerate(context, family);
    else if (view === 'generations') await renderGenerations(context, family);
    else if (view === 'group' && id) await renderGroup(context, family, id);
    else if (view === 'files') renderFiles(context, family);
    else if (view === 'practice' && id && family.type === 'attempt') await renderPractice(context, family, id);
    else await renderRecordList(context, family);
  } catch (error) {
    if (signal.aborted || (error instanceof ApiError && error.status === 401)) return;
    replaceChildren(main, h('p', { class: 'error', attrs: { role: 'alert' } }, error instanceof Error ? error.message : String(error)));
  }
  if (signal.aborted) return;
  replaceChildren(page, main);
  // Keyboard and screen-reader users start at the new page's heading.
  const target = page.querySelector<HTMLElement>('[data-autofocus]') ?? page.querySelector('h1');
  if (target && !page.contains(document.activeElement)) {
    if (target.tagName === 'H1') target.tabIndex = -1;
    target.focus();
  }
}

void start();
