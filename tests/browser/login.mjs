// login.mjs: browser test: Debian's chromium via playwright-core logs in, sees the integrations page, screenshots it, logs out.
//
// Usage: node tests/browser/login.mjs BASE_URL EMAIL PASSWORD SCREENSHOT.png
// Env: TF_NODE_MODULES (where playwright-core is installed; default: node_modules beside this file),
//      CHROMIUM (default /usr/bin/chromium); see harness.mjs.
// Prints TAP on stdout; exit status 1 when a point failed.
import { args, ok, run, launch, openPage, submitLogin, clickTo, screenshot } from './harness.mjs';

const [baseUrl, email, password, shot] = args(['BASE_URL', 'EMAIL', 'PASSWORD', 'SCREENSHOT.png']);

await run(async () => {
	const { page, problems: consoleErrors } = await openPage(await launch(), { width: 1200, height: 900 });

	let resp = await page.goto(`${baseUrl}/doctor/login`);
	ok(resp && resp.status() === 200, 'login page opens', resp && resp.status());
	ok((await page.locator('input[name="email"]').count()) === 1 &&
	   (await page.locator('input[name="password"]').count()) === 1, 'login page has e-mail and password fields');

	await submitLogin(page, email, password);
	ok(new URL(page.url()).pathname === '/doctor/calendar-integrations', 'lands on /doctor/calendar-integrations', page.url());

	const body = await page.locator('body').innerText();
	ok(body.includes('Kalender-Integrationen'), 'sees "Kalender-Integrationen"', body.slice(0, 500));
	ok(body.includes('Google') && body.includes('Outlook') && (body.includes('iCloud') || body.includes('Apple')),
	   'sees the Google, Outlook and iCloud cards', body.slice(0, 1500));
	ok(/GOOGLE_CLIENT_ID/.test(body), 'the Google card names its missing settings');

	// The page's style sheet applied (served by nginx from www/ under CSP style-src 'self').
	const css = await page.evaluate(() => Array.from(document.styleSheets).map((s) => s.href || 'inline'));
	ok(css.some((h) => h.includes('/static/')), 'a style sheet from /static/ is loaded', JSON.stringify(css));

	const size = await screenshot(page, shot);
	ok(size > 1000, `screenshot kept: ${shot}`, `size ${size}`);

	// Log out with the page's own button (a form with csrf_token).
	await clickTo(page, page.locator('form[action$="/doctor/logout"] [type="submit"]').first(), '**/doctor/login', 15000);
	ok(new URL(page.url()).pathname === '/doctor/login', 'logout returns to the login page', page.url());
	resp = await page.goto(`${baseUrl}/doctor/calendar-integrations`);
	ok(new URL(page.url()).pathname === '/doctor/login', 'after logout the integrations page needs a login again', page.url());
	ok(consoleErrors.length === 0, 'no console errors (e.g. CSP violations)', consoleErrors.join('\n'));
});
