// harness.mjs: what the browser tests share: playwright-core, arguments, TAP, chromium, login, MariaDB, mail, slots, OAuth.
//
// Each test in tests/browser/ imports what it needs:
//   import { args, readInfo, ok, run, launch, openPage } from './harness.mjs';
//   const [infoFile, shot] = args(['INFO.json', 'SCREENSHOT.png']);
//   const info = readInfo(infoFile);
//   await run(async () => {
//   	const { page, problems } = await openPage(await launch(), { width: 1200, height: 1000 });
//   	...; ok(problems.length === 0, 'no console errors', problems.join('\n'));
//   });
// Env: TF_NODE_MODULES (where playwright-core is installed; default: node_modules beside this file),
//      CHROMIUM (default /usr/bin/chromium).
// TAP: ok() numbers and prints the points; run() ends the test with the plan ("1..N") after the last
// point and exit status 1 when a point failed.
import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const modules = process.env.TF_NODE_MODULES || path.join(here, 'node_modules');
const require = createRequire(path.join(modules, 'noop.js'));

// playwright-core's chromium (drives Debian's chromium; no browser download).
export const { chromium } = require('playwright-core');

// The command line's arguments, one per name; a missing or empty one prints
// "usage: node SCRIPT NAME..." on stderr and exits with status 2.
export function args(names) {
	const v = process.argv.slice(2, 2 + names.length);
	if (v.length < names.length || v.some((a) => !a)) {
		console.error(`usage: node ${path.basename(process.argv[1])} ${names.join(' ')}`);
		process.exit(2);
	}
	return v;
}

// tests/lib/stack.py serve's JSON line (base_url, email, password, slug, db_socket, mail_dir, ...).
export function readInfo(file) {
	return JSON.parse(readFileSync(file, 'utf8'));
}

let n = 0;
let failed = 0;

// One TAP point: "ok N - name" or "not ok N - name" followed by diag as "# " lines. Returns cond.
export function ok(cond, name, diag) {
	n++;
	console.log(`${cond ? 'ok' : 'not ok'} ${n} - ${name}`);
	if (!cond) {
		failed++;
		if (diag !== undefined)
			for (const line of String(diag).split('\n'))
				console.log(`# ${line}`);
	}
	return cond;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const browsers = [];

// Debian's chromium (or $CHROMIUM), headless, without sandbox, GPU or background traffic.
// playwright gives every launch a new, empty profile directory of its own. run() closes it.
export async function launch() {
	const browser = await chromium.launch({
		executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
		headless: true,
		args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
		       '--disable-background-networking', '--disable-component-update', '--disable-sync'],
	});
	browsers.push(browser);
	return browser;
}

// Runs the test's body; an exception becomes the failed point "browser run completed" (with its
// stack). Then closes the browsers launch() started, prints the plan and exits (1 when a point failed).
export async function run(body) {
	try {
		await body();
	} catch (e) {
		ok(false, 'browser run completed', e && e.stack ? e.stack : String(e));
	} finally {
		while (browsers.length)
			await browsers.pop().close();
	}
	console.log(`1..${n}`);
	process.exit(failed ? 1 : 0);
}

// Collects what a test expects none of: console errors, uncaught page errors and responses with
// status >= 400 (CSP violations show up as console errors). consoleText(msg) gives the text kept
// for a console error, or null to ignore it (default: msg.text()). Returns the live array.
export function collectProblems(page, consoleText = (m) => m.text()) {
	const problems = [];
	page.on('console', (m) => {
		if (m.type() !== 'error')
			return;
		const t = consoleText(m);
		if (t !== null)
			problems.push(t);
	});
	page.on('pageerror', (e) => problems.push(String(e)));
	page.on('response', (r) => { if (r.status() >= 400) problems.push(`${r.status()} ${r.url()}`); });
	return problems;
}

// A German (de-DE) context of the given viewport with one page whose problems are collected
// (collectProblems; consoleText as there). Returns { context, page, problems }.
export async function openPage(browser, viewport, consoleText) {
	const context = await browser.newContext({ locale: 'de-DE', viewport });
	const page = await context.newPage();
	const problems = collectProblems(page, consoleText);
	return { context, page, problems };
}

// Clicks target (a locator) and waits for the navigation it starts: to a URL matching url (a glob,
// as page.waitForURL), or with url null to whatever page comes (page.waitForNavigation).
export async function clickTo(page, target, url, timeout) {
	await Promise.all([
		url === null ? page.waitForNavigation({ timeout }) : page.waitForURL(url, { timeout }),
		target.click(),
	]);
}

// Fills the open login page's e-mail and password and submits; waits for /doctor/calendar-integrations.
export async function submitLogin(page, email, password) {
	await page.fill('input[name="email"]', email);
	await page.fill('input[name="password"]', password);
	await clickTo(page, page.locator('form:has(input[name="password"]) [type="submit"]').first(),
		'**/doctor/calendar-integrations', 15000);
}

// Opens base's /doctor/login and logs in (submitLogin).
export async function logIn(page, base, email, password) {
	await page.goto(`${base}/doctor/login`);
	await submitLogin(page, email, password);
}

// Takes the page's screenshot into file (fullPage unless told otherwise); returns its size in bytes (0: none).
export async function screenshot(page, file, fullPage = true) {
	await page.screenshot({ path: file, fullPage });
	try {
		return statSync(file).size;
	} catch {
		return 0;
	}
}

// A query function over the stack's MariaDB socket (root, database terminfinder): sql(query) gives
// the result rows as tab-separated lines without column names, trimmed.
export function sqlOver(socket) {
	return (query) => execFileSync('mariadb', ['--no-defaults', `--socket=${socket}`, '-uroot', '--batch',
		'--skip-column-names', 'terminfinder', '-e', query], { encoding: 'utf8' }).trim();
}

// Waits for a mail to `to` in the SMTP sink's directory (one file per mail; dot files and *.tmp are
// skipped; `to` must be in a To: header): up to tries looks 200 ms apart. Returns its text or null.
export async function waitForMail(dir, to, tries) {
	let mail = null;
	for (let i = 0; i < tries && mail === null; i++) {
		for (const f of readdirSync(dir)) {
			if (f.startsWith('.') || f.endsWith('.tmp'))
				continue;
			const text = readFileSync(path.join(dir, f), 'utf8');
			const head = text.split(/\r?\n\r?\n/)[0];
			if (/^To:.*$/mi.test(head) && head.includes(to))
				mail = text;
		}
		if (mail === null)
			await sleep(200);
	}
	return mail;
}

// The public slots API's free times ("HH:MM") of a doctor (slug) on a day (YYYY-MM-DD); [] on any error status.
export async function slotsOf(base, slug, iso, duration) {
	const r = await fetch(`${base}/api/integrations/calendar/slots/?doctor=${slug}&date=${iso}&duration=${duration}`);
	if (r.status !== 200)
		return [];
	const j = await r.json();
	return Array.isArray(j.slots) ? j.slots : [];
}

// The first weekday (UTC) from the day after tomorrow on, within 40 days, with free 30-minute
// times: { iso, slots } or null.
export async function freeWeekday(base, slug) {
	const now = new Date();
	for (let off = 2; off < 40; off++) {
		const d = new Date(now.getTime() + off * 86400000);
		if (d.getUTCDay() === 0 || d.getUTCDay() === 6)
			continue;
		const iso = d.toISOString().slice(0, 10);
		const slots = await slotsOf(base, slug, iso, 30);
		if (slots.length > 0)
			return { iso, slots };
	}
	return null;
}

// --- the OAuth tests (google.mjs, outlook.mjs) against the stack's fake provider at fake (a URL)

// Point "the stack runs the fake NAME"; then has the fake show its consent page instead of agreeing at once.
export async function fakeShowsConsent(fake, name) {
	ok(typeof fake === 'string' && fake.startsWith('http://127.0.0.1:'), `the stack runs the fake ${name}`, fake);
	await fetch(`${fake}/_fake/knobs`, { method: 'POST', headers: { 'Content-Type': 'application/json' },
		body: JSON.stringify({ consent: 'page' }) });
}

// On the integrations page: points for the provider card's "Mit LABEL verbinden" form and its button;
// presses it and waits for the fake's authorization page (authUrl, a glob). Returns that page's URL.
export async function pressConnect(page, provider, label, authUrl) {
	const connect = page.locator(`.provider-${provider} form[action="/api/doctor/calendar-integrations/connect/${provider}"]`);
	ok(await connect.count() === 1, `the ${label} card has the "Mit ${label} verbinden" form`);
	ok((await connect.innerText()).includes(`Mit ${label} verbinden`), `its button says "Mit ${label} verbinden"`,
		await connect.innerText());
	await clickTo(page, connect.locator('button[type="submit"]'), authUrl, 30000);
	return new URL(page.url());
}

// Presses "Zulassen" on the fake's consent page; 7 points on the way back: the integrations page
// (base) says "Der Kalender wurde verbunden.", the provider's card (label) lists account (of kind
// accountLabel) as "aktiv" with the calendar Praxis, calendar_integrations holds just that
// connection with Fernet-encrypted tokens (sql: sqlOver's function), and the fake's log of
// tokenPath shows one authorization-code exchange with a PKCE verifier.
export async function allowAndCheck(page, { base, sql, provider, label, accountLabel, account, fake, tokenPath }) {
	await clickTo(page, page.getByRole('button', { name: 'Zulassen' }), `${base}/doctor/calendar-integrations?ok=connected**`, 60000);
	ok(new URL(page.url()).pathname === '/doctor/calendar-integrations', 'after "Zulassen" the browser is back on the integrations page',
		page.url());
	const body = await page.locator('body').innerText();
	ok(body.includes('Der Kalender wurde verbunden.'), 'the page says "Der Kalender wurde verbunden."', body.slice(0, 1500));
	const card = page.locator(`.provider-${provider} li.connection`).first();
	ok(await card.count() === 1, `the ${label} card lists the connection`);
	const cardText = await card.innerText();
	ok(cardText.includes(account) && cardText.includes('aktiv'), `the card shows the ${accountLabel} account and "aktiv"`, cardText);
	ok(cardText.includes('Praxis'), 'the card lists the account\'s calendars (Praxis)', cardText);

	const row = sql("SELECT provider, account_email, sync_status, LEFT(credentials_encrypted, 6) FROM calendar_integrations");
	ok(row === `${provider}\t${account}\tactive\tgAAAAA`, `one ${label} connection in the database, tokens Fernet-encrypted`, row);
	const log = await (await fetch(`${fake}/_fake/requests?path=${tokenPath}`)).json();
	const tok = log.requests.filter((r) => r.body && r.body.grant_type && r.body.grant_type[0] === 'authorization_code');
	ok(tok.length === 1 && tok[0].status === 200 && 'code_verifier' in tok[0].body,
		'the fake got one code exchange with a PKCE verifier', JSON.stringify(log.requests.map((r) => [r.path, r.status])));
}
