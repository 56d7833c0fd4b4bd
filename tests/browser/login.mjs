// login.mjs: browser test: Debian's chromium via playwright-core logs in, sees the integrations page, screenshots it, logs out.
//
// Usage: node tests/browser/login.mjs BASE_URL EMAIL PASSWORD SCREENSHOT.png
// Env: TF_NODE_MODULES (where playwright-core is installed; default: node_modules beside this file),
//      CHROMIUM (default /usr/bin/chromium).
// Prints TAP on stdout; exit status 1 when a point failed.
import { createRequire } from 'node:module';
import { statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const modules = process.env.TF_NODE_MODULES || path.join(here, 'node_modules');
const require = createRequire(path.join(modules, 'noop.js'));
const { chromium } = require('playwright-core');

const [baseUrl, email, password, shot] = process.argv.slice(2);
if (!baseUrl || !email || !password || !shot) {
	console.error('usage: node login.mjs BASE_URL EMAIL PASSWORD SCREENSHOT.png');
	process.exit(2);
}

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

let browser;
try {
	browser = await chromium.launch({
		executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
		headless: true,
		args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
		       '--disable-background-networking', '--disable-component-update', '--disable-sync'],
		// playwright gives every launch a new, empty profile directory of its own.
	});
	const context = await browser.newContext({ locale: 'de-DE', viewport: { width: 1200, height: 900 } });
	const page = await context.newPage();
	const consoleErrors = [];
	page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
	page.on('pageerror', (e) => consoleErrors.push(String(e)));
	page.on('response', (r) => { if (r.status() >= 400) consoleErrors.push(`${r.status()} ${r.url()}`); });

	let resp = await page.goto(`${baseUrl}/doctor/login`);
	ok(resp && resp.status() === 200, 'login page opens', resp && resp.status());
	ok((await page.locator('input[name="email"]').count()) === 1 &&
	   (await page.locator('input[name="password"]').count()) === 1, 'login page has e-mail and password fields');

	await page.fill('input[name="email"]', email);
	await page.fill('input[name="password"]', password);
	await Promise.all([
		page.waitForURL('**/doctor/calendar-integrations', { timeout: 15000 }),
		page.locator('form:has(input[name="password"]) [type="submit"]').first().click(),
	]);
	ok(new URL(page.url()).pathname === '/doctor/calendar-integrations', 'lands on /doctor/calendar-integrations', page.url());

	const body = await page.locator('body').innerText();
	ok(body.includes('Kalender-Integrationen'), 'sees "Kalender-Integrationen"', body.slice(0, 500));
	ok(body.includes('Google') && body.includes('Outlook') && (body.includes('iCloud') || body.includes('Apple')),
	   'sees the Google, Outlook and iCloud cards', body.slice(0, 1500));
	ok(/GOOGLE_CLIENT_ID/.test(body), 'the Google card names its missing settings');

	// The page's style sheet applied (served by nginx from www/ under CSP style-src 'self').
	const css = await page.evaluate(() => Array.from(document.styleSheets).map((s) => s.href || 'inline'));
	ok(css.some((h) => h.includes('/static/')), 'a style sheet from /static/ is loaded', JSON.stringify(css));

	await page.screenshot({ path: shot, fullPage: true });
	let size = 0;
	try { size = statSync(shot).size; } catch { size = 0; }
	ok(size > 1000, `screenshot kept: ${shot}`, `size ${size}`);

	// Log out with the page's own button (a form with csrf_token).
	await Promise.all([
		page.waitForURL('**/doctor/login', { timeout: 15000 }),
		page.locator('form[action$="/doctor/logout"] [type="submit"]').first().click(),
	]);
	ok(new URL(page.url()).pathname === '/doctor/login', 'logout returns to the login page', page.url());
	resp = await page.goto(`${baseUrl}/doctor/calendar-integrations`);
	ok(new URL(page.url()).pathname === '/doctor/login', 'after logout the integrations page needs a login again', page.url());
	ok(consoleErrors.length === 0, 'no console errors (e.g. CSP violations)', consoleErrors.join('\n'));
} catch (e) {
	ok(false, 'browser run completed', e && e.stack ? e.stack : String(e));
} finally {
	if (browser)
		await browser.close();
}
console.log(`1..${n}`);
process.exit(failed ? 1 : 0);
