// google.mjs: browser test: the whole "Mit Google verbinden" OAuth dance in chromium through the fake Google's consent page.
//
// Usage: node tests/browser/google.mjs INFO.json SCREENSHOT.png
//   INFO.json: tests/lib/stack.py serve --google's line (base_url, email, password, db_socket, google_url).
// Logs in, presses "Mit Google verbinden" on the Google card (form POST, 303 to the fake's
// authorization URL: the page's CSP must let that redirect through), sees the fake's German
// consent page with the account and the calendar permissions, presses "Zulassen", lands back on
// /doctor/calendar-integrations?ok=connected with the notice and the Google card listing the
// account as "aktiv" with its calendars; checks the row in the database (provider google, tokens
// encrypted), that the fake received the token request with a PKCE verifier, and keeps a screenshot.
// Env: TF_NODE_MODULES, CHROMIUM (see harness.mjs). TAP on stdout; exit 1 on failure.
import { args, readInfo, ok, run, launch, openPage, logIn, screenshot, sqlOver, fakeShowsConsent, pressConnect,
	allowAndCheck } from './harness.mjs';

const [infoFile, shot] = args(['INFO.json', 'SCREENSHOT.png']);
const info = readInfo(infoFile);
const base = info.base_url;
const google = info.google_url;
const ACCOUNT = 'ana@example.com';
const sql = sqlOver(info.db_socket);

await run(async () => {
	await fakeShowsConsent(google, 'Google');
	const { page, problems } = await openPage(await launch(), { width: 1200, height: 1000 });

	// --- log in
	await logIn(page, base, info.email, info.password);
	ok(new URL(page.url()).pathname === '/doctor/calendar-integrations', 'logged in: the integrations page', page.url());

	// --- "Mit Google verbinden" → the fake's consent page
	const auth = await pressConnect(page, 'google', 'Google', `${google}/o/oauth2/v2/auth?**`);
	ok(auth.origin === google && auth.searchParams.get('code_challenge_method') === 'S256' &&
	   auth.searchParams.get('access_type') === 'offline', 'the browser is on the fake\'s authorization page (PKCE S256, offline)',
	   page.url());
	const consent = await page.locator('body').innerText();
	ok(consent.includes('möchte auf Ihr Google-Konto zugreifen') && consent.includes(ACCOUNT),
		'the consent page (German) names the account', consent.slice(0, 1000));
	ok(consent.includes('Termine in allen Kalendern ansehen und bearbeiten'), 'it asks for the calendar events permission',
		consent.slice(0, 1000));

	// --- "Zulassen" → callback → the integrations page
	await allowAndCheck(page, { base, sql, provider: 'google', label: 'Google', accountLabel: 'Google', account: ACCOUNT,
		fake: google, tokenPath: '/token' });

	const size = await screenshot(page, shot);
	ok(size > 1000, `screenshot kept: ${shot}`, `size ${size}`);
	ok(problems.length === 0, 'no console errors or failed requests (e.g. CSP violations)', problems.join('\n'));
});
