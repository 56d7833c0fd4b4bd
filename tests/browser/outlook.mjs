// outlook.mjs: browser test: the whole "Mit Outlook verbinden" OAuth dance in chromium through the fake Microsoft's consent page.
//
// Usage: node tests/browser/outlook.mjs INFO.json SCREENSHOT.png
//   INFO.json: tests/lib/stack.py serve --microsoft's line (base_url, email, password, db_socket, microsoft_url).
// Logs in, presses "Mit Outlook verbinden" on the Outlook card (form POST, 303 to the fake's
// /common/oauth2/v2.0/authorize URL: the page's CSP must let that redirect through), sees the fake's
// German consent page with the account and the permissions (offline_access Calendars.ReadWrite
// User.Read), presses "Zulassen", lands back on /doctor/calendar-integrations?ok=connected with the
// notice and the Outlook card listing the account as "aktiv" with its calendars; checks the row in the
// database (provider outlook, tokens encrypted), that the fake received one code exchange with a PKCE
// verifier, and keeps a screenshot.
// Env: TF_NODE_MODULES, CHROMIUM (as login.mjs). TAP on stdout; exit 1 on failure.
import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const modules = process.env.TF_NODE_MODULES || path.join(here, 'node_modules');
const require = createRequire(path.join(modules, 'noop.js'));
const { chromium } = require('playwright-core');

const [infoFile, shot] = process.argv.slice(2);
if (!infoFile || !shot) {
	console.error('usage: node outlook.mjs INFO.json SCREENSHOT.png');
	process.exit(2);
}
const info = JSON.parse(readFileSync(infoFile, 'utf8'));
const base = info.base_url;
const ms = info.microsoft_url;
const ACCOUNT = 'ana@contoso.com';

let n = 0;
let failed = 0;
function ok(cond, name, diag) {
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

function sql(query) {
	return execFileSync('mariadb', ['--no-defaults', `--socket=${info.db_socket}`, '-uroot', '--batch',
		'--skip-column-names', 'terminfinder', '-e', query], { encoding: 'utf8' }).trim();
}

let browser;
try {
	ok(typeof ms === 'string' && ms.startsWith('http://127.0.0.1:'), 'the stack runs the fake Microsoft', ms);
	await fetch(`${ms}/_fake/knobs`, { method: 'POST', headers: { 'Content-Type': 'application/json' },
		body: JSON.stringify({ consent: 'page' }) });
	browser = await chromium.launch({
		executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
		headless: true,
		args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
		       '--disable-background-networking', '--disable-component-update', '--disable-sync'],
	});
	const context = await browser.newContext({ locale: 'de-DE', viewport: { width: 1200, height: 1000 } });
	const page = await context.newPage();
	const problems = [];
	// the fake's consent page has no icon: chromium's /favicon.ico there (404) is not the app's concern
	page.on('console', (m) => {
		if (m.type() === 'error' && m.location().url !== `${ms}/favicon.ico`)
			problems.push(`${m.text()} (${m.location().url})`);
	});
	page.on('pageerror', (e) => problems.push(String(e)));
	page.on('response', (r) => { if (r.status() >= 400) problems.push(`${r.status()} ${r.url()}`); });

	// --- log in
	await page.goto(`${base}/doctor/login`);
	await page.fill('input[name="email"]', info.email);
	await page.fill('input[name="password"]', info.password);
	await Promise.all([
		page.waitForURL('**/doctor/calendar-integrations', { timeout: 15000 }),
		page.locator('form:has(input[name="password"]) [type="submit"]').first().click(),
	]);
	ok(new URL(page.url()).pathname === '/doctor/calendar-integrations', 'logged in: the integrations page', page.url());

	// --- "Mit Outlook verbinden" → the fake's consent page
	const connect = page.locator('.provider-outlook form[action="/api/doctor/calendar-integrations/connect/outlook"]');
	ok(await connect.count() === 1, 'the Outlook card has the "Mit Outlook verbinden" form');
	ok((await connect.innerText()).includes('Mit Outlook verbinden'), 'its button says "Mit Outlook verbinden"',
		await connect.innerText());
	await Promise.all([
		page.waitForURL(`${ms}/common/oauth2/v2.0/authorize?**`, { timeout: 30000 }),
		connect.locator('button[type="submit"]').click(),
	]);
	const auth = new URL(page.url());
	const scopes = (auth.searchParams.get('scope') || '').split(' ').sort().join(' ');
	ok(auth.origin === ms && auth.searchParams.get('code_challenge_method') === 'S256' &&
	   scopes === 'Calendars.ReadWrite User.Read offline_access',
	   'the browser is on the fake\'s authorization page (PKCE S256, offline_access Calendars.ReadWrite User.Read)',
	   page.url());
	const consent = await page.locator('body').innerText();
	ok(consent.includes('Berechtigungen angefordert') && consent.includes(ACCOUNT),
		'the consent page (German) names the account', consent.slice(0, 1000));
	ok(consent.includes('Vollzugriff auf Ihre Kalender') && consent.includes('Zugriff auf Daten beibehalten'),
		'it asks for full calendar access and offline access', consent.slice(0, 1000));

	// --- "Zulassen" → callback → the integrations page
	await Promise.all([
		page.waitForURL(`${base}/doctor/calendar-integrations?ok=connected**`, { timeout: 60000 }),
		page.getByRole('button', { name: 'Zulassen' }).click(),
	]);
	ok(new URL(page.url()).pathname === '/doctor/calendar-integrations', 'after "Zulassen" the browser is back on the integrations page',
		page.url());
	const body = await page.locator('body').innerText();
	ok(body.includes('Der Kalender wurde verbunden.'), 'the page says "Der Kalender wurde verbunden."', body.slice(0, 1500));
	const card = page.locator('.provider-outlook li.connection').first();
	ok(await card.count() === 1, 'the Outlook card lists the connection');
	const cardText = await card.innerText();
	ok(cardText.includes(ACCOUNT) && cardText.includes('aktiv'), 'the card shows the Microsoft account and "aktiv"', cardText);
	ok(cardText.includes('Praxis'), 'the card lists the account\'s calendars (Praxis)', cardText);

	const row = sql("SELECT provider, account_email, sync_status, LEFT(credentials_encrypted, 6) FROM calendar_integrations");
	ok(row === `outlook\t${ACCOUNT}\tactive\tgAAAAA`, 'one Outlook connection in the database, tokens Fernet-encrypted', row);
	const log = await (await fetch(`${ms}/_fake/requests?path=/common/oauth2/v2.0/token`)).json();
	const tok = log.requests.filter((r) => r.body && r.body.grant_type && r.body.grant_type[0] === 'authorization_code');
	ok(tok.length === 1 && tok[0].status === 200 && 'code_verifier' in tok[0].body,
		'the fake got one code exchange with a PKCE verifier', JSON.stringify(log.requests.map((r) => [r.path, r.status])));

	await page.screenshot({ path: shot, fullPage: true });
	let size = 0;
	try { size = statSync(shot).size; } catch { size = 0; }
	ok(size > 1000, `screenshot kept: ${shot}`, `size ${size}`);
	ok(problems.length === 0, 'no console errors or failed requests (e.g. CSP violations)', problems.join('\n'));
} catch (e) {
	ok(false, 'browser run completed', e && e.stack ? e.stack : String(e));
} finally {
	if (browser)
		await browser.close();
}
console.log(`1..${n}`);
process.exit(failed ? 1 : 0);
